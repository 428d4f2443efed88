/*
 * test_criserver_conns: the connection table and its eviction policy
 * (criserver/conns.c), driven with made-up times, and the HTTP/2 preface
 * check (criserver/h2_preface.c) with whole, partial and wrong prefaces.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "criserver/conns.h"
#include "criserver/h2_preface.h"
#include "tests/unit/unit.h"

#define MAGIC "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define GRACE 1000

static uint64_t add(struct conns *t, int fd, int64_t now)
{
	struct conn c = { .state = CONN_HANDSHAKE, .fd = fd, .keep_fd = -1, .since_ms = now,
			  .active_ms = now };
	uint64_t id;
	CHECK_RC(conns_add(t, &c, &id));
	CHECK(id != 0);
	return id;
}

/* handed to grpc at now, keeping fd + 100 */
static uint64_t add_grpc(struct conns *t, int fd, int64_t now)
{
	uint64_t id = add(t, fd, now);
	CHECK_RC(conns_to_grpc(t, id, fd + 100, now));
	return id;
}

static uint64_t victim(struct conns *t, int64_t now)
{
	struct conn v;
	return conns_victim(t, now, GRACE, &v) == 0 ? v.id : 0;
}

TEST(criserver_conns_table)
{
	struct conns *t;
	struct conn c;

	CHECK(conns_new(0, &t) == -EINVAL);
	CHECK_RC(conns_new(3, &t));
	uint64_t a = add(t, 10, 0), b = add(t, 11, 0), d = add(t, 12, 0);
	CHECK(a != b && b != d && a != d);
	CHECK(conns_count(t) == 3 && conns_count_handshake(t) == 3);
	struct conn e = { .fd = 13 };
	CHECK(conns_add(t, &e, NULL) == -ENOSPC);
	CHECK_RC(conns_to_grpc(t, b, 111, 5));
	CHECK(conns_count_handshake(t) == 2);
	CHECK_RC(conns_get(t, b, &c));
	CHECK(c.state == CONN_GRPC && c.fd == 11 && c.keep_fd == 111 && c.active_ms == 5);
	/* calls are found by the fd grpc has, only once handed over */
	CHECK(conns_call_start(t, 10, 6) == 0);
	CHECK(conns_call_start(t, 11, 6) == b);
	CHECK_RC(conns_get(t, b, &c));
	CHECK(c.calls == 1);
	conns_call_end(t, b, 7);
	conns_call_end(t, b, 8);                /* one too many: ignored */
	conns_call_end(t, 0, 8);
	CHECK_RC(conns_get(t, b, &c));
	CHECK(c.calls == 0 && c.active_ms == 7);
	/* accept returned 11 again: the old one is gone */
	CHECK_RC(conns_take_fd(t, 11, &c));
	CHECK(c.id == b && c.keep_fd == 111);
	CHECK(conns_take_fd(t, 11, &c) == -ENOENT);
	CHECK(conns_take_fd(t, 10, &c) == -ENOENT);     /* in its handshake: ours */
	CHECK(conns_get(t, b, &c) == -ENOENT);
	conns_call_end(t, b, 9);                /* a late end of a gone one */
	CHECK_RC(conns_remove(t, a, &c));
	CHECK(c.fd == 10);
	CHECK(conns_remove(t, a, NULL) == -ENOENT);
	CHECK(conns_count(t) == 1);
	uint64_t f = add(t, 14, 10);
	CHECK(f > d);                           /* ids are never reused */
	conns_free(t);
}

TEST(criserver_conns_victim_policy)
{
	struct conns *t;

	CHECK_RC(conns_new(8, &t));
	CHECK(victim(t, 0) == 0);               /* empty: nothing to close */
	/* at 10 s: a client busy in a call, one between two calls (idle 200
	 * ms), two handshakes, two channels left idle for 5 s and 3 s */
	int64_t now = 10000;
	uint64_t busy = add_grpc(t, 20, 1000);
	CHECK(conns_call_start(t, 20, 9900) == busy);
	uint64_t between = add_grpc(t, 21, 2000);
	conns_call_end(t, conns_call_start(t, 21, 9700), 9800);
	uint64_t hs_old = add(t, 22, 9000), hs_new = add(t, 23, 9990);
	uint64_t idle5 = add_grpc(t, 24, 5000), idle3 = add_grpc(t, 25, 7000);
	(void)hs_new;

	/* 1: idle past the grace, longest first */
	CHECK(victim(t, now) == idle5);
	CHECK_RC(conns_remove(t, idle5, NULL));
	CHECK(victim(t, now) == idle3);
	CHECK_RC(conns_remove(t, idle3, NULL));
	/* 2: then the oldest handshake, not the client between its calls */
	CHECK(victim(t, now) == hs_old);
	CHECK_RC(conns_remove(t, hs_old, NULL));
	CHECK(victim(t, now) == hs_new);
	CHECK_RC(conns_remove(t, hs_new, NULL));
	/* 3: then an idle one within its grace */
	CHECK(victim(t, now) == between);
	/* ... which past its grace is a 1 */
	CHECK(victim(t, 9800 + GRACE) == between);
	CHECK_RC(conns_remove(t, between, NULL));
	/* 4: every connection has a call in flight: none */
	CHECK(victim(t, now) == 0);
	CHECK(victim(t, INT64_MAX / 2) == 0);
	/* its call ends: it may go */
	conns_call_end(t, busy, now);
	CHECK(victim(t, now) == busy);
	conns_free(t);
}

TEST(criserver_conns_handshake_expiry_and_list)
{
	struct conns *t;
	struct conn c, out[4];

	CHECK_RC(conns_new(4, &t));
	uint64_t a = add(t, 30, 1000), b = add(t, 31, 1500);
	add_grpc(t, 32, 0);
	CHECK(conns_handshake_expired(t, 1999, 1000, &c) == -ENOENT);
	CHECK_RC(conns_handshake_expired(t, 2000, 1000, &c));
	CHECK(c.id == a);
	CHECK_RC(conns_remove(t, a, NULL));
	CHECK(conns_handshake_expired(t, 2000, 1000, &c) == -ENOENT);
	CHECK_RC(conns_handshake_expired(t, 2500, 1000, &c));
	CHECK(c.id == b);
	CHECK(conns_list_grpc(t, out, 4) == 1 && out[0].fd == 32 && out[0].keep_fd == 132);
	CHECK(conns_list_grpc(t, out, 0) == 0);
	conns_free(t);
}

static uint8_t buf[H2_PREFACE_MAX + 64];

/* The magic and a SETTINGS frame of n settings. */
static size_t preface(size_t n, uint8_t type, uint8_t flags, uint32_t stream)
{
	size_t len = n * 6;
	memcpy(buf, MAGIC, 24);
	buf[24] = (uint8_t)(len >> 16);
	buf[25] = (uint8_t)(len >> 8);
	buf[26] = (uint8_t)len;
	buf[27] = type;
	buf[28] = flags;
	buf[29] = (uint8_t)(stream >> 24);
	buf[30] = (uint8_t)(stream >> 16);
	buf[31] = (uint8_t)(stream >> 8);
	buf[32] = (uint8_t)stream;
	memset(buf + 33, 0, len);
	return 33 + len;
}

TEST(criserver_h2_preface)
{
	size_t n = preface(4, 4, 0, 0);
	CHECK(n == 57);
	CHECK(h2_preface_check(buf, n) == 57);
	CHECK(h2_preface_check(buf, n + 10) == 57);     /* what follows is grpc's */
	for (size_t i = 0; i < n; i++)
		CHECK(h2_preface_check(buf, i) == 0);   /* every prefix: wait */
	CHECK(h2_preface_check(buf, preface(0, 4, 0, 0)) == 33);   /* no settings */
	n = preface(H2_SETTINGS_MAX / 6, 4, 0, 0);
	CHECK(h2_preface_check(buf, n) == (int)n);
	/* the reserved bit of the stream id is ignored */
	CHECK(h2_preface_check(buf, preface(1, 4, 0, 0x80000000u)) == 39);

	/* not HTTP/2 */
	memcpy(buf, "GET / HTTP/1.1\r\n", 16);
	CHECK(h2_preface_check(buf, 16) == -EPROTO);
	CHECK(h2_preface_check(buf, 1) == -EPROTO);     /* 'G' is already wrong */
	CHECK(h2_preface_check((const uint8_t *)"PRI * HTTP/2.0\r\n\r\nSM\r\n\rX", 24) == -EPROTO);
	CHECK(h2_preface_check(buf, preface(1, 1, 0, 0)) == -EPROTO);  /* HEADERS first */
	CHECK(h2_preface_check(buf, preface(1, 4, 1, 0)) == -EPROTO);  /* an ACK */
	CHECK(h2_preface_check(buf, preface(1, 4, 0, 3)) == -EPROTO);  /* on a stream */
	preface(1, 4, 0, 0);
	buf[26] = 7;                                    /* not whole settings */
	CHECK(h2_preface_check(buf, 40) == -EPROTO);
	buf[24] = 1;                                    /* 65536 + 7 bytes */
	buf[26] = 6;
	CHECK(h2_preface_check(buf, 40) == -EPROTO);
	CHECK(h2_preface_check(buf, 0) == 0);
}
