/*
 * sandboxd: pods and containers (for now: the CNI network's readiness).
 * Serves RUNROOT/internal/sandboxd.sock (the crisp user's daemons:
 * criserver, streamd) and RUNROOT/admin/sandboxd.sock (root: crispctl).
 * This file owns sandboxd's dispatch table, the only place that says who
 * may ask sandboxd what, and its privilege profile.
 *
 * sandboxd keeps every privilege: it will launch runc, conmon and the
 * containers themselves, and whatever it gave up (a seccomp filter,
 * Landlock, no_new_privs, a reduced bounding set) they would inherit. Its
 * exposure is instead kept small: only its two sockets, each checked by
 * peer uid and role, and requests only through the table below.
 */
#include "common/daemon.h"
#include "common/log.h"
#include "common/status.h"
#include "crisp.pb-c.h"
#include "sandboxd/cni/status.h"

static int on_network_status(struct server_req *req, void *userdata)
{
	struct daemon_ctx *d = userdata;
	struct cni_status st;
	int r = cni_status_check(d->cfg.cni_conf_dir, d->cfg.cni_bin_dirs, &st);
	if (r < 0)
		return r;
	Crisp__NetworkStatus m = CRISP__NETWORK_STATUS__INIT;
	m.ready = st.ready;
	m.reason = (char *)st.reason;
	m.message = st.message;
	m.config_file = st.config_file;
	m.network_name = st.network_name;
	if (!st.ready)
		log_debug("network not ready: %s", st.message);
	(void)server_answer(req, CRISP_STATUS_OK, NULL, &m.base, -1);
	return 0;
}

static const struct dispatch_entry sandboxd_table[] = {
	{ CRISP__MSG_TYPE__MSG_SBX_NETWORK_STATUS, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER),
	  &crisp__network_status_request__descriptor, false, on_network_status },
};

static int sandboxd_init(struct daemon_ctx *d)
{
	int r = daemon_listen_internal(d, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER) |
				       ROLE_BIT(CRISP__ROLE__ROLE_STREAMD), 0);
	if (r == 0)
		r = daemon_listen_admin(d, ROLE_BIT(CRISP__ROLE__ROLE_CRISPCTL), 0);
	return r;
}

static void sandboxd_privdrop(struct daemon_ctx *d, struct privdrop *ret)
{
	(void)d;
	/* every privilege kept: see the header comment */
	*ret = (struct privdrop){ .user = NULL, .keep_all_caps = true };
}

int main(int argc, char **argv)
{
	static const struct daemon_def def = {
		.name = "sandboxd",
		.role = CRISP__ROLE__ROLE_SANDBOXD,
		.table = sandboxd_table,
		.n_table = sizeof sandboxd_table / sizeof sandboxd_table[0],
		.init = sandboxd_init,
		.privdrop = sandboxd_privdrop,
	};
	return daemon_main(argc, argv, &def);
}
