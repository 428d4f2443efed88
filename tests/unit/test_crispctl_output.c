/*
 * test_crispctl_output: what crispctl prints: the crictl-like table
 * (aligned columns, the last one unpadded), "... ago" wording, short ids,
 * state names, the JSON of CRI messages (names, enums, 64-bit integers as
 * strings, maps, defaults emitted, unset messages left out), `inspect`'s
 * object (info values that are JSON embedded as JSON), and map fields
 * built and read through their descriptors.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"
#include "tests/unit/unit.h"

TEST(crispctl_table)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct ctl_table *t = ctl_table_new(3);
	CHECK(f && t);
	static const char *const h[] = { "POD ID", "NAME", "STATE" };
	static const char *const r1[] = { "abc", "a-rather-long-name", "Ready" };
	static const char *const r2[] = { "0123456789abc", NULL, "NotReady" };
	CHECK_RC(ctl_table_add(t, h));
	CHECK_RC(ctl_table_add(t, r1));
	CHECK_RC(ctl_table_add(t, r2));
	ctl_table_print(t, f);
	fclose(f);
	ctl_table_free(t);
	CHECK(!strcmp(buf,
		      "POD ID          NAME                 STATE\n"
		      "abc             a-rather-long-name   Ready\n"
		      "0123456789abc                        NotReady\n"));
	free(buf);
}

TEST(crispctl_ago_and_ids)
{
	char b[64], id[CTL_ID_SHORT + 1];
	const int64_t s = 1000000000LL, now = 1700000000LL * s;
	ctl_ago(now - s / 2, now, b, sizeof b);
	CHECK(!strcmp(b, "Less than a second ago"));
	ctl_ago(now - s, now, b, sizeof b);
	CHECK(!strcmp(b, "1 second ago"));
	ctl_ago(now - 42 * s, now, b, sizeof b);
	CHECK(!strcmp(b, "42 seconds ago"));
	ctl_ago(now - 90 * s, now, b, sizeof b);
	CHECK(!strcmp(b, "About a minute ago"));
	ctl_ago(now - 10 * 60 * s, now, b, sizeof b);
	CHECK(!strcmp(b, "10 minutes ago"));
	ctl_ago(now - 3600 * s, now, b, sizeof b);
	CHECK(!strcmp(b, "About an hour ago"));
	ctl_ago(now - 5 * 3600 * s, now, b, sizeof b);
	CHECK(!strcmp(b, "5 hours ago"));
	ctl_ago(now - 3 * 86400 * s, now, b, sizeof b);
	CHECK(!strcmp(b, "3 days ago"));
	ctl_ago(0, now, b, sizeof b);
	CHECK(!strcmp(b, "-"));
	ctl_trunc_id("8eccaa3262302e4816a01007f4b0309c", id);
	CHECK(!strcmp(id, "8eccaa3262302"));
	ctl_trunc_id("sha256:d31bb933128e07ae84655ae4", id);
	CHECK(!strcmp(id, "d31bb933128e0"));
	ctl_trunc_id("short", id);
	CHECK(!strcmp(id, "short"));
	CHECK(!strcmp(ctl_pod_state_name(RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY),
		      "NotReady"));
	CHECK(!strcmp(ctl_ctr_state_name(RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED), "Exited"));
	CHECK(!strcmp(ctl_ctr_state_name(99), "Unknown"));
}

TEST(crispctl_map_fields)
{
	char k1[] = "app", v1[] = "demo", k2[] = "tier", v2[] = "";
	struct ctl_kv kv[2] = { { k1, v1 }, { k2, v2 } };
	Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	CHECK_RC(ctl_map_new(&runtime__v1__pod_sandbox_config__labels_entry__descriptor, kv, 2,
			     (void ***)&cfg.labels));
	cfg.n_labels = 2;
	CHECK(cfg.labels[1]->key == k2 && cfg.labels[1]->value == v2);
	/* it packs and comes back as the same map */
	size_t n = runtime__v1__pod_sandbox_config__get_packed_size(&cfg);
	uint8_t *buf = malloc(n);
	CHECK(buf);
	runtime__v1__pod_sandbox_config__pack(&cfg, buf);
	Runtime__V1__PodSandboxConfig *back = runtime__v1__pod_sandbox_config__unpack(NULL, n, buf);
	CHECK(back && back->n_labels == 2);
	CHECK(!strcmp(ctl_map_get((void *const *)back->labels, back->n_labels, "app"), "demo"));
	CHECK(ctl_map_get((void *const *)back->labels, back->n_labels, "none") == NULL);
	struct ctl_kv want[1] = { { k1, v1 } };
	CHECK(ctl_map_has_all((void *const *)back->labels, back->n_labels, want, 1));
	char other[] = "other";
	want[0].value = other;
	CHECK(!ctl_map_has_all((void *const *)back->labels, back->n_labels, want, 1));
	runtime__v1__pod_sandbox_config__free_unpacked(back, NULL);
	free(buf);
	ctl_map_free((void **)cfg.labels);
	/* an entry type without key and value is refused */
	void **bad;
	CHECK(ctl_map_new(&runtime__v1__container_metadata__descriptor, kv, 1, &bad) == -EINVAL);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

TEST(crispctl_json)
{
	char name[64];
	ctl_json_name("log_directory", name, sizeof name);
	CHECK(!strcmp(name, "logDirectory"));
	ctl_json_name("CDI_devices", name, sizeof name);
	CHECK(!strcmp(name, "CDIDevices"));

	Runtime__V1__ContainerStatus st = RUNTIME__V1__CONTAINER_STATUS__INIT;
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	md.name = "web";
	md.attempt = 2;
	st.id = "abc";
	st.metadata = &md;
	st.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
	st.created_at = 1700000000123456789LL;
	st.exit_code = -3;
	char k[] = "app", v[] = "x/y";
	struct ctl_kv kv = { k, v };
	CHECK_RC(ctl_map_new(&runtime__v1__container_status__labels_entry__descriptor, &kv, 1,
			     (void ***)&st.labels));
	st.n_labels = 1;
	struct json_object *j = ctl_pb_json(&st.base);
	CHECK(j);
	CHECK(!strcmp(jstr(j, "id"), "abc"));
	CHECK(!strcmp(jstr(j, "state"), "CONTAINER_EXITED"));
	CHECK(!strcmp(jstr(j, "createdAt"), "1700000000123456789"));   /* int64: a string */
	struct json_object *o;
	CHECK(json_object_object_get_ex(j, "exitCode", &o) && json_object_get_int(o) == -3);
	CHECK(json_object_object_get_ex(j, "startedAt", &o));            /* zero, still there */
	CHECK(json_object_object_get_ex(j, "mounts", &o) && json_object_is_type(o, json_type_array));
	CHECK(!json_object_object_get_ex(j, "image", &o));              /* unset message */
	CHECK(json_object_object_get_ex(j, "metadata", &o) && !strcmp(jstr(o, "name"), "web"));
	CHECK(json_object_object_get_ex(j, "labels", &o) && !strcmp(jstr(o, "app"), "x/y"));
	CHECK(json_object_object_get_ex(j, "annotations", &o) &&
	      json_object_is_type(o, json_type_object));
	/* the printer does not escape '/' */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f);
	CHECK_RC(ctl_json_print(j, f));
	fclose(f);
	CHECK(strstr(buf, "\"x/y\"") && strstr(buf, "\n  \"id\": \"abc\""));
	free(buf);
	json_object_put(j);

	/* bytes as base64 */
	Runtime__V1__KeyValue e = RUNTIME__V1__KEY_VALUE__INIT;
	e.key = "K";
	e.value.data = (uint8_t *)"hello";
	e.value.len = 5;
	j = ctl_pb_json(&e.base);
	CHECK(j && !strcmp(jstr(j, "value"), "aGVsbG8="));
	json_object_put(j);

	/* inspect: status plus the info keys, JSON embedded as JSON */
	char i1[] = "info", i1v[] = "{\"pid\": 42, \"runtimeSpec\": {\"ociVersion\": \"1.0.2\"}}";
	char i2[] = "note", i2v[] = "\"quoted\"";
	struct ctl_kv info[2] = { { i1, i1v }, { i2, i2v } };
	Runtime__V1__ContainerStatusResponse resp = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
	CHECK_RC(ctl_map_new(&runtime__v1__container_status_response__info_entry__descriptor, info,
			     2, (void ***)&resp.info));
	resp.n_info = 2;
	j = ctl_inspect_json(&st.base, (void *const *)resp.info, resp.n_info);
	CHECK(j);
	CHECK(json_object_object_get_ex(j, "status", &o) && !strcmp(jstr(o, "id"), "abc"));
	CHECK(json_object_object_get_ex(j, "info", &o) && json_object_is_type(o, json_type_object));
	struct json_object *pid;
	CHECK(json_object_object_get_ex(o, "pid", &pid) && json_object_get_int(pid) == 42);
	CHECK(!strcmp(jstr(j, "note"), "quoted"));
	json_object_put(j);
	ctl_map_free((void **)resp.info);
	ctl_map_free((void **)st.labels);
}
