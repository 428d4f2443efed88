"""conmon_env: run the built conmon with the real runc against a busybox
bundle, without sandboxd.

Rootfs: Debian's busybox-static copied into a temporary directory with a
symlink per applet, shared read-only by every bundle of a test session.
Each Container has its own bundle (from `runc spec`), a unique id, runc's
--root and conmon's --dir in its own temporary directory, and its own
cgroup (/crisp-conmon-test-<id>). cleanup() does `runc delete --force`,
kills the conmon it started if it still runs (by pid), removes the
sub-cgroups the test made and the directories.
"""
import errno
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import uuid

from crisp_env import BUILD, pid_alive, wait_for

RUNC = "/usr/sbin/runc"
BUSYBOX = "/bin/busybox"
CGROUP = "/sys/fs/cgroup"
# CRISP_CONMON: another binary or a wrapper, e.g. to strace it (syscalls.c)
DEFAULT_CONMON = os.path.join(BUILD, "conmon")
CONMON = os.environ.get("CRISP_CONMON", DEFAULT_CONMON)

CTL_REOPEN_LOG, CTL_RESIZE, CTL_CLOSE_STDIN = 1, 2, 3
ATTACH_STDOUT, ATTACH_STDERR = 1, 2
EXEC_RESULT = struct.Struct("<iiII")
EXEC_OUTPUT_MAX = 16 * 1024 * 1024


def make_rootfs(path):
    os.makedirs(os.path.join(path, "bin"))
    for d in ("proc", "dev", "sys", "tmp"):
        os.makedirs(os.path.join(path, d))
    shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
    names = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                           check=True).stdout.split()
    for name in names:
        if name != "busybox":
            os.symlink("busybox", os.path.join(path, "bin", name))


def base_spec():
    d = tempfile.mkdtemp(prefix="crisp-spec-")
    try:
        subprocess.run([RUNC, "spec"], cwd=d, check=True)
        with open(os.path.join(d, "config.json")) as f:
            return json.load(f)
    finally:
        shutil.rmtree(d)


def status_of(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def ancestors(pid):
    """The pids above pid, up to 1."""
    out = []
    while pid > 1:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        pid = int(st[st.rindex(")") + 2:].split()[1])
        out.append(pid)
    return out


def read_with_timeout(fd, timeout, line=False):
    """Everything from fd until EOF (fd is closed by the other side), or
    with line=True up to the first newline."""
    data = b""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError("no EOF after %.1fs, have %r" % (timeout, data[:200]))
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 1 if line else 1 << 20)
        if not chunk or (line and chunk == b"\n"):
            return data + chunk
        data += chunk


class Container:
    """One container with its conmon."""

    def __init__(self, rootfs, spec, args, terminal=False, memory_limit=None, long_dir=False):
        self.id = "conmon-test-" + uuid.uuid4().hex[:12]
        self.tmp = tempfile.mkdtemp(prefix="crisp-conmon-")
        self.bundle = os.path.join(self.tmp, "bundle")
        self.root = os.path.join(self.tmp, "runc")
        # long_dir: DIR/NAME longer than a socket path may be (108 bytes)
        self.dir = os.path.join(self.tmp, "c" * 100 if long_dir else "ctr")
        self.logdir = os.path.join(self.tmp, "logs")
        self.log = os.path.join(self.logdir, "0.log")
        self.cgpath = "/crisp-" + self.id
        self.subcgroups = []
        self.conmon_pid = None
        self.conmon_err = os.path.join(self.tmp, "conmon.stderr")
        self.exec_tmp = os.path.join(self.tmp, "tmp")
        for d in (self.bundle, self.root, self.logdir, self.exec_tmp):
            os.makedirs(d)
        os.mkdir(self.dir, 0o700)
        spec = json.loads(json.dumps(spec))
        spec["root"] = {"path": rootfs, "readonly": True}
        spec["process"]["terminal"] = terminal
        spec["process"]["args"] = args
        spec["linux"]["cgroupsPath"] = self.cgpath
        if memory_limit:
            mem = {"limit": memory_limit}
            if os.path.exists(os.path.join(CGROUP, "memory", "memory.memsw.limit_in_bytes")):
                mem["swap"] = memory_limit      # no way around the limit through swap
            spec["linux"].setdefault("resources", {})["memory"] = mem
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(spec, f)

    # ---- conmon -----------------------------------------------------------

    def argv(self, *extra, log_max_line=None, oom=False):
        a = [CONMON, "--runtime", RUNC, "--runtime-root", self.root, "--id", self.id,
             "--bundle", self.bundle, "--dir", self.dir, "--log-path", self.log]
        if log_max_line:
            a += ["--log-max-line", str(log_max_line)]
        if oom:
            a += ["--oom-file", self.cgroup_file("memory", "memory.oom_control")]
        return a + list(extra)

    def create(self, *extra, log_max_line=None, oom=False, timeout=20, launcher=None):
        """Run conmon (which runs runc create); returns the sync line.
        launcher: argv prefix to start conmon through (it gets the sync
        fd too)."""
        r, w = os.pipe()
        argv = self.argv(*extra, "--sync-fd", str(w), log_max_line=log_max_line, oom=oom)
        with open(self.conmon_err, "w") as err:
            p = subprocess.Popen((launcher or []) + argv, pass_fds=[w], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err,
                                 start_new_session=bool(launcher))
        os.close(w)
        try:
            line = read_with_timeout(r, timeout, line=True)
            # then conmon closes it (a launcher or a wrapper holds it too)
            if not launcher and CONMON == DEFAULT_CONMON:
                assert read_with_timeout(r, timeout) == b""
        finally:
            os.close(r)
        self.launcher = p
        if not launcher and CONMON == DEFAULT_CONMON:
            assert p.wait(timeout=10) == 0      # the parent exits at once
        if os.path.exists(os.path.join(self.dir, "conmon.pid")):
            with open(os.path.join(self.dir, "conmon.pid")) as f:
                self.conmon_pid = int(f.read().split()[0])
        return line.decode()

    def start(self):
        subprocess.run([RUNC, "--root", self.root, "start", self.id], check=True, timeout=20)

    def run(self, *extra, **kw):
        line = self.create(*extra, **kw)
        assert line.startswith("ok "), (line, self.stderr())
        self.start()
        return line

    def init_pid(self):
        with open(os.path.join(self.dir, "pid")) as f:
            return int(f.read())

    def wait_exit(self, timeout=20):
        path = os.path.join(self.dir, "exit")
        wait_for(lambda: os.path.exists(path), timeout, what="the exit file")
        with open(path) as f:
            text = f.read()
        out = {}
        for line in text.splitlines():
            k, _, v = line.partition("=")
            out[k] = int(v)
        return out, text

    def wait_conmon_gone(self, timeout=10):
        wait_for(lambda: not pid_alive(self.conmon_pid), timeout, what="conmon to exit")

    def stderr(self):
        try:
            with open(self.conmon_err) as f:
                return f.read()
        except OSError:
            return ""

    def logtext(self, path=None):
        with open(path or self.log) as f:
            return f.read()

    # ---- sockets ----------------------------------------------------------

    def connect(self, name):
        """A socket in DIR, through an fd of DIR when its path is too long."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        path = os.path.join(self.dir, name)
        if len(path) < 108:
            s.connect(path)
            return s
        fd = os.open(self.dir, os.O_PATH | os.O_DIRECTORY)
        try:
            s.connect("/proc/self/fd/%d/%s" % (fd, name))
        finally:
            os.close(fd)
        return s

    def ctl(self, typ, a=0, b=0, sock=None):
        s = sock or self.connect("ctl")
        try:
            s.send(struct.pack("<III", typ, a, b))
            s.settimeout(10)
            resp = s.recv(64)
            assert len(resp) == 4, resp
            return struct.unpack("<i", resp)[0]
        finally:
            if sock is None:
                s.close()

    # ---- cgroups ----------------------------------------------------------

    def cgroup_file(self, controller, name):
        return os.path.join(CGROUP, controller, self.cgpath.lstrip("/"), name)

    def make_subcgroup(self, controller, name):
        path = os.path.join(CGROUP, controller, self.cgpath.lstrip("/"), name)
        os.mkdir(path)
        self.subcgroups.append(path)
        return path

    # ---- the end ----------------------------------------------------------

    def cleanup(self):
        subprocess.run([RUNC, "--root", self.root, "delete", "--force", self.id],
                       capture_output=True, timeout=30)
        if self.conmon_pid and pid_alive(self.conmon_pid):
            os.kill(self.conmon_pid, signal.SIGKILL)
        for path in reversed(self.subcgroups):
            try:
                wait_for(lambda: not open(os.path.join(path, "cgroup.procs")).read(), 5,
                         what="%s empty" % path)
                os.rmdir(path)
            except (OSError, AssertionError, TimeoutError):
                pass
        # runc delete removed the container's own cgroups; leftovers of a
        # container runc never made are removed here
        for ctrl in os.listdir(CGROUP):
            path = os.path.join(CGROUP, ctrl, self.cgpath.lstrip("/"))
            if os.path.isdir(path):
                try:
                    os.rmdir(path)
                except OSError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def exec_sync(c, cmd, timeout_ms=0, cgroup=None, procs=None, wait=30, on_start=None):
    """conmon --exec in c; returns (status, exit_code, stdout, stderr,
    seconds it took). Its TMPDIR is c's own tmp/, for the pid file's
    directory."""
    r, w = os.pipe()
    argv = [CONMON, "--exec", "--runtime", RUNC, "--runtime-root", c.root, "--id", c.id,
            "--timeout-ms", str(timeout_ms), "--result-fd", str(w)]
    if cgroup:
        argv += ["--exec-cgroup", cgroup, "--exec-procs", procs]
    argv += ["--"] + cmd
    t0 = time.monotonic()
    env = dict(os.environ, TMPDIR=c.exec_tmp)
    with open(c.conmon_err, "a") as err:
        p = subprocess.Popen(argv, pass_fds=[w], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, env=env)
    os.close(w)
    try:
        if on_start:
            on_start(p)
        data = read_with_timeout(r, wait)
        took = time.monotonic() - t0
        assert p.wait(timeout=10) == 0, c.stderr()
    finally:
        os.close(r)
        if p.poll() is None:
            p.kill()
            p.wait()
    status, code, olen, elen = EXEC_RESULT.unpack_from(data)
    body = data[EXEC_RESULT.size:]
    assert len(body) == olen + elen
    return status, code, body[:olen], body[olen:], took


ETIMEDOUT = -errno.ETIMEDOUT
EFBIG = -errno.EFBIG
ENOEXEC = -errno.ENOEXEC
