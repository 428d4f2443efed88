/*
 * test_image_config: the runtime part of an image config, as imaged hands
 * it to sandboxd (imaged/image_config.c): fields read, absent and null
 * fields empty, wrong types, NUL bytes and oversized lists refused.
 */
#include <errno.h>
#include "imaged/image_config.h"
#include "tests/unit/unit.h"

static int parse(const char *json, Crisp__ImageRuntimeConfig *c)
{
	struct svc_error err = { 0 };
	return image_config_parse(json, strlen(json), c, &err);
}

TEST(image_config_fields)
{
	Crisp__ImageRuntimeConfig c;
	CHECK_RC(parse("{\"architecture\":\"amd64\",\"config\":{\"User\":\"1000:100\","
		       "\"Env\":[\"PATH=/bin\",\"A=b=c\"],\"Entrypoint\":[\"/bin/sh\",\"-c\"],"
		       "\"Cmd\":[\"echo hi\"],\"WorkingDir\":\"/w\",\"StopSignal\":\"SIGQUIT\","
		       "\"Volumes\":{\"/data\":{},\"/logs\":{}},\"Labels\":{\"a\":\"1\"}},"
		       "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", &c));
	CHECK(!strcmp(c.user, "1000:100"));
	CHECK(c.n_env == 2 && !strcmp(c.env[1], "A=b=c"));
	CHECK(c.n_entrypoint == 2 && !strcmp(c.entrypoint[1], "-c"));
	CHECK(c.n_cmd == 1 && !strcmp(c.cmd[0], "echo hi"));
	CHECK(!strcmp(c.working_dir, "/w") && !strcmp(c.stop_signal, "SIGQUIT"));
	CHECK(c.n_volumes == 2);
	CHECK(c.n_labels == 1 && !strcmp(c.labels[0]->key, "a") && !strcmp(c.labels[0]->value, "1"));
	image_config_clear(&c);
}

TEST(image_config_absent_and_null)
{
	Crisp__ImageRuntimeConfig c;
	CHECK_RC(parse("{\"rootfs\":{}}", &c));
	CHECK(c.n_env == 0 && c.n_cmd == 0 && c.user[0] == '\0');
	image_config_clear(&c);
	CHECK_RC(parse("{\"config\":{\"Env\":null,\"Cmd\":null,\"User\":null,\"Volumes\":null}}", &c));
	CHECK(c.n_env == 0 && c.n_cmd == 0 && c.n_volumes == 0);
	image_config_clear(&c);
}

TEST(image_config_refuses)
{
	Crisp__ImageRuntimeConfig c;
	static const char *const bad[] = {
		"[]", "{\"config\":[]}", "{\"config\":{\"Env\":\"PATH=/bin\"}}",
		"{\"config\":{\"Env\":[\"NOEQUALS\"]}}", "{\"config\":{\"Env\":[\"=x\"]}}",
		"{\"config\":{\"Cmd\":[1]}}", "{\"config\":{\"User\":\"a\\u0000b\"}}",
		"{\"config\":{\"Labels\":{\"a\":1}}}", "{\"config\":{}} trailing",
		"{\"config\":{\"Volumes\":[\"/x\"]}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = parse(bad[i], &c);
		if (r != -EINVAL)
			fprintf(stderr, "  case %zu: %d\n", i, r);
		CHECK(r == -EINVAL);
	}
}

TEST(image_config_caps)
{
	size_t n = IMAGE_CONFIG_LIST_MAX + 1;
	char *json = malloc(n * 6 + 64);
	CHECK(json);
	char *p = json + sprintf(json, "{\"config\":{\"Cmd\":[");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s\"x\"", i ? "," : "");
	strcpy(p, "]}}");
	Crisp__ImageRuntimeConfig c;
	CHECK(parse(json, &c) == -E2BIG);
	free(json);
}
