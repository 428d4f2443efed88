/*
 * cni/default: crisp's own network, used only when cni_conf_dir holds no
 * config file, so that a fresh machine runs pods (conf.c decides when).
 * The conflist (cniVersion 1.0.0, name "crisp"):
 *   bridge      bridge = default_bridge, isGateway, ipMasq, hairpinMode,
 *               ipam host-local: ranges [[{subnet: default_subnet}]],
 *               routes [{dst 0.0.0.0/0 or ::/0}], dataDir ipam_dir
 *   portmap     capabilities {portMappings}, snat
 *   bandwidth   capabilities {bandwidth}
 * The loopback plugin brings up "lo" apart from it (cni_loopback), as for
 * every network; so it is among the plugins the default needs. Never runs a
 * plugin; never logs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/status.h"
#include "sandboxd/cni/cni_int.h"

static const char *const default_plugins[] = {
	"bridge", "host-local", "portmap", "bandwidth", "loopback",
};

int cni_default_check_plugins(const char *bin_dirs, struct crisp_error *err)
{
	for (size_t i = 0; i < sizeof default_plugins / sizeof default_plugins[0]; i++) {
		char path[PATH_MAX];
		int r = cni_plugin_find_err(bin_dirs, default_plugins[i],
					    "crisp's default network", path, sizeof path, err);
		if (r < 0)
			return r;
	}
	return 0;
}

void cni_default_describe(const struct cni_settings *s, char *buf, size_t len)
{
	if (s->default_bridge && s->default_subnet)
		snprintf(buf, len, "crisp default network %s (bridge %s, %s)", CNI_DEFAULT_NAME,
			 s->default_bridge, s->default_subnet);
	else
		snprintf(buf, len, "crisp default network %s", CNI_DEFAULT_NAME);
}

/* 1 for an IPv6 CIDR, 0 for IPv4, -EINVAL for neither. */
static int subnet_family(const char *cidr)
{
	const char *slash = strchr(cidr, '/');
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	if (!slash || (size_t)(slash - cidr) >= sizeof addr || !slash[1] ||
	    strspn(slash + 1, "0123456789") != strlen(slash + 1) || strlen(slash + 1) > 3)
		return -EINVAL;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	int prefix = atoi(slash + 1);
	if (inet_pton(AF_INET, addr, bin) == 1 && prefix <= 32)
		return 0;
	if (inet_pton(AF_INET6, addr, bin) == 1 && prefix <= 128)
		return 1;
	return -EINVAL;
}

/* Add key: value to obj; false when out of memory (value is consumed). */
static bool put(struct json_object *obj, const char *key, struct json_object *value)
{
	if (!value)
		return false;
	if (json_object_object_add(obj, key, value) < 0) {
		json_object_put(value);
		return false;
	}
	return true;
}

static struct json_object *one_entry(const char *key, struct json_object *value)
{
	struct json_object *o = json_object_new_object();
	if (o && !put(o, key, value)) {
		json_object_put(o);
		return NULL;
	}
	if (!o)
		json_object_put(value);
	return o;
}

static struct json_object *array_of(struct json_object *value)
{
	struct json_object *a = json_object_new_array();
	if (!value || !a || json_object_array_add(a, value) < 0) {
		json_object_put(a);
		json_object_put(value);
		return NULL;
	}
	return a;
}

static struct json_object *bridge_plugin(const struct cni_settings *s, bool ipv6)
{
	struct json_object *ipam = json_object_new_object(), *p = json_object_new_object();
	bool ok = ipam && p &&
		  put(ipam, "type", json_object_new_string("host-local")) &&
		  put(ipam, "ranges", array_of(array_of(one_entry("subnet",
				json_object_new_string(s->default_subnet))))) &&
		  put(ipam, "routes", array_of(one_entry("dst",
				json_object_new_string(ipv6 ? "::/0" : "0.0.0.0/0")))) &&
		  (!s->ipam_dir || put(ipam, "dataDir", json_object_new_string(s->ipam_dir)));
	ok = ok && put(p, "type", json_object_new_string("bridge")) &&
	     put(p, "bridge", json_object_new_string(s->default_bridge)) &&
	     put(p, "isGateway", json_object_new_boolean(1)) &&
	     put(p, "ipMasq", json_object_new_boolean(1)) &&
	     put(p, "hairpinMode", json_object_new_boolean(1));
	if (ok && put(p, "ipam", ipam))
		return p;
	if (!ok)
		json_object_put(ipam);
	json_object_put(p);
	return NULL;
}

/* {"type": type, "capabilities": {cap: true}} plus, with snat, "snat": true. */
static struct json_object *capability_plugin(const char *type, const char *cap, bool snat)
{
	struct json_object *p = json_object_new_object();
	if (p && put(p, "type", json_object_new_string(type)) &&
	    put(p, "capabilities", one_entry(cap, json_object_new_boolean(1))) &&
	    (!snat || put(p, "snat", json_object_new_boolean(1))))
		return p;
	json_object_put(p);
	return NULL;
}

int cni_default_conflist(const struct cni_settings *s, struct json_object **ret,
			 struct crisp_error *err)
{
	if (!s->default_bridge || !*s->default_bridge || strlen(s->default_bridge) >= IFNAMSIZ ||
	    strchr(s->default_bridge, '/'))
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				  "crisp's default network: \"%.64s\" is not a bridge name",
				  s->default_bridge ? s->default_bridge : "");
	int ipv6 = s->default_subnet ? subnet_family(s->default_subnet) : -EINVAL;
	if (ipv6 < 0)
		return crisp_fail(err, CRISP_STATUS_INVALID_ARGUMENT, -EINVAL,
				  "crisp's default network: \"%.64s\" is not a subnet (CIDR)",
				  s->default_subnet ? s->default_subnet : "");
	struct json_object *list = json_object_new_object();
	struct json_object *plugins = json_object_new_array();
	bool ok = list && plugins &&
		  json_object_array_add(plugins, bridge_plugin(s, ipv6 == 1)) == 0 &&
		  json_object_array_add(plugins, capability_plugin("portmap", "portMappings",
								   true)) == 0 &&
		  json_object_array_add(plugins, capability_plugin("bandwidth", "bandwidth",
								   false)) == 0 &&
		  json_object_array_get_idx(plugins, 0) && json_object_array_get_idx(plugins, 1) &&
		  json_object_array_get_idx(plugins, 2);
	ok = ok && put(list, "cniVersion", json_object_new_string("1.0.0")) &&
	     put(list, "name", json_object_new_string(CNI_DEFAULT_NAME));
	if (ok && put(list, "plugins", plugins)) {
		*ret = list;
		return 0;
	}
	if (!ok)
		json_object_put(plugins);
	json_object_put(list);
	return crisp_fail_errno(err, -ENOMEM, "rendering crisp's default network");
}
