/*
 * test_crispctl_log: crispctl's reading of the CRI log format
 * (crispctl/crilog.c): record parsing, stdout/stderr routing, P records
 * joined into one line, timestamps at the start of lines only, files read
 * in pieces (a line completed by a later write, lines that are not
 * records, an overlong line), --tail offsets, and following a file by path
 * across a rotation and a truncation.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "crispctl/crilog.h"
#include "tests/unit/unit.h"

#define TS "2024-05-01T10:00:00.123456789Z"

/* Two output files for stdout and stderr records. */
struct outs {
	char out[256], err[256];
	int fo, fe;
	struct crilog_out o;
};

static void outs_open(struct outs *s, bool timestamps)
{
	snprintf(s->out, sizeof s->out, "%s/out", unit_tmpdir());
	snprintf(s->err, sizeof s->err, "%s/err", unit_tmpdir());
	s->fo = open(s->out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	s->fe = open(s->err, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(s->fo >= 0 && s->fe >= 0);
	crilog_out_init(&s->o, s->fo, s->fe, timestamps);
}

static char *slurp(const char *path)
{
	static char buf[4][8192];
	static int next;
	char *b = buf[next++ % 4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	ssize_t n = read(fd, b, sizeof buf[0] - 1);
	CHECK(n >= 0);
	b[n] = '\0';
	close(fd);
	return b;
}

static void emit_line(struct outs *s, const char *line)
{
	struct crilog_rec r;
	CHECK_RC(crilog_parse(line, strlen(line), &r));
	CHECK_RC(crilog_emit(&s->o, &r));
}

static void write_file(const char *path, const char *text, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

TEST(crispctl_log_parse)
{
	struct crilog_rec r;
	const char *l1 = TS " stdout F hello world";
	CHECK_RC(crilog_parse(l1, strlen(l1), &r));
	CHECK(r.stream == CRILOG_STDOUT && !r.partial);
	CHECK(r.ts_len == strlen(TS) && !memcmp(r.ts, TS, r.ts_len));
	CHECK(r.text_len == 11 && !memcmp(r.text, "hello world", 11));

	const char *l2 = TS " stderr P  two  spaces ";
	CHECK_RC(crilog_parse(l2, strlen(l2), &r));
	CHECK(r.stream == CRILOG_STDERR && r.partial);
	CHECK(r.text_len == 13 && !memcmp(r.text, " two  spaces ", 13));

	/* an empty line: with and without the space after the tag */
	const char *l3 = TS " stdout F ";
	CHECK_RC(crilog_parse(l3, strlen(l3), &r));
	CHECK(r.text_len == 0 && !r.partial);
	const char *l4 = TS " stdout F";
	CHECK_RC(crilog_parse(l4, strlen(l4), &r));
	CHECK(r.text_len == 0);

	/* tags after the first, as kubelet allows */
	const char *l5 = TS " stdout P:x:y text";
	CHECK_RC(crilog_parse(l5, strlen(l5), &r));
	CHECK(r.partial && r.text_len == 4);

	static const char *const bad[] = {
		"", TS, TS " stdout", TS " stdin F x", TS " stdout X text", TS " stdout FF text",
		TS " stdoutF text", " stdout F text", TS " stdout :F text",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(crilog_parse(bad[i], strlen(bad[i]), &r) == -EBADMSG);
}

TEST(crispctl_log_routing_and_joining)
{
	struct outs s;
	outs_open(&s, false);
	emit_line(&s, TS " stdout P hel");
	emit_line(&s, TS " stderr F oops");
	emit_line(&s, TS " stdout P lo ");
	emit_line(&s, TS " stdout F world");
	emit_line(&s, TS " stdout F ");
	emit_line(&s, TS " stderr P no newline at the end");
	CHECK(!strcmp(slurp(s.out), "hello world\n\n"));
	CHECK(!strcmp(slurp(s.err), "oops\nno newline at the end"));
}

TEST(crispctl_log_timestamps)
{
	struct outs s;
	outs_open(&s, true);
	emit_line(&s, "2024-05-01T10:00:01Z stdout P a");
	emit_line(&s, "2024-05-01T10:00:02Z stderr F e");
	emit_line(&s, "2024-05-01T10:00:03Z stdout F b");
	emit_line(&s, "2024-05-01T10:00:04Z stdout F c");
	/* one time per line: the line's first record's */
	CHECK(!strcmp(slurp(s.out), "2024-05-01T10:00:01Z ab\n2024-05-01T10:00:04Z c\n"));
	CHECK(!strcmp(slurp(s.err), "2024-05-01T10:00:02Z e\n"));
}

TEST(crispctl_log_file_pieces)
{
	struct outs s;
	struct crilog_file f;
	char path[256];
	outs_open(&s, false);
	snprintf(path, sizeof path, "%s/ctr.log", unit_tmpdir());
	write_file(path, TS " stdout F one\nnot a record\n" TS " stderr F two\n" TS " stdout F thr",
		   O_TRUNC);
	CHECK_RC(crilog_file_open(&f, path, -1));
	CHECK(crilog_file_pump(&f, &s.o) == 1);
	CHECK(!strcmp(slurp(s.out), "one\n"));          /* "thr" waits for its end */
	CHECK(crilog_file_pump(&f, &s.o) == 0);
	write_file(path, "ee\n", O_APPEND);
	CHECK(crilog_file_pump(&f, &s.o) == 1);
	CHECK(!strcmp(slurp(s.out), "one\nthree\n"));
	CHECK(!strcmp(slurp(s.err), "two\n"));
	CHECK(f.bad == 1);
	crilog_file_close(&f);
}

TEST(crispctl_log_overlong_line)
{
	struct outs s;
	struct crilog_file f;
	char path[256];
	outs_open(&s, false);
	snprintf(path, sizeof path, "%s/ctr.log", unit_tmpdir());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	const char *first = TS " stdout F before\n" TS " stdout F ";
	CHECK(write(fd, first, strlen(first)) > 0);
	static char junk[64 * 1024];
	memset(junk, 'x', sizeof junk);
	for (size_t n = 0; n < CRILOG_LINE_MAX + sizeof junk; n += sizeof junk)
		CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
	const char *last = "\n" TS " stdout F after\n";
	CHECK(write(fd, last, strlen(last)) > 0);
	close(fd);
	CHECK_RC(crilog_file_open(&f, path, -1));
	while (crilog_file_pump(&f, &s.o) > 0)
		;
	CHECK(!strcmp(slurp(s.out), "before\nafter\n"));
	CHECK(f.bad == 1);
	crilog_file_close(&f);
}

static off_t tail_of(const char *path, long n)
{
	off_t off = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_RC(crilog_tail_offset(fd, n, &off));
	close(fd);
	return off;
}

TEST(crispctl_log_tail)
{
	char path[256];
	snprintf(path, sizeof path, "%s/t.log", unit_tmpdir());
	write_file(path, "a\nbb\nccc\n", O_TRUNC);     /* lines at 0, 2, 5; size 9 */
	CHECK(tail_of(path, -1) == 0);
	CHECK(tail_of(path, 0) == 9);
	CHECK(tail_of(path, 1) == 5);
	CHECK(tail_of(path, 2) == 2);
	CHECK(tail_of(path, 3) == 0);
	CHECK(tail_of(path, 10) == 0);
	write_file(path, "a\nbb\nccc", O_TRUNC);       /* the last line unfinished */
	CHECK(tail_of(path, 1) == 5);
	CHECK(tail_of(path, 2) == 2);
	write_file(path, "", O_TRUNC);
	CHECK(tail_of(path, 1) == 0);

	/* through crilog_file_open, with records */
	struct outs s;
	struct crilog_file f;
	outs_open(&s, false);
	write_file(path, TS " stdout F 1\n" TS " stdout F 2\n" TS " stdout F 3\n", O_TRUNC);
	CHECK_RC(crilog_file_open(&f, path, 2));
	while (crilog_file_pump(&f, &s.o) > 0)
		;
	CHECK(!strcmp(slurp(s.out), "2\n3\n"));
	crilog_file_close(&f);
}

TEST(crispctl_log_follow_rotation)
{
	struct outs s;
	struct crilog_file f;
	char path[256], rotated[256];
	outs_open(&s, false);
	snprintf(path, sizeof path, "%s/ctr.log", unit_tmpdir());
	snprintf(rotated, sizeof rotated, "%s/ctr.log.20240501", unit_tmpdir());
	write_file(path, TS " stdout F old 1\n", O_TRUNC);
	CHECK_RC(crilog_file_open(&f, path, -1));
	CHECK(crilog_file_pump(&f, &s.o) == 1);
	CHECK(crilog_file_follow(&f, &s.o) == 0);      /* same file, nothing new */

	/* kubelet renames it away; conmon writes a last line to the old one,
	 * then reopens the path */
	CHECK(rename(path, rotated) == 0);
	write_file(rotated, TS " stdout F old 2\n", O_APPEND);
	CHECK(crilog_file_follow(&f, &s.o) == 0);      /* no new file yet */
	write_file(path, TS " stdout F new 1\n", O_TRUNC);
	CHECK(crilog_file_follow(&f, &s.o) == 1);
	CHECK(crilog_file_pump(&f, &s.o) == 1);
	CHECK(!strcmp(slurp(s.out), "old 1\nold 2\nnew 1\n"));

	/* truncated in place: read again from the start */
	write_file(path, TS " stdout F t\n", O_TRUNC);
	CHECK(crilog_file_follow(&f, &s.o) == 1);
	CHECK(crilog_file_pump(&f, &s.o) == 1);
	CHECK(!strcmp(slurp(s.out), "old 1\nold 2\nnew 1\nt\n"));
	crilog_file_close(&f);
}

TEST(crispctl_log_write_error)
{
	struct crilog_out o;
	struct crilog_rec r;
	int p[2];
	const char *l = TS " stdout F x";
	signal(SIGPIPE, SIG_IGN);       /* as crispctl's main */
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	close(p[0]);
	crilog_out_init(&o, p[1], p[1], false);
	CHECK_RC(crilog_parse(l, strlen(l), &r));
	CHECK(crilog_emit(&o, &r) == -EPIPE);
	close(p[1]);
}
