/*
 * endpoint: which CRI socket crispctl talks to, found as crictl finds it:
 * -r/--runtime-endpoint, else $CONTAINER_RUNTIME_ENDPOINT (when set and not
 * empty), else crisp's default listen path. "unix:///path", "unix:/path"
 * and a plain path all name a Unix socket; another scheme (tcp://, npipe://)
 * is refused: the CRI socket is local. A relative path is taken from the
 * current directory. Pure: no I/O but getcwd, no printing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "crispctl/crispctl.h"

int ctl_endpoint_path(const char *flag, const char *env, const char *dflt, char *buf,
		      size_t len)
{
	const char *ep = flag ? flag : env && *env ? env : dflt;
	if (!ep || !*ep)
		return -EINVAL;
	if (!strncmp(ep, "unix://", 7))
		ep += 7;
	else if (!strncmp(ep, "unix:", 5))
		ep += 5;
	else if (strstr(ep, "://"))
		return -EPROTONOSUPPORT;
	if (!*ep)
		return -EINVAL;
	int n;
	if (ep[0] == '/') {
		n = snprintf(buf, len, "%s", ep);
	} else {
		char cwd[CTL_PATH_MAX];
		if (!getcwd(cwd, sizeof cwd))
			return -errno;
		n = snprintf(buf, len, "%s/%s", cwd, ep);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
