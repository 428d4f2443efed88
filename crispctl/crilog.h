/*
 * crilog: the reading side of the CRI container log format that conmon
 * writes (conmon/k8s_log.h): one record a line,
 * "<RFC3339Nano time> <stdout|stderr> <P|F>[:tags] <text>\n"; P records are
 * pieces of one line that a later F record ends. Records are written back
 * as the container wrote them: stdout records to one fd, stderr records to
 * another, P pieces joined (a stream's line ends at its F record), with the
 * record's time before each line on request. A file is followed by path
 * (kubelet rotates it by renaming it away and asking for a reopen): at its
 * end, a new file at the path is taken up after the old one is drained,
 * and a truncated one is read again from the start. Caps: a line longer
 * than CRILOG_LINE_MAX is skipped and counted, as are lines that do not
 * parse. Library code: negative errno, no printing.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CRILOG_STDOUT 0
#define CRILOG_STDERR 1
#define CRILOG_LINE_MAX (1 << 20)

struct crilog_rec {
	const char *ts;
	size_t ts_len;
	int stream;                     /* CRILOG_STDOUT or CRILOG_STDERR */
	bool partial;                   /* P: the line goes on in a later record */
	const char *text;
	size_t text_len;
};

/* One record (a line without its '\n'); -EBADMSG if it is not one. The
 * pointers point into line. */
int crilog_parse(const char *line, size_t len, struct crilog_rec *ret);

struct crilog_out {
	int fd[2];                      /* where stdout and stderr records go */
	bool timestamps;
	bool mid_line[2];               /* a P record of this stream was written */
};

void crilog_out_init(struct crilog_out *o, int out_fd, int err_fd, bool timestamps);
/* Writes one record's text (and its line's time first, with timestamps, at
 * the start of a line; a '\n' after an F record). -errno of a write. */
int crilog_emit(struct crilog_out *o, const struct crilog_rec *r);

struct crilog_file {
	char *path;
	int fd;
	dev_t dev;
	ino_t ino;
	char *buf;                      /* an unfinished line */
	size_t len;
	bool skipping;                  /* inside a line over CRILOG_LINE_MAX */
	unsigned long bad;              /* lines skipped: overlong or not records */
};

/* Opens path, positioned at the start of its last `tail` lines (tail < 0:
 * the whole file). */
int crilog_file_open(struct crilog_file *f, const char *path, long tail);
/* Emits every complete line there is now: > 0 bytes were read, 0 at the
 * end of the file, < 0 -errno (of a read or of an emit). */
int crilog_file_pump(struct crilog_file *f, struct crilog_out *o);
/* At the end of the file: if the path now names another file (rotated) or
 * this one shrank (truncated), drain and switch, and return 1; 0 if not
 * (also while the path is missing). */
int crilog_file_follow(struct crilog_file *f, struct crilog_out *o);
void crilog_file_close(struct crilog_file *f);
/* The offset where the last n lines of fd begin (n >= 0). */
int crilog_tail_offset(int fd, long n, off_t *ret);
