/*
 * oci_layout_fd: the wait that both ends of a layout tar stream share
 * (oci_layout_read.c's input, oci_layout_write.c's output): poll the fd a
 * slice at a time, so that a cancel is seen while the other side is silent
 * or slow. Never reads or writes the fd; never logs.
 */
#include <errno.h>
#include <poll.h>
#include <archive.h>
#include "imaged/oci_layout.h"

#define POLL_MS 200

int oci_fd_wait(struct archive *a, int fd, short events, const atomic_bool *cancel,
		bool *ret_cancelled)
{
	for (;;) {
		if (cancel && atomic_load(cancel)) {
			*ret_cancelled = true;
			archive_set_error(a, ECANCELED, "cancelled");
			return -1;
		}
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, POLL_MS);
		if (n < 0 && errno != EINTR) {
			archive_set_error(a, errno, "poll");
			return -1;
		}
		if (n > 0)
			return 0;
	}
}
