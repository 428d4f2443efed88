/*
 * reference: the image reference grammar and its normalisation (see
 * reference.h). Hand-written scanners, one per grammar element, each
 * returning how many bytes it accepted; no regex, no allocation.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "imaged/reference.h"

static int fail(const char **why, const char *reason)
{
	*why = reason;
	return -EINVAL;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* path-component := [a-z0-9]+ ((?:[._]|__|[-]+) [a-z0-9]+)* over [s, s+n) */
static bool path_component_valid(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		size_t start = i;
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == start)
			return false;
		if (i == n)
			return true;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return false;
	}
}

static bool path_valid(const char *s)
{
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (!path_component_valid(s, n))
			return false;
		if (!slash)
			return true;
		s = slash + 1;
	}
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_component_valid(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool port_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5)
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* host[:port] where host is dotted domain components or [ipv6]. */
static bool domain_valid(const char *d)
{
	const char *end;
	if (d[0] == '[') {
		end = strchr(d, ']');
		if (!end || end == d + 1)
			return false;
		for (const char *p = d + 1; p < end; p++)
			if (!is_hex_lower(*p) && !(*p >= 'A' && *p <= 'F') && *p != ':')
				return false;
		end++;
		if (*end && *end != ':')
			return false;
	} else {
		end = d + strcspn(d, ":");
		const char *p = d;
		for (;;) {
			const char *dot = memchr(p, '.', (size_t)(end - p));
			const char *ce = dot ? dot : end;
			if (!domain_component_valid(p, (size_t)(ce - p)))
				return false;
			if (!dot)
				break;
			p = dot + 1;
		}
	}
	return *end == '\0' || port_valid(end + 1);
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > REF_TAG_MAX || !is_word(t[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_word(t[i]) && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

static bool is_64_hex(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!is_hex_lower(*s))
			return false;
	return true;
}

static bool has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

/* Splits name into domain and path the way distribution's
 * splitDockerDomain does, writing both into r. */
static int split_domain(const char *name, struct image_ref *r, const char **why)
{
	const char *slash = strchr(name, '/');
	const char *path = name;
	size_t dl = 0;
	if (slash) {
		dl = (size_t)(slash - name);
		bool host = memchr(name, '.', dl) || memchr(name, ':', dl) ||
			    (dl == 9 && memcmp(name, "localhost", 9) == 0) || has_upper(name, dl);
		if (host)
			path = slash + 1;
		else
			dl = 0;
	}
	if (dl == 0 || (dl == 15 && memcmp(name, "index.docker.io", 15) == 0))
		snprintf(r->domain, sizeof r->domain, "%s", REF_DOCKER_DOMAIN);
	else if (dl >= sizeof r->domain)
		return fail(why, "repository name is too long");
	else
		snprintf(r->domain, sizeof r->domain, "%.*s", (int)dl, name);

	bool library = strcmp(r->domain, REF_DOCKER_DOMAIN) == 0 && !strchr(path, '/');
	int n = snprintf(r->path, sizeof r->path, "%s%s", library ? "library/" : "", path);
	if (n < 0 || (size_t)n >= sizeof r->path)
		return fail(why, "repository name is too long");
	return 0;
}

/* Splits "name[:tag][@digest]" in place; the tag's ':' is the last one after
 * the last '/'. */
static void split_tag_digest(char *s, char **ret_tag, char **ret_digest)
{
	char *at = strchr(s, '@');
	*ret_digest = NULL;
	if (at) {
		*at = '\0';
		*ret_digest = at + 1;
	}
	char *slash = strrchr(s, '/');
	char *colon = strrchr(slash ? slash : s, ':');
	*ret_tag = NULL;
	if (colon) {
		*colon = '\0';
		*ret_tag = colon + 1;
	}
}

static int parse_parts(char *buf, struct image_ref *r, const char **why)
{
	char *tag, *digest;
	split_tag_digest(buf, &tag, &digest);
	struct digest d;
	int dr = digest ? digest_parse(digest, &d) : 0;
	if (dr == -EOPNOTSUPP)
		return fail(why, "unsupported digest algorithm (crisp accepts sha256 only)");
	if (dr < 0)
		return fail(why, "invalid digest (want sha256:<64 lower-case hex>)");
	if (tag && !tag_valid(tag))
		return fail(why, "invalid tag");
	if (buf[0] == '\0')
		return fail(why, "repository name is empty");
	int ret = split_domain(buf, r, why);
	if (ret < 0)
		return ret;
	if (!domain_valid(r->domain))
		return fail(why, "invalid registry host");
	if (has_upper(r->path, strlen(r->path)))
		return fail(why, "repository name must be lowercase");
	if (!path_valid(r->path))
		return fail(why, "invalid repository name");
	if (strlen(r->domain) + 1 + strlen(r->path) > REF_NAME_MAX)
		return fail(why, "repository name is longer than 255 bytes");
	snprintf(r->tag, sizeof r->tag, "%s", tag ? tag : digest ? "" : "latest");
	snprintf(r->digest, sizeof r->digest, "%s", digest ? digest : "");
	return 0;
}

int image_ref_parse(const char *s, struct image_ref *ret, const char **ret_why)
{
	const char *why_dummy;
	const char **why = ret_why ? ret_why : &why_dummy;
	if (!s || !*s)
		return fail(why, "reference is empty");
	size_t n = strlen(s);
	if (n > REF_INPUT_MAX)
		return fail(why, "reference is too long");
	if (is_64_hex(s))
		return fail(why, "a 64-character hexadecimal string is an image id, not a repository name");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return fail(why, "reference has a space, control or non-ASCII character");

	char buf[REF_INPUT_MAX + 1];
	memcpy(buf, s, n + 1);
	struct image_ref r = { 0 };
	int rc = parse_parts(buf, &r, why);
	if (rc < 0)
		return rc;
	*ret = r;
	return 0;
}

int image_ref_name(const struct image_ref *r, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", r->domain, r->path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int image_ref_string(const struct image_ref *r, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s%s%s%s%s", r->domain, r->path,
			 r->tag[0] ? ":" : "", r->tag, r->digest[0] ? "@" : "", r->digest);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *image_ref_object(const struct image_ref *r)
{
	return r->digest[0] ? r->digest : r->tag;
}

const char *image_ref_api_host(const char *domain)
{
	return strcmp(domain, REF_DOCKER_DOMAIN) == 0 ? REF_DOCKER_API_HOST : domain;
}
