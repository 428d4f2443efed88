/*
 * dockercfg: registry credentials from a docker-style config.json (the file
 * kubelet and `docker login` write):
 *
 *   {"auths": {"<server>": {"auth": "<base64 user:pass>"},
 *              "<server>": {"username": "u", "password": "p"},
 *              "<server>": {"identitytoken": "..."},
 *              "<server>": {"registrytoken": "..."}}}
 *
 * A server key is compared after normalisation (dockercfg_server_key):
 * scheme and path dropped, host lower-cased, Docker Hub's aliases
 * ("https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io")
 * become "docker.io". A key "*.example.com[:port]" matches exactly one more
 * label, as kubelet does. An exact key wins over a wildcard.
 * credsStore and credHelpers (external programs) are not supported.
 *
 * The file is read on every lookup (it may change), at most
 * DOCKERCFG_MAX_SIZE bytes. Never logs; secrets it frees are wiped first.
 */
#pragma once
#include <stddef.h>

#define DOCKERCFG_MAX_SIZE (1u << 20)

struct dockercfg_auth {
	char *username;
	char *password;
	char *identity_token;
	char *registry_token;
};

/* The entry for host (a reference domain or "host:port"). -ENOENT when the
 * file or the entry does not exist, -EINVAL when the file or the entry is
 * malformed, -EFBIG when the file is over the cap. */
int dockercfg_lookup(const char *path, const char *host, struct dockercfg_auth *ret);
void dockercfg_auth_clear(struct dockercfg_auth *a);

/* "user:pass" in base64 -> its two halves (malloc'ed). -EINVAL if it is not
 * base64 of "user:pass" with a non-empty user. */
int dockercfg_decode_auth(const char *b64, char **ret_user, char **ret_pass);

/* The normalised form of a server as written in a config file or a CRI
 * AuthConfig.server_address: "https://Index.Docker.io/v1/" -> "docker.io",
 * "http://127.0.0.1:5000/x" -> "127.0.0.1:5000". -EINVAL if empty or it
 * does not fit. */
int dockercfg_server_key(const char *server, char *buf, size_t len);
