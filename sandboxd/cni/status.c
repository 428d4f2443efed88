/*
 * cni/status: the pod network's readiness (sandboxd/cni/status.h), decided
 * the way cni_net_load decides it, with the same code: cni_net_pick for
 * which network is in use; for a config file, conf.c's reading and checks
 * (see there: what makes a file valid); for crisp's default network (no
 * config file), the plugins it needs (default.c). Never runs a plugin;
 * never logs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "sandboxd/cni/cni_int.h"
#include "sandboxd/cni/status.h"

static void not_ready(struct cni_status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void not_ready(struct cni_status *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof st->message, fmt, ap);
	va_end(ap);
	st->ready = false;
	st->reason = CNI_STATUS_REASON_NOT_READY;
}

static void ready(struct cni_status *st)
{
	st->ready = true;
	st->reason = "";
	st->message[0] = '\0';
}

static void check_file(const struct cni_settings *s, struct cni_status *st)
{
	struct crisp_error e = { 0, "" };
	struct json_object *list = NULL;
	if (cni_conf_read(st->config_file, &list, &e) < 0) {
		not_ready(st, "%s", e.msg);
		return;
	}
	snprintf(st->network_name, sizeof st->network_name, "%s", cni_json_string(list, "name"));
	if (cni_conf_check_plugins(list, st->config_file, s->bin_dirs, &e) < 0)
		not_ready(st, "%s", e.msg);
	else
		ready(st);
	json_object_put(list);
}

static void check_default(const struct cni_settings *s, struct cni_status *st)
{
	struct crisp_error e = { 0, "" };
	st->default_network = true;
	snprintf(st->network_name, sizeof st->network_name, "%s", CNI_DEFAULT_NAME);
	if (cni_default_check_plugins(s->bin_dirs, &e) < 0) {
		not_ready(st, "no CNI configuration file in %s (looked for *.conf, *.conflist, "
			  "*.json), and crisp's default network cannot be used: %s", s->conf_dir,
			  e.msg);
		return;
	}
	ready(st);
	cni_default_describe(s, st->message, sizeof st->message);
}

int cni_status_check_settings(const struct cni_settings *s, struct cni_status *ret)
{
	struct cni_status st = { .reason = "" };
	struct crisp_error e = { 0, "" };
	int r = cni_net_pick(s, st.config_file, sizeof st.config_file, &e);
	if (r < 0)
		not_ready(&st, "%s", e.msg);
	else if (r == 1)
		check_file(s, &st);
	else
		check_default(s, &st);
	*ret = st;
	return 0;
}

int cni_status_check(const char *conf_dir, const char *bin_dirs, struct cni_status *ret)
{
	const struct cni_settings s = { .conf_dir = conf_dir, .bin_dirs = bin_dirs };
	return cni_status_check_settings(&s, ret);
}
