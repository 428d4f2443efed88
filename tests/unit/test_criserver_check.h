/*
 * test_criserver_check: helpers of the request check tests
 * (test_criserver_check*.c): run a check and compare its verdict and
 * message. Test code only.
 */
#pragma once
#include <stdio.h>
#include <string.h>
#include "criserver/check.h"
#include "tests/unit/unit.h"

/* The check passes. */
#define PASS(fn, msg) do {                                                  \
	char _e[CHECK_ERR_MAX] = "";                                        \
	int _r = fn(&(msg)->base, _e, sizeof _e);                           \
	if (_r != 0)                                                        \
		fprintf(stderr, "  %s:%d: unexpected failure: %s\n", __FILE__, __LINE__, _e); \
	CHECK(_r == 0);                                                     \
} while (0)

/* The check fails with exactly this text. */
#define FAIL(fn, msg, text) do {                                            \
	char _e[CHECK_ERR_MAX] = "";                                        \
	int _r = fn(&(msg)->base, _e, sizeof _e);                           \
	if (_r != -EINVAL || strcmp(_e, text) != 0)                         \
		fprintf(stderr, "  %s:%d: got %d \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
			_r, _e, text);                                      \
	CHECK(_r == -EINVAL && strcmp(_e, text) == 0);                      \
} while (0)

/* A string of n bytes of c (static storage, one at a time per slot). */
static inline char *fill(char *buf, size_t n, char c)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}
