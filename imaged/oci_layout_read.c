/*
 * oci_layout_read: an OCI image layout tar stream, read from an fd (a file
 * or a pipe) with libarchive (tar formats only, no compression filters),
 * into the content store. Blob entries stream into store_blob_* under the
 * digest their name says and are refused if the content does not hash to
 * it; oci-layout and index.json are kept in memory (capped); every other
 * name is either ignored or, if it could mean a path outside the layout
 * (absolute, a ".." component, control characters), refused. Nothing from
 * the archive ever becomes a path we create: the store names blobs by the
 * digest we parsed. Reads poll the fd so that a cancel is seen while a
 * writer is silent (oci_fd_wait). Never logs.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "common/status.h"
#include "imaged/oci_layout.h"
#include "imaged/store.h"

#define READ_BUF (128u * 1024u)

struct reader {
	struct store *s;
	int fd;
	const struct oci_read_options *o;
	uint64_t max_blob;
	uint8_t *buf;                   /* READ_BUF: the archive's input */
	uint8_t *data;                  /* READ_BUF: an entry's data */
	bool cancelled;
	struct oci_layout_in *in;
	bool have_layout;
};

static bool cancel_set(const struct reader *r)
{
	return r->o && r->o->cancel && atomic_load(r->o->cancel);
}

static la_ssize_t on_read(struct archive *a, void *ud, const void **ret_buf)
{
	struct reader *r = ud;
	for (;;) {
		if (oci_fd_wait(a, r->fd, POLLIN, r->o ? r->o->cancel : NULL, &r->cancelled) < 0)
			return -1;
		ssize_t got = read(r->fd, r->buf, READ_BUF);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0) {
			archive_set_error(a, errno, "read");
			return -1;
		}
		*ret_buf = r->buf;
		return got;
	}
}

/* Printable copy of an entry name for messages. */
static void name_clean(const char *name, char *buf, size_t len)
{
	size_t i, j = 0;
	for (i = 0; name[i] && j + 4 < len; i++)
		buf[j++] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	if (name[i]) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
}

enum oci_entry_kind oci_entry_classify(const char *name, char ret_digest[DIGEST_STR_SIZE])
{
	size_t len = strnlen(name, OCI_NAME_MAX + 1);
	if (len == 0 || len > OCI_NAME_MAX || name[0] == '/')
		return OCI_ENTRY_BAD;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return OCI_ENTRY_BAD;
	for (const char *c = name; *c;) {
		size_t cl = strcspn(c, "/");
		if (cl == 2 && c[0] == '.' && c[1] == '.')
			return OCI_ENTRY_BAD;
		c += cl;
		c += *c == '/';
	}
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (*name == '/')
		name++;
	len = strlen(name);
	while (len && name[len - 1] == '/')
		len--;
	if (len == strlen(OCI_LAYOUT_FILE) && !strncmp(name, OCI_LAYOUT_FILE, len))
		return OCI_ENTRY_LAYOUT;
	if (len == strlen(OCI_INDEX_FILE) && !strncmp(name, OCI_INDEX_FILE, len))
		return OCI_ENTRY_INDEX;
	size_t pl = strlen(OCI_BLOBS_DIR);
	if (len <= pl || strncmp(name, OCI_BLOBS_DIR, pl) != 0)
		return OCI_ENTRY_OTHER;
	char hex[DIGEST_HEX_LEN + 1];
	struct digest d;
	if (len - pl != DIGEST_HEX_LEN)
		return OCI_ENTRY_BAD_BLOB;
	memcpy(hex, name + pl, DIGEST_HEX_LEN);
	hex[DIGEST_HEX_LEN] = '\0';
	if (digest_parse_hex(hex, &d) < 0)
		return OCI_ENTRY_BAD_BLOB;
	digest_format(&d, ret_digest);
	return OCI_ENTRY_BLOB;
}

static int archive_fail(struct reader *r, struct archive *a, const char *what,
			struct oci_error *err)
{
	if (r->cancelled || cancel_set(r))
		return oci_fail(err, CRISP_STATUS_CANCELLED, -ECANCELED, "import cancelled");
	const char *why = archive_error_string(a);
	return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
			"the archive is not a readable tar (%s): %s", what, why ? why : "?");
}

/* The entry must be a plain regular file (no link, no device). */
static int regular_check(struct archive_entry *e, const char *name, struct oci_error *err)
{
	char n[256];
	if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e) &&
	    !archive_entry_symlink(e) && archive_entry_size_is_set(e) && archive_entry_size(e) >= 0)
		return 0;
	name_clean(name, n, sizeof n);
	return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
			"entry \"%s\" is not a regular file (links, devices and directories "
			"cannot be layout content)", n);
}

/* oci-layout or index.json, into memory. */
static int small_read(struct reader *r, struct archive *a, struct archive_entry *e,
		      const char *name, size_t cap, char **ret, size_t *ret_len,
		      struct oci_error *err)
{
	int64_t size = archive_entry_size(e);
	if (*ret)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"the archive holds %s twice", name);
	if ((uint64_t)size > cap)
		return oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
				"%s: %lld bytes, over the cap of %zu", name, (long long)size, cap);
	char *buf = malloc((size_t)size + 1);
	if (!buf)
		return oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	size_t got = 0;
	while (got < (size_t)size) {
		la_ssize_t n = archive_read_data(a, buf + got, (size_t)size - got);
		if (n <= 0) {
			free(buf);
			return archive_fail(r, a, name, err);
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret = buf;
	*ret_len = got;
	return 0;
}

static int store_error(int rc, const char *digest, struct oci_error *err)
{
	if (rc == -EBADMSG)
		return oci_fail(err, CRISP_STATUS_DATA_LOSS, rc,
				"blob %s: the content in the archive does not match its digest "
				"or size", digest);
	if (rc == -EFBIG)
		return oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, rc,
				"blob %s: over the size cap", digest);
	if (rc == -ENOSPC || rc == -EDQUOT)
		return oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, rc,
				"blob %s: the store is out of space", digest);
	return oci_fail(err, CRISP_STATUS_INTERNAL, rc, "blob %s: storing it failed: %s", digest,
			strerror(-rc));
}

/* A blob entry: already held, or streamed into the store and checked. */
static int blob_read(struct reader *r, struct archive *a, struct archive_entry *e,
		     const char *digest, struct oci_error *err)
{
	int64_t size = archive_entry_size(e);
	const char *lease = r->o ? r->o->lease : NULL;
	if ((uint64_t)size > r->max_blob)
		return oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
				"blob %s: %lld bytes, over the cap of %llu", digest, (long long)size,
				(unsigned long long)r->max_blob);
	r->in->blobs++;
	if (store_blob_exists(r->s, digest) == 1 && (!lease || store_lease_add_blob(r->s, lease, digest) == 0))
		return 0;       /* have it: libarchive skips the data */
	struct store_blob_writer *w;
	int rc = store_blob_begin(r->s, digest, size, r->max_blob, lease, &w);
	if (rc < 0)
		return store_error(rc, digest, err);
	for (;;) {
		la_ssize_t n = archive_read_data(a, r->data, READ_BUF);
		if (n == 0)
			break;
		if (n < 0) {
			store_blob_abort(w);
			return archive_fail(r, a, digest, err);
		}
		r->in->bytes += (uint64_t)n;
		rc = store_blob_write(w, r->data, (size_t)n);
		if (rc < 0) {
			store_blob_abort(w);
			return store_error(rc == -EFBIG ? -EBADMSG : rc, digest, err);
		}
	}
	rc = store_blob_commit(w);
	return rc < 0 ? store_error(rc, digest, err) : 0;
}

static int entry_read(struct reader *r, struct archive *a, struct archive_entry *e,
		      struct oci_error *err)
{
	const char *name = archive_entry_pathname(e);
	char digest[DIGEST_STR_SIZE], n[256], *layout = NULL;
	size_t layout_len;
	int rc;
	if (!name)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "an entry without a name");
	name_clean(name, n, sizeof n);
	switch (oci_entry_classify(name, digest)) {
	case OCI_ENTRY_BAD:
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"entry \"%s\": an absolute name, a \"..\" component or a control "
				"character: not an OCI layout", n);
	case OCI_ENTRY_BAD_BLOB:
		if (archive_entry_filetype(e) == AE_IFDIR)
			return 0;       /* blobs/sha256/x/: nothing of ours */
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"entry \"%s\": a blob name must be a sha256 digest in hex", n);
	case OCI_ENTRY_OTHER:
		return 0;
	case OCI_ENTRY_LAYOUT:
		if ((rc = regular_check(e, name, err)) < 0)
			return rc;
		if (r->have_layout)
			return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
					"the archive holds %s twice", OCI_LAYOUT_FILE);
		rc = small_read(r, a, e, OCI_LAYOUT_FILE, OCI_LAYOUT_FILE_MAX, &layout, &layout_len, err);
		if (rc == 0)
			rc = oci_layout_file_check(layout, layout_len, err);
		free(layout);
		r->have_layout = rc == 0;
		return rc;
	case OCI_ENTRY_INDEX:
		if ((rc = regular_check(e, name, err)) < 0)
			return rc;
		return small_read(r, a, e, OCI_INDEX_FILE, OCI_JSON_MAX, &r->in->index,
				  &r->in->index_len, err);
	case OCI_ENTRY_BLOB:
		if ((rc = regular_check(e, name, err)) < 0)
			return rc;
		return blob_read(r, a, e, digest, err);
	}
	return 0;
}

static int read_all(struct reader *r, struct archive *a, struct oci_error *err)
{
	struct archive_entry *e;
	int ar, rc;
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open2(a, r, NULL, on_read, NULL, NULL) != ARCHIVE_OK)
		return archive_fail(r, a, "opening", err);
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if (++r->in->entries > OCI_ENTRIES_MAX)
			return oci_fail(err, CRISP_STATUS_RESOURCE_EXHAUSTED, -EFBIG,
					"more than %u entries in the archive", OCI_ENTRIES_MAX);
		if ((rc = entry_read(r, a, e, err)) < 0)
			return rc;
		if (cancel_set(r))
			return oci_fail(err, CRISP_STATUS_CANCELLED, -ECANCELED, "import cancelled");
	}
	if (ar != ARCHIVE_EOF)
		return archive_fail(r, a, "reading the next entry", err);
	if (!r->have_layout)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"no %s file: not an OCI image layout", OCI_LAYOUT_FILE);
	if (!r->in->index)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				"no %s: not an OCI image layout", OCI_INDEX_FILE);
	return 0;
}

int oci_layout_read(struct store *s, int fd, const struct oci_read_options *o,
		    struct oci_layout_in *ret, struct oci_error *err)
{
	struct oci_layout_in in = { 0 };
	struct reader r = {
		.s = s, .fd = fd, .o = o, .in = &in,
		.max_blob = o && o->max_blob_size ? o->max_blob_size : OCI_BLOB_MAX_DEFAULT,
		.buf = malloc(READ_BUF), .data = malloc(READ_BUF),
	};
	struct archive *a = archive_read_new();
	int rc;
	if (!a || !r.buf || !r.data)
		rc = oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	else
		rc = read_all(&r, a, err);
	if (a)
		archive_read_free(a);
	free(r.buf);
	free(r.data);
	if (rc < 0) {
		oci_layout_in_clear(&in);
		return rc;
	}
	*ret = in;
	return 0;
}

void oci_layout_in_clear(struct oci_layout_in *in)
{
	free(in->index);
	*in = (struct oci_layout_in){ 0 };
}
