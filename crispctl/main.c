/*
 * crispctl main: the global flags (--runroot, -r/--runtime-endpoint,
 * --timeout), the verbs and the usage. Each verb parses its own flags (verb
 * files) and makes one or a few calls to imaged's admin socket or to the
 * CRI socket; nothing here keeps state beyond one run.
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
	"Usage: crispctl [GLOBAL FLAGS] COMMAND [ARGS]\n"
	"\n"
	"crisp's admin tool (root only). The image and lease commands talk to\n"
	"imaged's admin socket RUNROOT/admin/imaged.sock; the others speak the CRI\n"
	"over gRPC to the CRI socket, like crictl.\n"
	"\n"
	"Global flags:\n"
	"  --runroot DIR                 crisp's runroot (default /run/crisp)\n"
	"  -r, --runtime-endpoint EP     the CRI socket: unix:///PATH or PATH (else\n"
	"                                $CONTAINER_RUNTIME_ENDPOINT, else\n"
	"                                unix:///run/crisp/crisp.sock)\n"
	"  --timeout DURATION            limit of one CRI call (default 2m; PullImage\n"
	"                                gets at least 30m): 30, 30s, 500ms, 2m, 1h\n"
	"\n"
	"Images (admin socket):\n"
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
	"Pods and containers (CRI socket; ids may be unique prefixes):\n"
	"  run [FLAGS] IMAGE [CMD [ARG...]]    run CMD (else the image's) in a new pod of\n"
	"                                      its own; output on the terminal\n"
	"      --rm                  remove the container and its pod at the end\n"
	"      -d, --detach          start it and print its id\n"
	"      --name NAME           container, pod and host name\n"
	"      -e, --env K=V         environment (K alone: crispctl's own value)\n"
	"      -w, --workdir DIR     working directory\n"
	"      -u, --user U[:G]      user (name or uid) and group (gid)\n"
	"      -l, --label K=V       label on the pod and the container\n"
	"      --net host            the host's network namespace\n"
	"      -i, -t/--tty          not yet (they need the streaming server)\n"
	"  pods [--name RE] [--namespace RE] [--state ready|notready] [--label K=V]\n"
	"       [--id ID] [-q] [-o table|json] [--no-trunc]   list pods\n"
	"  ps [-a] [--pod ID] [--name RE] [--state S] [--label K=V] [--id ID] [-q]\n"
	"     [-o table|json] [--no-trunc]    list containers (running ones without -a)\n"
	"  logs [-f] [--tail N] [--timestamps] CONTAINER   a container's log\n"
	"  exec [--timeout S] CONTAINER CMD [ARG...]      run CMD in it (ExecSync)\n"
	"  stop [--timeout S] CONTAINER...     stop (grace S seconds, default 10)\n"
	"  rm [-f] CONTAINER...                remove (-f: stop it first if running)\n"
	"  inspect ID...                       a container's status as JSON (or a pod's)\n"
	"  stopp POD...   rmp [-f] POD...   inspectp POD...   the same for pods\n"
	"  version                             the runtime's name and version\n"
	"\n"
	"Exit status: 0 success, 1 failure (the reason on stderr: for a CRI call its\n"
	"gRPC status and message), 2 usage. `run` (attached) and `exec` exit with the\n"
	"container's or the command's exit code, and with 125 when crispctl itself\n"
	"fails. 130: interrupted.\n";

static int usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

typedef int (*verb_fn)(struct ctl *c, int argc, char **argv);

struct verb {
	const char *noun;       /* NULL: a one-word verb */
	const char *name, *alias;
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
	{ NULL, "run", NULL, ctl_run },
	{ NULL, "pods", NULL, ctl_pods },
	{ NULL, "ps", NULL, ctl_ps },
	{ NULL, "logs", NULL, ctl_logs },
	{ NULL, "exec", NULL, ctl_exec },
	{ NULL, "stop", NULL, ctl_stop },
	{ NULL, "rm", NULL, ctl_rm },
	{ NULL, "inspect", NULL, ctl_inspect },
	{ NULL, "stopp", NULL, ctl_stopp },
	{ NULL, "rmp", NULL, ctl_rmp },
	{ NULL, "inspectp", NULL, ctl_inspectp },
	{ NULL, "version", NULL, ctl_version },
};

/* The verb at argv[0] (and argv[1] for a noun); *ret_words: 1 or 2. */
static const struct verb *verb_find(int argc, char **argv, int *ret_words)
{
	const char *noun = argv[0];
	if (!strcmp(noun, "images"))
		noun = "image";
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		const struct verb *v = &verbs[i];
		if (!v->noun && !strcmp(v->name, argv[0])) {
			*ret_words = 1;
			return v;
		}
		if (v->noun && argc >= 2 && !strcmp(v->noun, noun) &&
		    (!strcmp(v->name, argv[1]) || (v->alias && !strcmp(v->alias, argv[1])))) {
			*ret_words = 2;
			return v;
		}
	}
	return NULL;
}

/* Flags, then the verb (which parses its own flags, then connects). */
static int run(struct ctl *c, int argc, char **argv)
{
	enum { OPT_RUNROOT = 1000, OPT_TIMEOUT };
	static const struct option opts[] = {
		{ "runroot", required_argument, NULL, OPT_RUNROOT },
		{ "runtime-endpoint", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "+hr:", opts, NULL)) != -1) {
		if (o == OPT_RUNROOT) {
			c->runroot = optarg;
		} else if (o == 'r') {
			c->endpoint = optarg;
		} else if (o == OPT_TIMEOUT) {
			if (ctl_parse_duration(optarg, &c->timeout_ms) < 0 || c->timeout_ms <= 0) {
				fprintf(stderr, "crispctl: --timeout %s: not a duration (30, 30s, 2m)\n",
					optarg);
				return CTL_EXIT_USAGE;
			}
		} else if (o == 'h') {
			return usage(stdout, CTL_EXIT_OK);
		} else {
			return usage(stderr, CTL_EXIT_USAGE);
		}
	}
	if (argc - optind < 1)
		return usage(stderr, CTL_EXIT_USAGE);
	int words = 0;
	const struct verb *v = verb_find(argc - optind, argv + optind, &words);
	if (!v) {
		fprintf(stderr, "crispctl: unknown command \"%s%s%s\"\n", argv[optind],
			argc - optind >= 2 ? " " : "", argc - optind >= 2 ? argv[optind + 1] : "");
		return usage(stderr, CTL_EXIT_USAGE);
	}
	/* the verb's argv: its name first, as getopt expects */
	int vargc = argc - optind - (words - 1);
	char **vargv = argv + optind + (words - 1);
	optind = 0;
	return v->fn(c, vargc, vargv);
}

int main(int argc, char **argv)
{
	struct crisp_config cfg;
	struct ctl c = { .prog = "crispctl", .timeout_ms = CTL_TIMEOUT_MS_DEFAULT };
	signal(SIGPIPE, SIG_IGN);
	if (config_init(&cfg) < 0)
		return ctl_fail("out of memory");
	c.runroot = cfg.runroot;        /* the default, /run/crisp */
	c.default_listen = cfg.listen;  /* the default CRI socket */
	int r = run(&c, argc, argv);
	if (c.chan)
		ctl_close(&c);
	ctl_cri_close(&c);
	config_free(&cfg);
	return r;
}
