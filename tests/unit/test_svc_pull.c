/*
 * test_svc_pull: PullImage (imaged/svc_pull*.c) against the scripted
 * registry, through the real store and the confined unpack child (this
 * binary is the child, see test_unpack_child.c): the record (id, names as
 * containerd gives them, user, annotations, layers), a second pull
 * downloading nothing, and every refusal with its gRPC status: content
 * that does not match its digest or the config's diff_ids, a config that
 * lists the wrong layers or is too big, hostile layers, an expansion bomb,
 * a stalled registry (deadline, stall timeout, cancel), a full disk, a
 * missing image and refused credentials. After each failure: no image,
 * nothing in tmp/, no lease, and the pull's blobs collected.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "common/status.h"
#include "tests/unit/test_svc_lib.h"
#include "tests/unit/unit.h"

static const struct tl_entry base_entries[] = {
	{ .name = "bin", .type = S_IFDIR, .mode = 0755 },
	{ .name = "bin/hello", .mode = 0755, .data = "#!/bin/sh\necho hi\n", .size = 18 },
	{ .name = "etc", .type = S_IFDIR, .mode = 0755 },
	{ .name = "etc/passwd", .data = "root:x:0:0::/:/bin/sh\n", .size = 22 },
};

static const struct tl_entry top_entries[] = {
	{ .name = "etc/top", .data = "top\n", .size = 4 },
	{ .name = "etc/.wh.passwd", .size = 0 },
};

/* A two-layer image, gzip'ed base and plain top. */
static void two_layers(struct ti_image *img, const char *user)
{
	memset(img, 0, sizeof *img);
	ti_layer_tar(&img->layers[0], base_entries, 4, true);
	ti_layer_tar(&img->layers[1], top_entries, 2, false);
	img->n_layers = 2;
	ti_image_finish(img, user, NULL, 0, NULL);
}

static void check_clean_after_failure(struct svc *s)
{
	CHECK(ti_count("tmp") == 0);
	CHECK(ti_leases(s) == 0);
	CHECK(ti_count("blobs/sha256") == 0);
	CHECK(ti_count("layers/sha256") == 0);
	struct store_image **v = NULL;
	size_t n = 0;
	CHECK_RC(store_image_list(s->store, NULL, &v, &n));
	CHECK(n == 0);
	store_image_list_free(v, n);
}

TEST(svc_pull_records_the_image_as_containerd)
{
	static struct ti_image img;
	two_layers(&img, "1000:1000");
	struct fake_rule rules[TI_RULES_MAX];
	size_t n = 0;
	ti_rules(&img, "app", "v1", rules, &n);
	struct fake_server f;
	CHECK_RC(fake_start(rules, n, &f));
	struct crisp_config cfg;
	struct svc *s = ti_open(&cfg, NULL);
	char ref[300], id[DIGEST_STR_SIZE];
	struct svc_error err;
	ti_ref(&f, "app:v1", ref, sizeof ref);
	const char *ann[] = { "io.example/owner=team-a", "k=v", NULL };
	CHECK_RC(ti_pull(s, ref, ann, NULL, 0, id, &err));
	CHECK(strcmp(id, img.config_digest) == 0);

	struct store_image *im = NULL;
	CHECK_RC(svc_image_find(s, ref, &im));
	CHECK(strcmp(im->id, img.config_digest) == 0);
	CHECK(strcmp(im->manifest_digest, img.digest) == 0);
	CHECK(im->n_repo_tags == 1 && strcmp(im->repo_tags[0], ref) == 0);
	char want[400];
	snprintf(want, sizeof want, "%s/test/app@%s", f.host, img.digest);
	CHECK(im->n_repo_digests == 1 && strcmp(im->repo_digests[0], want) == 0);
	CHECK(im->uid == 1000 && im->username == NULL);
	CHECK(im->n_layers == 2);
	CHECK(strcmp(im->layers[0].chain_id, img.layers[0].diff_id) == 0);
	CHECK(strcmp(im->layers[1].diff_id, img.layers[1].diff_id) == 0);
	CHECK(im->n_annotations == 2);
	CHECK(im->size > img.layers[0].blob_len + img.layers[1].blob_len);
	/* the layers are on disk: the whiteout is a 0/0 char device */
	char *diff = NULL;
	struct stat st;
	CHECK_RC(store_layer_diff_path_of(s->store, im->layers[1].chain_id, &diff));
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/etc/passwd", diff);
	CHECK(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0);
	free(diff);
	store_image_free(im);
	CHECK(ti_count("tmp") == 0 && ti_leases(s) == 0);

	/* by the repo digest: the same image, no tag added, nothing fetched
	 * again but the manifest */
	int layer_gets = fake_count(&f, img.layers[0].digest, NULL);
	CHECK(layer_gets == 1);
	CHECK_RC(ti_pull(s, want, NULL, NULL, 0, id, &err));
	CHECK(strcmp(id, img.config_digest) == 0);
	CHECK(fake_count(&f, img.layers[0].digest, NULL) == 1);
	CHECK(fake_count(&f, img.config_digest, NULL) == 1);
	CHECK_RC(svc_image_find(s, img.config_digest, &im));
	CHECK(im->n_repo_tags == 1 && im->n_repo_digests == 1);
	store_image_free(im);
	ti_close(s, &cfg);
	fake_stop(&f);
}

TEST(svc_pull_user_by_name_and_none)
{
	static struct ti_image a, b;
	two_layers(&a, "nobody:nogroup");
	two_layers(&b, NULL);
	/* distinct configs: the user differs */
	struct fake_rule rules[TI_RULES_MAX];
	size_t n = 0;
	ti_rules(&a, "a", "1", rules, &n);
	ti_rules(&b, "b", "1", rules, &n);
	struct fake_server f;
	CHECK_RC(fake_start(rules, n, &f));
	struct crisp_config cfg;
	struct svc *s = ti_open(&cfg, NULL);
	char ref[300], id[DIGEST_STR_SIZE];
	struct svc_error err;
	struct store_image *im;
	ti_ref(&f, "a:1", ref, sizeof ref);
	CHECK_RC(ti_pull(s, ref, NULL, NULL, 0, id, &err));
	CHECK_RC(svc_image_find(s, id, &im));
	CHECK(im->uid == STORE_UID_NONE && im->username && strcmp(im->username, "nobody") == 0);
	store_image_free(im);
	ti_ref(&f, "b:1", ref, sizeof ref);
	CHECK_RC(ti_pull(s, ref, NULL, NULL, 0, id, &err));
	CHECK_RC(svc_image_find(s, id, &im));
	CHECK(im->uid == STORE_UID_NONE && im->username == NULL);
	store_image_free(im);
	ti_close(s, &cfg);
	fake_stop(&f);
}

/* One failing pull: its status, its message mentions want, nothing left. */
static void expect_failure(struct ti_image *img, void (*edit)(struct crisp_config *c),
			   int code, const char *want)
{
	struct fake_rule rules[TI_RULES_MAX];
	size_t n = 0;
	ti_rules(img, "bad", "1", rules, &n);
	struct fake_server f;
	CHECK_RC(fake_start(rules, n, &f));
	struct crisp_config cfg;
	struct svc *s = ti_open(&cfg, edit);
	char ref[300], id[DIGEST_STR_SIZE];
	struct svc_error err;
	ti_ref(&f, "bad:1", ref, sizeof ref);
	CHECK(ti_pull(s, ref, NULL, NULL, 0, id, &err) < 0);
	if (err.code != code || !strstr(err.msg, want))
		fprintf(stderr, "  wanted code %d and \"%s\"\n", code, want);
	CHECK(err.code == code && strstr(err.msg, want));
	check_clean_after_failure(s);
	ti_close(s, &cfg);
	fake_stop(&f);
}

TEST(svc_pull_diff_id_mismatch_is_data_loss)
{
	static struct ti_image img;
	memset(&img, 0, sizeof img);
	ti_layer_tar(&img.layers[0], base_entries, 4, true);
	ti_layer_tar(&img.layers[1], top_entries, 2, true);
	img.n_layers = 2;
	char ids[2][DIGEST_STR_SIZE];
	memcpy(ids[0], img.layers[0].diff_id, DIGEST_STR_SIZE);
	memcpy(ids[1], img.layers[0].diff_id, DIGEST_STR_SIZE);    /* wrong */
	ti_image_finish(&img, "0", ids, 2, NULL);
	expect_failure(&img, NULL, CRISP_STATUS_DATA_LOSS, img.layers[1].digest);
}

TEST(svc_pull_blob_that_is_not_its_digest_is_data_loss)
{
	static struct ti_image img;
	two_layers(&img, "0");
	img.layers[1].blob[img.layers[1].blob_len - 1] ^= 1;      /* served, not described */
	expect_failure(&img, NULL, CRISP_STATUS_DATA_LOSS, img.layers[1].digest);
}

TEST(svc_pull_config_listing_other_layers_is_refused)
{
	static struct ti_image img;
	memset(&img, 0, sizeof img);
	ti_layer_tar(&img.layers[0], base_entries, 4, true);
	img.n_layers = 1;
	char ids[2][DIGEST_STR_SIZE];
	memcpy(ids[0], img.layers[0].diff_id, DIGEST_STR_SIZE);
	memcpy(ids[1], img.layers[0].diff_id, DIGEST_STR_SIZE);
	ti_image_finish(&img, "0", ids, 2, NULL);
	expect_failure(&img, NULL, CRISP_STATUS_INVALID_ARGUMENT, "2 diff_ids");
}

static void small_manifest_cap(struct crisp_config *c)
{
	c->max_manifest_size = 4096;
}

TEST(svc_pull_config_over_the_cap_is_resource_exhausted)
{
	static struct ti_image img;
	memset(&img, 0, sizeof img);
	ti_layer_tar(&img.layers[0], base_entries, 4, true);
	img.n_layers = 1;
	static char pad[6000];
	memset(pad, 'x', sizeof pad - 1);
	char *extra;
	CHECK(asprintf(&extra, ",\"padding\":\"%s\"", pad) > 0);
	ti_image_finish(&img, "0", NULL, 0, extra);
	free(extra);
	expect_failure(&img, small_manifest_cap, CRISP_STATUS_RESOURCE_EXHAUSTED, "cap");
}

TEST(svc_pull_hostile_layer_is_invalid_argument)
{
	static struct ti_image img;
	static const struct tl_entry evil[] = {
		{ .name = "../../escape", .data = "x", .size = 1 },
	};
	memset(&img, 0, sizeof img);
	ti_layer_tar(&img.layers[0], evil, 1, true);
	img.n_layers = 1;
	ti_image_finish(&img, "0", NULL, 0, NULL);
	expect_failure(&img, NULL, CRISP_STATUS_INVALID_ARGUMENT, img.layers[0].digest);
}

TEST(svc_pull_unknown_layer_media_type_is_refused)
{
	static struct ti_image img;
	memset(&img, 0, sizeof img);
	ti_layer_tar(&img.layers[0], base_entries, 4, true);
	img.layers[0].media_type = "application/vnd.example.weird";
	img.n_layers = 1;
	ti_image_finish(&img, "0", NULL, 0, NULL);
	expect_failure(&img, NULL, CRISP_STATUS_INVALID_ARGUMENT, "media type");
}

/* gzip of a tar holding one file of `zeros` zero bytes, made in memory. */
static void zero_bomb(struct ti_layer *l, uint64_t zeros)
{
	char hdr[512] = { 0 };
	snprintf(hdr, 100, "zeros");
	snprintf(hdr + 100, 8, "0000644");
	snprintf(hdr + 108, 8, "0000000");
	snprintf(hdr + 116, 8, "0000000");
	snprintf(hdr + 124, 12, "%011llo", (unsigned long long)zeros);
	snprintf(hdr + 136, 12, "%011o", 0);
	hdr[156] = '0';
	memcpy(hdr + 257, "ustar", 6);
	memcpy(hdr + 263, "00", 2);
	memset(hdr + 148, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += (unsigned char)hdr[i];
	snprintf(hdr + 148, 8, "%06o", sum);
	z_stream z = { 0 };
	CHECK(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) == Z_OK);
	size_t cap = 8 << 20, len = 0;
	char *out = malloc(cap);
	static char zero[1 << 20];
	CHECK(out);
	for (uint64_t left = zeros + 512;;) {
		const char *in = left == zeros + 512 ? hdr : zero;
		size_t chunk = in == hdr ? 512 : (left < sizeof zero ? (size_t)left : sizeof zero);
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)chunk;
		left -= chunk;
		int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			z.next_out = (Bytef *)out + len;
			z.avail_out = (uInt)(cap - len);
			CHECK(deflate(&z, flush) != Z_STREAM_ERROR);
			len = cap - z.avail_out;
			CHECK(len < cap);
		} while (z.avail_in > 0);
		if (flush == Z_FINISH)
			break;
	}
	deflateEnd(&z);
	ti_layer_raw(l, out, len, "application/vnd.oci.image.layer.v1.tar+gzip");
	free(out);
}

TEST(svc_pull_expansion_bomb_is_refused_early)
{
	static struct ti_image img;
	memset(&img, 0, sizeof img);
	zero_bomb(&img.layers[0], UINT64_C(1) << 30);      /* 1 GiB of zeros, ~1 MiB */
	img.n_layers = 1;
	ti_image_finish(&img, "0", NULL, 0, NULL);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	expect_failure(&img, NULL, CRISP_STATUS_RESOURCE_EXHAUSTED, "expands");
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(b.tv_sec - a.tv_sec < 20);
}

static void small_layer_cap(struct crisp_config *c)
{
	c->max_layer_size = 1u << 20;
}

TEST(svc_pull_layer_over_max_layer_size_is_refused)
{
	static struct ti_image img;
	memset(&img, 0, sizeof img);
	zero_bomb(&img.layers[0], 3u << 20);
	img.n_layers = 1;
	ti_image_finish(&img, "0", NULL, 0, NULL);
	expect_failure(&img, small_layer_cap, CRISP_STATUS_RESOURCE_EXHAUSTED, "");
}

TEST(svc_pull_missing_image_is_not_found)
{
	static struct ti_image img;
	two_layers(&img, "0");
	struct fake_rule rules[TI_RULES_MAX];
	size_t n = 0;
	ti_rules(&img, "app", "v1", rules, &n);
	rules[n++] = (struct fake_rule){ .path = "/v2/test/locked/", .status = 401,
					 .headers = "WWW-Authenticate: Basic realm=\"x\"\r\n" };
	rules[n++] = (struct fake_rule){ .path = "/v2/test/denied/", .status = 403 };
	struct fake_server f;
	CHECK_RC(fake_start(rules, n, &f));
	struct crisp_config cfg;
	struct svc *s = ti_open(&cfg, NULL);
	char ref[300], id[DIGEST_STR_SIZE];
	struct svc_error err;
	ti_ref(&f, "app:nosuchtag", ref, sizeof ref);
	CHECK(ti_pull(s, ref, NULL, NULL, 0, id, &err) < 0 && err.code == CRISP_STATUS_NOT_FOUND);
	ti_ref(&f, "locked:1", ref, sizeof ref);
	CHECK(ti_pull(s, ref, NULL, NULL, 0, id, &err) < 0 &&
	      err.code == CRISP_STATUS_UNAUTHENTICATED);
	ti_ref(&f, "denied:1", ref, sizeof ref);
	CHECK(ti_pull(s, ref, NULL, NULL, 0, id, &err) < 0 &&
	      err.code == CRISP_STATUS_PERMISSION_DENIED);
	CHECK(ti_pull(s, "Not A Reference", NULL, NULL, 0, id, &err) < 0 &&
	      err.code == CRISP_STATUS_INVALID_ARGUMENT);
	CHECK(ti_pull(s, "", NULL, NULL, 0, id, &err) < 0 &&
	      err.code == CRISP_STATUS_INVALID_ARGUMENT);
	check_clean_after_failure(s);
	ti_close(s, &cfg);
	fake_stop(&f);
}

/* A registry that stalls in the middle of the top layer. */
static struct svc *stalled(struct fake_server *f, struct crisp_config *cfg,
			   void (*edit)(struct crisp_config *c))
{
	static struct ti_image img;
	two_layers(&img, "0");
	struct fake_rule rules[TI_RULES_MAX];
	size_t n = 0;
	ti_rules(&img, "slow", "1", rules, &n);
	rules[n - 1].act = FAKE_STALL;
	rules[n - 1].cut_after = 100;
	CHECK_RC(fake_start(rules, n, f));
	return ti_open(cfg, edit);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TEST(svc_pull_past_the_deadline_is_deadline_exceeded)
{
	struct fake_server f;
	struct crisp_config cfg;
	struct svc *s = stalled(&f, &cfg, NULL);
	char ref[300], id[DIGEST_STR_SIZE];
	struct svc_error err;
	ti_ref(&f, "slow:1", ref, sizeof ref);
	int64_t start = mono_ms();
	CHECK(ti_pull(s, ref, NULL, NULL, start + 1500, id, &err) < 0);
	CHECK(err.code == CRISP_STATUS_DEADLINE_EXCEEDED);
	CHECK(mono_ms() - start < 5000);
	check_clean_after_failure(s);
	ti_close(s, &cfg);
	fake_stop(&f);
}

static void short_stall(struct crisp_config *c)
{
	c->stall_timeout = 1;
}

TEST(svc_pull_stalled_registry_is_deadline_exceeded)
{
	struct fake_server f;
	struct crisp_config cfg;
	struct svc *s = stalled(&f, &cfg, short_stall);
	char ref[300], id[DIGEST_STR_SIZE];
	struct svc_error err;
	ti_ref(&f, "slow:1", ref, sizeof ref);
	int64_t start = mono_ms();
	CHECK(ti_pull(s, ref, NULL, NULL, 0, id, &err) < 0);
	CHECK(err.code == CRISP_STATUS_DEADLINE_EXCEEDED);
	CHECK(mono_ms() - start >= 900 && mono_ms() - start < 8000);
	check_clean_after_failure(s);
	ti_close(s, &cfg);
	fake_stop(&f);
}

static void *cancel_soon(void *arg)
{
	usleep(800 * 1000);
	atomic_store((atomic_bool *)arg, true);
	return NULL;
}

TEST(svc_pull_cancelled_stops_the_transfer)
{
	struct fake_server f;
	struct crisp_config cfg;
	struct svc *s = stalled(&f, &cfg, NULL);
	char ref[300], id[DIGEST_STR_SIZE];
	struct svc_error err;
	ti_ref(&f, "slow:1", ref, sizeof ref);
	static atomic_bool cancel;
	atomic_init(&cancel, false);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, cancel_soon, &cancel) == 0);
	int64_t start = mono_ms();
	CHECK(ti_pull(s, ref, NULL, &cancel, 0, id, &err) < 0);
	pthread_join(t, NULL);
	CHECK(err.code == CRISP_STATUS_CANCELLED);
	CHECK(mono_ms() - start < 5000);
	check_clean_after_failure(s);
	ti_close(s, &cfg);
	fake_stop(&f);
}

/* ROOT on a 2 MiB tmpfs (in a mount namespace of this test's own): a
 * layer that does not fit is RESOURCE_EXHAUSTED, and the next, smaller
 * pull works. */
TEST(svc_pull_full_disk_is_resource_exhausted)
{
	char root[PATH_MAX];
	snprintf(root, sizeof root, "%s/root", unit_tmpdir());
	CHECK(mkdir(root, 0711) == 0);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", root, "tmpfs", 0, "size=2m,mode=0711") < 0) {
		fprintf(stderr, "  no tmpfs here: %m\n");
		return;
	}
	static struct ti_image big, small;
	static char noise[3 << 20];
	for (size_t i = 0; i < sizeof noise; i++)
		noise[i] = (char)(rand() & 0xff);      /* gzip cannot shrink it */
	memset(&big, 0, sizeof big);
	struct tl_entry e = { .name = "noise", .data = noise, .size = sizeof noise };
	ti_layer_tar(&big.layers[0], &e, 1, true);
	big.n_layers = 1;
	ti_image_finish(&big, "0", NULL, 0, NULL);
	two_layers(&small, "0");
	struct fake_rule rules[TI_RULES_MAX];
	size_t n = 0;
	ti_rules(&big, "big", "1", rules, &n);
	ti_rules(&small, "small", "1", rules, &n);
	struct fake_server f;
	CHECK_RC(fake_start(rules, n, &f));
	struct crisp_config cfg;
	struct svc *s = ti_open(&cfg, NULL);
	char ref[300], id[DIGEST_STR_SIZE];
	struct svc_error err;
	ti_ref(&f, "big:1", ref, sizeof ref);
	CHECK(ti_pull(s, ref, NULL, NULL, 0, id, &err) < 0);
	CHECK(err.code == CRISP_STATUS_RESOURCE_EXHAUSTED);
	check_clean_after_failure(s);
	ti_ref(&f, "small:1", ref, sizeof ref);
	CHECK_RC(ti_pull(s, ref, NULL, NULL, 0, id, &err));
	ti_close(s, &cfg);
	fake_stop(&f);
	umount2(root, MNT_DETACH);
}
