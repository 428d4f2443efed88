/*
 * test_unpack_lib: the helpers of test_unpack_lib.h. Test code only: every
 * failure here ends the test (CHECK).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

void tl_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);
	CHECK(n > 0 && (size_t)n < len);
}

void tl_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, data, len) == (ssize_t)len);
	CHECK(close(fd) == 0);
}

char *tl_read_file(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, got = 0;     /* /proc files say size 0: read to EOF */
	char *buf = malloc(cap + 1);
	CHECK(buf);
	ssize_t n;
	while ((n = read(fd, buf + got, cap - got)) > 0) {
		got += (size_t)n;
		if (got == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			CHECK(buf);
		}
	}
	CHECK(n == 0);
	close(fd);
	buf[got] = '\0';
	if (ret_len)
		*ret_len = got;
	return buf;
}

struct archive *tl_tar_open(const char *path)
{
	struct archive *a = archive_write_new();
	CHECK(a);
	CHECK(archive_write_set_format_pax(a) == ARCHIVE_OK);
	CHECK(archive_write_add_filter_none(a) == ARCHIVE_OK);
	CHECK(archive_write_open_filename(a, path) == ARCHIVE_OK);
	return a;
}

void tl_add(struct archive *a, const struct tl_entry *e)
{
	struct archive_entry *ae = archive_entry_new();
	CHECK(ae);
	archive_entry_set_pathname(ae, e->name);
	archive_entry_set_filetype(ae, e->type ? e->type : S_IFREG);
	archive_entry_set_perm(ae, e->mode ? e->mode : 0644);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_mtime(ae, e->mtime ? e->mtime : 1700000000, e->mtime_ns);
	if (e->atime)
		archive_entry_set_atime(ae, e->atime, 0);
	if (e->link)
		archive_entry_set_symlink(ae, e->link);
	if (e->hardlink)
		archive_entry_set_hardlink(ae, e->hardlink);
	if (e->type == S_IFCHR || e->type == S_IFBLK) {
		archive_entry_set_rdevmajor(ae, e->major);
		archive_entry_set_rdevminor(ae, e->minor);
	}
	for (size_t i = 0; i < 4 && e->xattrs[i].name; i++)
		archive_entry_xattr_add_entry(ae, e->xattrs[i].name, e->xattrs[i].value,
					      e->xattrs[i].size);
	bool data = (!e->type || e->type == S_IFREG) && !e->hardlink;
	archive_entry_set_size(ae, data ? (la_int64_t)e->size : 0);
	CHECK(archive_write_header(a, ae) == ARCHIVE_OK);
	if (data && e->size)
		CHECK(archive_write_data(a, e->data, e->size) == (la_ssize_t)e->size);
	archive_entry_free(ae);
}

void tl_close(struct archive *a)
{
	CHECK(archive_write_close(a) == ARCHIVE_OK);
	archive_write_free(a);
}

void tl_gzip_file(const char *in, const char *out)
{
	size_t len;
	char *src = tl_read_file(in, &len);
	CHECK(src);
	z_stream z = { 0 };
	CHECK(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	size_t cap = deflateBound(&z, len) + 64;
	unsigned char *dst = malloc(cap);
	CHECK(dst);
	z.next_in = (unsigned char *)src;
	z.avail_in = (uInt)len;
	z.next_out = dst;
	z.avail_out = (uInt)cap;
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	tl_write_file(out, dst, cap - z.avail_out);
	deflateEnd(&z);
	free(dst);
	free(src);
}

void tl_zstd_file(const char *in, const char *out)
{
	size_t len;
	char *src = tl_read_file(in, &len);
	CHECK(src);
	size_t cap = ZSTD_compressBound(len);
	void *dst = malloc(cap);
	CHECK(dst);
	size_t n = ZSTD_compress(dst, cap, src, len, 3);
	CHECK(!ZSTD_isError(n));
	tl_write_file(out, dst, n);
	free(dst);
	free(src);
}

static void sha256_hex(const void *data, size_t len, char ret[UNPACK_DIGEST_LEN])
{
	unsigned char md[32];
	unsigned int n;
	CHECK(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) == 1);
	strcpy(ret, "sha256:");
	for (unsigned i = 0; i < 32; i++)
		sprintf(ret + 7 + 2 * i, "%02x", md[i]);
}

void tl_sha256_file(const char *path, char ret[UNPACK_DIGEST_LEN])
{
	size_t len;
	char *data = tl_read_file(path, &len);
	CHECK(data);
	sha256_hex(data, len, ret);
	free(data);
}

int tl_unpack_fd(const char *dir, int blob_fd, enum unpack_compression comp,
		 const struct unpack_limits *lim, bool child, struct unpack_result *ret,
		 struct unpack_error *err)
{
	if (child) {
		struct unpack_spawn s = {
			.layer_dir = dir, .blob_fd = blob_fd, .comp = comp, .limits = lim,
		};
		return unpack_spawn(&s, 60000, ret, err);
	}
	int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(root >= 0);
	int r = unpack_layer(root, blob_fd, comp, lim, ret, err);
	close(root);
	return r;
}

int tl_unpack(const char *dir, const char *blob, enum unpack_compression comp,
	      const struct unpack_limits *lim, bool child, struct unpack_result *ret,
	      struct unpack_error *err)
{
	int fd = open(blob, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	int r = tl_unpack_fd(dir, fd, comp, lim, child, ret, err);
	close(fd);
	return r;
}

static void snap_entry(FILE *out, const char *path, const char *rel)
{
	struct stat st;
	CHECK(lstat(path, &st) == 0);
	/* a directory's size depends on its history, not on what it holds */
	fprintf(out, "%s %o %u %u %lld %lld.%09ld", rel, st.st_mode, st.st_uid, st.st_gid,
		S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size,
		(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (S_ISREG(st.st_mode)) {
		char d[UNPACK_DIGEST_LEN];
		tl_sha256_file(path, d);
		fprintf(out, " %s", d);
	} else if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t n = readlink(path, t, sizeof t - 1);
		CHECK(n >= 0);
		t[n] = '\0';
		fprintf(out, " -> %s", t);
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		fprintf(out, " dev %u:%u", major(st.st_rdev), minor(st.st_rdev));
	}
	char names[4096];
	ssize_t n = llistxattr(path, names, sizeof names);
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
		char v[256];
		ssize_t vn = lgetxattr(path, names + i, v, sizeof v - 1);
		fprintf(out, " [%s=%.*s]", names + i, (int)(vn > 0 ? vn : 0), v);
	}
	fputc('\n', out);
}

static bool skipped(const char *rel, const char *const *skip)
{
	for (size_t i = 0; skip && skip[i]; i++)
		if (!strcmp(rel, skip[i]))
			return true;
	return false;
}

static void snap_dir(FILE *out, const char *dir, const char *rel, const char *const *skip)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	CHECK(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char path[PATH_MAX], r[PATH_MAX];
		if (strcmp(name, ".") && strcmp(name, "..")) {
			tl_path(path, sizeof path, dir, name);
			snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", name);
			if (!skipped(r, skip)) {
				snap_entry(out, path, r);
				struct stat st;
				if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
					snap_dir(out, path, r, skip);
			}
		}
		free(ents[i]);
	}
	free(ents);
}

char *tl_snapshot(const char *dir, const char *const *skip)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	CHECK(out);
	snap_entry(out, dir, ".");
	snap_dir(out, dir, "", skip);
	CHECK(fclose(out) == 0);
	return buf;
}

const char *tl_hostile_script(void)
{
	static char path[PATH_MAX];
	const char *rel = "tests/hostile/gen_layers.py";
	const char *src = getenv("CRISP_SRCDIR");
	if (src) {
		tl_path(path, sizeof path, src, rel);
		if (access(path, R_OK) == 0)
			return path;
	}
	if (access(rel, R_OK) == 0)
		return rel;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	CHECK(n > 0);
	exe[n] = '\0';
	/* <repo>/<build>/tests/unit */
	char *top = dirname(dirname(dirname(exe)));
	tl_path(path, sizeof path, top, rel);
	CHECK(access(path, R_OK) == 0);
	return path;
}
