/*
 * test_cni_result: sandboxd/cni/result.c: the IPs of results of spec
 * 0.2.0 to 1.0.0 and their order (the first IPv4 first), bad results, the
 * text made of a plugin's CNI error, and version comparison.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include "common/status.h"
#include "tests/unit/test_cni_lib.h"
#include "tests/unit/unit.h"

/* The IPs of result joined with ',' ("" for none); NULL when an error. */
static char *ips_of(const char *result, bool quiet)
{
	char **ips = NULL;
	size_t n = 0;
	struct crisp_error err = { 0, "" };
	if (cni_result_ips(result, &ips, &n, &err) < 0) {
		if (!quiet)
			fprintf(stderr, "  (%s)\n", err.msg);
		return NULL;
	}
	static char buf[1024];
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "," : "", ips[i]);
		free(ips[i]);
	}
	CHECK(ips[n] == NULL);
	free(ips);
	return buf;
}

#define EXPECT_IPS(result, want) do {                                           \
	const char *_got = ips_of(result, false);                                      \
	if (!_got || strcmp(_got, (want)) != 0) {                               \
		fprintf(stderr, "  got %s, wanted %s\n", _got ? _got : "error", (want)); \
		CHECK(0);                                                       \
	} } while (0)

TEST(cni_result_versions)
{
	/* 1.0.0 */
	EXPECT_IPS("{\"cniVersion\": \"1.0.0\", \"interfaces\": [{\"name\": \"eth0\", \"sandbox\": "
		   "\"/run/netns/x\"}], \"ips\": [{\"address\": \"10.67.0.5/16\", \"gateway\": "
		   "\"10.67.0.1\", \"interface\": 0}], \"routes\": [{\"dst\": \"0.0.0.0/0\"}], "
		   "\"dns\": {}}", "10.67.0.5");
	/* 0.4.0 and 0.3.x carry "version" in each ip */
	EXPECT_IPS("{\"cniVersion\": \"0.4.0\", \"ips\": [{\"version\": \"4\", \"address\": "
		   "\"10.1.2.3/24\"}, {\"version\": \"6\", \"address\": \"fd00::3/64\"}]}",
		   "10.1.2.3,fd00::3");
	EXPECT_IPS("{\"cniVersion\": \"0.3.1\", \"ips\": [{\"version\": \"4\", \"address\": "
		   "\"192.168.9.200/24\"}]}", "192.168.9.200");
	EXPECT_IPS("{\"cniVersion\": \"0.3.0\", \"ips\": [{\"version\": \"4\", \"address\": "
		   "\"192.168.9.201/24\"}]}", "192.168.9.201");
	/* 0.2.0: ip4 and ip6 */
	EXPECT_IPS("{\"cniVersion\": \"0.2.0\", \"ip6\": {\"ip\": \"fd00::9/64\"}, \"ip4\": {\"ip\": "
		   "\"10.9.0.9/16\", \"gateway\": \"10.9.0.1\"}, \"dns\": {}}", "10.9.0.9,fd00::9");
	EXPECT_IPS("{\"cniVersion\": \"0.2.0\", \"ip6\": {\"ip\": \"fd00::9/64\"}}", "fd00::9");
	/* no IPs is an answer (the caller decides), as is an empty list */
	EXPECT_IPS("{\"cniVersion\": \"1.0.0\"}", "");
	EXPECT_IPS("{\"cniVersion\": \"1.0.0\", \"ips\": []}", "");
	/* addresses come back canonical, without the prefix */
	EXPECT_IPS("{\"ips\": [{\"address\": \"FD00:0:0::0001/64\"}]}", "fd00::1");
}

TEST(cni_result_primary_ip_first)
{
	/* the first IPv4 first, the others in their order */
	EXPECT_IPS("{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": \"fd00::1/64\"}, "
		   "{\"address\": \"fd00::2/64\"}, {\"address\": \"10.0.0.1/8\"}, "
		   "{\"address\": \"10.0.0.2/8\"}]}", "10.0.0.1,fd00::1,fd00::2,10.0.0.2");
	EXPECT_IPS("{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": \"fd00::1/64\"}, "
		   "{\"address\": \"fd00::2/64\"}]}", "fd00::1,fd00::2");
	EXPECT_IPS("{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": \"10.0.0.7/8\"}, "
		   "{\"address\": \"fd00::2/64\"}]}", "10.0.0.7,fd00::2");
}

TEST(cni_result_bad)
{
	static const char *const bad[] = {
		"", "null", "[]", "{\"ips\": [{\"address\": \"10.0.0.300/8\"}]}",
		"{\"ips\": [{\"address\": 5}]}", "{\"ips\": [{}]}", "{\"ips\": \"10.0.0.1\"}",
		"{\"ips\": [\"10.0.0.1/8\"]}", "{\"ip4\": {\"ip\": \"nope\"}}",
		"{\"ips\": [{\"address\": \"/8\"}]}", "{\"cniVersion\": \"1.0.0\"} trailing",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (ips_of(bad[i], true) != NULL) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
			CHECK(0);
		}
	}
	char **ips = NULL;
	size_t n = 0;
	CHECK(cni_result_ips(NULL, &ips, &n, NULL) < 0);
	/* more than the cap */
	char big[8192] = "{\"ips\": [";
	for (int i = 0; i < 40; i++)
		snprintf(big + strlen(big), sizeof big - strlen(big), "%s{\"address\": \"10.0.0.%d/8\"}",
			 i ? "," : "", i + 1);
	strcat(big, "]}");
	CHECK(ips_of(big, true) == NULL);
}

static void error_text(const char *out, const char *err, int status, char *buf, size_t len,
		       int *code)
{
	struct cni_output o = {
		.out = (char *)out, .out_len = strlen(out), .err = (char *)err,
		.err_len = strlen(err), .status = status,
	};
	cni_error_text(&o, buf, len, code);
}

TEST(cni_result_error_text)
{
	char buf[512];
	int code = -1;
	error_text("{\"cniVersion\": \"1.0.0\", \"code\": 7, \"msg\": \"invalid config\", "
		   "\"details\": \"no bridge name\"}\n", "panic: x\n", 1 << 8, buf, sizeof buf, &code);
	CHECK(code == 7);
	CHECK(strcmp(buf, "invalid config (no bridge name) (CNI error 7, exit status 1); "
		     "stderr: panic: x") == 0);

	error_text("{\"code\": 11, \"msg\": \"try again\"}", "", 2 << 8, buf, sizeof buf, &code);
	CHECK(code == 11 && strcmp(buf, "try again (CNI error 11, exit status 2)") == 0);

	error_text("plain words\non lines\n", "", 3 << 8, buf, sizeof buf, &code);
	CHECK(code == 0 && strcmp(buf, "exit status 3, printing \"plain words on lines\"") == 0);

	error_text("", "line one\nline two\n", SIGSEGV, buf, sizeof buf, &code);
	CHECK(strcmp(buf, "killed by signal 11; stderr: line one line two") == 0);

	error_text("", "", 1 << 8, buf, 8, &code);     /* cut to the buffer */
	CHECK(strcmp(buf, "exit st") == 0);
}

TEST(cni_result_version_compare)
{
	CHECK(cni_version_at_least("1.0.0", 0, 4, 0));
	CHECK(cni_version_at_least("0.4.0", 0, 4, 0));
	CHECK(!cni_version_at_least("0.3.1", 0, 4, 0));
	CHECK(!cni_version_at_least("0.3.0", 0, 4, 0));
	CHECK(cni_version_at_least("1.1.0", 1, 0, 0));
	CHECK(!cni_version_at_least(NULL, 0, 3, 0));
	CHECK(!cni_version_at_least("junk", 0, 2, 0));
	CHECK(cni_version_at_least("0.10.0", 0, 4, 0));
}
