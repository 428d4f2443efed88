"""100 pods up and down, with a running container each, four at a time:
afterwards the machine is as it was before. Counted: the mounts
(/proc/self/mountinfo, nsfs pins among them), the network namespaces the
kernel still has, the cgroup tree, the process table, the pods' veths and
CNI IP allocations, iptables rules, and sandboxd's open fds: each counted
for this suite alone (its directories, its cgroups, its bridge and subnet),
so that other work on the machine does not move the counts.""" 
import concurrent.futures
import os
import subprocess
import time

from crisp_env import wait_for
from pods_env import PodEnv

PODS = 100
THREADS = 4


def count_mounts(env):
    """Mounts of this suite: below its directories (rootfs overlays, /dev/shm
    tmpfs, namespace pins), and the nsfs ones among them."""
    mine = [l for l in open("/proc/self/mountinfo").read().splitlines()
            if (" %s/" % env.suite.tmp) in l]
    return len(mine), sum(1 for l in mine if " - nsfs " in l)


def in_suite(env, pid):
    """pid belongs to the suite and is alive (a zombie is init's to reap)."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            st = f.read()
        if st[st.rindex(")") + 2] == "Z":
            return False
        with open("/proc/%s/cgroup" % pid) as f:
            cg = f.read()
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            cmd = f.read()
    except OSError:
        return False
    return "/crisp/pods/" in cg or env.suite.tmp.encode() in cmd


def count_procs(env):
    """Processes of this suite: its daemons and whatever runs in a cgroup
    below crisp's own or names its directories (conmon, pod-init, runc,
    containers). Other processes on the machine come and go."""
    return sum(1 for d in os.listdir("/proc") if d.isdigit() and in_suite(env, d))


def count_netns(env):
    """Network namespaces the suite's processes are in."""
    seen = set()
    for d in os.listdir("/proc"):
        if d.isdigit() and in_suite(env, d):
            try:
                seen.add(os.readlink("/proc/%s/ns/net" % d))
            except OSError:
                pass
    return len(seen)


def pod_cgroups(ids):
    """The cgroups of these pods (crisp's own, /crisp/pods/<id>, with their
    containers' and pod-init's below) in every hierarchy, still there."""
    left = []
    for c in os.listdir("/sys/fs/cgroup"):
        for pod in ids:
            p = os.path.join("/sys/fs/cgroup", c, "crisp", "pods", pod)
            if os.path.isdir(p) and not os.path.islink(os.path.join("/sys/fs/cgroup", c)):
                left.append(p)
    return left


def count_links(env):
    """The veths on the suite's bridge."""
    out = subprocess.run(["ip", "-o", "link", "show", "master", env.bridge],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def count_iptables(env):
    """Rules that name the suite's subnet (bridge masquerade, portmap DNAT)."""
    prefix = env.subnet.rsplit(".", 1)[0] + "."
    out = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    return len([l for l in out.splitlines() if l.startswith("-A") and prefix in l])


def snapshot(env):
    sb = env.suite.daemon_pids()["sandboxd"]
    ipam = os.path.join(env.suite.root, "cni", "networks")
    return {
        "mounts": count_mounts(env), "netns": count_netns(env),
        "procs": count_procs(env), "links": count_links(env),
        "iptables": count_iptables(env),
        "sandboxd_fds": len(os.listdir("/proc/%d/fd" % sb)),
        "ipam": sum(len([f for f in fs if f[0].isdigit()]) for _, _, fs in os.walk(ipam)),
    }


def stable_snapshot(env):
    """A snapshot that two looks 0.3 s apart agree on."""
    prev = snapshot(env)
    for _ in range(50):
        time.sleep(0.3)
        cur = snapshot(env)
        if cur == prev:
            return cur
        prev = cur
    return prev


def test_100_pods_up_and_down_leave_nothing():
    env = PodEnv()
    try:
        # one pod first, so that the bridge and the per-network rules that
        # live as long as the network exist before the baseline
        pod, cfg = env.run_pod()
        env.call("RemovePodSandbox", pod_sandbox_id=pod)
        before = stable_snapshot(env)

        made = []

        def one(i):
            pod, cfg = env.run_pod(port_mappings=[] if i % 2 else None)
            made.append(pod)
            cid = env.run(pod, cfg, ["sleep", "1000"])
            assert env.status(cid).state == 1
            env.call("StopPodSandbox", pod_sandbox_id=pod)
            env.call("RemovePodSandbox", pod_sandbox_id=pod)
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            list(ex.map(one, range(PODS)))
        # processes that were killed leave within moments (a conmon writes its
        # exit file, then exits): wait, bounded, for the counts to settle
        try:
            wait_for(lambda: snapshot(env) == before, 10, 0.2, what="the counts to settle")
        except AssertionError:
            pass
        after = snapshot(env)
        assert after == before, {k: (before[k], after[k]) for k in before
                                 if before[k] != after[k]}
        assert len(made) == PODS and pod_cgroups(made) == []
        assert env.leftovers() == {}
        assert len(env.call("ListPodSandbox").items) == 0
        assert len(env.call("ListContainers").containers) == 0
        assert [l for l in env.ctl("lease", "ls").splitlines() if "sandboxd-" in l] == []
    finally:
        env.cleanup()
