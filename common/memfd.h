/*
 * memfd: sealed memory files, the carrier of chan payloads too large for one
 * datagram. Owns making a sealed copy of a buffer and checking and mapping a
 * memfd received from a peer. A received fd is untrusted: it is mapped only
 * after its seals and its size have been checked. Returns negative errno;
 * never logs; never closes the fd it is given.
 */
#pragma once
#include <fcntl.h>
#include <stddef.h>

/* The seals a payload memfd must carry: nobody can change it any more. */
#define MEMFD_PAYLOAD_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* A new memfd (MFD_CLOEXEC) holding a copy of data[0..len), sealed. */
int memfd_new_sealed(const char *name, const void *data, size_t len, int *ret_fd);

/* Check that fd is a memfd carrying MEMFD_PAYLOAD_SEALS whose size is exactly
 * size, and 0 < size <= max, then map it read-only. -EPROTO when it is not;
 * unmap with munmap(*ret_map, size). */
int memfd_map_sealed(int fd, size_t size, size_t max, void **ret_map);
