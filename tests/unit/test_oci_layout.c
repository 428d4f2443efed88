/*
 * test_oci_layout: the OCI image layout in and out of the store, through
 * the admin core (admin_import_run / admin_export_run) with a real store
 * and the confined unpack child (this binary doubles as imaged for it, see
 * test_unpack_child.c): entry names, the JSON documents, an import from a
 * file and from a pipe, export -> import round trips (same id, same names,
 * the same bytes twice), nested indexes, extra tags, and hostile archives
 * (content that does not match its digest, "..", absolute names, links
 * where blobs go, missing pieces, caps, cancel) that fail clearly and leave
 * nothing behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/status.h"
#include "imaged/admin.h"
#include "imaged/oci_layout.h"
#include "imaged/store.h"
#include "tests/unit/test_store_util.h"
#include "imaged/unpack_server.h"
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

#define DS DIGEST_STR_SIZE
#define MAX_ENTRIES 16

/* One image's pieces, and the tar entries of a layout holding it. */
struct parts {
	char *layer;
	size_t layer_len;
	char layer_d[DS], diff_id[DS], chain[DS];
	char config[1024], config_d[DS];
	char manifest[2048], manifest_d[DS];
	char index[2048];
	char names[3][128];
	struct tl_entry e[MAX_ENTRIES];
	size_t n;
};

static void digest_of(const void *buf, size_t len, char ret[DS])
{
	struct digest d;
	CHECK_RC(digest_buf(buf, len, &d));
	digest_format(&d, ret);
}

static void parts_make(struct parts *p, const char *content, const char *ref_name)
{
	char tarp[PATH_MAX], gzp[PATH_MAX];
	*p = (struct parts){ 0 };
	tl_path(tarp, sizeof tarp, unit_tmpdir(), "layer.tar");
	tl_path(gzp, sizeof gzp, unit_tmpdir(), "layer.tar.gz");
	struct archive *a = tl_tar_open(tarp);
	tl_add(a, &(struct tl_entry){ .name = "etc", .type = S_IFDIR, .mode = 0755 });
	tl_add(a, &(struct tl_entry){ .name = "etc/hello", .data = content, .size = strlen(content) });
	tl_close(a);
	size_t tl;
	char *tar = tl_read_file(tarp, &tl);
	digest_of(tar, tl, p->diff_id);
	snprintf(p->chain, sizeof p->chain, "%s", p->diff_id);
	free(tar);
	tl_gzip_file(tarp, gzp);
	p->layer = tl_read_file(gzp, &p->layer_len);
	digest_of(p->layer, p->layer_len, p->layer_d);
	snprintf(p->config, sizeof p->config,
		 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":\"1000\"},"
		 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}", p->diff_id);
	digest_of(p->config, strlen(p->config), p->config_d);
	snprintf(p->manifest, sizeof p->manifest,
		 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
		 "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
		 REGISTRY_MT_OCI_MANIFEST, OCI_MT_CONFIG, p->config_d, strlen(p->config), p->layer_d,
		 p->layer_len);
	digest_of(p->manifest, strlen(p->manifest), p->manifest_d);
	snprintf(p->index, sizeof p->index,
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
		 "\"size\":%zu%s%s%s}]}", REGISTRY_MT_OCI_MANIFEST, p->manifest_d,
		 strlen(p->manifest), ref_name ? ",\"annotations\":{\"" OCI_ANN_REF_NAME "\":\"" : "",
		 ref_name ? ref_name : "", ref_name ? "\"}" : "");
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	p->e[p->n++] = (struct tl_entry){ .name = "oci-layout", .data = layout, .size = strlen(layout) };
	p->e[p->n++] = (struct tl_entry){ .name = "index.json", .data = p->index, .size = strlen(p->index) };
	snprintf(p->names[0], sizeof p->names[0], "blobs/sha256/%.64s", p->layer_d + 7);
	snprintf(p->names[1], sizeof p->names[1], "blobs/sha256/%.64s", p->config_d + 7);
	snprintf(p->names[2], sizeof p->names[2], "blobs/sha256/%.64s", p->manifest_d + 7);
	p->e[p->n++] = (struct tl_entry){ .name = p->names[0], .data = p->layer, .size = p->layer_len };
	p->e[p->n++] = (struct tl_entry){ .name = p->names[1], .data = p->config,
					  .size = strlen(p->config) };
	p->e[p->n++] = (struct tl_entry){ .name = p->names[2], .data = p->manifest,
					  .size = strlen(p->manifest) };
}

static void archive_write_entries(const char *path, const struct tl_entry *e, size_t n)
{
	struct archive *a = tl_tar_open(path);
	for (size_t i = 0; i < n; i++)
		tl_add(a, &e[i]);
	tl_close(a);
}

/* The unpack spawner (this binary again, see test_unpack_server.c), for
 * every layer dir under this test's directory. */
static struct unpack_client *unpacker(void)
{
	static struct unpack_client *c;
	if (!c)
		CHECK_RC(unpack_client_start("/proc/self/exe", unit_tmpdir(), &c));
	return c;
}

static struct store *store_at(const char *sub)
{
	char root[PATH_MAX];
	struct store *s = NULL;
	tl_path(root, sizeof root, unit_tmpdir(), sub);
	CHECK(mkdir(root, 0711) == 0 || errno == EEXIST);
	CHECK_RC(store_open(root, &s, NULL));
	return s;
}

/* Imports the archive at path; returns the call's result, out/err filled. */
static int import_file(struct admin_ctx *a, const char *path, const Crisp__ImageImport *rq,
		       Crisp__ImageImported *out, struct oci_error *err)
{
	Crisp__ImageImport none = CRISP__IMAGE_IMPORT__INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	int r = admin_import_run(a, fd, rq ? rq : &none, NULL, out, err);
	close(fd);
	if (r < 0)
		fprintf(stderr, "  import: %s (code %d)\n", err->msg, err->code);
	return r;
}

static void export_file(struct admin_ctx *a, const char *path, const char *image)
{
	Crisp__ImageExport rq = CRISP__IMAGE_EXPORT__INIT;
	char *images[] = { (char *)image };
	struct oci_error err = { 0 };
	uint64_t bytes = 0;
	rq.images = images;
	rq.n_images = 1;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	int r = admin_export_run(a, fd, &rq, NULL, &bytes, &err);
	if (r < 0)
		fprintf(stderr, "  export: %s\n", err.msg);
	CHECK_RC(r);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == bytes);
	close(fd);
}

/* The import fails with code, and the store keeps no image and (after its
 * own GC) no blob or layer. */
static void import_fails(struct tl_entry *e, size_t n, int code, const char *msg_part)
{
	char path[PATH_MAX];
	tl_path(path, sizeof path, unit_tmpdir(), "bad.tar");
	archive_write_entries(path, e, n);
	struct store *s = ts_open();
	struct admin_ctx a;
	a = (struct admin_ctx){ .store = s, .unpacker = unpacker() };
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	CHECK(import_file(&a, path, NULL, &out, &err) < 0);
	if (err.code != code || !strstr(err.msg, msg_part))
		fprintf(stderr, "  wanted code %d with \"%s\", got %d: %s\n", code, msg_part,
			err.code, err.msg);
	CHECK(err.code == code && strstr(err.msg, msg_part));
	struct store_image **v = NULL;
	size_t nv = 1;
	CHECK_RC(store_image_list(s, NULL, &v, &nv));
	CHECK(nv == 0);
	store_image_list_free(v, nv);
	CHECK(ts_count("blobs/sha256") == 0);
	CHECK(ts_count("layers/sha256") == 0);
	CHECK(ts_count("tmp") == 0);
	store_close(s);
}

TEST(oci_entry_classify)
{
	char d[DS];
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char name[256];
	CHECK(oci_entry_classify("oci-layout", d) == OCI_ENTRY_LAYOUT);
	CHECK(oci_entry_classify("./oci-layout", d) == OCI_ENTRY_LAYOUT);
	CHECK(oci_entry_classify("index.json", d) == OCI_ENTRY_INDEX);
	snprintf(name, sizeof name, "./blobs/sha256/%s", hex);
	CHECK(oci_entry_classify(name, d) == OCI_ENTRY_BLOB);
	CHECK(!strncmp(d, "sha256:", 7) && !strcmp(d + 7, hex));
	CHECK(oci_entry_classify("blobs/", d) == OCI_ENTRY_OTHER);
	CHECK(oci_entry_classify("blobs/sha256/", d) == OCI_ENTRY_OTHER);
	CHECK(oci_entry_classify("manifest.json", d) == OCI_ENTRY_OTHER);
	CHECK(oci_entry_classify("blobs/sha256/abc", d) == OCI_ENTRY_BAD_BLOB);
	snprintf(name, sizeof name, "blobs/sha256/%.63sA", hex);
	CHECK(oci_entry_classify(name, d) == OCI_ENTRY_BAD_BLOB);
	CHECK(oci_entry_classify("../index.json", d) == OCI_ENTRY_BAD);
	CHECK(oci_entry_classify("blobs/../../etc/passwd", d) == OCI_ENTRY_BAD);
	CHECK(oci_entry_classify("a/..", d) == OCI_ENTRY_BAD);
	CHECK(oci_entry_classify("/etc/passwd", d) == OCI_ENTRY_BAD);
	CHECK(oci_entry_classify("bad\nname", d) == OCI_ENTRY_BAD);
	CHECK(oci_entry_classify("", d) == OCI_ENTRY_BAD);
	CHECK(oci_entry_classify("..foo", d) == OCI_ENTRY_OTHER);
}

TEST(oci_json_documents)
{
	struct parts p;
	struct oci_index idx;
	struct oci_manifest m;
	struct oci_config c;
	struct oci_error err;
	parts_make(&p, "hi\n", "busybox:1");
	CHECK_RC(oci_index_parse(p.index, strlen(p.index), &idx, &err));
	CHECK(idx.n == 1 && !strcmp(idx.v[0].d.digest, p.manifest_d));
	CHECK(idx.v[0].ref_name && !strcmp(idx.v[0].ref_name, "busybox:1"));
	oci_index_clear(&idx);
	CHECK_RC(oci_manifest_parse(p.manifest, strlen(p.manifest), &m, &err));
	CHECK(m.n_layers == 1 && !strcmp(m.layers[0].digest, p.layer_d));
	CHECK(m.layers[0].size == (int64_t)p.layer_len && !strcmp(m.config.digest, p.config_d));
	oci_manifest_clear(&m);
	CHECK_RC(oci_config_parse(p.config, strlen(p.config), &c, &err));
	CHECK(c.n_diff_ids == 1 && c.user && !strcmp(c.user, "1000"));
	oci_config_clear(&c);
	/* refused */
	const char *bad[] = {
		"{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha512:00\",\"size\":1}]}",
		"{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:../../x\",\"size\":1}]}",
		"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"size\":1}]}",
		"{\"schemaVersion\":1,\"manifests\":[]}",
		"{\"schemaVersion\":2,\"manifests\":{}} trailing",
		"[1,2]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err = (struct oci_error){ 0 };
		CHECK(oci_index_parse(bad[i], strlen(bad[i]), &idx, &err) < 0);
		CHECK(err.code == CRISP_STATUS_INVALID_ARGUMENT);
	}
	CHECK(oci_manifest_parse("{\"schemaVersion\":2,\"mediaType\":\"" REGISTRY_MT_OCI_INDEX "\"}",
				 strlen("{\"schemaVersion\":2,\"mediaType\":\"" REGISTRY_MT_OCI_INDEX "\"}"),
				 &m, &err) < 0);
	/* a config whose diff_ids are not digests */
	const char *cfg = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"nope\"]}}";
	CHECK(oci_config_parse(cfg, strlen(cfg), &c, &err) < 0);
	/* a huge index is refused before parsing */
	size_t big = OCI_JSON_MAX + 1;
	char *huge = malloc(big);
	CHECK(huge);
	memset(huge, ' ', big);
	CHECK(oci_index_parse(huge, big, &idx, &err) == -EFBIG);
	CHECK(err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	free(huge);
	/* index.json built and read back */
	struct oci_index_entry e = { .d.size = 12, .ref_name = "docker.io/library/a:1",
				     .image_name = "docker.io/library/a:1" };
	snprintf(e.d.media_type, sizeof e.d.media_type, "%s", REGISTRY_MT_OCI_MANIFEST);
	snprintf(e.d.digest, sizeof e.d.digest, "%s", p.manifest_d);
	char *buf;
	size_t len;
	CHECK_RC(oci_index_build(&e, 1, &buf, &len));
	CHECK_RC(oci_index_parse(buf, len, &idx, &err));
	CHECK(idx.n == 1 && !strcmp(idx.v[0].ref_name, "docker.io/library/a:1"));
	CHECK(!strcmp(idx.v[0].image_name, "docker.io/library/a:1") && idx.v[0].d.size == 12);
	oci_index_clear(&idx);
	free(buf);
	free(p.layer);
}

/* Checks that s holds the image of p as busybox:1, its layer unpacked. */
static void check_imported(struct store *s, const struct parts *p, const char *content)
{
	struct store_image *img = NULL;
	CHECK_RC(store_image_find(s, "docker.io/library/busybox:1", &img));
	CHECK(!strcmp(img->id, p->config_d) && !strcmp(img->manifest_digest, p->manifest_d));
	CHECK(img->uid == 1000);
	CHECK(img->n_layers == 1 && !strcmp(img->layers[0].chain_id, p->chain));
	CHECK(img->n_repo_digests == 1);
	char want[256];
	snprintf(want, sizeof want, "docker.io/library/busybox@%s", p->manifest_d);
	CHECK(!strcmp(img->repo_digests[0], want));
	store_image_free(img);
	char *diff = NULL, path[PATH_MAX];
	CHECK_RC(store_layer_diff_path_of(s, p->chain, &diff));
	tl_path(path, sizeof path, diff, "etc/hello");
	size_t len;
	char *got = tl_read_file(path, &len);
	CHECK(len == strlen(content) && !memcmp(got, content, len));
	free(got);
	free(diff);
}

TEST(oci_import_file)
{
	struct parts p;
	char path[PATH_MAX];
	parts_make(&p, "hello from a layer\n", "busybox:1");
	tl_path(path, sizeof path, unit_tmpdir(), "img.tar");
	archive_write_entries(path, p.e, p.n);
	struct store *s = ts_open();
	struct admin_ctx a;
	a = (struct admin_ctx){ .store = s, .unpacker = unpacker() };
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	CHECK_RC(import_file(&a, path, NULL, &out, &err));
	CHECK(out.n_image_ids == 1 && !strcmp(out.image_ids[0], p.config_d));
	CHECK(out.n_repo_tags == 1 && !strcmp(out.repo_tags[0], "docker.io/library/busybox:1"));
	admin_imported_clear(&out);
	check_imported(s, &p, "hello from a layer\n");
	/* no lease is left over, and the content survives a GC */
	struct store_lease_info *lv;
	size_t ln;
	CHECK_RC(store_lease_list(s, &lv, &ln));
	CHECK(ln == 0);
	store_lease_list_free(lv, ln);
	CHECK_RC(store_gc(s, NULL));
	check_imported(s, &p, "hello from a layer\n");
	/* again: a no-op that gives the same answer */
	CHECK_RC(import_file(&a, path, NULL, &out, &err));
	CHECK(out.n_image_ids == 1 && !strcmp(out.image_ids[0], p.config_d));
	admin_imported_clear(&out);
	store_close(s);
	free(p.layer);
}

TEST(oci_import_pipe)
{
	struct parts p;
	char path[PATH_MAX];
	parts_make(&p, "through a pipe\n", "busybox:1");
	tl_path(path, sizeof path, unit_tmpdir(), "img.tar");
	archive_write_entries(path, p.e, p.n);
	size_t len;
	char *tar = tl_read_file(path, &len);
	int pfd[2];
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		for (size_t off = 0; off < len;) {      /* slowly, in small pieces */
			size_t n = len - off < 1000 ? len - off : 1000;
			ssize_t w = write(pfd[1], tar + off, n);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(pfd[1]);
	struct store *s = ts_open();
	struct admin_ctx a;
	a = (struct admin_ctx){ .store = s, .unpacker = unpacker() };
	Crisp__ImageImport rq = CRISP__IMAGE_IMPORT__INIT;
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	CHECK_RC(admin_import_run(&a, pfd[0], &rq, NULL, &out, &err));
	close(pfd[0]);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	check_imported(s, &p, "through a pipe\n");
	admin_imported_clear(&out);
	store_close(s);
	free(tar);
	free(p.layer);
}

TEST(oci_export_roundtrip)
{
	struct parts p;
	char path[PATH_MAX], out1[PATH_MAX], out2[PATH_MAX];
	parts_make(&p, "round trip\n", "busybox:1");
	tl_path(path, sizeof path, unit_tmpdir(), "img.tar");
	tl_path(out1, sizeof out1, unit_tmpdir(), "export1.tar");
	tl_path(out2, sizeof out2, unit_tmpdir(), "export2.tar");
	archive_write_entries(path, p.e, p.n);
	struct store *s = ts_open();
	struct admin_ctx a;
	a = (struct admin_ctx){ .store = s, .unpacker = unpacker() };
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	CHECK_RC(import_file(&a, path, NULL, &out, &err));
	admin_imported_clear(&out);
	CHECK_RC(store_image_tag(s, p.config_d, "quay.io/crisp/other:2"));
	export_file(&a, out1, "busybox:1");
	export_file(&a, out2, p.config_d);     /* by id: the same image, the same bytes */
	size_t l1, l2;
	char *b1 = tl_read_file(out1, &l1), *b2 = tl_read_file(out2, &l2);
	CHECK(l1 == l2 && !memcmp(b1, b2, l1));
	free(b1);
	free(b2);
	store_close(s);
	/* into a second store */
	struct store *s2 = store_at("root2");
	a = (struct admin_ctx){ .store = s2, .unpacker = unpacker() };
	CHECK_RC(import_file(&a, out1, NULL, &out, &err));
	CHECK(out.n_image_ids == 1 && !strcmp(out.image_ids[0], p.config_d));
	CHECK(out.n_repo_tags == 2);
	admin_imported_clear(&out);
	struct store_image *img = NULL;
	CHECK_RC(store_image_find(s2, "quay.io/crisp/other:2", &img));
	CHECK(!strcmp(img->id, p.config_d) && img->n_repo_tags == 2 && img->uid == 1000);
	store_image_free(img);
	CHECK_RC(store_image_find(s2, "docker.io/library/busybox:1", &img));
	CHECK(!strcmp(img->manifest_digest, p.manifest_d) && !strcmp(img->layers[0].chain_id, p.chain));
	store_image_free(img);
	/* an unknown image is NOT_FOUND */
	Crisp__ImageExport rq = CRISP__IMAGE_EXPORT__INIT;
	char *names[] = { "nosuch:1" };
	rq.images = names;
	rq.n_images = 1;
	int fd = open(out2, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CHECK(admin_export_run(&a, fd, &rq, NULL, NULL, &err) == -ENOENT);
	CHECK(err.code == CRISP_STATUS_NOT_FOUND);
	close(fd);
	store_close(s2);
	free(p.layer);
}

TEST(oci_import_extra_tags_and_names)
{
	struct parts p;
	char path[PATH_MAX];
	parts_make(&p, "tags\n", NULL);         /* no name in the archive */
	tl_path(path, sizeof path, unit_tmpdir(), "img.tar");
	archive_write_entries(path, p.e, p.n);
	struct store *s = ts_open();
	struct admin_ctx a;
	a = (struct admin_ctx){ .store = s, .unpacker = unpacker() };
	Crisp__ImageImport rq = CRISP__IMAGE_IMPORT__INIT;
	char *tags[] = { "localhost:5000/x/y:v1", "busybox" };
	rq.tags = tags;
	rq.n_tags = 2;
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	CHECK_RC(import_file(&a, path, &rq, &out, &err));
	CHECK(out.n_repo_tags == 2);
	CHECK(!strcmp(out.repo_tags[0], "localhost:5000/x/y:v1"));
	CHECK(!strcmp(out.repo_tags[1], "docker.io/library/busybox:latest"));
	admin_imported_clear(&out);
	/* a bad tag is refused */
	char *bad[] = { "UPPER/Case:1" };
	rq.tags = bad;
	rq.n_tags = 1;
	CHECK(import_file(&a, path, &rq, &out, &err) == -EINVAL);
	CHECK(err.code == CRISP_STATUS_INVALID_ARGUMENT && strstr(err.msg, "UPPER"));
	store_close(s);
	free(p.layer);
}

TEST(oci_import_nested_index)
{
	struct parts p;
	char path[PATH_MAX], nested[2048], nested_d[DS], index[1024];
	struct registry_platform host;
	registry_platform_host(&host);
	parts_make(&p, "nested\n", NULL);
	/* an index with another platform first, then this one */
	snprintf(nested, sizeof nested,
		 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
		 "{\"mediaType\":\"%s\",\"digest\":\"sha256:%064d\",\"size\":10,"
		 "\"platform\":{\"os\":\"plan9\",\"architecture\":\"%s\"}},"
		 "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
		 "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}}]}",
		 REGISTRY_MT_OCI_INDEX, REGISTRY_MT_OCI_MANIFEST, 0, host.architecture,
		 REGISTRY_MT_OCI_MANIFEST, p.manifest_d, strlen(p.manifest), host.architecture);
	digest_of(nested, strlen(nested), nested_d);
	snprintf(index, sizeof index,
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
		 "\"size\":%zu,\"annotations\":{\"" OCI_ANN_REF_NAME "\":\"busybox:1\"}}]}",
		 REGISTRY_MT_OCI_INDEX, nested_d, strlen(nested));
	char nname[128];
	snprintf(nname, sizeof nname, "blobs/sha256/%.64s", nested_d + 7);
	p.e[1] = (struct tl_entry){ .name = "index.json", .data = index, .size = strlen(index) };
	p.e[p.n++] = (struct tl_entry){ .name = nname, .data = nested, .size = strlen(nested) };
	tl_path(path, sizeof path, unit_tmpdir(), "img.tar");
	archive_write_entries(path, p.e, p.n);
	struct store *s = ts_open();
	struct admin_ctx a;
	a = (struct admin_ctx){ .store = s, .unpacker = unpacker() };
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	CHECK_RC(import_file(&a, path, NULL, &out, &err));
	admin_imported_clear(&out);
	struct store_image *img = NULL;
	CHECK_RC(store_image_find(s, "docker.io/library/busybox:1", &img));
	char want[256];
	snprintf(want, sizeof want, "docker.io/library/busybox@%s", nested_d);
	CHECK(!strcmp(img->manifest_digest, p.manifest_d) && !strcmp(img->repo_digests[0], want));
	store_image_free(img);
	CHECK(store_blob_exists(s, nested_d) == 1);     /* the image holds its index */
	CHECK_RC(store_gc(s, NULL));
	CHECK(store_blob_exists(s, nested_d) == 1);
	/* exported through its index, imported again with the same repo digest */
	char out1[PATH_MAX];
	tl_path(out1, sizeof out1, unit_tmpdir(), "export.tar");
	export_file(&a, out1, "busybox:1");
	store_close(s);
	struct store *s2 = store_at("root2");
	a = (struct admin_ctx){ .store = s2, .unpacker = unpacker() };
	CHECK_RC(import_file(&a, out1, NULL, &out, &err));
	admin_imported_clear(&out);
	CHECK_RC(store_image_find(s2, "docker.io/library/busybox:1", &img));
	CHECK(!strcmp(img->id, p.config_d) && !strcmp(img->manifest_digest, p.manifest_d));
	CHECK(img->n_repo_digests == 1 && !strcmp(img->repo_digests[0], want));
	store_image_free(img);
	store_close(s2);
	free(p.layer);
}

TEST(oci_import_hostile_content)
{
	struct parts p;
	parts_make(&p, "real content\n", "busybox:1");
	/* the layer blob's bytes do not hash to its name */
	char *evil = malloc(p.layer_len);
	CHECK(evil);
	memcpy(evil, p.layer, p.layer_len);
	evil[p.layer_len / 2] ^= 0x55;
	p.e[2].data = evil;
	import_fails(p.e, p.n, CRISP_STATUS_DATA_LOSS, "does not match its digest");
	free(evil);
	/* a blob shorter than its manifest says (the name matches the bytes) */
	struct parts q;
	parts_make(&q, "other\n", "busybox:1");
	char *m2 = strdup(q.manifest), *sz = strstr(m2, "\"size\":");
	sz = strstr(sz + 1, "\"size\":");       /* the layer's */
	CHECK(sz);
	sz[7] = sz[7] == '9' ? '8' : '9';
	char m2d[DS], mname[128], index[1024];
	digest_of(m2, strlen(m2), m2d);
	snprintf(mname, sizeof mname, "blobs/sha256/%.64s", m2d + 7);
	snprintf(index, sizeof index, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\","
		 "\"digest\":\"%s\",\"size\":%zu}]}", REGISTRY_MT_OCI_MANIFEST, m2d, strlen(m2));
	q.e[1].data = index;
	q.e[1].size = strlen(index);
	q.e[4] = (struct tl_entry){ .name = mname, .data = m2, .size = strlen(m2) };
	import_fails(q.e, q.n, CRISP_STATUS_INVALID_ARGUMENT, "its descriptor says");
	free(m2);
	free(p.layer);
	free(q.layer);
}

TEST(oci_import_hostile_names)
{
	struct parts p;
	parts_make(&p, "names\n", "busybox:1");
	struct tl_entry e[MAX_ENTRIES];
	char *before = NULL, *after;
	static const char *const names[] = { "../escape", "/tmp/crisp-escape", "blobs/../../escape",
					     "ok/../../escape" };
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		if (k == 1)     /* the store and bad.tar exist now */
			before = tl_snapshot(unit_tmpdir(), (const char *const[]){ "images", "bad.tar", NULL });
		memcpy(e, p.e, sizeof e);
		e[p.n] = (struct tl_entry){ .name = names[k], .data = "x", .size = 1 };
		import_fails(e, p.n + 1, CRISP_STATUS_INVALID_ARGUMENT, "\"..\" component");
	}
	/* a symlink, a hard link and a directory where a blob goes */
	memcpy(e, p.e, sizeof e);
	e[2] = (struct tl_entry){ .name = p.names[0], .type = S_IFLNK, .link = "/etc/passwd" };
	import_fails(e, p.n, CRISP_STATUS_INVALID_ARGUMENT, "not a regular file");
	memcpy(e, p.e, sizeof e);
	e[2] = (struct tl_entry){ .name = p.names[0], .hardlink = "oci-layout" };
	import_fails(e, p.n, CRISP_STATUS_INVALID_ARGUMENT, "not a regular file");
	memcpy(e, p.e, sizeof e);
	e[1] = (struct tl_entry){ .name = "index.json", .type = S_IFLNK, .link = "/etc/shadow" };
	import_fails(e, p.n, CRISP_STATUS_INVALID_ARGUMENT, "not a regular file");
	/* a blob name that is not a digest */
	memcpy(e, p.e, sizeof e);
	e[p.n] = (struct tl_entry){ .name = "blobs/sha256/notahexdigest", .data = "x", .size = 1 };
	import_fails(e, p.n + 1, CRISP_STATUS_INVALID_ARGUMENT, "sha256 digest in hex");
	after = tl_snapshot(unit_tmpdir(), (const char *const[]){ "images", "bad.tar", NULL });
	CHECK(!strcmp(before, after));
	CHECK(access("/tmp/crisp-escape", F_OK) < 0);
	free(before);
	free(after);
	free(p.layer);
}

TEST(oci_import_missing_pieces)
{
	struct parts p;
	parts_make(&p, "missing\n", "busybox:1");
	struct tl_entry e[MAX_ENTRIES];
	/* no oci-layout */
	import_fails(p.e + 1, p.n - 1, CRISP_STATUS_INVALID_ARGUMENT, "no oci-layout");
	/* no index.json */
	memcpy(e, p.e, sizeof e);
	e[1] = e[p.n - 1];
	import_fails(e, p.n - 1, CRISP_STATUS_INVALID_ARGUMENT, "no index.json");
	/* the layer blob is not there */
	memcpy(e, p.e, sizeof e);
	e[2] = e[p.n - 1];
	import_fails(e, p.n - 1, CRISP_STATUS_NOT_FOUND, "neither in the archive nor in the store");
	/* a wrong layout version, an index without images, two index.json */
	memcpy(e, p.e, sizeof e);
	e[0].data = "{\"imageLayoutVersion\":\"2.0.0\"}";
	e[0].size = strlen(e[0].data);
	import_fails(e, p.n, CRISP_STATUS_INVALID_ARGUMENT, "is not 1.x");
	memcpy(e, p.e, sizeof e);
	e[1].data = "{\"schemaVersion\":2,\"manifests\":[]}";
	e[1].size = strlen(e[1].data);
	import_fails(e, p.n, CRISP_STATUS_INVALID_ARGUMENT, "names no image");
	memcpy(e, p.e, sizeof e);
	e[p.n] = e[1];
	import_fails(e, p.n + 1, CRISP_STATUS_INVALID_ARGUMENT, "twice");
	/* not a tar at all */
	e[0] = (struct tl_entry){ .name = "x" };
	char path[PATH_MAX];
	tl_path(path, sizeof path, unit_tmpdir(), "junk");
	tl_write_file(path, "this is not a tar archive, not at all.\n", 39);
	struct store *s = ts_open();
	struct admin_ctx a;
	a = (struct admin_ctx){ .store = s, .unpacker = unpacker() };
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	CHECK(import_file(&a, path, NULL, &out, &err) < 0);
	CHECK(err.code == CRISP_STATUS_INVALID_ARGUMENT && strstr(err.msg, "not a readable tar"));
	store_close(s);
	free(p.layer);
}

TEST(oci_import_layer_diff_mismatch)
{
	struct parts p, q;
	parts_make(&p, "one\n", "busybox:1");
	parts_make(&q, "two\n", "busybox:1");
	/* p's config, but q's layer: the unpacked diff_id is not the config's */
	char m[2048], md[DS], mname[128], index[1024], lname[128];
	snprintf(m, sizeof m,
		 "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
		 "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
		 "\"digest\":\"%s\",\"size\":%zu}]}", OCI_MT_CONFIG, p.config_d, strlen(p.config),
		 q.layer_d, q.layer_len);
	digest_of(m, strlen(m), md);
	snprintf(mname, sizeof mname, "blobs/sha256/%.64s", md + 7);
	snprintf(lname, sizeof lname, "blobs/sha256/%.64s", q.layer_d + 7);
	snprintf(index, sizeof index, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\","
		 "\"digest\":\"%s\",\"size\":%zu}]}", REGISTRY_MT_OCI_MANIFEST, md, strlen(m));
	p.e[1].data = index;
	p.e[1].size = strlen(index);
	p.e[2] = (struct tl_entry){ .name = lname, .data = q.layer, .size = q.layer_len };
	p.e[4] = (struct tl_entry){ .name = mname, .data = m, .size = strlen(m) };
	import_fails(p.e, p.n, CRISP_STATUS_INVALID_ARGUMENT, "the config says");
	free(p.layer);
	free(q.layer);
}

static void *cancel_later(void *arg)
{
	usleep(300 * 1000);
	atomic_store((atomic_bool *)arg, true);
	return NULL;
}

TEST(oci_import_cancelled)
{
	struct parts p;
	char path[PATH_MAX];
	parts_make(&p, "cancel\n", "busybox:1");
	tl_path(path, sizeof path, unit_tmpdir(), "img.tar");
	archive_write_entries(path, p.e, p.n);
	struct store *s = ts_open();
	struct admin_ctx a;
	a = (struct admin_ctx){ .store = s, .unpacker = unpacker() };
	atomic_bool cancel;
	atomic_init(&cancel, true);
	Crisp__ImageImport rq = CRISP__IMAGE_IMPORT__INIT;
	Crisp__ImageImported out = CRISP__IMAGE_IMPORTED__INIT;
	struct oci_error err = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(admin_import_run(&a, fd, &rq, &cancel, &out, &err) == -ECANCELED);
	CHECK(err.code == CRISP_STATUS_CANCELLED);
	close(fd);
	/* a silent writer: the cancel is still seen */
	int pfd[2];
	pthread_t t;
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	atomic_store(&cancel, false);
	CHECK(pthread_create(&t, NULL, cancel_later, &cancel) == 0);
	CHECK(admin_import_run(&a, pfd[0], &rq, &cancel, &out, &err) == -ECANCELED);
	CHECK(err.code == CRISP_STATUS_CANCELLED);
	pthread_join(t, NULL);
	close(pfd[0]);
	close(pfd[1]);
	CHECK(ts_count("blobs/sha256") == 0);
	store_close(s);
	free(p.layer);
}
