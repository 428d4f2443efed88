/*
 * oci/signal: the container's stop signal: config.stop_signal (the CRI
 * Signal enum, whose numbering is the CRI's, not the kernel's), else the
 * image's StopSignal as Docker and containerd parse it (moby's
 * signal.ParseSignal: "15", "SIGTERM", "TERM", "sigterm", "RTMIN+3",
 * "SIGRTMAX-2"; RTMIN is 34 and RTMAX 64, glibc's), else SIGTERM. An
 * image StopSignal that is no signal is INVALID_ARGUMENT at create
 * (containerd would only fail at stop). Never logs.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sandboxd/oci/spec_int.h"

#define SIG_RTMIN 34
#define SIG_RTMAX 64

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "BUS", SIGBUS }, { "CHLD", SIGCHLD },
	{ "CLD", SIGCHLD }, { "CONT", SIGCONT }, { "FPE", SIGFPE }, { "HUP", SIGHUP },
	{ "ILL", SIGILL }, { "INT", SIGINT }, { "IO", SIGIO }, { "IOT", SIGIOT },
	{ "KILL", SIGKILL }, { "PIPE", SIGPIPE }, { "POLL", SIGPOLL }, { "PROF", SIGPROF },
	{ "PWR", SIGPWR }, { "QUIT", SIGQUIT }, { "SEGV", SIGSEGV }, { "STKFLT", SIGSTKFLT },
	{ "STOP", SIGSTOP }, { "SYS", SIGSYS }, { "TERM", SIGTERM }, { "TRAP", SIGTRAP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "VTALRM", SIGVTALRM },
	{ "WINCH", SIGWINCH }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
};

/* The CRI enum: 1..34 in the order of the table above (it is the CRI's
 * order), 35..50 RTMIN..RTMIN+15, 51..64 RTMAX-14..RTMAX-1, 65 RTMAX. */
static int cri_signal(int e)
{
	if (e >= 1 && e <= (int)(sizeof signals / sizeof signals[0]))
		return signals[e - 1].sig;
	if (e >= 35 && e <= 65)
		return e - 1;           /* 35 -> 34 (RTMIN) .. 65 -> 64 (RTMAX) */
	return -EINVAL;
}

/* "+3"/"-2" after RTMIN/RTMAX: 1..15 */
static int rt_offset(const char *p, int sign, int base)
{
	if (!*p)
		return base;
	if (*p != (sign > 0 ? '+' : '-') || !p[1] || strlen(p) > 3)
		return -EINVAL;
	char *end;
	long v = strtol(p + 1, &end, 10);
	if (*end || v < 1 || v > 15 || p[1] < '0' || p[1] > '9')
		return -EINVAL;
	return base + sign * (int)v;
}

static int parse_signal(const char *str)
{
	if (str[0] >= '0' && str[0] <= '9') {
		char *end;
		long v = strtol(str, &end, 10);
		if (*end || v < 1 || v > SIG_RTMAX)
			return -EINVAL;
		return (int)v;
	}
	if (strncasecmp(str, "SIG", 3) == 0)
		str += 3;
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
		if (strcasecmp(str, signals[i].name) == 0)
			return signals[i].sig;
	if (strncasecmp(str, "RTMIN", 5) == 0)
		return rt_offset(str + 5, 1, SIG_RTMIN);
	if (strncasecmp(str, "RTMAX", 5) == 0)
		return rt_offset(str + 5, -1, SIG_RTMAX);
	return -EINVAL;
}

int ocispec_stop_signal(struct ocispec *s)
{
	int e = (int)s->cfg->stop_signal;
	if (e != RUNTIME__V1__SIGNAL__SIGNAL_RUNTIME_DEFAULT) {
		int sig = cri_signal(e);
		if (sig < 0)
			return OCISPEC_INVALID(s, "config.stop_signal: unknown signal %d", e);
		s->stop_signal = sig;
		return 0;
	}
	const char *img = ocispec_str(s->image->stop_signal);
	if (!img[0]) {
		s->stop_signal = SIGTERM;
		return 0;
	}
	int sig = strlen(img) < 32 ? parse_signal(img) : -EINVAL;
	if (sig < 0)
		return OCISPEC_INVALID(s, "image config StopSignal: \"%.32s\" is not a signal", img);
	s->stop_signal = sig;
	return 0;
}
