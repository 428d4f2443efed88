/*
 * test_unpack_hostile: every case of tests/hostile/gen_layers.py, unpacked
 * in process and through the confined child, each into a fresh root next
 * to a canary directory the cases aim at. Each case must end as its
 * MANIFEST line says (ok / invalid / limit, plus checks inside the root),
 * and after each one the tree around the root (the canary included) must be
 * exactly as before: names, modes, owners, sizes, times, contents, xattrs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "imaged/unpack.h"
#include "tests/unit/test_unpack_lib.h"
#include "tests/unit/unit.h"

#define MAX_CASES 128

struct hcase {
	char *line;             /* the MANIFEST line, split in place */
	char *name, *outcome;
	bool mountproc;
	char *checks[16];
	int n_checks;
};

static void make_canary(const char *canary)
{
	char p[4096];
	CHECK(mkdir(canary, 0755) == 0);
	tl_path(p, sizeof p, canary, "file");
	tl_write_file(p, "canary", 6);
	tl_path(p, sizeof p, canary, "sub");
	CHECK(mkdir(p, 0750) == 0);
	tl_path(p, sizeof p, canary, "sub/x");
	tl_write_file(p, "x", 1);
}

static int load_cases(const char *cases, struct hcase *v)
{
	char p[4096];
	tl_path(p, sizeof p, cases, "MANIFEST");
	char *text = tl_read_file(p, NULL);
	CHECK(text);
	int n = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		CHECK(n < MAX_CASES);
		v[n++] = (struct hcase){ .line = line };
	}
	for (int i = 0; i < n; i++) {
		struct hcase *c = &v[i];
		char *save;
		c->name = strtok_r(c->line, " ", &save);
		c->outcome = strtok_r(NULL, " ", &save);
		CHECK(c->name && c->outcome);
		for (char *w; (w = strtok_r(NULL, " ", &save));) {
			if (!strcmp(w, "mountproc"))
				c->mountproc = true;
			else if (c->n_checks < 16)
				c->checks[c->n_checks++] = w;
		}
	}
	return n;
}

/* One "kind:P[=A[=B]]" check inside root; false (with a note) if it fails. */
static bool check_one(const char *root, const char *check)
{
	char buf[4096], path[4096];
	snprintf(buf, sizeof buf, "%s", check);
	char *kind = buf, *p = strchr(buf, ':');
	CHECK(p);
	*p++ = '\0';
	char *a = strchr(p, '='), *b = NULL;
	if (a) {
		*a++ = '\0';
		if (!strcmp(kind, "xattr") && (b = strchr(a, '=')))
			*b++ = '\0';
	}
	tl_path(path, sizeof path, root, p);
	struct stat st;
	bool exists = lstat(path, &st) == 0;
	bool ok = false;
	char v[4096];
	if (!strcmp(kind, "absent")) {
		ok = !exists && errno == ENOENT;
	} else if (!exists) {
		ok = false;
	} else if (!strcmp(kind, "file")) {
		ok = S_ISREG(st.st_mode);
	} else if (!strcmp(kind, "dir")) {
		ok = S_ISDIR(st.st_mode);
	} else if (!strcmp(kind, "whiteout")) {
		ok = S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
	} else if (!strcmp(kind, "content")) {
		char *data = S_ISREG(st.st_mode) ? tl_read_file(path, NULL) : NULL;
		ok = data && !strcmp(data, a);
		free(data);
	} else if (!strcmp(kind, "symlink")) {
		ssize_t n = readlink(path, v, sizeof v - 1);
		ok = S_ISLNK(st.st_mode) && n >= 0 && (v[n] = '\0', !strcmp(v, a));
	} else if (!strcmp(kind, "xattr")) {
		ssize_t n = lgetxattr(path, a, v, sizeof v - 1);
		ok = b && n >= 0 && (v[n] = '\0', !strcmp(v, b));
	} else if (!strcmp(kind, "noxattr")) {
		ok = lgetxattr(path, a, v, sizeof v) < 0 && errno == ENODATA;
	} else if (!strcmp(kind, "mode")) {
		ok = (st.st_mode & 07777) == (mode_t)strtoul(a, NULL, 8);
	} else if (!strcmp(kind, "uid")) {
		ok = st.st_uid == (uid_t)strtoul(a, NULL, 10);
	} else if (!strcmp(kind, "gid")) {
		ok = st.st_gid == (gid_t)strtoul(a, NULL, 10);
	} else {
		CHECK(!"unknown check kind");
	}
	if (!ok)
		fprintf(stderr, "    check %s failed\n", check);
	return ok;
}

static bool outcome_ok(const struct hcase *c, int r, const struct unpack_error *err)
{
	if (!strcmp(c->outcome, "ok"))
		return r == 0;
	if (!strcmp(c->outcome, "invalid"))
		return r < 0 && err->code == UNPACK_ERR_INVALID;
	if (!strcmp(c->outcome, "limit"))
		return r < 0 && err->code == UNPACK_ERR_LIMIT;
	if (!strcmp(c->outcome, "contained"))   /* either: only the tree around counts */
		return r == 0 || err->code == UNPACK_ERR_INVALID;
	CHECK(!"unknown outcome");
	return false;
}

/* Empties root and gives it back its first owner, mode and xattrs (the
 * directory itself stays: re-making it would change tmp's mtime). */
static void reset_root(const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	struct dirent **ents;
	int n = scandir(root, &ents, NULL, NULL);
	CHECK(n >= 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, ".."))
			CHECK_RC(unpack_remove_tree(fd, ents[i]->d_name));
		free(ents[i]);
	}
	free(ents);
	CHECK(fchown(fd, 0, 0) == 0 && fchmod(fd, 0755) == 0);
	fremovexattr(fd, UNPACK_OPAQUE_XATTR);
	close(fd);
}

/* Unpacks one case into the emptied tmp/root; true if it behaved. */
static bool run_case(const char *tmp, const char *cases, const struct hcase *c, bool child)
{
	char root[4096], tar[8192], proc[4096];
	tl_path(root, sizeof root, tmp, "root");
	reset_root(root);
	if (c->mountproc) {
		tl_path(proc, sizeof proc, root, "proc");
		CHECK(mkdir(proc, 0555) == 0);
		CHECK(mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0);
	}
	snprintf(tar, sizeof tar, "%s/%s.tar", cases, c->name);
	struct unpack_result res;
	struct unpack_error err = { 0 };
	int r = tl_unpack(root, tar, UNPACK_COMP_NONE, NULL, child, &res, &err);
	bool ok = outcome_ok(c, r, &err);
	if (!ok)
		fprintf(stderr, "  %s: expected %s, got %d (class %d: %s)\n", c->name,
			c->outcome, r, err.code, r < 0 ? err.msg : "success");
	for (int i = 0; ok && r == 0 && i < c->n_checks; i++)
		if (!check_one(root, c->checks[i])) {
			fprintf(stderr, "  %s: a check failed\n", c->name);
			ok = false;
		}
	if (c->mountproc)
		CHECK(umount2(proc, MNT_DETACH) == 0);
	return ok;
}

static void run_all(bool child)
{
	const char *tmp = unit_tmpdir();
	char canary[4096], cases[4096], cmd[12288];
	tl_path(canary, sizeof canary, tmp, "canary");
	tl_path(cases, sizeof cases, tmp, "cases");
	make_canary(canary);
	CHECK(mkdir(cases, 0755) == 0);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s'", tl_hostile_script(),
		 cases, canary);
	CHECK(system(cmd) == 0);
	/* mounts of /proc in the root stay in this test's own namespace */
	CHECK(unshare(CLONE_NEWNS) == 0);
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);

	static struct hcase v[MAX_CASES];
	int n = load_cases(cases, v), failed = 0;
	CHECK(n >= 40);
	char root[4096];
	tl_path(root, sizeof root, tmp, "root");
	CHECK(mkdir(root, 0755) == 0);
	const char *skip[] = { "root", "cases", NULL };
	char *before = tl_snapshot(tmp, skip);
	for (int i = 0; i < n; i++) {
		bool ok = run_case(tmp, cases, &v[i], child);
		char *after = tl_snapshot(tmp, skip);
		if (strcmp(before, after)) {
			fprintf(stderr, "  %s: the tree outside the root changed:\n--- before\n%s"
				"--- after\n%s", v[i].name, before, after);
			ok = false;
		}
		free(after);
		failed += !ok;
	}
	fprintf(stderr, "  %d hostile cases, %d failed (%s)\n", n, failed,
		child ? "confined child" : "in process");
	free(before);
	reset_root(root);
	CHECK(failed == 0);
}

TEST(unpack_hostile_in_process)
{
	run_all(false);
}

TEST(unpack_hostile_child)
{
	run_all(true);
}
