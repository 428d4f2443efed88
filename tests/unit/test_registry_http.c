/*
 * test_registry_http: the registry client's transport against the scripted
 * server (registry_fake.h): the loopback https -> http fallback, retries
 * and Retry-After, redirects and the Authorization they may carry, cut
 * and resumed blobs, size and digest checks, stalls, deadlines,
 * cancellation, connection failures.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "imaged/registry.h"
#include "tests/unit/registry_fake.h"
#include "tests/unit/unit.h"

#define BLOB_LEN 100000

struct collect {
	char *buf;
	size_t len;
	int fail_with;
	int calls;
};

static int collect_sink(void *ud, const void *b, size_t n)
{
	struct collect *c = ud;
	c->calls++;
	if (c->fail_with)
		return c->fail_with;
	c->buf = realloc(c->buf, c->len + n);
	CHECK(c->buf);
	memcpy(c->buf + c->len, b, n);
	c->len += n;
	return 0;
}

struct blob_case {
	char blob[BLOB_LEN];
	struct registry_descriptor d;
	char path[200];
	struct fake_server f;
	struct registry_options o;
	struct registry_client *c;
	struct registry_session *s;
	struct registry_pull_options po;
	struct collect got;
	struct registry_error err;
};

static void blob_init(struct blob_case *t)
{
	memset(t, 0, sizeof *t);
	unsigned x = 12345;
	for (size_t i = 0; i < BLOB_LEN; i++) {
		x = x * 1103515245u + 12345u;
		t->blob[i] = (char)(x >> 16);
	}
	fake_digest(t->blob, BLOB_LEN, t->d.digest);
	t->d.size = BLOB_LEN;
	snprintf(t->d.media_type, sizeof t->d.media_type, "application/octet-stream");
	snprintf(t->path, sizeof t->path, "/v2/test/img/blobs/%s", t->d.digest);
	fake_options(&t->o);
}

static void blob_start(struct blob_case *t, struct fake_rule *rules, size_t n)
{
	CHECK_RC(fake_start(rules, n, &t->f));
	CHECK_RC(registry_client_new(&t->o, &t->c, &t->err));
	char ref[100];
	snprintf(ref, sizeof ref, "%s/test/img:1", t->f.host);
	t->s = fake_session(t->c, ref, &t->po);
}

static int blob_pull(struct blob_case *t)
{
	int r = registry_pull_blob(t->s, &t->d, collect_sink, &t->got, &t->err);
	if (r < 0)
		fprintf(stderr, "  pull: %d %s (code %d)\n", r, t->err.msg, t->err.code);
	return r;
}

static void blob_end(struct blob_case *t)
{
	registry_session_close(t->s);
	registry_client_free(t->c);
	fake_stop(&t->f);
	free(t->got.buf);
}

static bool got_blob(const struct blob_case *t)
{
	return t->got.len == BLOB_LEN && memcmp(t->got.buf, t->blob, BLOB_LEN) == 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TEST(registry_http_blob_and_loopback_fallback)
{
	static struct blob_case t;
	blob_init(&t);
	struct fake_rule rules[] = {
		{ .method = "GET", .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN },
	};
	blob_start(&t, rules, 1);
	CHECK_RC(blob_pull(&t));
	CHECK(got_blob(&t));
	/* https first (the TLS hello is not HTTP), then plain http */
	CHECK(fake_count(&t.f, "BAD", NULL) == 1);
	CHECK(fake_count(&t.f, "GET /v2/test/img/blobs/", "auth=-", NULL) == 1);
	/* the session keeps the endpoint that worked */
	free(t.got.buf);
	t.got = (struct collect){ 0 };
	CHECK_RC(blob_pull(&t));
	CHECK(got_blob(&t));
	CHECK(fake_count(&t.f, "BAD", NULL) == 1);
	blob_end(&t);
}

TEST(registry_http_retries_5xx)
{
	static struct blob_case t;
	blob_init(&t);
	struct fake_rule rules[] = {
		{ .path = t.path, .times = 2, .status = 503, .body = "busy" },
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN },
	};
	blob_start(&t, rules, 2);
	CHECK_RC(blob_pull(&t));
	CHECK(got_blob(&t));
	CHECK(fake_count(&t.f, "GET /v2/test/img/blobs/", NULL) == 3);
	blob_end(&t);
}

TEST(registry_http_retries_run_out)
{
	static struct blob_case t;
	blob_init(&t);
	t.o.max_retries = 2;
	struct fake_rule rules[] = {
		{ .path = t.path, .status = 500,
		  .body = "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"disk on fire\"}]}" },
	};
	blob_start(&t, rules, 1);
	CHECK(blob_pull(&t) == -EIO);
	CHECK(t.err.code == CRISP_STATUS_UNAVAILABLE);
	CHECK(strstr(t.err.msg, "disk on fire") && strstr(t.err.msg, "500"));
	CHECK(fake_count(&t.f, "GET /v2/test/img/blobs/", NULL) == 3);
	CHECK(t.got.len == 0);
	blob_end(&t);
}

TEST(registry_http_429_honours_retry_after)
{
	static struct blob_case t;
	blob_init(&t);
	t.o.retry_max_ms = 5000;
	struct fake_rule rules[] = {
		{ .path = t.path, .times = 1, .status = 429, .headers = "Retry-After: 1\r\n" },
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN },
	};
	blob_start(&t, rules, 2);
	int64_t start = now_ms();
	CHECK_RC(blob_pull(&t));
	int64_t took = now_ms() - start;
	CHECK(got_blob(&t));
	CHECK(took >= 950);
	CHECK(took < 5000);
	blob_end(&t);
}

TEST(registry_http_retry_after_is_capped)
{
	static struct blob_case t;
	blob_init(&t);
	t.o.retry_max_ms = 300;
	struct fake_rule rules[] = {
		{ .path = t.path, .times = 2, .status = 503, .headers = "Retry-After: 3600\r\n" },
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN },
	};
	blob_start(&t, rules, 2);
	int64_t start = now_ms();
	CHECK_RC(blob_pull(&t));
	int64_t took = now_ms() - start;
	CHECK(got_blob(&t));
	CHECK(took >= 550 && took < 3000);
	blob_end(&t);
}

TEST(registry_http_429_runs_out)
{
	static struct blob_case t;
	blob_init(&t);
	t.o.max_retries = 1;
	struct fake_rule rules[] = {
		{ .path = t.path, .status = 429,
		  .body = "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"slow down\"}]}" },
	};
	blob_start(&t, rules, 1);
	CHECK(blob_pull(&t) == -EBUSY);
	CHECK(t.err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	CHECK(strstr(t.err.msg, "TOOMANYREQUESTS"));
	blob_end(&t);
}

TEST(registry_http_redirect_same_origin_keeps_authorization)
{
	static struct blob_case t;
	blob_init(&t);
	struct registry_credentials cr = { .registry_token = "RT-secret" };
	t.po.creds = &cr;
	struct fake_rule rules[] = {
		{ .path = t.path, .auth = "Bearer RT-secret", .status = 307,
		  .headers = "Location: /storage/blob-1?sig=abc\r\n" },
		{ .path = "/storage/blob-1", .auth = "Bearer RT-secret", .status = 200,
		  .body = t.blob, .body_len = BLOB_LEN },
	};
	blob_start(&t, rules, 2);
	CHECK_RC(blob_pull(&t));
	CHECK(got_blob(&t));
	CHECK(fake_count(&t.f, "GET /storage/blob-1?sig=abc", NULL) == 1);
	blob_end(&t);
}

TEST(registry_http_redirect_cross_origin_drops_authorization)
{
	static struct blob_case t;
	blob_init(&t);
	struct registry_credentials cr = { .registry_token = "RT-secret" };
	t.po.creds = &cr;
	struct fake_rule store[] = {
		{ .path = "/bucket/", .auth = "-", .status = 200, .body = t.blob, .body_len = BLOB_LEN },
	};
	struct fake_server other;
	CHECK_RC(fake_start(store, 1, &other));
	char loc[200];
	snprintf(loc, sizeof loc, "Location: http://%s/bucket/x?X-Amz-Signature=s3cr3t\r\n", other.host);
	struct fake_rule rules[] = {
		{ .path = t.path, .auth = "Bearer RT-secret", .status = 302, .headers = loc },
	};
	blob_start(&t, rules, 1);
	CHECK_RC(blob_pull(&t));
	CHECK(got_blob(&t));
	CHECK(fake_count(&other, "GET /bucket/x", "auth=-", NULL) == 1);
	CHECK(fake_count(&other, "RT-secret", NULL) == 0);
	fake_stop(&other);
	blob_end(&t);
}

TEST(registry_http_redirect_loop_is_bounded)
{
	static struct blob_case t;
	blob_init(&t);
	t.o.max_redirects = 3;
	char loc[300];
	snprintf(loc, sizeof loc, "Location: %s\r\n", t.path);
	struct fake_rule rules[] = { { .path = t.path, .status = 302, .headers = loc } };
	blob_start(&t, rules, 1);
	CHECK(blob_pull(&t) == -ELOOP);
	CHECK(t.err.code == CRISP_STATUS_UNAVAILABLE);
	CHECK(fake_count(&t.f, "GET /v2/test/img/blobs/", NULL) == 4);
	blob_end(&t);
}

TEST(registry_http_cut_blob_resumes_with_range)
{
	static struct blob_case t;
	blob_init(&t);
	struct fake_rule rules[] = {
		{ .path = t.path, .times = 1, .status = 200, .body = t.blob, .body_len = BLOB_LEN,
		  .act = FAKE_CUT, .cut_after = 30000 },
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN, .range = true },
	};
	blob_start(&t, rules, 2);
	CHECK_RC(blob_pull(&t));
	CHECK(got_blob(&t));
	CHECK(fake_count(&t.f, "range=bytes=30000-", NULL) == 1);
	blob_end(&t);
}

TEST(registry_http_cut_blob_resumes_without_range)
{
	static struct blob_case t;
	blob_init(&t);
	struct fake_rule rules[] = {
		{ .path = t.path, .times = 1, .status = 200, .body = t.blob, .body_len = BLOB_LEN,
		  .act = FAKE_CUT, .cut_after = 40000 },
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN },
	};
	blob_start(&t, rules, 2);
	CHECK_RC(blob_pull(&t));
	CHECK(got_blob(&t));           /* the first 40000 bytes were not given twice */
	CHECK(fake_count(&t.f, "range=bytes=40000-", NULL) == 1);
	blob_end(&t);
}

TEST(registry_http_blob_digest_mismatch)
{
	static struct blob_case t;
	static char other[BLOB_LEN];
	blob_init(&t);
	memcpy(other, t.blob, BLOB_LEN);
	other[777] ^= 1;
	struct fake_rule rules[] = {
		{ .path = t.path, .status = 200, .body = other, .body_len = BLOB_LEN },
	};
	blob_start(&t, rules, 1);
	CHECK(blob_pull(&t) == -EBADMSG);
	CHECK(t.err.code == CRISP_STATUS_DATA_LOSS);
	blob_end(&t);
}

TEST(registry_http_blob_size_mismatch)
{
	static struct blob_case t;
	blob_init(&t);
	struct fake_rule rules[] = {
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN - 10 },
	};
	blob_start(&t, rules, 1);
	CHECK(blob_pull(&t) == -EBADMSG);
	CHECK(t.err.code == CRISP_STATUS_DATA_LOSS);
	blob_end(&t);

	/* longer than its descriptor: refused from Content-Length, before the body */
	static struct blob_case u;
	static char longer[BLOB_LEN + 10];
	blob_init(&u);
	memcpy(longer, u.blob, BLOB_LEN);
	struct fake_rule rules2[] = {
		{ .path = u.path, .status = 200, .body = longer, .body_len = sizeof longer },
	};
	blob_start(&u, rules2, 1);
	CHECK(blob_pull(&u) == -EFBIG);
	CHECK(u.err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	CHECK(u.got.len == 0);
	blob_end(&u);

	/* and without a Content-Length: the sink never gets more than size */
	static struct blob_case v;
	blob_init(&v);
	memcpy(longer, v.blob, BLOB_LEN);
	struct fake_rule rules3[] = {
		{ .path = v.path, .status = 200, .body = longer, .body_len = sizeof longer,
		  .no_length = true },
	};
	blob_start(&v, rules3, 1);
	CHECK(blob_pull(&v) == -EFBIG);
	CHECK(v.got.len <= BLOB_LEN);
	blob_end(&v);
}

TEST(registry_http_sink_error_stops)
{
	static struct blob_case t;
	blob_init(&t);
	t.got.fail_with = -ENOSPC;
	struct fake_rule rules[] = {
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN },
	};
	blob_start(&t, rules, 1);
	CHECK(blob_pull(&t) == -ENOSPC);
	CHECK(t.err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	CHECK(t.got.calls == 1);
	CHECK(fake_count(&t.f, "GET /v2/test/img/blobs/", NULL) == 1);   /* not retried */
	blob_end(&t);
}

TEST(registry_http_stall_times_out)
{
	static struct blob_case t;
	blob_init(&t);
	t.o.stall_timeout_ms = 500;
	struct fake_rule rules[] = {
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN,
		  .act = FAKE_STALL, .cut_after = 1000 },
	};
	blob_start(&t, rules, 1);
	int64_t start = now_ms();
	CHECK(blob_pull(&t) == -ETIMEDOUT);
	int64_t took = now_ms() - start;
	CHECK(t.err.code == CRISP_STATUS_DEADLINE_EXCEEDED);
	CHECK(strstr(t.err.msg, "no progress"));
	CHECK(took >= 450 && took < 5000);
	blob_end(&t);
}

TEST(registry_http_deadline)
{
	static struct blob_case t;
	blob_init(&t);
	t.po.deadline_ms = now_ms() + 700;
	struct fake_rule rules[] = {
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN,
		  .act = FAKE_STALL, .cut_after = 10 },
	};
	blob_start(&t, rules, 1);
	CHECK(blob_pull(&t) == -ETIMEDOUT);
	CHECK(t.err.code == CRISP_STATUS_DEADLINE_EXCEEDED);
	CHECK(strstr(t.err.msg, "deadline"));
	CHECK(now_ms() < t.po.deadline_ms + 3000);
	blob_end(&t);
}

static void *cancel_later(void *arg)
{
	usleep(300 * 1000);
	atomic_store((atomic_bool *)arg, true);
	return NULL;
}

TEST(registry_http_cancel)
{
	static struct blob_case t;
	static atomic_bool flag;
	blob_init(&t);
	t.po.cancel = &flag;
	struct fake_rule rules[] = {
		{ .path = t.path, .status = 200, .body = t.blob, .body_len = BLOB_LEN,
		  .act = FAKE_STALL, .cut_after = 10 },
	};
	blob_start(&t, rules, 1);
	pthread_t th;
	pthread_create(&th, NULL, cancel_later, &flag);
	int64_t start = now_ms();
	CHECK(blob_pull(&t) == -ECANCELED);
	CHECK(t.err.code == CRISP_STATUS_CANCELLED);
	CHECK(now_ms() - start < 5000);
	pthread_join(th, NULL);
	blob_end(&t);
}

TEST(registry_http_connection_refused)
{
	static struct blob_case t;
	blob_init(&t);
	/* a port nobody listens on */
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	close(fd);
	CHECK_RC(registry_client_new(&t.o, &t.c, &t.err));
	char ref[100];
	snprintf(ref, sizeof ref, "127.0.0.1:%d/test/img:1", ntohs(a.sin_port));
	t.s = fake_session(t.c, ref, NULL);
	int64_t start = now_ms();
	CHECK(blob_pull(&t) == -EHOSTUNREACH);
	CHECK(t.err.code == CRISP_STATUS_UNAVAILABLE);
	CHECK(now_ms() - start < 3000);
	registry_session_close(t.s);
	registry_client_free(t.c);
}
