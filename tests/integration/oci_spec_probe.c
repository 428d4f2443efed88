/*
 * oci_spec_probe: a small program around sandboxd/oci's spec builder, for
 * the integration tests (test_oci_spec.py builds it from the sources and
 * hands its config.json to a real runc). The request is given as
 * serialised protobuf files, as kubelet's would arrive; the probe builds
 * the spec, writes BUNDLE/config.json and prints one JSON line with what
 * oci_spec_build returned besides ({"ok": true, "uid", "gid", "groups",
 * "stop_signal", "tty", "stdin", "stdin_once"}) or its error ({"ok":
 * false, "code", "message"}). It decides nothing: the test does.
 *
 *   oci_spec_probe --container F --pod F [--image F] --rootfs DIR --bundle DIR
 *     [--id ID] [--pod-id ID] [--cgroups-path P] [--cgroup-v2] [--hugetlb]
 *     [--rro] [--swap] [--oom-min N] [--net-ns P] [--ipc-ns P] [--uts-ns P]
 *     [--pid-init PID] [--hostname-file P] [--hosts-file P] [--resolv-file P]
 *     [--shm DIR] [--image-mount-dir INDEX=DIR]... [--all-caps HEX]
 *
 * F: a runtime.v1.ContainerConfig, a runtime.v1.PodSandboxConfig, a
 * crisp.ImageRuntimeConfig, in protobuf's binary form.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/fsutil.h"
#include "sandboxd/oci/spec.h"

#define MAX_FILE (8u << 20)
#define MAX_IMAGE_MOUNTS 64

static void *unpack_file(const char *path, const ProtobufCMessageDescriptor *d)
{
	char *buf = NULL;
	size_t len = 0;
	int r = fs_read_file(AT_FDCWD, path, MAX_FILE, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "oci_spec_probe: %s: %s\n", path, strerror(-r));
		exit(2);
	}
	void *m = protobuf_c_message_unpack(d, NULL, len, (const uint8_t *)buf);
	free(buf);
	if (!m) {
		fprintf(stderr, "oci_spec_probe: %s: not a %s\n", path, d->name);
		exit(2);
	}
	return m;
}

static void print_result(int r, const struct oci_output *o, const struct crisp_error *err)
{
	json_object *j = json_object_new_object();
	json_object_object_add(j, "ok", json_object_new_boolean(r >= 0));
	if (r < 0) {
		json_object_object_add(j, "code", json_object_new_int(err->code));
		json_object_object_add(j, "message", json_object_new_string(err->msg));
	} else {
		json_object *g = json_object_new_array();
		for (size_t i = 0; i < o->n_groups; i++)
			json_object_array_add(g, json_object_new_int64(o->groups[i]));
		json_object_object_add(j, "uid", json_object_new_int64(o->uid));
		json_object_object_add(j, "gid", json_object_new_int64(o->gid));
		json_object_object_add(j, "groups", g);
		json_object_object_add(j, "stop_signal", json_object_new_int(o->stop_signal));
		json_object_object_add(j, "tty", json_object_new_boolean(o->tty));
		json_object_object_add(j, "stdin", json_object_new_boolean(o->stdin));
		json_object_object_add(j, "stdin_once", json_object_new_boolean(o->stdin_once));
	}
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
}

int main(int argc, char **argv)
{
	enum { O_CONTAINER = 256, O_POD, O_IMAGE, O_ROOTFS, O_BUNDLE, O_ID, O_POD_ID, O_CGPATH,
	       O_V2, O_HUGETLB, O_RRO, O_SWAP, O_OOM_MIN, O_NETNS, O_IPCNS, O_UTSNS, O_PIDINIT,
	       O_HOSTNAME, O_HOSTS, O_RESOLV, O_SHM, O_IMGDIR, O_ALLCAPS };
	static const struct option opts[] = {
		{ "container", 1, NULL, O_CONTAINER }, { "pod", 1, NULL, O_POD },
		{ "image", 1, NULL, O_IMAGE }, { "rootfs", 1, NULL, O_ROOTFS },
		{ "bundle", 1, NULL, O_BUNDLE }, { "id", 1, NULL, O_ID },
		{ "pod-id", 1, NULL, O_POD_ID }, { "cgroups-path", 1, NULL, O_CGPATH },
		{ "cgroup-v2", 0, NULL, O_V2 }, { "hugetlb", 0, NULL, O_HUGETLB },
		{ "rro", 0, NULL, O_RRO }, { "swap", 0, NULL, O_SWAP },
		{ "oom-min", 1, NULL, O_OOM_MIN }, { "net-ns", 1, NULL, O_NETNS },
		{ "ipc-ns", 1, NULL, O_IPCNS }, { "uts-ns", 1, NULL, O_UTSNS },
		{ "pid-init", 1, NULL, O_PIDINIT }, { "hostname-file", 1, NULL, O_HOSTNAME },
		{ "hosts-file", 1, NULL, O_HOSTS }, { "resolv-file", 1, NULL, O_RESOLV },
		{ "shm", 1, NULL, O_SHM }, { "image-mount-dir", 1, NULL, O_IMGDIR },
		{ "all-caps", 1, NULL, O_ALLCAPS },
		{ NULL, 0, NULL, 0 },
	};
	const char *container = NULL, *pod_file = NULL, *image_file = NULL, *bundle = NULL;
	const char *image_dirs[MAX_IMAGE_MOUNTS] = { NULL };
	struct oci_host host = { .oom_score_adj_min = -1000 };
	struct oci_pod pod = { .id = "probe-pod" };
	struct oci_input in = { .id = "probe", .rootfs_fd = -1 };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_CONTAINER: container = optarg; break;
		case O_POD: pod_file = optarg; break;
		case O_IMAGE: image_file = optarg; break;
		case O_ROOTFS: in.rootfs = optarg; break;
		case O_BUNDLE: bundle = optarg; break;
		case O_ID: in.id = optarg; break;
		case O_POD_ID: pod.id = optarg; break;
		case O_CGPATH: in.cgroups_path = optarg; break;
		case O_V2: host.cgroup_v2 = true; break;
		case O_HUGETLB: host.hugetlb = true; break;
		case O_RRO: host.rro = true; break;
		case O_SWAP: host.swap = true; break;
		case O_OOM_MIN: host.oom_score_adj_min = atoi(optarg); break;
		case O_NETNS: pod.net_ns = optarg; break;
		case O_IPCNS: pod.ipc_ns = optarg; break;
		case O_UTSNS: pod.uts_ns = optarg; break;
		case O_PIDINIT: pod.pid_ns_init = atoi(optarg); break;
		case O_HOSTNAME: pod.hostname_path = optarg; break;
		case O_HOSTS: pod.hosts_path = optarg; break;
		case O_RESOLV: pod.resolv_path = optarg; break;
		case O_SHM: pod.shm_path = optarg; break;
		case O_ALLCAPS: host.all_caps = strtoull(optarg, NULL, 16); break;
		case O_IMGDIR: {
			char *eq = strchr(optarg, '=');
			int i = atoi(optarg);
			if (!eq || i < 0 || i >= MAX_IMAGE_MOUNTS)
				return 2;
			image_dirs[i] = eq + 1;
			in.image_mount_dirs = image_dirs;
			break;
		}
		default:
			return 2;
		}
	}
	if (!container || !pod_file || !in.rootfs || !bundle) {
		fprintf(stderr, "oci_spec_probe: --container, --pod, --rootfs and --bundle are needed\n");
		return 2;
	}
	Runtime__V1__ContainerConfig *cfg = unpack_file(container, &runtime__v1__container_config__descriptor);
	Runtime__V1__PodSandboxConfig *pc = unpack_file(pod_file, &runtime__v1__pod_sandbox_config__descriptor);
	Crisp__ImageRuntimeConfig *img = image_file
		? unpack_file(image_file, &crisp__image_runtime_config__descriptor) : NULL;
	in.config = cfg;
	in.image = img;
	in.pod = &pod;
	in.host = &host;
	pod.config = pc;
	in.rootfs_fd = open(in.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (in.rootfs_fd < 0) {
		perror(in.rootfs);
		return 2;
	}
	struct oci_output out = { 0 };
	struct crisp_error err = { 0 };
	int r = oci_spec_build(&in, &out, &err);
	if (r >= 0) {
		int bfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (bfd < 0 || fs_write_file_atomic(bfd, "config.json", out.json, strlen(out.json),
						    0600) < 0) {
			perror("config.json");
			return 2;
		}
		close(bfd);
	}
	print_result(r, &out, &err);
	oci_output_clear(&out);
	close(in.rootfs_fd);
	protobuf_c_message_free_unpacked(&cfg->base, NULL);
	protobuf_c_message_free_unpacked(&pc->base, NULL);
	if (img)
		protobuf_c_message_free_unpacked(&img->base, NULL);
	return 0;
}
