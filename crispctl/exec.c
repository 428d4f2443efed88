/*
 * exec: crispctl's `exec [--timeout S] CONTAINER CMD [ARG...]`: ExecSync,
 * the command's stdout and stderr written out as they came back, its exit
 * code as crispctl's (125 when crispctl itself fails). Interactive exec
 * (-i, -t) needs the streaming server, which does not exist yet: refused,
 * never faked. A Ctrl-C cancels the call (and so the command).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"

#define EXEC_CALL_GRACE_MS (30 * 1000)

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int ctl_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 'T' },
		{ "sync", no_argument, NULL, 's' },
		{ "interactive", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ 0 },
	};
	static const char use[] = "exec [--timeout SECONDS] CONTAINER CMD [ARG...]";
	int64_t timeout = 0;
	char *end, *id = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "+sit", opts, NULL)) != -1) {
		if (o == 'T') {
			errno = 0;
			timeout = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || timeout < 0 || timeout > 24 * 3600)
				return ctl_usage(use);
		} else if (o == 'i' || o == 't') {
			ctl_fail("exec -i/-t: interactive exec needs the streaming server "
				 "(not built yet); run the command without -i/-t");
			return CTL_EXIT_USAGE;
		} else if (o != 's') {
			return ctl_usage(use);
		}
	}
	if (argc - optind < 2)
		return ctl_usage(use);
	if (ctl_ctr_resolve(c, argv[optind], 0, &id) < 0)
		return CTL_EXIT_RUN_FAIL;
	Runtime__V1__ExecSyncRequest rq = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	Runtime__V1__ExecSyncResponse *resp = NULL;
	rq.container_id = id;
	rq.cmd = argv + optind + 1;
	rq.n_cmd = (size_t)(argc - optind - 1);
	rq.timeout = timeout;
	int64_t call_ms = timeout ? timeout * 1000 + EXEC_CALL_GRACE_MS : 0;
	int r = ctl_cri_call(c, "ExecSync", &rq.base, &runtime__v1__exec_sync_response__descriptor,
			     call_ms > c->timeout_ms ? call_ms : c->timeout_ms, 0,
			     (ProtobufCMessage **)&resp);
	free(id);
	if (r < 0)
		return r == -EINTR ? CTL_EXIT_INTERRUPTED : CTL_EXIT_RUN_FAIL;
	write_all(STDOUT_FILENO, resp->stdout.data, resp->stdout.len);
	write_all(STDERR_FILENO, resp->stderr.data, resp->stderr.len);
	int code = resp->exit_code;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}
