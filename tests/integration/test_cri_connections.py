"""The CRI socket never turns a client away for long (criserver/cri_socket.c,
conns.c, rpc_deadline.c), against the real suite with small limits:

- a flood of raw connections that send nothing, of half-written HTTP/2
  prefaces, and of grpc channels that connect and stay idle, three times
  api.max_connections each, while a real client keeps calling Version and
  Status: every one of its calls succeeds, promptly, and new grpc clients
  connect and call all along; criserver's fd count is back to its baseline
  after the flood;
- a half-written or silent connection is closed at api.handshake_timeout,
  an idle one (grpc channel, or a bare HTTP/2 client) at api.idle_timeout
  (grpc checks once per idle_timeout: within twice that), with a GOAWAY;
- a call without a deadline ends DEADLINE_EXCEEDED at api.max_call_timeout
  (a PullImage from a registry that accepts and never answers).
"""
import json
import os
import socket
import threading
import time

import grpc
import pytest

from crisp_env import Suite, cri_pb2, method_table, wait_for
from images_common import finish

MAX_CONNS = 8
IDLE_S = 3
HANDSHAKE_S = 2
MAX_CALL_S = 4
CONF = """[api]
max_connections = %d
idle_timeout = %d
handshake_timeout = %d
max_call_timeout = %d
""" % (MAX_CONNS, IDLE_S, HANDSHAKE_S, MAX_CALL_S)

MAGIC = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"     # an empty SETTINGS frame


@pytest.fixture(scope="module")
def suite():
    """One suite for the module; at its end no daemon may have printed a
    sanitizer report (`make SANITIZE=1` builds)."""
    s = Suite(extra_conf=CONF)
    try:
        s.start()
    except BaseException:
        s.cleanup()
        raise
    yield s
    finish(s)


def channel(s):
    """A grpc channel with a connection of its own (grpc shares one per
    target between channels unless told not to)."""
    return grpc.insecure_channel("unix:" + s.sock,
                                 options=[("grpc.use_local_subchannel_pool", 1)])


def unary(ch, method):
    table = method_table()
    path = next(p for p in table if p.endswith("/" + method))
    req_cls, resp_cls, _ = table[path]
    return ch.unary_unary(path, request_serializer=req_cls.SerializeToString,
                          response_deserializer=resp_cls.FromString), req_cls


def raw(s, data=b""):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(s.sock)
    if data:
        try:
            c.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass        # already closed to make room for a newcomer
    return c


def read_to_end(c, limit):
    """Read c until EOF (or limit seconds): (seconds to EOF or None, bytes)."""
    t0 = time.monotonic()
    got = b""
    c.settimeout(0.1)
    while time.monotonic() - t0 < limit:
        try:
            d = c.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0, got
        if not d:
            return time.monotonic() - t0, got
        got += d
    return None, got


def frame_types(data):
    out = []
    while len(data) >= 9:
        n = int.from_bytes(data[0:3], "big")
        out.append(data[3])
        data = data[9 + n:]
    return out


def criserver_fds(s):
    pid = s.daemon_pids()["criserver"]
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fds(s, seconds=1.0, timeout=20):
    """criserver's fd count once it has not changed for a while."""
    end = time.monotonic() + timeout
    last, since = criserver_fds(s), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.1)
        n = criserver_fds(s)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return n
    return last


def conn_stats(s):
    st = s.call("Status", verbose=True, timeout=10)
    return json.loads(st.info["criserver"])["connections"]


class Caller(threading.Thread):
    """The real client: calls Version and Status back to back on its own
    channel, recording every failure and the slowest call."""

    def __init__(self, s):
        super().__init__(daemon=True)
        self.ch = channel(s)
        self.stop = threading.Event()
        self.calls = 0
        self.errors = []
        self.slowest = 0.0

    def run(self):
        version, vreq = unary(self.ch, "Version")
        status, sreq = unary(self.ch, "Status")
        i = 0
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                if i % 2:
                    status(sreq(), timeout=10)
                else:
                    version(vreq(), timeout=10)
            except grpc.RpcError as e:
                self.errors.append((e.code(), e.details()))
            self.slowest = max(self.slowest, time.monotonic() - t0)
            self.calls += 1
            i += 1
            time.sleep(0.01)
        self.ch.close()


def test_flood_never_locks_clients_out(suite):
    if suite.channel is not None:
        suite.channel.close()
        suite.channel = None
    base = settled_fds(suite)
    caller = Caller(suite)
    caller.start()
    wait_for(lambda: caller.calls >= 5, 10, what="the real client's first calls")
    held = []
    idle_channels = []
    newcomers = 0
    slowest_newcomer = 0.0
    try:
        for i in range(3 * MAX_CONNS):
            held.append(raw(suite))                          # says nothing
            held.append(raw(suite, MAGIC[:16]))              # half a preface
            ch = channel(suite)
            idle_channels.append(ch)
            grpc.channel_ready_future(ch).result(timeout=10)  # connects, then idle
            if i % 4 == 3:
                # a new client connects and calls, in the middle of it all:
                # at its first try (no wait_for_ready: a connection closed
                # on it would fail the call), and at once
                with channel(suite) as ch2:
                    version, vreq = unary(ch2, "Version")
                    t0 = time.monotonic()
                    assert version(vreq(), timeout=10).runtime_name == "crisp"
                    slowest_newcomer = max(slowest_newcomer, time.monotonic() - t0)
                    newcomers += 1
        assert newcomers == 6
        assert slowest_newcomer < 0.75, slowest_newcomer
        # the flood is in: criserver kept within its cap, closing others
        st = conn_stats(suite)
        assert st["open"] <= MAX_CONNS, st
        assert st["closed_for_newcomers"] > 0, st
        assert st["refused"] == 0, st
        # a last few that nobody pushes out: closed at their timeout
        for i in range(MAX_CONNS // 4):
            held.append(raw(suite))
            held.append(raw(suite, MAGIC[:16]))
        for c in held:
            took, got = read_to_end(c, HANDSHAKE_S + 3)
            assert took is not None, "a silent connection outlived api.handshake_timeout"
            assert got == b"", "criserver answered a connection without a preface"
        st = conn_stats(suite)
        assert st["handshake_timed_out"] > 0, st
        # the real client went on all along
        time.sleep(0.5)
        calls = caller.calls
        wait_for(lambda: caller.calls > calls + 5, 10, what="the real client's calls")
    finally:
        caller.stop.set()
        caller.join(15)
        for c in held:
            c.close()
        for ch in idle_channels:
            ch.close()
    assert not caller.is_alive()
    assert caller.errors == [], caller.errors[:5]
    assert caller.calls > 50 and caller.slowest < 3.0, (caller.calls, caller.slowest)
    # and every connection is gone again: the fds are back to the baseline
    wait_for(lambda: criserver_fds(suite) <= base, 2 * IDLE_S + 10,
             what="criserver's fds back to %d" % base)
    assert settled_fds(suite) == base


def test_half_written_and_silent_closed_at_handshake_timeout(suite):
    conns = [raw(suite), raw(suite, MAGIC[:10]), raw(suite, MAGIC),
             raw(suite, MAGIC + SETTINGS[:4])]
    try:
        for c in conns:
            took, got = read_to_end(c, HANDSHAKE_S + 3)
            assert took is not None and got == b""
        # each was closed no sooner than the timeout (they were opened at
        # once; the first took the wait), and not much later
        t0 = time.monotonic()
        late = raw(suite, MAGIC[:5])
        took, _ = read_to_end(late, HANDSHAKE_S + 3)
        assert took is not None and HANDSHAKE_S - 0.3 <= took <= HANDSHAKE_S + 1.5, took
        late.close()
        # not HTTP/2 at all: closed at once
        t0 = time.monotonic()
        bad = raw(suite, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        took, got = read_to_end(bad, 3)
        assert took is not None and took < 1.0 and got == b""
        bad.close()
        assert time.monotonic() - t0 < 2
    finally:
        for c in conns:
            c.close()


def test_idle_connections_closed_at_idle_timeout(suite):
    # a bare HTTP/2 client that completes its preface and then waits: grpc
    # has it, and sends a GOAWAY before closing it
    c = raw(suite, MAGIC + SETTINGS)
    ch = channel(suite)
    states = []
    t0 = time.monotonic()
    ch.subscribe(lambda st: states.append((time.monotonic() - t0, st)))
    grpc.channel_ready_future(ch).result(timeout=10)
    version, vreq = unary(ch, "Version")
    version(vreq(), timeout=10)
    t_call = time.monotonic() - t0
    try:
        took, got = read_to_end(c, 2 * IDLE_S + 3)
        assert took is not None, "an idle connection outlived twice api.idle_timeout"
        assert IDLE_S - 0.3 <= took <= 2 * IDLE_S + 1.5, took
        assert 7 in frame_types(got), "no GOAWAY before the close"
        wait_for(lambda: any(s == grpc.ChannelConnectivity.IDLE and t > t_call
                             for t, s in states), 2 * IDLE_S + 3,
                 what="the idle grpc channel to be closed")
        t_idle = next(t for t, s in states if s == grpc.ChannelConnectivity.IDLE and t > t_call)
        assert IDLE_S - 0.3 <= t_idle - t_call <= 2 * IDLE_S + 1.5, (t_call, t_idle)
        # cheap to open again
        assert version(vreq(), timeout=10).runtime_name == "crisp"
    finally:
        c.close()
        ch.close()


def test_call_without_deadline_ends_at_max_call_timeout(suite):
    # a "registry" that accepts TCP connections (the kernel's backlog) and
    # never says a word: the pull waits for ever
    stall = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stall.bind(("127.0.0.1", 0))
    stall.listen(16)
    port = stall.getsockname()[1]
    pb = cri_pb2()
    ch = channel(suite)
    try:
        pull, _ = unary(ch, "PullImage")
        req = pb.PullImageRequest(image=pb.ImageSpec(image="127.0.0.1:%d/stall/x:1" % port))
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            pull(req)                   # no timeout: no gRPC deadline
        took = time.monotonic() - t0
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value.details()
        assert MAX_CALL_S - 0.3 <= took <= MAX_CALL_S + 2, took
        # a call with its own, shorter deadline keeps it
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            pull(req, timeout=1.5)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t0 < MAX_CALL_S - 1
        # and quick calls without one are untouched
        version, vreq = unary(ch, "Version")
        assert version(vreq()).runtime_name == "crisp"
    finally:
        ch.close()
        stall.close()
