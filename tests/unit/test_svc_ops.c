/*
 * test_svc_ops: the image service's other calls on a pulled image:
 * ImageStatus (by id, prefix, tag in short and long form, repo digest; an
 * unknown image is an empty answer; verbose JSON), ListImages with and
 * without a filter, RemoveImage (all names, idempotent, pinned refused,
 * content collected), ImageFsInfo (both filesystems, a file written under
 * ROOT/containers counted), leases (create, hold an image across its
 * removal, release, imaged's own ids refused), and the worker pool.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/status.h"
#include "imaged/svc_config.h"
#include "common/pool.h"
#include "tests/unit/test_svc_lib.h"
#include "tests/unit/unit.h"

static const struct tl_entry one_file[] = {
	{ .name = "hello", .data = "hello\n", .size = 6 },
};

struct world {
	struct fake_server f;
	struct crisp_config cfg;
	struct svc *s;
	struct ti_image img;
	char ref[300];
	char id[DIGEST_STR_SIZE];
};

static char pinned_ref[300];

static void pin_it(struct crisp_config *c)
{
	c->pinned_images[0] = strdup(pinned_ref);
	c->n_pinned = 1;
}

/* One image on the fake registry as test/app:v1, pulled. */
static void world_up(struct world *w, bool pinned)
{
	memset(&w->img, 0, sizeof w->img);
	ti_layer_tar(&w->img.layers[0], one_file, 1, true);
	w->img.n_layers = 1;
	ti_image_finish(&w->img, "app", NULL, 0, NULL);
	struct fake_rule rules[TI_RULES_MAX];
	size_t n = 0;
	ti_rules(&w->img, "app", "v1", rules, &n);
	CHECK_RC(fake_start(rules, n, &w->f));
	ti_ref(&w->f, "app:v1", w->ref, sizeof w->ref);
	snprintf(pinned_ref, sizeof pinned_ref, "%s", w->ref);
	w->s = ti_open(&w->cfg, pinned ? pin_it : NULL);
	struct svc_error err;
	CHECK_RC(ti_pull(w->s, w->ref, NULL, NULL, 0, w->id, &err));
}

static void world_down(struct world *w)
{
	ti_close(w->s, &w->cfg);
	fake_stop(&w->f);
}

static Runtime__V1__ImageStatusResponse status_of(struct svc *s, const char *ref, bool verbose)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageStatusRequest rq = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__ImageStatusResponse resp;
	struct svc_error err;
	spec.image = (char *)ref;
	rq.image = &spec;
	rq.verbose = verbose;
	CHECK_RC(svc_status(s, &rq, &resp, &err));
	return resp;
}

TEST(svc_status_finds_every_name)
{
	static struct world w;
	world_up(&w, false);
	char short_id[20], digest_ref[400], name[300];
	snprintf(short_id, sizeof short_id, "%.12s", w.id + 7);
	snprintf(name, sizeof name, "%s/test/app", w.f.host);
	snprintf(digest_ref, sizeof digest_ref, "%s@%s", name, w.img.digest);
	const char *refs[] = { w.id, short_id, w.ref, digest_ref, name /* :latest? no */ };
	for (size_t i = 0; i < 4; i++) {
		Runtime__V1__ImageStatusResponse r = status_of(w.s, refs[i], false);
		if (!r.image)
			fprintf(stderr, "  %s not found\n", refs[i]);
		CHECK(r.image && strcmp(r.image->id, w.id) == 0);
		CHECK(r.image->n_repo_tags == 1 && strcmp(r.image->repo_tags[0], w.ref) == 0);
		CHECK(r.image->username && strcmp(r.image->username, "app") == 0 && !r.image->uid);
		CHECK(r.image->spec && strcmp(r.image->spec->image, w.id) == 0);
		CHECK(r.n_info == 0);
		svc_status_clear(&r);
	}
	/* NAME alone is NAME:latest, which is not there: an empty answer */
	Runtime__V1__ImageStatusResponse r = status_of(w.s, refs[4], false);
	CHECK(r.image == NULL);
	r = status_of(w.s, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
		      false);
	CHECK(r.image == NULL);
	r = status_of(w.s, "nosuch/image:1", false);
	CHECK(r.image == NULL);
	world_down(&w);
}

TEST(svc_status_verbose_is_json_with_the_config)
{
	static struct world w;
	world_up(&w, false);
	Runtime__V1__ImageStatusResponse r = status_of(w.s, w.ref, true);
	CHECK(r.image && r.n_info == 1 && strcmp(r.info[0]->key, "info") == 0);
	json_object *o = json_tokener_parse(r.info[0]->value);
	CHECK(o);
	json_object *v;
	CHECK(json_object_object_get_ex(o, "chainID", &v) &&
	      strcmp(json_object_get_string(v), w.img.layers[0].diff_id) == 0);
	CHECK(json_object_object_get_ex(o, "imageSpec", &v));
	json_object *cfg, *user;
	CHECK(json_object_object_get_ex(v, "config", &cfg) &&
	      json_object_object_get_ex(cfg, "User", &user) &&
	      strcmp(json_object_get_string(user), "app") == 0);
	CHECK(json_object_object_get_ex(o, "manifestDigest", &v) &&
	      strcmp(json_object_get_string(v), w.img.digest) == 0);
	json_object_put(o);
	svc_status_clear(&r);
	world_down(&w);
}

static size_t list_count(struct svc *s, const char *filter)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageFilter f = RUNTIME__V1__IMAGE_FILTER__INIT;
	Runtime__V1__Image **v = NULL;
	size_t n = 0;
	struct svc_error err;
	spec.image = (char *)filter;
	f.image = &spec;
	CHECK_RC(svc_list(s, filter ? &f : NULL, &v, &n, &err));
	svc_cri_images_free(v, n);
	return n;
}

TEST(svc_list_remove_and_gc)
{
	static struct world w;
	world_up(&w, false);
	CHECK(list_count(w.s, NULL) == 1);
	CHECK(list_count(w.s, w.ref) == 1);
	CHECK(list_count(w.s, "other/image:1") == 0);
	CHECK(ti_count("blobs/sha256") == 3 && ti_count("layers/sha256") == 1);
	struct svc_error err;
	CHECK_RC(svc_remove(w.s, w.ref, &err));
	CHECK(list_count(w.s, NULL) == 0);
	CHECK(ti_count("blobs/sha256") == 0 && ti_count("layers/sha256") == 0);
	/* again, and by id: an unknown image is fine */
	CHECK_RC(svc_remove(w.s, w.ref, &err));
	CHECK_RC(svc_remove(w.s, w.id, &err));
	CHECK(svc_remove(w.s, "", &err) < 0 && err.code == CRISP_STATUS_INVALID_ARGUMENT);
	world_down(&w);
}

TEST(svc_pinned_is_reported_and_not_removed)
{
	static struct world w;
	world_up(&w, true);
	Runtime__V1__ImageStatusResponse r = status_of(w.s, w.id, false);
	CHECK(r.image && r.image->pinned);
	svc_status_clear(&r);
	struct store_image *im;
	CHECK_RC(svc_image_find(w.s, w.id, &im));
	CHECK(im->pinned);                      /* the store's flag too */
	store_image_free(im);
	struct svc_error err;
	CHECK(svc_remove(w.s, w.id, &err) < 0 && err.code == CRISP_STATUS_FAILED_PRECONDITION);
	CHECK(list_count(w.s, NULL) == 1);
	world_down(&w);
}

TEST(svc_fsinfo_counts_both_filesystems)
{
	static struct world w;
	world_up(&w, false);
	Runtime__V1__ImageFsInfoResponse r;
	struct svc_error err;
	CHECK_RC(svc_fsinfo(w.s, &r, &err));
	CHECK(r.n_image_filesystems == 1 && r.n_container_filesystems == 1);
	Runtime__V1__FilesystemUsage *im = r.image_filesystems[0], *co = r.container_filesystems[0];
	char want[4096];
	snprintf(want, sizeof want, "%s/root/images", unit_tmpdir());
	CHECK(strcmp(im->fs_id->mountpoint, want) == 0);
	CHECK(im->timestamp > 0 && im->used_bytes->value > 0 && im->inodes_used->value > 5);
	snprintf(want, sizeof want, "%s/root/containers", unit_tmpdir());
	CHECK(strcmp(co->fs_id->mountpoint, want) == 0);
	CHECK(co->timestamp > 0 && co->inodes_used->value == 1);      /* the dir itself */
	uint64_t before = co->used_bytes->value;
	svc_fsinfo_clear(&r);
	/* a writable layer's file, and a hard link to it (counted once) */
	char p[4200], q[4200];
	snprintf(p, sizeof p, "%s/file", want);
	static char data[256 * 1024];
	tl_write_file(p, data, sizeof data);
	snprintf(q, sizeof q, "%s/link", want);
	CHECK(link(p, q) == 0);
	sleep(STORE_USAGE_CACHE_MS / 1000 + 1);
	CHECK_RC(svc_fsinfo(w.s, &r, &err));
	co = r.container_filesystems[0];
	CHECK(co->inodes_used->value == 2);
	CHECK(co->used_bytes->value >= before + sizeof data &&
	      co->used_bytes->value < before + 2 * sizeof data);
	svc_fsinfo_clear(&r);
	world_down(&w);
}

static int lease_call(struct svc *s, int kind, const char *id, const char *image,
		      Crisp__Lease *ret, struct svc_error *err)
{
	Crisp__LeaseCreate c = CRISP__LEASE_CREATE__INIT;
	Crisp__LeaseAdd a = CRISP__LEASE_ADD__INIT;
	Crisp__LeaseRelease r = CRISP__LEASE_RELEASE__INIT;
	c.id = a.id = r.id = (char *)id;
	c.holder = (char *)"container c1";
	a.image = (char *)image;
	return kind == 0 ? svc_lease_create(s, &c, ret, err) :
	       kind == 1 ? svc_lease_add(s, &a, ret, err) : svc_lease_release(s, &r, ret, err);
}

TEST(svc_lease_holds_layers_past_remove)
{
	static struct world w;
	world_up(&w, false);
	Crisp__Lease l;
	struct svc_error err;
	CHECK_RC(lease_call(w.s, 0, "ctr-1", NULL, &l, &err));
	CHECK(strcmp(l.id, "ctr-1") == 0 && strcmp(l.holder, "container c1") == 0);
	CHECK(l.created_at > 0);
	svc_lease_clear(&l);
	CHECK(lease_call(w.s, 0, "ctr-1", NULL, &l, &err) < 0 &&
	      err.code == CRISP_STATUS_ALREADY_EXISTS);
	CHECK(lease_call(w.s, 0, "crisp-pull-1", NULL, &l, &err) < 0 &&
	      err.code == CRISP_STATUS_INVALID_ARGUMENT);
	CHECK(lease_call(w.s, 0, "has space", NULL, &l, &err) < 0 &&
	      err.code == CRISP_STATUS_INVALID_ARGUMENT);

	CHECK_RC(lease_call(w.s, 1, "ctr-1", w.ref, &l, &err));
	CHECK(l.n_images == 1 && strcmp(l.images[0], w.id) == 0);
	CHECK(l.n_layers == 1 && strcmp(l.layers[0], w.img.layers[0].diff_id) == 0);
	svc_lease_clear(&l);
	CHECK(lease_call(w.s, 1, "ctr-1", "nosuch:1", &l, &err) < 0 &&
	      err.code == CRISP_STATUS_NOT_FOUND);
	CHECK(lease_call(w.s, 1, "nolease", w.ref, &l, &err) < 0 &&
	      err.code == CRISP_STATUS_NOT_FOUND);

	Crisp__LeaseList ll;
	CHECK_RC(svc_lease_list(w.s, &ll, &err));
	CHECK(ll.n_leases == 1 && strcmp(ll.leases[0]->id, "ctr-1") == 0);
	svc_lease_list_clear(&ll);

	/* the image goes; its layer stays for the lease */
	CHECK_RC(svc_remove(w.s, w.ref, &err));
	CHECK(list_count(w.s, NULL) == 0);
	CHECK(store_layer_exists(w.s->store, w.img.layers[0].diff_id) == 1);
	CHECK(lease_call(w.s, 2, "crisp-pull-1", NULL, &l, &err) < 0);
	CHECK_RC(lease_call(w.s, 2, "ctr-1", NULL, &l, &err));
	CHECK(strcmp(l.id, "ctr-1") == 0);
	svc_lease_clear(&l);
	CHECK(store_layer_exists(w.s->store, w.img.layers[0].diff_id) == 0);
	CHECK(ti_count("blobs/sha256") == 0 && ti_count("layers/sha256") == 0);
	CHECK(lease_call(w.s, 2, "ctr-1", NULL, &l, &err) < 0 && err.code == CRISP_STATUS_NOT_FOUND);
	world_down(&w);
}

TEST(svc_ref_normalize_as_kubelet)
{
	char buf[REF_STRING_MAX];
	CHECK_RC(svc_ref_normalize("busybox", buf, sizeof buf));
	CHECK(strcmp(buf, "docker.io/library/busybox:latest") == 0);
	CHECK_RC(svc_ref_normalize("quay.io/a/b:1", buf, sizeof buf));
	CHECK(strcmp(buf, "quay.io/a/b:1") == 0);
	const char *d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	char in[200], want[200];
	snprintf(in, sizeof in, "busybox:1.36@%s", d);
	snprintf(want, sizeof want, "docker.io/library/busybox@%s", d);
	CHECK_RC(svc_ref_normalize(in, buf, sizeof buf));
	CHECK(strcmp(buf, want) == 0);
	CHECK(svc_ref_normalize("foo/Upper", buf, sizeof buf) == -EINVAL);
	CHECK(svc_ref_normalize("", buf, sizeof buf) == -EINVAL);
}

static int parse(const char *json, struct svc_image_config *c)
{
	struct svc_error err;
	return svc_config_parse(json, strlen(json), c, &err);
}

TEST(svc_config_parse_checks_what_it_uses)
{
	struct svc_image_config c;
	const char *d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	char ok[400];
	snprintf(ok, sizeof ok, "{\"config\":{\"User\":\"www:www\"},\"rootfs\":{\"type\":\"layers\","
		 "\"diff_ids\":[\"%s\",\"%s\"]}}\n", d, d);
	CHECK_RC(parse(ok, &c));
	CHECK(c.n_diff_ids == 2 && strcmp(c.diff_ids[1], d) == 0);
	CHECK(c.user && strcmp(c.user, "www:www") == 0);
	svc_config_clear(&c);
	CHECK_RC(parse("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":null}", &c));
	CHECK(c.n_diff_ids == 0 && c.user == NULL);
	svc_config_clear(&c);
	const char *bad[] = {
		"", "[]", "{}", "{\"rootfs\":{}}", "{\"rootfs\":{\"type\":\"layers\"}}",
		"{\"rootfs\":{\"type\":\"other\",\"diff_ids\":[]}}",
		"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"md5:x\"]}}",
		"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[1]}}",
		"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{\"User\":7}}",
		"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}} trailing",
		"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":[]}",
		NULL
	};
	for (size_t i = 0; bad[i]; i++) {
		if (parse(bad[i], &c) != -EPROTO)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(parse(bad[i], &c) == -EPROTO);
	}
	/* deep nesting is refused by the tokenizer, not by the stack */
	char deep[3000] = "{\"x\":";
	for (int i = 0; i < 1000; i++)
		strcat(deep, "[");
	CHECK(parse(deep, &c) == -EPROTO);
}

/* ---- the worker pool ---------------------------------------------------- */

struct job {
	struct pool_job j;
	atomic_bool cancel;
	atomic_int *ran, *dropped;
	bool wait_cancel;
};

static void job_run(struct pool_job *sj)
{
	struct job *j = (struct job *)sj;
	while (j->wait_cancel && !atomic_load(&j->cancel))
		usleep(1000);
	atomic_fetch_add(j->ran, 1);
	free(j);
}

static void job_drop(struct pool_job *sj)
{
	struct job *j = (struct job *)sj;
	atomic_fetch_add(j->dropped, 1);
	free(j);
}

static struct job *job_new(atomic_int *ran, atomic_int *dropped, bool wait_cancel)
{
	struct job *j = calloc(1, sizeof *j);
	CHECK(j);
	j->j = (struct pool_job){ .run = job_run, .drop = job_drop, .cancel = &j->cancel };
	atomic_init(&j->cancel, false);
	j->ran = ran;
	j->dropped = dropped;
	j->wait_cancel = wait_cancel;
	return j;
}

TEST(pool_runs_drops_and_cancels)
{
	static atomic_int ran, dropped;
	struct pool *p;
	CHECK_RC(pool_new("test-pool", 2, 4, &p));
	for (int i = 0; i < 4; i++)
		CHECK_RC(pool_submit(p, &job_new(&ran, &dropped, false)->j));
	for (int i = 0; i < 200 && atomic_load(&ran) < 4; i++)
		usleep(5000);
	CHECK(atomic_load(&ran) == 4);
	/* two that block until cancelled, then a full queue */
	CHECK_RC(pool_submit(p, &job_new(&ran, &dropped, true)->j));
	CHECK_RC(pool_submit(p, &job_new(&ran, &dropped, true)->j));
	usleep(50000);
	for (int i = 0; i < 4; i++)
		CHECK_RC(pool_submit(p, &job_new(&ran, &dropped, false)->j));
	struct job *extra = job_new(&ran, &dropped, false);
	CHECK(pool_submit(p, &extra->j) == -EAGAIN);
	free(extra);
	pool_free(p);               /* cancels the two, drops the four */
	CHECK(atomic_load(&ran) == 6 && atomic_load(&dropped) == 4);
	CHECK(pool_new("x", 0, 1, &p) == -EINVAL);
}

/* After pool_job_done the pool leaves a job's cancel flag alone (a request's
 * flag is freed with its answer); before it, stopping sets the flag. */
struct done_job {
	struct pool_job j;
	atomic_bool flag;
	atomic_int *touched_after_done;
	bool call_done;
};

static void done_job_run(struct pool_job *sj)
{
	struct done_job *j = (struct done_job *)sj;
	if (j->call_done) {
		pool_job_done(&j->j);
		usleep(300 * 1000);     /* the pool stops meanwhile */
		if (atomic_load(&j->flag))
			atomic_fetch_add(j->touched_after_done, 1);
	} else {
		while (!atomic_load(&j->flag))
			usleep(1000);
	}
	free(j);
}

TEST(pool_leaves_the_flag_after_job_done)
{
	static atomic_int touched;
	struct pool *p;
	CHECK_RC(pool_new("test-pool", 2, 4, &p));
	for (int i = 0; i < 2; i++) {
		struct done_job *j = calloc(1, sizeof *j);
		CHECK(j);
		j->j = (struct pool_job){ .run = done_job_run, .drop = NULL, .cancel = &j->flag };
		atomic_init(&j->flag, false);
		j->touched_after_done = &touched;
		j->call_done = i == 0;
		CHECK_RC(pool_submit(p, &j->j));
	}
	usleep(100 * 1000);
	pool_free(p);               /* returns only once the second was cancelled */
	CHECK(atomic_load(&touched) == 0);
}
