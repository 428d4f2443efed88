/*
 * sandboxd: pods and containers. Serves RUNROOT/internal/sandboxd.sock (the
 * crisp user's daemons: criserver, streamd) and RUNROOT/admin/sandboxd.sock
 * (root: crispctl). This file owns sandboxd's dispatch table, the only place
 * that says who may ask sandboxd what, its privilege profile, and its life:
 *   init (before the loop): what the machine has (cgroups, each runtime
 *     handler's features, our oom_score_adj), the directories, the state
 *     database, the sockets;
 *   start: the worker pools and the thread that watches conmons, then
 *     recovery (recover.c: what a previous sandboxd left half done is
 *     finished or undone) before the first request is read;
 *   stop (SIGTERM): requests in flight are cancelled, the threads end. The
 *     containers, their conmons and the pods' namespaces stay: a restart
 *     must not touch them.
 *
 * sandboxd keeps every privilege: it launches runc, conmon and the
 * containers themselves, and whatever it gave up (a seccomp filter,
 * Landlock, no_new_privs, a reduced bounding set) they would inherit. Its
 * exposure is instead kept small: only its two sockets, each checked by
 * peer uid and role, and requests only through the table below.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/daemon.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/status.h"
#include "crisp.pb-c.h"
#include "sandboxd/cni/status.h"
#include "sandboxd/container/ctr.h"
#include "sandboxd/handle.h"
#include "sandboxd/recover.h"
#include "sandboxd/runtime/runc.h"
#include "sandboxd/sbx.h"

static int on_network_status(struct server_req *req, void *userdata)
{
	struct daemon_ctx *d = userdata;
	struct sbx *s = d->data;
	struct cni_status st;
	int r = cni_status_check_settings(&s->cni, &st);
	if (r < 0)
		return r;
	Crisp__NetworkStatus m = CRISP__NETWORK_STATUS__INIT;
	Crisp__RuntimeHandlerInfo h[CONFIG_MAX_HANDLERS], *hp[CONFIG_MAX_HANDLERS];
	m.ready = st.ready;
	m.reason = (char *)st.reason;
	m.message = st.message;
	m.config_file = st.config_file;
	m.network_name = st.network_name;
	m.default_network = st.default_network;
	for (size_t i = 0; i < s->n_handlers; i++) {
		crisp__runtime_handler_info__init(&h[i]);
		h[i].name = s->handlers[i].cfg->name;
		h[i].recursive_read_only_mounts = s->handlers[i].rro;
		h[i].user_namespaces = false;   /* not built yet */
		hp[i] = &h[i];
	}
	m.handlers = hp;
	m.n_handlers = s->n_handlers;
	if (!st.ready)
		log_debug("network not ready: %s", st.message);
	(void)server_answer(req, CRISP_STATUS_OK, NULL, &m.base, -1);
	return 0;
}

#define CRI(x) ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER), &runtime__v1__##x##__descriptor, false
#define T(x) CRISP__MSG_TYPE__MSG_SBX_##x

static const struct dispatch_entry sandboxd_table[] = {
	{ T(NETWORK_STATUS), ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER),
	  &crisp__network_status_request__descriptor, false, on_network_status },
	{ T(RUN_POD), CRI(run_pod_sandbox_request), handle_run_pod },
	{ T(STOP_POD), CRI(stop_pod_sandbox_request), handle_stop_pod },
	{ T(REMOVE_POD), CRI(remove_pod_sandbox_request), handle_remove_pod },
	{ T(POD_STATUS), CRI(pod_sandbox_status_request), handle_pod_status },
	{ T(LIST_PODS), CRI(list_pod_sandbox_request), handle_list_pods },
	{ T(CREATE_CTR), CRI(create_container_request), handle_create_ctr },
	{ T(START_CTR), CRI(start_container_request), handle_start_ctr },
	{ T(STOP_CTR), CRI(stop_container_request), handle_stop_ctr },
	{ T(REMOVE_CTR), CRI(remove_container_request), handle_remove_ctr },
	{ T(CTR_STATUS), CRI(container_status_request), handle_ctr_status },
	{ T(LIST_CTRS), CRI(list_containers_request), handle_list_ctrs },
	{ T(REOPEN_LOG), CRI(reopen_container_log_request), handle_reopen_log },
	{ T(EXEC_SYNC), CRI(exec_sync_request), handle_exec_sync },
};

static int dir_make(const char *path, mode_t mode)
{
	int fd = -1;
	int r = fs_open_dir(AT_FDCWD, path, FS_DIR_CREATE | FS_DIR_NOFOLLOW, mode, &fd);
	if (r == 0)
		r = fs_fix_owner_mode(fd, 0, 0, mode);
	if (fd >= 0)
		close(fd);
	return r < 0 ? log_error_errno(r, "%s: %m", path) : 0;
}

static int paths(struct sbx *s, const struct crisp_config *c)
{
	char self[PATH_MAX];
	int r = fs_self_dir(self, sizeof self);
	if (r == 0)
		r = fs_path_join(s->dir_pods, sizeof s->dir_pods, c->runroot, "pods");
	if (r == 0)
		r = fs_path_join(s->dir_ctrs, sizeof s->dir_ctrs, c->runroot, "containers");
	if (r == 0)
		r = fs_path_join(s->dir_data, sizeof s->dir_data, c->root, "containers");
	if (r == 0)
		r = fs_path_join(s->conmon, sizeof s->conmon, self, "conmon");
	if (r == 0)
		r = fs_path_join(s->pod_init, sizeof s->pod_init, self, "pod-init");
	if (r == 0)
		r = proc_admin_socket(c->runroot, "imaged", s->imaged_sock, sizeof s->imaged_sock);
	if (r == 0 && c->ipam_dir)
		snprintf(s->ipam_dir, sizeof s->ipam_dir, "%s", c->ipam_dir);
	else if (r == 0)
		r = fs_path_join(s->ipam_dir, sizeof s->ipam_dir, c->root, "cni/networks");
	if (r < 0)
		return log_error_errno(r, "the paths under %s and %s: %m", c->root, c->runroot);
	const char *exes[] = { s->conmon, s->pod_init };
	for (size_t i = 0; i < 2; i++)
		if ((r = fs_check_executable(AT_FDCWD, exes[i])) < 0)
			return log_error_errno(r, "%s: %m (it is built beside sandboxd)", exes[i]);
	if ((r = dir_make(s->dir_pods, 0711)) < 0 || (r = dir_make(s->dir_ctrs, 0711)) < 0 ||
	    (r = dir_make(s->dir_data, 0700)) < 0)
		return r;
	return 0;
}

static int handlers(struct sbx *s, const struct crisp_config *c)
{
	for (size_t i = 0; i < c->n_handlers; i++) {
		struct sbx_handler *h = &s->handlers[s->n_handlers++];
		h->cfg = &c->handlers[i];
		int r;
		if (h->cfg->root)
			snprintf(h->root, sizeof h->root, "%s", h->cfg->root);
		else if ((r = snprintf(h->root, sizeof h->root, "%s/runtime/%s", c->runroot,
				       h->cfg->name)) >= (int)sizeof h->root)
			return log_error_errno(-ENAMETOOLONG, "runtime root of %s", h->cfg->name);
		if ((r = fs_mkdir_p(h->root, 0700)) < 0)
			return log_error_errno(r, "runtime root %s: %m", h->root);
		h->rro = runc_has_rro(h->cfg->path);
		log_info("runtime handler %s: %s (root %s%s)", h->cfg->name, h->cfg->path, h->root,
			 h->rro ? ", recursive read-only mounts" : "");
	}
	return 0;
}

/* What runc and conmon inherit: kubelet's lower asks are raised to it. */
static int own_oom_score_adj(void)
{
	char *buf = NULL;
	int v = 0;
	if (fs_read_file(AT_FDCWD, "/proc/self/oom_score_adj", 64, &buf, NULL) == 0)
		v = atoi(buf);
	free(buf);
	return v;
}

/* Our effective capability set (CapEff): a privileged container can get
 * no more than runc has (root here may lack CAP_SYS_RESOURCE). */
static uint64_t own_caps(void)
{
	char *buf = NULL;
	uint64_t caps = 0;
	if (fs_read_file(AT_FDCWD, "/proc/self/status", 16384, &buf, NULL) == 0) {
		const char *p = strstr(buf, "\nCapEff:");
		if (p)
			caps = strtoull(p + 8, NULL, 16);
	}
	free(buf);
	return caps;
}

/* Every container's conmon and pidfd is an fd: take what the hard limit gives. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int sandboxd_init(struct daemon_ctx *d)
{
	struct sbx *s = calloc(1, sizeof *s);
	if (!s)
		return log_error_errno(-ENOMEM, "%m");
	d->data = s;
	s->cfg = &d->cfg;
	s->loop = d->loop;
	int r = paths(s, &d->cfg);
	if (r == 0)
		r = handlers(s, &d->cfg);
	if (r < 0)
		return r;
	r = cgroup_host_detect(!strcmp(d->cfg.cgroup_manager, "systemd"), &s->cg);
	if (r < 0)
		return log_error_errno(r, "no cgroup hierarchy under " CGROUP_ROOT ": %m");
	log_info("cgroups %s, %s driver", cgroup_mode_name(s->cg.mode),
		 s->cg.systemd ? "systemd" : "cgroupfs");
	if (!s->cg.hugetlb)
		log_info("hugepage limits are left out of containers: %s", s->cg.hugetlb_why);
	s->oom_score_adj_min = own_oom_score_adj();
	s->caps = own_caps();
	s->cni = (struct cni_settings){
		.conf_dir = d->cfg.cni_conf_dir, .bin_dirs = d->cfg.cni_bin_dirs,
		.default_bridge = d->cfg.default_bridge, .default_subnet = d->cfg.default_subnet,
		.ipam_dir = s->ipam_dir, .timeout_ms = d->cfg.plugin_timeout * 1000,
	};
	raise_nofile();
	imaged_conn_init(&s->imaged, s->imaged_sock);
	struct crisp_error err = { 0 };
	r = state_open(d->cfg.root, &s->st, &err);
	if (r < 0)
		return log_error_errno(r, "state: %s", err.msg);
	if (r > 0)
		log_warn("state: %d rows could not be read and are ignored", r);
	r = daemon_listen_internal(d, ROLE_BIT(CRISP__ROLE__ROLE_CRISERVER) |
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

static int sandboxd_start(struct daemon_ctx *d)
{
	struct sbx *s = d->data;
	int r = pool_new("sbx-life", SBX_LIFE_WORKERS, SBX_QUEUE_MAX, &s->life);
	if (r == 0)
		r = pool_new("sbx-exec", SBX_EXEC_WORKERS, SBX_QUEUE_MAX, &s->exec);
	if (r == 0)
		r = exits_start(s);
	if (r < 0)
		return log_error_errno(r, "threads: %m");
	recover(s);
	return 0;
}

static void sandboxd_stop(struct daemon_ctx *d)
{
	struct sbx *s = d->data;
	if (!s)
		return;
	s->stopping = true;
	pool_free(s->exec);
	pool_free(s->life);
	exits_stop(s);
	imaged_conn_close(&s->imaged);
	state_close(s->st);
	free(s);
	d->data = NULL;
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
		.start = sandboxd_start,
		.stop = sandboxd_stop,
	};
	return daemon_main(argc, argv, &def);
}
