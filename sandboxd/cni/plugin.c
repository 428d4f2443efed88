/*
 * cni/plugin: finds a CNI plugin binary by its type in cni_bin_dirs, as
 * libcni's FindInPath does: the first directory holding an executable file
 * of that name. A type is a plain file name: one with '/', or "." or "..",
 * is refused, so that a config cannot name a binary elsewhere. Never runs
 * anything; never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/fsutil.h"
#include "common/status.h"
#include "sandboxd/cni/cni_int.h"

#define CNI_TYPE_MAX 255

int cni_plugin_find(const char *bin_dirs, const char *type, char *ret_path, size_t len)
{
	if (!type || !*type || strchr(type, '/') || strcmp(type, ".") == 0 ||
	    strcmp(type, "..") == 0 || strlen(type) > CNI_TYPE_MAX)
		return -EINVAL;
	char *dirs = strdup(bin_dirs ? bin_dirs : "");
	if (!dirs)
		return -ENOMEM;
	char *save = NULL;
	int found = -ENOENT;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char path[PATH_MAX];
		if (fs_path_join(path, sizeof path, d, type) < 0)
			continue;
		int r = fs_check_executable(AT_FDCWD, path);
		if (r == 0 || (r == -EACCES && found == -ENOENT)) {
			if (snprintf(ret_path, len, "%s", path) >= (int)len)
				continue;
			found = r;
		}
		if (r == 0)
			break;
	}
	free(dirs);
	return found;
}

int cni_plugin_find_err(const char *bin_dirs, const char *type, const char *where,
			char *ret_path, size_t len, struct crisp_error *err)
{
	int r = cni_plugin_find(bin_dirs, type, ret_path, len);
	switch (r) {
	case 0:
		return 0;
	case -EINVAL:
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				  "%s: plugin type \"%.64s\" is not a plain name", where,
				  type ? type : "");
	case -EACCES:
		return crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, r,
				  "CNI plugin %s (named in %s) is not executable", ret_path, where);
	case -ENOENT:
		return crisp_fail(err, CRISP_STATUS_FAILED_PRECONDITION, r,
				  "CNI plugin \"%.64s\" (named in %s) not found in %s", type, where,
				  bin_dirs ? bin_dirs : "");
	default:
		return crisp_fail_errno(err, r, "looking for CNI plugin \"%.64s\"", type);
	}
}
