#!/usr/bin/python3
"""bench: crisp's speed and memory, measured (not a test), and the same
measurements on containerd when it is installed (Debian's `containerd`).

    /usr/bin/python3 scripts/bench.py [--compare containerd] [--calls N]

Measures: time from start to a ready CRI endpoint; unary CRI call latency
(Version, Status) from one client and throughput from 16 concurrent clients;
resident memory (RSS, PSS) of every process of the runtime after the calls.
Prints a Markdown table for docs/PERFORMANCE.md.
"""
import argparse
import concurrent.futures
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "integration"))
import grpc  # noqa: E402
from crisp_env import Suite, cri_pb2, method_table, proc_children, wait_for  # noqa: E402


def mem_kib(pid):
    """(rss, pss) in KiB of one process."""
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


def tree(pid):
    out = [pid]
    for k in proc_children(pid):
        out += tree(k)
    return out


class Client:
    def __init__(self, sock):
        self.channel = grpc.insecure_channel("unix:" + sock)
        self.table = method_table()

    def call(self, name, **kw):
        path = next(p for p in self.table if p.endswith("/" + name))
        req_cls, resp_cls, _ = self.table[path]
        fn = self.channel.unary_unary(path, request_serializer=req_cls.SerializeToString,
                                      response_deserializer=resp_cls.FromString)
        return fn(req_cls(**kw), timeout=10)


def ready(client):
    try:
        st = client.call("Status")
    except grpc.RpcError:
        return False
    return any(c.type == "RuntimeReady" and c.status for c in st.status.conditions)


class Crisp:
    name = "crisp"

    def start(self):
        self.s = Suite()
        t0 = time.monotonic()
        self.s.start(wait=False)
        self.client = Client(self.s.sock)
        wait_for(lambda: os.path.exists(self.s.sock) and ready(self.client), 30, 0.005)
        return time.monotonic() - t0

    def pids(self):
        return tree(self.s.proc.pid)

    def stop(self):
        self.s.cleanup()


class Containerd:
    name = "containerd"

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="crisp-bench-ctd-")
        self.sock = os.path.join(self.tmp, "containerd.sock")
        conf = os.path.join(self.tmp, "config.toml")
        with open(conf, "w") as f:
            f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                    '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s/ttrpc.sock"\n'
                    '[debug]\n  address = "%s/debug.sock"\n'
                    % (self.tmp, self.tmp, self.sock, self.tmp, self.tmp))
        t0 = time.monotonic()
        self.proc = subprocess.Popen(["containerd", "--config", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = Client(self.sock)
        wait_for(lambda: os.path.exists(self.sock) and ready(self.client), 30, 0.005)
        return time.monotonic() - t0

    def pids(self):
        return tree(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def latency(client, name, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.call(name)
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.99) - 1] * 1e6


def throughput(client, name, n, workers=16):
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda _: client.call(name), range(n)))
    return n / (time.perf_counter() - t0)


def measure(rt, calls):
    starts = []
    for _ in range(3):
        starts.append(rt.start())
        rt.stop()
    res = {"start_ms": statistics.median(starts) * 1000}
    rt.start()
    try:
        for name in ("Version", "Status"):
            latency(rt.client, name, 50)  # warm up
            res[name + "_p50_us"], res[name + "_p99_us"] = latency(rt.client, name, calls)
            res[name + "_per_s"] = throughput(rt.client, name, calls * 4)
        mems = [mem_kib(p) for p in rt.pids()]
        res["procs"] = len(mems)
        res["rss_kib"] = sum(m[0] for m in mems)
        res["pss_kib"] = sum(m[1] for m in mems)
    finally:
        rt.stop()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", action="append", default=[])
    ap.add_argument("--calls", type=int, default=1000)
    a = ap.parse_args()
    cri_pb2()
    rts = [Crisp()]
    if "containerd" in a.compare:
        if not shutil.which("containerd"):
            sys.exit("bench: containerd is not installed (apt-get install containerd)")
        rts.append(Containerd())
    rows = [(rt.name, measure(rt, a.calls)) for rt in rts]
    keys = ["start_ms", "Version_p50_us", "Version_p99_us", "Version_per_s",
            "Status_p50_us", "Status_p99_us", "Status_per_s", "procs", "rss_kib", "pss_kib"]
    print("| runtime | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, r in rows:
        print("| %s | " % name + " | ".join("%.0f" % r[k] for k in keys) + " |")


if __name__ == "__main__":
    main()
