/*
 * error: crisp_error and the suite's one errno -> gRPC status map (see
 * error.h). Never logs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "common/error.h"
#include "common/status.h"

static int vfail(struct crisp_error *err, int code, int r, const char *fmt, va_list ap)
{
	if (err) {
		err->code = code;
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	}
	return r < 0 ? r : -EIO;
}

int crisp_fail(struct crisp_error *err, int code, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r = vfail(err, code, r, fmt, ap);
	va_end(ap);
	return r;
}

int crisp_fail_errno(struct crisp_error *err, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r = vfail(err, crisp_status_of_errno(r), r, fmt, ap);
	va_end(ap);
	if (err) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(-r));
	}
	return r;
}

int crisp_status_of_errno(int r)
{
	switch (r) {
	case 0:
		return CRISP_STATUS_OK;
	case -EINVAL:
	case -E2BIG:
	case -ENOTUNIQ:
		return CRISP_STATUS_INVALID_ARGUMENT;
	case -ENOENT:
		return CRISP_STATUS_NOT_FOUND;
	case -EEXIST:
		return CRISP_STATUS_ALREADY_EXISTS;
	case -ENOSPC:
	case -EDQUOT:
	case -EFBIG:
	case -EAGAIN:
	case -EMFILE:
	case -ENFILE:
	case -EUSERS:
		return CRISP_STATUS_RESOURCE_EXHAUSTED;
	case -ETIMEDOUT:
		return CRISP_STATUS_DEADLINE_EXCEEDED;
	case -ECANCELED:
		return CRISP_STATUS_CANCELLED;
	case -EPERM:
	case -EACCES:
		return CRISP_STATUS_PERMISSION_DENIED;
	case -EBUSY:
	case -ENOTEMPTY:
		return CRISP_STATUS_FAILED_PRECONDITION;
	case -ENOTCONN:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -ESHUTDOWN:
		return CRISP_STATUS_UNAVAILABLE;
	case -EBADMSG:
		return CRISP_STATUS_DATA_LOSS;
	case -ENOSYS:
	case -EOPNOTSUPP:
		return CRISP_STATUS_UNIMPLEMENTED;
	default:
		return CRISP_STATUS_INTERNAL;
	}
}
