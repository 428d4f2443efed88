/*
 * dockercfg: docker config.json credentials (see dockercfg.h). json-c for
 * the file, OpenSSL's EVP_DecodeBlock for "auth". Never logs.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "common/fsutil.h"
#include "imaged/dockercfg.h"

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void dockercfg_auth_clear(struct dockercfg_auth *a)
{
	free_secret(a->username);
	free_secret(a->password);
	free_secret(a->identity_token);
	free_secret(a->registry_token);
	*a = (struct dockercfg_auth){ 0 };
}

int dockercfg_server_key(const char *server, char *buf, size_t len)
{
	static const char *const hub[] = { "index.docker.io", "registry-1.docker.io",
					   "registry.hub.docker.com" };
	const char *p = strstr(server, "://");
	p = p ? p + 3 : server;
	size_t n = strcspn(p, "/");
	if (n == 0 || n >= len)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char ch = (char)tolower((unsigned char)p[i]);
		if (!isalnum((unsigned char)ch) && !strchr(".-:[]*_", ch))
			return -EINVAL;
		buf[i] = ch;
	}
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof hub / sizeof hub[0]; i++)
		if (strcmp(buf, hub[i]) == 0)
			snprintf(buf, len, "docker.io");
	return 0;
}

int dockercfg_decode_auth(const char *b64, char **ret_user, char **ret_pass)
{
	size_t n = strlen(b64);
	if (n == 0 || n > 64 * 1024)
		return -EINVAL;
	size_t padded = (n + 3) / 4 * 4;
	unsigned char *in = malloc(padded + 1), *out = malloc(padded / 4 * 3 + 1);
	int r = -ENOMEM;
	if (!in || !out)
		goto out;
	memcpy(in, b64, n);
	memset(in + n, '=', padded - n);
	in[padded] = '\0';
	size_t pad = 0;
	while (pad < padded && in[padded - 1 - pad] == '=')
		pad++;
	int dl = EVP_DecodeBlock(out, in, (int)padded);
	r = -EINVAL;
	if (dl < 0 || pad > 2 || (size_t)dl < pad)
		goto out;
	dl -= (int)pad;
	out[dl] = '\0';
	char *colon = memchr(out, ':', (size_t)dl);
	if (!colon || colon == (char *)out || memchr(out, '\0', (size_t)dl))
		goto out;
	*colon = '\0';
	char *user = strdup((char *)out), *pass = strdup(colon + 1);
	if (!user || !pass) {
		free_secret(user);
		free_secret(pass);
		r = -ENOMEM;
		goto out;
	}
	*ret_user = user;
	*ret_pass = pass;
	r = 0;
out:
	if (in)
		explicit_bzero(in, padded);
	if (out)
		explicit_bzero(out, padded / 4 * 3 + 1);
	free(in);
	free(out);
	return r;
}

/* "*.example.com[:port]" against "a.example.com[:port]": one label. */
static bool wildcard_match(const char *key, const char *host)
{
	if (strncmp(key, "*.", 2) != 0)
		return false;
	const char *kport = strchr(key, ':'), *hport = strchr(host, ':');
	if ((kport == NULL) != (hport == NULL) || (kport && strcmp(kport, hport) != 0))
		return false;
	size_t klen = kport ? (size_t)(kport - key) : strlen(key);
	size_t hlen = hport ? (size_t)(hport - host) : strlen(host);
	size_t suffix = klen - 1;                       /* ".example.com" */
	if (hlen <= suffix || memcmp(host + hlen - suffix, key + 1, suffix) != 0)
		return false;
	return memchr(host, '.', hlen - suffix) == NULL;
}

static int dup_field(json_object *entry, const char *name, char **ret)
{
	json_object *v;
	if (!json_object_object_get_ex(entry, name, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	const char *s = json_object_get_string(v);
	if (!*s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int entry_parse(json_object *entry, struct dockercfg_auth *ret)
{
	struct dockercfg_auth a = { 0 };
	char *auth = NULL;
	if (!json_object_is_type(entry, json_type_object))
		return -EINVAL;
	int r = dup_field(entry, "auth", &auth);
	if (r == 0 && auth)
		r = dockercfg_decode_auth(auth, &a.username, &a.password);
	if (r == 0 && !a.username)
		r = dup_field(entry, "username", &a.username);
	if (r == 0 && !a.password)
		r = dup_field(entry, "password", &a.password);
	if (r == 0)
		r = dup_field(entry, "identitytoken", &a.identity_token);
	if (r == 0)
		r = dup_field(entry, "registrytoken", &a.registry_token);
	free_secret(auth);
	if (r == 0 && !a.username && !a.identity_token && !a.registry_token)
		r = -ENOENT;            /* e.g. {} left by a credsStore login */
	if (r < 0) {
		dockercfg_auth_clear(&a);
		return r;
	}
	*ret = a;
	return 0;
}

/* The entry of auths that is for host: an exact key, else a wildcard. */
static json_object *auths_find(json_object *auths, const char *host)
{
	json_object *wild = NULL;
	char key[300];
	json_object_object_foreach(auths, k, v) {
		if (dockercfg_server_key(k, key, sizeof key) < 0)
			continue;
		if (strcmp(key, host) == 0)
			return v;
		if (!wild && wildcard_match(key, host))
			wild = v;
	}
	return wild;
}

int dockercfg_lookup(const char *path, const char *host, struct dockercfg_auth *ret)
{
	char want[300];
	char *buf = NULL;
	size_t len = 0;
	if (dockercfg_server_key(host, want, sizeof want) < 0)
		return -EINVAL;
	int r = fs_read_file(AT_FDCWD, path, DOCKERCFG_MAX_SIZE, &buf, &len);
	if (r < 0)
		return r;
	json_object *root = json_tokener_parse(buf), *auths, *entry;
	explicit_bzero(buf, len);
	free(buf);
	if (!root || !json_object_is_type(root, json_type_object))
		r = -EINVAL;
	else if (!json_object_object_get_ex(root, "auths", &auths))
		r = -ENOENT;
	else if (!json_object_is_type(auths, json_type_object))
		r = -EINVAL;
	else if (!(entry = auths_find(auths, want)))
		r = -ENOENT;
	else
		r = entry_parse(entry, ret);
	json_object_put(root);
	return r;
}
