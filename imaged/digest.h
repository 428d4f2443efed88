/*
 * digest: OCI content digests for imaged. Owns the sha256 streaming hash
 * (OpenSSL EVP), the strict text form "sha256:<64 lowercase hex>" (the only
 * algorithm crisp accepts), and the layer chain id of the OCI image spec:
 *   chain_id(L1) = diff_id(L1)
 *   chain_id(Ln) = sha256(chain_id(Ln-1) + " " + diff_id(Ln))   (text forms)
 * Never logs; returns negative errno. Never accepts a digest it did not
 * check character by character: digests become file names in the store.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN      32u                     /* sha256 bytes */
#define DIGEST_HEX_LEN  64u                     /* lowercase hex chars */
#define DIGEST_PREFIX   "sha256:"
#define DIGEST_STR_LEN  (7u + DIGEST_HEX_LEN)   /* "sha256:" + hex */
#define DIGEST_STR_SIZE (DIGEST_STR_LEN + 1u)   /* with the NUL */

struct digest {
	uint8_t bytes[DIGEST_LEN];
};

/* "sha256:<64 lowercase hex>" exactly. -EINVAL if malformed, -EOPNOTSUPP for
 * a well-formed digest of another algorithm ("sha512:..."). */
int digest_parse(const char *s, struct digest *ret);
/* 64 lowercase hex chars exactly (no prefix). -EINVAL otherwise. */
int digest_parse_hex(const char *hex, struct digest *ret);
/* true if s is a valid "sha256:<hex>" string. */
bool digest_valid(const char *s);

void digest_format(const struct digest *d, char ret[DIGEST_STR_SIZE]);
void digest_format_hex(const struct digest *d, char ret[DIGEST_HEX_LEN + 1]);
bool digest_equal(const struct digest *a, const struct digest *b);

/* Streaming sha256. */
struct digest_ctx;
int digest_ctx_new(struct digest_ctx **ret);
int digest_ctx_update(struct digest_ctx *c, const void *buf, size_t len);
/* Finishes the hash; the context may then only be freed or reset. */
int digest_ctx_final(struct digest_ctx *c, struct digest *ret);
int digest_ctx_reset(struct digest_ctx *c);
void digest_ctx_free(struct digest_ctx *c);

/* One-shot sha256 of a buffer. */
int digest_buf(const void *buf, size_t len, struct digest *ret);

/* The chain id of a layer whose parent has chain id `parent` (NULL for the
 * first layer) and whose uncompressed content has `diff_id`. */
int digest_chain_id(const struct digest *parent, const struct digest *diff_id,
		    struct digest *ret);
/* Chain ids of a whole stack of n layers: ret[i] for diff_ids[0..i]. */
int digest_chain_ids(const struct digest *diff_ids, size_t n, struct digest *ret);
