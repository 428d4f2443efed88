#!/usr/bin/python3
"""bench_pull: how fast crisp pulls and unpacks an image through the CRI,
and how much memory imaged needs for it (measured, not a test); the same
pull by containerd's CRI plugin when it is installed (Debian's
`containerd`, 1.6.20), side by side.

    /usr/bin/python3 scripts/bench_pull.py [--compare containerd] [--runs 3]
                                           [--layers 5] [--layer-mib 25]

The image: a busybox layer and LAYERS layers of LAYER_MIB MiB of
incompressible data each (gzip level 1), built as an OCI layout and pushed
with skopeo to a local docker-registry (tests/integration/registry_env.py).
Each run is a cold pull: the image is removed (RemoveImage) and its blobs
and unpacked layers (containerd: its overlayfs snapshots) are checked gone
from the runtime's store before PullImage is timed. The
time is PullImage's, from the call to the answer (download, digest checks,
decompression, unpack, commit). Memory: the peak resident set of the
runtime's daemon during the pull, alone and with its children, sampled
every 5 ms (crisp: imaged, and imaged with its unpack children, up to
[image] max_concurrent_downloads of them; containerd: its one process
unpacks in itself), and the daemon's VmHWM at the end. Prints a Markdown
table for docs/PERFORMANCE.md.
"""
import argparse
import gzip
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import grpc  # noqa: E402
from crisp_env import Suite, cri_pb2, method_table, proc_children, wait_for  # noqa: E402
from registry_env import (MT_OCI_LAYER_GZ, MT_OCI_MANIFEST, RegistryEnv,  # noqa: E402
                          layer_tar, sha256)
from images_common import build_image  # noqa: E402

MIB = 1 << 20


def rss_kib(pid, key="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid):
    out = [pid]
    for k in proc_children(pid):
        out += tree(k)
    return out


class Sampler:
    """Peak VmRSS of a process alone and summed with its descendants."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = self.peak_self = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            self.peak_self = max(self.peak_self, rss_kib(self.pid))
            self.peak = max(self.peak, sum(rss_kib(p) for p in tree(self.pid)))
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.thread.join()


class Client:
    def __init__(self, sock):
        self.channel = grpc.insecure_channel("unix:" + sock)
        self.table = method_table()

    def call(self, name, timeout=600, **kw):
        path = next(p for p in self.table if p.endswith("/" + name))
        req_cls, resp_cls, _ = self.table[path]
        fn = self.channel.unary_unary(path, request_serializer=req_cls.SerializeToString,
                                      response_deserializer=resp_cls.FromString)
        return fn(req_cls(**kw), timeout=timeout)


def ready(client):
    try:
        st = client.call("Status", timeout=2)
    except grpc.RpcError:
        return False
    return any(c.type == "RuntimeReady" and c.status for c in st.status.conditions)


class Crisp:
    name = "crisp"

    def start(self, reg):
        self.s = Suite()
        self.s.start()
        self.client = Client(self.s.sock)

    def pid(self):
        return self.s.daemon_pids()["imaged"]

    def blobs_dir(self):
        return os.path.join(self.s.root, "images", "blobs", "sha256")

    def layers_left(self):
        d = os.path.join(self.s.root, "images", "layers", "sha256")
        return os.listdir(d) if os.path.isdir(d) else []

    def hwm_kib(self):
        return rss_kib(self.pid(), "VmHWM")

    def stop(self):
        self.s.cleanup()


class Containerd:
    name = "containerd"

    def start(self, reg):
        self.tmp = tempfile.mkdtemp(prefix="crisp-bench-ctd-")
        self.sock = os.path.join(self.tmp, "containerd.sock")
        conf = os.path.join(self.tmp, "config.toml")
        with open(conf, "w") as f:
            f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                    '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s/ttrpc.sock"\n'
                    '[debug]\n  address = "%s/debug.sock"\n'
                    '[plugins."io.containerd.grpc.v1.cri".registry.mirrors."%s"]\n'
                    '  endpoint = ["%s"]\n'
                    % (self.tmp, self.tmp, self.sock, self.tmp, self.tmp, reg.host, reg.url))
        self.proc = subprocess.Popen(["containerd", "--config", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = Client(self.sock)
        wait_for(lambda: os.path.exists(self.sock) and ready(self.client), 30, 0.01)

    def pid(self):
        return self.proc.pid

    def blobs_dir(self):
        return os.path.join(self.tmp, "root", "io.containerd.content.v1.content", "blobs",
                            "sha256")

    def layers_left(self):
        d = os.path.join(self.tmp, "root", "io.containerd.snapshotter.v1.overlayfs",
                         "snapshots")
        return os.listdir(d) if os.path.isdir(d) else []

    def hwm_kib(self):
        return rss_kib(self.proc.pid, "VmHWM")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # containerd leaves its snapshots' overlay mounts behind at worst
        subprocess.run(["sh", "-c", "grep -o '%s[^ ]*' /proc/mounts | sort -r | "
                        "xargs -r -n1 umount -l" % self.tmp], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


def build(env, reg, layers, layer_mib):
    """The benchmark image, pushed to reg as bench/big:1."""
    lay = env.layout("bench")
    descs = []
    tar = layer_tar({"bin/busybox": (env.busybox, 0o755)})
    gz = gzip.compress(tar, compresslevel=1, mtime=0)
    descs.append((dict(lay.blob(gz), mediaType=MT_OCI_LAYER_GZ), sha256(tar)))
    for i in range(layers):
        tar = layer_tar({"data/layer%d" % i: (os.urandom(layer_mib * MIB), 0o644)})
        gz = gzip.compress(tar, compresslevel=1, mtime=0)
        descs.append((dict(lay.blob(gz), mediaType=MT_OCI_LAYER_GZ), sha256(tar)))
    img = build_image(lay, descs)
    lay.tag("1", MT_OCI_MANIFEST, img["desc"])
    env.push(lay, "1", reg, "bench/big:1")
    unpacked = sum(layer_mib * MIB for _ in range(layers)) + len(env.busybox)
    return img, unpacked


def cold_pull(rt, ref, img):
    pb = cri_pb2()
    rt.client.call("RemoveImage", image=pb.ImageSpec(image=ref))
    want = {l["digest"][7:] for l in img["layers"]}

    def gone():
        d = rt.blobs_dir()
        blobs = set(os.listdir(d)) if os.path.isdir(d) else set()
        return not (want & blobs) and not rt.layers_left()
    wait_for(gone, 60, 0.05, what="%s to drop the image's blobs and layers" % rt.name)
    with Sampler(rt.pid()) as s:
        t0 = time.perf_counter()
        r = rt.client.call("PullImage", image=pb.ImageSpec(image=ref))
        dt = time.perf_counter() - t0
    assert r.image_ref == img["id"], (r.image_ref, img["id"])
    return dt, s.peak, s.peak_self


def measure(rt, reg, ref, img, runs):
    rt.start(reg)
    try:
        times, peaks, selfs = [], [], []
        for _ in range(runs):
            dt, peak, peak_self = cold_pull(rt, ref, img)
            times.append(dt)
            peaks.append(peak)
            selfs.append(peak_self)
        return {"pull_s": statistics.median(times), "min_s": min(times),
                "max_s": max(times), "peak_rss_mib": max(peaks) / 1024.0,
                "peak_self_mib": max(selfs) / 1024.0, "hwm_mib": rt.hwm_kib() / 1024.0}
    finally:
        rt.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", action="append", default=[])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--layer-mib", type=int, default=25)
    a = ap.parse_args()
    cri_pb2()
    rts = [Crisp()]
    if "containerd" in a.compare:
        if not shutil.which("containerd"):
            sys.exit("bench_pull: containerd is not installed (apt-get install containerd)")
        rts.append(Containerd())
    env = RegistryEnv()
    try:
        reg = env.start_registry("bench")
        img, unpacked = build(env, reg, a.layers, a.layer_mib)
        blob_bytes = sum(l["size"] for l in img["layers"])
        ref = "%s/bench/big:1" % reg.host
        rows = [(rt.name, measure(rt, reg, ref, img, a.runs)) for rt in rts]
    finally:
        env.close()
    print("image: %d layers, %.1f MiB compressed, %.1f MiB unpacked; median of %d cold pulls"
          % (len(img["layers"]), blob_bytes / MIB, unpacked / MIB, a.runs))
    print()
    print("| runtime | pull_s (median) | min_s | max_s | MiB/s (compressed) | "
          "peak RSS, daemon (MiB) | peak RSS, with children (MiB) | daemon VmHWM (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        print("| %s | %.2f | %.2f | %.2f | %.0f | %.1f | %.1f | %.1f |" % (
            name, r["pull_s"], r["min_s"], r["max_s"], blob_bytes / MIB / r["pull_s"],
            r["peak_self_mib"], r["peak_rss_mib"], r["hwm_mib"]))


if __name__ == "__main__":
    main()
