/*
 * oci_layout_write: images from the content store as an OCI image layout
 * tar stream (pax, libarchive) on an fd: oci-layout, index.json (an entry
 * per repo tag with the full name as ref.name, as containerd writes it;
 * one entry without a name for an untagged image), then each blob the
 * manifests name (manifest, config, layers) once, as the store holds it
 * (compressed layers as they were pulled), checked against its digest
 * again on the way out. Entries are deterministic (mode 0444/0755, owner
 * 0, mtime 0), so two exports of one image are the same bytes.
 * Writes poll the fd so that a cancel is seen while the reader is slow
 * (oci_fd_wait).
 * Never logs; reads the store only.
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

#define COPY_BUF (128u * 1024u)

struct writer {
	int fd;
	const atomic_bool *cancel;
	uint64_t bytes;
	bool cancelled;
};

/* What goes into the archive. */
struct plan {
	struct oci_index_entry *entries;
	size_t n_entries;
	char (*blobs)[DIGEST_STR_SIZE];
	size_t n_blobs, cap_blobs;
};

static la_ssize_t on_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct writer *w = ud;
	for (;;) {
		if (oci_fd_wait(a, w->fd, POLLOUT, w->cancel, &w->cancelled) < 0)
			return -1;
		ssize_t put = write(w->fd, buf, len);
		if (put < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (put < 0) {
			archive_set_error(a, errno, "write");
			return -1;
		}
		w->bytes += (uint64_t)put;
		return put;
	}
}

static void plan_clear(struct plan *p)
{
	for (size_t i = 0; i < p->n_entries; i++) {
		free(p->entries[i].ref_name);
		p->entries[i].image_name = NULL;        /* the same string */
	}
	free(p->entries);
	free(p->blobs);
	*p = (struct plan){ 0 };
}

static int plan_blob(struct plan *p, const char *digest)
{
	for (size_t i = 0; i < p->n_blobs; i++)
		if (!strcmp(p->blobs[i], digest))
			return 0;
	if (p->n_blobs == p->cap_blobs) {
		size_t cap = p->cap_blobs ? p->cap_blobs * 2 : 16;
		void *v = realloc(p->blobs, cap * sizeof *p->blobs);
		if (!v)
			return -ENOMEM;
		p->blobs = v;
		p->cap_blobs = cap;
	}
	snprintf(p->blobs[p->n_blobs++], DIGEST_STR_SIZE, "%s", digest);
	return 0;
}

static int plan_entry(struct plan *p, const struct registry_descriptor *top, const char *tag)
{
	void *v = realloc(p->entries, (p->n_entries + 1) * sizeof *p->entries);
	if (!v)
		return -ENOMEM;
	p->entries = v;
	struct oci_index_entry *e = &p->entries[p->n_entries];
	*e = (struct oci_index_entry){ .d = *top };
	if (tag && !(e->ref_name = strdup(tag)))
		return -ENOMEM;
	e->image_name = e->ref_name;
	p->n_entries++;
	return 0;
}

/* The index the image was pulled through, if it holds one that its repo
 * digests name and that lists its manifest: top gets its descriptor. */
static bool index_of(struct store *s, const struct store_image *img,
		     struct registry_descriptor *top)
{
	for (size_t i = 0; i < img->n_repo_digests; i++) {
		const char *at = strrchr(img->repo_digests[i], '@');
		char *raw = NULL;
		size_t len = 0;
		struct oci_index idx = { 0 };
		bool found = false;
		if (!at || !digest_valid(at + 1) || !strcmp(at + 1, img->manifest_digest) ||
		    store_blob_read(s, at + 1, OCI_JSON_MAX, &raw, &len) < 0)
			continue;
		if (oci_index_parse(raw, len, &idx, NULL) == 0)
			for (size_t k = 0; k < idx.n && !found; k++)
				found = !strcmp(idx.v[k].d.digest, img->manifest_digest);
		if (found) {
			snprintf(top->media_type, sizeof top->media_type, "%s", idx.media_type);
			snprintf(top->digest, sizeof top->digest, "%s", at + 1);
			top->size = (int64_t)len;
		}
		oci_index_clear(&idx);
		free(raw);
		if (found)
			return true;
	}
	return false;
}

/* The index entries and blobs of one image, from its manifest. */
static int plan_image(struct store *s, const struct store_image *img, struct plan *p,
		      struct oci_error *err)
{
	char *raw = NULL;
	size_t len = 0;
	struct oci_manifest m = { 0 };
	int r = store_blob_read(s, img->manifest_digest, OCI_JSON_MAX, &raw, &len);
	if (r < 0)
		return oci_fail(err, r == -EBADMSG ? CRISP_STATUS_DATA_LOSS : CRISP_STATUS_INTERNAL, r,
				"image %s: reading its manifest %s: %s", img->id, img->manifest_digest,
				strerror(-r));
	r = oci_manifest_parse(raw, len, &m, err);
	free(raw);
	if (r < 0)
		return r;
	struct registry_descriptor top = { .size = (int64_t)len };
	snprintf(top.media_type, sizeof top.media_type, "%s",
		 img->media_type && img->media_type[0] ? img->media_type : REGISTRY_MT_OCI_MANIFEST);
	snprintf(top.digest, sizeof top.digest, "%s", img->manifest_digest);
	bool via_index = index_of(s, img, &top);
	r = via_index ? plan_blob(p, top.digest) : 0;
	if (r == 0)
		r = plan_blob(p, img->manifest_digest);
	if (r == 0)
		r = plan_blob(p, m.config.digest);
	for (size_t i = 0; r == 0 && i < m.n_layers; i++)
		r = plan_blob(p, m.layers[i].digest);
	for (size_t i = 0; r == 0 && i < img->n_repo_tags; i++)
		r = plan_entry(p, &top, img->repo_tags[i]);
	if (r == 0 && img->n_repo_tags == 0)
		r = plan_entry(p, &top, NULL);
	oci_manifest_clear(&m);
	if (r < 0)
		return oci_fail(err, CRISP_STATUS_INTERNAL, r, "out of memory");
	return 0;
}

static int header_put(struct archive *a, const char *name, mode_t type, int64_t size)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0444);
	archive_entry_set_size(e, type == AE_IFDIR ? 0 : size);
	archive_entry_set_mtime(e, 0, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	int ar = archive_write_header(a, e);
	archive_entry_free(e);
	return ar == ARCHIVE_OK ? 0 : -EIO;
}

static int write_fail(struct writer *w, struct archive *a, const char *what, struct oci_error *err)
{
	if (w->cancelled || (w->cancel && atomic_load(w->cancel)))
		return oci_fail(err, CRISP_STATUS_CANCELLED, -ECANCELED, "export cancelled");
	const char *why = archive_error_string(a);
	return oci_fail(err, CRISP_STATUS_UNAVAILABLE, -EIO, "writing the archive (%s): %s", what,
			why ? why : "?");
}

static int small_put(struct writer *w, struct archive *a, const char *name, const char *buf,
		     size_t len, struct oci_error *err)
{
	if (header_put(a, name, AE_IFREG, (int64_t)len) < 0 ||
	    archive_write_data(a, buf, len) != (la_ssize_t)len)
		return write_fail(w, a, name, err);
	return 0;
}

/* One blob from the store, hashed again as it goes. */
static int blob_put(struct writer *w, struct archive *a, struct store *s, const char *digest,
		    uint8_t *buf, struct oci_error *err)
{
	char name[sizeof OCI_BLOBS_DIR + DIGEST_HEX_LEN];
	uint64_t size, done = 0;
	int fd = -1, r = store_blob_size(s, digest, &size);
	struct digest_ctx *ctx = NULL;
	struct digest want, got;
	if (r == 0)
		r = store_blob_open(s, digest, &fd);
	if (r == 0)
		r = digest_ctx_new(&ctx);
	if (r < 0) {
		r = oci_fail(err, r == -ENOENT ? CRISP_STATUS_NOT_FOUND : CRISP_STATUS_INTERNAL, r,
			     "blob %s: %s", digest, strerror(-r));
		goto out;
	}
	snprintf(name, sizeof name, "%s%s", OCI_BLOBS_DIR, digest + strlen(DIGEST_PREFIX));
	if (header_put(a, name, AE_IFREG, (int64_t)size) < 0) {
		r = write_fail(w, a, name, err);
		goto out;
	}
	while (done < size) {
		size_t want_n = size - done < COPY_BUF ? (size_t)(size - done) : COPY_BUF;
		ssize_t n = read(fd, buf, want_n);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = oci_fail(err, CRISP_STATUS_DATA_LOSS, n < 0 ? -errno : -EBADMSG,
				     "blob %s: the store's copy is shorter than its size", digest);
			goto out;
		}
		digest_ctx_update(ctx, buf, (size_t)n);
		if (archive_write_data(a, buf, (size_t)n) != n) {
			r = write_fail(w, a, name, err);
			goto out;
		}
		done += (uint64_t)n;
	}
	if (digest_ctx_final(ctx, &got) < 0 || digest_parse(digest, &want) < 0 ||
	    !digest_equal(&got, &want))
		r = oci_fail(err, CRISP_STATUS_DATA_LOSS, -EBADMSG,
			     "blob %s: the store's copy does not match its digest", digest);
out:
	digest_ctx_free(ctx);
	if (fd >= 0)
		close(fd);
	return r;
}

static int write_all(struct writer *w, struct archive *a, struct store *s, const struct plan *p,
		     struct oci_error *err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"" OCI_LAYOUT_VERSION "\"}";
	char *index = NULL;
	size_t index_len;
	uint8_t *buf = malloc(COPY_BUF);
	int r = buf ? oci_index_build(p->entries, p->n_entries, &index, &index_len) : -ENOMEM;
	if (r < 0) {
		free(buf);
		return oci_fail(err, CRISP_STATUS_INTERNAL, r, "out of memory");
	}
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open(a, w, NULL, on_write, NULL) != ARCHIVE_OK)
		r = write_fail(w, a, "opening", err);
	if (r == 0)
		r = small_put(w, a, OCI_LAYOUT_FILE, layout, strlen(layout), err);
	if (r == 0)
		r = small_put(w, a, OCI_INDEX_FILE, index, index_len, err);
	if (r == 0 && (header_put(a, "blobs/", AE_IFDIR, 0) < 0 ||
		       header_put(a, OCI_BLOBS_DIR, AE_IFDIR, 0) < 0))
		r = write_fail(w, a, "blobs/", err);
	for (size_t i = 0; r == 0 && i < p->n_blobs; i++)
		r = blob_put(w, a, s, p->blobs[i], buf, err);
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = write_fail(w, a, "the end", err);
	free(index);
	free(buf);
	return r;
}

int oci_layout_write(struct store *s, int fd, struct store_image *const *images, size_t n,
		     const struct oci_write_options *o, uint64_t *ret_bytes,
		     struct oci_error *err)
{
	struct plan p = { 0 };
	struct writer w = { .fd = fd, .cancel = o ? o->cancel : NULL };
	int r = 0;
	if (n == 0)
		return oci_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL, "no image to export");
	for (size_t i = 0; r == 0 && i < n; i++)
		r = plan_image(s, images[i], &p, err);
	struct archive *a = r == 0 ? archive_write_new() : NULL;
	if (r == 0 && !a)
		r = oci_fail(err, CRISP_STATUS_INTERNAL, -ENOMEM, "out of memory");
	if (r == 0)
		r = write_all(&w, a, s, &p, err);
	if (a && r < 0)
		archive_write_fail(a);  /* no end-of-archive after a failure */
	if (a)
		archive_write_free(a);
	plan_clear(&p);
	if (r == 0 && ret_bytes)
		*ret_bytes = w.bytes;
	return r;
}
