"""The daemons' internal sockets from outside: the peer uid is checked, the
handshake is enforced, and a malformed or unexpected message ends that peer's
connection, never the daemon."""
import atexit
import json
import shutil
import os
import subprocess
import sys
import tempfile

import pytest

from crisp_env import REPO

_pb2dir = None


def pb2dir():
    global _pb2dir
    if _pb2dir is None:
        _pb2dir = tempfile.mkdtemp(prefix="crisp-pb2i-")
        atexit.register(shutil.rmtree, _pb2dir, True)
        subprocess.run(["protoc", "-I", os.path.join(REPO, "proto"), "--python_out",
                        _pb2dir, "cri.proto", "crisp.proto"], check=True)
        os.chmod(_pb2dir, 0o755)
    return _pb2dir


def peer(sock, scenario, user="crisp"):
    p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                        "internal_peer.py"), sock, scenario, pb2dir()],
                       capture_output=True, text=True, timeout=30,
                       user=user, group={"crisp": "crisp", "nobody": "nogroup"}.get(user, "root"),
                       extra_groups=[])
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def isock(s, name):
    return os.path.join(s.runroot, "internal", "%s.sock" % name)


def still_serving(s, before):
    after = s.daemon_pids()
    assert after == before, "a daemon restarted: %r -> %r" % (before, after)
    assert s.call("Version").runtime_name == "crisp"


def test_health_answers(shared_suite):
    pids = shared_suite.wait_daemons()
    for name in ("imaged", "sandboxd", "streamd"):
        r = peer(isock(shared_suite, name), "health")
        assert r.get("status") == 0 and r["name"] == name, r
        assert r["pid"] == pids[name]


def test_other_uid_is_refused(shared_suite):
    before = shared_suite.wait_daemons()
    # root is not the crisp user: the internal sockets are for crisp's daemons
    r = peer(isock(shared_suite, "imaged"), "health", user="root")
    assert r.get("status") != 0 or "name" not in r, r
    # nobody cannot even reach the 0700 directory
    r = peer(isock(shared_suite, "imaged"), "connect-only", user="nobody")
    assert r.get("connect_error") == 13, r
    still_serving(shared_suite, before)


@pytest.mark.parametrize("scenario", ["garbage-first", "garbage-after-hello", "bad-version",
                                      "bad-role", "unknown-type", "oversized-datagram",
                                      "unsealed-memfd"])
def test_bad_peer_is_dropped_daemon_stays(shared_suite, scenario):
    before = shared_suite.wait_daemons()
    for name in ("imaged", "sandboxd", "streamd"):
        r = peer(isock(shared_suite, name), scenario)
        assert r["after"] == "eof", (name, r)
        if "answer" in r:
            assert r["answer"] != 0, (name, r)
    still_serving(shared_suite, before)
