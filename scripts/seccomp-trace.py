#!/usr/bin/python3
"""seccomp-trace: which system calls each crisp daemon makes after its
privilege drop, from an `strace -f` log, compared with common/syscalls.c.

Re-deriving the allowlists (see common/syscalls.c):
    strace -f -qq -s 0 -o /tmp/crisp.trace build/crisp-up --config ... &
    ... drive it (tests/integration with CRISP_BUILD pointing at a directory
        whose crisp-up runs the real one under strace) ...
    scripts/seccomp-trace.py [-v] /tmp/crisp.trace [more traces...]
(--as unit=imaged counts a binary, e.g. the unit tests, as that daemon.)

A process counts as dropped from its first successful seccomp(SECCOMP_SET_
MODE_FILTER, ...) on, or, for a daemon whose filter is switched off while
measuring, from its landlock_restrict_self (privdrop's step before); its
threads and the children it starts afterwards (they
inherit the filter) count with it, under the name of the binary it runs.
Prints, per daemon, the calls seen after the drop that its list lacks, and
the listed calls that were never seen (candidates to re-check, not to drop
blindly: error paths are rare in a trace).
"""
import os
import re
import subprocess
import sys

LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()")
CLONE_RET = re.compile(r"= (\d+)")
EXECVE = re.compile(r'^\d+\s+execve\("([^"]+)"')
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAEMONS = ("criserver", "streamd", "imaged")


def listed():
    """The names in each syscalls_<daemon>() list, from a tiny C program."""
    src = "/tmp/crisp-seccomp-trace-lists.c"
    exe = "/tmp/crisp-seccomp-trace-lists"
    with open(src, "w") as f:
        f.write('#include <stdio.h>\n#include "common/syscalls.h"\n'
                'static void p(const char *n, const char *const *l)'
                '{ for (; *l; l++) printf("%s %s\\n", n, *l); }\n'
                'int main(void) {\n')
        for d in DAEMONS:
            f.write('p("%s", syscalls_%s());\n' % (d, d))
        f.write("return 0; }\n")
    subprocess.run(["cc", "-std=c11", "-I", REPO, "-o", exe, src,
                    os.path.join(REPO, "common", "syscalls.c")], check=True)
    out = {d: set() for d in DAEMONS}
    for line in subprocess.run([exe], check=True, capture_output=True,
                               text=True).stdout.splitlines():
        d, name = line.split()
        out[d].add(name.split(":")[0])     # "prctl:0=15" counts as prctl
    return out


def parse(path):
    """[(tid, call, line)] of every call start (or resumption) in the log."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if m:
                out.append((int(m.group(1)), m.group(2) or m.group(3), line))
    return out


def relations(calls):
    """Threads, child processes, binaries and filter loads, by line index."""
    thread_of, child_of, exe, pending = {}, {}, {}, {}
    filter_at, landlock_at, loading = {}, {}, {}
    for i, (tid, call, line) in enumerate(calls):
        if call == "execve" and not line.split(None, 1)[1].startswith("<..."):
            e = EXECVE.match(line)
            if e:
                exe[tid] = os.path.basename(e.group(1))
        if call in ("clone", "clone3", "fork", "vfork"):
            if "<unfinished" in line:
                pending[tid] = "CLONE_THREAD" in line
                continue
            thread = pending.pop(tid, "CLONE_THREAD" in line)
            r = CLONE_RET.search(line[line.rindex("= "):]) if "= " in line else None
            if r and int(r.group(1)) > 0:
                child = int(r.group(1))
                if thread:
                    thread_of[child] = tid
                else:
                    child_of[child] = (tid, i)
        if call == "seccomp" and "resumed>" not in line:
            # a real load (libseccomp probes with NULL filters first); its
            # answer may come on a later, resumed line
            loading[tid] = "SECCOMP_SET_MODE_FILTER" in line and "filter=" in line
        if line.rstrip().endswith("= 0"):
            if call == "seccomp" and loading.get(tid):
                filter_at.setdefault(tid, i)
            elif call == "landlock_restrict_self":
                landlock_at.setdefault(tid, i)
    # the filter load if there is one, else Landlock
    drop_at = {**landlock_at, **filter_at}
    return thread_of, child_of, exe, drop_at


def scan(path, used):
    calls = parse(path)
    thread_of, child_of, exe, drop_at = relations(calls)

    def leader(t):
        while t in thread_of:
            t = thread_of[t]
        return t

    members = {}
    for t in set(thread_of) | set(child_of) | set(exe) | set(drop_at):
        members.setdefault(leader(t), []).append(t)
    name, dropped_from = {}, {}

    def resolve(ld):
        if ld in name:
            return
        names = [exe[t] for t in members.get(ld, [ld]) if t in exe]
        drops = [drop_at[t] for t in members.get(ld, [ld]) if t in drop_at]
        parent = child_of.get(ld)
        if parent:
            pl = leader(parent[0])
            resolve(pl)
            inherited = dropped_from.get(pl)
            if inherited is not None and inherited < parent[1]:
                drops.append(-1)        # started under the filter
            names = names or [name.get(pl, "?")]
        name[ld] = names[-1] if names else "?"
        dropped_from[ld] = min(drops) if drops else None

    for i, (tid, call, _) in enumerate(calls):
        ld = leader(tid)
        resolve(ld)
        d = dropped_from[ld]
        if d is not None and i > d:
            used.setdefault(name[ld], set()).add(call)


def main(argv):
    """seccomp-trace.py [-v] [--as BINARY=DAEMON] TRACE..."""
    used, alias, verbose, paths = {}, {}, False, []
    args = iter(argv[1:])
    for a in args:
        if a == "-v":
            verbose = True
        elif a == "--as":
            k, _, v = next(args).partition("=")
            alias[k] = v
        else:
            paths.append(a)
    for p in paths:
        scan(p, used)
    for k, v in alias.items():
        used.setdefault(v, set()).update(used.pop(k, set()))
    lists = listed()
    for d in DAEMONS:
        seen = used.get(d, set())
        print("%s: %d calls after the drop" % (d, len(seen)))
        print("  missing from the list:", " ".join(sorted(seen - lists[d])) or "-")
        print("  listed, not seen:", " ".join(sorted(lists[d] - seen)) or "-")
        if verbose:
            print("  seen:", " ".join(sorted(seen)) or "-")
    other = sorted(set(used) - set(DAEMONS))
    if other:
        print("other filtered processes:", ", ".join(other))


if __name__ == "__main__":
    main(sys.argv)
