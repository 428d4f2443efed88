/*
 * crispctl main: the global flags (--runroot), the verbs and the usage.
 * Each verb parses its own flags (verb files) and makes one or a few calls
 * to imaged; nothing here keeps state beyond one run.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/config.h"
#include "crispctl/crispctl.h"

static const char usage_text[] =
	"Usage: crispctl [--runroot DIR] COMMAND\n"
	"\n"
	"crisp's admin tool (root only), talking to imaged's admin socket\n"
	"RUNROOT/admin/imaged.sock (default runroot: /run/crisp).\n"
	"\n"
	"Commands:\n"
	"  image ls [-q]                       list images as the CRI sees them\n"
	"  image pull REF [--user U:P]         pull an image\n"
	"  image rm REF...                     remove images (id, tag or digest)\n"
	"  image import FILE|DIR|- [--tag T]   import an OCI image layout (a tar archive,\n"
	"                                      a layout directory, or a tar on stdin)\n"
	"  image export [-o FILE] IMAGE...     write images as an OCI layout tar\n"
	"                                      (to stdout without -o)\n"
	"  image push IMAGE [DEST] [--user U:P]  push an image to a registry\n"
	"  lease ls                            list leases on image content\n"
	"\n"
	"Exit status: 0 success, 1 failure (the reason on stderr), 2 usage.\n";

static int usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

int ctl_usage(const char *line)
{
	fprintf(stderr, "usage: crispctl %s\n", line);
	return CTL_EXIT_USAGE;
}

int ctl_split_user(char *s, char **ret_user, char **ret_pass)
{
	char *colon = strchr(s, ':');
	if (!colon || colon == s)
		return -EINVAL;
	*colon = '\0';
	*ret_user = s;
	*ret_pass = colon + 1;
	return 0;
}

void ctl_human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000.0 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1000.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.3g%s", v, units[u]);
}

typedef int (*verb_fn)(struct ctl *c, int argc, char **argv);

struct verb {
	const char *noun, *name, *alias;
	verb_fn fn;
};

static const struct verb verbs[] = {
	{ "image", "ls", "list", ctl_image_ls },
	{ "image", "pull", NULL, ctl_image_pull },
	{ "image", "rm", "remove", ctl_image_rm },
	{ "image", "import", NULL, ctl_image_import },
	{ "image", "export", NULL, ctl_image_export },
	{ "image", "push", NULL, ctl_image_push },
	{ "lease", "ls", "list", ctl_lease_ls },
};

static const struct verb *verb_find(const char *noun, const char *name)
{
	if (!strcmp(noun, "images"))
		noun = "image";
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (!strcmp(verbs[i].noun, noun) && (!strcmp(verbs[i].name, name) ||
						     (verbs[i].alias && !strcmp(verbs[i].alias, name))))
			return &verbs[i];
	return NULL;
}

/* Flags, then the verb (which parses its own flags, then connects). */
static int run(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runroot", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (o == 'r')
			c->runroot = optarg;
		else if (o == 'h')
			return usage(stdout, CTL_EXIT_OK);
		else
			return usage(stderr, CTL_EXIT_USAGE);
	}
	if (argc - optind < 2)
		return usage(stderr, CTL_EXIT_USAGE);
	const struct verb *v = verb_find(argv[optind], argv[optind + 1]);
	if (!v) {
		fprintf(stderr, "crispctl: unknown command \"%s %s\"\n", argv[optind], argv[optind + 1]);
		return usage(stderr, CTL_EXIT_USAGE);
	}
	/* the verb's argv: its name first, as getopt expects */
	int vargc = argc - optind - 1;
	char **vargv = argv + optind + 1;
	optind = 0;
	return v->fn(c, vargc, vargv);
}

int main(int argc, char **argv)
{
	struct crisp_config cfg;
	struct ctl c = { .prog = "crispctl" };
	signal(SIGPIPE, SIG_IGN);
	if (config_init(&cfg) < 0)
		return ctl_fail("out of memory");
	c.runroot = cfg.runroot;        /* the default, /run/crisp */
	int r = run(&c, argc, argv);
	if (c.chan)
		ctl_close(&c);
	config_free(&cfg);
	return r;
}
