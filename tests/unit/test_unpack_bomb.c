/*
 * test_unpack_bomb: the caps. Decompression bombs (a tar of one file of
 * zeros, 2 GiB and 10 GiB, gzip and zstd) are built in a blink from one
 * compressed block repeated (a gzip stream restarted by Z_FULL_FLUSH, or
 * zstd frames, which are independent), are checked to be valid, and must be
 * refused under the default limits after a few tens of MiB, in well under a
 * second or two. Then the size, entry, name, link and xattr caps, each just
 * under (accepted) and just over (refused) the limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <archive.h>
#include <zlib.h>
#include <zstd.h>
#include "imaged/unpack.h"
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

#define MIB (UINT64_C(1) << 20)

/* A ustar header for one regular file "zeros" of size bytes. */
static void zeros_header(unsigned char h[512], uint64_t size)
{
	memset(h, 0, 512);
	strcpy((char *)h, "zeros");
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	char sz[24];    /* 12 octal digits, no NUL: sizes past 8 GiB fit */
	snprintf(sz, sizeof sz, "%012llo", (unsigned long long)size);
	CHECK(strlen(sz) == 12);
	memcpy(h + 124, sz, 12);
	memcpy(h + 136, "14524770400", 12);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

static size_t deflate_chunk(z_stream *z, const void *in, size_t len, int flush,
			    unsigned char *out, size_t cap)
{
	z->next_in = (unsigned char *)in;
	z->avail_in = (uInt)len;
	z->next_out = out;
	z->avail_out = (uInt)cap;
	int r = deflate(z, flush);
	CHECK(r == Z_OK || r == Z_STREAM_END);
	CHECK(z->avail_in == 0 && z->avail_out > 0);
	return cap - z->avail_out;
}

/*
 * gzip of: header(size = mib MiB) + mib MiB of zeros + 1024 zeros (the end
 * of the tar). After Z_FULL_FLUSH deflate starts afresh, so the block for
 * 1 MiB of zeros is the same every time: it is computed twice (checked) and
 * then written mib times; the last block and the trailer are made by hand.
 */
static void gzip_bomb(const char *path, uint64_t mib)
{
	unsigned char h[512], *zeros = calloc(1, MIB), *a = malloc(MIB), *b = malloc(MIB),
		      *b2 = malloc(MIB);
	CHECK(zeros && a && b && b2);
	zeros_header(h, mib * MIB);
	z_stream z = { 0 };
	CHECK(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	size_t alen = deflate_chunk(&z, h, 512, Z_FULL_FLUSH, a, MIB);
	size_t blen = deflate_chunk(&z, zeros, MIB, Z_FULL_FLUSH, b, MIB);
	size_t b2len = deflate_chunk(&z, zeros, MIB, Z_FULL_FLUSH, b2, MIB);
	CHECK(blen == b2len && !memcmp(b, b2, blen));
	deflateEnd(&z);
	FILE *f = fopen(path, "we");
	CHECK(f);
	CHECK(fwrite(a, 1, alen, f) == alen);
	for (uint64_t i = 0; i < mib; i++)
		CHECK(fwrite(b, 1, blen, f) == blen);
	/* the 1024 zero bytes of the tar's end, then a final empty block */
	z_stream t = { 0 };
	CHECK(deflateInit2(&t, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	size_t tlen = deflate_chunk(&t, zeros, 1024, Z_FINISH, b2, MIB);
	deflateEnd(&t);
	CHECK(fwrite(b2, 1, tlen, f) == tlen);
	uLong crc = crc32(0, h, 512), zc = crc32(0, zeros, MIB);
	for (uint64_t i = 0; i < mib; i++)
		crc = crc32_combine(crc, zc, (z_off_t)MIB);
	crc = crc32_combine(crc, crc32(0, zeros, 1024), 1024);
	uint64_t total = 512 + mib * MIB + 1024;
	unsigned char trailer[8];
	for (int i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(crc >> (8 * i));
		trailer[4 + i] = (unsigned char)(total >> (8 * i));
	}
	CHECK(fwrite(trailer, 1, 8, f) == 8);
	CHECK(fclose(f) == 0);
	free(zeros), free(a), free(b), free(b2);
}

/* The same as zstd frames: header frame, mib frames of 1 MiB zeros, end. */
static void zstd_bomb(const char *path, uint64_t mib)
{
	unsigned char h[512], *zeros = calloc(1, MIB);
	size_t cap = ZSTD_compressBound(MIB);
	unsigned char *a = malloc(cap), *b = malloc(cap), *c = malloc(cap);
	CHECK(zeros && a && b && c);
	zeros_header(h, mib * MIB);
	size_t alen = ZSTD_compress(a, cap, h, 512, 3);
	size_t blen = ZSTD_compress(b, cap, zeros, MIB, 19);
	size_t clen = ZSTD_compress(c, cap, zeros, 1024, 3);
	CHECK(!ZSTD_isError(alen) && !ZSTD_isError(blen) && !ZSTD_isError(clen));
	FILE *f = fopen(path, "we");
	CHECK(f);
	CHECK(fwrite(a, 1, alen, f) == alen);
	for (uint64_t i = 0; i < mib; i++)
		CHECK(fwrite(b, 1, blen, f) == blen);
	CHECK(fwrite(c, 1, clen, f) == clen);
	CHECK(fclose(f) == 0);
	free(zeros), free(a), free(b), free(c);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int unpack_timed(const char *name, const char *blob, enum unpack_compression comp,
			const struct unpack_limits *lim, bool child, struct unpack_result *res,
			struct unpack_error *err, double *ret_s)
{
	char root[4096];
	tl_path(root, sizeof root, unit_tmpdir(), name);
	CHECK(mkdir(root, 0755) == 0);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = tl_unpack(root, blob, comp, lim, child, res, err);
	*ret_s = seconds_since(&t0);
	return r;
}

/* Built bombs are real: a small one unpacks fully (ratio cap lifted). */
TEST(unpack_bomb_builders_are_valid)
{
	char gz[4096], zs[4096], p[4096];
	tl_path(gz, sizeof gz, unit_tmpdir(), "b.gz");
	tl_path(zs, sizeof zs, unit_tmpdir(), "b.zst");
	gzip_bomb(gz, 8);
	zstd_bomb(zs, 8);
	struct unpack_limits lim;
	unpack_limits_default(&lim);
	lim.max_ratio = UINT64_MAX;
	const char *blobs[] = { gz, zs }, *names[] = { "g", "z" };
	for (int i = 0; i < 2; i++) {
		struct unpack_result res;
		struct unpack_error err;
		double s;
		int r = unpack_timed(names[i], blobs[i], UNPACK_COMP_AUTO, &lim, false, &res,
				     &err, &s);
		if (r < 0)
			fprintf(stderr, "  %s\n", err.msg);
		CHECK_RC(r);
		CHECK(res.tar_size == 512 + 8 * MIB + 1024 && res.entries == 1);
		snprintf(p, sizeof p, "%s/%s/zeros", unit_tmpdir(), names[i]);
		struct stat st;
		CHECK(stat(p, &st) == 0 && (uint64_t)st.st_size == 8 * MIB);
	}
}

/* want: the cap that must catch it first (a 10 GiB file is over the 8 GiB
 * size cap as soon as its header is read; 2 GiB needs the ratio cap) */
static void refuse_bomb(const char *blob, const char *name, uint64_t gib, bool child,
			const char *want)
{
	struct unpack_result res;
	struct unpack_error err;
	double s;
	int r = unpack_timed(name, blob, UNPACK_COMP_AUTO, NULL, child, &res, &err, &s);
	struct stat st;
	CHECK(stat(blob, &st) == 0);
	char p[4096];
	snprintf(p, sizeof p, "%s/%s/zeros", unit_tmpdir(), name);
	struct stat out = { 0 };
	stat(p, &out);
	fprintf(stderr, "  %s: %llu GiB of zeros in %lld KiB: refused after %.3f s, "
		"%lld MiB written: %s\n", name, (unsigned long long)gib,
		(long long)st.st_size / 1024, s, (long long)out.st_size >> 20, err.msg);
	CHECK(r < 0 && err.code == UNPACK_ERR_LIMIT && strstr(err.msg, want));
	CHECK(s < 5.0);
	CHECK((uint64_t)out.st_size <= 65 * MIB);
}

TEST(unpack_gzip_bomb_2g)
{
	char gz[4096];
	tl_path(gz, sizeof gz, unit_tmpdir(), "b2.gz");
	gzip_bomb(gz, 2048);
	refuse_bomb(gz, "gz2", 2, false, "expands more than 100 times");
	refuse_bomb(gz, "gz2child", 2, true, "expands more than 100 times");
}

TEST(unpack_gzip_bomb_10g)
{
	char gz[4096];
	tl_path(gz, sizeof gz, unit_tmpdir(), "b10.gz");
	gzip_bomb(gz, 10240);
	refuse_bomb(gz, "gz10", 10, false, "file is larger than 8589934592 bytes");
	refuse_bomb(gz, "gz10child", 10, true, "file is larger than 8589934592 bytes");
}

/* 2 GiB of zstd frames: the ratio cap */
TEST(unpack_zstd_bomb_2g)
{
	char zs[4096];
	tl_path(zs, sizeof zs, unit_tmpdir(), "b2.zst");
	zstd_bomb(zs, 2048);
	refuse_bomb(zs, "zs2", 2, false, "expands more than 100 times");
	refuse_bomb(zs, "zs2child", 2, true, "expands more than 100 times");
}

TEST(unpack_zstd_bomb_10g)
{
	char zs[4096];
	tl_path(zs, sizeof zs, unit_tmpdir(), "b10.zst");
	zstd_bomb(zs, 10240);
	refuse_bomb(zs, "zs10", 10, false, "file is larger than 8589934592 bytes");
	refuse_bomb(zs, "zs10child", 10, true, "file is larger than 8589934592 bytes");
}

/* Below the ratio floor a high ratio is fine: 16 MiB of zeros is a layer. */
TEST(unpack_ratio_floor)
{
	char gz[4096];
	tl_path(gz, sizeof gz, unit_tmpdir(), "small.gz");
	gzip_bomb(gz, 16);
	struct unpack_result res;
	struct unpack_error err;
	double s;
	CHECK_RC(unpack_timed("r", gz, UNPACK_COMP_GZIP, NULL, false, &res, &err, &s));
}

/* One layer, many limits: each just met passes, each just exceeded fails. */
static void write_capped_tar(const char *path, int files)
{
	static char big[70000];
	memset(big, 'v', sizeof big);
	struct archive *a = tl_tar_open(path);
	tl_add(a, &(struct tl_entry){ .name = "0123456789", .data = "x", .size = 1 });
	tl_add(a, &(struct tl_entry){ .name = "l", .type = S_IFLNK, .link = "0123456789" });
	tl_add(a, &(struct tl_entry){ .name = "x", .data = "x", .size = 1,
				      .xattrs = { { "user.a", big, 1000 }, { "user.b", "b", 1 } } });
	for (int i = 0; i < files; i++) {
		char n[32];
		snprintf(n, sizeof n, "f%d", i);
		tl_add(a, &(struct tl_entry){ .name = n, .data = big, .size = sizeof big });
	}
	tl_close(a);
}

static int capped(const char *tar, const struct unpack_limits *lim, struct unpack_error *err)
{
	static int n;
	char root[4096];
	snprintf(root, sizeof root, "%s/c%d", unit_tmpdir(), n++);
	CHECK(mkdir(root, 0755) == 0);
	struct unpack_result res;
	return tl_unpack(root, tar, UNPACK_COMP_NONE, lim, false, &res, err);
}

TEST(unpack_caps)
{
	char tar[4096];
	tl_path(tar, sizeof tar, unit_tmpdir(), "c.tar");
	write_capped_tar(tar, 4);
	struct stat st;
	CHECK(stat(tar, &st) == 0);
	struct unpack_limits base, l;
	unpack_limits_default(&base);
	base.max_entries = 7;
	base.max_path = 10;
	base.max_link = 10;
	base.max_xattrs = 2;
	base.max_xattr_size = 1000;
	base.max_tar_size = (uint64_t)st.st_size;
	struct unpack_error err;
	CHECK_RC(capped(tar, &base, &err));
	/* each limit one below what the layer needs, in this order */
	static const char *const what[] = {
		"more than 6 entries", "longer than 9", "symlink target longer than 9",
		"more than 1 xattrs", "more than 999", "larger than",
	};
	for (size_t i = 0; i < sizeof what / sizeof what[0]; i++) {
		l = base;
		switch (i) {
		case 0: l.max_entries--; break;
		case 1: l.max_path--; break;
		case 2: l.max_link--; break;
		case 3: l.max_xattrs--; break;
		case 4: l.max_xattr_size--; break;
		case 5: l.max_tar_size--; break;
		}
		int r = capped(tar, &l, &err);
		if (r == 0 || err.code != UNPACK_ERR_LIMIT || !strstr(err.msg, what[i])) {
			fprintf(stderr, "  cap %zu: wanted LIMIT '%s', got %d: %s\n", i, what[i],
				r, err.msg);
			CHECK(!"wrong outcome");
		}
	}
}
