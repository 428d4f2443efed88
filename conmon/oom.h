/*
 * oom: the OOM-kill counter of the container's memory cgroup, from the file
 * --oom-file names: memory.oom_control (cgroup v1: "oom_kill N" beside
 * "oom_kill_disable" and "under_oom") or memory.events (v2: "oom_kill N"
 * beside "oom", "max", ...). conmon opens the file once, right after
 * `runc create`, and reads the counter then and when the container exits:
 * the container was OOM-killed if it grew. Reading an fd opened before the
 * privilege drop needs no Landlock rule. Never writes to the cgroup.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define CONMON_OOM_FILE_MAX 4096

/* The value of the "oom_kill N" line in buf (not "oom_kill_disable"):
 * -ENOENT if there is none, -EINVAL if N is not a number. Pure. */
int conmon_oom_parse(const char *buf, size_t len, uint64_t *ret);
int conmon_oom_open(const char *path, int *ret_fd);
/* Read the whole file again from offset 0 and parse it. */
int conmon_oom_read(int fd, uint64_t *ret);
