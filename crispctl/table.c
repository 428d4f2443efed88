/*
 * table: crictl-like output: aligned columns (each as wide as its widest
 * cell plus 3 spaces, at least 10, as crictl's tabwriter), "5 minutes ago"
 * (docker's HumanDuration, which crictl prints), ids cut to 13 characters,
 * state names. Only formatting: no calls, no state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"

#define COL_PAD 3
#define COL_MIN 10

struct ctl_table {
	size_t ncols, nrows, cap;
	char **cells;           /* nrows * ncols */
};

struct ctl_table *ctl_table_new(size_t ncols)
{
	struct ctl_table *t = calloc(1, sizeof *t);
	if (t)
		t->ncols = ncols;
	return t;
}

int ctl_table_add(struct ctl_table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **n = realloc(t->cells, cap * t->ncols * sizeof *n);
		if (!n)
			return -ENOMEM;
		t->cells = n;
		t->cap = cap;
	}
	char **cells = t->cells + t->nrows * t->ncols;
	for (size_t i = 0; i < t->ncols; i++) {
		cells[i] = strdup(row[i] ? row[i] : "");
		if (!cells[i]) {
			while (i--)
				free(cells[i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

void ctl_table_print(const struct ctl_table *t, FILE *f)
{
	size_t *w = calloc(t->ncols ? t->ncols : 1, sizeof *w);
	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			size_t len = strlen(t->cells[r * t->ncols + i]) + COL_PAD;
			if (len > w[i])
				w[i] = len;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *cell = t->cells[r * t->ncols + i];
			if (i + 1 == t->ncols)
				fprintf(f, "%s\n", cell);
			else
				fprintf(f, "%-*s", (int)(w[i] < COL_MIN ? COL_MIN : w[i]), cell);
		}
	}
	free(w);
}

void ctl_table_free(struct ctl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void ctl_ago(int64_t created_ns, int64_t now_ns, char *buf, size_t len)
{
	int64_t d = now_ns - created_ns;
	int64_t s = d / 1000000000LL, m = s / 60;
	int64_t h = (d + 1800000000000LL) / 3600000000000LL;    /* rounded, as go-units */
	if (created_ns <= 0)
		snprintf(buf, len, "-");
	else if (s < 1)
		snprintf(buf, len, "Less than a second ago");
	else if (s == 1)
		snprintf(buf, len, "1 second ago");
	else if (s < 60)
		snprintf(buf, len, "%lld seconds ago", (long long)s);
	else if (m == 1)
		snprintf(buf, len, "About a minute ago");
	else if (m < 60)
		snprintf(buf, len, "%lld minutes ago", (long long)m);
	else if (h == 1)
		snprintf(buf, len, "About an hour ago");
	else if (h < 48)
		snprintf(buf, len, "%lld hours ago", (long long)h);
	else if (h < 24 * 7 * 2)
		snprintf(buf, len, "%lld days ago", (long long)(h / 24));
	else if (h < 24 * 30 * 2)
		snprintf(buf, len, "%lld weeks ago", (long long)(h / 24 / 7));
	else if (h < 24 * 365 * 2)
		snprintf(buf, len, "%lld months ago", (long long)(h / 24 / 30));
	else
		snprintf(buf, len, "%lld years ago", (long long)(h / 24 / 365));
}

void ctl_trunc_id(const char *id, char buf[CTL_ID_SHORT + 1])
{
	if (!strncmp(id, "sha256:", 7))
		id += 7;
	snprintf(buf, CTL_ID_SHORT + 1, "%s", id);
}

const char *ctl_pod_state_name(int state)
{
	return state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY ? "Ready" :
	       state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY ? "NotReady" : "Unknown";
}

const char *ctl_ctr_state_name(int state)
{
	switch (state) {
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED:
		return "Created";
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING:
		return "Running";
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED:
		return "Exited";
	default:
		return "Unknown";
	}
}
