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

_peerdir = None


def peer_dir():
    """A fresh directory with internal_peer.py and the compiled protos, which
    the peer runs from as another user: the checkout may not be readable by
    that user (/root is 0700), so nothing it runs is read from there."""
    global _peerdir
    if _peerdir is None:
        _peerdir = tempfile.mkdtemp(prefix="crisp-peer-")
        atexit.register(shutil.rmtree, _peerdir, True)
        subprocess.run(["protoc", "-I", os.path.join(REPO, "proto"), "--python_out",
                        _peerdir, "cri.proto", "crisp.proto"], check=True)
        shutil.copyfile(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "internal_peer.py"),
                        os.path.join(_peerdir, "internal_peer.py"))
        for name in os.listdir(_peerdir):
            os.chmod(os.path.join(_peerdir, name), 0o644)
        os.chmod(_peerdir, 0o755)
    return _peerdir


def peer(sock, scenario, user="crisp"):
    d = peer_dir()
    p = subprocess.run([sys.executable, os.path.join(d, "internal_peer.py"), sock, scenario, d],
                       capture_output=True, text=True, timeout=30, cwd=d,
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
