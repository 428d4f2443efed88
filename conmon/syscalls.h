/*
 * syscalls: conmon's seccomp allowlists (NULL-terminated, for struct
 * privdrop.seccomp), one per mode, for what conmon does AFTER its drop.
 * How they were derived, and how to derive them again, is in syscalls.c.
 */
#pragma once

const char *const *conmon_syscalls_container(void);
const char *const *conmon_syscalls_exec(void);
