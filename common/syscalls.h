/*
 * syscalls: the seccomp allowlists of the daemons that run filtered, as
 * NULL-terminated name lists for struct privdrop.seccomp. Each list is what
 * the daemon needs AFTER its privilege drop (what it does while privileged,
 * before privdrop_apply, needs no entry). sandboxd has none: it starts runc
 * and conmon, which would inherit the filter.
 * How the lists were derived, and how to re-derive them, is in syscalls.c.
 */
#pragma once

const char *const *syscalls_criserver(void);
const char *const *syscalls_streamd(void);
const char *const *syscalls_imaged(void);
