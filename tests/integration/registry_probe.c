/*
 * registry_probe: a small program around imaged's registry client, for the
 * integration tests (test_registry_client.py builds it from the sources and
 * runs it against real docker-registry processes). For each reference it
 * pulls the manifest, the config and every layer, as imaged will, and
 * prints one JSON line with what it got or the error. It never decides
 * whether a result is right: the Python test compares it with what skopeo
 * pushed.
 *
 *   registry_probe [options] REF...
 *   --host H [--mirror URL]... [--insecure] [--ca-file F]   a registry_host_options
 *   --docker-config F
 *   --user U --password P --auth B64 --server-address S
 *   --identity-token T --registry-token T                  CRI AuthConfig fields
 *   --platform os/arch[/variant]
 *   --max-manifest N --stall-ms N --retries N --retry-max-ms N --connect-ms N
 *   --deadline-ms N          the pull's deadline, from the start of each pull
 *                            (negative: already passed)
 *   --threads N              pull the references from N threads, one client
 *   --layer-threads N        fetch each image's layers from N threads, one session
 *   --cancel-after N         set the cancel flag after N layer bytes
 *   --out DIR                write blobs to DIR/sha256/<hex>
 *   --repeat N               pull the list N times (same client: token cache)
 *   --repeat-delay-ms N      wait this long between two rounds
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include "imaged/registry.h"

#define MAX_HOSTS 16

static struct registry_host_options hosts[MAX_HOSTS];
static size_t n_hosts;
static struct registry_options opts;
static struct registry_credentials creds;
static bool have_creds;
static struct registry_platform platform;
static bool have_platform;
static int64_t deadline_rel_ms;
static long cancel_after = -1;
static const char *out_dir;
static int threads = 1, layer_threads = 1, repeat = 1, repeat_delay_ms;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

struct pull {
	struct registry_client *c;
	const char *ref;
	atomic_bool cancel;
	atomic_llong bytes;
	/* layer fetching */
	struct registry_session *s;
	struct registry_manifest *m;
	atomic_size_t next_layer;
	pthread_mutex_t err_lock;
	int rc;
	struct registry_error err;
};

struct blob_file {
	struct pull *p;
	int fd;
};

static int sink(void *ud, const void *buf, size_t len)
{
	struct blob_file *bf = ud;
	long long total = atomic_fetch_add(&bf->p->bytes, (long long)len) + (long long)len;
	if (cancel_after >= 0 && total >= cancel_after)
		atomic_store(&bf->p->cancel, true);
	if (bf->fd >= 0 && write(bf->fd, buf, len) != (ssize_t)len)
		return -EIO;
	return 0;
}

static int open_blob_file(const char *digest)
{
	if (!out_dir)
		return -1;
	char path[4096];
	snprintf(path, sizeof path, "%s/sha256", out_dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/sha256/%s", out_dir, digest + 7);
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static void *layer_worker(void *arg)
{
	struct pull *p = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&p->next_layer, 1);
		if (i >= p->m->n_layers)
			return NULL;
		struct registry_error err = { 0 };
		struct blob_file bf = { p, open_blob_file(p->m->layers[i].digest) };
		int r = registry_pull_blob(p->s, &p->m->layers[i], sink, &bf, &err);
		if (bf.fd >= 0)
			close(bf.fd);
		if (r < 0) {
			pthread_mutex_lock(&p->err_lock);
			if (p->rc == 0) {
				p->rc = r;
				p->err = err;
			}
			pthread_mutex_unlock(&p->err_lock);
			return NULL;
		}
	}
}

static json_object *descriptor_json(const struct registry_descriptor *d)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "digest", json_object_new_string(d->digest));
	json_object_object_add(o, "size", json_object_new_int64(d->size));
	json_object_object_add(o, "media_type", json_object_new_string(d->media_type));
	return o;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pull_layers(struct pull *p)
{
	pthread_t t[16];
	int n = layer_threads > 16 ? 16 : layer_threads;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, layer_worker, p);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static void pull_one(struct registry_client *c, const char *ref, json_object *out)
{
	struct pull p = { .c = c, .ref = ref, .err_lock = PTHREAD_MUTEX_INITIALIZER };
	struct image_ref ir;
	const char *why = NULL;
	char *config = NULL;
	size_t config_len = 0;
	int64_t start = now_ms();
	struct registry_pull_options po = { .creds = have_creds ? &creds : NULL, .cancel = &p.cancel,
					    .deadline_ms = deadline_rel_ms ? start + deadline_rel_ms : 0,
					    .platform = have_platform ? &platform : NULL };
	p.rc = image_ref_parse(ref, &ir, &why);
	if (p.rc < 0) {
		p.err.code = CRISP_STATUS_INVALID_ARGUMENT;
		snprintf(p.err.msg, sizeof p.err.msg, "invalid reference \"%s\": %s", ref, why);
	}
	if (p.rc == 0)
		p.rc = registry_session_open(c, &ir, &po, &p.s, &p.err);
	if (p.rc == 0)
		p.rc = registry_pull_manifest(p.s, &p.m, &p.err);
	if (p.rc == 0)
		p.rc = registry_pull_small_blob(p.s, &p.m->config, &config, &config_len, &p.err);
	if (p.rc == 0)
		pull_layers(&p);
	json_object_object_add(out, "ms", json_object_new_int64(now_ms() - start));
	json_object_object_add(out, "ok", json_object_new_boolean(p.rc == 0));
	json_object_object_add(out, "errno", json_object_new_int(-p.rc));
	json_object_object_add(out, "code", json_object_new_int(p.rc ? p.err.code : 0));
	json_object_object_add(out, "msg", json_object_new_string(p.rc ? p.err.msg : ""));
	json_object_object_add(out, "bytes", json_object_new_int64(atomic_load(&p.bytes)));
	if (p.m) {
		char plat[128];
		snprintf(plat, sizeof plat, "%s/%s%s%s", p.m->platform.os, p.m->platform.architecture,
			 p.m->platform.variant[0] ? "/" : "", p.m->platform.variant);
		json_object_object_add(out, "digest", json_object_new_string(p.m->digest));
		json_object_object_add(out, "media_type", json_object_new_string(p.m->media_type));
		json_object_object_add(out, "index_digest", json_object_new_string(p.m->index_digest));
		json_object_object_add(out, "index_media_type", json_object_new_string(p.m->index_media_type));
		json_object_object_add(out, "platform", json_object_new_string(plat));
		json_object_object_add(out, "manifest", json_object_new_string_len(p.m->raw, (int)p.m->raw_len));
		json_object_object_add(out, "config", descriptor_json(&p.m->config));
		json_object *layers = json_object_new_array();
		for (size_t i = 0; i < p.m->n_layers; i++)
			json_object_array_add(layers, descriptor_json(&p.m->layers[i]));
		json_object_object_add(out, "layers", layers);
	}
	if (config)
		json_object_object_add(out, "config_bytes", json_object_new_int64((int64_t)config_len));
	free(config);
	registry_manifest_free(p.m);
	registry_session_close(p.s);
}

struct job {
	struct registry_client *c;
	char **refs;
	int n;
	int index;
	int stride;
	int failed;
};

static void *job_run(void *arg)
{
	struct job *j = arg;
	for (int i = j->index; i < j->n; i += j->stride) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "ref", json_object_new_string(j->refs[i]));
		pull_one(j->c, j->refs[i], o);
		json_object *ok;
		if (json_object_object_get_ex(o, "ok", &ok) && !json_object_get_boolean(ok))
			j->failed = 1;
		pthread_mutex_lock(&print_lock);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		fflush(stdout);
		pthread_mutex_unlock(&print_lock);
		json_object_put(o);
	}
	return NULL;
}

static void parse_platform(const char *s)
{
	char buf[100];
	snprintf(buf, sizeof buf, "%s", s);
	char *a = strchr(buf, '/'), *v = NULL;
	if (!a) {
		fprintf(stderr, "--platform os/arch[/variant]\n");
		exit(2);
	}
	*a++ = '\0';
	if ((v = strchr(a, '/')))
		*v++ = '\0';
	snprintf(platform.os, sizeof platform.os, "%.31s", buf);
	snprintf(platform.architecture, sizeof platform.architecture, "%.31s", a);
	snprintf(platform.variant, sizeof platform.variant, "%.31s", v ? v : "");
	have_platform = true;
}

static struct registry_host_options *cur_host(void)
{
	if (n_hosts == 0) {
		fprintf(stderr, "--mirror/--insecure/--ca-file need a --host first\n");
		exit(2);
	}
	return &hosts[n_hosts - 1];
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", 1, 0, 'H' }, { "mirror", 1, 0, 'M' }, { "insecure", 0, 0, 'I' },
		{ "ca-file", 1, 0, 'C' }, { "docker-config", 1, 0, 'D' }, { "user", 1, 0, 'u' },
		{ "password", 1, 0, 'p' }, { "auth", 1, 0, 'a' }, { "server-address", 1, 0, 's' },
		{ "identity-token", 1, 0, 'i' }, { "registry-token", 1, 0, 'r' },
		{ "platform", 1, 0, 'P' }, { "max-manifest", 1, 0, 'm' }, { "stall-ms", 1, 0, 'S' },
		{ "retries", 1, 0, 'R' }, { "retry-max-ms", 1, 0, 'x' }, { "connect-ms", 1, 0, 'c' },
		{ "deadline-ms", 1, 0, 'd' }, { "threads", 1, 0, 't' }, { "layer-threads", 1, 0, 'l' },
		{ "cancel-after", 1, 0, 'k' }, { "out", 1, 0, 'o' }, { "repeat", 1, 0, 'n' },
		{ "repeat-delay-ms", 1, 0, 'w' },
		{ 0, 0, 0, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if (n_hosts == MAX_HOSTS)
				exit(2);
			hosts[n_hosts++].host = optarg;
			break;
		case 'M': {
			struct registry_host_options *h = cur_host();
			if (h->n_mirrors < REGISTRY_MIRRORS_MAX)
				h->mirrors[h->n_mirrors++] = optarg;
			break;
		}
		case 'I': cur_host()->insecure = true; break;
		case 'C': cur_host()->ca_file = optarg; break;
		case 'D': opts.docker_config = optarg; break;
		case 'u': creds.username = optarg; have_creds = true; break;
		case 'p': creds.password = optarg; have_creds = true; break;
		case 'a': creds.auth = optarg; have_creds = true; break;
		case 's': creds.server_address = optarg; have_creds = true; break;
		case 'i': creds.identity_token = optarg; have_creds = true; break;
		case 'r': creds.registry_token = optarg; have_creds = true; break;
		case 'P': parse_platform(optarg); break;
		case 'm': opts.max_manifest_size = strtoull(optarg, NULL, 10); break;
		case 'S': opts.stall_timeout_ms = (unsigned)atoi(optarg); break;
		case 'R': opts.max_retries = (unsigned)atoi(optarg); break;
		case 'x': opts.retry_max_ms = (unsigned)atoi(optarg); break;
		case 'c': opts.connect_timeout_ms = (unsigned)atoi(optarg); break;
		case 'd': deadline_rel_ms = atoll(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'l': layer_threads = atoi(optarg); break;
		case 'k': cancel_after = atol(optarg); break;
		case 'o': out_dir = optarg; break;
		case 'n': repeat = atoi(optarg); break;
		case 'w': repeat_delay_ms = atoi(optarg); break;
		default: exit(2);
		}
	}
}

int main(int argc, char **argv)
{
	registry_options_default(&opts);
	parse_args(argc, argv);
	opts.hosts = hosts;
	opts.n_hosts = n_hosts;
	struct registry_client *c;
	struct registry_error err = { 0 };
	if (registry_client_new(&opts, &c, &err) < 0) {
		printf("{\"client_error\": \"%s\", \"code\": %d}\n", err.msg, err.code);
		return 1;
	}
	int failed = 0, n = argc - optind;
	if (threads < 1 || threads > 64)
		threads = 1;
	for (int round = 0; round < repeat; round++) {
		if (round && repeat_delay_ms > 0)
			usleep((useconds_t)repeat_delay_ms * 1000);
		struct job jobs[64];
		pthread_t t[64];
		for (int i = 0; i < threads; i++) {
			jobs[i] = (struct job){ c, argv + optind, n, i, threads, 0 };
			pthread_create(&t[i], NULL, job_run, &jobs[i]);
		}
		for (int i = 0; i < threads; i++) {
			pthread_join(t[i], NULL);
			failed |= jobs[i].failed;
		}
	}
	registry_client_free(c);
	return failed;
}
