"""Containers through a real gRPC client against the real daemons and runc:
Create/Start/Stop/Remove, ContainerStatus, ListContainers with its filters,
exit codes, OOM, the log format (partial and long lines, reopen), ExecSync
(timeout with a background child, the output cap), the OCI spec as the
container sees it (command vs entrypoint, env, working dir, user and groups,
mounts, image mounts, devices, read-only rootfs, resources, capabilities,
masked paths), conmon's confinement, bad input."""
import json
import os
import re
import subprocess
import time

import grpc
import pytest

from crisp_env import cri_pb2, wait_for
from pods_env import IMAGE, PodEnv, proc_list

SPECIAL = "crisp.test/special:1"


@pytest.fixture(scope="module")
def env():
    e = PodEnv(extra_conf="[runtime]\nlog_max_line = 1KiB\n")
    try:
        e.import_image(os.path.join(e.suite.tmp, "special.tar"), SPECIAL, config_extra={
            "Entrypoint": ["/bin/echo", "ep"], "Cmd": ["cmd1", "cmd2"],
            "Env": ["PATH=/bin", "FROM_IMAGE=image", "OVER=image"],
            "WorkingDir": "/tmp", "User": "alice", "StopSignal": "SIGUSR1",
            "Volumes": {"/data": {}}})
        e.pod_id, e.pod_cfg = e.run_pod()
        yield e
    finally:
        e.cleanup()


def pb():
    return cri_pb2()


def run_out(env, cmd=None, args=None, image=IMAGE, **kw):
    """Run to its end: (exit code, stdout lines)."""
    cid = env.run(env.pod_id, env.pod_cfg, cmd, args=args, image=image, **kw)
    st = env.wait_exit(cid)
    lines = [l.split(" ", 3)[3] for l in env.log_lines(cid) if " stdout " in l]
    return st.exit_code, lines


def sc(**kw):
    return pb().LinuxContainerConfig(security_context=pb().LinuxContainerSecurityContext(**kw))


def test_command_args_entrypoint_cmd(env):
    assert run_out(env, image=SPECIAL)[1] == ["ep cmd1 cmd2"]
    assert run_out(env, args=["a1"], image=SPECIAL)[1] == ["ep a1"]
    assert run_out(env, cmd=["/bin/echo", "c"], image=SPECIAL)[1] == ["c"]
    assert run_out(env, cmd=["/bin/echo", "c"], args=["a"], image=SPECIAL)[1] == ["c a"]


def test_env_workdir_user_from_image(env):
    code, out = run_out(env, cmd=["sh", "-c", "echo $FROM_IMAGE $OVER $EXTRA; pwd; id; "
                                  "echo HOSTNAME=$HOSTNAME"],
                        image=SPECIAL, envs=[pb().KeyValue(key="OVER", value=b"cri"),
                                             pb().KeyValue(key="EXTRA", value=b"x")])
    assert code == 0
    assert out[0] == "image cri x" and out[1] == "/tmp"
    assert out[2].startswith("uid=1000(alice) gid=1000(alice)"), out[2]
    assert "10(wheel)" in out[2] and "50(staff)" in out[2]
    assert out[3].startswith("HOSTNAME=")
    code, out = run_out(env, cmd=["sh", "-c", "pwd; id -u; id -g"], image=SPECIAL,
                        working_dir="/bin", linux=sc(run_as_user=pb().Int64Value(value=33)))
    assert out == ["/bin", "33", "33"]
    code, out = run_out(env, cmd=["id"], image=SPECIAL, linux=sc(run_as_username="daemon"))
    assert out[0].startswith("uid=1(daemon) gid=1(daemon)")
    code, out = run_out(env, cmd=["id", "-G"], image=SPECIAL,
                        linux=sc(run_as_user=pb().Int64Value(value=1000),
                                 run_as_group=pb().Int64Value(value=1000),
                                 supplemental_groups=[4242]))
    assert set(out[0].split()) == {"1000", "10", "50", "4242"}
    code, out = run_out(env, cmd=["id", "-G"], image=SPECIAL,
                        linux=sc(run_as_user=pb().Int64Value(value=1000),
                                 supplemental_groups=[4242], supplemental_groups_policy=1))
    assert set(out[0].split()) == {"1000", "4242"}


def test_status_fields_and_reasons(env):
    cid = env.run(env.pod_id, env.pod_cfg, ["sh", "-c", "exit 0"], labels={"l": "v"},
                  annotations={"a": "b"})
    st = env.wait_exit(cid)
    assert st.exit_code == 0 and st.reason == "Completed"
    assert st.image.image == IMAGE and st.image_id.startswith("sha256:")
    assert st.image_ref and st.labels["l"] == "v" and st.annotations["a"] == "b"
    assert st.created_at <= st.started_at <= st.finished_at
    assert st.log_path.endswith(st.metadata.name + ".log")
    cid = env.run(env.pod_id, env.pod_cfg, ["sh", "-c", "exit 42"])
    st = env.wait_exit(cid)
    assert st.exit_code == 42 and st.reason == "Error"
    cid = env.run(env.pod_id, env.pod_cfg, ["sh", "-c", "kill -9 $$"])
    assert env.wait_exit(cid).exit_code == 137


def test_oom_killed(env):
    res = pb().LinuxContainerResources(memory_limit_in_bytes=20 << 20)
    cid = env.run(env.pod_id, env.pod_cfg,
                  ["sh", "-c", "x=a; while true; do x=$x$x; done"],
                  linux=pb().LinuxContainerConfig(resources=res))
    st = env.wait_exit(cid, timeout=60)
    assert st.exit_code == 137 and st.reason == "OOMKilled", (st.exit_code, st.reason)


def test_log_format_partial_and_long_lines(env):
    script = ("printf 'no newline'; sleep 0.3; printf ' then one\\n'; "
              "head -c 3000 /dev/zero | tr '\\0' x; echo; echo err >&2")
    cid = env.run(env.pod_id, env.pod_cfg, ["sh", "-c", script])
    env.wait_exit(cid)
    lines = env.log_lines(cid)
    rx = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) ([PF]) (.*)$")
    recs = [rx.match(l).groups() for l in lines]
    assert recs[0] == ("stdout", "P", "no newline")
    assert recs[1] == ("stdout", "F", " then one")
    # the 3000-byte line: P records of at most 1 KiB, then its F record
    # (which may be empty, when the newline came in a read of its own)
    first = next(i for i, r in enumerate(recs) if r[2].startswith("x"))
    last = next(i for i in range(first, len(recs)) if recs[i][1] == "F")
    xs = recs[first:last + 1]
    assert all(r[0] == "stdout" and len(r[2]) <= 1024 for r in xs)
    assert all(r[1] == "P" for r in xs[:-1]) and len(xs) >= 3
    assert "".join(r[2] for r in xs) == "x" * 3000
    assert ("stderr", "F", "err") in recs


def test_reopen_log(env):
    cid = env.run(env.pod_id, env.pod_cfg,
                  ["sh", "-c", "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done"])
    path = env.status(cid).log_path
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0, 10, what="log")
    os.rename(path, path + ".1")
    env.call("ReopenContainerLog", container_id=cid)
    assert os.path.exists(path)
    wait_for(lambda: os.path.getsize(path) > 0, 10, what="the new log")
    env.stop(cid, 0)
    with pytest.raises(grpc.RpcError) as e:
        env.call("ReopenContainerLog", container_id=cid)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_exec_sync(env):
    cid = env.run(env.pod_id, env.pod_cfg, ["sleep", "1000"])
    r = env.exec(cid, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert r.stdout == b"out\n" and r.stderr == b"err\n" and r.exit_code == 7
    # the timeout kills the command and the child that keeps the pipes open
    t = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        env.exec(cid, ["sh", "-c", "sleep 100 & sleep 100"], timeout=1)
    took = time.monotonic() - t
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value
    assert took < 3, took
    ps = env.exec(cid, ["ps", "-o", "args"]).stdout.decode().splitlines()
    assert "sleep 100" not in ps, ps          # (the container's own is "sleep 1000")
    # past the output cap: an error, and the command is killed
    with pytest.raises(grpc.RpcError) as e:
        env.exec(cid, ["sh", "-c", "head -c 20000000 /dev/zero; sleep 100"], timeout=30)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "head" not in env.exec(cid, ["ps", "-o", "args"]).stdout.decode()
    # a command runc cannot start: an error that says why
    with pytest.raises(grpc.RpcError) as e:
        env.exec(cid, ["/no/such/command"])
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "/no/such/command" in e.value.details(), e.value.details()
    env.stop(cid, 0)
    with pytest.raises(grpc.RpcError) as e:
        env.exec(cid, ["true"])
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_stop_timeout_and_stop_signal(env):
    # SIGTERM ignored: killed after the timeout
    cid = env.run(env.pod_id, env.pod_cfg, ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"])
    t = time.monotonic()
    env.stop(cid, 2)
    took = time.monotonic() - t
    assert 1.5 < took < 6, took
    assert env.status(cid).exit_code == 137
    # the image's StopSignal (SIGUSR1) is what is sent first
    cid = env.run(env.pod_id, env.pod_cfg,
                  ["sh", "-c", "trap 'exit 12' USR1; while true; do sleep 0.1; done"],
                  image=SPECIAL, linux=sc(run_as_user=pb().Int64Value(value=0)))
    time.sleep(0.3)
    env.stop(cid, 10)
    assert env.status(cid).exit_code == 12
    # stopping twice, a created one, or one that is gone: fine
    env.stop(cid, 1)
    env.call("StopContainer", container_id="cd" * 32, timeout=1)
    created = env.create(env.pod_id, env.pod_cfg, env.ctr_config(cmd=["true"]))
    env.stop(created, 1)
    assert env.status(created).state == pb().CONTAINER_CREATED


def test_start_twice_and_remove(env):
    cid = env.run(env.pod_id, env.pod_cfg, ["sleep", "1000"])
    with pytest.raises(grpc.RpcError) as e:
        env.call("StartContainer", container_id=cid)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    env.call("RemoveContainer", container_id=cid)      # running: killed, then removed
    env.call("RemoveContainer", container_id=cid)
    with pytest.raises(grpc.RpcError) as e:
        env.status(cid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert not os.path.exists(os.path.join(env.suite.runroot, "containers", cid))
    assert not os.path.exists(os.path.join(env.suite.root, "containers", cid))
    leases = env.ctl("lease", "ls")
    assert cid not in leases


def test_list_filters(env):
    pod2, cfg2 = env.run_pod()
    a = env.run(env.pod_id, env.pod_cfg, ["sleep", "1000"], labels={"k": "a", "x": "1"})
    b = env.run(pod2, cfg2, ["sleep", "1000"], labels={"k": "b"})
    c = env.create(pod2, cfg2, env.ctr_config(cmd=["true"], labels={"k": "b"}))
    F = pb().ContainerFilter
    ids = lambda f=None: {x.id for x in env.call("ListContainers", filter=f).containers}
    assert {a, b, c} <= ids()
    assert ids(F(id=a[:10])) == {a}
    assert ids(F(pod_sandbox_id=pod2)) == {b, c}
    assert ids(F(label_selector={"k": "b"})) == {b, c}
    assert ids(F(label_selector={"k": "a", "x": "1"})) == {a}
    assert ids(F(label_selector={"k": "a", "x": "2"})) == set()
    created = pb().ContainerStateValue(state=pb().CONTAINER_CREATED)
    running = pb().ContainerStateValue(state=pb().CONTAINER_RUNNING)
    assert ids(F(pod_sandbox_id=pod2, state=created)) == {c}
    assert ids(F(pod_sandbox_id=pod2, state=running)) == {b}
    x = [x for x in env.call("ListContainers", filter=F(id=b)).containers][0]
    assert x.pod_sandbox_id == pod2 and x.image.image == IMAGE and x.labels["k"] == "b"
    env.call("StopPodSandbox", pod_sandbox_id=pod2)
    assert env.status(b).state == pb().CONTAINER_EXITED
    env.call("RemovePodSandbox", pod_sandbox_id=pod2)
    assert ids(F(pod_sandbox_id=pod2)) == set()
    env.call("RemoveContainer", container_id=a)


def test_mounts_devices_readonly_rootfs(env):
    host = os.path.join(env.suite.tmp, "hostdir")
    os.makedirs(host)
    with open(os.path.join(host, "f"), "w") as f:
        f.write("from host\n")
    mounts = [pb().Mount(container_path="/rw", host_path=host),
              pb().Mount(container_path="/ro", host_path=host, readonly=True)]
    devs = [pb().Device(container_path="/dev/mynull", host_path="/dev/null", permissions="rw")]
    code, out = run_out(env, cmd=["sh", "-c",
                                  "cat /ro/f; echo x > /rw/new && echo rw-ok; "
                                  "echo x > /ro/no 2>/dev/null || echo ro-ok; "
                                  "echo hi > /dev/mynull && echo dev-ok; "
                                  "touch /rootfs-file 2>/dev/null || echo rootfs-ro"],
                        mounts=mounts, devices=devs, linux=sc(readonly_rootfs=True))
    assert out == ["from host", "rw-ok", "ro-ok", "dev-ok", "rootfs-ro"], out
    assert os.path.exists(os.path.join(host, "new"))
    with pytest.raises(grpc.RpcError) as e:
        env.create(env.pod_id, env.pod_cfg, env.ctr_config(cmd=["true"], mounts=[
            pb().Mount(container_path="/x", host_path="/nonexistent/crisp")]))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_image_mount_and_volume(env):
    m = pb().Mount(container_path="/img", image=pb().ImageSpec(image=IMAGE))
    code, out = run_out(env, cmd=["sh", "-c", "ls /img/bin/busybox; "
                                  "touch /img/x 2>/dev/null || echo img-ro; "
                                  "test -d /data && echo vol-ok"],
                        image=SPECIAL, mounts=[m], linux=sc(run_as_user=pb().Int64Value(value=0)))
    assert out == ["/img/bin/busybox", "img-ro", "vol-ok"], out


def test_resources_caps_masked_paths(env):
    res = pb().LinuxContainerResources(memory_limit_in_bytes=64 << 20, cpu_shares=512,
                                       cpu_quota=50000, cpu_period=100000, oom_score_adj=-998)
    cid = env.run(env.pod_id, env.pod_cfg, ["sleep", "1000"],
                  linux=pb().LinuxContainerConfig(resources=res))
    info = json.loads(env.call("ContainerStatus", container_id=cid, verbose=True).info["info"])
    pid = info["pid"]
    cg = dict(l.split(":", 2)[1:] for l in open("/proc/%d/cgroup" % pid).read().splitlines())
    mem = open("/sys/fs/cgroup/memory%s/memory.limit_in_bytes" % cg["memory"]).read()
    assert int(mem) == 64 << 20
    cpu = cg.get("cpu,cpuacct") or cg["cpu"]
    assert int(open("/sys/fs/cgroup/cpu%s/cpu.shares" % cpu).read()) == 512
    assert int(open("/sys/fs/cgroup/cpu%s/cpu.cfs_quota_us" % cpu).read()) == 50000
    # -998 is below what crisp itself has (no CAP_SYS_RESOURCE): raised to it
    own = int(open("/proc/%d/oom_score_adj" % env.suite.daemon_pids()["sandboxd"]).read())
    assert int(open("/proc/%d/oom_score_adj" % pid).read()) == max(-998, own)
    st = dict(l.split(":", 1) for l in open("/proc/%d/status" % pid).read().splitlines())
    # containerd's default capability set
    assert int(st["CapEff"], 16) == 0xa80425fb, st["CapEff"]
    # /proc/timer_list is masked (/dev/null on it), /proc/sys is read-only
    out = env.exec(cid, ["sh", "-c", "test -c /proc/timer_list && echo masked; "
                         "echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo ro"]).stdout
    assert out.split() == [b"masked", b"ro"], out
    env.call("RemoveContainer", container_id=cid)


def test_conmon_is_confined_and_detached(env):
    cid = env.run(env.pod_id, env.pod_cfg, ["sleep", "1000"])
    info = json.loads(env.call("ContainerStatus", container_id=cid, verbose=True).info["info"])
    cpid = info["conmonPid"]
    st = dict(l.split(":", 1) for l in open("/proc/%d/status" % cpid).read().splitlines())
    assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0, st["CapEff"]
    assert st["NoNewPrivs"].strip() == "1" and st["Seccomp"].strip() == "2"
    ppid = int(st["PPid"])
    assert ppid not in env.suite.daemon_pids().values()
    # the container is conmon's child (conmon is its subreaper)
    cst = open("/proc/%d/stat" % info["pid"]).read()
    assert int(cst[cst.rindex(")") + 2:].split()[1]) == cpid
    env.call("RemoveContainer", container_id=cid)
    wait_for(lambda: not os.path.exists("/proc/%d" % cpid) or
             open("/proc/%d/stat" % cpid).read().split(") ")[1][0] == "Z", 10, what="conmon")


def test_bad_requests(env):
    cfg = env.ctr_config(cmd=["true"])
    with pytest.raises(grpc.RpcError) as e:
        env.create("ef" * 32, env.pod_cfg, cfg)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        env.create(env.pod_id, env.pod_cfg, env.ctr_config(cmd=["true"], image="no/such:1"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        env.create(env.pod_id, env.pod_cfg, env.ctr_config(cmd=["true"], working_dir="rel"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        env.create(env.pod_id, env.pod_cfg, env.ctr_config(
            cmd=["true"], linux=sc(run_as_username="nosuchuser")))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        env.create(env.pod_id, env.pod_cfg, env.ctr_config(
            cmd=["true"], envs=[pb().KeyValue(key="A=B", value=b"c")]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    name = env.ctr_config(cmd=["true"])
    env.create(env.pod_id, env.pod_cfg, name)
    with pytest.raises(grpc.RpcError) as e:
        env.create(env.pod_id, env.pod_cfg, name)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as e:
        env.call("StartContainer", container_id="ab" * 32)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    env.call("RemoveContainer", container_id="ab" * 32)
    # the daemons are still there, and nothing half-made is left
    assert env.call("Version").runtime_name == "crisp"
    ids = [c.id for c in env.call("ListContainers").containers]
    assert len(os.listdir(os.path.join(env.suite.runroot, "containers"))) == len(ids)


def test_caps_on_pods_and_containers():
    e = PodEnv(extra_conf="[runtime]\nmax_pods = 2\nmax_containers = 2\n")
    try:
        p1, c1 = e.run_pod()
        e.run_pod()
        with pytest.raises(grpc.RpcError) as x:
            e.run_pod()
        assert x.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_pods" in x.value.details()
        e.create(p1, c1, e.ctr_config(cmd=["true"]))
        e.create(p1, c1, e.ctr_config(cmd=["true"]))
        with pytest.raises(grpc.RpcError) as x:
            e.create(p1, c1, e.ctr_config(cmd=["true"]))
        assert x.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_containers" in x.value.details()
    finally:
        e.cleanup()
