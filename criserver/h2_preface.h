/*
 * h2_preface: how far a client has come with its HTTP/2 connection preface
 * (RFC 9113 3.4): the 24 magic bytes "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
 * then a SETTINGS frame (type 4, not an ACK, stream 0, a payload of whole
 * 6-byte settings). criserver hands a connection to grpc only once all of it
 * has arrived (cri_socket.c), so that a connection that stalls before is
 * closed by criserver at api.handshake_timeout. Pure: reads a buffer.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define H2_MAGIC_LEN 24
#define H2_FRAME_HEADER_LEN 9
/* a first SETTINGS frame may not be larger than the initial
 * SETTINGS_MAX_FRAME_SIZE (16384); each setting is 6 bytes */
#define H2_SETTINGS_MAX 16384
#define H2_PREFACE_MAX (H2_MAGIC_LEN + H2_FRAME_HEADER_LEN + H2_SETTINGS_MAX)

/* buf[0..len) is what the client sent so far (peeked, not consumed).
 * > 0: the preface is complete (its length); 0: not yet, more may come;
 * -EPROTO: this is not an HTTP/2 client preface. */
int h2_preface_check(const uint8_t *buf, size_t len);
