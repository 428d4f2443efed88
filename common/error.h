/*
 * error: the one error type of the suite's library code: a gRPC status code
 * (common/status.h) and a message for the user, passed last as `err` (as
 * crun passes libcrun_error_t). Functions return a negative errno and, when
 * err is not NULL, fill it; the daemon's boundary logs it and answers with
 * it. One errno -> status map (crisp_status_of_errno) serves everyone.
 * Never logs.
 */
#pragma once

#define CRISP_ERROR_MSG_MAX 512

struct crisp_error {
	int code;                       /* enum crisp_status; 0 until set */
	char msg[CRISP_ERROR_MSG_MAX];
};

/* Fill err (if not NULL) with code and the formatted text; returns r when
 * it is negative, else -EIO, so that `return crisp_fail(...)` always fails. */
int crisp_fail(struct crisp_error *err, int code, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* crisp_fail with the status crisp_status_of_errno(r) and ": strerror(-r)"
 * appended to the text. */
int crisp_fail_errno(struct crisp_error *err, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The gRPC status for a negative errno: -EINVAL/-E2BIG/-ENOTUNIQ (an
 * ambiguous id prefix) INVALID_ARGUMENT,
 * -ENOENT NOT_FOUND, -EEXIST ALREADY_EXISTS, -ENOSPC/-EDQUOT/-EFBIG/-EAGAIN/
 * -EMFILE/-ENFILE/-EUSERS RESOURCE_EXHAUSTED, -ETIMEDOUT DEADLINE_EXCEEDED,
 * -ECANCELED CANCELLED, -EPERM/-EACCES PERMISSION_DENIED, -EBUSY/-ENOTEMPTY
 * FAILED_PRECONDITION, -ENOTCONN/-ECONNREFUSED/-ECONNRESET/-ESHUTDOWN
 * UNAVAILABLE, -EBADMSG DATA_LOSS, -ENOSYS/-EOPNOTSUPP UNIMPLEMENTED,
 * anything else INTERNAL. */
int crisp_status_of_errno(int r);
