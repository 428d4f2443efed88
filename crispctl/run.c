/*
 * run: crispctl's `run [--rm] [-d] IMAGE [CMD...]` (ctr's run, over the
 * CRI): the image pulled if ImageStatus does not know it, a pod of its own
 * (RunPodSandbox: namespace "crispctl", a random uid, hostname = name, a
 * log directory under CTL_LOG_BASE or a temp dir), one container in it
 * (CreateContainer with CMD as its command, else the image's; then
 * StartContainer), then its log followed to the terminal until it exits
 * (logs.c), and its exit code as crispctl's. --rm removes the container
 * and the pod at the end; the first Ctrl-C stops the container (10 s
 * grace) and goes on as if it had exited, a second one gives up at once and
 * says what is left. What a failed start made is removed again. -d prints
 * the container id once it runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "crispctl/crilog.h"
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"

#define RUN_STOP_GRACE_S 10
#define RUN_POD_NAMESPACE "crispctl"
#define LOG_OPEN_WAIT_MS 5000

/* Everything one run sends, so that it is freed in one place. */
struct run {
	struct run_opts o;
	char name[80], uid[33];
	char logdir[CTL_PATH_MAX], logpath[CTL_PATH_MAX];
	char *pod_id, *ctr_id;
	Runtime__V1__PodSandboxMetadata pod_md;
	Runtime__V1__PodSandboxConfig pod;
	Runtime__V1__LinuxPodSandboxConfig pod_linux;
	Runtime__V1__LinuxSandboxSecurityContext pod_sc;
	Runtime__V1__NamespaceOption pod_ns, ctr_ns;
	Runtime__V1__ContainerMetadata ctr_md;
	Runtime__V1__ImageSpec image;
	Runtime__V1__ContainerConfig ctr;
	Runtime__V1__LinuxContainerConfig ctr_linux;
	Runtime__V1__LinuxContainerSecurityContext ctr_sc;
	Runtime__V1__Int64Value run_uid, run_gid;
	Runtime__V1__KeyValue env[RUN_ENV_MAX];
	Runtime__V1__KeyValue *envp[RUN_ENV_MAX];
	struct ctl_kv annotation;
};

static void random_hex(char *buf, size_t bytes)
{
	unsigned char r[32];
	if (bytes > sizeof r)
		bytes = sizeof r;
	if (getrandom(r, bytes, 0) != (ssize_t)bytes) {
		struct timespec ts;     /* no entropy: time and pid still make it unique here */
		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = 0; i < bytes; i++)
			r[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ (getpid() >> (i % 2 * 8)) ^ i);
	}
	for (size_t i = 0; i < bytes; i++)
		sprintf(buf + 2 * i, "%02x", r[i]);
}

/* PullImage unless ImageStatus knows the image. */
static int image_ensure(struct ctl *c, const char *image)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageStatusRequest sq = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	Runtime__V1__ImageStatusResponse *st = NULL;
	spec.image = (char *)image;
	sq.image = &spec;
	int r = ctl_cri_call(c, "ImageStatus", &sq.base,
			     &runtime__v1__image_status_response__descriptor, 0, 0,
			     (ProtobufCMessage **)&st);
	if (r < 0)
		return r;
	bool present = st->image && st->image->id && *st->image->id;
	protobuf_c_message_free_unpacked(&st->base, NULL);
	if (present)
		return 0;
	Runtime__V1__PullImageRequest pq = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	Runtime__V1__PullImageResponse *pr = NULL;
	pq.image = &spec;
	fprintf(stderr, "crispctl: pulling %s\n", image);
	r = ctl_cri_call(c, "PullImage", &pq.base, &runtime__v1__pull_image_response__descriptor,
			 c->timeout_ms > CTL_PULL_TIMEOUT_MS ? c->timeout_ms : CTL_PULL_TIMEOUT_MS, 0,
			 (ProtobufCMessage **)&pr);
	if (pr)
		protobuf_c_message_free_unpacked(&pr->base, NULL);
	return r;
}

/* CTL_LOG_BASE/<uid>, or a fresh temp dir when that cannot be made. */
static int logdir_make(struct run *run)
{
	snprintf(run->logdir, sizeof run->logdir, "%s/%s", CTL_LOG_BASE, run->uid);
	if (fs_mkdir_p(CTL_LOG_BASE, 0755) == 0 && mkdir(run->logdir, 0755) == 0) {
		chmod(run->logdir, 0755);
		return 0;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(run->logdir, sizeof run->logdir, "%s/" CTL_LOG_TMP_PREFIX "XXXXXX",
		 tmp && *tmp == '/' ? tmp : "/tmp");
	if (!mkdtemp(run->logdir)) {
		ctl_fail("cannot make a log directory (%s/%s, nor %s): %s", CTL_LOG_BASE, run->uid,
			 run->logdir, strerror(errno));
		run->logdir[0] = '\0';
		return -errno;
	}
	chmod(run->logdir, 0755);
	return 0;
}

static int pod_config(struct run *run)
{
	struct run_opts *o = &run->o;
	run->pod_md = (Runtime__V1__PodSandboxMetadata)RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	run->pod_md.name = run->name;
	run->pod_md.uid = run->uid;
	run->pod_md.namespace_ = RUN_POD_NAMESPACE;
	run->pod = (Runtime__V1__PodSandboxConfig)RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	run->pod.metadata = &run->pod_md;
	run->pod.hostname = run->name;
	run->pod.log_directory = run->logdir;
	run->annotation = (struct ctl_kv){ CTL_LOGDIR_ANNOTATION, run->logdir };
	if (ctl_map_new(&runtime__v1__pod_sandbox_config__annotations_entry__descriptor,
			&run->annotation, 1, (void ***)&run->pod.annotations) < 0 ||
	    ctl_map_new(&runtime__v1__pod_sandbox_config__labels_entry__descriptor, o->labels,
			o->n_labels, (void ***)&run->pod.labels) < 0)
		return -ENOMEM;
	run->pod.n_annotations = 1;
	run->pod.n_labels = o->n_labels;
	if (o->host_net) {
		run->pod_ns = (Runtime__V1__NamespaceOption)RUNTIME__V1__NAMESPACE_OPTION__INIT;
		run->pod_ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
		run->pod_sc = (Runtime__V1__LinuxSandboxSecurityContext)
			RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
		run->pod_sc.namespace_options = &run->pod_ns;
		run->pod_linux = (Runtime__V1__LinuxPodSandboxConfig)
			RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
		run->pod_linux.security_context = &run->pod_sc;
		run->pod.linux = &run->pod_linux;
	}
	return 0;
}

static int ctr_config(struct run *run)
{
	struct run_opts *o = &run->o;
	Runtime__V1__ContainerConfig *k = &run->ctr;
	run->ctr_md = (Runtime__V1__ContainerMetadata)RUNTIME__V1__CONTAINER_METADATA__INIT;
	run->ctr_md.name = run->name;
	run->image = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
	run->image.image = (char *)o->image;
	run->image.user_specified_image = (char *)o->image;
	*k = (Runtime__V1__ContainerConfig)RUNTIME__V1__CONTAINER_CONFIG__INIT;
	k->metadata = &run->ctr_md;
	k->image = &run->image;
	k->command = o->cmd;
	k->n_command = o->n_cmd;
	if (o->workdir)
		k->working_dir = (char *)o->workdir;
	snprintf(run->logpath, sizeof run->logpath, "%s.log", run->name);
	k->log_path = run->logpath;
	for (size_t i = 0; i < o->n_env; i++) {
		run->env[i] = (Runtime__V1__KeyValue)RUNTIME__V1__KEY_VALUE__INIT;
		run->env[i].key = o->env[i].key;
		run->env[i].value.data = (uint8_t *)o->env[i].value;
		run->env[i].value.len = strlen(o->env[i].value);
		run->envp[i] = &run->env[i];
	}
	k->envs = run->envp;
	k->n_envs = o->n_env;
	if (ctl_map_new(&runtime__v1__container_config__labels_entry__descriptor, o->labels,
			o->n_labels, (void ***)&k->labels) < 0)
		return -ENOMEM;
	k->n_labels = o->n_labels;
	if (!o->have_user && !o->host_net)
		return 0;
	run->ctr_sc = (Runtime__V1__LinuxContainerSecurityContext)
		RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	if (o->have_user) {
		if (o->user.name)
			run->ctr_sc.run_as_username = (char *)o->user.name;
		run->run_uid = (Runtime__V1__Int64Value)RUNTIME__V1__INT64_VALUE__INIT;
		run->run_gid = (Runtime__V1__Int64Value)RUNTIME__V1__INT64_VALUE__INIT;
		run->run_uid.value = o->user.uid;
		run->run_gid.value = o->user.gid;
		run->ctr_sc.run_as_user = o->user.have_uid ? &run->run_uid : NULL;
		run->ctr_sc.run_as_group = o->user.have_gid ? &run->run_gid : NULL;
	}
	if (o->host_net) {
		run->ctr_ns = (Runtime__V1__NamespaceOption)RUNTIME__V1__NAMESPACE_OPTION__INIT;
		run->ctr_ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
		run->ctr_sc.namespace_options = &run->ctr_ns;
	}
	run->ctr_linux = (Runtime__V1__LinuxContainerConfig)RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	run->ctr_linux.security_context = &run->ctr_sc;
	k->linux = &run->ctr_linux;
	return 0;
}

/* RunPodSandbox, CreateContainer, StartContainer. */
static int start(struct ctl *c, struct run *run)
{
	Runtime__V1__RunPodSandboxRequest pq = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RunPodSandboxResponse *pr = NULL;
	pq.config = &run->pod;
	int r = ctl_cri_call(c, "RunPodSandbox", &pq.base,
			     &runtime__v1__run_pod_sandbox_response__descriptor, 0, 0,
			     (ProtobufCMessage **)&pr);
	if (r < 0)
		return r;
	run->pod_id = strdup(pr->pod_sandbox_id);
	protobuf_c_message_free_unpacked(&pr->base, NULL);
	if (!run->pod_id)
		return -ENOMEM;
	Runtime__V1__CreateContainerRequest cq = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	Runtime__V1__CreateContainerResponse *cr = NULL;
	cq.pod_sandbox_id = run->pod_id;
	cq.config = &run->ctr;
	cq.sandbox_config = &run->pod;
	r = ctl_cri_call(c, "CreateContainer", &cq.base,
			 &runtime__v1__create_container_response__descriptor, 0, 0,
			 (ProtobufCMessage **)&cr);
	if (r < 0)
		return r;
	run->ctr_id = strdup(cr->container_id);
	protobuf_c_message_free_unpacked(&cr->base, NULL);
	if (!run->ctr_id)
		return -ENOMEM;
	Runtime__V1__StartContainerRequest sq = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	Runtime__V1__StartContainerResponse *sr = NULL;
	sq.container_id = run->ctr_id;
	r = ctl_cri_call(c, "StartContainer", &sq.base,
			 &runtime__v1__start_container_response__descriptor, 0, 0,
			 (ProtobufCMessage **)&sr);
	if (sr)
		protobuf_c_message_free_unpacked(&sr->base, NULL);
	return r;
}

/* Removes what exists of this run: container, pod, log directory. */
static void cleanup(struct ctl *c, struct run *run)
{
	if (run->ctr_id)
		ctl_ctr_remove(c, run->ctr_id);
	if (run->pod_id) {
		ctl_pod_stop(c, run->pod_id);
		ctl_pod_remove(c, run->pod_id);       /* the log directory with it */
	} else if (run->logdir[0]) {
		ctl_logdir_remove(run->logdir);
	}
}

/* The container's log file, opened (it may take a moment to appear). */
static int log_open(struct ctl *c, struct run *run, struct crilog_file *f)
{
	Runtime__V1__ContainerStatusResponse *st = NULL;
	int r = ctl_ctr_status(c, run->ctr_id, false, 0, &st);
	if (r < 0)
		return r;
	char *path = strdup(st->status->log_path ? st->status->log_path : "");
	protobuf_c_message_free_unpacked(&st->base, NULL);
	if (!path)
		return -ENOMEM;
	if (!*path) {
		ctl_fail("container %s has no log file", run->ctr_id);
		free(path);
		return -ENOENT;
	}
	for (int waited = 0;; waited += 50) {
		r = crilog_file_open(f, path, -1);
		if (r != -ENOENT || waited >= LOG_OPEN_WAIT_MS || ctl_interrupts())
			break;
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (r < 0)
		ctl_fail("%s: %s", path, strerror(-r));
	free(path);
	return r;
}

/* Follows the output to the end: the exit code, or < 0 (printed). */
static int attach(struct ctl *c, struct run *run, bool *ret_gave_up)
{
	struct crilog_file f;
	struct crilog_out out;
	bool stopped = false;
	int code = -1;
	int r = log_open(c, run, &f);
	if (r < 0)
		return r;
	crilog_out_init(&out, STDOUT_FILENO, STDERR_FILENO, false);
	for (;;) {
		r = ctl_log_follow(c, run->ctr_id, &f, &out, &code);
		if (r == -EPIPE) {
			/* nobody reads our output any more: wait for the end without it */
			int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (null < 0)
				break;
			if (out.fd[0] != STDOUT_FILENO && out.fd[0] != STDERR_FILENO)
				close(out.fd[0]);
			out.fd[0] = out.fd[1] = null;
			continue;
		}
		if (r != -EINTR)
			break;
		if (ctl_interrupts() >= 2 || stopped) {
			*ret_gave_up = true;
			break;
		}
		fprintf(stderr, "crispctl: stopping the container (%d s grace; Ctrl-C again to give up)\n",
			RUN_STOP_GRACE_S);
		stopped = true;
		r = ctl_ctr_stop(c, run->ctr_id, RUN_STOP_GRACE_S);
		if (r == -EINTR) {
			*ret_gave_up = true;
			break;
		}
	}
	if (out.fd[0] != STDOUT_FILENO)
		close(out.fd[0]);
	if (f.bad)
		ctl_fail("%lu lines of %s were not CRI log records (skipped)", f.bad, f.path);
	crilog_file_close(&f);
	if (r == -ENOENT)
		ctl_fail("container %s was removed before it exited", run->ctr_id);
	return r < 0 ? r : code;
}

static void run_free(struct run *run)
{
	ctl_map_free((void **)run->pod.annotations);
	ctl_map_free((void **)run->pod.labels);
	ctl_map_free((void **)run->ctr.labels);
	free(run->pod_id);
	free(run->ctr_id);
	free(run);
}

int ctl_run(struct ctl *c, int argc, char **argv)
{
	static const char use[] =
		"run [--rm] [-d] [--name NAME] [-e KEY=VALUE]... [-w DIR] [-u USER[:GROUP]]\n"
		"       [-l KEY=VALUE]... [--net host] IMAGE [CMD [ARG...]]";
	char err[256], suffix[7];
	struct run *run = calloc(1, sizeof *run);
	if (!run)
		return ctl_fail("out of memory"), CTL_EXIT_RUN_FAIL;
	int r = ctl_run_opts_parse(argc, argv, &run->o, err, sizeof err), ret = CTL_EXIT_RUN_FAIL;
	bool gave_up = false;
	if (r < 0) {
		if (*err)
			fprintf(stderr, "crispctl: %s\n", err);
		ret = r == -ENOTSUP ? CTL_EXIT_USAGE : ctl_usage(use);
		goto out;
	}
	random_hex(run->uid, 16);
	random_hex(suffix, 3);
	if (run->o.name)
		snprintf(run->name, sizeof run->name, "%s", run->o.name);
	else
		ctl_run_default_name(run->o.image, suffix, run->name, sizeof run->name);
	if (ctl_cri_connect(c) < 0 || image_ensure(c, run->o.image) < 0)
		goto interrupted;
	if (logdir_make(run) < 0 || pod_config(run) < 0 || ctr_config(run) < 0)
		goto out;
	if (start(c, run) < 0) {
		cleanup(c, run);        /* nothing half made stays */
		goto interrupted;
	}
	if (run->o.detach) {
		printf("%s\n", run->ctr_id);
		ret = CTL_EXIT_OK;
		goto out;
	}
	r = attach(c, run, &gave_up);
	if (gave_up) {
		ctl_fail("interrupted: container %s in pod %s is left as it is", run->ctr_id,
			 run->pod_id);
		ret = CTL_EXIT_INTERRUPTED;
		goto out;
	}
	if (run->o.rm)
		cleanup(c, run);
	ret = r < 0 ? CTL_EXIT_RUN_FAIL : r;
	goto out;
interrupted:
	if (ctl_interrupts())
		ret = CTL_EXIT_INTERRUPTED;
out:
	run_free(run);
	return ret;
}
