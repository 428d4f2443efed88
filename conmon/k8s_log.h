/*
 * k8s_log: the container log file in the kubelet's CRI format, one line per
 * chunk: "<RFC3339Nano time> <stdout|stderr> <P|F> <text>\n" (P: a partial
 * line, the rest follows; F: the line is full). Owns the log fd; writes each
 * line with one writev. Never reads what it writes.
 */
#pragma once
#include <stddef.h>

struct k8s_log;

int k8s_log_open(const char *path, struct k8s_log **ret);
/* Write the bytes of one read from the container's stream. Complete lines
 * become F lines; a trailing piece without '\n' is written as a P line. */
int k8s_log_write(struct k8s_log *l, const char *stream, const char *buf, size_t len);
int k8s_log_reopen(struct k8s_log *l);
void k8s_log_close(struct k8s_log *l);
