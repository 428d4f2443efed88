"""Hostile images and hostile registries, through the CRI.

Layers that try to escape the layer directory (tests/hostile/gen_layers.py:
'..', absolute names, symlinks out and a write through them, hardlinks to
outside, /proc magic links, whiteouts through symlinks) are built into OCI
images here and pushed to a real docker-registry with skopeo; a gzip bomb
(10 GiB of zeros in ~10 MiB) too. An evil registry (evil_registry.py, a
real HTTP server) serves what docker-registry would refuse or never do:
blobs and manifests whose bytes do not match their digest or size, a
10 MiB manifest, a config whose diff_id lies, transfers that stall after
the headers or trickle forever.

Each case must fail with its own status, leave no image, nothing under
ROOT/images/tmp, none of its content in the store, and nothing changed in
a canary directory outside the store that the layers aim at; imaged must
keep serving (the same process, and a pull of a good image works).

Run against another build with CRISP_BUILD=DIR (crisp_env).
"""
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import time

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "hostile"))
import gen_layers  # noqa: E402
import gen_registry  # noqa: E402
from crisp_env import Suite, wait_for  # noqa: E402
from evil_registry import Behaviour, EvilRegistry  # noqa: E402
from images_common import (blob_digests, build_image, build_index, finish,  # noqa: E402
                           gz_layer, images, layer_chain_ids, layer_diff, marker_layer,
                           pull, remove, rpc_error, snapshot, store_dir, tmp_entries)
from registry_env import (MT_OCI_CONFIG, MT_OCI_INDEX, MT_OCI_LAYER_GZ,  # noqa: E402
                          MT_OCI_MANIFEST, Layout, RegistryEnv, sha256)

SC = grpc.StatusCode
STALL_TIMEOUT = 2                       # [registry] stall_timeout of the suite, seconds

# gen_layers cases pulled through the CRI (the unit tests run all of them)
TRAVERSAL = ["dotdot_file", "dotdot_deep", "dotdot_hardlink", "abs_file", "abs_dir_chmod",
             "symlink_abs_write", "symlink_rel_write", "symlink_abs_write_contained",
             "symlink_then_dir_write", "chmod_through_symlink", "hardlink_abs_out",
             "hardlink_via_symlink", "proc_root", "whiteout_through_symlink", "long_name"]
WANT = {"ok": (SC.OK,), "invalid": (SC.INVALID_ARGUMENT,),
        "limit": (SC.RESOURCE_EXHAUSTED,), "contained": (SC.OK, SC.INVALID_ARGUMENT)}


class Env:
    def __init__(self):
        self.reg_env = e = RegistryEnv()
        self.evil = None
        self.suite = None
        self.canary_top = tempfile.mkdtemp(prefix="crisp-canary-")
        try:
            self._setup(e)
        except BaseException:
            self.close()
            raise

    def _setup(self, e):
        # the canary the layers aim at: outside the suite's directories
        self.canary = os.path.join(self.canary_top, "canary")
        os.makedirs(os.path.join(self.canary, "sub"))
        with open(os.path.join(self.canary, "file"), "w") as f:
            f.write("canary\n")
        os.chmod(os.path.join(self.canary, "file"), 0o644)

        self.reg = e.start_registry("open")
        self.evil = EvilRegistry().start()
        lay = self.lay = e.layout("hostile")
        self.good = build_image(lay, [marker_layer(lay, "good")])
        lay.tag("good", MT_OCI_MANIFEST, self.good["desc"])
        e.push(lay, "good", self.reg, "test/good:1")

        gen_layers.CASES.clear()
        gen_layers.define(self.canary)
        self.cases = {}
        for name, outcome, entries, checks, fmt, flags in gen_layers.CASES:
            if name not in TRAVERSAL:
                continue
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
                for ti, data in entries:
                    t.addfile(ti, io.BytesIO(data) if data is not None else None)
            img = build_image(lay, [gz_layer(lay, buf.getvalue())])
            lay.tag(name, MT_OCI_MANIFEST, img["desc"])
            e.push(lay, name, self.reg, "hostile/%s:1" % name.replace("_", "-"))
            self.cases[name] = (outcome, checks, img)
        assert sorted(self.cases) == sorted(TRAVERSAL)

        self.suite = Suite(extra_conf="[registry]\nstall_timeout = %d\n" % STALL_TIMEOUT)
        self.suite.start()
        self.pids = self.suite.daemon_pids()
        self.canary_before = snapshot(self.canary_top)

    def ref(self, dest):
        return "%s/%s" % (self.reg.host, dest)

    def close(self):
        try:
            if self.suite:
                finish(self.suite)
        finally:
            if self.evil:
                self.evil.stop()
            self.reg_env.close()
            shutil.rmtree(self.canary_top, ignore_errors=True)


@pytest.fixture(scope="module")
def env():
    e = Env()
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def clean(env):
    for im in images(env.suite):
        remove(env.suite, im.id)
    env.evil.clear()
    yield env
    assert env.suite.daemon_pids() == env.pids, "a daemon died"
    assert tmp_entries(env.suite) == []
    assert snapshot(env.canary_top) == env.canary_before, "the canary changed"
    # imaged still serves: a good image pulls from scratch
    for im in images(env.suite):
        remove(env.suite, im.id)
    assert pull(env.suite, env.ref("test/good:1")) == env.good["id"]
    remove(env.suite, env.good["id"])


def assert_refused(env, ref, img, codes, timeout=60):
    """The pull fails with one of codes and leaves nothing of img."""
    code, msg = rpc_error(pull, env.suite, ref, timeout=timeout)
    assert code in codes, (ref, code, msg)
    assert images(env.suite) == []
    assert tmp_entries(env.suite) == []
    if img:
        left = blob_digests(env.suite) & ({img["digest"], img["id"]} |
                                          {l["digest"] for l in img["layers"]})
        assert not left, "blobs of a refused pull stayed: %s" % left
        assert not layer_chain_ids(env.suite) & set(img["chain_ids"])
    return code, msg


# ---- layers that aim outside --------------------------------------------------

def check_inside(root, check):
    """One gen_layers check, for an "ok" case, in the unpacked layer."""
    kind, _, arg = check.partition(":")
    path, _, value = arg.partition("=")
    p = os.path.join(root, path)
    if kind == "file":
        assert os.path.isfile(p) and not os.path.islink(p), check
    elif kind == "dir":
        assert os.path.isdir(p) and not os.path.islink(p), check
    elif kind == "content":
        with open(p, "rb") as f:
            assert f.read() == value.encode(), check
    elif kind == "symlink":
        assert os.readlink(p) == value, check
    elif kind == "mode":
        assert oct(os.lstat(p).st_mode & 0o7777)[2:] == value, check
    elif kind == "uid":
        assert os.lstat(p).st_uid == int(value), check


@pytest.mark.parametrize("case", TRAVERSAL)
def test_layer_that_aims_outside(clean, case):
    env = clean
    outcome, checks, img = env.cases[case]
    ref = env.ref("hostile/%s:1" % case.replace("_", "-"))
    want = WANT[outcome]
    if SC.OK not in want:
        code, msg = assert_refused(env, ref, img, want)
        assert "layer" in msg, msg
        return
    try:
        got = pull(env.suite, ref)
    except grpc.RpcError as e:
        assert e.code() in want, (case, e.code(), e.details())
        return
    assert got == img["id"]
    root = layer_diff(env.suite, img["chain_ids"][0])
    for check in checks:
        check_inside(root, check)
    assert snapshot(env.canary_top) == env.canary_before


# ---- the gzip bomb --------------------------------------------------------------

@pytest.fixture(scope="module")
def bomb(env):
    """Slow to make (~6-9 s: the CRC and diff_id read 10 GiB of zeros)."""
    gz, diff_id, tar_size = gen_registry.zero_bomb(10 << 30)
    lay = env.lay
    desc = dict(lay.blob(gz), mediaType=MT_OCI_LAYER_GZ)
    img = build_image(lay, [(desc, diff_id)])
    lay.tag("bomb", MT_OCI_MANIFEST, img["desc"])
    env.reg_env.push(lay, "bomb", env.reg, "hostile/bomb:1")
    os.unlink(os.path.join(lay.path, "blobs", "sha256", desc["digest"][7:]))
    del lay.blobs[desc["digest"]]
    return img, tar_size


def tmp_apparent_size(suite):
    total = 0
    for top, _, files in os.walk(store_dir(suite, "tmp")):
        for n in files:
            try:
                total += os.lstat(os.path.join(top, n)).st_size
            except OSError:
                pass
    return total


def test_gzip_bomb_is_refused_early(clean, bomb):
    env = clean
    img, tar_size = bomb
    assert tar_size > 10 << 30 and img["layers"][0]["size"] < 12 << 20
    peak = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], tmp_apparent_size(env.suite))
            time.sleep(0.01)
    w = threading.Thread(target=watch, daemon=True)
    w.start()
    t0 = time.monotonic()
    try:
        code, msg = assert_refused(env, env.ref("hostile/bomb:1"), img,
                                   (SC.RESOURCE_EXHAUSTED,), timeout=120)
    finally:
        done.set()
        w.join()
    elapsed = time.monotonic() - t0
    # writing 10 GiB (or the 8 GiB layer cap) would take far longer
    assert elapsed < 15, elapsed
    assert peak[0] < (1 << 30), "%d bytes written under tmp/" % peak[0]


# ---- content that does not match its digest -------------------------------------

def keep(data):
    return data


def evil_image(env, name, layer=keep, config=keep, diff_id=None, files=None,
               layer_behaviour=None, manifest_behaviour=None):
    """An image on the evil registry at NAME:1 whose pieces may lie: the
    registry serves layer(blob) and config(config) under the true digests,
    the config may name another diff_id. Returns (ref, image)."""
    lay = Layout(os.path.join(env.reg_env.tmp, "evil-" + name.replace("/", "-")))
    desc, real_diff = marker_layer(lay, "evil-" + name, files)
    img = build_image(lay, [(desc, diff_id or real_diff)])
    env.evil.add_blob(layer(lay.blobs[desc["digest"]]), digest=desc["digest"],
                      behaviour=layer_behaviour)
    env.evil.add_blob(config(img["config"]), digest=img["id"])
    env.evil.add_manifest(name, "1", img["raw"], MT_OCI_MANIFEST, behaviour=manifest_behaviour)
    return "%s/%s:1" % (env.evil.host, name), img


def test_evil_registry_serves_an_honest_image(clean):
    """The control: the same construction with nothing lying pulls fine
    (so the refusals below are about the lie)."""
    env = clean
    ref, img = evil_image(env, "evil/honest")
    assert pull(env.suite, ref) == img["id"]
    assert img["layers"][0]["digest"] in blob_digests(env.suite)


def test_layer_blob_that_does_not_match_its_digest(clean):
    env = clean
    ref, img = evil_image(env, "evil/flip", layer=gen_registry.flip)
    code, msg = assert_refused(env, ref, img, (SC.DATA_LOSS,))
    assert img["layers"][0]["digest"] in msg, msg


def test_layer_blob_shorter_or_longer_than_its_descriptor(clean):
    env = clean
    # fewer bytes than the descriptor says: DATA_LOSS. More: the
    # descriptor's size is also the cap on what is read, so an announced
    # Content-Length over it is refused up front as over the cap
    # (RESOURCE_EXHAUSTED); sent without a length, the extra bytes are
    # content that does not match (either answer refuses on size)
    cases = (("evil/short", lambda b: b[:-100], None, (SC.DATA_LOSS,)),
             ("evil/short-nolen", lambda b: b[:-100], Behaviour(no_length=True),
              (SC.DATA_LOSS,)),
             ("evil/long", lambda b: b + bytes(100), None,
              (SC.RESOURCE_EXHAUSTED, SC.DATA_LOSS)),
             ("evil/long-nolen", lambda b: b + bytes(100), Behaviour(no_length=True),
              (SC.DATA_LOSS, SC.RESOURCE_EXHAUSTED)))
    for name, change, behaviour, codes in cases:
        ref, img = evil_image(env, name, layer=change, layer_behaviour=behaviour,
                              files={"pad": (os.urandom(4096), 0o644)})
        assert_refused(env, ref, img, codes)


def test_config_blob_that_does_not_match_its_digest(clean):
    env = clean
    ref, img = evil_image(env, "evil/cfgflip", config=gen_registry.flip)
    code, msg = assert_refused(env, ref, img, (SC.DATA_LOSS,))
    assert img["id"] in msg, msg


def test_manifest_that_does_not_match_the_digest_asked_for(clean):
    env = clean
    ref, img = evil_image(env, "evil/mflip")
    other = gen_registry.flip(img["raw"])
    env.evil.add_manifest("evil/mflip", img["digest"], other, MT_OCI_MANIFEST,
                          behaviour=Behaviour(digest=img["digest"]))
    by_digest = "%s/evil/mflip@%s" % (env.evil.host, img["digest"])
    assert_refused(env, by_digest, img, (SC.DATA_LOSS,))


def test_config_whose_diff_id_lies(clean):
    env = clean
    ref, img = evil_image(env, "evil/diffid", diff_id=sha256(b"another layer"))
    code, msg = assert_refused(env, ref, img, (SC.DATA_LOSS,))
    assert "diff_id" in msg, msg


# ---- oversized manifests -----------------------------------------------------------

def test_ten_mib_manifest_is_refused(clean):
    """docker-registry refuses manifests over 4 MiB: the evil registry
    serves one, with and without Content-Length."""
    env = clean
    for name, behaviour in (("evil/bigm", None), ("evil/bigm-nolen", Behaviour(no_length=True))):
        lay = Layout(os.path.join(env.reg_env.tmp, name.replace("/", "-")))
        img = build_image(lay, [marker_layer(lay, name)])
        raw = gen_registry.padded_manifest({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
                                            "config": dict(img["desc"], mediaType=MT_OCI_CONFIG,
                                                           digest=img["id"],
                                                           size=len(img["config"])),
                                            "layers": img["layers"]}, 10 << 20)
        for l in img["layers"]:
            env.evil.add_blob(lay.blobs[l["digest"]])
        env.evil.add_blob(img["config"])
        env.evil.add_manifest(name, "1", raw, MT_OCI_MANIFEST, behaviour=behaviour)
        assert_refused(env, "%s/%s:1" % (env.evil.host, name), img, (SC.RESOURCE_EXHAUSTED,))
        assert env.evil.count("GET", "/blobs/") == 0, "blobs fetched for a refused manifest"


def test_layer_with_an_unknown_media_type_is_refused(clean):
    env = clean
    lay = Layout(os.path.join(env.reg_env.tmp, "evil-mt"))
    desc, diff = marker_layer(lay, "evil-mt")
    img = build_image(lay, [(dict(desc, mediaType="application/x-crisp-nonsense"), diff)])
    env.evil.add_blob(lay.blobs[desc["digest"]])
    env.evil.add_blob(img["config"])
    env.evil.add_manifest("evil/mt", "1", img["raw"], MT_OCI_MANIFEST)
    code, msg = rpc_error(pull, env.suite, "%s/evil/mt:1" % env.evil.host)
    assert code in (SC.INVALID_ARGUMENT, SC.FAILED_PRECONDITION), (code, msg)
    assert images(env.suite) == [] and tmp_entries(env.suite) == []


def test_manifest_with_too_many_layers(clean):
    env = clean
    lay = Layout(os.path.join(env.reg_env.tmp, "evil-many"))
    desc, diff = marker_layer(lay, "evil-many")
    img = build_image(lay, [(desc, diff)] * 1025)
    env.evil.add_blob(lay.blobs[desc["digest"]])
    env.evil.add_blob(img["config"])
    env.evil.add_manifest("evil/many", "1", img["raw"], MT_OCI_MANIFEST)
    code, msg = assert_refused(env, "%s/evil/many:1" % env.evil.host, img,
                               (SC.RESOURCE_EXHAUSTED,))
    assert "1025" in msg, msg
    assert env.evil.count("GET", "/blobs/") == 0


def test_config_that_does_not_fit_the_manifest(clean):
    """Configs served under their true digests, each unusable: two
    diff_ids for one layer, not JSON, JSON without rootfs."""
    env = clean
    cases = (("evil/twodiffs", lambda diff: json.dumps({
                 "architecture": "amd64", "os": "linux", "rootfs": {
                     "type": "layers", "diff_ids": [diff, sha256(b"x")]}}).encode()),
             ("evil/notjson", lambda diff: b"\x00not json"),
             ("evil/norootfs", lambda diff: b'{"architecture": "amd64", "os": "linux"}'))
    for name, make in cases:
        lay = Layout(os.path.join(env.reg_env.tmp, name.replace("/", "-")))
        desc, diff = marker_layer(lay, name)
        cfg = make(diff)
        manifest = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
                    "config": dict(lay.blob(cfg), mediaType=MT_OCI_CONFIG), "layers": [desc]}
        raw = json.dumps(manifest).encode()
        env.evil.add_blob(lay.blobs[desc["digest"]])
        env.evil.add_blob(cfg)
        env.evil.add_manifest(name, "1", raw, MT_OCI_MANIFEST)
        img = {"digest": sha256(raw), "id": sha256(cfg), "layers": [desc], "chain_ids": [diff]}
        code, msg = assert_refused(env, "%s/%s:1" % (env.evil.host, name), img,
                                   (SC.INVALID_ARGUMENT,))
        assert "config" in msg, (name, msg)


def test_index_without_this_platform_is_not_found(clean):
    env = clean
    lay = Layout(os.path.join(env.reg_env.tmp, "evil-armonly"))
    desc, diff = marker_layer(lay, "evil-armonly")
    arm = build_image(lay, [(desc, diff)], arch="arm64")
    idx = build_index(lay, [(arm, {"os": "linux", "architecture": "arm64"}),
                            (arm, {"os": "windows", "architecture": "amd64"})])
    env.evil.add_blob(lay.blobs[desc["digest"]])
    env.evil.add_blob(arm["config"])
    env.evil.add_manifest("evil/armonly", arm["digest"], arm["raw"], MT_OCI_MANIFEST)
    env.evil.add_manifest("evil/armonly", "1", idx["raw"], MT_OCI_INDEX)
    code, msg = assert_refused(env, "%s/evil/armonly:1" % env.evil.host, arm,
                               (SC.NOT_FOUND,))
    assert "amd64" in msg or "platform" in msg, msg


def test_blob_server_errors_and_redirect_loops_are_unavailable(clean):
    """Slow-ish: the 5xx case waits out the retries' backoff (about 4 s)."""
    env = clean
    ref, img = evil_image(env, "evil/err500",
                          layer_behaviour=Behaviour(status=500))
    t0 = time.monotonic()
    assert_refused(env, ref, img, (SC.UNAVAILABLE,))
    assert time.monotonic() - t0 < 30
    assert env.evil.count("GET", img["layers"][0]["digest"]) >= 2, "retried"
    ref, img = evil_image(env, "evil/loop")
    path = "/v2/evil/loop/blobs/" + img["layers"][0]["digest"]
    env.evil.blobs[img["layers"][0]["digest"]].behaviour = Behaviour(status=307, location=path)
    code, msg = assert_refused(env, ref, img, (SC.UNAVAILABLE,))
    assert 2 <= env.evil.count("GET", path) <= 20, env.evil.count("GET", path)


# ---- stalls and deadlines ----------------------------------------------------------

def test_manifest_that_stalls_after_the_headers(clean):
    env = clean
    ref, img = evil_image(env, "evil/stallm", manifest_behaviour=Behaviour(stall_after=0))
    t0 = time.monotonic()
    code, msg = assert_refused(env, ref, img, (SC.DEADLINE_EXCEEDED,), timeout=60)
    elapsed = time.monotonic() - t0
    assert STALL_TIMEOUT - 0.5 <= elapsed < 3 * STALL_TIMEOUT + 3, elapsed
    # and imaged closed the stalled connection
    wait_for(lambda: all(r.peer_gone for r in env.evil.log() if "/manifests/" in r.path), 5,
             what="imaged to close the stalled connection")
    assert env.evil.count("GET", "/manifests/") >= 1


def test_layer_that_stalls_half_way(clean):
    env = clean
    ref, img = evil_image(env, "evil/stallb", files={"pad": (os.urandom(256 << 10), 0o644)},
                          layer_behaviour=Behaviour(stall_after=128 << 10))
    t0 = time.monotonic()
    assert_refused(env, ref, img, (SC.DEADLINE_EXCEEDED,), timeout=60)
    elapsed = time.monotonic() - t0
    assert STALL_TIMEOUT - 0.5 <= elapsed < 3 * STALL_TIMEOUT + 3, elapsed
    assert env.evil.sent_for(img["layers"][0]["digest"]) >= 128 << 10


def test_callers_deadline_stops_a_trickling_pull(clean):
    """One byte every 0.3 s never trips the stall timeout; the CRI call's
    own deadline must end the pull, and imaged must let go of the
    connection soon after."""
    env = clean
    ref, img = evil_image(env, "evil/trickle", layer_behaviour=Behaviour(trickle=0.3))
    t0 = time.monotonic()
    code, msg = rpc_error(pull, env.suite, ref, timeout=3)
    assert code == SC.DEADLINE_EXCEEDED, (code, msg)
    assert time.monotonic() - t0 < 4.5

    def let_go():
        reqs = [r for r in env.evil.log() if r.path.endswith(img["layers"][0]["digest"])]
        return reqs and all(r.peer_gone for r in reqs) and reqs
    reqs = None
    end = time.monotonic() + 10
    while time.monotonic() < end and not reqs:
        reqs = let_go()
        time.sleep(0.05)
    assert reqs, "imaged kept the trickling transfer open: %s" % env.evil.log()
    assert max(r.peer_gone for r in reqs) - t0 < 3 + 3
    # the pull's lease and temp files go with it
    wait_for(lambda: tmp_entries(env.suite) == [], 10, what="tmp/ empty")
    assert images(env.suite) == []
    assert img["layers"][0]["digest"] not in blob_digests(env.suite)
