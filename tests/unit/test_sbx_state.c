/*
 * test_sbx_state: sandboxd's state (sandboxd/state/): rows saved and read
 * back by a second open (what a restarted sandboxd sees), id prefixes,
 * ambiguous prefixes, ids that are not ours, removal; the id map under
 * many inserts and deletes.
 */
#include <errno.h>
#include <stdlib.h>
#include "sandboxd/state/idmap.h"
#include "sandboxd/state/state.h"
#include "tests/unit/unit.h"

static Runtime__V1__PodSandboxConfig *pod_config(const char *name)
{
	Runtime__V1__PodSandboxConfig *c = calloc(1, sizeof *c);
	Runtime__V1__PodSandboxMetadata *m = calloc(1, sizeof *m);
	runtime__v1__pod_sandbox_config__init(c);
	runtime__v1__pod_sandbox_metadata__init(m);
	m->name = strdup(name);
	m->namespace_ = strdup("ns");
	m->uid = strdup("uid");
	c->metadata = m;
	c->hostname = strdup("h");
	/* as unpacked by protobuf-c: free with ..._free_unpacked needs its
	 * allocator, so round-trip it */
	size_t n = protobuf_c_message_get_packed_size(&c->base);
	uint8_t *buf = malloc(n + 1);
	protobuf_c_message_pack(&c->base, buf);
	Runtime__V1__PodSandboxConfig *u =
		runtime__v1__pod_sandbox_config__unpack(NULL, n, buf);
	free(buf);
	free(m->name);
	free(m->namespace_);
	free(m->uid);
	free(m);
	free(c->hostname);
	free(c);
	return u;
}

TEST(sbx_state_rows_survive_a_reopen)
{
	struct state *st;
	struct crisp_error err = { 0 };
	CHECK(state_open(unit_tmpdir(), &st, &err) == 0);
	struct pod *p = state_pod_new();
	CHECK(p);
	state_new_id(p->id);
	p->config = pod_config("web");
	p->created_ns = 42;
	p->state = POD_CREATING;
	snprintf(p->handler, sizeof p->handler, "runc");
	p->cgroup_parent = strdup("/crisp/pods/x");
	p->cgroup_owned = true;
	p->netns = true;
	CHECK_RC(state_pod_add(st, p));
	state_lock(st);
	p->state = POD_READY;
	p->init_pid = 1234;
	p->init_start = 99;
	p->cni_started = true;
	p->cni_net = strdup("{\"name\":\"crisp\"}");
	CHECK_RC(state_pod_save(st, p));
	state_unlock(st);
	char id[SBX_ID_LEN + 1];
	memcpy(id, p->id, sizeof id);
	state_pod_put(st, p);
	state_close(st);

	CHECK(state_open(unit_tmpdir(), &st, &err) == 0);
	struct pod *q = NULL;
	CHECK_RC(state_pod_get(st, id, &q));
	CHECK(q->state == POD_READY && q->created_ns == 42 && q->init_pid == 1234);
	CHECK(q->init_start == 99 && q->cgroup_owned && q->netns && !q->ipcns && q->cni_started);
	CHECK(!strcmp(q->cgroup_parent, "/crisp/pods/x") && !strcmp(q->handler, "runc"));
	CHECK(!strcmp(q->cni_net, "{\"name\":\"crisp\"}") && !strcmp(q->config->metadata->name, "web"));
	state_pod_put(st, q);
	/* a prefix, a wrong one, something that is not an id */
	CHECK_RC(state_pod_get(st, (char[]){ id[0], id[1], id[2], id[3], 0 }, &q));
	state_pod_put(st, q);
	CHECK(state_pod_get(st, "zz", &q) == -ENOENT);
	CHECK(state_pod_get(st, "ce5de69c-eb52-4ce7", &q) == -ENOENT);
	CHECK_RC(state_pod_get(st, id, &q));
	CHECK_RC(state_pod_del(st, q));
	state_pod_put(st, q);
	CHECK(state_pod_get(st, id, &q) == -ENOENT);
	state_close(st);
	CHECK(state_open(unit_tmpdir(), &st, &err) == 0);
	CHECK(state_pod_get(st, id, &q) == -ENOENT);
	state_close(st);
}

TEST(sbx_state_ambiguous_prefix)
{
	struct state *st;
	struct crisp_error err = { 0 };
	CHECK(state_open(unit_tmpdir(), &st, &err) == 0);
	const char *ids[] = { "aa11", "aa22" };
	for (int i = 0; i < 2; i++) {
		struct pod *p = state_pod_new();
		memset(p->id, '0', SBX_ID_LEN);
		memcpy(p->id, ids[i], 4);
		p->id[SBX_ID_LEN] = '\0';
		p->config = pod_config("x");
		CHECK_RC(state_pod_add(st, p));
		state_pod_put(st, p);
	}
	struct pod *q = NULL;
	CHECK(state_pod_get(st, "aa", &q) == -ENOTUNIQ);
	CHECK_RC(state_pod_get(st, "aa2", &q));
	CHECK(!strncmp(q->id, "aa22", 4));
	state_pod_put(st, q);
	state_lock(st);
	CHECK(state_n_pods(st) == 2);
	state_unlock(st);
	state_close(st);
}

TEST(sbx_idmap_grows_and_deletes)
{
	struct idmap m;
	idmap_init(&m);
	static char ids[5000][SBX_ID_LEN + 1];
	for (int i = 0; i < 5000; i++) {
		state_new_id(ids[i]);
		CHECK_RC(idmap_put(&m, ids[i], ids[i]));
	}
	CHECK(idmap_put(&m, ids[7], ids[7]) == -EEXIST);
	for (int i = 0; i < 5000; i += 2)
		idmap_del(&m, ids[i]);
	CHECK(m.n == 2500);
	for (int i = 0; i < 5000; i++)
		CHECK((idmap_get(&m, ids[i]) != NULL) == (i % 2 == 1));
	size_t it = 0, n = 0;
	while (idmap_next(&m, &it))
		n++;
	CHECK(n == 2500);
	idmap_free(&m);
}
