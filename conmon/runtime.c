/*
 * runtime: see runtime.h. The only place that knows runc's command line.
 * `exec --detach`: runc starts the command with conmon's pipes as its stdio
 * and exits; the command is then conmon's child (conmon is a child
 * subreaper and the nearest one above it), so conmon reaps it and sees its
 * own wait status (a signal too), and its output needs no runc in between.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conmon/runtime.h"

#define ARGV_FIXED 24                   /* the options before ID and CMD */

extern char **environ;

int conmon_spawn(char *const argv[], const int stdio[3], pid_t *ret_pid)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		*ret_pid = pid;
		return 0;
	}
	sigset_t none;
	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* stdio fds are >= 3 (main keeps 0..2 open): dup2 never clobbers one */
	for (int i = 0; i < 3; i++)
		if (dup2(stdio[i], i) < 0)
			_exit(127);
	execve(argv[0], argv, environ);
	_exit(127);
}

struct argv_b {
	char **v;
	size_t n, cap;
};

static void push(struct argv_b *b, const char *s)
{
	if (b->n + 1 < b->cap)
		b->v[b->n++] = (char *)s;
}

static int argv_new(struct argv_b *b, size_t extra, const struct conmon_args *a)
{
	b->cap = ARGV_FIXED + extra + 1;
	b->n = 0;
	b->v = calloc(b->cap, sizeof *b->v);
	if (!b->v)
		return -ENOMEM;
	push(b, a->runtime);
	push(b, "--root");
	push(b, a->runtime_root);
	if (a->systemd_cgroup)
		push(b, "--systemd-cgroup");
	return 0;
}

int conmon_runtime_create(const struct conmon_args *a, const int stdio[3], const char *pid_file,
			  const char *console, const char *log_file, pid_t *ret_pid)
{
	struct argv_b b;
	int r = argv_new(&b, 0, a);
	if (r < 0)
		return r;
	push(&b, "--log");
	push(&b, log_file);
	push(&b, "--log-format");
	push(&b, "json");
	push(&b, "create");
	push(&b, "--bundle");
	push(&b, a->bundle);
	push(&b, "--pid-file");
	push(&b, pid_file);
	if (console) {
		push(&b, "--console-socket");
		push(&b, console);
	}
	push(&b, a->id);
	r = conmon_spawn(b.v, stdio, ret_pid);
	free(b.v);
	return r;
}

int conmon_runtime_exec(const struct conmon_args *a, const int stdio[3], const char *pid_file,
			pid_t *ret_pid)
{
	size_t n = 0;
	while (a->cmd[n])
		n++;
	struct argv_b b;
	int r = argv_new(&b, n, a);
	if (r < 0)
		return r;
	push(&b, "exec");
	push(&b, "--detach");
	push(&b, "--pid-file");
	push(&b, pid_file);
	if (a->exec_cgroup) {
		push(&b, "--cgroup");
		push(&b, a->exec_cgroup);
	}
	push(&b, a->id);
	for (size_t i = 0; i < n; i++)
		push(&b, a->cmd[i]);
	r = conmon_spawn(b.v, stdio, ret_pid);
	free(b.v);
	return r;
}

/* ---- runc's --log ----------------------------------------------------- */

struct out {
	char *buf;
	size_t n, cap;
};

static void out_c(struct out *o, unsigned char c)
{
	if (o->n + 1 < o->cap)
		o->buf[o->n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
}

static void out_utf8(struct out *o, unsigned cp)
{
	if (cp < 0x80) {
		out_c(o, (unsigned char)cp);
	} else if (cp < 0x800) {
		if (o->n + 3 > o->cap)
			return;
		out_c(o, (unsigned char)(0xc0 | cp >> 6));
		out_c(o, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp >= 0xd800 && cp < 0xe000) {
		out_c(o, '?');          /* half a surrogate pair: not worth more */
	} else {
		if (o->n + 4 > o->cap)
			return;
		out_c(o, (unsigned char)(0xe0 | cp >> 12));
		out_c(o, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
		out_c(o, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The JSON string starting after its opening quote at s[0..len). */
static void json_string(const char *s, size_t len, struct out *o)
{
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	for (size_t i = 0; i < len && s[i] != '"'; i++) {
		if (s[i] != '\\') {
			out_c(o, (unsigned char)s[i]);
			continue;
		}
		if (++i == len)
			return;
		const char *e = strchr(esc_in, s[i]);
		if (e && s[i]) {
			out_c(o, (unsigned char)esc_out[e - esc_in]);
		} else if (s[i] == 'u' && i + 4 < len) {
			unsigned cp = 0;
			for (size_t k = 1; k <= 4; k++) {
				int h = hexval(s[i + k]);
				if (h < 0)
					return;
				cp = cp << 4 | (unsigned)h;
			}
			out_utf8(o, cp);
			i += 4;
		} else {
			return;
		}
	}
}

static const char *find(const char *s, size_t len, const char *what)
{
	return memmem(s, len, what, strlen(what));
}

size_t conmon_runtime_log_error(const char *log, size_t log_len, char *buf, size_t len)
{
	const char *err_line = NULL, *last = NULL;
	size_t err_len = 0, last_len = 0;
	for (size_t off = 0; off < log_len;) {
		const char *line = log + off;
		const char *nl = memchr(line, '\n', log_len - off);
		size_t n = nl ? (size_t)(nl - line) : log_len - off;
		off += n + 1;
		if (n == 0)
			continue;
		last = line;
		last_len = n;
		if (find(line, n, "\"level\":\"error\"")) {
			err_line = line;
			err_len = n;
		}
	}
	struct out o = { buf, 0, len };
	if (len == 0)
		return 0;
	const char *msg = err_line ? find(err_line, err_len, "\"msg\":\"") : NULL;
	if (msg) {
		msg += strlen("\"msg\":\"");
		json_string(msg, err_len - (size_t)(msg - err_line), &o);
	} else {
		for (size_t i = 0; last && i < last_len; i++)
			out_c(&o, (unsigned char)last[i]);
	}
	buf[o.n] = 0;
	return o.n;
}
