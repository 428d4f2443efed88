"""crisp_env: start and drive a real crisp suite for the integration tests.

Suite starts build/crisp-up in fresh temporary directories (root, runroot, the
CRI socket, a CNI config dir), talks CRI to it with Debian's python3-grpcio,
and finds its daemons through /proc. Everything it starts it stops, by PID.
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CRISP_BUILD", os.path.join(REPO, "build"))
DAEMONS = ("imaged", "sandboxd", "streamd", "criserver")

_pb2 = None


def cri_pb2():
    """The CRI messages, compiled from the project's own proto/cri.proto."""
    global _pb2
    if _pb2 is None:
        out = tempfile.mkdtemp(prefix="crisp-pb2-")
        atexit.register(shutil.rmtree, out, True)
        subprocess.run(["protoc", "-I", os.path.join(REPO, "proto"),
                        "--python_out", out, "cri.proto"], check=True)
        sys.path.insert(0, out)
        import cri_pb2 as mod  # noqa: E402
        _pb2 = mod
    return _pb2


def method_table():
    """{'/runtime.v1.RuntimeService/Version': (req_cls, resp_cls, server_streaming)}"""
    pb = cri_pb2()
    table = {}
    for svc in pb.DESCRIPTOR.services_by_name.values():
        for m in svc.methods:
            path = "/%s/%s" % (svc.full_name, m.name)
            req = getattr(pb, m.input_type.name)
            resp = getattr(pb, m.output_type.name)
            table[path] = (req, resp, m.server_streaming)
    return table


def proc_children(ppid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        if int(rest[1]) == ppid:
            kids.append(int(d))
    return kids


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def proc_status(pid, tid=None):
    path = "/proc/%d/task/%d/status" % (pid, tid) if tid else "/proc/%d/status" % pid
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


def wait_for(pred, timeout=20.0, step=0.05, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


VALID_CNI = """{
  "cniVersion": "1.0.0",
  "name": "crisp-test",
  "plugins": [
    {"type": "bridge", "bridge": "crisp0", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
"""


class Suite:
    """One crisp suite in its own temporary directories."""

    def __init__(self, extra_conf="", cni=True, args=()):
        self.tmp = tempfile.mkdtemp(prefix="crisp-it-")
        self.root = os.path.join(self.tmp, "root")
        self.runroot = os.path.join(self.tmp, "run")
        self.sock = os.path.join(self.tmp, "crisp.sock")
        self.cni_dir = os.path.join(self.tmp, "cni")
        os.makedirs(self.cni_dir)
        if cni:
            with open(os.path.join(self.cni_dir, "10-crisp.conflist"), "w") as f:
                f.write(VALID_CNI)
        self.conf = os.path.join(self.tmp, "crisp.conf")
        with open(self.conf, "w") as f:
            f.write("[network]\ncni_conf_dir = %s\n%s" % (self.cni_dir, extra_conf))
        self.log = open(os.path.join(self.tmp, "crisp.log"), "w+")
        self.args = list(args)
        self.proc = None
        self.channel = None

    # life cycle -------------------------------------------------------
    def cmd(self):
        return [os.path.join(BUILD, "crisp-up"), "--config", self.conf,
                "--root", self.root, "--runroot", self.runroot,
                "--listen", self.sock] + self.args

    def start(self, wait=True):
        self.proc = subprocess.Popen(self.cmd(), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20.0):
        wait_for(lambda: os.path.exists(self.sock), timeout, what="CRI socket")

        def ready():
            try:
                st = self.call("Status", timeout=2)
            except grpc.RpcError:
                return False
            conds = {c.type: c.status for c in st.status.conditions}
            return conds.get("RuntimeReady") is True
        wait_for(ready, timeout, step=0.1, what="RuntimeReady")

    def stop(self, timeout=15.0):
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is None:
            return None
        pids = self.daemon_pids().values() if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), 10, what="daemon %d to exit" % pid)
        self.proc = None
        return rc

    def cleanup(self):
        try:
            self.stop()
        finally:
            self.log.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    # processes ---------------------------------------------------------
    def daemon_pids(self):
        """{name: pid} of crisp-up's children that are crisp daemons."""
        out = {}
        for pid in proc_children(self.proc.pid):
            name = proc_comm(pid)
            if name in DAEMONS and pid_alive(pid):
                out[name] = pid
        return out

    def wait_daemons(self, timeout=20.0):
        return wait_for(lambda: (lambda d: d if len(d) == len(DAEMONS) else None)(
            self.daemon_pids()), timeout, what="all daemons")

    # CRI ---------------------------------------------------------------
    def grpc_channel(self):
        if self.channel is None:
            self.channel = grpc.insecure_channel(
                "unix:" + self.sock,
                options=[("grpc.max_send_message_length", 64 << 20),
                         ("grpc.max_receive_message_length", 64 << 20)])
        return self.channel

    def call(self, method, req=None, timeout=10, **fields):
        table = method_table()
        path = next(p for p in table if p.endswith("/" + method))
        req_cls, resp_cls, streaming = table[path]
        if req is None:
            req = req_cls(**fields)
        ch = self.grpc_channel()
        if streaming:
            fn = ch.unary_stream(path, request_serializer=req_cls.SerializeToString,
                                 response_deserializer=resp_cls.FromString)
            return list(fn(req, timeout=timeout))
        fn = ch.unary_unary(path, request_serializer=req_cls.SerializeToString,
                            response_deserializer=resp_cls.FromString)
        return fn(req, timeout=timeout)

    def call_raw(self, path, payload, timeout=10):
        fn = self.grpc_channel().unary_unary(path, request_serializer=None,
                                             response_deserializer=None)
        return fn(payload, timeout=timeout)
