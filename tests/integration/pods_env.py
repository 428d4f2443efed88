"""pods_env: a real crisp suite that runs pods, for the pod and container
tests (test_pods*.py, test_containers*.py, test_recovery.py).

PodEnv starts crisp-up in temporary directories with crisp's default CNI
network on a bridge and subnet of its own (so that suites never share IPs,
and nothing collides with other runtimes on the machine), imports a busybox
image built on the spot from Debian's busybox-static (no registry), and
gives the CRI calls kubelet makes. cleanup() removes every pod it made
(through the CRI), checks nothing is left (mounts under its directories,
namespace pins, cgroups, conmon and pod-init processes), deletes its bridge
and its directories. Everything it starts it stops, by PID.
"""
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
import uuid

import grpc

import crisp_env
from crisp_env import Suite, cri_pb2, wait_for

BUSYBOX = "/bin/busybox"
IMAGE = "crisp.test/busybox:latest"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          "www-data:x:33:33:www-data:/var/www:/bin/false\n"
          "alice:x:1000:1000:alice:/home/alice:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/home:/bin/false\n")
GROUP = ("root:x:0:\ndaemon:x:1:\nwheel:x:10:root,alice\nwww-data:x:33:\n"
         "alice:x:1000:\nstaff:x:50:alice\nnogroup:x:65534:\n")


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _tarinfo(name, mode, data=None, kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name)
    ti.mode = mode
    ti.mtime = 1672531200
    ti.type = kind
    ti.linkname = link
    ti.size = len(data) if data is not None else 0
    return ti


def busybox_layer():
    """A tar of busybox-static with its applets as symlinks, /etc/passwd,
    /etc/group, and the dirs a container expects."""
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "etc", "tmp", "root", "home", "home/alice", "var", "proc", "sys", "dev"):
            t.addfile(_tarinfo(d, 0o1777 if d == "tmp" else 0o755, kind=tarfile.DIRTYPE))
        t.addfile(_tarinfo("bin/busybox", 0o755, bb), io.BytesIO(bb))
        for a in sorted(set(applets)):
            if a != "busybox":
                t.addfile(_tarinfo("bin/" + a, 0o777, kind=tarfile.SYMTYPE, link="busybox"))
        for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
            data = text.encode()
            t.addfile(_tarinfo(name, 0o644, data), io.BytesIO(data))
    return buf.getvalue()


def oci_archive(path, config_extra=None, layers=None):
    """An OCI image layout tar at path: busybox (and more layers), a config
    with Env PATH and Cmd sh. Returns the image id (config digest)."""
    layers = layers if layers is not None else [busybox_layer()]
    blobs = {}

    def blob(data, mt):
        d = sha256(data)
        blobs[d] = data
        return {"mediaType": mt, "digest": d, "size": len(data)}
    ldescs, diff_ids = [], []
    for tar in layers:
        gz = gzip.compress(tar, mtime=0)
        ldescs.append(blob(gz, "application/vnd.oci.image.layer.v1.tar+gzip"))
        diff_ids.append(sha256(tar))
    cfg = {"architecture": "amd64", "os": "linux",
           "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    for k, v in (config_extra or {}).items():
        cfg["config"][k] = v
    cdesc = blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": cdesc, "layers": ldescs}
    mdesc = blob(json.dumps(man).encode(), "application/vnd.oci.image.manifest.v1+json")
    index = {"schemaVersion": 2, "manifests": [mdesc]}
    with tarfile.open(path, "w") as t:
        def add(name, data):
            t.addfile(_tarinfo(name, 0o644, data), io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index).encode())
        for d, data in blobs.items():
            add("blobs/sha256/" + d[7:], data)
    return cdesc["digest"]


def proc_list():
    """[(pid, ppid, comm)] of every process."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        rest = st[st.rindex(")") + 2:].split()
        if rest[0] != "Z":
            out.append((int(d), int(rest[1]), comm))
    return out


def mounts_under(path):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if mp == path or mp.startswith(path.rstrip("/") + "/"):
                out.append(mp)
    return out


class PodEnv:
    """A suite that runs pods, with the busybox image imported."""

    def __init__(self, extra_conf="", image=True):
        self.net = os.urandom(3).hex()
        n = int(self.net[:2], 16)
        self.bridge = "crt" + self.net
        self.subnet = "10.%d.%d.0/24" % (200 + n % 50, int(self.net[2:4], 16))
        conf = ("default_bridge = %s\ndefault_subnet = %s\n%s" %
                (self.bridge, self.subnet, extra_conf))
        self.suite = Suite(extra_conf=conf, cni=False)
        try:
            self.suite.start()
            self.log_root = os.path.join(self.suite.tmp, "logs")
            os.makedirs(self.log_root)
            self.image_id = None
            if image:
                self.image_id = self.import_image(os.path.join(self.suite.tmp, "busybox.tar"),
                                                  IMAGE)
        except BaseException:
            self.cleanup()
            raise

    # ---- images ---------------------------------------------------------
    def ctl(self, *args, timeout=120):
        p = subprocess.run([os.path.join(crisp_env.BUILD, "crispctl"), "--runroot",
                            self.suite.runroot] + list(args), capture_output=True, text=True,
                           timeout=timeout)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        return p.stdout

    def import_image(self, path, tag, **kw):
        image_id = oci_archive(path, **kw)
        self.ctl("image", "import", path, "--tag", tag)
        return image_id

    # ---- CRI --------------------------------------------------------------
    def call(self, method, req=None, timeout=60, **fields):
        return self.suite.call(method, req, timeout=timeout, **fields)

    def pod_config(self, name=None, **kw):
        pb = cri_pb2()
        name = name or "pod-" + uuid.uuid4().hex[:8]
        cfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace="crisp-test",
                                           uid=uuid.uuid4().hex, attempt=0),
            log_directory=os.path.join(self.log_root, name), **kw)
        os.makedirs(cfg.log_directory, exist_ok=True)
        return cfg

    def run_pod(self, cfg=None, handler="", **kw):
        cfg = cfg or self.pod_config(**kw)
        r = self.call("RunPodSandbox", config=cfg, runtime_handler=handler)
        return r.pod_sandbox_id, cfg

    def ctr_config(self, name=None, cmd=None, args=None, image=IMAGE, **kw):
        pb = cri_pb2()
        name = name or "ctr-" + uuid.uuid4().hex[:8]
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=image), command=cmd or [], args=args or [],
            log_path=name + ".log", **kw)

    def create(self, pod_id, pod_cfg, ctr_cfg):
        r = self.call("CreateContainer", pod_sandbox_id=pod_id, config=ctr_cfg,
                      sandbox_config=pod_cfg)
        return r.container_id

    def run(self, pod_id, pod_cfg, cmd, **kw):
        cid = self.create(pod_id, pod_cfg, self.ctr_config(cmd=cmd, **kw))
        self.call("StartContainer", container_id=cid)
        return cid

    def status(self, cid, verbose=False):
        return self.call("ContainerStatus", container_id=cid, verbose=verbose).status

    def wait_exit(self, cid, timeout=30):
        pb = cri_pb2()
        return wait_for(lambda: (lambda s: s if s.state == pb.CONTAINER_EXITED else None)(
            self.status(cid)), timeout, what="container %s to exit" % cid[:12])

    def exec(self, cid, cmd, timeout=10, call_timeout=None):
        """ExecSync (its own timeout field is the command's)."""
        req = cri_pb2().ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout)
        return self.suite.call("ExecSync", req, timeout=call_timeout or timeout + 30)

    def stop(self, cid, timeout):
        """StopContainer (its timeout field is the grace period)."""
        req = cri_pb2().StopContainerRequest(container_id=cid, timeout=timeout)
        return self.suite.call("StopContainer", req, timeout=timeout + 60)

    def log_lines(self, cid):
        path = self.status(cid).log_path
        with open(path) as f:
            return f.read().splitlines()

    def remove_all(self):
        for p in self.call("ListPodSandbox").items:
            self.call("StopPodSandbox", pod_sandbox_id=p.id)
            self.call("RemovePodSandbox", pod_sandbox_id=p.id)

    # ---- what must be gone --------------------------------------------------
    def leftovers(self):
        """What the suite still holds on the machine: mounts under its
        dirs, pods/containers dirs, conmon and pod-init processes."""
        left = {}
        m = mounts_under(self.suite.tmp)
        if m:
            left["mounts"] = m
        for d in ("pods", "containers"):
            p = os.path.join(self.suite.runroot, d)
            if os.path.isdir(p) and os.listdir(p):
                left[d] = os.listdir(p)
        p = os.path.join(self.suite.root, "containers")
        if os.path.isdir(p) and os.listdir(p):
            left["data"] = os.listdir(p)
        procs = [c for c in proc_list() if c[2] in ("conmon", "pod-init") and
                 self._ours(c[0])]
        if procs:
            left["procs"] = procs
        return left

    def _ours(self, pid):
        """pid names this suite's directories (conmon, sandboxd), or is a
        pod-init in one of its pods' cgroups."""
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%d/cgroup" % pid) as f:
                cg = f.read()
        except OSError:
            return False
        pods = os.path.join(self.suite.runroot, "pods")
        mine = os.listdir(pods) if os.path.isdir(pods) else []
        return self.suite.tmp.encode() in cmd or any(p in cg for p in mine)

    def scrub(self):
        """After a failed test: whatever the suite left on the machine goes
        (containers outlive the daemons by design, so they are removed with
        runc itself; then the mounts, pod cgroups and processes)."""
        runtime = os.path.join(self.suite.runroot, "runtime")
        for h in os.listdir(runtime) if os.path.isdir(runtime) else []:
            root = os.path.join(runtime, h)
            ids = subprocess.run(["runc", "--root", root, "list", "-q"], capture_output=True,
                                 text=True).stdout.split()
            for cid in ids:
                subprocess.run(["runc", "--root", root, "delete", "-f", cid],
                               capture_output=True)
        for pid, _, comm in proc_list():
            if comm in ("conmon", "pod-init", "sandboxd") and self._ours(pid):
                os.kill(pid, 9)
        pods = os.path.join(self.suite.runroot, "pods")
        for pod in os.listdir(pods) if os.path.isdir(pods) else []:
            for c in os.listdir("/sys/fs/cgroup"):
                top = os.path.join("/sys/fs/cgroup", c, "crisp", "pods", pod)
                for root, dirs, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                    try:
                        os.rmdir(root)
                    except OSError:
                        pass
        for m in sorted(mounts_under(self.suite.tmp), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)

    def cleanup(self):
        """Remove every pod, stop the suite, scrub, and fail when a daemon,
        conmon or pod-init printed a sanitizer report on the way (`make
        SANITIZE=1` builds; LeakSanitizer reports at exit)."""
        report = None
        try:
            if self.suite.proc is not None:
                try:
                    self.remove_all()
                except grpc.RpcError:
                    pass
        finally:
            try:
                self.suite.stop()
                text = self.suite.logtext()
                if any(m in text for m in SANITIZER_MARKS):
                    report = text[-6000:]
            finally:
                self.scrub()
                self.suite.cleanup()
                subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        assert report is None, "sanitizer report in the suite's log:\n" + report
