/*
 * cni/result: reads what plugins answer. A result's IPs: every "ips" entry's
 * "address" (spec 0.3.0 to 1.0.0), or, without "ips", "ip4.ip" and
 * "ip6.ip" (0.1.0, 0.2.0); the address without its prefix length, checked
 * and in canonical form, the first IPv4 one first (kubelet takes the first
 * as the pod's primary IP), the others in their order. A failed plugin's
 * answer as text: its CNI error ({"code", "msg", "details"}) or what it
 * printed, its exit status, its stderr. Spec versions compared for the
 * rules that depend on them. Never logs.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "common/status.h"
#include "sandboxd/cni/cni_int.h"

#define CNI_MAX_IPS 32

bool cni_version_at_least(const char *v, int major, int minor, int patch)
{
	int a = 0, b = 0, c = 0;
	if (!v || sscanf(v, "%d.%d.%d", &a, &b, &c) < 1) {
		a = 0;
		b = 1;
		c = 0;
	}
	if (a != major)
		return a > major;
	if (b != minor)
		return b > minor;
	return c >= patch;
}

/* The address of cidr ("10.1.2.3/24" or a bare address) in canonical form
 * into buf; 4 or 6 for its family, -EINVAL when it is none. */
static int address_of(const char *cidr, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	size_t n = strcspn(cidr, "/");
	unsigned char bin[sizeof(struct in6_addr)];
	if (n == 0 || n >= sizeof addr)
		return -EINVAL;
	memcpy(addr, cidr, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, bin) == 1)
		return inet_ntop(AF_INET, bin, buf, (socklen_t)len) ? 4 : -EINVAL;
	if (inet_pton(AF_INET6, addr, bin) == 1)
		return inet_ntop(AF_INET6, bin, buf, (socklen_t)len) ? 6 : -EINVAL;
	return -EINVAL;
}

struct ip_list {
	char addr[CNI_MAX_IPS][INET6_ADDRSTRLEN];
	int family[CNI_MAX_IPS];
	size_t n;
};

static int add_ip(struct ip_list *l, struct json_object *v, const char *field,
		  struct crisp_error *err)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (l->n == CNI_MAX_IPS)
		return crisp_fail(err, CRISP_STATUS_INTERNAL, -E2BIG,
				  "the CNI result has more than %d IPs", CNI_MAX_IPS);
	int f = s ? address_of(s, l->addr[l->n], sizeof l->addr[l->n]) : -EINVAL;
	if (f < 0)
		return crisp_fail(err, CRISP_STATUS_INTERNAL, -EBADMSG,
				  "the CNI result has a bad %s \"%.64s\"", field, s ? s : "(none)");
	l->family[l->n++] = f;
	return 0;
}

static int collect_ips(struct json_object *result, struct ip_list *l, struct crisp_error *err)
{
	struct json_object *ips = NULL, *v = NULL;
	if (json_object_object_get_ex(result, "ips", &ips) && ips) {
		if (!json_object_is_type(ips, json_type_array))
			return crisp_fail(err, CRISP_STATUS_INTERNAL, -EBADMSG,
					  "the CNI result's \"ips\" is not a list");
		for (size_t i = 0; i < json_object_array_length(ips); i++) {
			struct json_object *ip = json_object_array_get_idx(ips, i);
			v = NULL;
			if (json_object_is_type(ip, json_type_object))
				json_object_object_get_ex(ip, "address", &v);
			int r = add_ip(l, v, "ips[].address", err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	static const char *const old[] = { "ip4", "ip6" };     /* spec 0.1.0, 0.2.0 */
	for (size_t i = 0; i < 2; i++) {
		struct json_object *o = NULL;
		if (!json_object_object_get_ex(result, old[i], &o) || !o)
			continue;
		v = NULL;
		if (json_object_is_type(o, json_type_object))
			json_object_object_get_ex(o, "ip", &v);
		int r = add_ip(l, v, i ? "ip6.ip" : "ip4.ip", err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cni_result_ips_of(struct json_object *result, char ***ret_ips, size_t *ret_n,
		      struct crisp_error *err)
{
	struct ip_list *l = calloc(1, sizeof *l);
	if (!l)
		return crisp_fail_errno(err, -ENOMEM, "reading the CNI result");
	int r = collect_ips(result, l, err);
	size_t n = l->n;
	char **ips = r == 0 ? calloc(n + 1, sizeof *ips) : NULL;
	if (r == 0 && !ips)
		r = crisp_fail_errno(err, -ENOMEM, "reading the CNI result");
	size_t primary = 0;                     /* the first IPv4, else the first */
	while (primary < n && l->family[primary] != 4)
		primary++;
	if (primary == n)
		primary = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t from = i == 0 ? primary : (i <= primary ? i - 1 : i);
		ips[i] = strdup(l->addr[from]);
		if (!ips[i])
			r = crisp_fail_errno(err, -ENOMEM, "reading the CNI result");
	}
	free(l);
	if (r < 0) {
		for (size_t i = 0; ips && i < n; i++)
			free(ips[i]);
		free(ips);
		return r;
	}
	*ret_ips = ips;
	*ret_n = n;
	return 0;
}

int cni_result_ips(const char *result_json, char ***ret_ips, size_t *ret_n,
		   struct crisp_error *err)
{
	struct json_object *result = NULL;
	const char *why = NULL;
	int r = result_json ? cni_json_parse_object(result_json, strlen(result_json), &result,
						    &why) : -EBADMSG;
	if (r < 0)
		return crisp_fail(err, CRISP_STATUS_INTERNAL, r, "the CNI result is not valid: %s",
				  why ? why : "none");
	r = cni_result_ips_of(result, ret_ips, ret_n, err);
	json_object_put(result);
	return r;
}

/* s without trailing white space, at most max bytes of it, printable. */
static void clean_text(const char *s, size_t len, char *buf, size_t size)
{
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		buf[n++] = (s[i] == '\n' || s[i] == '\t') ? ' ' :
			   isprint((unsigned char)s[i]) ? s[i] : '?';
	buf[n] = '\0';
}

void cni_error_text(const struct cni_output *o, char *buf, size_t len, int *ret_cni_code)
{
	struct json_object *e = NULL, *code = NULL;
	const char *why = NULL;
	char out[256], errtext[CNI_STDERR_MAX + 1], status[64];
	size_t n = 0;
	*ret_cni_code = 0;
	if (WIFEXITED(o->status))
		snprintf(status, sizeof status, "exit status %d", WEXITSTATUS(o->status));
	else if (WIFSIGNALED(o->status))
		snprintf(status, sizeof status, "killed by signal %d", WTERMSIG(o->status));
	else
		snprintf(status, sizeof status, "wait status %d", o->status);
	if (o->out_len && cni_json_parse_object(o->out, o->out_len, &e, &why) == 0 &&
	    (cni_json_string(e, "msg") || json_object_object_get_ex(e, "code", &code))) {
		const char *msg = cni_json_string(e, "msg"), *details = cni_json_string(e, "details");
		if (json_object_object_get_ex(e, "code", &code) &&
		    json_object_is_type(code, json_type_int))
			*ret_cni_code = json_object_get_int(code);
		n = (size_t)snprintf(buf, len, "%s%s%s%s (CNI error %d, %s)", msg ? msg : "no message",
				     details ? " (" : "", details ? details : "", details ? ")" : "",
				     *ret_cni_code, status);
	} else if (o->out_len) {
		clean_text(o->out, o->out_len, out, sizeof out);
		n = (size_t)snprintf(buf, len, "%s, printing \"%s\"", status, out);
	} else {
		n = (size_t)snprintf(buf, len, "%s", status);
	}
	json_object_put(e);
	if (o->err_len && n < len) {
		clean_text(o->err, o->err_len, errtext, sizeof errtext);
		snprintf(buf + n, len - n, "; stderr: %s", errtext);
	}
}
