"""The process model: crisp-up starts every daemon from its own binary, keeps
them in its session, restarts the ones that die, takes them down when it dies,
stops cleanly, and locks its directories."""
import glob
import os
import signal
import subprocess

from crisp_env import BUILD, DAEMONS, Suite, pid_alive, proc_comm, wait_for


def socket_files(s):
    found = set(glob.glob(os.path.join(s.runroot, "**", "*.sock"), recursive=True))
    if os.path.exists(s.sock):
        found.add(s.sock)
    return found


def test_each_daemon_is_its_own_binary(suite):
    pids = suite.wait_daemons()
    sid = os.getsid(suite.proc.pid)
    for name, pid in pids.items():
        assert proc_comm(pid) == name
        exe = os.readlink("/proc/%d/exe" % pid)
        assert exe == os.path.realpath(os.path.join(BUILD, name)), exe
        assert os.getsid(pid) == sid, "%s left crisp-up's session" % name


def test_kill9_each_daemon_comes_back(suite):
    suite.wait_daemons()
    before_socks = socket_files(suite)
    for name in DAEMONS:
        old = suite.daemon_pids()[name]
        os.kill(old, signal.SIGKILL)
        new = wait_for(lambda: (lambda p: p if p and p != old else None)(
            suite.daemon_pids().get(name)), 20, what="%s restarted" % name)
        assert new != old
        suite.wait_ready()
        assert suite.call("Version").runtime_name == "crisp"
        # one of each, no strays
        pids = suite.wait_daemons()
        assert len(pids) == len(DAEMONS)
        assert not pid_alive(old)
    assert socket_files(suite) == before_socks


def test_kill9_crisp_up_takes_daemons_down_and_restart_is_clean():
    s = Suite().start()
    try:
        pids = s.wait_daemons()
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait()
        for name, pid in pids.items():
            wait_for(lambda: not pid_alive(pid), 15, what="%s to exit after crisp-up died" % name)
        s.proc = None
        s.start()
        s.wait_daemons()
        assert s.call("Version").runtime_name == "crisp"
    finally:
        s.cleanup()


def test_sigterm_stops_cleanly():
    s = Suite().start()
    try:
        pids = s.wait_daemons()
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(20) == 0
        for pid in pids.values():
            wait_for(lambda: not pid_alive(pid), 10, what="daemon exit")
        # every daemon stopped by itself: none was killed (a seccomp filter
        # missing a call on the way out shows up as SIGSYS here)
        log = s.logtext()
        assert "killed by signal" not in log, log
        for name in DAEMONS:
            assert "%s (pid %d) exited with status 0" % (name, pids[name]) in log, log
        assert socket_files(s) == set(), socket_files(s)
        s.proc = None
        # and it starts again on the same directories
        s.start()
        assert s.call("Version").runtime_name == "crisp"
        s.proc.send_signal(signal.SIGINT)
        assert s.proc.wait(20) == 0
        s.proc = None
    finally:
        s.cleanup()


def test_two_suites_side_by_side_and_locked_dirs():
    a = Suite().start()
    b = Suite().start()
    try:
        assert a.call("Version").runtime_name == "crisp"
        assert b.call("Version").runtime_name == "crisp"
        # a second crisp-up on a's directories refuses, and a keeps serving
        p = subprocess.run(a.cmd(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=20)
        assert p.returncode != 0
        assert "lock" in (p.stderr + p.stdout).lower()
        assert a.call("Version").runtime_name == "crisp"
        assert len(a.daemon_pids()) == len(DAEMONS)
    finally:
        a.cleanup()
        b.cleanup()


def test_existing_directories_are_taken_as_given():
    s = Suite()
    os.makedirs(s.root, mode=0o755)
    os.makedirs(s.runroot, mode=0o777)
    keep = os.path.join(s.root, "keep-me")
    with open(keep, "w") as f:
        f.write("x")
    try:
        s.start()
        assert open(keep).read() == "x"
        assert os.stat(s.runroot).st_mode & 0o022 == 0, "runroot mode fixed"
        internal = os.path.join(s.runroot, "internal")
        st = os.stat(internal)
        assert st.st_mode & 0o777 == 0o700
        import pwd
        assert st.st_uid == pwd.getpwnam("crisp").pw_uid
    finally:
        s.cleanup()


def test_bad_config_is_refused_with_the_key_named():
    s = Suite(extra_conf="[crisp]\nno_such_key = 1\n")
    try:
        p = subprocess.run(s.cmd(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=20)
        assert p.returncode != 0
        assert "no_such_key" in p.stderr + p.stdout
        assert s.conf in p.stderr + p.stdout
    finally:
        s.cleanup()


def test_config_drop_in_overrides_file():
    s = Suite()
    d = os.path.join(s.tmp, "crisp.conf.d")
    os.makedirs(d)
    with open(os.path.join(d, "50-api.conf"), "w") as f:
        f.write("[api]\nmax_msg_size = 1048576\n")
    s.start()
    try:
        import grpc
        import pytest
        from crisp_env import cri_pb2
        big = cri_pb2().VersionRequest(version="x" * (2 << 20))
        with pytest.raises(grpc.RpcError) as e:
            s.call("Version", big)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        s.cleanup()


def test_status_reports_a_daemon_down(suite):
    """While a daemon is down, RuntimeReady is false and names it; it comes back."""
    pids = suite.wait_daemons()
    os.kill(suite.proc.pid, signal.SIGSTOP)  # hold crisp-up's restart
    try:
        os.kill(pids["imaged"], signal.SIGKILL)

        def not_ready():
            st = suite.call("Status", timeout=5)
            c = {c.type: c for c in st.status.conditions}["RuntimeReady"]
            return None if c.status else c
        c = wait_for(not_ready, 10, what="RuntimeReady false")
        assert "imaged" in c.message
        assert c.reason
        assert suite.call("Version").runtime_name == "crisp"
    finally:
        os.kill(suite.proc.pid, signal.SIGCONT)
    suite.wait_ready()
    assert suite.daemon_pids()["imaged"] != pids["imaged"]
