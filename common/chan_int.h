/*
 * chan_int: the channel object shared by chan.c (sending) and chan_recv.c
 * (receiving). Internal to common/chan*.c; nothing else may include it.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define CHAN_ERROR_MAX   4096u   /* bytes of error text sent; longer is cut */
#define CHAN_FRAME_MAX   (CHAN_INLINE_MAX + CHAN_ERROR_MAX + 1024u)
#define CHAN_RECV_FDS    8       /* room for surplus fds, so that we close them */
#define CHAN_FLAGS_KNOWN (CHAN_MSG_ANSWER | CHAN_MSG_MEMFD | CHAN_MSG_FD | CHAN_MSG_MORE)

struct chan {
	int fd;
	unsigned flags;         /* enum chan_flags; read-only after chan_new */
	size_t payload_max;
	uint8_t *buf;           /* receive buffer of CHAN_FRAME_MAX bytes */
};
