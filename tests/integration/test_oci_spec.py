"""sandboxd/oci's spec builder end to end, with the real runc.

oci_spec_probe.c (built here from the sources, with ASan+UBSan) takes a
CRI ContainerConfig and PodSandboxConfig and an image runtime config,
serialised by this test as kubelet's would arrive, builds the spec against
a busybox rootfs (Debian's busybox-static and its applet links, with an
etc/passwd and etc/group of its own) and writes BUNDLE/config.json; the
test runs it with `runc run` and checks what the container sees: its ids
and groups, capabilities, environment, mounts, masked and read-only paths,
the pod's namespaces (pinned here with unshare) and sysctls.

Everything made here is removed: runc's state and cgroups (runc run
deletes its container; `runc delete --force` and rmdir are the fallback),
the namespace pins (unmounted), the temporary directories.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_peer import modules  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CRISP_BUILD", os.path.join(REPO, "build"))
RUNC = shutil.which("runc")
BUSYBOX = "/bin/busybox"
INVALID_ARGUMENT, NOT_FOUND = 3, 5
# containerd's default capabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID
# SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
DEFAULT_CAPS = 0xa80425fb
CAP = {"CHOWN": 0, "NET_ADMIN": 12, "SYS_TIME": 25}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not RUNC or not os.path.exists(BUSYBOX),
    reason="needs root, runc and busybox-static")

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n")
GROUP = ("root:x:0:\n"
         "wheel:x:10:root\n"
         "audio:x:29:alice\n"
         "video:x:44:alice\n"
         "alice:x:1000:\n")


def build_probe(out):
    srcs = (["tests/integration/oci_spec_probe.c", "common/error.c", "common/fsutil.c",
             os.path.join(BUILD, "gen", "cri.pb-c.c"), os.path.join(BUILD, "gen", "crisp.pb-c.c")]
            + sorted("sandboxd/oci/" + f for f in os.listdir(os.path.join(REPO, "sandboxd", "oci"))
                     if f.endswith(".c")))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "json-c", "libprotobuf-c"],
                           check=True, capture_output=True, text=True).stdout.split()
    cmd = ["cc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
           "-Wno-unused-parameter", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
           "-fno-sanitize-recover=undefined", "-I.", "-I" + os.path.join(BUILD, "gen"),
           "-o", out] + srcs + flags
    subprocess.run(cmd, check=True, cwd=REPO)
    return out


def make_rootfs(path):
    """busybox-static, a link per applet, an /etc of its own."""
    os.makedirs(os.path.join(path, "bin"))
    shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for a in applets:
        if a != "busybox" and "/" not in a:
            os.symlink("busybox", os.path.join(path, "bin", a))
    os.makedirs(os.path.join(path, "etc"))
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write(GROUP)
    for d in ("proc", "sys", "dev", "tmp", "work"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    os.chmod(os.path.join(path, "tmp"), 0o1777)


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.pb, self.cri = modules()
        self.probe = build_probe(os.path.join(tmp, "oci_spec_probe"))
        self.runc_root = os.path.join(tmp, "runc")
        os.makedirs(self.runc_root)
        self.n = 0

    def new_dir(self, name):
        self.n += 1
        d = os.path.join(self.tmp, "%s%d" % (name, self.n))
        os.makedirs(d)
        return d

    def pod_files(self):
        d = self.new_dir("pod")
        files = {}
        for name, text in (("hostname", "pod1\n"), ("hosts", "127.0.0.1 localhost pod1\n"),
                           ("resolv.conf", "nameserver 192.0.2.53\n")):
            files[name] = os.path.join(d, name)
            with open(files[name], "w") as f:
                f.write(text)
        files["shm"] = os.path.join(d, "shm")
        os.makedirs(files["shm"])
        os.chmod(files["shm"], 0o1777)
        return files

    def build(self, cfg, pod, image=None, args=()):
        """Build a spec in a fresh bundle: (result, bundle, rootfs)."""
        bundle = self.new_dir("bundle")
        rootfs = os.path.join(bundle, "rootfs")
        make_rootfs(rootfs)
        paths = {}
        for name, msg in (("container", cfg), ("pod", pod), ("image", image)):
            if msg is None:
                continue
            paths[name] = os.path.join(bundle, name + ".pb")
            with open(paths[name], "wb") as f:
                f.write(msg.SerializeToString())
        cmd = [self.probe, "--rootfs", rootfs, "--bundle", bundle]
        for name, p in paths.items():
            cmd += ["--" + name, p]
        p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert "ERROR: AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
        return json.loads(p.stdout), bundle, rootfs

    def run(self, bundle):
        """runc run the bundle: (exit status, stdout, stderr)."""
        cid = "crisp-oci-" + uuid.uuid4().hex[:12]
        try:
            p = subprocess.run([RUNC, "--root", self.runc_root, "run", "--bundle", bundle, cid],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60)
            return p.returncode, p.stdout, p.stderr
        finally:
            subprocess.run([RUNC, "--root", self.runc_root, "delete", "--force", cid],
                           capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def env():
    tmp = tempfile.mkdtemp(prefix="crisp-oci-")
    try:
        yield Env(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def cgroup_path():
    """A cgroup for one container (runc makes and removes it)."""
    name = "crisp-oci-test-" + uuid.uuid4().hex[:12]
    yield "/" + name
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        if name in dirs:
            try:
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass
        if root.count("/") > 4:
            dirs[:] = []


def container(env, script, **kw):
    c = env.cri.ContainerConfig(
        metadata=env.cri.ContainerMetadata(name="c1"),
        image=env.cri.ImageSpec(image="busybox"),
        command=["/bin/sh", "-c", script], **kw)
    return c


def pod_config(env, **kw):
    return env.cri.PodSandboxConfig(
        metadata=env.cri.PodSandboxMetadata(name="pod1", namespace="default", uid="u1"),
        hostname="pod1", **kw)


def own_caps():
    """Our effective capabilities, as sandboxd passes its own."""
    with open("/proc/self/status") as f:
        return int(status_field(f.read(), "CapEff"), 16)


def host_pod_args(env, files, cgroup):
    """The pod's files, its namespaces the host's (host network, IPC, UTS)."""
    return ["--hostname-file", files["hostname"], "--hosts-file", files["hosts"],
            "--resolv-file", files["resolv.conf"], "--shm", files["shm"],
            "--cgroups-path", cgroup, "--all-caps", "%x" % own_caps()]


def status_field(out, name):
    for line in out.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no %s in %r" % (name, out))


def kv_lines(out):
    d = {}
    for line in out.splitlines():
        if "=" in line and not line.startswith(" "):
            k, v = line.split("=", 1)
            d.setdefault(k, v)
    return d


def test_runc_runs_the_default_spec(env, cgroup_path):
    files = env.pod_files()
    script = ("echo ID=$(id); echo PID=$$; echo HOSTNAME=$HOSTNAME; echo PWD=$(pwd); "
              "echo PATHV=$PATH; echo FOO=$FOO; echo ETCHOST=$(cat /etc/hostname); "
              "echo RESOLV=$(cat /etc/resolv.conf); echo MASKED=$(wc -c < /proc/timer_list); "
              "if echo 1 > /proc/sys/kernel/shm_rmid_forced; then echo SYSRO=no; else echo SYSRO=yes; fi; "
              "echo SYSFS=$(awk '$2 == \"/sys\" {print $4}' /proc/self/mounts | cut -d, -f1); "
              "echo SHM=$(awk '$2 == \"/dev/shm\" {print $4}' /proc/self/mounts); "
              "echo OOM=$(cat /proc/self/oom_score_adj); "
              "echo NULLDEV=$(ls -l /dev/null | cut -c1); "
              "if head -c1 /dev/kmsg >/dev/null 2>&1; then echo KMSG=yes; else echo KMSG=no; fi; "
              "cat /proc/self/status")
    cfg = container(env, script, working_dir="/work",
                    envs=[env.cri.KeyValue(key="FOO", value=b"from cri")],
                    linux=env.cri.LinuxContainerConfig(
                        resources=env.cri.LinuxContainerResources(oom_score_adj=500)))
    image = env.pb.ImageRuntimeConfig(env=["PATH=/bin:/usr/bin", "FOO=from image"])
    res, bundle, _ = env.build(cfg, pod_config(env), image, host_pod_args(env, files, cgroup_path))
    assert res["ok"], res
    assert (res["uid"], res["gid"], res["groups"], res["stop_signal"]) == (0, 0, [0, 10], 15)
    rc, out, err = env.run(bundle)
    assert rc == 0, (out, err)
    v = kv_lines(out)
    assert v["ID"] == "uid=0(root) gid=0(root) groups=0(root),10(wheel)"
    assert v["PID"] == "1"                          # a PID namespace of its own
    assert v["HOSTNAME"] == "pod1"
    assert v["PWD"] == "/work"
    assert v["PATHV"] == "/bin:/usr/bin"            # the image's replaced the default
    assert v["FOO"] == "from cri"
    assert v["ETCHOST"] == "pod1"
    assert v["RESOLV"] == "nameserver 192.0.2.53"
    assert v["MASKED"] == "0"                       # masked (bound to /dev/null)
    assert v["SYSRO"] == "yes"                      # /proc/sys read-only
    assert v["SYSFS"] == "ro"
    assert "nosuid" in v["SHM"] and "noexec" in v["SHM"] and "nodev" in v["SHM"]
    assert v["OOM"] == "500"
    assert v["NULLDEV"] == "c"
    assert v["KMSG"] == "no"                        # the device cgroup denies the rest
    assert int(status_field(out, "CapEff"), 16) == DEFAULT_CAPS
    assert int(status_field(out, "CapBnd"), 16) == DEFAULT_CAPS
    assert int(status_field(out, "CapInh"), 16) == 0
    assert status_field(out, "NoNewPrivs") == "0"


def test_runc_user_groups_and_capabilities(env, cgroup_path):
    files = env.pod_files()
    sc = env.cri.LinuxContainerSecurityContext(
        run_as_user=env.cri.Int64Value(value=1000), supplemental_groups=[3000],
        no_new_privs=True,
        capabilities=env.cri.Capability(add_capabilities=["NET_ADMIN", "sys_time"],
                                        drop_capabilities=["CAP_CHOWN"]))
    cfg = container(env, "id; cat /proc/self/status", linux=env.cri.LinuxContainerConfig(security_context=sc))
    res, bundle, _ = env.build(cfg, pod_config(env), None, host_pod_args(env, files, cgroup_path))
    assert res["ok"], res
    assert (res["uid"], res["gid"], res["groups"]) == (1000, 1000, [29, 44, 1000, 3000])
    rc, out, err = env.run(bundle)
    assert rc == 0, (out, err)
    assert out.splitlines()[0] == \
        "uid=1000(alice) gid=1000(alice) groups=29(audio),44(video),1000(alice),3000"
    want = (DEFAULT_CAPS | 1 << CAP["NET_ADMIN"] | 1 << CAP["SYS_TIME"]) & ~(1 << CAP["CHOWN"])
    assert int(status_field(out, "CapBnd"), 16) == want
    assert int(status_field(out, "CapEff"), 16) == 0        # not root: no ambient caps
    assert status_field(out, "NoNewPrivs") == "1"
    # Strict: only the requested groups
    sc.supplemental_groups_policy = env.cri.Strict
    cfg = container(env, "id", linux=env.cri.LinuxContainerConfig(security_context=sc))
    res, bundle, _ = env.build(cfg, pod_config(env), None, host_pod_args(env, files, cgroup_path))
    rc, out, err = env.run(bundle)
    assert rc == 0, (out, err)
    assert out.strip() == "uid=1000(alice) gid=1000(alice) groups=1000(alice),3000"


def test_runc_mounts_and_readonly_rootfs(env, cgroup_path):
    files = env.pod_files()
    rw, ro = env.new_dir("rw"), env.new_dir("ro")
    link = os.path.join(env.tmp, "rwlink%d" % env.n)
    os.symlink(rw, link)
    with open(os.path.join(ro, "seen"), "w") as f:
        f.write("host file\n")
    script = ("if touch /newfile 2>/dev/null; then echo ROOT=rw; else echo ROOT=ro; fi; "
              "if touch /ro/x 2>/dev/null; then echo RO=rw; else echo RO=ro; fi; "
              "echo SEEN=$(cat /ro/seen); echo written > /data/out; echo DATA=$?; "
              "if echo x >> /etc/hosts 2>/dev/null; then echo HOSTS=rw; else echo HOSTS=ro; fi; "
              "echo VOL=$(ls -d /var/vol)")
    sc = env.cri.LinuxContainerSecurityContext(readonly_rootfs=True)
    cfg = container(env, script, linux=env.cri.LinuxContainerConfig(security_context=sc),
                    mounts=[env.cri.Mount(container_path="/data", host_path=link),
                            env.cri.Mount(container_path="/ro", host_path=ro, readonly=True)])
    image = env.pb.ImageRuntimeConfig(volumes=["/var/vol", "/../escape"])
    res, bundle, rootfs = env.build(cfg, pod_config(env), image,
                                    host_pod_args(env, files, cgroup_path))
    assert res["ok"], res
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    assert {m["destination"]: m["source"] for m in spec["mounts"]}["/data"] == rw
    assert os.path.isdir(os.path.join(rootfs, "var", "vol"))
    rc, out, err = env.run(bundle)
    assert rc == 0, (out, err)
    v = kv_lines(out)
    assert (v["ROOT"], v["RO"], v["SEEN"], v["DATA"], v["HOSTS"]) == ("ro", "ro", "host file", "0", "ro")
    assert v["VOL"] == "/var/vol"
    with open(os.path.join(rw, "out")) as f:
        assert f.read() == "written\n"


def test_runc_recursive_read_only(env, cgroup_path):
    """critest's RRO case: a read-only mount whose tmpfs submount is
    read-only too only with rro."""
    files = env.pod_files()
    host = env.new_dir("rro")
    sub = os.path.join(host, "tmpfs")
    os.makedirs(sub)
    subprocess.run(["mount", "-t", "tmpfs", "none", sub], check=True, timeout=30)
    try:
        script = ("if touch /mnt/tmpfs/x 2>/dev/null; then echo SUB=rw; else echo SUB=ro; fi; "
                  "if touch /mnt/y 2>/dev/null; then echo TOP=rw; else echo TOP=ro; fi")
        for rro, want in ((False, "rw"), (True, "ro")):
            m = env.cri.Mount(container_path="/mnt", host_path=host, readonly=True,
                              recursive_read_only=rro, selinux_relabel=True)
            res, bundle, _ = env.build(container(env, script, mounts=[m]), pod_config(env), None,
                                       host_pod_args(env, files, cgroup_path) + ["--rro"])
            assert res["ok"], res
            rc, out, err = env.run(bundle)
            assert rc == 0, (out, err)
            v = kv_lines(out)
            assert (v["TOP"], v["SUB"]) == ("ro", want), (rro, out)
    finally:
        subprocess.run(["umount", sub], capture_output=True, timeout=30)


def test_runc_privileged_bidirectional_mount(env, cgroup_path):
    """A privileged container (every capability, the host's devices) mounts
    a tmpfs inside a PROPAGATION_BIDIRECTIONAL mount: the host sees it. The
    host dir is made a shared mount first (else: FAILED_PRECONDITION)."""
    files = env.pod_files()
    host = env.new_dir("shared")
    sc = env.cri.LinuxContainerSecurityContext(privileged=True)
    pod_sc = env.cri.LinuxSandboxSecurityContext(privileged=True)
    pod = pod_config(env, linux=env.cri.LinuxPodSandboxConfig(security_context=pod_sc))
    m = env.cri.Mount(container_path="/prop", host_path=host,
                      propagation=env.cri.PROPAGATION_BIDIRECTIONAL)
    script = ("mkdir /prop/sub && mount -t tmpfs -o size=1m crisp-prop /prop/sub && echo MOUNTED=$?; "
              "echo SYS=$(awk '$2 == \"/sys\" {print $4}' /proc/self/mounts | cut -d, -f1); "
              "echo NULL=$(ls -l /dev/null | cut -c1); cat /proc/self/status")
    cfg = container(env, script, mounts=[m], linux=env.cri.LinuxContainerConfig(security_context=sc))
    res, _, _ = env.build(cfg, pod, None, host_pod_args(env, files, cgroup_path))
    assert not res["ok"] and res["code"] == 9 and "not a shared mount" in res["message"], res
    subprocess.run(["mount", "--bind", host, host], check=True, timeout=30)
    try:
        subprocess.run(["mount", "--make-shared", host], check=True, timeout=30)
        res, bundle, _ = env.build(cfg, pod, None, host_pod_args(env, files, cgroup_path))
        assert res["ok"], res
        rc, out, err = env.run(bundle)
        assert rc == 0, (out, err)
        v = kv_lines(out)
        assert v["MOUNTED"] == "0" and v["NULL"] == "c" and v["SYS"] == "rw"
        assert int(status_field(out, "CapEff"), 16) == own_caps() & ((1 << 41) - 1)
        with open("/proc/self/mountinfo") as f:
            assert any(l.split()[4] == os.path.join(host, "sub") for l in f), \
                "the container's mount did not reach the host"
    finally:
        subprocess.run(["umount", "-R", "-l", host], capture_output=True, timeout=30)


class Pins:
    """A network, IPC and UTS namespace pinned on files (as sandboxd pins a
    pod's), the UTS one with its own hostname; unmounted at the end."""

    def __init__(self, d):
        self.paths = {n: os.path.join(d, n) for n in ("net", "ipc", "uts")}
        for p in self.paths.values():
            open(p, "w").close()

    def pin(self, hostname):
        subprocess.run(["unshare", "--net=" + self.paths["net"], "--ipc=" + self.paths["ipc"],
                        "--uts=" + self.paths["uts"], "hostname", hostname],
                       check=True, timeout=30)

    def close(self):
        for p in self.paths.values():
            subprocess.run(["umount", p], capture_output=True, timeout=30)


def test_runc_joins_the_pod_namespaces_with_sysctls(env, cgroup_path):
    files = env.pod_files()
    pins = Pins(env.new_dir("pins"))
    try:
        pins.pin("podhost")
        with open("/proc/sys/kernel/shm_rmid_forced") as f:
            host_rmid = f.read()
        script = ("echo UTS=$(hostname); echo RMID=$(cat /proc/sys/kernel/shm_rmid_forced); "
                  "echo PORTS=$(cat /proc/sys/net/ipv4/ip_local_port_range); "
                  "echo LINKS=$(ls /sys/class/net | tr '\\n' ' ')")
        cfg = container(env, script)
        pod = pod_config(env, linux=env.cri.LinuxPodSandboxConfig(sysctls={
            "kernel.shm_rmid_forced": "1", "net/ipv4/ip_local_port_range": "20000 30000"}))
        args = host_pod_args(env, files, cgroup_path) + [
            "--net-ns", pins.paths["net"], "--ipc-ns", pins.paths["ipc"], "--uts-ns", pins.paths["uts"]]
        res, bundle, _ = env.build(cfg, pod, None, args)
        assert res["ok"], res
        rc, out, err = env.run(bundle)
        assert rc == 0, (out, err)
        v = kv_lines(out)
        assert v["UTS"] == "podhost"
        assert v["RMID"] == "1"
        assert v["PORTS"].split() == ["20000", "30000"]
        assert v["LINKS"].split() == ["lo"]
        with open("/proc/sys/kernel/shm_rmid_forced") as f:
            assert f.read() == host_rmid            # the host's is untouched
        # the same sysctls with the host's namespaces are refused before runc
        res, _, _ = env.build(cfg, pod, None, host_pod_args(env, files, cgroup_path))
        assert not res["ok"] and res["code"] == INVALID_ARGUMENT, res
        assert "sysctl" in res["message"]
    finally:
        pins.close()


def test_probe_refusals(env, cgroup_path):
    files = env.pod_files()
    args = host_pod_args(env, files, cgroup_path)
    sc = env.cri.LinuxContainerSecurityContext(run_as_group=env.cri.Int64Value(value=5))
    res, _, _ = env.build(container(env, "true", linux=env.cri.LinuxContainerConfig(security_context=sc)),
                          pod_config(env), None, args)
    assert not res["ok"] and res["code"] == INVALID_ARGUMENT and "run_as_group" in res["message"]
    missing = os.path.join(env.tmp, "no-such-dir")
    res, _, _ = env.build(container(env, "true", mounts=[env.cri.Mount(container_path="/m", host_path=missing)]),
                          pod_config(env), None, args)
    assert not res["ok"] and res["code"] == NOT_FOUND and "config.mounts[0].host_path" in res["message"]
    assert not os.path.exists(missing)
    res, _, _ = env.build(env.cri.ContainerConfig(metadata=env.cri.ContainerMetadata(name="c")),
                          pod_config(env), None, args)
    assert not res["ok"] and res["message"] == "no command specified"
