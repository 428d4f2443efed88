/*
 * test_criserver_check: criserver's checks of the pod sandbox requests
 * (criserver/check_pod.c, check_util.c). A RunPodSandboxRequest as kubelet
 * sends it passes; then each field is broken in turn (missing, too long,
 * too many, wrong form, out of range) and the check must fail with a
 * message naming that field; the caps themselves pass.
 */
#include <errno.h>
#include <stdlib.h>

#include "cri.pb-c.h"
#include "tests/unit/test_criserver_check.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct pod {
	Runtime__V1__RunPodSandboxRequest req;
	Runtime__V1__PodSandboxConfig cfg;
	Runtime__V1__PodSandboxMetadata md;
	Runtime__V1__DNSConfig dns;
	char *servers[1], *searches[2], *options[1];
	Runtime__V1__PortMapping pm[2], *pmp[2];
	Runtime__V1__PodSandboxConfig__LabelsEntry lab[2], *labp[2];
	Runtime__V1__PodSandboxConfig__AnnotationsEntry ann[1], *annp[1];
	Runtime__V1__LinuxPodSandboxConfig lx;
	Runtime__V1__LinuxSandboxSecurityContext sc;
	Runtime__V1__NamespaceOption ns;
	Runtime__V1__SecurityProfile seccomp;
	Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry sys[1], *sysp[1];
	Runtime__V1__LinuxContainerResources res;
	int64_t groups[2];
};

/* What kubelet sends for a small pod. */
static void pod_good(struct pod *p)
{
	memset(p, 0, sizeof *p);
	runtime__v1__run_pod_sandbox_request__init(&p->req);
	runtime__v1__pod_sandbox_config__init(&p->cfg);
	runtime__v1__pod_sandbox_metadata__init(&p->md);
	p->md.name = (char *)"nginx-7c5ddbdf54-x2x9z";
	p->md.namespace_ = (char *)"default";
	p->md.uid = (char *)"9bc1e9b7-4d3c-4cbd-a0d5-2e0a3e6b1c11";
	p->cfg.metadata = &p->md;
	p->cfg.hostname = (char *)"nginx-7c5ddbdf54-x2x9z";
	p->cfg.log_directory = (char *)"/var/log/pods/default_nginx_9bc1e9b7";
	runtime__v1__dnsconfig__init(&p->dns);
	p->servers[0] = (char *)"10.96.0.10";
	p->searches[0] = (char *)"default.svc.cluster.local";
	p->searches[1] = (char *)"cluster.local";
	p->options[0] = (char *)"ndots:5";
	p->dns.servers = p->servers;
	p->dns.n_servers = 1;
	p->dns.searches = p->searches;
	p->dns.n_searches = 2;
	p->dns.options = p->options;
	p->dns.n_options = 1;
	p->cfg.dns_config = &p->dns;
	for (int i = 0; i < 2; i++) {
		runtime__v1__port_mapping__init(&p->pm[i]);
		p->pm[i].container_port = 80 + i;
		p->pm[i].host_port = i ? 8081 : 0;
		p->pm[i].protocol = i ? RUNTIME__V1__PROTOCOL__UDP : RUNTIME__V1__PROTOCOL__TCP;
		p->pmp[i] = &p->pm[i];
	}
	p->pm[1].host_ip = (char *)"127.0.0.1";
	p->cfg.port_mappings = p->pmp;
	p->cfg.n_port_mappings = 2;
	for (int i = 0; i < 2; i++) {
		runtime__v1__pod_sandbox_config__labels_entry__init(&p->lab[i]);
		p->labp[i] = &p->lab[i];
	}
	p->lab[0].key = (char *)"app";
	p->lab[0].value = (char *)"nginx";
	p->lab[1].key = (char *)"io.kubernetes.pod.namespace";
	p->lab[1].value = (char *)"default";
	p->cfg.labels = p->labp;
	p->cfg.n_labels = 2;
	runtime__v1__pod_sandbox_config__annotations_entry__init(&p->ann[0]);
	p->ann[0].key = (char *)"kubernetes.io/config.source";
	p->ann[0].value = (char *)"api";
	p->annp[0] = &p->ann[0];
	p->cfg.annotations = p->annp;
	p->cfg.n_annotations = 1;
	runtime__v1__linux_pod_sandbox_config__init(&p->lx);
	p->lx.cgroup_parent = (char *)"/kubepods/besteffort/pod9bc1e9b7";
	runtime__v1__linux_sandbox_security_context__init(&p->sc);
	runtime__v1__namespace_option__init(&p->ns);
	p->ns.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	p->sc.namespace_options = &p->ns;
	runtime__v1__security_profile__init(&p->seccomp);
	p->sc.seccomp = &p->seccomp;
	p->groups[0] = 1000;
	p->groups[1] = 2000;
	p->sc.supplemental_groups = p->groups;
	p->sc.n_supplemental_groups = 2;
	p->lx.security_context = &p->sc;
	runtime__v1__linux_pod_sandbox_config__sysctls_entry__init(&p->sys[0]);
	p->sys[0].key = (char *)"net.ipv4.ip_unprivileged_port_start";
	p->sys[0].value = (char *)"0";
	p->sysp[0] = &p->sys[0];
	p->lx.sysctls = p->sysp;
	p->lx.n_sysctls = 1;
	runtime__v1__linux_container_resources__init(&p->res);
	p->res.cpu_shares = 2;
	p->lx.resources = &p->res;
	p->cfg.linux = &p->lx;
	p->req.config = &p->cfg;
	p->req.runtime_handler = (char *)"runc";
}

TEST(criserver_check_run_pod_good)
{
	static struct pod p;
	pod_good(&p);
	PASS(check_run_pod, &p.req);
	/* the optional parts may all be missing */
	p.cfg.hostname = (char *)"";
	p.cfg.log_directory = (char *)"";
	p.cfg.dns_config = NULL;
	p.cfg.n_port_mappings = 0;
	p.cfg.n_labels = 0;
	p.cfg.n_annotations = 0;
	p.cfg.linux = NULL;
	p.req.runtime_handler = (char *)"";
	PASS(check_run_pod, &p.req);
}

TEST(criserver_check_run_pod_required)
{
	static struct pod p;
	pod_good(&p);
	p.req.config = NULL;
	FAIL(check_run_pod, &p.req, "config: must be set");
	pod_good(&p);
	p.cfg.metadata = NULL;
	FAIL(check_run_pod, &p.req, "config.metadata: must be set");
	pod_good(&p);
	p.md.name = (char *)"";
	FAIL(check_run_pod, &p.req, "config.metadata.name: must not be empty");
	pod_good(&p);
	p.md.namespace_ = (char *)"";
	FAIL(check_run_pod, &p.req, "config.metadata.namespace: must not be empty");
	pod_good(&p);
	p.md.uid = (char *)"";
	FAIL(check_run_pod, &p.req, "config.metadata.uid: must not be empty");
}

TEST(criserver_check_run_pod_names_and_paths)
{
	static struct pod p;
	static char big[CHECK_PATH_MAX + 2];

	pod_good(&p);
	p.md.name = fill(big, CHECK_NAME_MAX, 'a');
	PASS(check_run_pod, &p.req);
	p.md.name = fill(big, CHECK_NAME_MAX + 1, 'a');
	FAIL(check_run_pod, &p.req, "config.metadata.name: longer than 253 bytes");
	pod_good(&p);
	p.md.namespace_ = (char *)"a/b";
	FAIL(check_run_pod, &p.req, "config.metadata.namespace: must not contain '/'");
	pod_good(&p);
	p.md.uid = (char *)"a\nb";
	FAIL(check_run_pod, &p.req, "config.metadata.uid: must not contain control characters");
	pod_good(&p);
	p.cfg.hostname = fill(big, CHECK_HOSTNAME_MAX + 1, 'h');
	FAIL(check_run_pod, &p.req, "config.hostname: longer than 253 bytes");
	pod_good(&p);
	p.cfg.log_directory = (char *)"var/log/pods/x";
	FAIL(check_run_pod, &p.req, "config.log_directory: must be an absolute path");
	big[0] = '/';
	p.cfg.log_directory = fill(big + 1, CHECK_PATH_MAX - 1, 'd') - 1;
	PASS(check_run_pod, &p.req);
	p.cfg.log_directory = fill(big + 1, CHECK_PATH_MAX, 'd') - 1;
	FAIL(check_run_pod, &p.req, "config.log_directory: longer than 4096 bytes");
	pod_good(&p);
	p.lx.cgroup_parent = fill(big, CHECK_PATH_MAX + 1, 'c');
	FAIL(check_run_pod, &p.req, "config.linux.cgroup_parent: longer than 4096 bytes");
	pod_good(&p);
	p.req.runtime_handler = fill(big, CHECK_SHORT_MAX + 1, 'r');
	FAIL(check_run_pod, &p.req, "runtime_handler: longer than 4096 bytes");
}

TEST(criserver_check_run_pod_dns_and_ports)
{
	static struct pod p;
	static char *many[CHECK_DNS_SEARCHES_MAX + 1];
	static char big[CHECK_DNS_ITEM_MAX + 2];

	pod_good(&p);
	for (int i = 0; i <= CHECK_DNS_SEARCHES_MAX; i++)
		many[i] = (char *)"x.local";
	p.dns.searches = many;
	p.dns.n_searches = CHECK_DNS_SEARCHES_MAX;
	PASS(check_run_pod, &p.req);
	p.dns.n_searches = CHECK_DNS_SEARCHES_MAX + 1;
	FAIL(check_run_pod, &p.req, "config.dns_config.searches: more than 64 entries");
	pod_good(&p);
	p.dns.servers = many;
	p.dns.n_servers = CHECK_DNS_SERVERS_MAX + 1;
	FAIL(check_run_pod, &p.req, "config.dns_config.servers: more than 32 entries");
	pod_good(&p);
	p.options[0] = fill(big, CHECK_DNS_ITEM_MAX + 1, 'o');
	FAIL(check_run_pod, &p.req, "config.dns_config.options[0]: longer than 256 bytes");

	pod_good(&p);
	p.pm[1].host_port = 65536;
	FAIL(check_run_pod, &p.req, "config.port_mappings[1].host_port: must be 0 to 65535");
	pod_good(&p);
	p.pm[0].container_port = -1;
	FAIL(check_run_pod, &p.req, "config.port_mappings[0].container_port: must be 0 to 65535");
	pod_good(&p);
	p.pm[1].protocol = (Runtime__V1__Protocol)7;
	FAIL(check_run_pod, &p.req,
	     "config.port_mappings[1].protocol: 7 is not a runtime.v1.Protocol");
	pod_good(&p);
	p.pm[1].host_ip = fill(big, CHECK_HOST_IP_MAX + 1, '1');
	FAIL(check_run_pod, &p.req, "config.port_mappings[1].host_ip: longer than 64 bytes");
	pod_good(&p);
	Runtime__V1__PortMapping **pms = calloc(CHECK_PORTS_MAX + 1, sizeof *pms);
	for (int i = 0; i <= CHECK_PORTS_MAX; i++)
		pms[i] = &p.pm[0];
	p.cfg.port_mappings = pms;
	p.cfg.n_port_mappings = CHECK_PORTS_MAX;
	PASS(check_run_pod, &p.req);
	p.cfg.n_port_mappings = CHECK_PORTS_MAX + 1;
	FAIL(check_run_pod, &p.req, "config.port_mappings: more than 1024 entries");
	free(pms);
}

TEST(criserver_check_run_pod_labels_and_annotations)
{
	static struct pod p;
	static Runtime__V1__PodSandboxConfig__LabelsEntry e[CHECK_MAP_ENTRIES_MAX + 1];
	static Runtime__V1__PodSandboxConfig__LabelsEntry *ep[CHECK_MAP_ENTRIES_MAX + 1];
	static char key[CHECK_MAP_KEY_MAX + 2];

	pod_good(&p);
	for (int i = 0; i <= CHECK_MAP_ENTRIES_MAX; i++) {
		runtime__v1__pod_sandbox_config__labels_entry__init(&e[i]);
		e[i].key = (char *)"k";
		e[i].value = (char *)"v";
		ep[i] = &e[i];
	}
	p.cfg.labels = ep;
	p.cfg.n_labels = CHECK_MAP_ENTRIES_MAX;
	PASS(check_run_pod, &p.req);
	p.cfg.n_labels = CHECK_MAP_ENTRIES_MAX + 1;
	FAIL(check_run_pod, &p.req, "config.labels: more than 256 entries");
	pod_good(&p);
	p.lab[1].key = fill(key, CHECK_MAP_KEY_MAX, 'k');
	PASS(check_run_pod, &p.req);
	p.lab[1].key = fill(key, CHECK_MAP_KEY_MAX + 1, 'k');
	FAIL(check_run_pod, &p.req, "config.labels: a key is longer than 1024 bytes");

	/* one annotation of 256 KiB (the API server's own cap on all of them)
	 * passes; labels and annotations over 512 KiB together do not */
	pod_good(&p);
	char *v = malloc(CHECK_META_BYTES_MAX + 1);
	p.ann[0].value = fill(v, 256 * 1024, 'a');
	PASS(check_run_pod, &p.req);
	p.lab[0].value = fill(malloc(CHECK_META_BYTES_MAX), CHECK_META_BYTES_MAX - 256 * 1024, 'b');
	FAIL(check_run_pod, &p.req,
	     "config: labels and annotations are more than 524288 bytes together");
	free(p.lab[0].value);
	pod_good(&p);
	p.ann[0].value = fill(v, CHECK_META_BYTES_MAX + 1 - 30, 'a');
	FAIL(check_run_pod, &p.req,
	     "config: labels and annotations are more than 524288 bytes together");
	free(v);
}

TEST(criserver_check_run_pod_linux)
{
	static struct pod p;
	static Runtime__V1__IDMapping m, *mp[CHECK_IDMAPS_MAX + 1];
	static Runtime__V1__UserNamespace u;
	static char big[CHECK_PATH_MAX + 2];

	pod_good(&p);
	p.ns.network = (Runtime__V1__NamespaceMode)9;
	FAIL(check_run_pod, &p.req, "config.linux.security_context.namespace_options.network: "
				    "9 is not a runtime.v1.NamespaceMode");
	pod_good(&p);
	p.ns.target_id = (char *)"../x";
	FAIL(check_run_pod, &p.req, "config.linux.security_context.namespace_options.target_id: "
				    "an id does not start with '.' or '-'");
	pod_good(&p);
	runtime__v1__user_namespace__init(&u);
	runtime__v1__idmapping__init(&m);
	m.host_id = 100000;
	m.length = 65536;
	for (int i = 0; i <= CHECK_IDMAPS_MAX; i++)
		mp[i] = &m;
	u.uids = u.gids = mp;
	u.n_uids = u.n_gids = 1;
	p.ns.userns_options = &u;
	PASS(check_run_pod, &p.req);
	u.n_gids = CHECK_IDMAPS_MAX + 1;
	FAIL(check_run_pod, &p.req, "config.linux.security_context.namespace_options."
				    "userns_options.gids: more than 340 entries");
	u.n_gids = 1;
	m.length = 0;
	FAIL(check_run_pod, &p.req, "config.linux.security_context.namespace_options."
				    "userns_options.uids[0]: length must be at least 1 and the range "
				    "within 32 bits");
	m.length = 65536;
	m.host_id = UINT32_MAX;
	FAIL(check_run_pod, &p.req, "config.linux.security_context.namespace_options."
				    "userns_options.uids[0]: length must be at least 1 and the range "
				    "within 32 bits");
	pod_good(&p);
	p.seccomp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
	p.seccomp.localhost_ref = fill(big, CHECK_PATH_MAX + 1, 'p');
	FAIL(check_run_pod, &p.req,
	     "config.linux.security_context.seccomp.localhost_ref: longer than 4096 bytes");
	pod_good(&p);
	p.sc.n_supplemental_groups = CHECK_GROUPS_MAX + 1;
	FAIL(check_run_pod, &p.req,
	     "config.linux.security_context.supplemental_groups: more than 4096 entries");
	pod_good(&p);
	p.sys[0].value = fill(big, CHECK_SYSCTL_VALUE_MAX + 1, '1');
	FAIL(check_run_pod, &p.req, "config.linux.sysctls: a value is longer than 4096 bytes");
	pod_good(&p);
	p.res.cpuset_cpus = fill(big, CHECK_SHORT_MAX + 1, '1');
	FAIL(check_run_pod, &p.req, "config.linux.resources.cpuset_cpus: longer than 4096 bytes");
}

TEST(criserver_check_pod_ids)
{
	Runtime__V1__StopPodSandboxRequest stop = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__RemovePodSandboxRequest rm = RUNTIME__V1__REMOVE_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxStatusRequest st = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	static char big[CHECK_ID_MAX + 2];

	FAIL(check_stop_pod, &stop, "pod_sandbox_id: must not be empty");
	FAIL(check_remove_pod, &rm, "pod_sandbox_id: must not be empty");
	FAIL(check_pod_status, &st, "pod_sandbox_id: must not be empty");
	stop.pod_sandbox_id = rm.pod_sandbox_id = st.pod_sandbox_id = (char *)ID64;
	PASS(check_stop_pod, &stop);
	PASS(check_remove_pod, &rm);
	PASS(check_pod_status, &st);
	stop.pod_sandbox_id = (char *)"0123ab";         /* crictl's unique prefix */
	PASS(check_stop_pod, &stop);
	stop.pod_sandbox_id = fill(big, CHECK_ID_MAX, 'a');
	PASS(check_stop_pod, &stop);
	stop.pod_sandbox_id = fill(big, CHECK_ID_MAX + 1, 'a');
	FAIL(check_stop_pod, &stop, "pod_sandbox_id: longer than 128 bytes");
	const char *bad[] = { "ab/cd", "a b", "..", ".x", "-rf", "a\x01", "é" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char e[CHECK_ERR_MAX];
		rm.pod_sandbox_id = (char *)bad[i];
		CHECK(check_remove_pod(&rm.base, e, sizeof e) == -EINVAL);
		CHECK(strncmp(e, "pod_sandbox_id: ", 16) == 0);
	}
}

TEST(criserver_check_list_pods)
{
	Runtime__V1__ListPodSandboxRequest q = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxFilter f = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	Runtime__V1__PodSandboxStateValue sv = RUNTIME__V1__POD_SANDBOX_STATE_VALUE__INIT;
	static Runtime__V1__PodSandboxFilter__LabelSelectorEntry e, *ep[CHECK_SELECTOR_ENTRIES_MAX + 1];

	PASS(check_list_pods, &q);              /* no filter: everything */
	q.filter = &f;
	PASS(check_list_pods, &q);
	f.id = (char *)"abc";
	f.state = &sv;
	sv.state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
	runtime__v1__pod_sandbox_filter__label_selector_entry__init(&e);
	e.key = (char *)"app";
	e.value = (char *)"nginx";
	for (int i = 0; i <= CHECK_SELECTOR_ENTRIES_MAX; i++)
		ep[i] = &e;
	f.label_selector = ep;
	f.n_label_selector = CHECK_SELECTOR_ENTRIES_MAX;
	PASS(check_list_pods, &q);
	f.n_label_selector = CHECK_SELECTOR_ENTRIES_MAX + 1;
	FAIL(check_list_pods, &q, "filter.label_selector: more than 64 entries");
	f.n_label_selector = 1;
	sv.state = (Runtime__V1__PodSandboxState)5;
	FAIL(check_list_pods, &q, "filter.state.state: 5 is not a runtime.v1.PodSandboxState");
	sv.state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
	f.id = (char *)"a;b";
	FAIL(check_list_pods, &q, "filter.id: an id is made of [0-9A-Za-z_.-] only");
}
