/*
 * digest: sha256 with OpenSSL EVP, the "sha256:<hex>" text form, chain ids.
 * See digest.h. Never logs; never allocates beyond the EVP context.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "imaged/digest.h"

struct digest_ctx {
	EVP_MD_CTX *md;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;      /* upper case is not allowed by the OCI spec for sha256 */
}

int digest_parse_hex(const char *hex, struct digest *ret)
{
	struct digest d;

	if (!hex || strnlen(hex, DIGEST_HEX_LEN + 1) != DIGEST_HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < DIGEST_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		d.bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret = d;
	return 0;
}

/* OCI: algorithm := component ([+._-] component)*, component := [a-z0-9]+ */
static bool algorithm_valid(const char *s, size_t n)
{
	bool need_component = true;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			need_component = false;
		else if (!need_component && (c == '+' || c == '.' || c == '_' || c == '-'))
			need_component = true;
		else
			return false;
	}
	return !need_component;
}

int digest_parse(const char *s, struct digest *ret)
{
	if (!s)
		return -EINVAL;
	if (strncmp(s, DIGEST_PREFIX, strlen(DIGEST_PREFIX)) == 0)
		return digest_parse_hex(s + strlen(DIGEST_PREFIX), ret);
	const char *colon = strchr(s, ':');
	if (!colon || colon == s || colon[1] == '\0')
		return -EINVAL;
	return algorithm_valid(s, (size_t)(colon - s)) ? -EOPNOTSUPP : -EINVAL;
}

bool digest_valid(const char *s)
{
	struct digest d;

	return digest_parse(s, &d) == 0;
}

void digest_format_hex(const struct digest *d, char ret[DIGEST_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < DIGEST_LEN; i++) {
		ret[2 * i] = hex[d->bytes[i] >> 4];
		ret[2 * i + 1] = hex[d->bytes[i] & 0xf];
	}
	ret[DIGEST_HEX_LEN] = '\0';
}

void digest_format(const struct digest *d, char ret[DIGEST_STR_SIZE])
{
	memcpy(ret, DIGEST_PREFIX, strlen(DIGEST_PREFIX));
	digest_format_hex(d, ret + strlen(DIGEST_PREFIX));
}

bool digest_equal(const struct digest *a, const struct digest *b)
{
	return memcmp(a->bytes, b->bytes, DIGEST_LEN) == 0;
}

int digest_ctx_new(struct digest_ctx **ret)
{
	struct digest_ctx *c = calloc(1, sizeof *c);

	if (!c)
		return -ENOMEM;
	c->md = EVP_MD_CTX_new();
	if (!c->md) {
		free(c);
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		digest_ctx_free(c);
		return -EIO;
	}
	*ret = c;
	return 0;
}

int digest_ctx_reset(struct digest_ctx *c)
{
	return EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

int digest_ctx_update(struct digest_ctx *c, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	return EVP_DigestUpdate(c->md, buf, len) == 1 ? 0 : -EIO;
}

int digest_ctx_final(struct digest_ctx *c, struct digest *ret)
{
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(c->md, out, &n) != 1 || n != DIGEST_LEN)
		return -EIO;
	memcpy(ret->bytes, out, DIGEST_LEN);
	return 0;
}

void digest_ctx_free(struct digest_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

int digest_buf(const void *buf, size_t len, struct digest *ret)
{
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 || n != DIGEST_LEN)
		return -EIO;
	memcpy(ret->bytes, out, DIGEST_LEN);
	return 0;
}

int digest_chain_id(const struct digest *parent, const struct digest *diff_id,
		    struct digest *ret)
{
	char text[2 * DIGEST_STR_SIZE];

	if (!parent) {
		*ret = *diff_id;
		return 0;
	}
	digest_format(parent, text);
	text[DIGEST_STR_LEN] = ' ';
	digest_format(diff_id, text + DIGEST_STR_LEN + 1);
	return digest_buf(text, 2 * DIGEST_STR_LEN + 1, ret);
}

int digest_chain_ids(const struct digest *diff_ids, size_t n, struct digest *ret)
{
	for (size_t i = 0; i < n; i++) {
		int r = digest_chain_id(i ? &ret[i - 1] : NULL, &diff_ids[i], &ret[i]);
		if (r < 0)
			return r;
	}
	return 0;
}
