"""internal_peer: speaks crisp's internal protocol from outside, to test how
the daemons treat their peers. Run as a script (often as the crisp user):

    internal_peer.py SOCKET SCENARIO PB2DIR

and prints one JSON line: what happened."""
import json
import os
import socket
import sys


def main():
    path, scenario, pb2dir = sys.argv[1:4]
    sys.path.insert(0, pb2dir)
    import crisp_pb2 as pb

    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    out = {"scenario": scenario}
    try:
        s.connect(path)
    except OSError as e:
        out["connect_error"] = e.errno
        print(json.dumps(out))
        return

    def send_env(**kw):
        try:
            s.send(pb.Envelope(**kw).SerializeToString())
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server ended us: what follows reads EOF

    def recv_env():
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            return "timeout"
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not data:
            return None
        e = pb.Envelope()
        e.ParseFromString(data)
        return e

    def raw_send(data):
        try:
            s.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def hello(version=1, role=pb.ROLE_CRISERVER):
        h = pb.Hello(version=version, role=role, pid=os.getpid(), name="internal_peer")
        send_env(type=pb.MSG_HELLO, id=1, payload=h.SerializeToString())
        return recv_env()

    if scenario == "connect-only":
        out["first"] = "eof" if recv_env() is None else "data"
    elif scenario == "health":
        a = hello()
        out["hello_status"] = a.status if a not in (None, "timeout") else str(a)
        send_env(type=pb.MSG_HEALTH, id=2)
        a = recv_env()
        if a not in (None, "timeout"):
            h = pb.Health()
            h.ParseFromString(a.payload)
            out.update(answer_id=a.id, status=a.status, name=h.name, pid=h.pid)
        else:
            out["answer"] = str(a)
    elif scenario == "garbage-first":
        raw_send(b"\xff\x00garbage\x13\x37")
        out["after"] = "eof" if recv_env() is None else "data"
    elif scenario == "garbage-after-hello":
        hello()
        raw_send(b"\x0a\xff\xff\xff\x0f")
        out["after"] = "eof" if recv_env() is None else "data"
    elif scenario == "bad-version":
        a = hello(version=999)
        out["answer"] = "eof" if a is None else ("timeout" if a == "timeout" else a.status)
        out["after"] = "eof" if recv_env() is None else "data"
    elif scenario == "bad-role":
        a = hello(role=pb.ROLE_IMAGED)
        out["answer"] = "eof" if a is None else ("timeout" if a == "timeout" else a.status)
        out["after"] = "eof" if recv_env() is None else "data"
    elif scenario == "unknown-type":
        hello()
        send_env(type=4242, id=3)
        a = recv_env()
        if a not in (None, "timeout"):
            a = recv_env()  # an error answer may come first; then EOF
        out["after"] = "eof" if a is None else "data"
    elif scenario == "oversized-datagram":
        hello()
        try:
            s.send(b"\x00" * (200 * 1024))
        except OSError as e:
            out["send_error"] = e.errno
        out["after"] = "eof" if recv_env() is None else "data"
    elif scenario == "unsealed-memfd":
        hello()
        fd = os.memfd_create("x", os.MFD_CLOEXEC)
        os.write(fd, b"\x00" * 100)
        env = pb.Envelope(type=pb.MSG_HEALTH, id=5, flags=pb.ENVELOPE_PAYLOAD_MEMFD,
                          payload_size=100)
        s.sendmsg([env.SerializeToString()],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(memoryview(
                      __import__("array").array("i", [fd]))))])
        out["after"] = "eof" if recv_env() is None else "data"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
