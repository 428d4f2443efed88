/*
 * unpack_stream: the blob fd -> the uncompressed tar stream. Decompresses
 * gzip (zlib, every member of a multi-member file) and zstd (libzstd, every
 * frame, window capped at 2^27) ourselves rather than through libarchive's
 * filters, because two things need the uncompressed bytes themselves:
 *   - the diff_id: sha256 over every uncompressed byte, the padding after the
 *     tar's end included (unpack_stream_drain);
 *   - the caps: the uncompressed size and the expansion ratio are counted on
 *     the bytes as they come out, so a bomb is refused after ratio_floor
 *     bytes, long before it fills a disk.
 * The declared compression must match the magic bytes. Trailing garbage
 * after a gzip member is an error (as in containerd).
 * Must never: hand libarchive a byte that was not hashed and counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <zstd.h>
#include "imaged/unpack_int.h"

static const unsigned char gzip_magic[2] = { 0x1f, 0x8b };
static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

/* Refills s->in once it is used up. At the end of the blob: in_eof. */
static int fill(struct unpack_stream *s, struct unpack_error *err)
{
	if (s->in_pos < s->in_len || s->in_eof)
		return 0;
	ssize_t n;
	do
		n = read(s->fd, s->in, UNPACK_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return unpack_fail_errno(err, errno, "reading the layer blob");
	s->in_pos = 0;
	s->in_len = (size_t)n;
	s->in_eof = n == 0;
	s->compressed += (uint64_t)n;
	if (s->compressed > s->lim->max_tar_size)
		return unpack_fail(err, UNPACK_ERR_LIMIT, EFBIG,
				   "layer blob is larger than %llu bytes",
				   (unsigned long long)s->lim->max_tar_size);
	return 0;
}

/* Reads until at least 4 bytes (or the end) are in s->in, to sniff. */
static int fill_head(struct unpack_stream *s, struct unpack_error *err)
{
	while (s->in_len < sizeof zstd_magic) {
		ssize_t n = read(s->fd, s->in + s->in_len, UNPACK_CHUNK - s->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return unpack_fail_errno(err, errno, "reading the layer blob");
		if (n == 0) {
			s->in_eof = true;
			break;
		}
		s->in_len += (size_t)n;
		s->compressed += (uint64_t)n;
	}
	return 0;
}

static int sniff(struct unpack_stream *s, enum unpack_compression comp,
		 struct unpack_error *err)
{
	bool gz = s->in_len >= 2 && !memcmp(s->in, gzip_magic, sizeof gzip_magic);
	bool zs = s->in_len >= 4 && !memcmp(s->in, zstd_magic, sizeof zstd_magic);
	enum unpack_compression found = gz ? UNPACK_COMP_GZIP :
					zs ? UNPACK_COMP_ZSTD : UNPACK_COMP_NONE;
	if (comp != UNPACK_COMP_AUTO && comp != found)
		return unpack_fail(err, UNPACK_ERR_INVALID, EINVAL,
				   "layer declared as %s but its content is %s",
				   unpack_compression_name(comp),
				   unpack_compression_name(found));
	s->comp = found;
	return 0;
}

static int decoder_init(struct unpack_stream *s, struct unpack_error *err)
{
	if (s->comp == UNPACK_COMP_GZIP) {
		if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
			return unpack_fail(err, UNPACK_ERR_SYSTEM, ENOMEM, "inflateInit2 failed");
		s->z_live = true;
	} else if (s->comp == UNPACK_COMP_ZSTD) {
		s->zstd = ZSTD_createDCtx();
		if (!s->zstd)
			return unpack_fail(err, UNPACK_ERR_SYSTEM, ENOMEM, "ZSTD_createDCtx failed");
		ZSTD_DCtx_setParameter(s->zstd, ZSTD_d_windowLogMax, 27);
		s->zstd_last = 1;       /* inside a frame until one ends */
	}
	return 0;
}

int unpack_stream_open(struct unpack_stream *s, int fd, enum unpack_compression comp,
		       const struct unpack_limits *lim, struct unpack_error *err)
{
	*s = (struct unpack_stream){ .fd = fd, .lim = lim };
	s->in = malloc(UNPACK_CHUNK);
	s->out = malloc(UNPACK_CHUNK);
	s->sha = EVP_MD_CTX_new();
	if (!s->in || !s->out || !s->sha)
		return unpack_fail(err, UNPACK_ERR_SYSTEM, ENOMEM, "out of memory");
	if (EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1)
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EIO, "sha256 init failed");
	int r = fill_head(s, err);
	if (r < 0)
		return r;
	r = sniff(s, comp, err);
	if (r < 0)
		return r;
	return decoder_init(s, err);
}

/* Hashes and counts n fresh bytes; the caps are checked here. */
static int account(struct unpack_stream *s, const void *buf, size_t n,
		   struct unpack_error *err)
{
	s->uncompressed += n;
	if (EVP_DigestUpdate(s->sha, buf, n) != 1)
		return unpack_fail(err, UNPACK_ERR_SYSTEM, EIO, "sha256 update failed");
	const struct unpack_limits *l = s->lim;
	if (s->uncompressed > l->max_tar_size)
		return unpack_fail(err, UNPACK_ERR_LIMIT, EFBIG,
				   "layer is larger than %llu bytes uncompressed",
				   (unsigned long long)l->max_tar_size);
	uint64_t in = s->compressed ? s->compressed : 1;
	if (s->comp != UNPACK_COMP_NONE && s->uncompressed > l->ratio_floor &&
	    s->uncompressed / in > l->max_ratio)
		return unpack_fail(err, UNPACK_ERR_LIMIT, EFBIG,
				   "layer expands more than %llu times (%llu bytes from %llu)",
				   (unsigned long long)l->max_ratio,
				   (unsigned long long)s->uncompressed,
				   (unsigned long long)s->compressed);
	return 0;
}

static ssize_t read_gzip(struct unpack_stream *s, struct unpack_error *err)
{
	for (;;) {
		int r = fill(s, err);
		if (r < 0)
			return r;
		bool at_end = s->in_pos == s->in_len;   /* the blob is used up */
		if (at_end && !s->z_live)
			return 0;
		if (!s->z_live) {               /* another member follows */
			if (inflateReset(&s->z) != Z_OK)
				return unpack_fail(err, UNPACK_ERR_SYSTEM, EIO, "inflateReset failed");
			s->z_live = true;
		}
		/* at_end: zlib may still hold output that did not fit last time */
		s->z.next_in = s->in + s->in_pos;
		s->z.avail_in = (uInt)(s->in_len - s->in_pos);
		s->z.next_out = s->out;
		s->z.avail_out = UNPACK_CHUNK;
		int zr = inflate(&s->z, Z_NO_FLUSH);
		s->in_pos = s->in_len - s->z.avail_in;
		size_t n = UNPACK_CHUNK - s->z.avail_out;
		if (zr == Z_STREAM_END)
			s->z_live = false;
		else if (zr == Z_BUF_ERROR && n == 0)   /* no progress possible */
			return unpack_fail(err, UNPACK_ERR_INVALID, EINVAL,
					   at_end ? "gzip stream is truncated" :
						    "gzip stream is stuck");
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			return unpack_fail(err, UNPACK_ERR_INVALID, EINVAL, "gzip: %s",
					   s->z.msg ? s->z.msg : "corrupt stream");
		if (n > 0)
			return (ssize_t)n;
	}
}

static ssize_t read_zstd(struct unpack_stream *s, struct unpack_error *err)
{
	for (;;) {
		/* when the last call filled out, output may be pending: no read */
		if (!s->zstd_full) {
			int r = fill(s, err);
			if (r < 0)
				return r;
			if (s->in_pos == s->in_len) {
				if (s->zstd_last != 0)
					return unpack_fail(err, UNPACK_ERR_INVALID, EINVAL,
							   "zstd stream is truncated");
				return 0;
			}
		}
		ZSTD_inBuffer ib = { s->in, s->in_len, s->in_pos };
		ZSTD_outBuffer ob = { s->out, UNPACK_CHUNK, 0 };
		size_t zr = ZSTD_decompressStream(s->zstd, &ob, &ib);
		if (ZSTD_isError(zr))
			return unpack_fail(err, UNPACK_ERR_INVALID, EINVAL, "zstd: %s",
					   ZSTD_getErrorName(zr));
		if (ib.pos == s->in_pos && ob.pos == 0 && s->in_pos < s->in_len)
			return unpack_fail(err, UNPACK_ERR_INVALID, EINVAL,
					   "zstd: no progress");
		s->in_pos = ib.pos;
		s->zstd_last = zr;
		s->zstd_full = ob.pos == ob.size;
		if (ob.pos > 0)
			return (ssize_t)ob.pos;
	}
}

ssize_t unpack_stream_read(struct unpack_stream *s, const void **ret_buf,
			   struct unpack_error *err)
{
	if (s->done)
		return 0;
	ssize_t n;
	const void *buf = s->out;
	if (s->comp == UNPACK_COMP_GZIP) {
		n = read_gzip(s, err);
	} else if (s->comp == UNPACK_COMP_ZSTD) {
		n = read_zstd(s, err);
	} else {
		int r = fill(s, err);
		if (r < 0)
			return r;
		buf = s->in + s->in_pos;
		n = (ssize_t)(s->in_len - s->in_pos);
		s->in_pos = s->in_len;
	}
	if (n < 0)
		return n;
	if (n == 0) {
		s->done = true;
		return 0;
	}
	int r = account(s, buf, (size_t)n, err);
	if (r < 0)
		return r;
	*ret_buf = buf;
	return n;
}

int unpack_stream_drain(struct unpack_stream *s, struct unpack_error *err)
{
	const void *buf;
	ssize_t n;
	while ((n = unpack_stream_read(s, &buf, err)) > 0)
		;
	return n < 0 ? (int)n : 0;
}

void unpack_stream_digest(struct unpack_stream *s, char ret[UNPACK_DIGEST_LEN])
{
	unsigned char md[32];
	unsigned int len = 0;
	static const char hex[] = "0123456789abcdef";
	EVP_DigestFinal_ex(s->sha, md, &len);
	memcpy(ret, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++) {
		ret[7 + 2 * i] = hex[md[i] >> 4];
		ret[8 + 2 * i] = hex[md[i] & 15];
	}
	ret[7 + 64] = '\0';
}

void unpack_stream_close(struct unpack_stream *s)
{
	if (s->comp == UNPACK_COMP_GZIP)
		inflateEnd(&s->z);
	ZSTD_freeDCtx(s->zstd);
	EVP_MD_CTX_free(s->sha);
	free(s->in);
	free(s->out);
	*s = (struct unpack_stream){ .fd = -1 };
}
