/*
 * test_svc_lib: the helpers of test_svc_lib.h. Test code only: every
 * failure here ends the test (CHECK).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "imaged/registry.h"
#include "tests/unit/test_svc_lib.h"
#include "tests/unit/unit.h"

#define MT_GZ "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_CFG "application/vnd.oci.image.config.v1+json"

static unsigned layer_seq;

void ti_layer_tar(struct ti_layer *l, const struct tl_entry *entries, size_t n, bool gz)
{
	char tar[PATH_MAX], out[PATH_MAX + 8];
	snprintf(tar, sizeof tar, "%s/layer%u.tar", unit_tmpdir(), layer_seq++);
	struct archive *a = tl_tar_open(tar);
	for (size_t i = 0; i < n; i++)
		tl_add(a, &entries[i]);
	tl_close(a);
	tl_sha256_file(tar, l->diff_id);
	snprintf(out, sizeof out, "%s.gz", tar);
	if (gz)
		tl_gzip_file(tar, out);
	l->blob = tl_read_file(gz ? out : tar, &l->blob_len);
	CHECK(l->blob);
	fake_digest(l->blob, l->blob_len, l->digest);
	l->media_type = gz ? MT_GZ : MT_TAR;
}

void ti_layer_raw(struct ti_layer *l, const void *blob, size_t len, const char *media_type)
{
	l->blob = malloc(len ? len : 1);
	CHECK(l->blob);
	memcpy(l->blob, blob, len);
	l->blob_len = len;
	fake_digest(blob, len, l->digest);
	memcpy(l->diff_id, l->digest, DIGEST_STR_SIZE);
	l->media_type = media_type ? media_type : MT_TAR;
}

void ti_image_finish(struct ti_image *img, const char *user, char (*diff_ids)[DIGEST_STR_SIZE],
		     size_t n_diff_ids, const char *extra)
{
	char ids[TI_LAYERS_MAX * (DIGEST_STR_SIZE + 4)] = "", layers[TI_LAYERS_MAX * 300] = "";
	size_t n = diff_ids ? n_diff_ids : img->n_layers;
	for (size_t i = 0; i < n; i++) {
		const char *d = diff_ids ? diff_ids[i] : img->layers[i].diff_id;
		snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s\"%s\"", i ? "," : "", d);
	}
	for (size_t i = 0; i < img->n_layers; i++)
		snprintf(layers + strlen(layers), sizeof layers - strlen(layers),
			 "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}", i ? "," : "",
			 img->layers[i].media_type, img->layers[i].digest, img->layers[i].blob_len);
	char userj[300] = "";
	if (user)
		snprintf(userj, sizeof userj, ",\"User\":\"%s\"", user);
	CHECK(asprintf(&img->config, "{\"architecture\":\"amd64\",\"os\":\"linux\","
		       "\"config\":{\"Cmd\":[\"/bin/sh\"]%s},\"rootfs\":{\"type\":\"layers\","
		       "\"diff_ids\":[%s]}%s}", userj, ids, extra ? extra : "") > 0);
	fake_digest(img->config, strlen(img->config), img->config_digest);
	CHECK(asprintf(&img->manifest, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":"
		       "{\"mediaType\":\"" MT_CFG "\",\"digest\":\"%s\",\"size\":%zu},"
		       "\"layers\":[%s]}", REGISTRY_MT_OCI_MANIFEST, img->config_digest,
		       strlen(img->config), layers) > 0);
	fake_digest(img->manifest, strlen(img->manifest), img->digest);
	snprintf(img->hdr, sizeof img->hdr, "Content-Type: %s\r\nDocker-Content-Digest: %s\r\n",
		 REGISTRY_MT_OCI_MANIFEST, img->digest);
}

void ti_rules(struct ti_image *img, const char *repo, const char *tag, struct fake_rule *rules,
	      size_t *n)
{
	CHECK(*n + 3 + img->n_layers <= TI_RULES_MAX);
	snprintf(img->paths[0], sizeof img->paths[0], "/v2/test/%s/manifests/%s", repo, tag);
	snprintf(img->paths[1], sizeof img->paths[1], "/v2/test/%s/manifests/%s", repo,
		 img->digest);
	snprintf(img->paths[2], sizeof img->paths[2], "/v2/test/%s/blobs/%s", repo,
		 img->config_digest);
	rules[(*n)++] = (struct fake_rule){ .path = img->paths[0], .status = 200,
					    .headers = img->hdr, .body = img->manifest };
	rules[(*n)++] = (struct fake_rule){ .path = img->paths[1], .status = 200,
					    .headers = img->hdr, .body = img->manifest };
	rules[(*n)++] = (struct fake_rule){ .path = img->paths[2], .status = 200,
					    .body = img->config };
	for (size_t i = 0; i < img->n_layers; i++) {
		snprintf(img->paths[3 + i], sizeof img->paths[3 + i], "/v2/test/%s/blobs/%s", repo,
			 img->layers[i].digest);
		rules[(*n)++] = (struct fake_rule){ .path = img->paths[3 + i], .status = 200,
						    .body = img->layers[i].blob,
						    .body_len = img->layers[i].blob_len };
	}
}

struct svc *ti_open(struct crisp_config *cfg, void (*cfg_edit)(struct crisp_config *c))
{
	char root[PATH_MAX];
	snprintf(root, sizeof root, "%s/root", unit_tmpdir());
	CHECK(mkdir(root, 0711) == 0 || errno == EEXIST);
	CHECK_RC(config_init(cfg));
	free(cfg->root);
	cfg->root = strdup(root);
	CHECK(cfg->root);
	cfg->connect_timeout = 2;
	cfg->stall_timeout = 10;
	cfg->max_retries = 1;
	if (cfg_edit)
		cfg_edit(cfg);
	struct svc *s = NULL;
	struct svc_error err = { 0 };
	int r = svc_open(cfg, &s, &err);
	if (r == 0)
		r = svc_start(s, &err);
	if (r < 0)
		fprintf(stderr, "  svc: %s\n", err.msg);
	CHECK_RC(r);
	return s;
}

void ti_close(struct svc *s, struct crisp_config *cfg)
{
	svc_close(s);
	config_free(cfg);
}

int ti_pull(struct svc *s, const char *ref, const char *const *annotations,
	    const atomic_bool *cancel, int64_t deadline_ms, char ret_id[DIGEST_STR_SIZE],
	    struct svc_error *err)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__PullImageRequest rq = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	Runtime__V1__ImageSpec__AnnotationsEntry e[8], *ep[8];
	char kv[8][256];
	spec.image = (char *)ref;
	for (size_t i = 0; annotations && annotations[i] && i < 8; i++) {
		runtime__v1__image_spec__annotations_entry__init(&e[i]);
		snprintf(kv[i], sizeof kv[i], "%s", annotations[i]);
		char *eq = strchr(kv[i], '=');
		CHECK(eq);
		*eq = '\0';
		e[i].key = kv[i];
		e[i].value = eq + 1;
		ep[i] = &e[i];
		spec.n_annotations = i + 1;
	}
	spec.annotations = ep;
	rq.image = &spec;
	*err = (struct svc_error){ 0 };
	int r = svc_pull(s, &rq, cancel, deadline_ms, ret_id, err);
	if (r < 0)
		fprintf(stderr, "  pull %s: %d code %d: %s\n", ref, r, err->code, err->msg);
	return r;
}

void ti_ref(const struct fake_server *f, const char *repo_tag, char *buf, size_t len)
{
	snprintf(buf, len, "%s/test/%s", f->host, repo_tag);
}

int ti_count(const char *sub)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/root/images/%s", unit_tmpdir(), sub);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

size_t ti_leases(struct svc *s)
{
	struct store_lease_info *v = NULL;
	size_t n = 0;
	CHECK_RC(store_lease_list(s->store, &v, &n));
	store_lease_list_free(v, n);
	return n;
}
