/*
 * test_criserver_routes: criserver's method table (criserver/routes.c)
 * against what protoc-c generated from proto/cri.proto: every method of both
 * services once, with its request type, and the server-streaming flag as the
 * proto text says ("returns (stream").
 */
#include <stdbool.h>
#include <string.h>

#include "criserver/criserver.h"
#include "cri.pb-c.h"
#include "tests/unit/unit.h"

static const struct rpc_method *route_find(const char *path)
{
	size_t n;
	const struct rpc_method *m = cri_methods(&n);
	const struct rpc_method *found = NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(m[i].path, path) == 0) {
			CHECK(!found);          /* no path twice */
			found = &m[i];
		}
	}
	return found;
}

static size_t check_service(const ProtobufCServiceDescriptor *svc)
{
	for (unsigned i = 0; i < svc->n_methods; i++) {
		char path[256];
		snprintf(path, sizeof path, "/%s/%s", svc->name, svc->methods[i].name);
		const struct rpc_method *m = route_find(path);
		if (!m)
			fprintf(stderr, "  missing %s\n", path);
		CHECK(m);
		CHECK(m->request == svc->methods[i].input);
	}
	return svc->n_methods;
}

TEST(criserver_routes_match_the_proto)
{
	size_t n;
	cri_methods(&n);
	CHECK(n == 43);
	size_t in_proto = check_service(&runtime__v1__runtime_service__descriptor) +
			  check_service(&runtime__v1__image_service__descriptor);
	CHECK(in_proto == n);
}

/* The streaming flag of each method, from the proto's own text. */
TEST(criserver_routes_streaming_flags)
{
	FILE *f = fopen("proto/cri.proto", "r");
	char line[512], service[64] = "";
	size_t n, streams = 0;
	const struct rpc_method *all = cri_methods(&n);

	CHECK(f);               /* run from the repository root */
	while (fgets(line, sizeof line, f)) {
		char name[128];
		if (sscanf(line, " service %63s", service) == 1)
			continue;
		if (sscanf(line, " rpc %127[A-Za-z](", name) != 1)
			continue;
		char path[256];
		snprintf(path, sizeof path, "/runtime.v1.%s/%s", service, name);
		const struct rpc_method *m = route_find(path);
		CHECK(m);
		bool stream = strstr(line, "returns (stream ") != NULL;
		if (m->server_streaming != stream)
			fprintf(stderr, "  %s: streaming flag wrong\n", path);
		CHECK(m->server_streaming == stream);
		streams += stream;
	}
	fclose(f);
	CHECK(streams == 7);
	for (size_t i = 0; i < n; i++)
		CHECK(all[i].path[0] == '/' && all[i].request);
}

TEST(criserver_routes_built_handlers)
{
	CHECK(route_find("/runtime.v1.RuntimeService/Version")->handler == cri_version);
	CHECK(route_find("/runtime.v1.RuntimeService/Status")->handler == cri_status);
	CHECK(route_find("/runtime.v1.RuntimeService/RuntimeConfig")->handler ==
	      cri_runtime_config);
}
