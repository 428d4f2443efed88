"""crispctl's CRI verbs against a real crisp suite: `run` (attached, --rm,
-d), `pods`, `ps`, `inspect`, `inspectp`, `logs`, `exec`, `stop`, `rm`,
`stopp`, `rmp`, `version`, and how crispctl finds the CRI socket (-r,
CONTAINER_RUNTIME_ENDPOINT).

The image is the README's demo: scripts/demo-image.sh builds a busybox OCI
layout tar from Debian's busybox-static, `crispctl image import` stores it;
no registry. What crispctl prints is checked against what an independent
CRI client (Debian's python3-grpcio, through pods_env) sees, and every pod
it makes is gone at the end, with its log directory.
"""
import json
import os
import signal
import subprocess
import time

import pytest

import crisp_env
from crisp_env import cri_pb2, wait_for
from pods_env import PodEnv

CRISPCTL = os.path.join(crisp_env.BUILD, "crispctl")
DEMO = os.path.join(crisp_env.REPO, "scripts", "demo-image.sh")
IMAGE = "crisp.local/busybox:latest"
LOGDIR_ANNOTATION = "crispctl.crisp/log-directory"
LOG_BASE = "/var/log/crisp/pods"


class Env:
    def __init__(self):
        # what of /var/log/crisp/pods exists already (crispctl makes it)
        self.made_dirs = [d for d in ("/var/log/crisp", LOG_BASE) if not os.path.isdir(d)]
        self.pods = PodEnv(image=False)
        self.suite = self.pods.suite
        self.sock = self.suite.sock
        out = subprocess.run(["sh", DEMO, os.path.join(self.suite.tmp, "busybox.tar")],
                             capture_output=True, text=True, check=True, timeout=120)
        self.tar = out.stdout.strip()
        assert os.path.isfile(self.tar), out

    def ctl(self, *args, expect=0, env=None, endpoint=True, timeout=60, input=None):
        cmd = [CRISPCTL, "--runroot", self.suite.runroot]
        if endpoint:
            cmd += ["-r", "unix://" + self.sock]
        full_env = dict(os.environ)
        full_env.pop("CONTAINER_RUNTIME_ENDPOINT", None)
        full_env.update(env or {})
        p = subprocess.run(cmd + list(args), capture_output=True, text=True, env=full_env,
                           timeout=timeout, input=input)
        if expect is not None:
            assert p.returncode == expect, "crispctl %s -> %d\nstdout: %s\nstderr: %s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr)
        return p

    def pod_ids(self):
        return {p.id for p in self.suite.call("ListPodSandbox").items}

    def close(self):
        try:
            self.pods.cleanup()
        finally:
            for d in reversed(self.made_dirs):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


@pytest.fixture(scope="module")
def env():
    e = Env()
    try:
        p = e.ctl("image", "import", e.tar, "--tag", IMAGE, endpoint=False)
        assert "Tagged " + IMAGE in p.stdout, p.stdout
        yield e
    finally:
        e.close()


def pb():
    return cri_pb2()


def test_demo_image_is_the_same_bytes_each_time(env, tmp_path):
    again = subprocess.run(["sh", DEMO, str(tmp_path / "again.tar")], capture_output=True,
                           text=True, check=True, timeout=120).stdout.strip()
    with open(env.tar, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read()
    st = env.suite.call("ImageStatus", image=pb().ImageSpec(image=IMAGE))
    assert IMAGE in st.image.repo_tags


def test_run_rm_prints_the_output_and_leaves_nothing(env):
    before = env.pod_ids()
    p = env.ctl("run", "--rm", IMAGE, "echo", "hello")
    assert p.stdout == "hello\n" and p.stderr == ""
    assert env.pod_ids() == before
    assert not [c for c in env.suite.call("ListContainers").containers]
    assert not env.pods.leftovers()


def test_run_exit_code_is_crispctls(env):
    p = env.ctl("run", "--rm", IMAGE, "sh", "-c", "exit 3", expect=3)
    assert p.stdout == ""
    env.ctl("run", "--rm", IMAGE, "false", expect=1)


def test_run_streams_go_where_they_came_from(env):
    p = env.ctl("run", "--rm", IMAGE, "sh", "-c",
                "echo out1; echo err1 >&2; echo out2; printf 'no newline' >&2")
    assert p.stdout == "out1\nout2\n"
    assert p.stderr == "err1\nno newline"


def test_run_joins_a_long_line(env):
    # longer than conmon's record size: P records in the file, one line out
    p = env.ctl("run", "--rm", IMAGE, "sh", "-c",
                "i=0; while [ $i -lt 3000 ]; do printf 0123456789; i=$((i+1)); done; echo; echo next")
    assert p.stdout == "0123456789" * 3000 + "\nnext\n"


def test_run_env_workdir_user_name(env):
    p = env.ctl("run", "--rm", "--name", "envcheck", "-e", "FOO=bar baz", "-w", "/tmp",
                "-u", "65534", IMAGE, "sh", "-c", 'echo "$FOO|$(pwd)|$(id -u)|$(hostname)"')
    assert p.stdout == "bar baz|/tmp|65534|envcheck\n"


def test_run_default_command_is_the_images(env):
    # the image's Cmd is sh: with no CMD it reads stdin, which is empty
    p = env.ctl("run", "--rm", IMAGE)
    assert p.returncode == 0 and p.stdout == ""


def test_interactive_is_refused_clearly(env):
    before = env.pod_ids()
    for args in (["run", "-it", IMAGE, "sh"], ["run", "--tty", IMAGE], ["exec", "-i", "x", "sh"]):
        p = env.ctl(*args, expect=2)
        assert "streaming server (not built yet)" in p.stderr
    assert env.pod_ids() == before


def test_detached_container_through_every_verb(env):
    p = env.ctl("run", "-d", "--name", "ticker", "-l", "suite=crispctl-run", IMAGE, "sh", "-c",
                "echo begin; echo oops >&2; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    cid = p.stdout.strip()
    assert len(cid) == 64 and p.stderr == ""
    st = env.pods.status(cid)
    assert st.state == pb().CONTAINER_RUNNING
    ctr = env.suite.call("ListContainers", filter=pb().ContainerFilter(id=cid)).containers[0]
    pod_id = ctr.pod_sandbox_id
    pst = env.suite.call("PodSandboxStatus", pod_sandbox_id=pod_id).status
    assert pst.metadata.name == "ticker" and pst.metadata.namespace == "crispctl"
    assert pst.labels["suite"] == "crispctl-run"
    logdir = pst.annotations[LOGDIR_ANNOTATION]
    assert os.path.isdir(logdir) and st.log_path == os.path.join(logdir, "ticker.log")

    # pods / ps: tables, -q, filters, JSON
    rows = [l.split() for l in env.ctl("pods").stdout.splitlines()]
    assert rows[0][:2] == ["POD", "ID"]
    row = next(r for r in rows if r[0] == pod_id[:13])
    assert "Ready" in row and "ticker" in row and "crispctl" in row
    assert env.ctl("pods", "-q", "--label", "suite=crispctl-run").stdout.split() == [pod_id]
    assert env.ctl("pods", "-q", "--label", "suite=other").stdout == ""
    assert env.ctl("pods", "-q", "--name", "^tick", "--state", "ready").stdout.split() == [pod_id]
    items = json.loads(env.ctl("pods", "-o", "json", "--id", pod_id[:8]).stdout)["items"]
    assert [i["id"] for i in items] == [pod_id] and items[0]["state"] == "SANDBOX_READY"
    rows = [l.split() for l in env.ctl("ps").stdout.splitlines()]
    assert rows[0][0] == "CONTAINER"
    row = next(r for r in rows if r[0] == cid[:13])
    assert "Running" in row and "ticker" in row and pod_id[:13] in row and IMAGE in row
    assert env.ctl("ps", "-q", "--pod", pod_id[:10]).stdout.split() == [cid]
    assert env.ctl("ps", "-q", "--label", "suite=crispctl-run").stdout.split() == [cid]
    conts = json.loads(env.ctl("ps", "-o", "json").stdout)["containers"]
    assert cid in [c["id"] for c in conts]

    # inspect: the container's status (prefix), and a pod's
    j = json.loads(env.ctl("inspect", cid[:12]).stdout)
    assert j["status"]["id"] == cid and j["status"]["state"] == "CONTAINER_RUNNING"
    assert j["status"]["metadata"]["name"] == "ticker"
    assert j["status"]["labels"]["suite"] == "crispctl-run"
    info = env.suite.call("ContainerStatus", container_id=cid, verbose=True).info
    for k, v in info.items():     # info values that are JSON are embedded as JSON
        assert j[k] == (json.loads(v) if v.startswith("{") else v.strip('"'))
    jp = json.loads(env.ctl("inspect", pod_id).stdout)
    assert jp["status"]["id"] == pod_id and jp["status"]["metadata"]["name"] == "ticker"
    assert json.loads(env.ctl("inspectp", pod_id[:9]).stdout)["status"]["id"] == pod_id
    both = json.loads(env.ctl("inspect", cid, pod_id).stdout)
    assert [b["status"]["id"] for b in both] == [cid, pod_id]
    p = env.ctl("inspect", "ffffffffffffff", expect=1)
    assert "no such container or pod" in p.stderr

    # logs, --tail, --timestamps; stdout and stderr apart
    wait_for(lambda: "tick 3" in env.ctl("logs", cid).stdout, 20, what="tick 3")
    p = env.ctl("logs", cid[:6])
    assert p.stdout.startswith("begin\ntick 0\ntick 1\n") and p.stderr == "oops\n"
    p = env.ctl("logs", "--tail", "1", cid)
    assert len(p.stdout.splitlines()) <= 1 and p.stdout.startswith("tick ")
    p = env.ctl("logs", "--timestamps", cid)
    first = p.stdout.splitlines()[0].split(" ", 1)
    assert first[1] == "begin" and first[0].endswith("Z") and "T" in first[0]

    # exec: output and exit code
    p = env.ctl("exec", cid[:8], "sh", "-c", "echo in $(hostname); echo e >&2; exit 5", expect=5)
    assert p.stdout == "in ticker\n" and p.stderr == "e\n"
    assert env.ctl("exec", "--timeout", "10", cid, "cat", "/proc/1/comm").returncode == 0

    # logs -f ends when the container does; rm refuses a running one
    follow = subprocess.Popen([CRISPCTL, "-r", env.sock, "logs", "-f", cid],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        p = env.ctl("rm", cid, expect=1)
        assert "please stop it first" in p.stderr
        assert env.ctl("stop", "--timeout", "5", cid[:7]).stdout.strip() == cid
        out, err = follow.communicate(timeout=30)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert follow.returncode == 0, err
    assert out.startswith("begin\ntick 0\n") and "tick 4" in out
    assert env.pods.status(cid).state == pb().CONTAINER_EXITED
    assert env.ctl("ps", "-q").stdout.split().count(cid) == 0
    assert cid in env.ctl("ps", "-a", "-q").stdout.split()
    row = next(l for l in env.ctl("ps", "-a").stdout.splitlines() if l.startswith(cid[:13]))
    assert "Exited" in row

    # rm, then the pod: rmp refuses a ready pod, stopp, rmp
    assert env.ctl("rm", cid).stdout.strip() == cid
    assert not env.suite.call("ListContainers", filter=pb().ContainerFilter(id=cid)).containers
    p = env.ctl("rmp", pod_id, expect=1)
    assert "please stop it first" in p.stderr
    assert env.ctl("stopp", pod_id[:11]).stdout.strip() == "Stopped sandbox " + pod_id
    assert env.ctl("rmp", pod_id).stdout.strip() == "Removed sandbox " + pod_id
    assert pod_id not in env.pod_ids()
    assert not os.path.exists(logdir)
    assert not env.pods.leftovers()


def test_rm_f_and_rmp_f(env):
    cid = env.ctl("run", "-d", IMAGE, "sleep", "600").stdout.strip()
    pod_id = env.suite.call("ListContainers", filter=pb().ContainerFilter(id=cid)) \
        .containers[0].pod_sandbox_id
    t = time.monotonic()
    assert env.ctl("rm", "-f", cid).stdout.strip() == cid
    assert time.monotonic() - t < 10      # killed, not a 10 s grace
    assert env.ctl("rmp", "-f", pod_id).stdout.strip() == "Removed sandbox " + pod_id
    assert pod_id not in env.pod_ids()
    p = env.ctl("stop", cid, expect=1)
    assert "no such container" in p.stderr


def test_ctrl_c_stops_then_cleans_up(env):
    before = env.pod_ids()
    proc = subprocess.Popen(
        [CRISPCTL, "-r", env.sock, "run", "--rm", IMAGE, "sh", "-c",
         'trap "echo got TERM; exit 7" TERM; echo started; while true; do sleep 0.1; done'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "started\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 7, err
    assert out == "got TERM\n" and "stopping the container" in err
    assert env.pod_ids() == before
    assert not env.pods.leftovers()


def test_endpoint_selection(env):
    uri = "unix://" + env.sock
    missing = os.path.join(env.suite.tmp, "nothing-here.sock")
    # -r as a URI and as a plain path
    assert "RuntimeName:  crisp" in env.ctl("version").stdout
    assert "RuntimeName:  crisp" in env.ctl("-r", env.sock, "version", endpoint=False).stdout
    # the environment when there is no -r
    p = env.ctl("version", endpoint=False, env={"CONTAINER_RUNTIME_ENDPOINT": uri})
    assert "RuntimeName:  crisp" in p.stdout
    p = env.ctl("run", "--rm", IMAGE, "echo", "via env", endpoint=False,
                env={"CONTAINER_RUNTIME_ENDPOINT": uri})
    assert p.stdout == "via env\n"
    # the environment names a socket that is not there: said so, with its path
    p = env.ctl("pods", endpoint=False, expect=1,
                env={"CONTAINER_RUNTIME_ENDPOINT": "unix://" + missing})
    assert missing in p.stderr and "CONTAINER_RUNTIME_ENDPOINT" in p.stderr
    # -r wins over the environment
    p = env.ctl("-r", uri, "version", endpoint=False,
                env={"CONTAINER_RUNTIME_ENDPOINT": "unix://" + missing})
    assert "RuntimeName:  crisp" in p.stdout
    p = env.ctl("-r", missing, "ps", endpoint=False, env={"CONTAINER_RUNTIME_ENDPOINT": uri},
                expect=1)
    assert missing in p.stderr
    # neither: crisp's default socket (not this suite's), and a scheme it cannot use
    p = env.ctl("ps", endpoint=False, expect=None)
    assert p.returncode != 0 or "CONTAINER" in p.stdout
    if p.returncode:
        assert "/run/crisp/crisp.sock" in p.stderr
    p = env.ctl("-r", "tcp://127.0.0.1:1", "ps", endpoint=False, expect=1)
    assert "only unix sockets" in p.stderr


def test_grpc_errors_say_status_and_message(env):
    p = env.ctl("run", "--rm", "crisp.local/not-imported:1", "true", expect=125)
    assert "PullImage: " in p.stderr
    assert any(s in p.stderr for s in ("NOT_FOUND", "UNAVAILABLE", "UNKNOWN", "INVALID_ARGUMENT"))
    p = env.ctl("logs", "0000000000000000", expect=1)
    assert "no such container" in p.stderr
    p = env.ctl("--timeout", "bad", "ps", expect=2)
    assert "--timeout" in p.stderr
