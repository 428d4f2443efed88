/*
 * files: the files a pod's containers bind at /etc/hostname, /etc/hosts and
 * /etc/resolv.conf, written into RUNROOT/pods/<id>/ (0644; not synced: a pod
 * cut short by a crash is torn down), as containerd's CRI plugin makes them:
 * the hostname from the config (the node's when it gives none); resolv.conf
 * from DNSConfig (search, nameserver and options lines), or the node's own
 * when DNSConfig is empty; hosts with the localhost entries and the pod's
 * own name, or the node's /etc/hosts for a pod on the host network. Every
 * value that lands in a file is checked first: no whitespace or control
 * character can start a new line or entry. Never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "common/status.h"
#include "sandboxd/pod/pod.h"

#define HOST_FILE_MAX (1024 * 1024)
#define POD_FILE_MAX (64 * 1024)

static bool word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

int pod_hostname_check(const char *h, struct crisp_error *err)
{
	size_t n = strlen(h);
	if (n > 63)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				  "config.hostname: longer than 63 characters");
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
					  "config.hostname: \"%.63s\" is not a host name", h);
	}
	return 0;
}

static int put(char *buf, size_t len, size_t *at, const char *fmt, const char *a, const char *b)
{
	int n = snprintf(buf + *at, len - *at, fmt, a, b);
	if (n < 0 || (size_t)n >= len - *at)
		return -E2BIG;
	*at += (size_t)n;
	return 0;
}

static int check_words(char **v, size_t n, const char *field, struct crisp_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (!word_ok(v[i], 255))
			return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
					  "config.dns_config.%s[%zu]: empty, longer than 255, or has "
					  "spaces or control characters", field, i);
	return 0;
}

/* A "word word ..." line after head, into buf at *at. */
static int put_line(char *buf, size_t len, size_t *at, const char *head, char **v, size_t n)
{
	int r = n ? put(buf, len, at, "%s%s", head, "") : 0;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = put(buf, len, at, " %s%s", v[i], "");
	return r == 0 && n ? put(buf, len, at, "%s%s", "\n", "") : r;
}

/* resolv.conf text from DNSConfig; "" when it has nothing. */
static int resolv_text(const Runtime__V1__DNSConfig *d, char *buf, size_t len,
		       struct crisp_error *err)
{
	size_t at = 0;
	buf[0] = '\0';
	if (!d)
		return 0;
	int r = check_words(d->searches, d->n_searches, "searches", err);
	if (r == 0)
		r = check_words(d->servers, d->n_servers, "servers", err);
	if (r == 0)
		r = check_words(d->options, d->n_options, "options", err);
	if (r < 0)
		return r;
	r = put_line(buf, len, &at, "search", d->searches, d->n_searches);
	for (size_t i = 0; r == 0 && i < d->n_servers; i++)
		r = put_line(buf, len, &at, "nameserver", &d->servers[i], 1);
	if (r == 0)
		r = put_line(buf, len, &at, "options", d->options, d->n_options);
	if (r < 0)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
				  "config.dns_config: more than %zu bytes", len);
	return 0;
}

static int write_file(const char *dir, const char *name, const char *text, size_t n,
		      struct crisp_error *err)
{
	char p[PATH_MAX];
	int r = fs_path_join(p, sizeof p, dir, name);
	if (r == 0)
		r = fs_write_file(AT_FDCWD, p, text, n, 0644);
	return r < 0 ? crisp_fail_errno(err, r, "writing %s/%s", dir, name) : 0;
}

static int copy_host(const char *dir, const char *name, const char *host_file,
		     struct crisp_error *err)
{
	char *buf = NULL;
	size_t n = 0;
	int r = fs_read_file(AT_FDCWD, host_file, HOST_FILE_MAX, &buf, &n);
	if (r == -ENOENT)
		r = 0, n = 0;
	else if (r < 0)
		return crisp_fail_errno(err, r, "reading %s", host_file);
	r = write_file(dir, name, buf ? buf : "", n, err);
	free(buf);
	return r;
}

int pod_files_write(const char *dir, const Runtime__V1__PodSandboxConfig *cfg, bool host_net,
		    const char *hostname, const char *ip, struct crisp_error *err)
{
	char *text = malloc(POD_FILE_MAX);
	if (!text)
		return crisp_fail_errno(err, -ENOMEM, "pod files");
	int r = 0;
	size_t at = 0;
	if (put(text, POD_FILE_MAX, &at, "%s%s\n", hostname, "") == 0)
		r = write_file(dir, "hostname", text, at, err);
	if (r == 0 && host_net) {
		r = copy_host(dir, "hosts", "/etc/hosts", err);
	} else if (r == 0) {
		at = 0;
		r = put(text, POD_FILE_MAX, &at, "%s%s", "127.0.0.1\tlocalhost\n"
			"::1\tlocalhost ip6-localhost ip6-loopback\n"
			"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\n"
			"fe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n", "");
		if (r == 0 && ip && *ip)
			r = put(text, POD_FILE_MAX, &at, "%s\t%s\n", ip, hostname);
		r = r < 0 ? crisp_fail_errno(err, r, "hosts") : write_file(dir, "hosts", text, at, err);
	}
	if (r == 0 && (r = resolv_text(cfg->dns_config, text, POD_FILE_MAX, err)) == 0) {
		if (text[0])
			r = write_file(dir, "resolv.conf", text, strlen(text), err);
		else
			r = copy_host(dir, "resolv.conf", "/etc/resolv.conf", err);
	}
	free(text);
	return r;
}
