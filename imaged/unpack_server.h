/*
 * unpack_server: imaged's unpack spawner, and imaged's side of it.
 *
 * imaged parses what registries send, so it keeps as little power as it can:
 * its seccomp filter has no execve, unshare, mount or pivot_root, and
 * Landlock holds it to ROOT and RUNROOT. The confined unpack child
 * (unpack.h) needs exactly those to build its own jail. So before imaged
 * drops privilege, it fork+execs itself once as `imaged --unpack-server
 * TMPDIR` (this file): a small process that keeps only the capabilities the
 * child needs, takes one request at a time per thread over a SEQPACKET
 * socketpair (crisp.UnpackRequest with the blob's fd, crisp.UnpackResult
 * back), checks that the layer directory is a real directory under
 * TMPDIR, and runs unpack_spawn for it. It never reads a byte of the layer
 * itself. It dies with imaged (PR_SET_PDEATHSIG), and imaged treats its
 * death as fatal (crisp-up restarts imaged, which starts a new one).
 *
 * The client side is thread-safe: several pulls unpack at once, each waiting
 * for its own answer.
 */
#pragma once
#include <stdbool.h>
#include "imaged/unpack.h"

#define UNPACK_SERVER_ARG "--unpack-server"
#define UNPACK_SERVER_MAX_JOBS 8

struct unpack_client;

/* Fork+exec `exe --unpack-server tmpdir` (call while still privileged and
 * single-threaded). */
int unpack_client_start(const char *exe, const char *tmpdir, struct unpack_client **ret);
/* Asked every UNPACK_CLIENT_SLICE_MS while a layer unpacks: true stops it. */
typedef bool (*unpack_stop_fn)(void *ctx);
#define UNPACK_CLIENT_SLICE_MS 100

/* Like unpack_spawn, through the spawner (s->exe is ignored). When stop says
 * so, the spawner kills the child and this returns -ECANCELED. */
int unpack_client_run(struct unpack_client *c, const struct unpack_spawn *s, int timeout_ms,
		      unpack_stop_fn stop, void *ctx, struct unpack_result *ret,
		      struct unpack_error *err);
void unpack_client_free(struct unpack_client *c);
/* The socket to the spawner, to watch for its death (EPOLLRDHUP): still
 * owned by c, never to be read by anyone else. */
int unpack_client_fd(const struct unpack_client *c);

/* The spawner's main: imaged's main calls it when argv[1] is UNPACK_SERVER_ARG. */
int unpack_server_main(int argc, char **argv);
