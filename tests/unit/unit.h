/*
 * unit: the C unit test harness. TEST(name) { ... } registers a test; each
 * runs in its own forked child so that a crash fails one test, not the run.
 * CHECK(cond) fails the test with file:line; CHECK_RC(expr) fails if
 * expr < 0. build/tests/unit [name-substring...] runs them and ends with the
 * line "N passed, N failed".
 */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*unit_fn)(void);
void unit_register(const char *name, unit_fn fn);
const char *unit_tmpdir(void);  /* a fresh directory for the running test */

#define TEST(n)                                                         \
	static void test_##n(void);                                     \
	__attribute__((constructor)) static void reg_##n(void)          \
	{ unit_register(#n, test_##n); }                                \
	static void test_##n(void)

#define CHECK(c) do { if (!(c)) {                                       \
	fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
	exit(1); } } while (0)

#define CHECK_RC(e) do { long _r = (long)(e); if (_r < 0) {             \
	fprintf(stderr, "  %s:%d: %s = %ld (%s)\n", __FILE__, __LINE__, #e, _r, strerror((int)-_r)); \
	exit(1); } } while (0)
