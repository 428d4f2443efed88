#!/usr/bin/python3
"""bench_pods: pod and container lifecycles on crisp, on containerd 1.6 +
runc (Debian's), and the floor (runc and the CNI plugins alone), timed in
the same run on the same machine (measured, not a test).

    apt-get install -y containerd      # the comparison; never started as a service
    KIT/setup-registry.sh              # the conformance kit's registry on
                                       # 127.0.0.1:5000, with pause:3.6
    make && /usr/bin/python3 scripts/bench_pods.py [--runs 1] [--lifecycles 30]
        [--parallel 20] [--threads 10] [--par-deadline 60] [--mem-pods 10]
        [--pid-ns container|pod] [--registry 127.0.0.1:5000] [--without-containerd]

Run as root. CRISP_BUILD (tests/integration/crisp_env.py) picks the crisp
binaries (default build/).

The workload, the same on both runtimes and through the same gRPC client
code: the busybox image that tests/integration/pods_env.py builds from
Debian's busybox-static (one layer; imported into crisp with `crispctl
image import` and into containerd with `ctr images import`, so both run the
same layer bytes); a pod with kubelet's usual namespace options (network
and IPC of the pod, PID of the container; --pid-ns pod shares one PID
namespace per pod: crisp then runs pod-init, containerd's pause is PID 1),
a cgroup_parent of its own as kubelet gives one
(/crisp-bench-XXXX/pod<uid>, cgroupfs on both), one container running
`sleep 3600`, stopped with StopContainer timeout 0 (the CRI's "kill now":
SIGKILL at once on both). The network: a bridge + host-local + portmap +
bandwidth conflist (crisp's default network, which crisp renders itself
from default_bridge/default_subnet; containerd gets the same list as a file
in a conf dir of its own, bin dir /usr/lib/cni), each runtime on a bridge
and a /24 of its own; both also run the loopback plugin. containerd runs
with its own root, state, sockets, runc root and netns dir in a temp dir,
sandbox_image = REGISTRY/pause:3.6 (pulled before timing), the registry as
a plain-http mirror, and restrict_oom_score_adj = true (root on the
project's machine lacks CAP_SYS_RESOURCE, so runc cannot give pause
containerd's -998).

Measured, after a warm-up lifecycle of each that is thrown away:
  - LIFECYCLES sequential lifecycles of each runtime and of the floor, taken
    in turn (floor, crisp, containerd, the order rotating), so that the
    machine's load falls on all three alike: RunPodSandbox,
    CreateContainer, StartContainer, StopContainer, RemoveContainer,
    StopPodSandbox, RemovePodSandbox, each call timed by the client;
    median, p90, min, max;
  - PARALLEL pods started from THREADS client threads at once (RunPodSandbox
    + CreateContainer + StartContainer per pod), one runtime at a time: wall
    time and per-pod times; then their teardown, also from THREADS threads.
    A call that takes over PAR_DEADLINE seconds is a failure, reported as
    such; the stuck calls are then freed (crisp: sandboxd's forked children
    that never exec'd are killed) and every pod removed before what follows;
  - with MEM_PODS pods running (one container each): RSS and PSS
    (/proc/PID/smaps_rollup) of every process of the runtime, never the
    containers' own: crisp: crisp-up, its four daemons, imaged's unpack
    spawner, every conmon (and pod-init); containerd: containerd, every
    containerd-shim-runc-v2 and pause;
  - the floor, in a child process of this script that is a child subreaper
    (so that it can wait for the container it kills): per lifecycle, the
    pod's net, IPC and UTS namespaces (a forked child unshares them and they
    are bind-mounted onto pin files, as crisp does), the loopback plugin's
    ADD and the conflist's ADD (the plugin binaries run with the CNI
    environment, prevResult chained), `runc create` + `runc start` of a
    bundle made before timing (`runc spec` with the pinned namespaces, a new
    PID and mount namespace, the pod's cgroup path, /etc/hosts,
    /etc/resolv.conf and /etc/hostname bind-mounted, rootfs an overlay of
    the same busybox layer, mounted before timing), `runc kill KILL` + wait
    for the init's exit, `runc delete`, the conflist's DEL in reverse and the
    loopback DEL, and the namespaces unpinned. Not in the floor: the image
    (lookup, lease, overlay mount), the OCI spec, hosts/resolv.conf files,
    the container's log, any state kept. crisp's overhead = its total median
    minus the floor's.

Prints Markdown tables (docs/PERFORMANCE.md, "Pods and containers").
Everything it starts it stops by PID: the crisp suite (through
pods_env.PodEnv), containerd (its pods through the CRI first, then leftover
shims by PID), the floor's containers, namespaces and mounts; it removes the
bridges, the iptables rules CNI left for its subnets, its cgroups and temp
dirs.
"""
import argparse
import concurrent.futures
import ctypes
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

CNI_BIN = "/usr/lib/cni"
RUNC = "/usr/sbin/runc"
PAUSE_TAG = "pause:3.6"
CRISP_PROCS = ("crisp-up", "imaged", "sandboxd", "streamd", "criserver", "conmon", "pod-init")
PHASES = ("RunPodSandbox", "CreateContainer", "StartContainer", "StopContainer",
          "RemoveContainer", "StopPodSandbox", "RemovePodSandbox")
FLOOR_STEPS = ("netns", "cni_lo_add", "cni_add", "runc_create", "runc_start", "runc_kill_wait",
               "runc_delete", "cni_del", "cni_lo_del", "netns_unpin")
# which floor steps stand beside which CRI call
FLOOR_OF = {"RunPodSandbox": ("netns", "cni_lo_add", "cni_add"),
            "CreateContainer": ("runc_create",), "StartContainer": ("runc_start",),
            "StopContainer": ("runc_kill_wait",), "RemoveContainer": ("runc_delete",),
            "StopPodSandbox": ("cni_del", "cni_lo_del", "netns_unpin"),
            "RemovePodSandbox": ()}

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS = 0x40000000, 0x08000000, 0x04000000
MS_BIND, MNT_DETACH, PR_SET_CHILD_SUBREAPER = 4096, 2, 36


# ---- small helpers -----------------------------------------------------------
def ms(seconds):
    return seconds * 1000.0


def stats(xs):
    """(median, p90, min, max) of a list of numbers."""
    s = sorted(xs)
    p90 = s[max(0, -(-len(s) * 9 // 10) - 1)]
    return statistics.median(s), p90, s[0], s[-1]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def proc_stat(pid):
    """(ppid, comm) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    rest = st[st.rindex(")") + 2:].split()
    return (int(rest[1]), st[st.index("(") + 1:st.rindex(")")]) if rest[0] != "Z" else None


def procs():
    """{pid: (ppid, comm)} of every live process."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = proc_stat(int(d))
            if s:
                out[int(d)] = s
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid, table):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [k for k, (pp, _) in table.items() if pp == p]
    return out


def mem_kib(pid):
    """(rss, pss) in KiB of one process, from smaps_rollup."""
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def mounts_under(path):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path.rstrip("/") + "/"):
                out.append(mp)
    return out


def umount_under(path):
    for m in sorted(mounts_under(path), key=len, reverse=True):
        libc.umount2(m.encode(), MNT_DETACH)


def free_subnet(lo):
    """A /24 in 10.lo-(lo+49).x.0 that no route on the machine covers, and
    a bridge name for it."""
    used = subprocess.run(["ip", "-4", "route", "show"], capture_output=True,
                          text=True).stdout
    for _ in range(200):
        r = os.urandom(3)
        subnet = "10.%d.%d.0/24" % (lo + r[0] % 50, r[1])
        if subnet.rsplit(".", 1)[0] + "." not in used:
            return subnet, "cb%s" % r.hex()
    raise RuntimeError("no free /24 for a bench network")


def conflist(name, bridge, subnet, ipam_dir):
    """crisp's default network (sandboxd/cni/default.c), as a conflist."""
    return {"cniVersion": "1.0.0", "name": name, "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": True,
         "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                  "routes": [{"dst": "0.0.0.0/0"}], "dataDir": ipam_dir}},
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}}]}


def drop_iptables(subnet):
    """Remove the nat/filter rules that still name an address of subnet (a
    /24: what CNI DEL should have removed, the ipMasq and portmap rules),
    and the CNI chains they jumped to when no other rule refers to them.
    Returns what it removed."""
    gone = []
    prefix = subnet.rsplit(".", 1)[0] + "."
    for table in ("nat", "filter"):
        dump = subprocess.run(["iptables-save", "-t", table], capture_output=True,
                              text=True).stdout.splitlines()
        chains = set()
        for line in dump:
            if line.startswith("-A ") and (" -s " + prefix in line or " -d " + prefix in line):
                args = line.split()
                if "-j" in args:
                    chains.add(args[args.index("-j") + 1])
                subprocess.run(["iptables", "-t", table, "-D"] + args[1:], capture_output=True)
                gone.append("%s: %s" % (table, line))
        for ch in chains:
            if not ch.startswith("CNI-"):
                continue
            dump = subprocess.run(["iptables-save", "-t", table], capture_output=True,
                                  text=True).stdout
            if dump.count("-j %s " % ch) + dump.count("-j %s\n" % ch) == 0:
                subprocess.run(["iptables", "-t", table, "-F", ch], capture_output=True)
                subprocess.run(["iptables", "-t", table, "-X", ch], capture_output=True)
                gone.append("%s: chain %s" % (table, ch))
    return gone


def cgroup_rm_tree(name):
    """rmdir /sys/fs/cgroup/*/name bottom up (every v1 hierarchy, and v2)."""
    left = []
    for h in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", h, name)
        if not os.path.isdir(top):
            continue
        for root, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            for _ in range(50):
                try:
                    os.rmdir(root)
                    break
                except OSError:
                    time.sleep(0.02)
            else:
                left.append(root)
    return left


# ---- the CRI client, the same for both runtimes --------------------------------
class Client:
    def __init__(self, sock):
        import grpc
        from crisp_env import method_table
        self.grpc = grpc
        self.channel = grpc.insecure_channel("unix:" + sock)
        self.table = method_table()
        self.fns = {}

    def call(self, name, grpc_timeout=120, **kw):
        """A CRI call; kw are the request's fields (timeout too)."""
        fn = self.fns.get(name)
        if fn is None:
            path = next(p for p in self.table if p.endswith("/" + name))
            req_cls, resp_cls, _ = self.table[path]
            fn = self.fns[name] = (req_cls, self.channel.unary_unary(
                path, request_serializer=req_cls.SerializeToString,
                response_deserializer=resp_cls.FromString))
        return fn[1](fn[0](**kw), timeout=grpc_timeout)

    def ready(self):
        try:
            st = self.call("Status", grpc_timeout=2)
        except self.grpc.RpcError:
            return False
        return all(any(c.type == t and c.status for c in st.status.conditions)
                   for t in ("RuntimeReady", "NetworkReady"))

    def close(self):
        self.channel.close()


class Workload:
    """The pod and container configs, the same for both runtimes."""

    def __init__(self, pb, image, log_root, cgroot, pid_ns):
        self.pb, self.image, self.log_root, self.cgroot = pb, image, log_root, cgroot
        self.ns = pb.NamespaceOption(network=pb.POD, ipc=pb.POD,
                                     pid=pb.POD if pid_ns == "pod" else pb.CONTAINER)

    def pod(self, name):
        pb = self.pb
        uid = uuid.uuid4().hex
        logdir = os.path.join(self.log_root, name)
        os.makedirs(logdir, exist_ok=True)
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace="bench", uid=uid, attempt=0),
            log_directory=logdir,
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent="/%s/pod%s" % (self.cgroot, uid),
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=self.ns)))

    def ctr(self):
        pb = self.pb
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name="sleep", attempt=0),
            image=pb.ImageSpec(image=self.image), command=["sleep", "3600"],
            log_path="sleep.log",
            linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(
                namespace_options=self.ns)))


def timed(times, key, fn):
    t0 = time.perf_counter()
    r = fn()
    times[key] = time.perf_counter() - t0
    return r


def lifecycle(c, w, name):
    """One pod's whole life; {phase: seconds}."""
    t = {}
    cfg = w.pod(name)
    pod = timed(t, "RunPodSandbox", lambda: c.call(
        "RunPodSandbox", config=cfg, runtime_handler="")).pod_sandbox_id
    cid = timed(t, "CreateContainer", lambda: c.call(
        "CreateContainer", pod_sandbox_id=pod, config=w.ctr(),
        sandbox_config=cfg)).container_id
    timed(t, "StartContainer", lambda: c.call("StartContainer", container_id=cid))
    timed(t, "StopContainer", lambda: c.call("StopContainer", container_id=cid, timeout=0))
    timed(t, "RemoveContainer", lambda: c.call("RemoveContainer", container_id=cid))
    timed(t, "StopPodSandbox", lambda: c.call("StopPodSandbox", pod_sandbox_id=pod))
    timed(t, "RemovePodSandbox", lambda: c.call("RemovePodSandbox", pod_sandbox_id=pod))
    t["total"] = sum(t.values())
    return t


def start_pod(c, w, name, deadline=120):
    t0 = time.perf_counter()
    cfg = w.pod(name)
    pod = c.call("RunPodSandbox", grpc_timeout=deadline, config=cfg,
                 runtime_handler="").pod_sandbox_id
    cid = c.call("CreateContainer", grpc_timeout=deadline, pod_sandbox_id=pod, config=w.ctr(),
                 sandbox_config=cfg).container_id
    c.call("StartContainer", grpc_timeout=deadline, container_id=cid)
    return pod, time.perf_counter() - t0


def try_start_pod(c, w, name, deadline):
    """(pod id or None, seconds, None or the error)."""
    t0 = time.perf_counter()
    try:
        return start_pod(c, w, name, deadline) + (None,)
    except c.grpc.RpcError as e:
        return None, time.perf_counter() - t0, "%s: %s" % (e.code().name, e.details())


def end_pod(c, pod, deadline=120):
    c.call("StopPodSandbox", grpc_timeout=deadline, pod_sandbox_id=pod)
    c.call("RemovePodSandbox", grpc_timeout=deadline, pod_sandbox_id=pod)


def remove_all(c, deadline=120):
    for p in c.call("ListPodSandbox", grpc_timeout=deadline).items:
        end_pod(c, p.id, deadline)


# ---- the runtimes --------------------------------------------------------------
class Crisp:
    name = "crisp"

    def start(self, cgroot, pid_ns):
        from pods_env import IMAGE, PodEnv
        self.cgroot = cgroot
        self.env = PodEnv()             # own bridge and subnet, busybox imported
        self.client = Client(self.env.suite.sock)
        self.w = Workload(self.pb, IMAGE, self.env.log_root, cgroot, pid_ns)

    def processes(self):
        """{pid: role} of every crisp process (never the containers')."""
        table = procs()
        tmp = self.env.suite.tmp
        out = {}
        for pid in descendants(self.env.suite.proc.pid, table):
            if cmdline(pid).startswith("imaged --unpack-server "):
                out[pid] = "imaged --unpack-server"       # its comm is "exe"
            elif table.get(pid, (0, ""))[1] in CRISP_PROCS:
                out[pid] = table[pid][1]
        for pid, (_, comm) in table.items():
            if comm == "conmon" and tmp in cmdline(pid):
                out[pid] = "conmon"
            elif comm == "pod-init" and self.in_cgroot(pid):
                out[pid] = "pod-init"
        return out

    def in_cgroot(self, pid):
        """pid is in a cgroup below the bench's cgroup root."""
        try:
            with open("/proc/%d/cgroup" % pid) as f:
                return "/%s/" % self.cgroot in f.read()
        except OSError:
            return False

    def log_mark(self):
        return len(self.env.suite.logtext())

    def daemon_log(self):
        return self.env.suite.logtext()

    def forks(self, table=None):
        """sandboxd's children that never exec'd (their exe is sandboxd's;
        their comm is the forking thread's name)."""
        table = table or procs()
        d = self.env.suite.daemon_pids() if self.env.suite.proc else {}
        if "sandboxd" not in d:
            return []
        try:
            exe = os.readlink("/proc/%d/exe" % d["sandboxd"])
        except OSError:
            return []
        out = []
        for pid, (pp, _) in table.items():
            try:
                if pp == d["sandboxd"] and os.readlink("/proc/%d/exe" % pid) == exe:
                    out.append(pid)
            except OSError:
                pass
        return out

    def strays(self):
        """Every process naming the suite's dirs that is not the suite
        itself: what a stuck or dead sandboxd leaves."""
        table = procs()
        suite = set(descendants(self.env.suite.proc.pid, table)) if self.env.suite.proc else set()
        return [pid for pid in table if pid not in suite and pid != os.getpid() and
                self.env.suite.tmp in cmdline(pid)]

    def unstick(self):
        """Kill sandboxd's forked children that have waited on a pipe for
        seconds (the namespace-pinning child of a RunPodSandbox that never
        answered): that RunPodSandbox then goes on. Returns how many."""
        kids = self.forks()
        for pid in kids:
            os.kill(pid, signal.SIGKILL)
        return len(kids)

    def stop(self):
        left = {}
        if not hasattr(self, "client"):
            return left                 # PodEnv cleans up after its own failed start
        try:
            if self.env.suite.proc:
                self.unstick()
            remove_all(self.client, 30)
            left = self.env.leftovers()
        except Exception as e:              # noqa: BLE001 (cleanup goes on)
            left["cri"] = str(e)[:300]
        self.client.close()
        try:
            self.env.cleanup()
        except Exception as e:              # noqa: BLE001 (cleanup goes on)
            left["cleanup"] = str(e)[:300]
            self.env.scrub()
            self.env.suite.cleanup()
            subprocess.run(["ip", "link", "del", self.env.bridge], capture_output=True)
        strays = self.strays()
        for pid in strays:
            os.kill(pid, signal.SIGKILL)
        if strays:
            left["strays killed"] = strays
        return left


class Containerd:
    name = "containerd"

    def start(self, cgroot, pid_ns, registry, archive):
        from pods_env import IMAGE
        self.subnet, self.bridge = free_subnet(150)
        self.tmp = tempfile.mkdtemp(prefix="crisp-bench-ctd-")
        self.sock = os.path.join(self.tmp, "containerd.sock")
        cni_dir = os.path.join(self.tmp, "cni")
        os.makedirs(cni_dir)
        with open(os.path.join(cni_dir, "10-bench.conflist"), "w") as f:
            json.dump(conflist("crisp-bench-ctd", self.bridge, self.subnet,
                               os.path.join(self.tmp, "ipam")), f)
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        conf = os.path.join(self.tmp, "config.toml")
        with open(conf, "w") as f:
            f.write("""version = 2
root = "{t}/root"
state = "{t}/state"
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{t}/ttrpc.sock"
[debug]
  address = "{t}/debug.sock"
[{cri}]
  sandbox_image = "{reg}/{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "{runc}"
        Root = "{t}/runc"
  [{cri}.cni]
    bin_dir = "{bin}"
    conf_dir = "{cni}"
  [{cri}.registry.mirrors."{reg}"]
    endpoint = ["http://{reg}"]
""".format(t=self.tmp, sock=self.sock, cri=cri, reg=registry, pause=PAUSE_TAG, runc=RUNC,
           bin=CNI_BIN, cni=cni_dir))
        self.log = open(os.path.join(self.tmp, "containerd.log"), "w")
        self.proc = subprocess.Popen(["containerd", "--config", conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.client = Client(self.sock)
        from crisp_env import wait_for
        wait_for(lambda: os.path.exists(self.sock) and self.client.ready(), 60, 0.05,
                 what="containerd's CRI")
        p = subprocess.run(["ctr", "--address", self.sock, "-n", "k8s.io", "images", "import",
                            "--index-name", IMAGE, archive], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("ctr images import: " + p.stderr)
        pb = self.pb
        self.client.call("PullImage", image=pb.ImageSpec(image="%s/%s" % (registry, PAUSE_TAG)))
        wait_for(lambda: self.client.call("ImageStatus", image=pb.ImageSpec(image=IMAGE)).image.id,
                 30, 0.1, what="containerd to know the imported image")
        logs = os.path.join(self.tmp, "logs")
        os.makedirs(logs)
        self.w = Workload(pb, IMAGE, logs, cgroot, pid_ns)

    def shims(self, table):
        return [pid for pid, (_, comm) in table.items()
                if comm.startswith("containerd-shim") and self.sock in cmdline(pid)]

    def processes(self):
        table = procs()
        out = {self.proc.pid: "containerd"}
        for shim in self.shims(table):
            out[shim] = "containerd-shim-runc-v2"
            for pid in descendants(shim, table):
                if table[pid][1] == "pause":
                    out[pid] = "pause"
        return out

    def stop(self):
        left = {}
        if not hasattr(self, "tmp"):
            return left
        if hasattr(self, "client"):
            try:
                remove_all(self.client)
            except Exception as e:          # noqa: BLE001 (cleanup goes on)
                left["cri"] = str(e)
            self.client.close()
        if hasattr(self, "proc"):
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        table = procs()
        shims = self.shims(table)
        if shims:
            left["shims"] = shims
        runc_root = os.path.join(self.tmp, "runc", "k8s.io")
        if os.path.isdir(runc_root):
            ids = subprocess.run([RUNC, "--root", runc_root, "list", "-q"],
                                 capture_output=True, text=True).stdout.split()
            for cid in ids:
                subprocess.run([RUNC, "--root", runc_root, "delete", "-f", cid],
                               capture_output=True)
            if ids:
                left["containers"] = ids
        for pid in shims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if mounts_under(self.tmp):
            left["mounts"] = mounts_under(self.tmp)
            umount_under(self.tmp)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        rules = drop_iptables(self.subnet)
        if rules:
            left["iptables"] = rules
        shutil.rmtree(self.tmp, ignore_errors=True)
        return left


# ---- the floor: runc and the CNI plugins alone ------------------------------------
class FloorWorker:
    """Runs in a child process (--floor-worker): a child subreaper, so that
    a container's init, whose `runc create` has exited, is its child."""

    def __init__(self, a):
        self.a = a
        self.tmp = a["tmp"]
        self.runc_root = os.path.join(self.tmp, "runc")
        with open(a["conflist"]) as f:
            self.net = json.load(f)
        self.env = dict(os.environ, CNI_PATH=CNI_BIN, CNI_IFNAME="eth0",
                        PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        subprocess.run([RUNC, "spec", "--bundle", self.tmp], check=True)
        spec_path = os.path.join(self.tmp, "config.json")
        with open(spec_path) as f:
            self.spec = json.load(f)
        os.unlink(spec_path)

    # CNI ----------------------------------------------------------------
    def plugin(self, cmd, conf, cid, netns, name):
        env = dict(self.env, CNI_COMMAND=cmd, CNI_CONTAINERID=cid, CNI_NETNS=netns,
                   CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=%s;"
                            "K8S_POD_INFRA_CONTAINER_ID=%s" % (name, cid))
        p = subprocess.run([os.path.join(CNI_BIN, conf["type"])], input=json.dumps(conf),
                           capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise RuntimeError("CNI %s %s: %s %s" % (cmd, conf["type"], p.stdout, p.stderr))
        return json.loads(p.stdout) if p.stdout.strip() else None

    def chain(self, cmd, cid, netns, name, prev=None):
        plugins = self.net["plugins"] if cmd == "ADD" else list(reversed(self.net["plugins"]))
        for pl in plugins:
            conf = dict(pl, name=self.net["name"], cniVersion=self.net["cniVersion"])
            if prev is not None:
                conf["prevResult"] = prev
            r = self.plugin(cmd, conf, cid, netns, name)
            if cmd == "ADD":
                prev = r
        return prev

    def loopback(self, cmd, cid, netns, name):
        self.plugin(cmd, {"cniVersion": "1.0.0", "name": "cni-loopback", "type": "loopback"},
                    cid, netns, name)

    # namespaces ---------------------------------------------------------
    def ns_create(self, nsdir):
        r, w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.close(go_w)
            if libc.unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0:
                os._exit(1)
            os.write(w, b"x")
            os.read(go_r, 1)
            os._exit(0)
        os.close(w)
        os.close(go_r)
        ok = os.read(r, 1) == b"x"
        err = 0
        for ns in ("net", "ipc", "uts") if ok else ():
            src = ("/proc/%d/ns/%s" % (pid, ns)).encode()
            if libc.mount(src, os.path.join(nsdir, ns).encode(), None, MS_BIND, None) != 0:
                err = ctypes.get_errno()
        os.close(go_w)
        os.close(r)
        os.waitpid(pid, 0)
        if not ok or err:
            raise OSError(err, "pinning the pod's namespaces")

    @staticmethod
    def ns_unpin(nsdir):
        for ns in ("net", "ipc", "uts"):
            libc.umount2(os.path.join(nsdir, ns).encode(), MNT_DETACH)

    # the bundle ---------------------------------------------------------
    def bundle(self, i, layer):
        d = os.path.join(self.tmp, "pod%d" % i)
        ns = os.path.join(d, "ns")
        os.makedirs(ns)
        for n in ("net", "ipc", "uts"):
            open(os.path.join(ns, n), "w").close()
        for sub in ("upper", "work", "rootfs"):
            os.makedirs(os.path.join(d, sub))
        rootfs = os.path.join(d, "rootfs")
        opts = "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (layer, d, d)
        if libc.mount(b"overlay", rootfs.encode(), b"overlay", 0, opts.encode()) != 0:
            raise OSError(ctypes.get_errno(), "overlay mount")
        files = {}
        for name, text in (("hosts", "127.0.0.1\tlocalhost\n"),
                           ("resolv.conf", "nameserver 127.0.0.53\n"),
                           ("hostname", "floor%d\n" % i)):
            files[name] = os.path.join(d, name)
            with open(files[name], "w") as f:
                f.write(text)
        spec = json.loads(json.dumps(self.spec))
        spec["root"] = {"path": rootfs, "readonly": False}
        spec.pop("hostname", None)
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["sleep", "3600"]
        spec["mounts"] += [{"destination": "/etc/" + n, "type": "bind", "source": files[n],
                            "options": ["rbind", "rprivate", "rw"]} for n in files]
        lin = spec["linux"]
        lin["namespaces"] = [{"type": "pid"}, {"type": "mount"}] + [
            {"type": t, "path": os.path.join(ns, n)}
            for t, n in (("network", "net"), ("ipc", "ipc"), ("uts", "uts"))]
        lin["cgroupsPath"] = "/%s/floor%d/ctr%d" % (self.a["cgroot"], i, i)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(spec, f)
        return d

    def runc(self, *args, out=None):
        p = subprocess.run([RUNC, "--root", self.runc_root] + list(args),
                           stdin=subprocess.DEVNULL, stdout=out or subprocess.PIPE,
                           stderr=out or subprocess.PIPE)
        if p.returncode != 0:
            raise RuntimeError("runc %s: %s" % (args[0], p.stderr))

    def one(self, i, layer):
        d = self.bundle(i, layer)
        cid = "floor%d-%s" % (i, os.urandom(4).hex())
        ns = os.path.join(d, "ns")
        netns = os.path.join(ns, "net")
        name = "floor%d" % i
        t = {}
        self.live = (cid, d, netns, name)
        timed(t, "netns", lambda: self.ns_create(ns))
        timed(t, "cni_lo_add", lambda: self.loopback("ADD", cid, netns, name))
        res = timed(t, "cni_add", lambda: self.chain("ADD", cid, netns, name))
        self.live = (cid, d, netns, name, res)
        with open(os.path.join(d, "ctr.log"), "w") as log:
            timed(t, "runc_create", lambda: self.runc(
                "create", "--bundle", d, "--pid-file", os.path.join(d, "pid"), cid, out=log))
        with open(os.path.join(d, "pid")) as f:
            pid = int(f.read())
        timed(t, "runc_start", lambda: self.runc("start", cid))

        def kill_wait():
            self.runc("kill", cid, "KILL")
            os.waitpid(pid, 0)
        timed(t, "runc_kill_wait", kill_wait)
        timed(t, "runc_delete", lambda: self.runc("delete", cid))
        timed(t, "cni_del", lambda: self.chain("DEL", cid, netns, name, res))
        timed(t, "cni_lo_del", lambda: self.loopback("DEL", cid, netns, name))
        timed(t, "netns_unpin", lambda: self.ns_unpin(ns))
        self.live = None
        umount_under(d)
        shutil.rmtree(d)
        t["total"] = sum(t.values())
        return t

    def scrub(self):
        if self.live:
            cid, d, netns, name = self.live[:4]
            subprocess.run([RUNC, "--root", self.runc_root, "delete", "-f", cid],
                           capture_output=True)
            try:
                self.chain("DEL", cid, netns, name, self.live[4] if len(self.live) > 4 else None)
                self.loopback("DEL", cid, netns, name)
            except (RuntimeError, ValueError):
                pass
        umount_under(self.tmp)

    def run(self):
        """One lifecycle per line read ("I"), one JSON line of times
        written for each, until EOF."""
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self.live = None
        try:
            for line in sys.stdin:
                t = self.one(int(line), self.a["layer"])
                sys.stdout.write(json.dumps(t) + "\n")
                sys.stdout.flush()
        finally:
            self.scrub()


class Floor:
    """The floor as a third "runtime": a worker process (FloorWorker) with a
    network (the same conflist on a bridge and /24 of its own) and the
    busybox layer unpacked."""
    name = "floor"

    def start(self, cgroot, layer_tar):
        self.proc = self.err = None
        self.subnet, self.bridge = free_subnet(100)
        self.tmp = tempfile.mkdtemp(prefix="crisp-bench-floor-")
        layer = os.path.join(self.tmp, "layer")
        os.makedirs(layer)
        with tarfile.open(layer_tar) as t:
            t.extractall(layer)
        conf = os.path.join(self.tmp, "net.conflist")
        with open(conf, "w") as f:
            json.dump(conflist("crisp-bench-floor", self.bridge, self.subnet,
                               os.path.join(self.tmp, "ipam")), f)
        arg = json.dumps({"tmp": self.tmp, "conflist": conf, "layer": layer, "cgroot": cgroot})
        self.err = open(os.path.join(self.tmp, "worker.err"), "w+")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                                      "--floor-worker", arg], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.n = 0

    def lifecycle(self):
        self.proc.stdin.write("%d\n" % self.n)
        self.proc.stdin.flush()
        self.n += 1
        line = self.proc.stdout.readline()
        if not line:
            self.err.seek(0)
            raise RuntimeError("the floor failed: " + self.err.read()[-3000:])
        return json.loads(line)

    def stop(self):
        left = {}
        if not hasattr(self, "tmp"):
            return left
        if self.proc:
            self.proc.stdin.close()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
        if self.err:
            self.err.close()
        if mounts_under(self.tmp):
            left["mounts"] = mounts_under(self.tmp)
            umount_under(self.tmp)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        rules = drop_iptables(self.subnet)
        if rules:
            left["iptables"] = rules
        shutil.rmtree(self.tmp, ignore_errors=True)
        return left


# ---- the measurements -----------------------------------------------------------------
def sequential(rts, fl, a):
    """a.lifecycles lifecycles of each runtime and of the floor, taken in
    turn (the order rotating), so that the machine's load falls on all
    alike; one warm-up each first, thrown away."""
    res = {rt.name: [] for rt in rts}
    floor_t = []
    jobs = [("floor", fl.lifecycle)] + [
        (rt.name, (lambda rt: lambda i: lifecycle(rt.client, rt.w, "seq%d" % i))(rt))
        for rt in rts]
    for name, job in jobs:
        job(-1) if name != "floor" else job()
    marks = {rt.name: rt.log_mark() for rt in rts if hasattr(rt, "log_mark")}
    for i in range(a.lifecycles):
        k = i % len(jobs)
        for name, job in jobs[k:] + jobs[:k]:
            if name == "floor":
                floor_t.append(job())
            else:
                res[name].append(job(i))
    time.sleep(0.2)                     # the daemons' last lines
    out = {}
    for rt in rts:
        out[rt.name] = {"seq": {k: [r[k] for r in res[rt.name]] for k in PHASES + ("total",)}}
        if rt.name in marks:
            out[rt.name]["log"] = rt.daemon_log()[marks[rt.name]:]
    return out, floor_t


def parallel_and_memory(rt, res, a):
    c, w = rt.client, rt.w
    with concurrent.futures.ThreadPoolExecutor(a.threads) as ex:
        t0 = time.perf_counter()
        started = list(ex.map(lambda i: try_start_pod(c, w, "par%d" % i, a.par_deadline),
                              range(a.parallel)))
        res["par_wall"] = time.perf_counter() - t0
        ok = [s for s in started if s[2] is None]
        res["par_each"] = [s[1] for s in ok]
        res["par_fail"] = [s[2] for s in started if s[2] is not None]
        t0 = time.perf_counter()
        list(ex.map(lambda s: end_pod(c, s[0]), ok))
        res["par_down"] = time.perf_counter() - t0
    if res["par_fail"]:
        # calls that never answered: free what holds them (crisp) and
        # remove every pod, so that the memory figures start clean
        res["par_unstuck"] = rt.unstick() if hasattr(rt, "unstick") else 0
        time.sleep(2)
        remove_all(c)

    pods = [start_pod(c, w, "mem%d" % i)[0] for i in range(a.mem_pods)]
    time.sleep(2)                       # let the new processes settle
    ps = rt.processes()
    res["mem"] = {pid: (role,) + mem_kib(pid) for pid, role in ps.items()}
    for pod in pods:
        end_pod(c, pod)


# ---- reports --------------------------------------------------------------------------
def f1(x):
    return "%.1f" % x


def report_run(out, res, fl, a):
    names = [n for n in ("crisp", "containerd") if n in res]
    out.append("Lifecycle, %d sequential pods (ms; median, p90, min-max):" % a.lifecycles)
    out.append("")
    hdr = "| phase |" + "".join(" %s median | %s p90 | %s min-max |" % (n, n, n) for n in names)
    hdr += " floor median | floor steps |"
    out.append(hdr)
    out.append("|---|" + "---|---|---|" * len(names) + "---|---|")
    fl_by = {k: [r[k] for r in fl] for k in FLOOR_STEPS + ("total",)}
    for ph in PHASES + ("total",):
        row = "| %s |" % ph
        for n in names:
            m, p90, lo, hi = stats([ms(x) for x in res[n]["seq"][ph]])
            row += " %s | %s | %s-%s |" % (f1(m), f1(p90), f1(lo), f1(hi))
        steps = FLOOR_STEPS if ph == "total" else FLOOR_OF[ph]
        if steps:
            fm = statistics.median([ms(sum(r[s] for s in steps)) for r in fl])
            row += " %s | %s |" % (f1(fm), "all" if ph == "total" else " + ".join(steps))
        else:
            row += " 0 | (nothing) |"
        out.append(row)
    out.append("")
    fm = statistics.median([ms(x) for x in fl_by["total"]])
    line = "floor total median %.1f ms" % fm
    if "crisp" in res:
        cm = statistics.median([ms(x) for x in res["crisp"]["seq"]["total"]])
        line += "; crisp %.1f ms = floor + %.1f ms (%+.0f%%)" % (cm, cm - fm, 100 * (cm - fm) / fm)
        if "containerd" in res:
            dm = statistics.median([ms(x) for x in res["containerd"]["seq"]["total"]])
            line += "; containerd %.1f ms = floor + %.1f ms (%+.0f%%); crisp/containerd %.2f" % (
                dm, dm - fm, 100 * (dm - fm) / fm, cm / dm)
    out.append(line + ".")
    out.append("")
    out.append("Floor steps (ms; median, p90, min-max of %d):" % len(fl))
    out.append("")
    out.append("| step | median | p90 | min-max |")
    out.append("|---|---|---|---|")
    for s in FLOOR_STEPS:
        m, p90, lo, hi = stats([ms(r[s]) for r in fl])
        out.append("| %s | %s | %s | %s-%s |" % (s, f1(m), f1(p90), f1(lo), f1(hi)))
    out.append("")
    out.append("Parallel: %d pods started from %d client threads (RunPodSandbox + "
               "CreateContainer + StartContainer each), then torn down (StopPodSandbox + "
               "RemovePodSandbox) from as many:" % (a.parallel, a.threads))
    out.append("")
    out.append("| runtime | started | wall s | pods/s | per pod median ms | p90 | min-max | "
               "teardown wall s |")
    out.append("|---|---|---|---|---|---|---|---|")
    fails = []
    for n in names:
        r = res[n]
        m, p90, lo, hi = stats([ms(x) for x in r["par_each"]] or [0])
        out.append("| %s | %d of %d | %.2f | %.1f | %s | %s | %s-%s | %.2f |" % (
            n, len(r["par_each"]), a.parallel, r["par_wall"], len(r["par_each"]) / r["par_wall"],
            f1(m), f1(p90), f1(lo), f1(hi), r["par_down"]))
        if r["par_fail"]:
            errs = sorted(set(r["par_fail"]))
            fails.append("%s: %d of %d pods failed to start within %.0f s per call (%s)%s" % (
                n, len(r["par_fail"]), a.parallel, a.par_deadline, "; ".join(errs)[:300],
                "; %d stuck children of sandboxd killed afterwards" % r["par_unstuck"]
                if r.get("par_unstuck") else ""))
    out.append("")
    if fails:
        out += ["**Failures:** " + f + "." for f in fails] + [""]
    out.append("Memory with %d pods running, one container each (KiB; RSS and PSS from "
               "smaps_rollup; containers' own processes not counted):" % a.mem_pods)
    out.append("")
    out.append("| runtime | process | count | RSS sum | PSS sum | RSS min-max each |")
    out.append("|---|---|---|---|---|---|")
    for n in names:
        mem = res[n]["mem"]
        roles = {}
        for role, rss, pss in mem.values():
            roles.setdefault(role, []).append((rss, pss))
        for role in sorted(roles, key=lambda r: -sum(x[0] for x in roles[r])):
            v = roles[role]
            out.append("| %s | %s | %d | %d | %d | %d-%d |" % (
                n, role, len(v), sum(x[0] for x in v), sum(x[1] for x in v),
                min(x[0] for x in v), max(x[0] for x in v)))
    out.append("")
    out.append("| runtime | processes | RSS total | PSS total | RSS per pod (total/%d) | "
               "PSS per pod (total/%d) | per-pod processes' RSS per pod | their PSS per pod |"
               % (a.mem_pods, a.mem_pods))
    out.append("|---|---|---|---|---|---|---|---|")
    per_pod_roles = ("conmon", "pod-init", "containerd-shim-runc-v2", "pause")
    for n in names:
        mem = res[n]["mem"].values()
        rss = sum(x[1] for x in mem)
        pss = sum(x[2] for x in mem)
        prss = sum(x[1] for x in mem if x[0] in per_pod_roles)
        ppss = sum(x[2] for x in mem if x[0] in per_pod_roles)
        k = a.mem_pods
        out.append("| %s | %d | %d | %d | %d | %d | %d | %d |" % (
            n, len(mem), rss, pss, rss // k, pss // k, prss // k, ppss // k))
    out.append("")


def daemon_times(log):
    """sandboxd's own duration of each call, from its log lines ("pod ID
    (ns/name) is ready (N ms)", "container ID started (N ms)", ...)."""
    import re
    kinds = {("pod", "is ready"): "RunPodSandbox", ("container", "created"): "CreateContainer",
             ("container", "started"): "StartContainer",
             ("container", "stopped"): "StopContainer",
             ("container", "removed"): "RemoveContainer", ("pod", "stopped"): "StopPodSandbox",
             ("pod", "removed"): "RemovePodSandbox"}
    out = {k: [] for k in kinds.values()}
    pat = re.compile(r"sandboxd\[\d+\] info: (pod|container) \S+ (.*)\((\d+) ms\)\s*$")
    for line in log.splitlines():
        m = pat.search(line)
        if not m:
            continue
        for (kind, words), phase in kinds.items():
            if m.group(1) == kind and words in m.group(2):
                out[phase].append(int(m.group(3)))
                break
    return out


def versions():
    def first(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    build = os.environ.get("CRISP_BUILD")
    return commit, first(["containerd", "--version"]), first([RUNC, "--version"]), build


# ---- main -------------------------------------------------------------------------------
def registry_up(reg):
    try:
        with urllib.request.urlopen("http://%s/v2/%s/manifests/%s" % (
                (reg,) + tuple(PAUSE_TAG.split(":"))), timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--lifecycles", type=int, default=30)
    ap.add_argument("--parallel", type=int, default=20)
    ap.add_argument("--threads", type=int, default=10)
    ap.add_argument("--par-deadline", type=float, default=60,
                    help="seconds a parallel start's call may take")
    ap.add_argument("--mem-pods", type=int, default=10)
    ap.add_argument("--pid-ns", choices=("container", "pod"), default="container")
    ap.add_argument("--registry", default="127.0.0.1:5000")
    ap.add_argument("--without-containerd", action="store_true")
    ap.add_argument("--floor-worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.floor_worker:
        FloorWorker(json.loads(a.floor_worker)).run()
        return
    if os.geteuid() != 0:
        sys.exit("bench_pods: run as root (it runs pods)")
    with_ctd = not a.without_containerd
    if with_ctd and not (shutil.which("containerd") and shutil.which("ctr")):
        sys.exit("bench_pods: containerd is not installed: apt-get install -y containerd "
                 "(it is never started as a service here), or pass --without-containerd")
    if with_ctd and not registry_up(a.registry):
        sys.exit("bench_pods: no registry with %s on %s (containerd's sandbox image): run the "
                 "conformance kit's setup-registry.sh, or pass --registry HOST:PORT"
                 % (PAUSE_TAG, a.registry))
    from crisp_env import cri_pb2
    from pods_env import busybox_layer, oci_archive
    pb = cri_pb2()
    Crisp.pb = Containerd.pb = pb
    commit, ctd_v, runc_v, build = versions()
    cgroot = "crisp-bench-" + os.urandom(3).hex()
    work = tempfile.mkdtemp(prefix="crisp-bench-pods-")
    out = ["%s, commit %s%s; %s; %s; pid namespace: %s" % (
        datetime.date.today().isoformat(), commit,
        " (binaries from CRISP_BUILD=%s)" % build if build else "",
        ctd_v if with_ctd else "containerd not run", runc_v, a.pid_ns), ""]
    try:
        archive = os.path.join(work, "busybox.tar")
        oci_archive(archive)
        layer_tar = os.path.join(work, "layer.tar")
        with open(layer_tar, "wb") as f:
            f.write(busybox_layer())
        for run in range(a.runs):
            out.append("### run %d of %d (load average before: %s)" % (run + 1, a.runs,
                                                                       loadavg()))
            out.append("")
            rts = [Crisp()] + ([Containerd()] if with_ctd else [])
            fl = Floor()
            started = []
            try:
                for rt in rts:
                    started.append(rt)
                    if rt.name == "crisp":
                        rt.start(cgroot, a.pid_ns)
                    else:
                        rt.start(cgroot, a.pid_ns, a.registry, archive)
                started.append(fl)
                fl.start(cgroot, layer_tar)
                res, fl_t = sequential(rts, fl, a)
                for rt in rts:
                    parallel_and_memory(rt, res[rt.name], a)
            finally:
                for rt in reversed(started):
                    left = rt.stop()
                    if left:
                        print("bench_pods: %s left %s" % (rt.name, left), file=sys.stderr)
            logs = daemon_times(res["crisp"].get("log", ""))
            report_run(out, res, fl_t, a)
            if any(logs.values()):
                out.append("crisp: sandboxd's own time per call in the sequential "
                           "lifecycles, from its log lines (ms, median), beside the client's:")
                out.append("")
                out.append("| phase | client median | sandboxd median | calls logged |")
                out.append("|---|---|---|---|")
                for ph in PHASES:
                    v = logs.get(ph) or [0]
                    out.append("| %s | %s | %s | %d |" % (
                        ph, f1(statistics.median([ms(x) for x in res["crisp"]["seq"][ph]])),
                        f1(statistics.median(v)), len(logs.get(ph) or [])))
                out.append("")
            out.append("(load average after: %s)" % loadavg())
            out.append("")
    finally:
        left = cgroup_rm_tree(cgroot)
        if left:
            print("bench_pods: cgroups left: %s" % left, file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
        print("\n".join(out))


if __name__ == "__main__":
    main()
