/*
 * registry_creds: which credentials go to which endpoint of a pull.
 *   - the request's (CRI AuthConfig) go to the image's own registry when
 *     their server_address is empty or names it, and to a mirror only when
 *     server_address names that mirror: a node's mirror never sees a pod's
 *     pull secret meant for the upstream registry;
 *   - otherwise the docker config.json entry for the endpoint (the reference
 *     domain for the registry itself, the mirror's host:port for a mirror);
 *   - otherwise none (anonymous).
 * A fingerprint (sha256 of the secrets) keys the token cache, so that a
 * token got with one user's credentials never serves another pull.
 * Never logs; wipes what it frees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "imaged/dockercfg.h"
#include "imaged/registry_int.h"

void reg_creds_clear(struct reg_creds *cr)
{
	reg_free_secret(cr->username);
	reg_free_secret(cr->password);
	reg_free_secret(cr->identity_token);
	reg_free_secret(cr->registry_token);
	*cr = (struct reg_creds){ 0 };
}

char *reg_base64(const char *s, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
	return out;
}

static bool set(const char *s)
{
	return s && *s;
}

static int dup_opt(const char *s, char **ret)
{
	if (!set(s))
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int from_request(const struct registry_credentials *rc, struct reg_creds *cr)
{
	int r = 0;
	if (set(rc->auth))
		r = dockercfg_decode_auth(rc->auth, &cr->username, &cr->password);
	else
		r = dup_opt(rc->username, &cr->username);
	if (r == 0 && !set(rc->auth))
		r = dup_opt(rc->password, &cr->password);
	if (r == 0)
		r = dup_opt(rc->identity_token, &cr->identity_token);
	if (r == 0)
		r = dup_opt(rc->registry_token, &cr->registry_token);
	return r;
}

static int fingerprint(struct reg_creds *cr)
{
	const char *parts[] = { cr->username, cr->password, cr->identity_token, cr->registry_token };
	size_t n = 0;
	for (size_t i = 0; i < 4; i++)
		n += (parts[i] ? strlen(parts[i]) : 0) + 1;
	if (n == 4) {
		snprintf(cr->fp, sizeof cr->fp, "anonymous");
		return 0;
	}
	char *buf = malloc(n), *p = buf;
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < 4; i++) {
		size_t l = parts[i] ? strlen(parts[i]) : 0;
		memcpy(p, parts[i] ? parts[i] : "", l);
		p[l] = '\n';
		p += l + 1;
	}
	struct digest d;
	int r = digest_buf(buf, n, &d);
	explicit_bzero(buf, n);
	free(buf);
	if (r == 0)
		digest_format(&d, cr->fp);
	return r;
}

static bool request_has_creds(const struct registry_credentials *rc)
{
	return rc && (set(rc->username) || set(rc->password) || set(rc->auth) ||
		      set(rc->identity_token) || set(rc->registry_token));
}

int reg_creds_resolve(const struct registry_client *c, const struct registry_credentials *rc,
		      const char *domain, const struct reg_endpoint *ep, struct reg_creds *ret,
		      struct registry_error *err)
{
	char target[REG_AUTHORITY_MAX], server[REG_AUTHORITY_MAX];
	struct reg_creds cr = { 0 };
	int r = dockercfg_server_key(ep->mirror ? ep->authority : domain, target, sizeof target);
	if (r < 0)
		return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r, "bad registry host %s", domain);
	bool use_request = false;
	if (request_has_creds(rc)) {
		if (!set(rc->server_address))
			use_request = !ep->mirror;
		else if (dockercfg_server_key(rc->server_address, server, sizeof server) < 0)
			return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
					"the credentials' server address is not a host name");
		else
			use_request = strcmp(server, target) == 0;
	}
	if (use_request) {
		r = from_request(rc, &cr);
		if (r == -EINVAL) {
			reg_creds_clear(&cr);
			return reg_fail(err, CRISP_STATUS_INVALID_ARGUMENT, r,
					"the credentials' auth field is not base64 of user:password");
		}
	} else if (c->docker_config) {
		struct dockercfg_auth a = { 0 };
		r = dockercfg_lookup(c->docker_config, target, &a);
		if (r == -ENOENT)
			r = 0;
		else if (r < 0)
			return reg_fail(err, CRISP_STATUS_FAILED_PRECONDITION, r,
					"docker config %s: %s", c->docker_config,
					r == -EFBIG ? "too large" : r == -EINVAL ? "malformed" : strerror(-r));
		cr = (struct reg_creds){ .username = a.username, .password = a.password,
					 .identity_token = a.identity_token,
					 .registry_token = a.registry_token };
	}
	if (r == 0)
		r = fingerprint(&cr);
	if (r < 0) {
		reg_creds_clear(&cr);
		return reg_fail(err, CRISP_STATUS_INTERNAL, r, "out of memory");
	}
	*ret = cr;
	return 0;
}
