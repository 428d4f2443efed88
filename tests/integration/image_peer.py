"""image_peer: talk to imaged's image service directly, as criserver or
crispctl would, over crisp's internal protocol (one crisp.Envelope per
SOCK_SEQPACKET datagram; payloads over 60 KiB arrive in a sealed memfd).

    p = ImagePeer(path, role="crispctl")      # admin socket, as root
    st, err, resp = p.call("IMG_PULL", cri.PullImageRequest(...), cri.PullImageResponse)

Also a script, for the internal socket (run as the crisp user):

    image_peer.py SOCKET PB2DIR ROLE TYPE REQ_HEX   -> one JSON line
"""
import array
import atexit
import json
import mmap
import os
import shutil
import socket
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_pb2dir = None


def pb2dir():
    """crisp_pb2 and cri_pb2, compiled from the project's protos."""
    global _pb2dir
    if _pb2dir is None:
        _pb2dir = tempfile.mkdtemp(prefix="crisp-pb2img-")
        atexit.register(shutil.rmtree, _pb2dir, True)
        subprocess.run(["protoc", "-I", os.path.join(REPO, "proto"), "--python_out",
                        _pb2dir, "crisp.proto", "cri.proto"], check=True)
        os.chmod(_pb2dir, 0o755)
    if _pb2dir not in sys.path:
        sys.path.insert(0, _pb2dir)
    return _pb2dir


def modules():
    pb2dir()
    import cri_pb2
    import crisp_pb2
    return crisp_pb2, cri_pb2


class ImagePeer:
    def __init__(self, path, role="crispctl", timeout=60):
        self.pb, self.cri = modules()
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.next_id = 1
        self.early = {}         # id -> answers that came while waiting for another
        roles = {"crispctl": self.pb.ROLE_CRISPCTL, "criserver": self.pb.ROLE_CRISERVER,
                 "sandboxd": self.pb.ROLE_SANDBOXD}
        h = self.pb.Hello(version=1, role=roles[role], pid=os.getpid(), name="image_peer")
        self.send(self.pb.MSG_HELLO, h, id=0)
        a = self.recv()
        if a is None or a.status != 0:
            raise RuntimeError("handshake refused: %r" % (a,))

    def close(self):
        self.s.close()

    def send(self, mtype, msg=None, id=None, timeout_ms=0):
        if id is None:
            id = self.next_id
            self.next_id += 1
        payload = msg.SerializeToString() if msg is not None else b""
        env = self.pb.Envelope(type=mtype, id=id, payload=payload, timeout_ms=timeout_ms)
        self.s.send(env.SerializeToString())
        return id

    def recv(self):
        try:
            data, anc, flags, _ = self.s.recvmsg(1 << 17, socket.CMSG_SPACE(4 * 4))
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not data:
            return None
        env = self.pb.Envelope()
        env.ParseFromString(data)
        fds = []
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(cdata[:len(cdata) - len(cdata) % 4])
                fds.extend(a)
        if env.flags & self.pb.ENVELOPE_PAYLOAD_MEMFD and fds:
            with mmap.mmap(fds[0], env.payload_size, prot=mmap.PROT_READ) as m:
                env.payload = m[:]
        for fd in fds:
            os.close(fd)
        return env

    def type_of(self, name):
        return getattr(self.pb, "MSG_" + name)

    def call(self, name, req, resp_cls, timeout_ms=0):
        """(status, error, response or None); a stream's parts are a list."""
        id = self.send(self.type_of(name), req, timeout_ms=timeout_ms)
        return self.wait(id, resp_cls)

    def wait(self, id, resp_cls):
        parts = []
        while True:
            early = self.early.get(id)
            a = early.pop(0) if early else self.recv()
            if a is None:
                raise ConnectionError("imaged closed the connection")
            if a.id != id:
                self.early.setdefault(a.id, []).append(a)
                continue
            body = None
            if a.status == 0 and resp_cls is not None:
                body = resp_cls()
                body.ParseFromString(a.payload)
            if a.flags & self.pb.ENVELOPE_MORE:
                parts.append(body)
                continue
            if parts:
                parts.append(body)
                return a.status, a.error, parts
            return a.status, a.error, body

    def cancel(self, id):
        self.send(self.pb.MSG_CANCEL, self.pb.Cancel(), id=id)


def main():
    global _pb2dir
    sock, _pb2dir, role, mtype, req_hex = sys.argv[1:6]
    pb, cri = modules()
    req_cls = {"IMG_PULL": cri.PullImageRequest, "IMG_STATUS": cri.ImageStatusRequest,
               "IMG_LIST": cri.ListImagesRequest, "IMG_REMOVE": cri.RemoveImageRequest,
               "IMG_FSINFO": cri.ImageFsInfoRequest,
               "LEASE_LIST": pb.LeaseListRequest}[mtype]
    resp_cls = {"IMG_PULL": cri.PullImageResponse, "IMG_STATUS": cri.ImageStatusResponse,
                "IMG_LIST": cri.ListImagesResponse, "IMG_REMOVE": cri.RemoveImageResponse,
                "IMG_FSINFO": cri.ImageFsInfoResponse, "LEASE_LIST": pb.LeaseList}[mtype]
    req = req_cls()
    req.ParseFromString(bytes.fromhex(req_hex))
    out = {}
    try:
        p = ImagePeer(sock, role=role)
        st, err, resp = p.call(mtype, req, resp_cls)
        out = {"status": st, "error": err,
               "resp": resp.SerializeToString().hex() if resp is not None else None}
    except (OSError, RuntimeError, ConnectionError) as e:
        out = {"exception": str(e)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
