/*
 * layout_dir: an OCI image layout directory (as skopeo's oci: transport
 * writes it) sent to imaged as a tar stream through a pipe: a child process
 * writes oci-layout, index.json and every regular file under blobs/<alg>/
 * with libarchive (pax) into the pipe's write end while crispctl waits for
 * imaged's answer. The child dies with crispctl (PDEATHSIG) and never
 * follows a symlink in the directory. imaged checks everything again: this
 * is only the transport.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include "crispctl/crispctl.h"

#define COPY_BUF (128u * 1024u)

static int child_fail(const char *what, const char *name, const char *why)
{
	fprintf(stderr, "crispctl: %s %s: %s\n", what, name, why);
	return -EIO;
}

/* dfd/name (a regular file, not followed if a link) as entry `entry`. */
static int file_add(struct archive *a, int dfd, const char *name, const char *entry, char *buf)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return child_fail("reading", entry, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return child_fail("reading", entry, "not a regular file");
	}
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, entry);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0444);
	archive_entry_set_size(e, st.st_size);
	int r = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -EIO;
	archive_entry_free(e);
	for (off_t done = 0; r == 0 && done < st.st_size;) {
		ssize_t n = read(fd, buf, COPY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || archive_write_data(a, buf, (size_t)n) != n)
			r = -EIO;
		else
			done += n;
	}
	close(fd);
	if (r < 0)
		return child_fail("writing", entry, archive_error_string(a) ? archive_error_string(a) :
				  "short read");
	return 0;
}

/* Every regular file in blobs/<alg>/. */
static int blobs_add(struct archive *a, int dfd, char *buf)
{
	int bfd = openat(dfd, "blobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *bd = bfd >= 0 ? fdopendir(bfd) : NULL;
	struct dirent *alg, *f;
	int r = 0;
	if (!bd)
		return child_fail("reading", "blobs/", strerror(errno));
	while (r == 0 && (alg = readdir(bd))) {
		if (alg->d_name[0] == '.')
			continue;
		int afd = openat(dirfd(bd), alg->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		DIR *ad = afd >= 0 ? fdopendir(afd) : NULL;
		if (!ad) {
			r = child_fail("reading blobs/", alg->d_name, strerror(errno));
			break;
		}
		while (r == 0 && (f = readdir(ad))) {
			char entry[512];
			if (f->d_name[0] == '.')
				continue;
			snprintf(entry, sizeof entry, "blobs/%.100s/%.300s", alg->d_name, f->d_name);
			r = file_add(a, dirfd(ad), f->d_name, entry, buf);
		}
		closedir(ad);
	}
	closedir(bd);
	return r;
}

static int layout_write(const char *dir, int out)
{
	char *buf = malloc(COPY_BUF);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct archive *a = archive_write_new();
	int r = -EIO;
	if (!buf || dfd < 0 || !a) {
		child_fail("reading", dir, strerror(errno ? errno : ENOMEM));
		goto out;
	}
	/* no padding after the end-of-archive blocks: once imaged has seen
	 * them, nothing of ours is left to write into a closed pipe */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(a, out) != ARCHIVE_OK) {
		child_fail("writing", "the stream", archive_error_string(a));
		goto out;
	}
	r = file_add(a, dfd, "oci-layout", "oci-layout", buf);
	if (r == 0)
		r = file_add(a, dfd, "index.json", "index.json", buf);
	if (r == 0)
		r = blobs_add(a, dfd, buf);
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = child_fail("writing", "the stream", archive_error_string(a));
out:
	if (a)
		archive_write_free(a);
	if (dfd >= 0)
		close(dfd);
	free(buf);
	return r;
}

int layout_dir_stream(const char *dir, int *ret_fd, int *ret_pid)
{
	int p[2];
	pid_t parent = getpid();
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[0]);
		signal(SIGPIPE, SIG_DFL);       /* imaged stopped reading: stop */
		signal(SIGINT, SIG_IGN);        /* crispctl cancels; we follow the pipe */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		_exit(layout_write(dir, p[1]) == 0 ? 0 : 1);
	}
	close(p[1]);
	*ret_fd = p[0];
	*ret_pid = pid;
	return 0;
}

int layout_dir_wait(int pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}
