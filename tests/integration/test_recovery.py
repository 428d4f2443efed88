"""Crash safety: each daemon killed -9 mid-lifecycle and restarted by
crisp-up. Running containers keep running, exited ones report their real
exit code and time, half-made pods and containers are cleaned, and nothing
leaks (mounts, namespace pins, cgroups, processes, CNI IP allocations,
image leases). Slow steps are made slow on purpose, so that the kill lands
inside them: a runtime handler that sleeps before `runc create`, a CNI
plugin that sleeps before the bridge plugin."""
import json
import os
import signal
import stat
import subprocess
import time

import grpc
import pytest

from crisp_env import cri_pb2, pid_alive, wait_for
from pods_env import PodEnv, mounts_under

SLOW_RUNC = """#!/bin/sh
for a in "$@"; do [ "$a" = create ] && { touch "%(mark)s"; sleep %(delay)s; }; done
exec /usr/sbin/runc "$@"
"""
SLOW_PLUGIN = """#!/bin/sh
[ "$CNI_COMMAND" = ADD ] && { touch "%(mark)s"; sleep %(delay)s; }
exec /usr/lib/cni/bridge
"""
CONFLIST = """{"cniVersion": "1.0.0", "name": "crisp-slow", "plugins": [
  {"type": "slowbridge", "bridge": "%(bridge)s", "isGateway": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "%(subnet)s"}]],
            "dataDir": "%(ipam)s"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
"""


def script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


class Env(PodEnv):
    def __init__(self):
        import tempfile
        self.aux = tempfile.mkdtemp(prefix="crisp-rec-")
        os.chmod(self.aux, 0o755)
        self.mark = os.path.join(self.aux, "mark")
        bindir = os.path.join(self.aux, "bin")
        os.makedirs(bindir)
        script(os.path.join(self.aux, "slowrunc"),
               SLOW_RUNC % {"mark": self.mark, "delay": 3})
        script(os.path.join(bindir, "slowbridge"),
               SLOW_PLUGIN % {"mark": self.mark, "delay": 3})
        super().__init__(extra_conf="cni_bin_dirs = %s:/usr/lib/cni\n"
                         "[runtime.slow]\npath = %s\n" % (bindir, os.path.join(self.aux,
                                                                                 "slowrunc")))
        self.ipam = os.path.join(self.suite.tmp, "ipam")

    def slow_network(self, on):
        path = os.path.join(self.suite.cni_dir, "10-slow.conflist")
        if on:
            with open(path, "w") as f:
                f.write(CONFLIST % {"bridge": self.bridge + "s", "ipam": self.ipam,
                                    "subnet": self.subnet.replace(".0/24", ".128/25")})
        elif os.path.exists(path):
            os.unlink(path)

    def kill9(self, name):
        pid = self.suite.daemon_pids()[name]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), 10, what="%s to die" % name)
        new = wait_for(lambda: (lambda p: p if p and p != pid else None)(
            self.suite.daemon_pids().get(name)), 20, what="%s restarted" % name)
        self.suite.wait_ready(30)
        return new

    def ipam_files(self):
        out = []
        for root, _, files in os.walk(self.ipam):
            out += [f for f in files if f[0].isdigit()]
        return out

    def leases(self):
        return [l for l in self.ctl("lease", "ls").splitlines() if "sandboxd-" in l]

    def cleanup(self):
        try:
            super().cleanup()
        finally:
            subprocess.run(["ip", "link", "del", self.bridge + "s"], capture_output=True)
            subprocess.run(["rm", "-rf", self.aux])


@pytest.fixture(scope="module")
def env():
    e = Env()
    try:
        yield e
    finally:
        e.cleanup()


def pb():
    return cri_pb2()


def in_thread(fn):
    import threading
    box = {}

    def run():
        try:
            box["ok"] = fn()
        except Exception as x:          # noqa: BLE001 - the test reads it
            box["err"] = x
    t = threading.Thread(target=run)
    t.start()
    return t, box


def wait_mark(env, timeout=20):
    wait_for(lambda: os.path.exists(env.mark), timeout, what="the slow step")
    os.unlink(env.mark)


def ctr_pid(env, cid):
    return json.loads(env.call("ContainerStatus", container_id=cid,
                               verbose=True).info["info"])["pid"]


def test_containers_outlive_every_daemon(env):
    pod, cfg = env.run_pod()
    cid = env.run(pod, cfg, ["sleep", "1000"])
    short = env.run(pod, cfg, ["sh", "-c", "sleep 2; exit 5"])
    pid = ctr_pid(env, cid)
    for name in ("criserver", "imaged", "streamd", "sandboxd"):
        env.kill9(name)
        assert pid_alive(pid), name
        assert env.status(cid).state == pb().CONTAINER_RUNNING, name
    # `short` exited while sandboxd was down: its real code and time
    st = env.wait_exit(short)
    assert st.exit_code == 5 and st.finished_at > st.started_at > 0
    # the container exits with sandboxd down; after the restart it says so
    os.kill(env.suite.daemon_pids()["sandboxd"], signal.SIGSTOP)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    sb = env.suite.daemon_pids()["sandboxd"]
    os.kill(sb, signal.SIGKILL)
    os.kill(sb, signal.SIGCONT)
    wait_for(lambda: env.suite.daemon_pids().get("sandboxd") not in (None, sb), 20,
             what="sandboxd restarted")
    env.suite.wait_ready(30)
    st = env.wait_exit(cid)
    assert st.exit_code == 137 and st.finished_at > 0
    env.call("StopPodSandbox", pod_sandbox_id=pod)
    env.call("RemovePodSandbox", pod_sandbox_id=pod)
    assert env.leftovers() == {}


def test_kill_sandboxd_mid_run_pod_sandbox(env):
    env.slow_network(True)
    try:
        before = set(p.id for p in env.call("ListPodSandbox").items)
        t, box = in_thread(lambda: env.run_pod())
        wait_mark(env)
        env.kill9("sandboxd")
        t.join(60)
        assert "err" in box          # the call failed: kubelet would retry
        # the half-made pod is gone, its IP released, no pin left
        wait_for(lambda: not env.ipam_files(), 20, what="the IP to be released")
        assert set(p.id for p in env.call("ListPodSandbox").items) == before
        assert env.leftovers() == {}
        pod, _ = env.run_pod()       # and pods still run
        env.call("RemovePodSandbox", pod_sandbox_id=pod)
    finally:
        env.slow_network(False)


def test_kill_sandboxd_mid_create_container(env):
    pod, cfg = env.run_pod(handler="slow")
    t, box = in_thread(lambda: env.create(pod, cfg, env.ctr_config(cmd=["sleep", "1000"])))
    wait_mark(env)
    env.kill9("sandboxd")
    t.join(60)
    assert "err" in box
    assert len(env.call("ListContainers").containers) == 0
    time.sleep(4)                    # runc create ran on in the old conmon
    assert not os.listdir(os.path.join(env.suite.runroot, "containers"))
    assert not os.listdir(os.path.join(env.suite.root, "containers"))
    assert not [m for m in mounts_under(env.suite.runroot) if "/containers/" in m]
    assert env.leases() == []
    runc = subprocess.run(["runc", "--root", os.path.join(env.suite.runroot, "runtime", "slow"),
                           "list", "-q"], capture_output=True, text=True).stdout.split()
    assert runc == []
    env.call("RemovePodSandbox", pod_sandbox_id=pod)
    assert env.leftovers() == {}


def test_kill_sandboxd_mid_stop_and_mid_remove(env):
    pod, cfg = env.run_pod()
    cid = env.run(pod, cfg, ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"])
    t, box = in_thread(lambda: env.stop(cid, 30))
    time.sleep(0.5)
    env.kill9("sandboxd")
    t.join(60)
    assert "err" in box
    assert env.status(cid).state == pb().CONTAINER_RUNNING     # the stop never ended
    env.stop(cid, 1)
    assert env.status(cid).exit_code == 137
    # a pod removal cut short is finished by the next sandboxd
    c2 = env.run(pod, cfg, ["sleep", "1000"])
    t, box = in_thread(lambda: env.call("RemovePodSandbox", pod_sandbox_id=pod))
    time.sleep(0.05)
    env.kill9("sandboxd")
    t.join(60)
    wait_for(lambda: not env.call("ListPodSandbox").items, 20, what="the pod to be gone")
    wait_for(lambda: env.leftovers() == {}, 20, what="no leftovers")
    assert env.leases() == []


def test_kill_imaged_and_criserver_mid_lifecycle(env):
    pod, cfg = env.run_pod()
    # imaged down while a container is made: an error, nothing half-made
    imaged = env.suite.daemon_pids()["imaged"]
    os.kill(imaged, signal.SIGSTOP)
    t, box = in_thread(lambda: env.create(pod, cfg, env.ctr_config(cmd=["sleep", "1000"])))
    time.sleep(0.5)
    os.kill(imaged, signal.SIGKILL)
    os.kill(imaged, signal.SIGCONT)
    t.join(90)
    wait_for(lambda: env.suite.daemon_pids().get("imaged") not in (None, imaged), 20,
             what="imaged restarted")
    env.suite.wait_ready(30)
    if "ok" in box:
        env.call("RemoveContainer", container_id=box["ok"])
    assert len(env.call("ListContainers").containers) == 0
    # criserver killed while a start is in flight: the container starts or
    # stays created, and the next call works
    cid = env.create(pod, cfg, env.ctr_config(cmd=["sleep", "1000"]))
    t, box = in_thread(lambda: env.call("StartContainer", container_id=cid))
    env.kill9("criserver")
    t.join(30)
    st = env.status(cid).state
    assert st in (pb().CONTAINER_CREATED, pb().CONTAINER_RUNNING)
    if st == pb().CONTAINER_CREATED:
        env.call("StartContainer", container_id=cid)
    env.call("StopPodSandbox", pod_sandbox_id=pod)
    env.call("RemovePodSandbox", pod_sandbox_id=pod)
    assert env.leftovers() == {} and env.leases() == []
