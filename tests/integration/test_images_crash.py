"""imaged killed with SIGKILL in the middle of a pull, twice: while a layer
blob is downloading (a relay throttles the registry so the pull is
surely in flight) and while the confined child unpacks a layer of many
files. crisp-up restarts imaged; then nothing of the cut pull may be
visible: ROOT/images/tmp is empty, no blob or layer of it is left, the
image is not there, the unpack child is gone, and the next pull of the
same image succeeds with the right content.

Each test has its own suite (they kill a daemon). Run against another
build with CRISP_BUILD=DIR (crisp_env).
"""
import hashlib
import os
import signal
import sys
import threading

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crisp_env import Suite, wait_for  # noqa: E402
from evil_registry import EvilRegistry  # noqa: E402
from images_common import (blob_digests, build_image, finish, gz_layer, images,  # noqa: E402
                           layer_chain_ids, layer_diff, marker_layer, pull, random_layer,
                           status, store_dir, tmp_entries)
from registry_env import MT_OCI_MANIFEST, RegistryEnv, layer_tar  # noqa: E402

SC = grpc.StatusCode


@pytest.fixture
def env():
    e = RegistryEnv()
    relay = None
    s = Suite()
    try:
        reg = e.start_registry("open")
        relay = EvilRegistry(upstream=reg.url).start()
        s.start()
        yield e, reg, relay, s
    finally:
        try:
            finish(s)
        finally:
            if relay:
                relay.stop()
            e.close()


class Background:
    """A PullImage in a thread: .error is the grpc code it ended with."""

    def __init__(self, suite, ref):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(suite, ref), daemon=True)
        self.thread.start()

    def _run(self, suite, ref):
        try:
            self.result = pull(suite, ref, timeout=120)
        except grpc.RpcError as e:
            self.error = (e.code(), e.details())

    def join(self):
        self.thread.join(60)
        assert not self.thread.is_alive()
        return self


def unpack_children(suite):
    """pids of unpack children working under this suite's root."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"--unpack-child" in argv and any(suite.root.encode() in a for a in argv):
            out.append(int(d))
    return out


def kill_imaged_and_wait(suite):
    old = suite.daemon_pids()["imaged"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: suite.daemon_pids().get("imaged") not in (None, old), 30,
             what="crisp-up to restart imaged")

    def answers():
        try:
            images(suite)
            return True
        except grpc.RpcError:
            return False
    wait_for(answers, 30, 0.1, what="the image service back")
    return old


def assert_nothing_left(suite, ref):
    assert tmp_entries(suite) == []
    assert status(suite, ref)[0] is None
    assert images(suite) == []
    assert blob_digests(suite) == set()
    assert layer_chain_ids(suite) == set()


def test_kill_during_a_layer_download(env):
    e, reg, relay, suite = env
    lay = e.layout("big")
    data_layer = random_layer(lay, 8 << 20, seed=b"crash")
    img = build_image(lay, [marker_layer(lay, "crash-base"), data_layer])
    lay.tag("1", MT_OCI_MANIFEST, img["desc"])
    e.push(lay, "1", reg, "test/big:1")
    big = data_layer[0]["digest"]
    relay.throttle = 2 << 20               # 8 MiB take 4 s at least
    ref = relay.host + "/test/big:1"
    pids = suite.daemon_pids()

    bg = Background(suite, ref)
    wait_for(lambda: relay.sent_for(big) >= (1 << 20), 30, what="1 MiB of the layer sent")
    assert tmp_entries(suite, settle=0), "the partial blob is under tmp/"
    kill_imaged_and_wait(suite)
    bg.join()
    assert bg.result is None and bg.error[0] == SC.UNAVAILABLE, (bg.result, bg.error)
    assert relay.sent_for(big) < (8 << 20), "the kill came after the download"
    assert_nothing_left(suite, ref)
    others = {k: v for k, v in suite.daemon_pids().items() if k != "imaged"}
    assert others == {k: v for k, v in pids.items() if k != "imaged"}

    relay.throttle = None
    assert pull(suite, ref) == img["id"]
    im, _ = status(suite, ref)
    assert im.size == img["size"]
    assert tmp_entries(suite) == []
    assert set(img["chain_ids"]) == layer_chain_ids(suite)
    with open(os.path.join(layer_diff(suite, img["chain_ids"][1]), "data", "blob"), "rb") as f:
        got = f.read()
    assert len(got) == 8 << 20
    with open(os.path.join(e.tmp, "layouts", "big", "blobs", "sha256", big[7:]), "rb") as f:
        import gzip
        import io
        import tarfile
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(f.read()))) as t:
            want = t.extractfile("data/blob").read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(want).digest()


def test_kill_while_a_layer_unpacks(env):
    """Slow: a layer of 30000 files, so that the kill lands in the unpack."""
    e, reg, relay, suite = env
    lay = e.layout("many")
    files = {"files/%02d/f%05d" % (i % 100, i): (b"%d\n" % i, 0o644) for i in range(30000)}
    many = gz_layer(lay, layer_tar(files))
    img = build_image(lay, [many])
    lay.tag("1", MT_OCI_MANIFEST, img["desc"])
    e.push(lay, "1", reg, "test/many:1")
    ref = reg.host + "/test/many:1"

    def unpacking():
        for t in tmp_entries(suite, settle=0):
            d = os.path.join(store_dir(suite, "tmp"), t, "diff", "files")
            try:
                if len(os.listdir(d)) >= 5:
                    return True
            except OSError:
                pass
        return False

    bg = Background(suite, ref)
    wait_for(unpacking, 60, 0.005, what="the unpack under way")
    children = unpack_children(suite)
    assert children, "an unpack child is at work"
    kill_imaged_and_wait(suite)
    bg.join()
    assert bg.result is None and bg.error[0] == SC.UNAVAILABLE, (bg.result, bg.error)
    wait_for(lambda: not unpack_children(suite), 10, what="the unpack child to die with imaged")
    assert_nothing_left(suite, ref)

    assert pull(suite, ref) == img["id"]
    assert tmp_entries(suite) == []
    diff = layer_diff(suite, img["chain_ids"][0])
    assert sum(len(os.listdir(os.path.join(diff, "files", d)))
               for d in os.listdir(os.path.join(diff, "files"))) == 30000
