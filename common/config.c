/*
 * config: defaults, the shared command line flags, and the order in which
 * the files and flags are applied (common/config.h); the files themselves
 * are read by config_file.c. Owns every string in struct crisp_config.
 * Never logs (errors go to ret_err) and never touches the files it names
 * beyond reading them.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/config.h"
#include "common/fsutil.h"
#include "common/log.h"

#define CONFIG_MAX_DROPINS 128

/* The flags as given (pointers into argv), applied after the files. */
struct flags {
	const char *config_file, *config_dir, *root, *runroot, *listen, *log_level;
	bool supervised, help;
};

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static int dup_into(char **field, const char *v)
{
	char *s = strdup(v);
	if (!s)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

int config_init(struct crisp_config *c)
{
	*c = (struct crisp_config){
		.log_level = LOG_INFO,
		.max_msg_size = 16u * 1024u * 1024u,
		.max_connections = 128,
		.idle_timeout = 300,
		.handshake_timeout = 10,
		.max_call_timeout = 600,
		.max_pods = 1024,
		.max_containers = 16384,
		.shm_size = UINT64_C(64) << 20,
		.log_max_line = 16u * 1024u,
		.plugin_timeout = 60,
		.stream_port = 0,
		.n_handlers = 1,
		.max_concurrent_pulls = 4,
		.max_concurrent_downloads = 3,
		.max_manifest_size = 4u * 1024u * 1024u,
		.max_layer_size = UINT64_C(8) << 30,
		.max_layer_ratio = 100,
		.connect_timeout = 30,
		.stall_timeout = 60,
		.max_retries = 4,
	};
	int r = 0;
	r |= dup_into(&c->root, "/var/lib/crisp");
	r |= dup_into(&c->runroot, "/run/crisp");
	r |= dup_into(&c->listen, "/run/crisp/crisp.sock");
	r |= dup_into(&c->user, "crisp");
	r |= dup_into(&c->cgroup_manager, "cgroupfs");
	r |= dup_into(&c->default_runtime, "runc");
	r |= dup_into(&c->handlers[0].name, "runc");
	r |= dup_into(&c->handlers[0].path, "/usr/sbin/runc");
	r |= dup_into(&c->cni_conf_dir, "/etc/cni/net.d");
	r |= dup_into(&c->cni_bin_dirs, "/opt/cni/bin:/usr/lib/cni");
	r |= dup_into(&c->default_bridge, "crisp0");
	r |= dup_into(&c->default_subnet, "10.67.0.0/16");
	r |= dup_into(&c->stream_address, "127.0.0.1");
	if (r != 0) {
		config_free(c);
		return -ENOMEM;
	}
	return 0;
}

void config_free(struct crisp_config *c)
{
	char **strs[] = { &c->config_file, &c->config_dir, &c->root, &c->runroot, &c->listen,
			  &c->user, &c->cgroup_manager, &c->default_runtime, &c->cni_conf_dir,
			  &c->cni_bin_dirs, &c->stream_address, &c->docker_config,
			  &c->default_bridge, &c->default_subnet, &c->ipam_dir };
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; i < c->n_handlers; i++) {
		free(c->handlers[i].name);
		free(c->handlers[i].path);
		free(c->handlers[i].root);
	}
	c->n_handlers = 0;
	for (size_t i = 0; i < c->n_pinned; i++)
		free(c->pinned_images[i]);
	c->n_pinned = 0;
	for (size_t i = 0; i < c->n_registries; i++) {
		struct registry_host_config *h = &c->registries[i];
		free(h->host);
		free(h->ca_file);
		for (size_t j = 0; j < h->n_mirrors; j++)
			free(h->mirrors[j]);
	}
	c->n_registries = 0;
}

const char *config_usage(void)
{
	return "Options:\n"
	       "  --config FILE      the main configuration file (default " CONFIG_DEFAULT_FILE ")\n"
	       "  --config-dir DIR   drop-in directory, *.conf read in name order\n"
	       "                     (default " CONFIG_DROPIN_DIR " next to the main file)\n"
	       "  --root DIR         persistent state ([crisp] root)\n"
	       "  --runroot DIR      runtime state and sockets ([crisp] runroot)\n"
	       "  --listen PATH      the CRI socket ([crisp] listen)\n"
	       "  --log-level LEVEL  error, warn, info or debug ([crisp] log_level)\n"
	       "  --supervised       started by crisp-up (exit when it dies)\n"
	       "  --help             show this text\n"
	       "Flags override the files; see docs/CONFIG.md.\n";
}

static int fail(char **ret_err, int r, const char *fmt, const char *a, const char *b)
{
	if (asprintf(ret_err, fmt, a, b) < 0)
		return -ENOMEM;
	return r;
}

static int parse_flags(int argc, char **argv, struct flags *f, char **ret_err)
{
	static const struct { const char *name; size_t off; } valued[] = {
		{ "--config", offsetof(struct flags, config_file) },
		{ "--config-dir", offsetof(struct flags, config_dir) },
		{ "--root", offsetof(struct flags, root) },
		{ "--runroot", offsetof(struct flags, runroot) },
		{ "--listen", offsetof(struct flags, listen) },
		{ "--log-level", offsetof(struct flags, log_level) },
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--supervised") == 0) {
			f->supervised = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			f->help = true;
			continue;
		}
		size_t k = 0, n = 0;
		for (; k < sizeof valued / sizeof valued[0]; k++) {
			n = strlen(valued[k].name);
			if (strncmp(a, valued[k].name, n) == 0 && (a[n] == '\0' || a[n] == '='))
				break;
		}
		if (k == sizeof valued / sizeof valued[0])
			return fail(ret_err, -EINVAL, "unknown argument \"%s\" (see --help)%s", a, "");
		const char *v = a[n] == '=' ? a + n + 1 : NULL;
		if (!v && i + 1 < argc)
			v = argv[++i];
		if (!v || *v == '\0')
			return fail(ret_err, -EINVAL, "%s needs a value%s", valued[k].name, "");
		*(const char **)(void *)((char *)f + valued[k].off) = v;
	}
	return 0;
}

/* A path from the command line: relative ones are taken from the cwd. */
static int absolute(const char *flag, const char *v, char **ret, char **ret_err)
{
	if (v[0] == '/')
		return dup_into(ret, v);
	char cwd[PATH_MAX], buf[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return fail(ret_err, -errno, "%s %s: cannot get the current directory", flag, v);
	if (fs_path_join(buf, sizeof buf, cwd, v) < 0)
		return fail(ret_err, -ENAMETOOLONG, "%s %s: path too long", flag, v);
	return dup_into(ret, buf);
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_dropin(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* Every *.conf in dir, in name order (byte order, not the locale's). */
static int read_dropins(struct crisp_config *c, const char *dir, bool must_exist,
			char **ret_err)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, is_dropin, cmp_names);
	if (n < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return fail(ret_err, -errno, "cannot read config dir %s: %s", dir, strerror(errno));
	}
	int r = 0;
	if (n > CONFIG_MAX_DROPINS)
		r = fail(ret_err, -E2BIG, "%s: more than %s drop-in files", dir, "128");
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;
		if (r == 0 && fs_path_join(path, sizeof path, dir, list[i]->d_name) < 0)
			r = fail(ret_err, -ENAMETOOLONG, "%s/%s: path too long", dir, list[i]->d_name);
		if (r == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			; /* a directory called x.conf: not a drop-in */
		else if (r == 0)
			r = config_read_file(c, path, ret_err);
		free(list[i]);
	}
	free(list);
	return r;
}

static int read_files(struct crisp_config *c, char **ret_err)
{
	const char *main_file = c->config_file ? c->config_file : CONFIG_DEFAULT_FILE;
	char *err = NULL;
	int r = config_read_file(c, main_file, &err);
	if (r == -ENOENT && !c->config_file) {
		free(err);      /* no default file: the defaults stand */
		r = 0;
	} else if (r < 0) {
		*ret_err = err;
		return r;
	}
	char dir[PATH_MAX], dropins[PATH_MAX];
	if (c->config_dir)
		return read_dropins(c, c->config_dir, true, ret_err);
	r = fs_dirname(main_file, dir, sizeof dir);
	if (r == 0)
		r = fs_path_join(dropins, sizeof dropins, dir, CONFIG_DROPIN_DIR);
	if (r < 0)
		return fail(ret_err, r, "%s: path too long%s", main_file, "");
	return read_dropins(c, dropins, false, ret_err);
}

static int apply_flags(struct crisp_config *c, const struct flags *f, char **ret_err)
{
	int r = 0;
	if (f->root)
		r = absolute("--root", f->root, &c->root, ret_err);
	if (r == 0 && f->runroot)
		r = absolute("--runroot", f->runroot, &c->runroot, ret_err);
	if (r == 0 && f->listen)
		r = absolute("--listen", f->listen, &c->listen, ret_err);
	if (r == 0 && f->log_level) {
		int level = log_level_parse(f->log_level);
		if (level < 0)
			return fail(ret_err, -EINVAL,
				    "--log-level %s: not one of error, warn, info, debug%s",
				    f->log_level, "");
		c->log_level = level;
	}
	if (f->supervised)
		c->supervised = true;
	return r;
}

/* Checks that need every file and flag: the default handler exists, every
 * handler has a path, and a root (default RUNROOT/runtime/NAME). */
static int finish(struct crisp_config *c, char **ret_err)
{
	if (!config_handler(c, c->default_runtime))
		return fail(ret_err, -EINVAL,
			    "[runtime] default_runtime = %s, but there is no [runtime.%s]",
			    c->default_runtime, c->default_runtime);
	for (size_t i = 0; i < c->n_handlers; i++) {
		struct runtime_handler *h = &c->handlers[i];
		if (!h->path)
			return fail(ret_err, -EINVAL, "[runtime.%s] has no path%s", h->name, "");
		if (h->root)
			continue;
		char buf[PATH_MAX];
		if (snprintf(buf, sizeof buf, "%s/runtime/%s", c->runroot, h->name) >=
		    (int)sizeof buf)
			return fail(ret_err, -ENAMETOOLONG, "runroot %s: path too long%s",
				    c->runroot, "");
		if (dup_into(&h->root, buf) < 0)
			return -ENOMEM;
	}
	return 0;
}

int config_load(struct crisp_config *c, int argc, char **argv, char **ret_err)
{
	struct flags f = { 0 };
	int r = parse_flags(argc, argv, &f, ret_err);
	if (r < 0)
		return r;
	if (f.help) {
		c->help = true;
		return 0;
	}
	if (f.config_file)
		r = absolute("--config", f.config_file, &c->config_file, ret_err);
	if (r == 0 && f.config_dir)
		r = absolute("--config-dir", f.config_dir, &c->config_dir, ret_err);
	if (r == 0)
		r = read_files(c, ret_err);
	if (r == 0)
		r = apply_flags(c, &f, ret_err);
	if (r == 0)
		r = finish(c, ret_err);
	return r;
}

const struct runtime_handler *config_handler(const struct crisp_config *c, const char *name)
{
	for (size_t i = 0; name && i < c->n_handlers; i++)
		if (strcmp(c->handlers[i].name, name) == 0)
			return &c->handlers[i];
	return NULL;
}

const struct registry_host_config *config_registry(const struct crisp_config *c,
						   const char *host)
{
	for (size_t i = 0; host && i < c->n_registries; i++)
		if (strcmp(c->registries[i].host, host) == 0)
			return &c->registries[i];
	return NULL;
}

/* The effective values of every flag, so that a child (and a restarted
 * child) runs with what its parent resolved, even if the files change. */
int config_to_argv(const struct crisp_config *c, char ***ret_argv)
{
	const char **v = calloc(16, sizeof *v);
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	if (c->config_file) {
		v[n++] = "--config";
		v[n++] = c->config_file;
	}
	if (c->config_dir) {
		v[n++] = "--config-dir";
		v[n++] = c->config_dir;
	}
	v[n++] = "--root";
	v[n++] = c->root;
	v[n++] = "--runroot";
	v[n++] = c->runroot;
	v[n++] = "--listen";
	v[n++] = c->listen;
	v[n++] = "--log-level";
	v[n++] = level_names[c->log_level >= LOG_ERR && c->log_level <= LOG_DEBUG ?
			     c->log_level : LOG_INFO];
	v[n++] = "--supervised";
	v[n] = NULL;
	*ret_argv = (char **)v;
	return 0;
}
