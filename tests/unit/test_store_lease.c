/*
 * test_store_lease: leases and GC: what a lease holds outlives RemoveImage
 * until the lease goes; a pull's lease protects what it committed before
 * the image row exists; leases persist across reopen, temporary ones do
 * not; a held layer keeps its parent.
 */
#include <errno.h>
#include "tests/unit/test_store_util.h"
#include "tests/unit/unit.h"

/* An image of two layers (and their blobs) tagged `tag`. */
static void make_image(struct store *s, const char *name, const char *tag,
		       char ret_id[DIGEST_STR_SIZE], char ret_chain[2][DIGEST_STR_SIZE])
{
	struct store_image img = { .uid = STORE_UID_NONE };
	char text[128], blobs[2][DIGEST_STR_SIZE], *tags[] = { (char *)tag };
	struct store_layer_ref layers[2];

	snprintf(text, sizeof text, "config %s", name);
	ts_blob(s, text, NULL, img.id);
	snprintf(text, sizeof text, "manifest %s", name);
	ts_blob(s, text, NULL, img.manifest_digest);
	for (int i = 0; i < 2; i++) {
		snprintf(text, sizeof text, "layer %d blob %s", i, name);
		ts_blob(s, text, NULL, blobs[i]);
		snprintf(text, sizeof text, "layer %d of %s", i, name);
		ts_layer(s, text, i ? ret_chain[0] : NULL, NULL, ret_chain[i]);
		snprintf(layers[i].chain_id, DIGEST_STR_SIZE, "%s", ret_chain[i]);
		ts_digest_of(text, layers[i].diff_id);
	}
	img.media_type = "application/vnd.oci.image.manifest.v1+json";
	img.blobs = blobs;
	img.n_blobs = 2;
	img.layers = layers;
	img.n_layers = 2;
	img.repo_tags = tags;
	img.n_repo_tags = 1;
	CHECK_RC(store_image_put(s, &img));
	snprintf(ret_id, DIGEST_STR_SIZE, "%s", img.id);
}

TEST(store_gc_respects_leases)
{
	struct store *s = ts_open();
	char id[DIGEST_STR_SIZE], chain[2][DIGEST_STR_SIZE];
	struct store_gc_stats gs;

	make_image(s, "app", "r/app:1", id, chain);
	CHECK_RC(store_lease_create(s, "container-1", "sandboxd: ctr 1 rootfs", 0));
	CHECK_RC(store_lease_add_image(s, "container-1", id));
	CHECK_RC(store_image_remove(s, id));
	CHECK_RC(store_gc(s, &gs));
	CHECK(gs.blobs_removed == 0 && gs.layers_removed == 0);
	CHECK(store_layer_exists(s, chain[0]) == 1 && store_layer_exists(s, chain[1]) == 1);
	CHECK(ts_count("blobs/sha256") == 4 && ts_count("layers/sha256") == 2);

	CHECK_RC(store_lease_release(s, "container-1"));
	CHECK(store_lease_release(s, "container-1") == -ENOENT);
	CHECK_RC(store_gc(s, &gs));
	CHECK(gs.blobs_removed == 4 && gs.layers_removed == 2 && gs.bytes_freed > 0);
	CHECK(ts_count("blobs/sha256") == 0 && ts_count("layers/sha256") == 0);
	CHECK(ts_count("tmp") == 0);
	store_close(s);
}

TEST(store_gc_two_images_share_a_layer)
{
	struct store *s = ts_open();
	char id_a[DIGEST_STR_SIZE], id_b[DIGEST_STR_SIZE], chain[2][DIGEST_STR_SIZE];

	make_image(s, "same", "r/a:1", id_a, chain);
	/* a second image with the same layers, another config */
	struct store_image *a;
	CHECK_RC(store_image_get(s, id_a, &a));
	ts_blob(s, "config other", NULL, id_b);
	snprintf(a->id, sizeof a->id, "%s", id_b);
	for (size_t i = 0, j = 0; i < a->n_blobs; i++)  /* all of a's blobs but its config */
		if (strcmp(a->blobs[i], id_a) != 0)
			memcpy(a->blobs[j++], a->blobs[i], DIGEST_STR_SIZE);
	CHECK(a->n_blobs == 4);
	a->n_blobs = 3;
	free(a->repo_tags[0]);
	a->repo_tags[0] = strdup("r/b:1");
	CHECK_RC(store_image_put(s, a));
	store_image_free(a);

	CHECK_RC(store_image_remove(s, id_a));
	CHECK_RC(store_gc(s, NULL));
	CHECK(store_layer_exists(s, chain[0]) == 1 && store_layer_exists(s, chain[1]) == 1);
	CHECK(ts_count("blobs/sha256") == 4);   /* b's config, manifest, 2 layer blobs */
	store_close(s);
}

TEST(store_lease_protects_a_pull_in_progress)
{
	struct store *s = ts_open();
	char blob[DIGEST_STR_SIZE], layer[DIGEST_STR_SIZE], other[DIGEST_STR_SIZE];
	struct store_lease_info *v;
	size_t n;

	CHECK_RC(store_lease_create(s, "pull-1", "pull r/app:1", STORE_LEASE_TEMPORARY));
	ts_blob(s, "downloaded layer", "pull-1", blob);
	ts_layer(s, "unpacked layer", NULL, "pull-1", layer);
	ts_blob(s, "nobody holds this", NULL, other);
	CHECK_RC(store_gc(s, NULL));
	CHECK(store_blob_exists(s, blob) == 1 && store_layer_exists(s, layer) == 1);
	CHECK(store_blob_exists(s, other) == 0);

	CHECK_RC(store_lease_list(s, &v, &n));
	CHECK(n == 1 && strcmp(v[0].id, "pull-1") == 0 && strcmp(v[0].holder, "pull r/app:1") == 0);
	CHECK(v[0].flags == STORE_LEASE_TEMPORARY && v[0].n_blobs == 1 && v[0].n_layers == 1);
	store_lease_list_free(v, n);

	/* content that was already there joins the lease explicitly */
	ts_blob(s, "already here", NULL, other);
	CHECK_RC(store_lease_add_blob(s, "pull-1", other));
	CHECK_RC(store_gc(s, NULL));
	CHECK(store_blob_exists(s, other) == 1);

	CHECK_RC(store_lease_release(s, "pull-1"));
	CHECK_RC(store_gc(s, NULL));
	CHECK(ts_count("blobs/sha256") == 0 && ts_count("layers/sha256") == 0);
	store_close(s);
}

TEST(store_lease_errors)
{
	struct store *s = ts_open();
	char blob[DIGEST_STR_SIZE], missing[DIGEST_STR_SIZE];

	ts_blob(s, "b", NULL, blob);
	ts_digest_of("not stored", missing);
	CHECK_RC(store_lease_create(s, "l1", "", 0));
	CHECK(store_lease_create(s, "l1", "again", 0) == -EEXIST);
	CHECK(store_lease_create(s, "", "x", 0) == -EINVAL);
	CHECK(store_lease_create(s, "has space", "x", 0) == -EINVAL);
	CHECK(store_lease_create(s, "l2", "x", 0x80) == -EINVAL);
	CHECK(store_lease_add_blob(s, "l1", missing) == -ENOENT);
	CHECK(store_lease_add_layer(s, "l1", missing) == -ENOENT);
	CHECK(store_lease_add_blob(s, "nope", blob) == -ENOENT);
	CHECK(store_lease_add_image(s, "l1", missing) == -ENOENT);
	CHECK(store_lease_add_blob(s, "l1", "sha256:zz") == -EINVAL);
	/* committing into a lease that does not exist: the blob goes in (and
	 * is unreferenced), the caller hears about the lease */
	ts_digest_of("orphan", missing);
	CHECK(store_blob_put(s, missing, "orphan", 6, "nope") == -ENOENT);
	CHECK(store_blob_exists(s, missing) == 1);
	CHECK_RC(store_gc(s, NULL));
	CHECK(store_blob_exists(s, missing) == 0 && store_blob_exists(s, blob) == 0);
	store_close(s);
}

TEST(store_lease_persists_temporary_does_not)
{
	struct store *s = ts_open();
	char kept[DIGEST_STR_SIZE], dropped[DIGEST_STR_SIZE];
	struct store_open_report rep;
	struct store_lease_info *v;
	size_t n;

	CHECK_RC(store_lease_create(s, "ctr", "sandboxd", 0));
	CHECK_RC(store_lease_create(s, "pull", "pull", STORE_LEASE_TEMPORARY));
	ts_blob(s, "held by ctr", "ctr", kept);
	ts_blob(s, "held by pull", "pull", dropped);
	store_close(s);

	CHECK_RC(store_open(unit_tmpdir(), &s, &rep));
	CHECK(rep.leases_dropped == 1 && rep.gc.blobs_removed == 1);
	CHECK(store_blob_exists(s, kept) == 1 && store_blob_exists(s, dropped) == 0);
	CHECK_RC(store_lease_list(s, &v, &n));
	CHECK(n == 1 && strcmp(v[0].id, "ctr") == 0 && v[0].n_blobs == 1);
	store_lease_list_free(v, n);
	store_close(s);
}

TEST(store_gc_keeps_parent_of_held_layer)
{
	struct store *s = ts_open();
	char base[DIGEST_STR_SIZE], mid[DIGEST_STR_SIZE], top[DIGEST_STR_SIZE];
	char stray[DIGEST_STR_SIZE];
	struct store_gc_stats gs;

	ts_layer(s, "base", NULL, NULL, base);
	ts_layer(s, "mid", base, NULL, mid);
	ts_layer(s, "top", mid, NULL, top);
	ts_layer(s, "stray", NULL, NULL, stray);
	CHECK_RC(store_lease_create(s, "l", "", 0));
	CHECK_RC(store_lease_add_layer(s, "l", top));
	CHECK_RC(store_gc(s, &gs));
	CHECK(gs.layers_removed == 1 && store_layer_exists(s, stray) == 0);
	CHECK(store_layer_exists(s, base) == 1 && store_layer_exists(s, mid) == 1);
	CHECK_RC(store_lease_release(s, "l"));
	CHECK_RC(store_gc(s, &gs));
	CHECK(gs.layers_removed == 3 && ts_count("layers/sha256") == 0);
	store_close(s);
}
