"""conmon on its own, with the real runc and a busybox bundle (conmon_env):
the CRI log format, the exit file, the ctl and attach sockets, the pty, OOM
detection, its confinement and its life outside the caller's process tree;
and exec mode: output, exit code, timeout, output cap."""
import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

from crisp_env import pid_alive, wait_for
import conmon_env as ce
from conmon_env import Container, exec_sync

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([PF]) (.*)$")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(ce.RUNC),
                                reason="needs root and runc")
# this machine's layout: cgroup v1 controllers beside a v2 tree
needs_v1 = pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/memory") or
                              not os.path.isdir("/sys/fs/cgroup/freezer"),
                              reason="needs the cgroup v1 memory and freezer controllers")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("rootfs") / "rootfs")
    ce.make_rootfs(path)
    return path


@pytest.fixture(scope="module")
def spec():
    return ce.base_spec()


@pytest.fixture
def make(rootfs, spec):
    made = []

    def _make(args, **kw):
        c = Container(rootfs, spec, args, **kw)
        made.append(c)
        return c
    yield _make
    lingering = []
    for c in made:
        # once it has written the exit file conmon ends (a sanitizer
        # build's LeakSanitizer runs then, under conmon's seccomp filter)
        if c.conmon_pid and os.path.exists(os.path.join(c.dir, "exit")):
            try:
                c.wait_conmon_gone()
            except AssertionError:
                lingering.append(c.conmon_pid)
    errors = []
    for c in made:
        errors.append(c.stderr())
        c.cleanup()
    assert not lingering, "conmon did not exit after the exit file: %s" % lingering
    for e in errors:
        # a sanitizer build reports on conmon's stderr
        assert "Sanitizer" not in e and "runtime error:" not in e, e


def records(text):
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        assert m, "not a CRI log line: %r" % line
        out.append(m.groups()[1:])
    return out


def lines_of(recs, stream):
    """What kubelet makes of the records: P texts joined up to the F."""
    lines, cur = [], ""
    for s, pf, text in recs:
        if s != stream:
            continue
        cur += text
        if pf == "F":
            lines.append(cur)
            cur = ""
    return lines, cur


# ---- container mode -----------------------------------------------------------


def test_prints_and_exits(make):
    c = make(["sh", "-c", "echo hello; echo oops >&2; echo world; exit 3"])
    line = c.run()
    assert line == "ok %d\n" % c.init_pid()
    before = time.time_ns()
    st, text = c.wait_exit()
    assert text == "code=3\nsignal=0\nfinished_ns=%d\noom=0\n" % st["finished_ns"]
    assert abs(st["finished_ns"] - before) < 10 * 10**9
    recs = records(c.logtext())
    assert [r for r in recs if r[0] == "stdout"] == [("stdout", "F", "hello"),
                                                     ("stdout", "F", "world")]
    assert [r for r in recs if r[0] == "stderr"] == [("stderr", "F", "oops")]
    c.wait_conmon_gone()
    # the sockets are gone with conmon; no temp file is left
    assert sorted(os.listdir(c.dir)) == ["conmon.pid", "exit", "pid", "runtime.log"]
    with open(os.path.join(c.dir, "conmon.pid")) as f:
        pid, start = f.read().split()
    assert int(pid) == c.conmon_pid and int(start) > 0


def test_killed_by_signal_is_128_plus_signal(make):
    c = make(["sleep", "30"])
    c.run()
    subprocess.run([ce.RUNC, "--root", c.root, "kill", c.id, "KILL"], check=True)
    st, _ = c.wait_exit()
    assert st["code"] == 137 and st["signal"] == 9 and st["oom"] == 0


def test_partial_and_long_lines(make):
    c = make(["sh", "-c", "printf abc; sleep 0.5; printf 'def\\n'; "
                          "printf '%s\\n' $(head -c 250 /dev/zero | tr '\\0' x); printf tail"])
    c.run(log_max_line=100)
    c.wait_exit()
    recs = records(c.logtext())
    assert ("stdout", "P", "abc") in recs          # a chunk without its newline yet
    assert all(len(t) <= 100 for _, _, t in recs)
    # a line over --log-max-line: pieces of 100, the last one F (the
    # pieces of one read; a read boundary may cut it further)
    xs = [r for r in recs if r[2].startswith("x")]
    assert xs[:2] == [("stdout", "P", "x" * 100), ("stdout", "P", "x" * 100)], xs
    assert xs[-1][1] == "F" and sum(len(t) for _, _, t in xs) == 250
    lines, rest = lines_of(recs, "stdout")
    assert lines == ["abcdef", "x" * 250] and rest == "tail"
    assert recs[-1] == ("stdout", "P", "tail")


def test_create_error_is_runcs_own(make):
    c = make(["true"])
    os.unlink(os.path.join(c.bundle, "config.json"))
    line = c.create()
    assert line.startswith("error ") and line.endswith("\n") and line.count("\n") == 1
    assert "config.json" in line, line
    c.wait_conmon_gone()
    assert not os.path.exists(os.path.join(c.dir, "exit"))


def test_reopen_log_through_ctl_and_sigusr1(make):
    c = make(["sh", "-c", "echo one; read x; echo two; read x; echo three"])
    c.run("--stdin")
    a = c.connect("attach")
    wait_for(lambda: "one" in c.logtext(), what="one")
    os.rename(c.log, c.log + ".1")
    assert c.ctl(ce.CTL_REOPEN_LOG) == 0
    assert os.path.exists(c.log)                   # there when the answer comes
    a.send(b"\n")
    wait_for(lambda: "two" in c.logtext(), what="two")
    os.rename(c.log, c.log + ".2")
    os.kill(c.conmon_pid, signal.SIGUSR1)
    wait_for(lambda: os.path.exists(c.log), what="the log reopened on SIGUSR1")
    a.send(b"\n")
    c.wait_exit()
    assert [t for _, _, t in records(c.logtext(c.log + ".1"))] == ["one"]
    assert [t for _, _, t in records(c.logtext(c.log + ".2"))] == ["two"]
    assert [t for _, _, t in records(c.logtext())] == ["three"]


def test_ctl_rejects_bad_requests(make):
    c = make(["sleep", "5"])
    c.run()
    s = c.connect("ctl")
    assert c.ctl(ce.CTL_RESIZE, 80, 24, sock=s) == -25     # -ENOTTY: no terminal
    assert c.ctl(ce.CTL_RESIZE, 0, 24, sock=s) == -22      # -EINVAL, connection stays
    s.send(struct.pack("<II", ce.CTL_REOPEN_LOG, 0))       # wrong size: dropped
    s.settimeout(10)
    assert s.recv(16) == b""
    s.close()
    s = c.connect("ctl")
    s.send(struct.pack("<III", 99, 0, 0))                   # unknown type: dropped
    s.settimeout(10)
    assert s.recv(16) == b""
    s.close()
    assert c.ctl(ce.CTL_REOPEN_LOG) == 0                    # conmon goes on


def test_terminal_resize_and_eof(make):
    c = make(["sh", "-c", "sleep 0.3; stty size; echo tty-ok; cat; echo got-eof"],
             terminal=True)
    line = c.create("--terminal", "--stdin")
    assert line.startswith("ok "), (line, c.stderr())
    assert not os.path.exists(os.path.join(c.dir, "console"))
    assert c.ctl(ce.CTL_RESIZE, 100, 40) == 0
    a = c.connect("attach")
    c.start()
    wait_for(lambda: "tty-ok" in c.logtext(), what="tty-ok")
    a.send(b"typed\n")
    wait_for(lambda: "typed" in c.logtext().split("tty-ok", 1)[1], what="the echo")
    assert c.ctl(ce.CTL_CLOSE_STDIN) == 0                   # ^D: cat sees its EOF
    st, _ = c.wait_exit()
    assert st["code"] == 0
    recs = records(c.logtext())
    assert {s for s, _, _ in recs} == {"stdout"}           # a tty has one stream
    texts = [t.rstrip("\r") for _, _, t in recs]
    assert "40 100" in texts and "got-eof" in texts


def test_long_dir_sockets_and_console(make):
    """--dir/NAME longer than sun_path: the sockets (and runc's console
    socket) are reached through /proc/.../fd/DIRFD/NAME."""
    c = make(["sh", "-c", "read x; echo got-$x"], terminal=True, long_dir=True)
    assert len(os.path.join(c.dir, "console")) > 108
    line = c.create("--terminal", "--stdin")
    assert line.startswith("ok "), (line, c.stderr())
    assert c.ctl(ce.CTL_RESIZE, 90, 30) == 0
    a = c.connect("attach")
    c.start()
    a.send(b"long\n")
    st, _ = c.wait_exit()
    assert st["code"] == 0 and "got-long" in c.logtext()


def test_attach_two_clients_and_stdin(make):
    c = make(["sh", "-c", "read line; echo \"got $line\"; echo to-err >&2; echo done"])
    c.create("--stdin", "--stdin-once")
    a, b = c.connect("attach"), c.connect("attach")
    c.start()
    a.send(b"hello\n")
    a.shutdown(socket.SHUT_WR)                      # its EOF: stdin closes (stdin-once)
    got = {}
    for s in (a, b):
        s.settimeout(10)
        chunks = []
        while True:
            d = s.recv(ce_chunk() + 1)
            if not d:
                break                               # conmon closes every client at the end
            chunks.append(d)
        got[s] = chunks
    for s in (a, b):
        out = b"".join(d[1:] for d in got[s] if d[0] == ce.ATTACH_STDOUT)
        err = b"".join(d[1:] for d in got[s] if d[0] == ce.ATTACH_STDERR)
        assert out == b"got hello\ndone\n" and err == b"to-err\n"
    st, _ = c.wait_exit()
    assert st["code"] == 0
    assert "got hello" in c.logtext()


def ce_chunk():
    return 8192


def test_slow_attach_client_is_dropped_not_waited_for(make):
    n = 40000
    c = make(["sh", "-c", "i=0; while [ $i -lt %d ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
                          "i=$((i+1)); done" % n])
    c.create()
    slow = c.connect("attach")                      # never reads
    c.start()
    st, _ = c.wait_exit(timeout=60)
    assert st["code"] == 0
    lines, _ = lines_of(records(c.logtext()), "stdout")
    assert len(lines) == n and lines[-1].startswith("line-%d-" % (n - 1))
    # conmon dropped it: what it got ends before the end, then EOF
    slow.settimeout(10)
    got = b""
    while True:
        d = slow.recv(8193)
        if not d:
            break
        got += d[1:]
    assert 0 < len(got) < n * 40


@needs_v1
def test_oom_kill_is_recorded(make):
    c = make(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
             memory_limit=16 * 1024 * 1024)
    c.run(oom=True)
    st, _ = c.wait_exit()
    assert st == {"code": 137, "signal": 9, "finished_ns": st["finished_ns"], "oom": 1}, \
        (st, c.stderr())


@needs_v1
def test_no_oom_when_the_counter_stays(make):
    c = make(["sleep", "30"], memory_limit=64 * 1024 * 1024)
    c.run(oom=True)
    subprocess.run([ce.RUNC, "--root", c.root, "kill", c.id, "KILL"], check=True)
    st, _ = c.wait_exit()
    assert st["code"] == 137 and st["oom"] == 0


def test_confined_and_out_of_the_callers_tree(make):
    c = make(["sleep", "30"])
    c.run()
    st = ce.status_of(c.conmon_pid)
    assert st["Uid"].split() == ["0"] * 4
    for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
        assert int(st[k], 16) == 0, (k, st[k])
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
    assert os.getpid() not in ce.ancestors(c.conmon_pid)
    assert c.init_pid() != c.conmon_pid
    # the container's init is conmon's child (conmon is its subreaper)
    assert ce.ancestors(c.init_pid())[0] == c.conmon_pid
    assert os.getsid(c.conmon_pid) == c.conmon_pid
    rss = int(st["VmRSS"].split()[0])
    print("conmon VmRSS while a container runs: %d kB" % rss)
    subprocess.run([ce.RUNC, "--root", c.root, "kill", c.id, "KILL"], check=True)
    st, _ = c.wait_exit()
    assert st["code"] == 137


def test_rss_while_the_container_writes(make):
    c = make(["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; "
                          "sleep 30"])
    c.run()
    a = c.connect("attach")
    wait_for(lambda: "line 2999" in c.logtext(), what="the output")
    st = ce.status_of(c.conmon_pid)
    rss = int(st["VmRSS"].split()[0])
    print("conmon VmRSS after 3000 lines and an attach client: %d kB" % rss)
    with open("/proc/%d/maps" % c.conmon_pid) as f:
        sanitized = "libasan" in f.read()
    assert sanitized or rss < 1024, rss
    a.close()


def test_container_outlives_the_callers_process_tree(make):
    """conmon is started by a shell in its own session that the test then
    kills with its whole process group: the container and its monitor live
    on, and the exit is recorded."""
    c = make(["sh", "-c", "read x; echo after-$x"])
    line = c.create("--stdin", launcher=["/bin/sh", "-c", '"$@"; exec sleep 60', "sh"])
    assert line.startswith("ok "), (line, c.stderr())
    os.killpg(c.launcher.pid, signal.SIGKILL)
    c.launcher.wait()
    assert pid_alive(c.conmon_pid) and pid_alive(c.init_pid())
    c.start()
    c.connect("attach").send(b"kill\n")
    st, _ = c.wait_exit()
    assert st["code"] == 0 and "after-kill" in c.logtext()


# ---- exec mode -------------------------------------------------------------


@pytest.fixture
def running(make):
    c = make(["sleep", "1000"])
    c.run()
    return c


def test_exec_output_and_exit_code(running):
    status, code, out, err, _ = exec_sync(running, ["sh", "-c", "echo out; echo err >&2; exit 5"])
    assert (status, code, out, err) == (0, 5, b"out\n", b"err\n")


def test_exec_killed_command_is_128_plus_signal(running):
    status, code, _, _, _ = exec_sync(running, ["sh", "-c", "kill -TERM $$"])
    assert (status, code) == (0, 128 + 15)


def test_exec_returns_when_the_command_ends_though_a_child_holds_the_pipes(running):
    status, code, out, _, took = exec_sync(running, ["sh", "-c", "sleep 5 & echo quick"],
                                           timeout_ms=10000)
    assert (status, code, out) == (0, 0, b"quick\n")
    assert took < 3, took


def test_exec_runtime_failure(running):
    status, code, _, err, _ = exec_sync(running, ["/no/such/binary"])
    assert status == ce.ENOEXEC and code != 0 and b"no/such/binary" in err, (status, code, err)


@needs_v1
def test_exec_timeout_kills_every_process_in_its_cgroup(running):
    c = running
    sub = c.make_subcgroup("freezer", "crisp-exec-1")
    procs = os.path.join(sub, "cgroup.procs")
    seen = []

    def cmdline(pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def both():
        pids = [int(x) for x in open(procs).read().split()]
        return pids if [cmdline(p) for p in pids] == [b"sleep\x00100\x00"] * 2 else None

    def watch(p):
        # both sleeps, the background one and the one sh became, are in
        # the sub-cgroup
        seen.extend(wait_for(both, 5, what="both sleeps in the cgroup"))
    status, code, _, _, took = exec_sync(c, ["sh", "-c", "sleep 100 & sleep 100"],
                                         timeout_ms=1500, cgroup="freezer:crisp-exec-1",
                                         procs=procs, on_start=watch)
    assert status == ce.ETIMEDOUT and code == 137, (status, code)
    assert 1.4 < took < 2.0, took
    assert len(seen) == 2
    wait_for(lambda: not any(pid_alive(p) for p in seen), 2, what="the killed to go")
    assert open(procs).read() == ""


def test_exec_timeout_without_cgroup_kills_the_command(running):
    found = []

    def watch(p):
        def cmd_pid():
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        with open("/proc/%s/cmdline" % d, "rb") as f:
                            if f.read() == b"sleep\x00100\x00":
                                return int(d)
                    except OSError:
                        pass
        found.append(wait_for(cmd_pid, 5, what="the exec'd sleep"))
    status, code, _, _, took = exec_sync(running, ["sleep", "100"], timeout_ms=800,
                                         on_start=watch)
    assert status == ce.ETIMEDOUT and code == 137
    assert took < 1.3, took
    assert not pid_alive(found[0])


def test_exec_output_cap(running):
    status, code, out, err, took = exec_sync(running,
                                             ["head", "-c", str(20 * 1024 * 1024), "/dev/zero"],
                                             timeout_ms=30000)
    assert status == ce.EFBIG and code == 137, (status, code)
    assert len(out) + len(err) == ce.EXEC_OUTPUT_MAX
    assert out == b"\0" * len(out)


def test_exec_confinement(running):
    seen = {}

    def watch(p):
        def dropped():
            st = ce.status_of(p.pid)
            return st if st["Seccomp"] == "2" else None
        seen.update(wait_for(dropped, 5, what="the exec conmon's drop"))
    status, code, _, _, _ = exec_sync(running, ["sleep", "1"], timeout_ms=10000, on_start=watch)
    assert (status, code) == (0, 0)
    kill = 1 << 5
    assert int(seen["CapEff"], 16) == kill and int(seen["CapPrm"], 16) == kill
    assert int(seen["CapBnd"], 16) == kill and seen["NoNewPrivs"] == "1"
    assert os.listdir(running.exec_tmp) == []      # the pid file's directory is gone


def test_usage_error():
    p = subprocess.run([ce.CONMON], capture_output=True, timeout=10)
    assert p.returncode == 2 and b"usage" in p.stderr
