/*
 * image: crispctl's `image ls`, `image pull` and `image rm`, through the
 * CRI image calls on imaged's admin socket (MSG_IMG_LIST, MSG_IMG_PULL,
 * MSG_IMG_STATUS, MSG_IMG_REMOVE), so that what it shows is what kubelet
 * sees. Pull credentials (--user U:P) go in the request's AuthConfig and
 * are never printed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"

#define ID_SHORT 12

/* The hex of "sha256:<hex>" (or the text as it is), cut to n chars. */
static void short_digest(const char *d, char *buf, size_t n)
{
	const char *at = strrchr(d, '@');
	if (at)
		d = at + 1;
	if (!strncmp(d, "sha256:", 7))
		d += 7;
	snprintf(buf, n + 1, "%s", d);
}

static int by_first_tag(const void *a, const void *b)
{
	const Runtime__V1__Image *x = *(Runtime__V1__Image *const *)a;
	const Runtime__V1__Image *y = *(Runtime__V1__Image *const *)b;
	const char *tx = x->n_repo_tags ? x->repo_tags[0] : "~";
	const char *ty = y->n_repo_tags ? y->repo_tags[0] : "~";
	int c = strcmp(tx, ty);
	return c ? c : strcmp(x->id, y->id);
}

/* "a,b,c" or "<none>", malloc'ed. */
static char *tags_joined(const Runtime__V1__Image *im)
{
	size_t len = 7;
	for (size_t i = 0; i < im->n_repo_tags; i++)
		len += strlen(im->repo_tags[i]) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	strcpy(s, im->n_repo_tags ? "" : "<none>");
	for (size_t i = 0; i < im->n_repo_tags; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, im->repo_tags[i]);
	}
	return s;
}

static void image_row(const Runtime__V1__Image *im, int tags_width)
{
	char id[ID_SHORT + 1], dg[ID_SHORT + 1] = "<none>", size[32];
	char *tags = tags_joined(im);
	short_digest(im->id, id, ID_SHORT);
	if (im->n_repo_digests)
		short_digest(im->repo_digests[0], dg, ID_SHORT);
	ctl_human_size(im->size, size, sizeof size);
	printf("%-14s %-*s %-14s %s\n", id, tags_width, tags ? tags : "?", dg, size);
	free(tags);
}

int ctl_image_ls(struct ctl *c, int argc, char **argv)
{
	bool quiet = false;
	int o;
	while ((o = getopt(argc, argv, "q")) != -1) {
		if (o != 'q')
			return ctl_usage("image ls [-q]");
		quiet = true;
	}
	if (optind != argc)
		return ctl_usage("image ls [-q]");
	if (ctl_connect(c) < 0)
		return CTL_EXIT_FAIL;
	Runtime__V1__ListImagesRequest rq = RUNTIME__V1__LIST_IMAGES_REQUEST__INIT;
	Runtime__V1__ListImagesResponse *resp = NULL;
	if (ctl_call(c, CRISP__MSG_TYPE__MSG_IMG_LIST, &rq.base, -1,
		     &runtime__v1__list_images_response__descriptor, (ProtobufCMessage **)&resp) < 0)
		return CTL_EXIT_FAIL;
	qsort(resp->images, resp->n_images, sizeof *resp->images, by_first_tag);
	int width = 4;
	for (size_t i = 0; i < resp->n_images; i++) {
		char *t = tags_joined(resp->images[i]);
		if (t && (int)strlen(t) > width)
			width = (int)strlen(t);
		free(t);
	}
	if (!quiet)
		printf("%-14s %-*s %-14s %s\n", "IMAGE ID", width, "TAGS", "DIGEST", "SIZE");
	for (size_t i = 0; i < resp->n_images; i++) {
		if (quiet)
			printf("%s\n", resp->images[i]->id);
		else
			image_row(resp->images[i], width);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}

int ctl_parse_user(int argc, char **argv, Runtime__V1__AuthConfig *auth, bool *ret_have)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ 0 },
	};
	int o;
	*ret_have = false;
	while ((o = getopt_long(argc, argv, "u:", opts, NULL)) != -1) {
		if (o != 'u')
			return -EINVAL;
		if (ctl_split_user(optarg, &auth->username, &auth->password) < 0) {
			ctl_fail("--user wants USER:PASSWORD");
			return -EINVAL;
		}
		*ret_have = true;
	}
	return 0;
}

int ctl_image_pull(struct ctl *c, int argc, char **argv)
{
	Runtime__V1__AuthConfig auth = RUNTIME__V1__AUTH_CONFIG__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__PullImageRequest rq = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	Runtime__V1__PullImageResponse *resp = NULL;
	bool have_auth;
	if (ctl_parse_user(argc, argv, &auth, &have_auth) < 0 || argc - optind != 1)
		return ctl_usage("image pull REF [--user USER:PASSWORD]");
	spec.image = argv[optind];
	rq.image = &spec;
	rq.auth = have_auth ? &auth : NULL;
	if (ctl_connect(c) < 0)
		return CTL_EXIT_FAIL;
	if (ctl_call(c, CRISP__MSG_TYPE__MSG_IMG_PULL, &rq.base, -1,
		     &runtime__v1__pull_image_response__descriptor, (ProtobufCMessage **)&resp) < 0)
		return CTL_EXIT_FAIL;
	printf("Image is up to date for %s\n", resp->image_ref);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}

/* The id of the image ref names, or NULL (printed why) if there is none. */
static char *image_id(struct ctl *c, const char *ref)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageStatusRequest rq = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__ImageStatusResponse *resp = NULL;
	char *id = NULL;
	spec.image = (char *)ref;
	rq.image = &spec;
	if (ctl_call(c, CRISP__MSG_TYPE__MSG_IMG_STATUS, &rq.base, -1,
		     &runtime__v1__image_status_response__descriptor, (ProtobufCMessage **)&resp) < 0)
		return NULL;
	if (resp->image && resp->image->id && *resp->image->id)
		id = strdup(resp->image->id);
	else
		ctl_fail("no such image: %s", ref);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return id;
}

int ctl_image_rm(struct ctl *c, int argc, char **argv)
{
	int failed = 0;
	if (argc < 2)
		return ctl_usage("image rm REF...");
	if (ctl_connect(c) < 0)
		return CTL_EXIT_FAIL;
	for (int i = 1; i < argc; i++) {
		char *id = image_id(c, argv[i]);
		if (!id) {
			failed = 1;
			continue;
		}
		Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
		Runtime__V1__RemoveImageRequest rq = RUNTIME__V1__REMOVE_IMAGE_REQUEST__INIT;
		spec.image = id;
		rq.image = &spec;
		if (ctl_call(c, CRISP__MSG_TYPE__MSG_IMG_REMOVE, &rq.base, -1, NULL, NULL) < 0)
			failed = 1;
		else
			printf("Deleted: %s\n", argv[i]);
		free(id);
	}
	return failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
