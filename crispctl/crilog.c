/*
 * crilog: see crilog.h. Records go out with one writev each (time, text,
 * newline), straight to the fds, so that stdout and stderr keep the order
 * of the file. A file is read in chunks into one buffer of at most
 * CRILOG_LINE_MAX plus a chunk; what follows its last '\n' waits for the
 * next read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crispctl/crilog.h"

#define READ_CHUNK (64 * 1024)
#define TAIL_BLOCK (64 * 1024)

int crilog_parse(const char *line, size_t len, struct crilog_rec *ret)
{
	const char *end = line + len;
	const char *sp1 = memchr(line, ' ', len);
	if (!sp1 || sp1 == line)
		return -EBADMSG;
	const char *stream = sp1 + 1;
	const char *sp2 = memchr(stream, ' ', (size_t)(end - stream));
	if (!sp2)
		return -EBADMSG;
	size_t slen = (size_t)(sp2 - stream);
	if (slen == 6 && !memcmp(stream, "stdout", 6))
		ret->stream = CRILOG_STDOUT;
	else if (slen == 6 && !memcmp(stream, "stderr", 6))
		ret->stream = CRILOG_STDERR;
	else
		return -EBADMSG;
	const char *tag = sp2 + 1;
	const char *sp3 = memchr(tag, ' ', (size_t)(end - tag));
	const char *tag_end = sp3 ? sp3 : end;
	/* the tag is "P" or "F", maybe followed by ":more:tags" */
	if (tag_end == tag || (*tag != 'P' && *tag != 'F') || (tag_end - tag > 1 && tag[1] != ':'))
		return -EBADMSG;
	ret->partial = *tag == 'P';
	ret->ts = line;
	ret->ts_len = (size_t)(sp1 - line);
	ret->text = sp3 ? sp3 + 1 : end;
	ret->text_len = (size_t)(end - ret->text);
	return 0;
}

void crilog_out_init(struct crilog_out *o, int out_fd, int err_fd, bool timestamps)
{
	memset(o, 0, sizeof *o);
	o->fd[CRILOG_STDOUT] = out_fd;
	o->fd[CRILOG_STDERR] = err_fd;
	o->timestamps = timestamps;
}

static int writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int crilog_emit(struct crilog_out *o, const struct crilog_rec *r)
{
	struct iovec iov[4];
	int n = 0;
	if (o->timestamps && !o->mid_line[r->stream]) {
		iov[n++] = (struct iovec){ (void *)r->ts, r->ts_len };
		iov[n++] = (struct iovec){ (void *)" ", 1 };
	}
	if (r->text_len)
		iov[n++] = (struct iovec){ (void *)r->text, r->text_len };
	if (!r->partial)
		iov[n++] = (struct iovec){ (void *)"\n", 1 };
	o->mid_line[r->stream] = r->partial;
	return writev_all(o->fd[r->stream], iov, n);
}

int crilog_tail_offset(int fd, long n, off_t *ret)
{
	struct stat st;
	char *blk;
	if (fstat(fd, &st) < 0)
		return -errno;
	off_t pos = st.st_size;
	if (n <= 0) {
		*ret = n < 0 ? 0 : st.st_size;
		return 0;
	}
	if (!(blk = malloc(TAIL_BLOCK)))
		return -ENOMEM;
	long seen = 0;                  /* line ends before the last line's */
	bool last = true;               /* the file's last byte: its '\n' ends the last line */
	int r = 0;
	*ret = 0;
	while (pos > 0) {
		size_t want = pos > TAIL_BLOCK ? TAIL_BLOCK : (size_t)pos;
		ssize_t got = pread(fd, blk, want, pos - (off_t)want);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if ((size_t)got != want) {
			r = -EIO;
			break;
		}
		for (size_t i = want; i-- > 0;) {
			bool at_end = last;
			last = false;
			if (blk[i] != '\n' || at_end)
				continue;
			if (++seen == n) {
				*ret = pos - (off_t)want + (off_t)i + 1;
				goto out;
			}
		}
		pos -= (off_t)want;
	}
	/* fewer than n lines: from the start */
out:
	free(blk);
	return r;
}

static int file_open_at(struct crilog_file *f, off_t start_tail, long tail)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	off_t off = start_tail;
	if (tail >= 0) {
		int r = crilog_tail_offset(fd, tail, &off);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	if (off && lseek(fd, off, SEEK_SET) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->len = 0;
	f->skipping = false;
	return 0;
}

int crilog_file_open(struct crilog_file *f, const char *path, long tail)
{
	memset(f, 0, sizeof *f);
	f->fd = -1;
	f->path = strdup(path);
	f->buf = malloc(CRILOG_LINE_MAX + READ_CHUNK);
	if (!f->path || !f->buf) {
		crilog_file_close(f);
		return -ENOMEM;
	}
	int r = file_open_at(f, 0, tail);
	if (r < 0)
		crilog_file_close(f);
	return r;
}

void crilog_file_close(struct crilog_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f->buf);
	memset(f, 0, sizeof *f);
	f->fd = -1;
}

/* Emits the complete lines at the start of f->buf; keeps the rest. */
static int lines(struct crilog_file *f, struct crilog_out *o)
{
	size_t at = 0;
	int r = 0;
	for (;;) {
		char *nl = memchr(f->buf + at, '\n', f->len - at);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (f->buf + at));
		struct crilog_rec rec;
		if (f->skipping) {
			f->skipping = false;            /* the end of an overlong line */
		} else if (crilog_parse(f->buf + at, len, &rec) < 0) {
			f->bad++;
		} else if ((r = crilog_emit(o, &rec)) < 0) {
			break;
		}
		at += len + 1;
	}
	memmove(f->buf, f->buf + at, f->len - at);
	f->len -= at;
	if (f->len >= CRILOG_LINE_MAX) {        /* no end in sight: skip the line */
		if (!f->skipping)
			f->bad++;
		f->skipping = true;
		f->len = 0;
	}
	return r;
}

int crilog_file_pump(struct crilog_file *f, struct crilog_out *o)
{
	long total = 0;
	for (;;) {
		ssize_t n = read(f->fd, f->buf + f->len, READ_CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return total > 0 ? 1 : 0;
		f->len += (size_t)n;
		total += n;
		int r = lines(f, o);
		if (r < 0)
			return r;
	}
}

int crilog_file_follow(struct crilog_file *f, struct crilog_out *o)
{
	struct stat st;
	if (stat(f->path, &st) < 0)
		return 0;               /* moved away, the new one not there yet */
	if (st.st_dev == f->dev && st.st_ino == f->ino) {
		off_t pos = lseek(f->fd, 0, SEEK_CUR);
		if (pos < 0 || st.st_size >= pos)
			return 0;
		/* truncated: read it again from the start */
		if (lseek(f->fd, 0, SEEK_SET) < 0)
			return -errno;
		f->len = 0;
		f->skipping = false;
		return 1;
	}
	int r = crilog_file_pump(f, o);        /* the rest of the old file */
	if (r < 0)
		return r;
	r = file_open_at(f, 0, -1);
	return r < 0 ? (r == -ENOENT ? 0 : r) : 1;
}
