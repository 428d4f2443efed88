/*
 * test_store_util: see test_store_util.h. Test code only.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/unit/test_store_util.h"
#include "tests/unit/unit.h"

struct store *ts_open(void)
{
	struct store *s = NULL;

	CHECK_RC(store_open(unit_tmpdir(), &s, NULL));
	return s;
}

void ts_digest_of(const char *text, char ret[DIGEST_STR_SIZE])
{
	struct digest d;

	CHECK_RC(digest_buf(text, strlen(text), &d));
	digest_format(&d, ret);
}

void ts_blob(struct store *s, const char *text, const char *lease, char ret[DIGEST_STR_SIZE])
{
	ts_digest_of(text, ret);
	CHECK_RC(store_blob_put(s, ret, text, strlen(text), lease));
}

void ts_layer(struct store *s, const char *content, const char *parent, const char *lease,
	      char ret[DIGEST_STR_SIZE])
{
	struct store_layer_writer *w;
	char diff_id[DIGEST_STR_SIZE];
	struct digest diff, par, chain;

	ts_digest_of(content, diff_id);
	CHECK_RC(digest_parse(diff_id, &diff));
	if (parent)
		CHECK_RC(digest_parse(parent, &par));
	CHECK_RC(digest_chain_id(parent ? &par : NULL, &diff, &chain));
	digest_format(&chain, ret);
	CHECK_RC(store_layer_begin(s, &w));
	int fd = openat(store_layer_diff_fd(w), "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	close(fd);
	CHECK_RC(store_layer_commit(w, ret, diff_id, parent, strlen(content), lease));
}

int ts_count(const char *sub)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof path, "%s/images/%s", unit_tmpdir(), sub);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

bool ts_exists(const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof path, "%s/images/%s", unit_tmpdir(), rel);
	return lstat(path, &st) == 0;
}
