/*
 * log: the daemons' log lines on stderr, "<RFC3339 time> <name>[<pid>] <level>: text".
 * Library code in common/ does not log (it returns -errno); daemons log at
 * their boundary: `return log_error_errno(r, "open %s: %m", p);` (the %m is
 * strerror(-r)). Never log a secret.
 */
#pragma once
#include <errno.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_init(const char *name, int level);
void log_set_level(int level);
int log_get_level(void);
int log_level_parse(const char *s);     /* "error".."debug" -> level, or -EINVAL */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs with errno = -err (for %m) and returns -abs(err). */
int log_msg_errno(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_error_errno(e, ...) log_msg_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_warn_errno(e, ...)  log_msg_errno(LOG_WARN, (e), __VA_ARGS__)
