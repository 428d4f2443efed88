/*
 * test_digest: imaged/digest.c, parsing, formatting, streaming, chain ids.
 */
#include <errno.h>
#include "imaged/digest.h"
#include "tests/unit/unit.h"

/* printf 'layer one' | sha256sum */
#define HEX_ONE "f191e625176e7514249870c60bc24622131b04927a418001d1969c9cecd260f1"
/* printf 'layer two' | sha256sum */
#define HEX_TWO "77c7ed05b2e49df2e55d70cb007508cc66b2f5419a940bfd6f8749ba7db77c45"
/* printf '' | sha256sum */
#define HEX_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* printf 'sha256:%s sha256:%s' $HEX_ONE $HEX_TWO | sha256sum */
#define HEX_CHAIN2 "d440fc2ac5bfa225471b58c5d6b4283504f5dfbcd6251023a635cdcd0c058e3e"
/* printf 'sha256:%s sha256:%s' $HEX_CHAIN2 $HEX_EMPTY | sha256sum */
#define HEX_CHAIN3 "b23deb5b7173647e6387c14555209d4d17ca8edae6f5564ceb386f2865b24c18"

TEST(digest_parse_format)
{
	struct digest d;
	char s[DIGEST_STR_SIZE], h[DIGEST_HEX_LEN + 1];

	CHECK_RC(digest_parse("sha256:" HEX_ONE, &d));
	digest_format(&d, s);
	CHECK(strcmp(s, "sha256:" HEX_ONE) == 0);
	digest_format_hex(&d, h);
	CHECK(strcmp(h, HEX_ONE) == 0);
	CHECK(d.bytes[0] == 0xf1 && d.bytes[31] == 0xf1);
	CHECK(digest_valid("sha256:" HEX_EMPTY));
}

TEST(digest_parse_rejects)
{
	struct digest d = { { 7 } };
	static const char *const bad[] = {
		"", "sha256:", "sha256", HEX_ONE, ":" HEX_ONE,
		"sha256:" HEX_ONE "0",                  /* too long */
		"sha256:f191e625176e7514249870c60bc24622131b04927a418001d1969c9cecd260f",
		"sha256:F191E625176E7514249870C60BC24622131B04927A418001D1969C9CECD260F1",
		"sha256:f191e625176e7514249870c60bc24622131b04927a418001d1969c9cecd260fg",
		"sha256:../../../../etc/passwd",
		"SHA256:" HEX_ONE, "sha256 :" HEX_ONE, " sha256:" HEX_ONE,
		"+sha512:abc",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(digest_parse(bad[i], &d) == -EINVAL);
		CHECK(!digest_valid(bad[i]));
	}
	CHECK(digest_parse(NULL, &d) == -EINVAL);
	CHECK(digest_parse("sha512:abcd", &d) == -EOPNOTSUPP);
	CHECK(digest_parse("sha256+b64u:abcd", &d) == -EOPNOTSUPP);
	CHECK(d.bytes[0] == 7);         /* untouched on failure */
}

TEST(digest_streaming_matches_oneshot)
{
	struct digest_ctx *c;
	struct digest a, b, want;

	CHECK_RC(digest_parse_hex(HEX_ONE, &want));
	CHECK_RC(digest_ctx_new(&c));
	CHECK_RC(digest_ctx_update(c, "lay", 3));
	CHECK_RC(digest_ctx_update(c, "", 0));
	CHECK_RC(digest_ctx_update(c, "er one", 6));
	CHECK_RC(digest_ctx_final(c, &a));
	CHECK(digest_equal(&a, &want));
	CHECK_RC(digest_buf("layer one", 9, &b));
	CHECK(digest_equal(&a, &b));
	CHECK_RC(digest_ctx_reset(c));
	CHECK_RC(digest_ctx_final(c, &a));
	CHECK_RC(digest_parse_hex(HEX_EMPTY, &want));
	CHECK(digest_equal(&a, &want));
	digest_ctx_free(c);
}

TEST(digest_chain_id_known_values)
{
	struct digest diff[3], chain[3], want, one;

	CHECK_RC(digest_parse_hex(HEX_ONE, &diff[0]));
	CHECK_RC(digest_parse_hex(HEX_TWO, &diff[1]));
	CHECK_RC(digest_parse_hex(HEX_EMPTY, &diff[2]));
	CHECK_RC(digest_chain_ids(diff, 3, chain));
	CHECK(digest_equal(&chain[0], &diff[0]));       /* chain_id(L1) = diff_id(L1) */
	CHECK_RC(digest_parse_hex(HEX_CHAIN2, &want));
	CHECK(digest_equal(&chain[1], &want));
	CHECK_RC(digest_parse_hex(HEX_CHAIN3, &want));
	CHECK(digest_equal(&chain[2], &want));
	CHECK_RC(digest_chain_id(NULL, &diff[0], &one));
	CHECK(digest_equal(&one, &diff[0]));
	CHECK_RC(digest_chain_id(&chain[0], &diff[1], &one));
	CHECK(digest_equal(&one, &chain[1]));
}
