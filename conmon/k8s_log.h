/*
 * k8s_log: the container log file in the kubelet's CRI format, one record a
 * line: "<RFC3339Nano time> <stdout|stderr> <P|F> <text>\n". F: the text
 * ends a line of the container's output (its '\n' is not in the text);
 * P: a partial line, the rest follows in the next records. A line longer
 * than max_line becomes P records of max_line bytes and a last F record;
 * a chunk read without its newline yet is a P record. Owns the log fd (one
 * file, O_APPEND, reopened by path for log rotation). Never reads what it
 * writes and never interprets the container's bytes beyond finding '\n'.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct k8s_log;

#define K8S_LOG_TIME_LEN 30             /* "2006-01-02T15:04:05.000000000Z" */

/* Open (create, 0640) path for appending. max_line >= 1. */
int k8s_log_open(const char *path, size_t max_line, struct k8s_log **ret);
/* Write the bytes of one read from the container's stream ("stdout" or
 * "stderr") as records, all stamped with the time of this call. A write
 * error loses the rest of this chunk (-errno); the next call tries again. */
int k8s_log_write(struct k8s_log *l, const char *stream, const char *buf, size_t len);
/* Open path again (kubelet renamed the file away) and write to the new
 * file from now on; on failure the old file stays in use. */
int k8s_log_reopen(struct k8s_log *l);
void k8s_log_close(struct k8s_log *l);

/* The pure parts, for the tests. The next record at the start of buf
 * (len > 0): *ret_text is the length of its text, *ret_full whether it is an
 * F record; returns how many bytes of buf it uses (the text, plus the '\n'
 * for an F record). */
size_t k8s_log_next(const char *buf, size_t len, size_t max_line, size_t *ret_text,
		    bool *ret_full);
/* ts as RFC3339Nano in UTC, always 9 fraction digits, into buf
 * (K8S_LOG_TIME_LEN + 1 bytes at least); returns the length, 0 if it fails. */
size_t k8s_log_time(const struct timespec *ts, char *buf, size_t len);
