/*
 * h2_preface: the client connection preface check (see h2_preface.h).
 */
#include <errno.h>
#include <string.h>

#include "criserver/h2_preface.h"

#define H2_MAGIC "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_TYPE_SETTINGS 0x4
#define H2_FLAG_ACK 0x1

int h2_preface_check(const uint8_t *buf, size_t len)
{
	size_t n = len < H2_MAGIC_LEN ? len : H2_MAGIC_LEN;

	if (memcmp(buf, H2_MAGIC, n) != 0)
		return -EPROTO;
	if (len < H2_MAGIC_LEN + H2_FRAME_HEADER_LEN)
		return 0;
	const uint8_t *h = buf + H2_MAGIC_LEN;
	uint32_t flen = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
	uint32_t stream = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 |
			   h[8]) & 0x7fffffffu;
	if (h[3] != H2_TYPE_SETTINGS || (h[4] & H2_FLAG_ACK) || stream != 0 ||
	    flen % 6 != 0 || flen > H2_SETTINGS_MAX)
		return -EPROTO;
	size_t total = H2_MAGIC_LEN + H2_FRAME_HEADER_LEN + flen;
	return len >= total ? (int)total : 0;
}
