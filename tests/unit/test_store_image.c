/*
 * test_store_image: image records: insert and find by id, tag, repo digest
 * and id prefix; a tag moving between images; update on re-pull; removal
 * with all tags; lists and filters; the CRI reading of the config's User;
 * refusal of images that name content the store does not have.
 */
#include <errno.h>
#include "tests/unit/test_store_util.h"
#include "tests/unit/unit.h"

struct fixture {
	char config[DIGEST_STR_SIZE];
	char manifest[DIGEST_STR_SIZE];
	char layer_blob[DIGEST_STR_SIZE];
	char chain[DIGEST_STR_SIZE];
	char diff[DIGEST_STR_SIZE];
};

/* An image's content in the store: config, manifest, one compressed layer
 * blob and its unpacked layer. `name` makes it unique. */
static void fx_content(struct store *s, const char *name, struct fixture *fx)
{
	char text[256];

	snprintf(text, sizeof text, "{\"config of\": \"%s\"}", name);
	ts_blob(s, text, NULL, fx->config);
	snprintf(text, sizeof text, "{\"manifest of\": \"%s\"}", name);
	ts_blob(s, text, NULL, fx->manifest);
	snprintf(text, sizeof text, "gzip bytes of %s", name);
	ts_blob(s, text, NULL, fx->layer_blob);
	snprintf(text, sizeof text, "layer of %s", name);
	ts_layer(s, text, NULL, NULL, fx->chain);
	ts_digest_of(text, fx->diff);
}

static void fx_image(struct fixture *fx, struct store_image *img, char **tags, size_t n_tags,
		     char **digests, size_t n_digests)
{
	static char blobs[1][DIGEST_STR_SIZE];
	static struct store_layer_ref layer;

	memset(img, 0, sizeof *img);
	snprintf(img->id, sizeof img->id, "%s", fx->config);
	snprintf(img->manifest_digest, sizeof img->manifest_digest, "%s", fx->manifest);
	img->media_type = "application/vnd.oci.image.manifest.v1+json";
	img->uid = STORE_UID_NONE;
	img->repo_tags = tags;
	img->n_repo_tags = n_tags;
	img->repo_digests = digests;
	img->n_repo_digests = n_digests;
	snprintf(blobs[0], sizeof blobs[0], "%s", fx->layer_blob);
	img->blobs = blobs;
	img->n_blobs = 1;
	snprintf(layer.chain_id, sizeof layer.chain_id, "%s", fx->chain);
	snprintf(layer.diff_id, sizeof layer.diff_id, "%s", fx->diff);
	img->layers = &layer;
	img->n_layers = 1;
}

static bool has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

TEST(store_image_insert_and_find)
{
	struct store *s = ts_open();
	struct fixture fx;
	struct store_image img, *got;
	char *tags[] = { "docker.io/library/busybox:1.36", "docker.io/library/busybox:latest" };
	char digest_ref[128], *digests[] = { digest_ref };
	struct store_kv ann[] = { { "io.kubernetes.cri.pod", "p1" }, { "a", "b" } };
	uint64_t sz_config, sz_manifest, sz_layer;

	fx_content(s, "busybox", &fx);
	snprintf(digest_ref, sizeof digest_ref, "docker.io/library/busybox@%s", fx.manifest);
	fx_image(&fx, &img, tags, 2, digests, 1);
	img.annotations = ann;
	img.n_annotations = 2;
	img.pinned = true;
	CHECK_RC(store_image_set_user(&img, "1000:1000"));
	CHECK_RC(store_image_put(s, &img));
	CHECK_RC(store_blob_size(s, fx.config, &sz_config));
	CHECK_RC(store_blob_size(s, fx.manifest, &sz_manifest));
	CHECK_RC(store_blob_size(s, fx.layer_blob, &sz_layer));
	/* the CRI size: content bytes of config + manifest + compressed layers */
	CHECK(img.size == sz_config + sz_manifest + sz_layer);
	CHECK(img.created > 0);

	const char *refs[] = { fx.config, tags[0], tags[1], digest_ref, fx.config + 7,
			       "sha256:" "", NULL };
	char prefix[16];
	snprintf(prefix, sizeof prefix, "%.12s", fx.config + 7);
	refs[5] = prefix;
	for (size_t i = 0; refs[i]; i++) {
		CHECK_RC(store_image_find(s, refs[i], &got));
		CHECK(strcmp(got->id, fx.config) == 0);
		store_image_free(got);
	}
	CHECK_RC(store_image_get(s, fx.config, &got));
	CHECK(strcmp(got->manifest_digest, fx.manifest) == 0);
	CHECK(strcmp(got->media_type, img.media_type) == 0);
	CHECK(got->size == img.size && got->pinned && got->uid == 1000 && !got->username);
	CHECK(got->n_repo_tags == 2 && has(got->repo_tags, 2, tags[0]) && has(got->repo_tags, 2, tags[1]));
	CHECK(got->n_repo_digests == 1 && strcmp(got->repo_digests[0], digest_ref) == 0);
	CHECK(got->n_layers == 1 && strcmp(got->layers[0].chain_id, fx.chain) == 0);
	CHECK(strcmp(got->layers[0].diff_id, fx.diff) == 0);
	CHECK(got->n_blobs == 3);       /* config and manifest are always held */
	CHECK(got->n_annotations == 2 && strcmp(got->annotations[0].key, "a") == 0);
	CHECK(strcmp(got->annotations[1].value, "p1") == 0);
	store_image_free(got);

	CHECK(store_image_find(s, "docker.io/library/busybox:1.35", &got) == -ENOENT);
	CHECK(store_image_find(s, "sha256:0000000000000000000000000000000000000000000000000000000000000000", &got) == -ENOENT);
	CHECK(store_image_find(s, "ab", &got) == -ENOENT);         /* too short a prefix */
	CHECK(store_image_find(s, "", &got) == -EINVAL);
	store_close(s);
}

TEST(store_image_tag_moves)
{
	struct store *s = ts_open();
	struct fixture a, b;
	struct store_image img, *got;
	char *tag_a[] = { "docker.io/library/app:latest", "docker.io/library/app:v1" };
	char *tag_b[] = { "docker.io/library/app:latest" };

	fx_content(s, "app v1", &a);
	fx_content(s, "app v2", &b);
	fx_image(&a, &img, tag_a, 2, NULL, 0);
	CHECK_RC(store_image_put(s, &img));
	fx_image(&b, &img, tag_b, 1, NULL, 0);
	CHECK_RC(store_image_put(s, &img));             /* :latest moves to b */

	CHECK_RC(store_image_find(s, "docker.io/library/app:latest", &got));
	CHECK(strcmp(got->id, b.config) == 0);
	store_image_free(got);
	CHECK_RC(store_image_get(s, a.config, &got));
	CHECK(got->n_repo_tags == 1 && strcmp(got->repo_tags[0], "docker.io/library/app:v1") == 0);
	store_image_free(got);

	/* tagging explicitly moves it back; a now has both, b none (still there) */
	CHECK_RC(store_image_tag(s, a.config, "docker.io/library/app:latest"));
	CHECK_RC(store_image_get(s, b.config, &got));
	CHECK(got->n_repo_tags == 0);
	store_image_free(got);
	CHECK_RC(store_image_get(s, a.config, &got));
	CHECK(got->n_repo_tags == 2);
	store_image_free(got);
	CHECK(store_image_tag(s, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
			      "x:y") == -ENOENT);
	store_close(s);
}

TEST(store_image_update_keeps_tags_and_created)
{
	struct store *s = ts_open();
	struct fixture fx;
	struct store_image img, *got;
	char *t1[] = { "r/a:1" }, *t2[] = { "r/a:2" };
	int64_t created;

	fx_content(s, "re-pull", &fx);
	fx_image(&fx, &img, t1, 1, NULL, 0);
	CHECK_RC(store_image_put(s, &img));
	created = img.created;
	fx_image(&fx, &img, t2, 1, NULL, 0);    /* same image pulled by another tag */
	img.pinned = true;
	CHECK_RC(store_image_put(s, &img));
	CHECK(img.created == created);
	CHECK_RC(store_image_get(s, fx.config, &got));
	CHECK(got->n_repo_tags == 2 && got->pinned);
	store_image_free(got);
	CHECK_RC(store_image_set_pinned(s, fx.config, false));
	CHECK_RC(store_image_get(s, fx.config, &got));
	CHECK(!got->pinned);
	store_image_free(got);
	store_close(s);
}

TEST(store_image_remove_with_all_tags)
{
	struct store *s = ts_open();
	struct fixture a, b;
	struct store_image img, *got, **v;
	char *ta[] = { "r/a:1", "r/a:2", "r/a:3" }, *tb[] = { "r/b:1" };
	char ref[128], *da[] = { ref };
	size_t n;

	fx_content(s, "a", &a);
	fx_content(s, "b", &b);
	snprintf(ref, sizeof ref, "r/a@%s", a.manifest);
	fx_image(&a, &img, ta, 3, da, 1);
	CHECK_RC(store_image_put(s, &img));
	fx_image(&b, &img, tb, 1, NULL, 0);
	CHECK_RC(store_image_put(s, &img));
	CHECK_RC(store_image_list(s, NULL, &v, &n));
	CHECK(n == 2);
	store_image_list_free(v, n);

	CHECK_RC(store_image_remove(s, a.config));
	CHECK(store_image_remove(s, a.config) == -ENOENT);
	for (size_t i = 0; i < 3; i++)
		CHECK(store_image_find(s, ta[i], &got) == -ENOENT);
	CHECK(store_image_find(s, ref, &got) == -ENOENT);
	CHECK(store_image_get(s, a.config, &got) == -ENOENT);
	CHECK_RC(store_image_list(s, NULL, &v, &n));
	CHECK(n == 1 && strcmp(v[0]->id, b.config) == 0);
	store_image_list_free(v, n);
	/* the content stays until GC, which then takes a's and keeps b's */
	CHECK(store_blob_exists(s, a.layer_blob) == 1);
	struct store_gc_stats gs;
	CHECK_RC(store_gc(s, &gs));
	CHECK(gs.blobs_removed == 3 && gs.layers_removed == 1);
	CHECK(store_blob_exists(s, a.layer_blob) == 0 && store_layer_exists(s, a.chain) == 0);
	CHECK(store_blob_exists(s, b.layer_blob) == 1 && store_layer_exists(s, b.chain) == 1);
	CHECK(ts_count("blobs/sha256") == 3 && ts_count("layers/sha256") == 1);
	store_close(s);
}

TEST(store_image_list_filter)
{
	struct store *s = ts_open();
	struct fixture a, b;
	struct store_image img, **v;
	char *ta[] = { "r/a:1" }, *tb[] = { "r/b:1" };
	size_t n;

	fx_content(s, "a", &a);
	fx_content(s, "b", &b);
	fx_image(&a, &img, ta, 1, NULL, 0);
	CHECK_RC(store_image_put(s, &img));
	fx_image(&b, &img, tb, 1, NULL, 0);
	CHECK_RC(store_image_put(s, &img));
	CHECK_RC(store_image_list(s, "r/b:1", &v, &n));
	CHECK(n == 1 && strcmp(v[0]->id, b.config) == 0);
	store_image_list_free(v, n);
	CHECK_RC(store_image_list(s, a.config, &v, &n));
	CHECK(n == 1 && strcmp(v[0]->id, a.config) == 0);
	store_image_list_free(v, n);
	CHECK_RC(store_image_list(s, "r/c:1", &v, &n));
	CHECK(n == 0);
	store_image_list_free(v, n);
	CHECK_RC(store_image_list(s, "", &v, &n));
	CHECK(n == 2);
	store_image_list_free(v, n);
	store_close(s);
}

TEST(store_image_ambiguous_prefix)
{
	struct store *s = ts_open();
	struct fixture a, b;
	struct store_image img, *got;
	char seen[4096][16] = { { 0 } }, text[64], id[DIGEST_STR_SIZE], pfx[8];
	char name_a[16] = "", name_b[16] = "";

	/* two config digests that share their first 3 hex chars (birthday:
	 * ~80 tries expected among 4096 prefixes) */
	for (int i = 0; i < 100000 && !name_b[0]; i++) {
		char name[16];
		snprintf(name, sizeof name, "c%d", i);
		snprintf(text, sizeof text, "{\"config of\": \"%s\"}", name);
		ts_digest_of(text, id);
		unsigned k = (unsigned)strtoul((char[4]){ id[7], id[8], id[9], 0 }, NULL, 16);
		if (seen[k][0]) {
			snprintf(name_a, sizeof name_a, "%s", seen[k]);
			snprintf(name_b, sizeof name_b, "%s", name);
		} else {
			snprintf(seen[k], sizeof seen[k], "%s", name);
		}
	}
	CHECK(name_b[0]);
	fx_content(s, name_a, &a);
	fx_content(s, name_b, &b);
	CHECK(strncmp(a.config, b.config, 10) == 0 && strcmp(a.config, b.config) != 0);
	fx_image(&a, &img, NULL, 0, NULL, 0);
	CHECK_RC(store_image_put(s, &img));
	fx_image(&b, &img, NULL, 0, NULL, 0);
	CHECK_RC(store_image_put(s, &img));

	snprintf(pfx, sizeof pfx, "%.3s", a.config + 7);
	CHECK(store_image_find(s, pfx, &got) == -ENOTUNIQ);
	snprintf(text, sizeof text, "sha256:%s", pfx);
	CHECK(store_image_find(s, text, &got) == -ENOTUNIQ);
	/* a longer prefix tells them apart */
	size_t n = 4;
	while (strncmp(a.config + 7, b.config + 7, n) == 0)
		n++;
	snprintf(text, sizeof text, "%.*s", (int)n, a.config + 7);
	CHECK_RC(store_image_find(s, text, &got));
	CHECK(strcmp(got->id, a.config) == 0);
	store_image_free(got);
	/* below STORE_ID_PREFIX_MIN there is no prefix lookup at all */
	snprintf(pfx, sizeof pfx, "%.2s", a.config + 7);
	CHECK(store_image_find(s, pfx, &got) == -ENOENT);
	store_close(s);
}

TEST(store_image_refuses_missing_content)
{
	struct store *s = ts_open();
	struct fixture fx;
	struct store_image img;
	char *tags[] = { "r/x:1" };
	char missing[DIGEST_STR_SIZE];

	fx_content(s, "x", &fx);
	ts_digest_of("never stored", missing);
	fx_image(&fx, &img, tags, 1, NULL, 0);
	snprintf(img.blobs[0], DIGEST_STR_SIZE, "%s", missing);
	CHECK(store_image_put(s, &img) == -ENOENT);
	fx_image(&fx, &img, tags, 1, NULL, 0);
	snprintf(img.layers[0].chain_id, DIGEST_STR_SIZE, "%s", missing);
	CHECK(store_image_put(s, &img) == -ENOENT);
	fx_image(&fx, &img, tags, 1, NULL, 0);
	snprintf(img.id, sizeof img.id, "%s", missing);         /* config not stored */
	CHECK(store_image_put(s, &img) == -ENOENT);
	fx_image(&fx, &img, tags, 1, NULL, 0);
	snprintf(img.id, sizeof img.id, "sha256:1234");
	CHECK(store_image_put(s, &img) == -EINVAL);
	struct store_image **v;
	size_t n;
	CHECK_RC(store_image_list(s, NULL, &v, &n));
	CHECK(n == 0);                                  /* nothing half inserted */
	store_image_list_free(v, n);
	store_close(s);
}

TEST(store_image_user_from_config)
{
	struct store_image img = { .uid = STORE_UID_NONE };

	CHECK_RC(store_image_set_user(&img, "0"));
	CHECK(img.uid == 0 && !img.username);
	CHECK_RC(store_image_set_user(&img, "nginx"));
	CHECK(img.uid == STORE_UID_NONE && strcmp(img.username, "nginx") == 0);
	CHECK_RC(store_image_set_user(&img, "65534:65534"));
	CHECK(img.uid == 65534 && !img.username);
	CHECK_RC(store_image_set_user(&img, "www-data:www-data"));
	CHECK(img.uid == STORE_UID_NONE && strcmp(img.username, "www-data") == 0);
	CHECK_RC(store_image_set_user(&img, "1234567890a"));
	CHECK(img.uid == STORE_UID_NONE && strcmp(img.username, "1234567890a") == 0);
	CHECK(store_image_set_user(&img, "99999999999") == -ERANGE);
	CHECK(store_image_set_user(&img, ":1000") == -EINVAL);
	CHECK_RC(store_image_set_user(&img, ""));
	CHECK(img.uid == STORE_UID_NONE && !img.username);
}
