/*
 * registry_fake: the scripted HTTP server of the registry client's unit
 * tests (see registry_fake.h). One process, one connection at a time;
 * stalled connections are kept open, not waited on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/unit/registry_fake.h"
#include "tests/unit/unit.h"

#define REQ_MAX 65536

struct request {
	char method[16];
	char target[2048];
	char auth[4096];
	char range[64];
	char body[256];
};

static void log_line(const char *path, const struct request *rq, bool bad)
{
	char line[8192];
	int n = bad ? snprintf(line, sizeof line, "BAD\n") :
		snprintf(line, sizeof line, "%s %s auth=%s range=%s body=%s\n", rq->method, rq->target,
			 rq->auth[0] ? rq->auth : "-", rq->range[0] ? rq->range : "-",
			 rq->body[0] ? rq->body : "-");
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0)
			_exit(3);
		close(fd);
	}
}

static void send_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

static void header_value(const char *hdrs, const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name);
	for (const char *p = hdrs; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = strcspn(v, "\r\n");
			snprintf(buf, len, "%.*s", (int)vl, v);
			return;
		}
	}
}

/* Reads one request; false if it is not HTTP. */
static bool read_request(int fd, struct request *rq)
{
	static char buf[REQ_MAX + 1];
	size_t n = 0;
	char *end = NULL;
	buf[0] = '\0';
	while (n < REQ_MAX && !(end = strstr(buf, "\r\n\r\n"))) {
		ssize_t r = recv(fd, buf + n, REQ_MAX - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		if (buf[0] < 'A' || buf[0] > 'Z')
			break;          /* a TLS hello, not HTTP */
	}
	memset(rq, 0, sizeof *rq);
	if (!end || sscanf(buf, "%15s %2047s HTTP/1.", rq->method, rq->target) != 2)
		return false;
	header_value(buf, "Authorization", rq->auth, sizeof rq->auth);
	header_value(buf, "Range", rq->range, sizeof rq->range);
	char cl[32] = "";
	header_value(buf, "Content-Length", cl, sizeof cl);
	size_t want = (size_t)atol(cl), have = n - (size_t)(end + 4 - buf);
	if (want) {
		while (have < want && n < REQ_MAX) {
			ssize_t r = recv(fd, buf + n, REQ_MAX - n, 0);
			if (r <= 0)
				break;
			n += (size_t)r;
			have += (size_t)r;
		}
		buf[n] = '\0';
		snprintf(rq->body, sizeof rq->body, "%s", end + 4);
	}
	return true;
}

static bool auth_ok(const struct fake_rule *r, const struct request *rq)
{
	if (!r->auth)
		return true;
	if (strcmp(r->auth, "-") == 0)
		return rq->auth[0] == '\0';
	return strcmp(r->auth, rq->auth) == 0;
}

static struct fake_rule *match(struct fake_rule *rules, size_t n, const struct request *rq)
{
	for (size_t i = 0; i < n; i++) {
		struct fake_rule *r = &rules[i];
		if (r->times && r->used >= r->times)
			continue;
		if (r->method && strcmp(r->method, rq->method) != 0)
			continue;
		if (strncmp(rq->target, r->path, strlen(r->path)) != 0)
			continue;
		if (!auth_ok(r, rq))
			continue;
		r->used++;
		return r;
	}
	return NULL;
}

/* Answers; true when the connection is to be kept open (stalled). */
static bool answer(int fd, const struct fake_rule *r, const struct request *rq)
{
	static const struct fake_rule none = {
		.status = 404, .body = "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"no rule\"}]}",
	};
	if (!r)
		r = &none;
	const char *body = r->body ? r->body : "";
	size_t len = r->body_len ? r->body_len : strlen(body), from = 0;
	int status = r->status;
	char head[8192], extra[128] = "";
	unsigned long long start;
	if (r->range && sscanf(rq->range, "bytes=%llu-", &start) == 1 && start < len) {
		from = (size_t)start;
		status = 206;
		snprintf(extra, sizeof extra, "Content-Range: bytes %zu-%zu/%zu\r\n", from, len - 1, len);
	}
	int hl = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nConnection: close\r\n%s%s", status,
			  extra, r->headers ? r->headers : "");
	if (!r->no_length)
		hl += snprintf(head + hl, sizeof head - (size_t)hl, "Content-Length: %lld\r\n",
			       r->length > 0 ? r->length : (long long)(len - from));
	hl += snprintf(head + hl, sizeof head - (size_t)hl, "\r\n");
	send_all(fd, head, (size_t)hl);
	size_t send_n = len - from;
	if (r->act != FAKE_SEND && r->cut_after < send_n)
		send_n = r->cut_after;
	send_all(fd, body + from, send_n);
	return r->act == FAKE_STALL;
}

static void serve(int lfd, struct fake_rule *rules, size_t n, const char *log)
{
	int n_stalled = 0;              /* stalled connections stay open until we die */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		struct request rq;
		bool keep = false;
		if (!read_request(fd, &rq)) {
			log_line(log, &rq, true);
			static const char bad[] =
				"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
			send_all(fd, bad, sizeof bad - 1);
		} else {
			log_line(log, &rq, false);
			keep = answer(fd, match(rules, n, &rq), &rq);
		}
		if (keep && n_stalled < 64)
			n_stalled++;
		else
			close(fd);
	}
}

int fake_start(struct fake_rule *rules, size_t n, struct fake_server *ret)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -errno;
	struct fake_server f = { .port = ntohs(a.sin_port) };
	snprintf(f.host, sizeof f.host, "127.0.0.1:%d", f.port);
	snprintf(f.log, sizeof f.log, "%s/fake-%d.log", unit_tmpdir(), f.port);
	close(open(f.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	fflush(NULL);
	f.pid = fork();
	if (f.pid < 0)
		return -errno;
	if (f.pid == 0) {
		serve(fd, rules, n, f.log);
		_exit(0);
	}
	close(fd);
	*ret = f;
	return 0;
}

void fake_stop(struct fake_server *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
}

char *fake_log(const struct fake_server *f)
{
	FILE *fp = fopen(f->log, "re");
	if (!fp)
		return strdup("");
	char *buf = calloc(1, 1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, fp) : 0;
	(void)n;
	fclose(fp);
	return buf;
}

int fake_count(const struct fake_server *f, ...)
{
	char *log = fake_log(f);
	int count = 0;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		va_list ap;
		va_start(ap, f);
		bool all = true;
		for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
			all = all && strstr(line, s);
		va_end(ap);
		count += all;
	}
	free(log);
	return count;
}

void fake_options(struct registry_options *o)
{
	registry_options_default(o);
	o->retry_base_ms = 20;
	o->retry_max_ms = 200;
	o->connect_timeout_ms = 2000;
	o->stall_timeout_ms = 10000;
}

struct registry_session *fake_session(struct registry_client *c, const char *ref,
				      const struct registry_pull_options *po)
{
	struct image_ref r;
	struct registry_session *s = NULL;
	struct registry_error err = { 0 };
	CHECK_RC(image_ref_parse(ref, &r, NULL));
	int rc = registry_session_open(c, &r, po, &s, &err);
	if (rc < 0)
		fprintf(stderr, "  session %s: %s\n", ref, err.msg);
	CHECK_RC(rc);
	return s;
}

void fake_digest(const void *buf, size_t len, char ret[DIGEST_STR_SIZE])
{
	struct digest d;
	CHECK_RC(digest_buf(buf, len, &d));
	digest_format(&d, ret);
}
