/*
 * memfd: sealed memory files for large chan payloads (see memfd.h). The
 * checks on a received memfd come before any mapping: seals first (a fd that
 * is not a memfd fails F_GET_SEALS), then the exact size against the cap.
 * Must never map a received fd writable or before its size is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/memfd.h"

int memfd_new_sealed(const char *name, const void *data, size_t len, int *ret_fd)
{
	int fd, r;

	if (!name || (!data && len > 0) || !ret_fd)
		return -EINVAL;
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	r = fs_write_all(fd, data, len);
	if (r < 0)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, MEMFD_PAYLOAD_SEALS) < 0) {
		r = -errno;
		goto fail;
	}
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

int memfd_map_sealed(int fd, size_t size, size_t max, void **ret_map)
{
	struct stat st;
	void *map;
	int seals;

	if (fd < 0 || !ret_map)
		return -EINVAL;
	if (size == 0 || size > max)
		return -EPROTO;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -EPROTO;         /* not a memfd (or sealing not allowed) */
	if ((seals & MEMFD_PAYLOAD_SEALS) != MEMFD_PAYLOAD_SEALS)
		return -EPROTO;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (unsigned long long)st.st_size != size)
		return -EPROTO;
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	*ret_map = map;
	return 0;
}
