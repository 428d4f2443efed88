/*
 * config_file: reads one crisp INI file into a struct crisp_config
 * (config_read_file in common/config.h). Owns the table of sections and
 * keys and the check of every value; docs/CONFIG.md documents the same keys
 * and must change with this table.
 *
 * libinih does the parsing, fed line by line by our own reader so that we
 * know the line of every key (the error names file:line), can check section
 * names (inih does not report a section without keys), and can let only a
 * list key continue on an indented line: other indented lines (and indented
 * sections and key = value lines anywhere) are passed to inih unindented,
 * so an indented key is just a key.
 * Never logs; the error text goes to ret_err.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/config.h"
#include "common/fsutil.h"
#include "common/log.h"

#define CONFIG_FILE_MAX (1024u * 1024u)
#define NAME_MAX_LEN 63
#define IMAGE_REF_MAX 512
#define MSG_SIZE_MIN UINT64_C(4096)
#define MSG_SIZE_MAX (UINT64_C(1) << 30)

enum kind {
	K_PATH,         /* absolute path */
	K_PATHLIST,     /* colon separated absolute paths */
	K_USER,         /* a user name */
	K_LEVEL,        /* a log level */
	K_SIZE,         /* bytes, with an optional K/M/G(iB) suffix */
	K_UINT,         /* unsigned in [min, max] */
	K_CGROUP,       /* cgroupfs | systemd */
	K_NAME,         /* a runtime handler name */
	K_ADDRESS,      /* an IPv4 or IPv6 address */
	K_IMAGES,       /* comma separated image references, may continue */
	K_BYTES,        /* bytes as K_SIZE, in [min, max] */
	K_BOOL,         /* true/false, yes/no, on/off, 1/0 */
	K_URLS,         /* comma separated http(s) URLs, may continue */
	K_CIDR,         /* an IPv4 or IPv6 network, "10.67.0.0/16" */
	K_IFNAME,       /* a network interface name */
};

struct key {
	const char *section;    /* "runtime.*" for every [runtime.NAME] */
	const char *name;
	enum kind kind;
	size_t off;             /* in struct crisp_config, struct runtime_handler or
				 * struct registry_host_config */
	uint64_t min, max;      /* K_UINT, K_BYTES */
};

#define CF(f) offsetof(struct crisp_config, f)
#define RH(f) offsetof(struct runtime_handler, f)
#define RG(f) offsetof(struct registry_host_config, f)
#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define REGISTRY_HOST_MAX 118   /* "[registry." + host + "]" fits a section name */
#define MIRROR_URL_MAX 2047

static const struct key keys[] = {
	{ "crisp", "root", K_PATH, CF(root), 0, 0 },
	{ "crisp", "runroot", K_PATH, CF(runroot), 0, 0 },
	{ "crisp", "listen", K_PATH, CF(listen), 0, 0 },
	{ "crisp", "user", K_USER, CF(user), 0, 0 },
	{ "crisp", "log_level", K_LEVEL, CF(log_level), 0, 0 },
	{ "api", "max_msg_size", K_SIZE, CF(max_msg_size), 0, 0 },
	{ "api", "max_connections", K_UINT, CF(max_connections), 1, 65536 },
	{ "api", "idle_timeout", K_UINT, CF(idle_timeout), 1, 86400 },
	{ "api", "handshake_timeout", K_UINT, CF(handshake_timeout), 1, 3600 },
	{ "api", "max_call_timeout", K_UINT, CF(max_call_timeout), 1, 86400 },
	{ "runtime", "cgroup_manager", K_CGROUP, CF(cgroup_manager), 0, 0 },
	{ "runtime", "default_runtime", K_NAME, CF(default_runtime), 0, 0 },
	{ "runtime", "max_pods", K_UINT, CF(max_pods), 1, 100000 },
	{ "runtime", "max_containers", K_UINT, CF(max_containers), 1, 1000000 },
	{ "runtime", "shm_size", K_BYTES, CF(shm_size), 64 * KIB, 1024 * GIB },
	{ "runtime", "log_max_line", K_BYTES, CF(log_max_line), 256, 16 * MIB },
	{ "runtime.*", "path", K_PATH, RH(path), 0, 0 },
	{ "runtime.*", "root", K_PATH, RH(root), 0, 0 },
	{ "network", "cni_conf_dir", K_PATH, CF(cni_conf_dir), 0, 0 },
	{ "network", "cni_bin_dirs", K_PATHLIST, CF(cni_bin_dirs), 0, 0 },
	{ "network", "default_bridge", K_IFNAME, CF(default_bridge), 0, 0 },
	{ "network", "default_subnet", K_CIDR, CF(default_subnet), 0, 0 },
	{ "network", "ipam_dir", K_PATH, CF(ipam_dir), 0, 0 },
	{ "network", "plugin_timeout", K_UINT, CF(plugin_timeout), 1, 3600 },
	{ "stream", "address", K_ADDRESS, CF(stream_address), 0, 0 },
	{ "stream", "port", K_UINT, CF(stream_port), 0, 65535 },
	{ "image", "pinned_images", K_IMAGES, CF(pinned_images), 0, 0 },
	{ "image", "max_concurrent_pulls", K_UINT, CF(max_concurrent_pulls), 1, 64 },
	{ "image", "max_concurrent_downloads", K_UINT, CF(max_concurrent_downloads), 1, 16 },
	{ "image", "max_manifest_size", K_BYTES, CF(max_manifest_size), 4 * KIB, 64 * MIB },
	{ "image", "max_layer_size", K_BYTES, CF(max_layer_size), MIB, 1024 * GIB },
	{ "image", "max_layer_ratio", K_UINT, CF(max_layer_ratio), 2, 100000 },
	{ "registry", "docker_config", K_PATH, CF(docker_config), 0, 0 },
	{ "registry", "connect_timeout", K_UINT, CF(connect_timeout), 1, 3600 },
	{ "registry", "stall_timeout", K_UINT, CF(stall_timeout), 1, 86400 },
	{ "registry", "max_retries", K_UINT, CF(max_retries), 0, 20 },
	{ "registry.*", "mirrors", K_URLS, RG(mirrors), 0, 0 },
	{ "registry.*", "insecure", K_BOOL, RG(insecure), 0, 0 },
	{ "registry.*", "ca_file", K_PATH, RG(ca_file), 0, 0 },
};

static const char *const sections[] = { "crisp", "api", "runtime", "network", "stream", "image",
					"registry" };

struct reader {
	struct crisp_config *c;
	const char *path;
	const char *pos;                /* the next line */
	unsigned lineno;                /* of the line inih has now */
	bool indented;                  /* that line began with blanks */
	bool list_open;                 /* the last key may continue */
	char *err;                      /* the first error, without file:line */
	unsigned err_line;
};

static void set_err(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct reader *rd, const char *fmt, ...)
{
	if (rd->err)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&rd->err, fmt, ap) < 0)
		rd->err = NULL;
	va_end(ap);
	rd->err_line = rd->lineno;
}

static bool handler_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

/* A registry domain as image references spell it: host names and IPv4
 * addresses with an optional port (an IPv6 "[...]" cannot be an INI section). */
static bool registry_host_ok(const char *s)
{
	size_t n = strlen(s);
	const char *colon = strchr(s, ':');
	if (n == 0 || n > REGISTRY_HOST_MAX || s[0] == '.' || s[0] == '-' || colon == s)
		return false;
	for (const char *p = s; *p; p++) {
		bool in_port = colon && p > colon;
		if (in_port ? !isdigit((unsigned char)*p) :
		    !isalnum((unsigned char)*p) && *p != '.' && *p != '-' && p != colon)
			return false;
	}
	return !colon || (colon[1] != '\0' && strlen(colon + 1) <= 5);
}

static bool section_known(const char *s)
{
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
		if (strcmp(s, sections[i]) == 0)
			return true;
	if (strncmp(s, "registry.", 9) == 0)
		return registry_host_ok(s + 9);
	return strncmp(s, "runtime.", 8) == 0 && handler_name_ok(s + 8);
}

/* A "[name]" line: check the name (inih reports a malformed one itself). */
static void check_section_line(struct reader *rd, const char *line)
{
	const char *end = strchr(line, ']');
	if (!end)
		return;
	char name[128];
	size_t n = (size_t)(end - line - 1);
	if (n >= sizeof name) {
		set_err(rd, "unknown section (name too long)");
		return;
	}
	memcpy(name, line + 1, n);
	name[n] = '\0';
	if (!section_known(name))
		set_err(rd, "unknown section [%s]", name);
	rd->list_open = false;
}

/* inih's fgets-like reader: one line a call, unindented unless it continues
 * a list key; a line that does not fit in inih's buffer is an error. */
static char *reader_line(char *str, int num, void *stream)
{
	struct reader *rd = stream;
	if (rd->err || *rd->pos == '\0' || num < 2)
		return NULL;
	const char *nl = strchr(rd->pos, '\n');
	size_t len = nl ? (size_t)(nl - rd->pos) + 1 : strlen(rd->pos);
	rd->lineno++;
	const char *start = rd->pos;
	rd->pos += len;
	size_t blanks = strspn(start, " \t");
	rd->indented = blanks > 0;
	const char *text = start + blanks;
	bool empty = *text == '\n' || *text == '\r' || *text == '\0' || *text == '#' ||
		     *text == ';';
	/* a section or a key = value is never a list's continuation */
	bool cont = rd->indented && rd->list_open && *text != '[' &&
		    !memchr(text, '=', len - blanks);
	if (!empty && !cont) {
		start = text;   /* unindent: it is not a continuation */
		len -= blanks;
		rd->indented = false;
	}
	if (len >= (size_t)num) {
		set_err(rd, "line longer than %d characters", num - 2);
		return NULL;
	}
	memcpy(str, start, len);
	str[len] = '\0';
	if (*text == '[')
		check_section_line(rd, text);
	return rd->err ? NULL : str;
}

static int set_string(char **field, const char *v)
{
	char *s = strdup(v);
	if (!s)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

static bool path_ok(const char *v)
{
	return v[0] == '/' && strlen(v) < PATH_MAX && !strpbrk(v, "\n\r");
}

static bool pathlist_ok(const char *v)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", v) >= (int)sizeof buf)
		return false;
	char *save = NULL;
	size_t n = 0;
	for (char *p = strtok_r(buf, ":", &save); p; p = strtok_r(NULL, ":", &save), n++)
		if (!path_ok(p))
			return false;
	return n > 0 && v[0] != ':' && v[strlen(v) - 1] != ':' && !strstr(v, "::");
}

static bool user_ok(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 31 || !(islower((unsigned char)v[0]) || v[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)v[i]) && !isdigit((unsigned char)v[i]) &&
		    v[i] != '_' && v[i] != '-')
			return false;
	return true;
}

static int parse_u64(const char *v, uint64_t *ret, const char **ret_end)
{
	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno != 0)
		return -ERANGE;
	*ret = x;
	*ret_end = end;
	return 0;
}

static int parse_size(const char *v, uint64_t *ret)
{
	uint64_t x;
	const char *end;
	if (parse_u64(v, &x, &end) < 0)
		return -EINVAL;
	unsigned shift = 0;
	if (*end) {
		static const char *const units[] = { "K", "KiB", "M", "MiB", "G", "GiB" };
		size_t i = 0;
		for (; i < 6 && strcasecmp(end, units[i]) != 0; i++)
			;
		if (i == 6)
			return -EINVAL;
		shift = 10 * (unsigned)(i / 2 + 1);
	}
	if (x > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = x << shift;
	return 0;
}

static bool image_ref_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > IMAGE_REF_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-/:@", *s))
			return false;
	return true;
}

/* The next item of a comma-separated list (strtok_r: s, then NULL), its
 * blanks around it cut; empty items are skipped. NULL at the end. */
static char *list_item(char *s, char **save)
{
	for (char *p = strtok_r(s, ",", save); p; p = strtok_r(NULL, ",", save)) {
		p += strspn(p, " \t");
		size_t n = strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			p[--n] = '\0';
		if (n > 0)
			return p;
	}
	return NULL;
}

/* pinned_images: a new key replaces the list, a continuation appends. */
static void set_images(struct reader *rd, const struct key *k, const char *v)
{
	struct crisp_config *c = rd->c;
	if (!rd->indented) {
		for (size_t i = 0; i < c->n_pinned; i++)
			free(c->pinned_images[i]);
		c->n_pinned = 0;
	}
	char *copy = strdup(v);
	if (!copy) {
		set_err(rd, "out of memory");
		return;
	}
	char *save = NULL;
	for (char *p = list_item(copy, &save); p; p = list_item(NULL, &save)) {
		if (!image_ref_ok(p)) {
			set_err(rd, "%s: \"%s\" is not an image reference%s", k->name, p,
				rd->indented ? " (an indented line continues the list above)" : "");
			break;
		}
		if (c->n_pinned == CONFIG_MAX_PINNED) {
			set_err(rd, "%s: more than %d images", k->name, CONFIG_MAX_PINNED);
			break;
		}
		c->pinned_images[c->n_pinned] = strdup(p);
		if (!c->pinned_images[c->n_pinned]) {
			set_err(rd, "out of memory");
			break;
		}
		c->n_pinned++;
	}
	free(copy);
}

static bool mirror_url_ok(const char *s)
{
	size_t n = strlen(s);
	const char *rest = strncmp(s, "https://", 8) == 0 ? s + 8 :
			   strncmp(s, "http://", 7) == 0 ? s + 7 : NULL;
	if (!rest || !*rest || *rest == '/' || n > MIRROR_URL_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr("\"<>\\^`{|}", *s))
			return false;
	return true;
}

/* mirrors: a new key replaces the list, a continuation appends. */
static void set_urls(struct reader *rd, const struct key *k, void *base, const char *v)
{
	struct registry_host_config *h = base;
	if (!rd->indented) {
		for (size_t i = 0; i < h->n_mirrors; i++)
			free(h->mirrors[i]);
		h->n_mirrors = 0;
	}
	char *copy = strdup(v);
	if (!copy) {
		set_err(rd, "out of memory");
		return;
	}
	char *save = NULL;
	for (char *p = list_item(copy, &save); p; p = list_item(NULL, &save)) {
		if (!mirror_url_ok(p)) {
			set_err(rd, "%s: \"%s\" is not an http:// or https:// URL", k->name, p);
			break;
		}
		if (h->n_mirrors == CONFIG_MAX_MIRRORS) {
			set_err(rd, "%s: more than %d mirrors", k->name, CONFIG_MAX_MIRRORS);
			break;
		}
		if (!(h->mirrors[h->n_mirrors] = strdup(p))) {
			set_err(rd, "out of memory");
			break;
		}
		h->n_mirrors++;
	}
	free(copy);
}

/* "10.67.0.0/16", "fd00:67::/64": an address and a prefix length that
fits it, with no host bits set. */
static bool cidr_ok(const char *v)
{
	char addr[64];
	unsigned char a[16];
	const char *slash = strchr(v, '/');
	if (!slash || (size_t)(slash - v) >= sizeof addr)
		return false;
	memcpy(addr, v, (size_t)(slash - v));
	addr[slash - v] = '\0';
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	unsigned bits = family == AF_INET ? 32 : 128;
	if (inet_pton(family, addr, a) != 1)
		return false;
	char *end;
	errno = 0;
	unsigned long len = strtoul(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || len == 0 || len > bits - 2 ||
	    !isdigit((unsigned char)slash[1]))
		return false;
	for (unsigned i = (unsigned)len; i < bits; i++)
		if (a[i / 8] & (0x80u >> (i % 8)))
			return false;
	return true;
}

/* A Linux interface name: 1 to 15 of [A-Za-z0-9_.-]. */
static bool ifname_ok(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 15 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
		return false;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '_' && *v != '-' && *v != '.')
			return false;
	return true;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *ret = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *ret = false, 0;
	}
	return -EINVAL;
}

/* "4096" as "4KiB" where it divides evenly, for messages. */
static void format_size(uint64_t x, char *buf, size_t len)
{
	static const char *const units[] = { "", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;
	while (u < 4 && x >= 1024 && x % 1024 == 0) {
		x /= 1024;
		u++;
	}
	snprintf(buf, len, "%llu%s", (unsigned long long)x, units[u]);
}

/* Check v for k and store it at base + k->off. */
static void set_value(struct reader *rd, const struct key *k, void *base, const char *v)
{
	char *field_p = (char *)base + k->off;
	uint64_t x = 0;
	int level;
	bool ok = true;
	const char *want = "";
	const char *end;
	char range[96], lo[24], hi[24];
	bool b;

	switch (k->kind) {
	case K_PATH:
		ok = path_ok(v), want = "an absolute path";
		break;
	case K_PATHLIST:
		ok = pathlist_ok(v), want = "absolute paths separated by ':'";
		break;
	case K_USER:
		ok = user_ok(v), want = "a user name";
		break;
	case K_LEVEL:
		level = log_level_parse(v);
		ok = level >= 0, want = "one of error, warn, info, debug";
		if (ok)
			*(int *)(void *)field_p = level;
		break;
	case K_SIZE:
		ok = parse_size(v, &x) == 0 && x >= MSG_SIZE_MIN && x <= MSG_SIZE_MAX;
		want = "a size from 4KiB to 1GiB, e.g. 16777216 or 16MiB";
		if (ok)
			*(uint64_t *)(void *)field_p = x;
		break;
	case K_UINT:
		ok = parse_u64(v, &x, &end) == 0 && *end == '\0' && x >= k->min && x <= k->max;
		snprintf(range, sizeof range, "a number from %llu to %llu",
			 (unsigned long long)k->min, (unsigned long long)k->max);
		want = range;
		if (ok)
			*(unsigned *)(void *)field_p = (unsigned)x;
		break;
	case K_CGROUP:
		ok = strcmp(v, "cgroupfs") == 0 || strcmp(v, "systemd") == 0;
		want = "cgroupfs or systemd";
		break;
	case K_NAME:
		ok = handler_name_ok(v), want = "a runtime handler name ([A-Za-z0-9_-], at most 63)";
		break;
	case K_ADDRESS: {
		unsigned char addr[16];
		ok = inet_pton(AF_INET, v, addr) == 1 || inet_pton(AF_INET6, v, addr) == 1;
		want = "an IPv4 or IPv6 address";
		break;
	}
	case K_IMAGES:
		set_images(rd, k, v);
		return;
	case K_URLS:
		set_urls(rd, k, base, v);
		return;
	case K_BYTES:
		ok = parse_size(v, &x) == 0 && x >= k->min && x <= k->max;
		format_size(k->min, lo, sizeof lo);
		format_size(k->max, hi, sizeof hi);
		snprintf(range, sizeof range, "a size from %s to %s (bytes, or with K/M/G(iB))",
			 lo, hi);
		want = range;
		if (ok)
			*(uint64_t *)(void *)field_p = x;
		break;
	case K_CIDR:
		ok = cidr_ok(v), want = "a network in CIDR form (e.g. 10.67.0.0/16, no host bits)";
		break;
	case K_IFNAME:
		ok = ifname_ok(v), want = "an interface name (1 to 15 of [A-Za-z0-9_.-])";
		break;
	case K_BOOL:
		ok = parse_bool(v, &b) == 0, want = "true or false";
		if (ok)
			*(bool *)(void *)field_p = b;
		break;
	}
	if (!ok) {
		set_err(rd, "%s: \"%s\" is not %s", k->name, v, want);
		return;
	}
	bool is_string = k->kind != K_SIZE && k->kind != K_UINT && k->kind != K_LEVEL &&
			 k->kind != K_BYTES && k->kind != K_BOOL;
	if (is_string && set_string((char **)(void *)field_p, v) < 0)
		set_err(rd, "out of memory");
}

static struct runtime_handler *handler_get(struct reader *rd, const char *name)
{
	struct crisp_config *c = rd->c;
	for (size_t i = 0; i < c->n_handlers; i++)
		if (strcmp(c->handlers[i].name, name) == 0)
			return &c->handlers[i];
	if (c->n_handlers == CONFIG_MAX_HANDLERS) {
		set_err(rd, "more than %d runtime handlers", CONFIG_MAX_HANDLERS);
		return NULL;
	}
	struct runtime_handler *h = &c->handlers[c->n_handlers];
	*h = (struct runtime_handler){ .name = strdup(name) };
	if (!h->name) {
		set_err(rd, "out of memory");
		return NULL;
	}
	c->n_handlers++;
	return h;
}

static struct registry_host_config *registry_get(struct reader *rd, const char *host)
{
	struct crisp_config *c = rd->c;
	for (size_t i = 0; i < c->n_registries; i++)
		if (strcmp(c->registries[i].host, host) == 0)
			return &c->registries[i];
	if (c->n_registries == CONFIG_MAX_REGISTRIES) {
		set_err(rd, "more than %d [registry.HOST] sections", CONFIG_MAX_REGISTRIES);
		return NULL;
	}
	struct registry_host_config *h = &c->registries[c->n_registries];
	*h = (struct registry_host_config){ .host = strdup(host) };
	if (!h->host) {
		set_err(rd, "out of memory");
		return NULL;
	}
	c->n_registries++;
	return h;
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
	struct reader *rd = user;
	if (rd->err)
		return 0;
	bool handler = strncmp(section, "runtime.", 8) == 0;
	bool registry = strncmp(section, "registry.", 9) == 0;
	if (rd->indented && !rd->list_open) {
		set_err(rd, "an indented line continues a key that is not a list");
		return 0;
	}
	if (!*section) {
		set_err(rd, "key \"%s\" outside of a [section]", name);
		return 0;
	}
	const struct key *k = NULL;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !k; i++)
		if (strcmp(keys[i].name, name) == 0 &&
		    strcmp(keys[i].section, handler ? "runtime.*" :
				   registry ? "registry.*" : section) == 0)
			k = &keys[i];
	if (!k) {
		set_err(rd, "unknown key \"%s\" in [%s]", name, section);
		return 0;
	}
	void *base = rd->c;
	if (handler || registry) {
		base = handler ? (void *)handler_get(rd, section + 8) :
				 (void *)registry_get(rd, section + 9);
		if (!base)
			return 0;
	}
	set_value(rd, k, base, value);
	rd->list_open = k->kind == K_IMAGES || k->kind == K_URLS;
	return rd->err ? 0 : 1;
}

int config_read_file(struct crisp_config *c, const char *path, char **ret_err)
{
	char *buf = NULL;
	size_t len = 0;
	int r = fs_read_file(AT_FDCWD, path, CONFIG_FILE_MAX, &buf, &len);
	if (r < 0) {
		if (r == -EFBIG)
			r = asprintf(ret_err, "%s: larger than %u bytes", path, CONFIG_FILE_MAX) < 0 ?
				-ENOMEM : -EFBIG;
		else if (asprintf(ret_err, "cannot read %s: %s", path, strerror(-r)) < 0)
			r = -ENOMEM;
		return r;
	}
	if (strlen(buf) != len) {
		free(buf);
		return asprintf(ret_err, "%s: contains a NUL byte", path) < 0 ? -ENOMEM : -EINVAL;
	}
	struct reader rd = { .c = c, .path = path, .pos = buf };
	/* inih returns the line of its first error (0: none): a syntax error
	 * of its own, or where on_value failed */
	int line = ini_parse_stream(reader_line, &rd, on_value, &rd);
	if (line > 0 && (!rd.err || (unsigned)line < rd.err_line)) {
		r = asprintf(ret_err, "%s:%d: syntax error (expected [section] or key = value)",
			     path, line) < 0 ? -ENOMEM : -EINVAL;
	} else if (rd.err) {
		r = asprintf(ret_err, "%s:%u: %s", path, rd.err_line, rd.err) < 0 ?
			-ENOMEM : -EINVAL;
	}
	free(rd.err);
	free(buf);
	return r;
}
