"""Pod sandboxes through a real gRPC client against the real daemons, runc
and Debian's CNI plugins: RunPodSandbox, Stop, Remove, Status, List with
its filters; no pause image (the namespaces are pinned, pod-init holds a
shared PID namespace); crisp's default CNI network and a configured one;
hostname, resolv.conf, /etc/hosts, /dev/shm; host network, PID and IPC;
idempotence; bad input."""
import json
import os
import socket
import subprocess
import threading
import time

import grpc
import pytest

from crisp_env import Suite, cri_pb2, wait_for
from pods_env import PodEnv, mounts_under, proc_list


@pytest.fixture(scope="module")
def env():
    e = PodEnv()
    try:
        yield e
    finally:
        e.cleanup()


def pb():
    return cri_pb2()


def ns_of(pid, kind):
    return os.readlink("/proc/%d/ns/%s" % (pid, kind))


def test_network_ready_says_default_network(env):
    st = env.call("Status", verbose=True)
    conds = {c.type: c for c in st.status.conditions}
    assert conds["NetworkReady"].status, conds["NetworkReady"].message
    assert "default" in conds["NetworkReady"].message or "crisp" in str(st.info)
    names = [h.name for h in st.runtime_handlers]
    assert "" in names and "runc" in names
    rro = {h.name: h.features.recursive_read_only_mounts for h in st.runtime_handlers}
    assert rro[""] is True and rro["runc"] is True   # runc 1.1.5 has "rro"


def test_run_status_list_stop_remove(env):
    pod_id, cfg = env.run_pod(labels={"app": "one", "tier": "web"},
                              annotations={"note": "x"})
    st = env.call("PodSandboxStatus", pod_sandbox_id=pod_id, verbose=True)
    s = st.status
    assert s.id == pod_id and s.state == pb().SANDBOX_READY
    assert s.metadata.name == cfg.metadata.name
    assert s.labels["app"] == "one" and s.annotations["note"] == "x"
    assert s.network.ip.startswith(env.subnet.rsplit(".", 2)[0]), s.network.ip
    assert s.created_at > 0 and s.runtime_handler == "runc"
    assert "info" in st.info and st.timestamp > 0
    # the network namespace is pinned under RUNROOT, and has the IP
    pin = os.path.join(env.suite.runroot, "pods", pod_id, "ns", "net")
    assert pin in mounts_under(env.suite.runroot)
    out = subprocess.run(["nsenter", "--net=" + pin, "ip", "-4", "-o", "addr"],
                         capture_output=True, text=True, check=True).stdout
    assert s.network.ip in out and "lo" in out
    # list and filters
    items = env.call("ListPodSandbox").items
    assert pod_id in [i.id for i in items]
    f = pb().PodSandboxFilter
    assert [i.id for i in env.call("ListPodSandbox", filter=f(id=pod_id[:12])).items] == [pod_id]
    assert [i.id for i in env.call("ListPodSandbox", filter=f(
        label_selector={"app": "one", "tier": "web"})).items] == [pod_id]
    assert len(env.call("ListPodSandbox", filter=f(label_selector={"app": "two"})).items) == 0
    ready = pb().PodSandboxStateValue(state=pb().SANDBOX_READY)
    assert pod_id in [i.id for i in env.call("ListPodSandbox", filter=f(state=ready)).items]
    # stop: network given back, not ready, IP gone; twice is fine
    env.call("StopPodSandbox", pod_sandbox_id=pod_id)
    env.call("StopPodSandbox", pod_sandbox_id=pod_id)
    s = env.call("PodSandboxStatus", pod_sandbox_id=pod_id).status
    assert s.state == pb().SANDBOX_NOTREADY and s.network.ip == ""
    assert pin not in mounts_under(env.suite.runroot)
    notready = pb().PodSandboxStateValue(state=pb().SANDBOX_NOTREADY)
    assert pod_id in [i.id for i in env.call("ListPodSandbox", filter=f(state=notready)).items]
    assert pod_id not in [i.id for i in env.call("ListPodSandbox", filter=f(state=ready)).items]
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)
    assert pod_id not in [i.id for i in env.call("ListPodSandbox").items]
    with pytest.raises(grpc.RpcError) as e:
        env.call("PodSandboxStatus", pod_sandbox_id=pod_id)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert not os.path.exists(os.path.join(env.suite.runroot, "pods", pod_id))


def test_stop_and_remove_unknown_pod_succeed(env):
    env.call("StopPodSandbox", pod_sandbox_id="ab" * 32)
    env.call("RemovePodSandbox", pod_sandbox_id="ab" * 32)


def test_remove_ready_pod_kills_its_containers(env):
    pod_id, cfg = env.run_pod()
    cid = env.run(pod_id, cfg, ["sleep", "1000"])
    pid = ctr_pid(env, cid)
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)
    assert not os.path.exists("/proc/%d" % pid)
    with pytest.raises(grpc.RpcError) as e:
        env.status(cid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert env.leftovers() == {}


def test_same_name_and_attempt_is_refused(env):
    pod_id, cfg = env.run_pod()
    with pytest.raises(grpc.RpcError) as e:
        env.call("RunPodSandbox", config=cfg)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    cfg.metadata.attempt = 1
    other, _ = env.run_pod(cfg)
    for p in (pod_id, other):
        env.call("StopPodSandbox", pod_sandbox_id=p)
        env.call("RemovePodSandbox", pod_sandbox_id=p)


def test_hostname_dns_hosts_shm(env):
    dns = pb().DNSConfig(servers=["10.0.0.10", "8.8.8.8"], searches=["svc.local", "local"],
                         options=["ndots:5", "timeout:2"])
    pod_id, cfg = env.run_pod(hostname="my-pod", dns_config=dns)
    cid = env.run(pod_id, cfg, ["sleep", "1000"])
    assert env.exec(cid, ["hostname"]).stdout == b"my-pod\n"
    assert env.exec(cid, ["cat", "/etc/hostname"]).stdout == b"my-pod\n"
    resolv = env.exec(cid, ["cat", "/etc/resolv.conf"]).stdout.decode()
    assert "nameserver 10.0.0.10\nnameserver 8.8.8.8\n" in resolv
    assert "search svc.local local\n" in resolv and "options ndots:5 timeout:2\n" in resolv
    hosts = env.exec(cid, ["cat", "/etc/hosts"]).stdout.decode()
    ip = env.call("PodSandboxStatus", pod_sandbox_id=pod_id).status.network.ip
    assert "127.0.0.1\tlocalhost" in hosts and "%s\tmy-pod" % ip in hosts
    df = env.exec(cid, ["df", "-k", "/dev/shm"]).stdout.decode().splitlines()[-1].split()
    assert int(df[1]) == 64 * 1024          # [runtime] shm_size default
    # two containers of the pod share /dev/shm, the network and IPC
    c2 = env.run(pod_id, cfg, ["sleep", "1000"])
    env.exec(cid, ["sh", "-c", "echo shared > /dev/shm/x"])
    assert env.exec(c2, ["cat", "/dev/shm/x"]).stdout == b"shared\n"
    env.call("StopPodSandbox", pod_sandbox_id=pod_id)
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)


def test_bad_dns_and_hostname_are_invalid_argument(env):
    for kw in ({"hostname": "bad host"}, {"hostname": "x" * 64},
               {"dns_config": pb().DNSConfig(servers=["1.1.1.1\nnameserver 6.6.6.6"])},
               {"dns_config": pb().DNSConfig(options=["a b"])}):
        with pytest.raises(grpc.RpcError) as e:
            env.run_pod(**kw)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, kw
    assert env.call("Version").runtime_name == "crisp"
    assert env.leftovers() == {}


def namespace_opts(network=0, pid=1, ipc=0):
    return pb().LinuxPodSandboxConfig(security_context=pb().LinuxSandboxSecurityContext(
        namespace_options=pb().NamespaceOption(network=network, pid=pid, ipc=ipc)))


def test_shared_pid_namespace_is_held_by_pod_init(env):
    pod_id, cfg = env.run_pod(linux=namespace_opts(pid=pb().POD))
    c1 = env.run(pod_id, cfg, ["sleep", "1000"])
    c2 = env.run(pod_id, cfg, ["sleep", "1000"])
    # PID 1 of the pod is pod-init; both containers see each other's sleep
    out = env.exec(c1, ["ps", "-o", "pid,comm"]).stdout.decode()
    assert "pod-init" in out.splitlines()[1], out
    assert out.count("sleep") == 2, out
    # it reaps zombies: an orphan that exits leaves no zombie behind
    env.exec(c2, ["sh", "-c", "(sleep 0.2 &) ; true"])
    time.sleep(1.0)
    out = env.exec(c1, ["ps", "-o", "stat,comm"]).stdout.decode()
    assert not any(l.strip().startswith("Z") for l in out.splitlines()[1:]), out
    # pod-init: confined, not in sandboxd's tree
    info = env.call("PodSandboxStatus", pod_sandbox_id=pod_id, verbose=True).info["info"]
    init = json.loads(info)["pid"]
    assert init > 0
    with open("/proc/%d/status" % init) as f:
        st = dict(l.split(":", 1) for l in f.read().splitlines())
    assert st["CapEff"].strip() == "0000000000000000" and st["NoNewPrivs"].strip() == "1"
    assert st["Seccomp"].strip() == "2" and st["Uid"].split()[0] == "65534"
    env.call("StopPodSandbox", pod_sandbox_id=pod_id)
    assert not os.path.exists("/proc/%d" % init) or open("/proc/%d/stat" % init).read().split()[2] == "Z"
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)


def ctr_pid(env, cid):
    return json.loads(env.call("ContainerStatus", container_id=cid,
                               verbose=True).info["info"])["pid"]


def test_host_network_pid_ipc(env):
    opts = pb().NamespaceOption(network=pb().NODE, pid=pb().NODE, ipc=pb().NODE)
    pod_id, cfg = env.run_pod(linux=namespace_opts(network=pb().NODE, pid=pb().NODE,
                                                   ipc=pb().NODE))
    s = env.call("PodSandboxStatus", pod_sandbox_id=pod_id).status
    assert s.network.ip == ""
    assert s.linux.namespaces.options.network == pb().NODE
    # kubelet gives the container the pod's namespace options
    cid = env.run(pod_id, cfg, ["sleep", "1000"], linux=pb().LinuxContainerConfig(
        security_context=pb().LinuxContainerSecurityContext(namespace_options=opts)))
    pid = ctr_pid(env, cid)
    for kind in ("net", "pid", "ipc", "uts"):
        assert ns_of(pid, kind) == ns_of(os.getpid(), kind), kind
    assert ns_of(pid, "mnt") != ns_of(os.getpid(), "mnt")
    assert env.exec(cid, ["hostname"]).stdout.decode().strip() == socket.gethostname()
    env.call("StopPodSandbox", pod_sandbox_id=pod_id)
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)


def test_pod_namespaces_are_not_the_hosts(env):
    pod_id, cfg = env.run_pod()
    cid = env.run(pod_id, cfg, ["sleep", "1000"])
    pid = ctr_pid(env, cid)
    for kind in ("net", "ipc", "uts", "pid", "mnt"):
        assert ns_of(pid, kind) != ns_of(os.getpid(), kind), kind
    pin = os.path.join(env.suite.runroot, "pods", pod_id, "ns")
    for kind in ("net", "ipc", "uts"):
        assert os.stat(os.path.join(pin, kind)).st_ino == os.stat(
            "/proc/%d/ns/%s" % (pid, kind)).st_ino, kind
    env.call("StopPodSandbox", pod_sandbox_id=pod_id)
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)


def test_pod_cgroup_under_parent_and_owned(env):
    parent = "/crisp-test-%s" % env.net
    pod_id, cfg = env.run_pod(linux=pb().LinuxPodSandboxConfig(cgroup_parent=parent))
    cid = env.run(pod_id, cfg, ["sleep", "1000"])
    pid = ctr_pid(env, cid)
    with open("/proc/%d/cgroup" % pid) as f:
        cg = f.read()
    assert "memory:%s/crisp-%s" % (parent, cid) in cg, cg
    env.call("StopPodSandbox", pod_sandbox_id=pod_id)
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)
    # the parent is kubelet's: sandboxd leaves it; the container's is gone
    assert os.path.isdir("/sys/fs/cgroup/memory" + parent)
    assert not os.path.exists("/sys/fs/cgroup/memory%s/crisp-%s" % (parent, cid))
    for c in os.listdir("/sys/fs/cgroup"):
        p = "/sys/fs/cgroup/%s%s" % (c, parent)
        if os.path.isdir(p) and not os.path.islink("/sys/fs/cgroup/" + c):
            os.rmdir(p)
    # without a parent, crisp makes /crisp/pods/<id> and removes it
    pod_id, cfg = env.run_pod()
    assert os.path.isdir("/sys/fs/cgroup/memory/crisp/pods/" + pod_id)
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)
    assert not os.path.exists("/sys/fs/cgroup/memory/crisp/pods/" + pod_id)


def test_port_mapping_reaches_the_pod(env):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    host_port = s.getsockname()[1]
    s.close()
    pm = pb().PortMapping(protocol=pb().TCP, container_port=8080, host_port=host_port,
                          host_ip="127.0.0.1")
    pod_id, cfg = env.run_pod(port_mappings=[pm])
    cid = env.run(pod_id, cfg, ["sh", "-c",
                                "while true; do echo hello | nc -l -p 8080; done"])
    ip = env.call("PodSandboxStatus", pod_sandbox_id=pod_id).status.network.ip

    def fetch(addr, port):
        try:
            with socket.create_connection((addr, port), timeout=2) as c:
                return c.recv(100)
        except OSError:
            return None
    assert wait_for(lambda: fetch(ip, 8080), 10, what="the pod's IP") == b"hello\n"
    assert wait_for(lambda: fetch("127.0.0.1", host_port), 10,
                    what="the host port") == b"hello\n"
    env.call("StopPodSandbox", pod_sandbox_id=pod_id)
    assert fetch("127.0.0.1", host_port) is None
    env.call("RemovePodSandbox", pod_sandbox_id=pod_id)


def test_bad_requests_invalid_argument(env):
    for cfg in (pb().PodSandboxConfig(),
                pb().PodSandboxConfig(metadata=pb().PodSandboxMetadata(name="x")),
                ):
        with pytest.raises(grpc.RpcError) as e:
            env.call("RunPodSandbox", config=cfg)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        env.run_pod(handler="nosuch")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        env.run_pod(linux=pb().LinuxPodSandboxConfig(cgroup_parent="/a/../../b"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        env.call("PodSandboxStatus", pod_sandbox_id="not-hex!")
    assert e.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
    assert env.leftovers() == {}


def test_configured_network_wins_and_status_says_so():
    cni = """{"cniVersion": "1.0.0", "name": "crisp-conf-test", "plugins": [
      {"type": "bridge", "bridge": "%s", "isGateway": true,
       "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.199.%d.0/24"}]],
                "dataDir": "%s"}}]}"""
    e = PodEnv(image=False)
    try:
        br = "crc" + e.net
        with open(os.path.join(e.suite.cni_dir, "10-test.conflist"), "w") as f:
            f.write(cni % (br, int(e.net[:2], 16), os.path.join(e.suite.tmp, "ipam")))
        st = e.call("Status")
        conds = {c.type: c for c in st.status.conditions}
        assert conds["NetworkReady"].status
        pod_id, _ = e.run_pod()
        ip = e.call("PodSandboxStatus", pod_sandbox_id=pod_id).status.network.ip
        assert ip.startswith("10.199.%d." % int(e.net[:2], 16)), ip
        e.call("StopPodSandbox", pod_sandbox_id=pod_id)
        e.call("RemovePodSandbox", pod_sandbox_id=pod_id)
        # a bad config file is not replaced by the default: not ready
        with open(os.path.join(e.suite.cni_dir, "00-bad.conf"), "w") as f:
            f.write("{not json")
        conds = {c.type: c for c in e.call("Status").status.conditions}
        assert not conds["NetworkReady"].status and "00-bad.conf" in conds["NetworkReady"].message
        with pytest.raises(grpc.RpcError):
            e.run_pod()
        subprocess.run(["ip", "link", "del", br], capture_output=True)
    finally:
        e.cleanup()


def test_ids_that_are_not_ours(env):
    """kubelet and critest may name ids crisp never made (critest uses
    UUIDs): stop and remove succeed, status is NOT_FOUND."""
    for bad in ("ce5de69c-eb52-4ce7-bd35-7b2eabdda6e2", "ABCDEF", "0" * 64):
        env.call("StopPodSandbox", pod_sandbox_id=bad)
        env.call("RemovePodSandbox", pod_sandbox_id=bad)
        env.call("StopContainer", container_id=bad)
        env.call("RemoveContainer", container_id=bad)
        for method, field in (("PodSandboxStatus", "pod_sandbox_id"),
                              ("ContainerStatus", "container_id")):
            with pytest.raises(grpc.RpcError) as e:
                env.call(method, **{field: bad})
            assert e.value.code() == grpc.StatusCode.NOT_FOUND, (method, bad)
