/*
 * test_criserver_socket: the CRI socket (criserver/cri_socket.c) with real
 * unix sockets and the test standing in for grpc (it keeps the fds handed
 * over): mode and stale socket; a connection is handed over only once its
 * whole HTTP/2 preface is in, with every byte still to be read; silent,
 * half-written and non-HTTP/2 connections are closed (at the handshake
 * timeout, or at once); when full, the policy's connection is closed for a
 * newcomer (in its handshake, idle, through criserver's duplicate), and a
 * newcomer is refused only when every connection has a call in flight;
 * connections "grpc" closed are forgotten and their duplicates closed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "criserver/cri_socket.h"
#include "tests/unit/unit.h"

#define MAGIC "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define SETTINGS "\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64"
#define PREFACE MAGIC SETTINGS
#define PREFACE_LEN (24 + 15)
#define HANDSHAKE_MS 1000
#define MAX_HANDED 16

struct grpc_fake {
	int fds[MAX_HANDED];
	int n;
	bool fail;
};

static int take(int fd, void *data)
{
	struct grpc_fake *g = data;
	if (g->fail || g->n == MAX_HANDED) {
		close(fd);
		return -EIO;
	}
	g->fds[g->n++] = fd;
	return 0;
}

static struct cri_socket *open_sock(const char *path, unsigned max, struct grpc_fake *g)
{
	struct cri_socket_opts o = { .max_conns = max, .handshake_ms = HANDSHAKE_MS,
				     .add = take, .data = g };
	struct cri_socket *l;
	CHECK_RC(cri_socket_open(path, &o, &l));
	return l;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	return fd;
}

/* Let the socket take in what has come (a few rounds). */
static void pump(struct cri_socket *l)
{
	for (int i = 0; i < 5; i++) {
		struct pollfd p = { .fd = cri_socket_fd(l), .events = POLLIN };
		if (poll(&p, 1, 20) == 1)
			CHECK(cri_socket_process(l) >= 0);
	}
}

/* The peer closed or shut down: reads come to 0 (or ECONNRESET) after
 * whatever was still unread. */
static bool closed(int fd)
{
	char b[256];
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) != 1)
			return false;
		ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
		if (n > 0)
			continue;
		return n == 0 || errno == ECONNRESET;
	}
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	CHECK(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

TEST(criserver_socket_mode_and_stale)
{
	char path[PATH_MAX];
	struct grpc_fake g = { 0 };
	struct cri_socket *l;
	struct stat st;

	snprintf(path, sizeof path, "%s/sub/cri.sock", unit_tmpdir());
	l = open_sock(path, 2, &g);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK((st.st_mode & 07777) == 0660 && st.st_uid == 0 && st.st_gid == 0);
	cri_socket_free(l);                     /* leaves the file: stale */
	l = open_sock(path, 2, &g);
	CHECK_RC(cri_socket_close(l));
	CHECK(lstat(path, &st) < 0 && errno == ENOENT);
	cri_socket_free(l);
	int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(f >= 0);
	close(f);
	struct cri_socket_opts o = { .max_conns = 2, .handshake_ms = 1000, .add = take, .data = &g };
	CHECK(cri_socket_open(path, &o, &l) == -EEXIST);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	o.max_conns = 0;
	CHECK(cri_socket_open(path, &o, &l) == -EINVAL);
}

TEST(criserver_socket_handshake)
{
	char path[PATH_MAX], got[PREFACE_LEN + 8];
	struct grpc_fake g = { 0 };
	struct cri_socket_stats st;

	snprintf(path, sizeof path, "%s/cri.sock", unit_tmpdir());
	struct cri_socket *l = open_sock(path, 8, &g);
	int whole = connect_to(path), split = connect_to(path), half = connect_to(path);
	int silent = connect_to(path), http1 = connect_to(path), early_eof = connect_to(path);

	CHECK(write(whole, PREFACE "more", PREFACE_LEN + 4) == PREFACE_LEN + 4);
	CHECK(write(split, MAGIC, 10) == 10);
	CHECK(write(half, MAGIC, 24) == 24);            /* the magic, no SETTINGS */
	CHECK(write(http1, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
	CHECK(write(early_eof, MAGIC, 5) == 5);
	shutdown(early_eof, SHUT_WR);
	pump(l);
	CHECK(g.n == 1);
	/* grpc reads every byte the client sent: nothing was consumed */
	CHECK(read(g.fds[0], got, sizeof got) == PREFACE_LEN + 4);
	CHECK(memcmp(got, PREFACE "more", PREFACE_LEN + 4) == 0);
	CHECK(closed(http1));                   /* not HTTP/2: at once */
	CHECK(closed(early_eof));
	CHECK(!closed(split) && !closed(half) && !closed(silent));
	/* the rest of the preface, in two pieces */
	CHECK(write(split, MAGIC + 10, 14) == 14);
	pump(l);
	CHECK(g.n == 1);
	CHECK(write(split, SETTINGS, 15) == 15);
	pump(l);
	CHECK(g.n == 2);
	cri_socket_get_stats(l, &st);
	CHECK(st.open == 4 && st.handshaking == 2 && st.accepted == 6 && st.handed == 2);
	CHECK(st.bad_preface == 1);
	/* the handshake timeout closes the two that never finished */
	cri_socket_tick(l);
	CHECK(!closed(half) && !closed(silent));
	msleep(HANDSHAKE_MS + 50);
	cri_socket_tick(l);
	CHECK(closed(half) && closed(silent));
	CHECK(!closed(whole) && !closed(split));
	cri_socket_get_stats(l, &st);
	CHECK(st.open == 2 && st.handshaking == 0 && st.expired == 2);
	CHECK(cri_socket_conns(l) == 2);
	/* grpc failing to take one: it is gone, nothing held */
	g.fail = true;
	int refused = connect_to(path);
	CHECK(write(refused, PREFACE, PREFACE_LEN) == PREFACE_LEN);
	pump(l);
	CHECK(closed(refused) && cri_socket_conns(l) == 2);
	int fds[] = { whole, split, half, silent, http1, early_eof, refused };
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		close(fds[i]);
	for (int i = 0; i < g.n; i++)
		close(g.fds[i]);
	cri_socket_free(l);
}

TEST(criserver_socket_full_closes_for_newcomers)
{
	char path[PATH_MAX];
	struct grpc_fake g = { 0 };
	struct cri_socket_stats st;
	int cl[8];

	snprintf(path, sizeof path, "%s/cri.sock", unit_tmpdir());
	struct cri_socket *l = open_sock(path, 4, &g);
	/* two handed over, one of them in a call; then two handshakes */
	for (int i = 0; i < 2; i++) {
		cl[i] = connect_to(path);
		CHECK(write(cl[i], PREFACE, PREFACE_LEN) == PREFACE_LEN);
		pump(l);
	}
	CHECK(g.n == 2);
	uint64_t busy = cri_socket_call_start(l, g.fds[0]);
	CHECK(busy != 0);
	cl[2] = connect_to(path);
	pump(l);
	cl[3] = connect_to(path);
	pump(l);
	CHECK(cri_socket_conns(l) == 4);
	/* full: the oldest handshake goes (the idle one is within its grace) */
	cl[4] = connect_to(path);
	pump(l);
	CHECK(closed(cl[2]) && !closed(cl[3]) && !closed(cl[0]) && !closed(cl[1]));
	CHECK(cri_socket_conns(l) == 4);
	/* past the grace the idle handed-over one goes first, shut down through
	 * criserver's duplicate: both its client and "grpc" see the end */
	msleep(1100);
	cl[5] = connect_to(path);
	pump(l);
	CHECK(closed(cl[1]) && closed(g.fds[1]));
	CHECK(!closed(cl[0]) && !closed(cl[3]) && !closed(cl[4]));
	cri_socket_get_stats(l, &st);
	CHECK(st.evicted == 2 && st.refused == 0);
	/* every one handed over and in a call: a newcomer is refused */
	for (int i = 3; i <= 5; i++)
		CHECK(write(cl[i], PREFACE, PREFACE_LEN) == PREFACE_LEN);
	pump(l);
	CHECK(g.n == 5);
	for (int i = 2; i < 5; i++)
		CHECK(cri_socket_call_start(l, g.fds[i]) != 0);
	cl[6] = connect_to(path);
	pump(l);
	CHECK(closed(cl[6]));
	cri_socket_get_stats(l, &st);
	CHECK(st.refused == 1 && st.open == 4);
	/* a call ends: room again, for the idle one */
	cri_socket_call_end(l, busy);
	cl[7] = connect_to(path);
	pump(l);
	CHECK(closed(cl[0]) && !closed(cl[7]));
	for (int i = 0; i < 8; i++)
		close(cl[i]);
	for (int i = 0; i < g.n; i++)
		close(g.fds[i]);
	cri_socket_free(l);
}

TEST(criserver_socket_forgets_what_grpc_closed)
{
	char path[PATH_MAX];
	struct grpc_fake g = { 0 };
	int cl[3];

	snprintf(path, sizeof path, "%s/cri.sock", unit_tmpdir());
	struct cri_socket *l = open_sock(path, 4, &g);
	int base = count_fds();
	for (int i = 0; i < 3; i++) {
		cl[i] = connect_to(path);
		CHECK(write(cl[i], PREFACE, PREFACE_LEN) == PREFACE_LEN);
	}
	pump(l);
	CHECK(g.n == 3 && cri_socket_conns(l) == 3);
	/* client + grpc's fd + criserver's duplicate, each */
	CHECK(count_fds() == base + 9);
	/* "grpc" closes one (as it does at EOF or idle, shutting it down
	 * first): the client sees the end, and the tick drops the duplicate */
	shutdown(g.fds[1], SHUT_RDWR);
	close(g.fds[1]);
	CHECK(closed(cl[1]));
	cri_socket_tick(l);
	CHECK(cri_socket_conns(l) == 2);
	CHECK(count_fds() == base + 7);
	/* a call on a connection criserver does not know is not counted */
	CHECK(cri_socket_call_start(l, g.fds[1]) == 0);
	CHECK(cri_socket_call_start(l, -1) == 0);
	/* its number taken by a new connection: the table follows */
	int again = connect_to(path);
	CHECK(write(again, PREFACE, PREFACE_LEN) == PREFACE_LEN);
	pump(l);
	CHECK(g.n == 4 && cri_socket_conns(l) == 3);
	for (int i = 0; i < 3; i++)
		close(cl[i]);
	close(again);
	close(g.fds[0]);
	close(g.fds[2]);
	close(g.fds[3]);
	cri_socket_tick(l);
	CHECK(cri_socket_conns(l) == 0);
	CHECK(count_fds() == base);
	cri_socket_free(l);
}
