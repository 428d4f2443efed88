/*
 * test_criserver_check_ctr: criserver's checks of the container requests
 * (criserver/check_ctr.c). A CreateContainerRequest as kubelet sends it
 * passes; each field is then broken in turn and the check must fail naming
 * it; the caps themselves pass. Then the id-only requests, StopContainer's
 * and ExecSync's timeouts and ExecSync's command, and ListContainers'
 * filter.
 */
#include <errno.h>
#include <stdlib.h>

#include "cri.pb-c.h"
#include "tests/unit/test_criserver_check.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct ctr {
	Runtime__V1__CreateContainerRequest req;
	Runtime__V1__ContainerConfig cfg;
	Runtime__V1__ContainerMetadata md;
	Runtime__V1__ImageSpec img;
	char *cmd[2], *args[2];
	Runtime__V1__KeyValue env[2], *envp[2];
	Runtime__V1__Mount mnt[2], *mntp[2];
	Runtime__V1__Device dev[1], *devp[1];
	Runtime__V1__ContainerConfig__LabelsEntry lab[1], *labp[1];
	Runtime__V1__ContainerConfig__AnnotationsEntry ann[1], *annp[1];
	Runtime__V1__LinuxContainerConfig lx;
	Runtime__V1__LinuxContainerResources res;
	Runtime__V1__LinuxContainerSecurityContext sc;
	Runtime__V1__Capability caps;
	char *add[1], *masked[2];
	Runtime__V1__PodSandboxConfig pod;
	Runtime__V1__PodSandboxMetadata pod_md;
};

static void ctr_good(struct ctr *c)
{
	memset(c, 0, sizeof *c);
	runtime__v1__create_container_request__init(&c->req);
	runtime__v1__container_config__init(&c->cfg);
	runtime__v1__container_metadata__init(&c->md);
	c->md.name = (char *)"nginx";
	c->cfg.metadata = &c->md;
	runtime__v1__image_spec__init(&c->img);
	c->img.image = (char *)"sha256:" ID64;
	c->img.user_specified_image = (char *)"nginx:1.25";
	c->cfg.image = &c->img;
	c->cmd[0] = (char *)"/docker-entrypoint.sh";
	c->args[0] = (char *)"nginx";
	c->args[1] = (char *)"-g";
	c->cfg.command = c->cmd;
	c->cfg.n_command = 1;
	c->cfg.args = c->args;
	c->cfg.n_args = 2;
	c->cfg.working_dir = (char *)"/";
	for (int i = 0; i < 2; i++) {
		runtime__v1__key_value__init(&c->env[i]);
		c->envp[i] = &c->env[i];
	}
	c->env[0].key = (char *)"KUBERNETES_SERVICE_HOST";
	c->env[0].value = (ProtobufCBinaryData){ 9, (uint8_t *)"10.96.0.1" };
	c->env[1].key = (char *)"PASSWORD";
	c->cfg.envs = c->envp;
	c->cfg.n_envs = 2;
	for (int i = 0; i < 2; i++) {
		runtime__v1__mount__init(&c->mnt[i]);
		c->mntp[i] = &c->mnt[i];
	}
	c->mnt[0].container_path = (char *)"/var/run/secrets/kubernetes.io/serviceaccount";
	c->mnt[0].host_path = (char *)"/var/lib/kubelet/pods/x/volumes/token";
	c->mnt[0].readonly = 1;
	c->mnt[1].container_path = (char *)"/etc/hosts";
	c->mnt[1].host_path = (char *)"/var/lib/kubelet/pods/x/etc-hosts";
	c->mnt[1].propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
	c->cfg.mounts = c->mntp;
	c->cfg.n_mounts = 2;
	runtime__v1__device__init(&c->dev[0]);
	c->dev[0].container_path = (char *)"/dev/fuse";
	c->dev[0].host_path = (char *)"/dev/fuse";
	c->dev[0].permissions = (char *)"rwm";
	c->devp[0] = &c->dev[0];
	c->cfg.devices = c->devp;
	c->cfg.n_devices = 1;
	runtime__v1__container_config__labels_entry__init(&c->lab[0]);
	c->lab[0].key = (char *)"io.kubernetes.container.name";
	c->lab[0].value = (char *)"nginx";
	c->labp[0] = &c->lab[0];
	c->cfg.labels = c->labp;
	c->cfg.n_labels = 1;
	runtime__v1__container_config__annotations_entry__init(&c->ann[0]);
	c->ann[0].key = (char *)"io.kubernetes.container.restartCount";
	c->ann[0].value = (char *)"0";
	c->annp[0] = &c->ann[0];
	c->cfg.annotations = c->annp;
	c->cfg.n_annotations = 1;
	c->cfg.log_path = (char *)"nginx/0.log";
	c->cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGQUIT;
	runtime__v1__linux_container_config__init(&c->lx);
	runtime__v1__linux_container_resources__init(&c->res);
	c->res.memory_limit_in_bytes = 64 << 20;
	c->lx.resources = &c->res;
	runtime__v1__linux_container_security_context__init(&c->sc);
	runtime__v1__capability__init(&c->caps);
	c->add[0] = (char *)"NET_BIND_SERVICE";
	c->caps.add_capabilities = c->add;
	c->caps.n_add_capabilities = 1;
	c->sc.capabilities = &c->caps;
	c->masked[0] = (char *)"/proc/kcore";
	c->masked[1] = (char *)"/proc/keys";
	c->sc.masked_paths = c->masked;
	c->sc.n_masked_paths = 2;
	c->lx.security_context = &c->sc;
	c->cfg.linux = &c->lx;
	runtime__v1__pod_sandbox_config__init(&c->pod);
	runtime__v1__pod_sandbox_metadata__init(&c->pod_md);
	c->pod_md.name = (char *)"nginx";
	c->pod.metadata = &c->pod_md;
	c->pod.log_directory = (char *)"/var/log/pods/x";
	c->req.sandbox_config = &c->pod;
	c->req.config = &c->cfg;
	c->req.pod_sandbox_id = (char *)ID64;
}

TEST(criserver_check_create_ctr_good_and_required)
{
	static struct ctr c;
	ctr_good(&c);
	PASS(check_create_ctr, &c.req);
	c.req.sandbox_config = NULL;            /* optional */
	PASS(check_create_ctr, &c.req);

	ctr_good(&c);
	c.req.pod_sandbox_id = (char *)"";
	FAIL(check_create_ctr, &c.req, "pod_sandbox_id: must not be empty");
	ctr_good(&c);
	c.req.config = NULL;
	FAIL(check_create_ctr, &c.req, "config: must be set");
	ctr_good(&c);
	c.cfg.metadata = NULL;
	FAIL(check_create_ctr, &c.req, "config.metadata: must be set");
	ctr_good(&c);
	c.md.name = (char *)"";
	FAIL(check_create_ctr, &c.req, "config.metadata.name: must not be empty");
	ctr_good(&c);
	c.cfg.image = NULL;
	FAIL(check_create_ctr, &c.req, "config.image.image: must not be empty");
	ctr_good(&c);
	c.img.image = (char *)"";
	FAIL(check_create_ctr, &c.req, "config.image.image: must not be empty");
	/* the pod's copy is checked, but nothing in it is required */
	ctr_good(&c);
	c.pod.metadata = NULL;
	PASS(check_create_ctr, &c.req);
	c.pod.log_directory = (char *)"relative";
	FAIL(check_create_ctr, &c.req, "sandbox_config.log_directory: must be an absolute path");
}

TEST(criserver_check_create_ctr_process)
{
	static struct ctr c;
	static char *many[CHECK_ARGV_MAX + 1];
	static char arg[CHECK_ARG_MAX + 2];

	ctr_good(&c);
	for (int i = 0; i <= CHECK_ARGV_MAX; i++)
		many[i] = (char *)"x";
	c.cfg.args = many;
	c.cfg.n_args = CHECK_ARGV_MAX - 1;      /* with the one command */
	PASS(check_create_ctr, &c.req);
	c.cfg.n_args = CHECK_ARGV_MAX;
	FAIL(check_create_ctr, &c.req, "config.args: more than 4096 arguments");
	ctr_good(&c);
	c.args[1] = fill(arg, CHECK_ARG_MAX, 'a');
	PASS(check_create_ctr, &c.req);
	c.args[1] = fill(arg, CHECK_ARG_MAX + 1, 'a');
	FAIL(check_create_ctr, &c.req, "config.args[1]: longer than 131072 bytes");
	/* 9 arguments of 128 KiB are over 1 MiB together */
	ctr_good(&c);
	for (int i = 0; i < 9; i++)
		many[i] = fill(arg, CHECK_ARG_MAX - 1, 'a');
	c.cfg.args = many;
	c.cfg.n_args = 9;
	FAIL(check_create_ctr, &c.req, "config.args: more than 1048576 bytes of arguments");
	ctr_good(&c);
	c.cfg.working_dir = fill(arg, CHECK_PATH_MAX + 1, 'w');
	FAIL(check_create_ctr, &c.req, "config.working_dir: longer than 4096 bytes");
}

TEST(criserver_check_create_ctr_envs)
{
	static struct ctr c;
	static Runtime__V1__KeyValue e, *ep[CHECK_ENVS_MAX + 1];
	static char big[CHECK_ARG_MAX + 2];

	ctr_good(&c);
	runtime__v1__key_value__init(&e);
	e.key = (char *)"K";
	for (int i = 0; i <= CHECK_ENVS_MAX; i++)
		ep[i] = &e;
	c.cfg.envs = ep;
	c.cfg.n_envs = CHECK_ENVS_MAX;
	PASS(check_create_ctr, &c.req);
	c.cfg.n_envs = CHECK_ENVS_MAX + 1;
	FAIL(check_create_ctr, &c.req, "config.envs: more than 8192 entries");
	ctr_good(&c);
	c.env[1].key = (char *)"";
	FAIL(check_create_ctr, &c.req, "config.envs[1].key: must not be empty");
	ctr_good(&c);
	c.env[0].key = fill(big, CHECK_ENV_KEY_MAX + 1, 'K');
	FAIL(check_create_ctr, &c.req, "config.envs[0].key: longer than 4096 bytes");
	/* KEY=value and its NUL at most 128 KiB: a value is never quoted */
	ctr_good(&c);
	c.env[1].value = (ProtobufCBinaryData){ CHECK_ARG_MAX - 10, (uint8_t *)big };
	PASS(check_create_ctr, &c.req);
	c.env[1].value.len = CHECK_ARG_MAX - 9;
	FAIL(check_create_ctr, &c.req, "config.envs[1]: KEY=value is longer than 131072 bytes");
	ctr_good(&c);
	ep[0] = &c.env[1];
	for (int i = 0; i < 9; i++)
		ep[i] = &c.env[1];
	c.env[1].value.len = CHECK_ARG_MAX - 10;
	c.cfg.envs = ep;
	c.cfg.n_envs = 9;
	FAIL(check_create_ctr, &c.req, "config.envs: more than 1048576 bytes together");
}

TEST(criserver_check_create_ctr_mounts_devices)
{
	static struct ctr c;
	static Runtime__V1__Mount *mp[CHECK_MOUNTS_MAX + 1];
	static Runtime__V1__ImageSpec img = RUNTIME__V1__IMAGE_SPEC__INIT;
	static char *opts[CHECK_MOUNT_OPTIONS_MAX + 1];
	static char big[CHECK_PATH_MAX + 2];

	ctr_good(&c);
	for (int i = 0; i <= CHECK_MOUNTS_MAX; i++)
		mp[i] = &c.mnt[0];
	c.cfg.mounts = mp;
	c.cfg.n_mounts = CHECK_MOUNTS_MAX;
	PASS(check_create_ctr, &c.req);
	c.cfg.n_mounts = CHECK_MOUNTS_MAX + 1;
	FAIL(check_create_ctr, &c.req, "config.mounts: more than 1024 entries");
	ctr_good(&c);
	c.mnt[1].container_path = (char *)"";
	FAIL(check_create_ctr, &c.req, "config.mounts[1].container_path: must not be empty");
	ctr_good(&c);
	c.mnt[0].host_path = fill(big, CHECK_PATH_MAX + 1, 'h');
	FAIL(check_create_ctr, &c.req, "config.mounts[0].host_path: longer than 4096 bytes");
	ctr_good(&c);
	c.mnt[1].propagation = (Runtime__V1__MountPropagation)3;
	FAIL(check_create_ctr, &c.req,
	     "config.mounts[1].propagation: 3 is not a runtime.v1.MountPropagation");
	/* an image volume: its spec and sub path */
	ctr_good(&c);
	img.image = (char *)"busybox";
	c.mnt[1].image = &img;
	c.mnt[1].host_path = (char *)"";
	c.mnt[1].image_sub_path = (char *)"etc/ssl";
	PASS(check_create_ctr, &c.req);
	c.mnt[1].image_sub_path = (char *)"etc/../../root";
	FAIL(check_create_ctr, &c.req, "config.mounts[1].image_sub_path: must not contain \"..\"");
	c.mnt[1].image_sub_path = (char *)"/etc";
	FAIL(check_create_ctr, &c.req, "config.mounts[1].image_sub_path: must be a relative path");
	c.mnt[1].image_sub_path = (char *)"";
	img.image = fill(big, CHECK_IMAGE_MAX + 1, 'i');
	FAIL(check_create_ctr, &c.req, "config.mounts[1].image.image: longer than 4096 bytes");
	ctr_good(&c);
	for (int i = 0; i <= CHECK_MOUNT_OPTIONS_MAX; i++)
		opts[i] = (char *)"nosuid";
	c.mnt[0].mount_options = opts;
	c.mnt[0].n_mount_options = CHECK_MOUNT_OPTIONS_MAX + 1;
	FAIL(check_create_ctr, &c.req, "config.mounts[0].mount_options: more than 64 entries");

	ctr_good(&c);
	c.dev[0].permissions = (char *)"rwx";
	FAIL(check_create_ctr, &c.req, "config.devices[0].permissions: must be made of 'r', 'w' and 'm'");
	c.dev[0].permissions = (char *)"rwmr";
	FAIL(check_create_ctr, &c.req, "config.devices[0].permissions: must be made of 'r', 'w' and 'm'");
	c.dev[0].permissions = (char *)"";
	PASS(check_create_ctr, &c.req);
	c.dev[0].host_path = (char *)"";
	FAIL(check_create_ctr, &c.req, "config.devices[0].host_path: must not be empty");
	ctr_good(&c);
	c.cfg.n_devices = CHECK_DEVICES_MAX + 1;
	FAIL(check_create_ctr, &c.req, "config.devices: more than 1024 entries");
}

TEST(criserver_check_create_ctr_meta_and_linux)
{
	static struct ctr c;
	static char big[CHECK_META_BYTES_MAX + 2];

	ctr_good(&c);
	c.cfg.log_path = (char *)"../../etc/passwd";
	FAIL(check_create_ctr, &c.req, "config.log_path: must not contain \"..\"");
	c.cfg.log_path = (char *)"a/..";
	FAIL(check_create_ctr, &c.req, "config.log_path: must not contain \"..\"");
	c.cfg.log_path = (char *)"/var/log/x.log";
	FAIL(check_create_ctr, &c.req, "config.log_path: must be a relative path");
	c.cfg.log_path = (char *)"a..b/..c/0.log";     /* ".." only as a whole component */
	PASS(check_create_ctr, &c.req);
	ctr_good(&c);
	c.cfg.n_labels = CHECK_MAP_ENTRIES_MAX + 1;
	FAIL(check_create_ctr, &c.req, "config.labels: more than 256 entries");
	ctr_good(&c);
	c.ann[0].value = fill(big, CHECK_META_BYTES_MAX, 'a');
	FAIL(check_create_ctr, &c.req,
	     "config: labels and annotations are more than 524288 bytes together");
	ctr_good(&c);
	c.img.n_annotations = CHECK_MAP_ENTRIES_MAX + 1;
	FAIL(check_create_ctr, &c.req, "config.image.annotations: more than 256 entries");
	ctr_good(&c);
	c.cfg.stop_signal = (Runtime__V1__Signal)1000;
	FAIL(check_create_ctr, &c.req, "config.stop_signal: 1000 is not a runtime.v1.Signal");
	ctr_good(&c);
	c.caps.n_add_capabilities = CHECK_CAPS_MAX + 1;
	FAIL(check_create_ctr, &c.req, "config.linux.security_context.capabilities."
				       "add_capabilities: more than 128 entries");
	ctr_good(&c);
	c.masked[1] = fill(big, CHECK_PATH_MAX + 1, 'm');
	FAIL(check_create_ctr, &c.req,
	     "config.linux.security_context.masked_paths[1]: longer than 4096 bytes");
	ctr_good(&c);
	c.sc.run_as_username = fill(big, CHECK_SHORT_MAX + 1, 'u');
	FAIL(check_create_ctr, &c.req,
	     "config.linux.security_context.run_as_username: longer than 4096 bytes");
	ctr_good(&c);
	c.res.n_hugepage_limits = CHECK_HUGEPAGES_MAX + 1;
	FAIL(check_create_ctr, &c.req, "config.linux.resources.hugepage_limits: more than 64 entries");
}

TEST(criserver_check_ctr_ids_and_timeouts)
{
	Runtime__V1__StartContainerRequest start = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	Runtime__V1__RemoveContainerRequest rm = RUNTIME__V1__REMOVE_CONTAINER_REQUEST__INIT;
	Runtime__V1__ContainerStatusRequest st = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	Runtime__V1__ReopenContainerLogRequest re = RUNTIME__V1__REOPEN_CONTAINER_LOG_REQUEST__INIT;
	Runtime__V1__StopContainerRequest stop = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;

	FAIL(check_start_ctr, &start, "container_id: must not be empty");
	FAIL(check_remove_ctr, &rm, "container_id: must not be empty");
	FAIL(check_ctr_status, &st, "container_id: must not be empty");
	FAIL(check_reopen_log, &re, "container_id: must not be empty");
	FAIL(check_stop_ctr, &stop, "container_id: must not be empty");
	start.container_id = rm.container_id = st.container_id = re.container_id =
		stop.container_id = (char *)ID64;
	PASS(check_start_ctr, &start);
	PASS(check_remove_ctr, &rm);
	PASS(check_ctr_status, &st);
	PASS(check_reopen_log, &re);
	PASS(check_stop_ctr, &stop);            /* timeout 0: kill at once */
	stop.timeout = 30;
	PASS(check_stop_ctr, &stop);
	stop.timeout = -1;
	FAIL(check_stop_ctr, &stop, "timeout: must not be negative");
	st.container_id = (char *)"id with spaces";
	FAIL(check_ctr_status, &st, "container_id: an id is made of [0-9A-Za-z_.-] only");
}

TEST(criserver_check_exec_sync)
{
	Runtime__V1__ExecSyncRequest q = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	static char *cmd[CHECK_ARGV_MAX + 1];
	static char big[CHECK_ARG_MAX + 2];

	q.container_id = (char *)ID64;
	FAIL(check_exec_sync, &q, "cmd: must not be empty");
	cmd[0] = (char *)"";
	q.cmd = cmd;
	q.n_cmd = 1;
	FAIL(check_exec_sync, &q, "cmd: must not be empty");
	cmd[0] = (char *)"/bin/true";
	PASS(check_exec_sync, &q);
	q.timeout = 5;
	PASS(check_exec_sync, &q);
	q.timeout = -5;
	FAIL(check_exec_sync, &q, "timeout: must not be negative");
	q.timeout = 0;
	for (int i = 1; i <= CHECK_ARGV_MAX; i++)
		cmd[i] = (char *)"x";
	q.n_cmd = CHECK_ARGV_MAX;
	PASS(check_exec_sync, &q);
	q.n_cmd = CHECK_ARGV_MAX + 1;
	FAIL(check_exec_sync, &q, "cmd: more than 4096 arguments");
	q.n_cmd = 2;
	cmd[1] = fill(big, CHECK_ARG_MAX + 1, 'x');
	FAIL(check_exec_sync, &q, "cmd[1]: longer than 131072 bytes");
	q.container_id = (char *)"";
	FAIL(check_exec_sync, &q, "container_id: must not be empty");
}

TEST(criserver_check_list_ctrs)
{
	Runtime__V1__ListContainersRequest q = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
	Runtime__V1__ContainerStateValue sv = RUNTIME__V1__CONTAINER_STATE_VALUE__INIT;
	static char big[CHECK_MAP_KEY_MAX + 2];
	static Runtime__V1__ContainerFilter__LabelSelectorEntry e, *ep[1];

	PASS(check_list_ctrs, &q);
	q.filter = &f;
	f.pod_sandbox_id = (char *)"0123";
	f.state = &sv;
	sv.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
	PASS(check_list_ctrs, &q);
	f.pod_sandbox_id = (char *)"-x";
	FAIL(check_list_ctrs, &q, "filter.pod_sandbox_id: an id does not start with '.' or '-'");
	f.pod_sandbox_id = (char *)"";
	sv.state = (Runtime__V1__ContainerState)4;
	FAIL(check_list_ctrs, &q, "filter.state.state: 4 is not a runtime.v1.ContainerState");
	sv.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	runtime__v1__container_filter__label_selector_entry__init(&e);
	e.key = (char *)"app";
	e.value = fill(big, CHECK_MAP_KEY_MAX + 1, 'v');
	ep[0] = &e;
	f.label_selector = ep;
	f.n_label_selector = 1;
	FAIL(check_list_ctrs, &q, "filter.label_selector: a value is longer than 1024 bytes");
}
