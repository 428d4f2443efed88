/*
 * oci/propagation: containerd's ensureShared / ensureSharedOrSlave. A bind
 * mount with rshared (PROPAGATION_BIDIRECTIONAL) or rslave
 * (PROPAGATION_HOST_TO_CONTAINER) propagation only does what kubelet wants
 * when the host mount holding its source is shared ("shared:N" in the
 * optional fields of /proc/self/mountinfo), or for rslave also a slave
 * ("master:N"). The mount holding a path is the entry whose mount point is
 * the longest one above it; of equal ones the last (it is mounted over the
 * others). Reads sandboxd's own /proc/self/mountinfo (capped); never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include "common/fsutil.h"
#include "sandboxd/oci/spec_int.h"

/* Unescape mountinfo's octal escapes (\040 etc.) of field f[0..n) into buf. */
static int unescape(const char *f, size_t n, char *buf, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = f[i];
		if (c == '\\' && i + 3 < n &&
		    f[i + 1] >= '0' && f[i + 1] <= '3' && f[i + 2] >= '0' && f[i + 2] <= '7' &&
		    f[i + 3] >= '0' && f[i + 3] <= '7') {
			c = (char)((f[i + 1] - '0') * 64 + (f[i + 2] - '0') * 8 + (f[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		buf[o++] = c;
	}
	buf[o] = '\0';
	return 0;
}

struct mountinfo_hit {
	size_t mp_len;                  /* of the best mount point so far; 0: none */
	bool shared, slave;
	char mp[OCISPEC_MAX_PATH];
};

/* One line: "id parent maj:min root mountpoint opts [optional...] - type src super". */
static void consider(const char *line, size_t n, const char *path, struct mountinfo_hit *h)
{
	const char *f[64];
	size_t fl[64], nf = 0;
	for (size_t i = 0; i < n && nf < 64;) {
		while (i < n && line[i] == ' ')
			i++;
		if (i >= n)
			break;
		size_t st = i;
		while (i < n && line[i] != ' ')
			i++;
		f[nf] = line + st;
		fl[nf++] = i - st;
	}
	if (nf < 7)
		return;
	char mp[OCISPEC_MAX_PATH];
	if (unescape(f[4], fl[4], mp, sizeof mp) < 0 || !ocispec_path_covers(mp, path))
		return;
	size_t mlen = strlen(mp);
	if (mlen < h->mp_len)
		return;
	h->mp_len = mlen ? mlen : 1;
	memcpy(h->mp, mp, mlen + 1);
	h->shared = h->slave = false;
	for (size_t i = 6; i < nf && !(fl[i] == 1 && f[i][0] == '-'); i++) {
		if (fl[i] > 7 && memcmp(f[i], "shared:", 7) == 0)
			h->shared = true;
		if (fl[i] > 7 && memcmp(f[i], "master:", 7) == 0)
			h->slave = true;
	}
}

int ocispec_check_propagation(struct ocispec *s, const char *path, bool need_shared,
			      const char *field)
{
	char *buf = NULL;
	size_t len = 0;
	int r = fs_read_file(AT_FDCWD, "/proc/self/mountinfo", OCISPEC_MAX_MOUNTINFO, &buf, &len);
	if (r < 0)
		return crisp_fail_errno(s->err, r, "reading /proc/self/mountinfo");
	struct mountinfo_hit h = { 0 };
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		consider(buf + pos, n, path, &h);
		pos += n + 1;
	}
	free(buf);
	if (h.mp_len == 0)
		return crisp_fail(s->err, CRISP_STATUS_FAILED_PRECONDITION, -EBUSY,
				  "%s: %s is on no mount of /proc/self/mountinfo", field, path);
	if (h.shared || (!need_shared && h.slave))
		return 0;
	return crisp_fail(s->err, CRISP_STATUS_FAILED_PRECONDITION, -EBUSY,
			  "%s: path \"%s\" is mounted on \"%s\" but it is not a shared%s mount",
			  field, path, h.mp, need_shared ? "" : " or slave");
}
