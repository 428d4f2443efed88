"""imaged's registry client against real registries.

Debian's docker-registry serves images that skopeo pushed: open, behind
htpasswd Basic auth, and behind token auth with token_server.py. The
client is driven by registry_probe.c, built here from the sources with
ASan+UBSan; each pull prints what it got and the test compares that with
what was pushed: manifest bytes and digests (also as skopeo reads them
back), configs and layers byte for byte.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_env import (MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_INDEX,  # noqa: E402
                          MT_OCI_MANIFEST, RegistryEnv, sha256)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCES = ["tests/integration/registry_probe.c", "imaged/reference.c", "imaged/digest.c",
           "imaged/dockercfg.c", "common/fsutil.c"]
OK, CANCELLED, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND = 0, 1, 3, 4, 5
PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAVAILABLE, UNAUTHENTICATED = 7, 8, 14, 16


def build_probe(out):
    srcs = SOURCES + sorted("imaged/" + f for f in os.listdir(os.path.join(REPO, "imaged"))
                            if f.startswith("registry") and f.endswith(".c"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcurl", "libcrypto", "json-c"],
                           check=True, capture_output=True, text=True).stdout.split()
    cmd = ["cc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
           "-Wno-unused-parameter", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
           "-fno-sanitize-recover=undefined", "-I.", "-o", out] + srcs + flags + ["-lpthread"]
    subprocess.run(cmd, check=True, cwd=REPO)
    return out


class Env:
    """The registries and images every test here uses (made once)."""

    def __init__(self, env):
        self.env = e = env
        self.probe_bin = build_probe(os.path.join(e.tmp, "registry_probe"))
        self.open = e.start_registry("open")
        self.basic_pw = "basic-" + os.urandom(6).hex()
        self.basic = e.start_registry("basic", htpasswd=("crisp", self.basic_pw))
        self.ts = e.start_token_server()
        self.tok = e.start_registry("token", token=self.ts)
        self.lay = lay = e.layout("images")
        self.amd64 = e.image(lay, "amd64")
        self.arm64 = e.image(lay, "arm64", variant="v8")
        self.armv7 = e.image(lay, "arm", variant="v7")
        self.three = e.image(lay, "amd64", marker="three", layers=3)
        self.bigcfg = e.image(lay, "amd64", marker="bigcfg", config_padding=10 << 20)
        self.index = e.index(lay, [(self.arm64, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
                                   (self.amd64, {"os": "linux", "architecture": "amd64"}),
                                   (self.armv7, {"os": "linux", "architecture": "arm", "variant": "v7"})])
        for tag, img in (("1", self.amd64), ("arm64", self.arm64), ("three", self.three)):
            lay.tag(tag, MT_OCI_MANIFEST, img["desc"])
        lay.tag("multi", MT_OCI_INDEX, self.index["desc"])
        e.push(lay, "1", self.open, "test/busybox:1")
        e.push(lay, "three", self.open, "test/three:1")
        # skopeo refuses configs over 4 MiB too: the API, by hand
        for l in self.bigcfg["layers"]:
            e.put_blob(self.open, "test/bigcfg", lay.blobs[l["digest"]])
        e.put_blob(self.open, "test/bigcfg", self.bigcfg["config"])
        e.put_manifest(self.open, "test/bigcfg", "1", self.bigcfg["raw"], MT_OCI_MANIFEST)
        e.push(lay, "multi", self.open, "test/multi:1", all_images=True)
        e.push(lay, "1", self.open, "test/v2s2:1", fmt="v2s2")
        e.push(lay, "arm64", self.open, "test/v2s2:arm64", fmt="v2s2")
        e.push(lay, "1", self.basic, "test/busybox:1")
        e.push(lay, "1", self.tok, "test/busybox:1", creds="crisp:" + self.ts.password)
        e.push(lay, "1", self.tok, "public/busybox:1", creds="crisp:" + self.ts.password)
        # a Docker manifest list over the two schema2 images skopeo made
        self.v2_amd64, self.v2_amd64_digest = e.inspect_raw(self.open, "test/v2s2:1")
        self.v2_arm64, self.v2_arm64_digest = e.inspect_raw(self.open, "test/v2s2:arm64")
        lst = {"schemaVersion": 2, "mediaType": MT_DOCKER_LIST, "manifests": [
            {"mediaType": MT_DOCKER_MANIFEST, "digest": self.v2_arm64_digest,
             "size": len(self.v2_arm64), "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": MT_DOCKER_MANIFEST, "digest": self.v2_amd64_digest,
             "size": len(self.v2_amd64), "platform": {"os": "linux", "architecture": "amd64"}}]}
        self.list_raw = json.dumps(lst).encode()
        e.put_manifest(self.open, "test/v2s2", "list", self.list_raw, MT_DOCKER_LIST)

    def probe(self, *args, refs=(), timeout=120):
        out = subprocess.run([self.probe_bin] + list(args) + list(refs), capture_output=True,
                             text=True, timeout=timeout,
                             env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
        assert "Sanitizer" not in out.stderr and "runtime error" not in out.stderr, out.stderr
        lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        assert out.returncode == (0 if all(r.get("ok") for r in lines) else 1), out.stderr
        return lines, out.stdout + out.stderr

    def pull(self, ref, *args):
        lines, text = self.probe(*args, refs=[ref])
        assert len(lines) == 1, text
        return lines[0], text


@pytest.fixture(scope="module")
def reg():
    env = RegistryEnv()
    try:
        yield Env(env)
    finally:
        env.close()


def assert_image(res, img, out_dir=None, env=None):
    assert res["ok"], res
    assert res["code"] == OK
    assert res["digest"] == img["desc"]["digest"]
    assert res["manifest"].encode() == img["raw"]
    assert res["config"]["digest"] == sha256(img["config"])
    assert res["config_bytes"] == len(img["config"])
    assert [l["digest"] for l in res["layers"]] == [l["digest"] for l in img["layers"]]
    assert res["bytes"] == sum(l["size"] for l in img["layers"])
    if out_dir:
        for l in img["layers"]:
            with open(os.path.join(out_dir, "sha256", l["digest"][7:]), "rb") as f:
                assert f.read() == env.lay.blobs[l["digest"]]


def test_pull_oci_image_by_tag_and_digest(reg):
    with tempfile.TemporaryDirectory() as out:
        res, _ = reg.pull(reg.open.host + "/test/busybox:1", "--out", out)
        assert_image(res, reg.amd64, out, reg)
        assert res["media_type"] == MT_OCI_MANIFEST and res["index_digest"] == ""
    # what skopeo reads back is what we got
    raw, digest = reg.env.inspect_raw(reg.open, "test/busybox:1")
    assert raw == reg.amd64["raw"] and digest == res["digest"]
    res, _ = reg.pull("%s/test/busybox@%s" % (reg.open.host, res["digest"]))
    assert_image(res, reg.amd64)
    res, _ = reg.pull("%s/test/busybox:1@%s" % (reg.open.host, reg.amd64["desc"]["digest"]))
    assert_image(res, reg.amd64)


def test_pull_layers_in_parallel(reg):
    with tempfile.TemporaryDirectory() as out:
        res, _ = reg.pull(reg.open.host + "/test/three:1", "--layer-threads", "3", "--out", out)
        assert_image(res, reg.three, out, reg)
        assert len(res["layers"]) == 3


def test_docker_schema2_from_skopeo(reg):
    res, _ = reg.pull(reg.open.host + "/test/v2s2:1")
    assert res["ok"], res
    assert res["media_type"] == MT_DOCKER_MANIFEST
    assert res["digest"] == reg.v2_amd64_digest
    assert res["manifest"].encode() == reg.v2_amd64
    assert res["config"]["media_type"] == "application/vnd.docker.container.image.v1+json"
    assert all(l["media_type"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
               for l in res["layers"])


def test_oci_index_platform_pick(reg):
    ref = reg.open.host + "/test/multi:1"
    _, index_digest = reg.env.inspect_raw(reg.open, "test/multi:1")
    assert index_digest == reg.index["desc"]["digest"]
    res, _ = reg.pull(ref, "--platform", "linux/amd64")
    assert_image(res, reg.amd64)
    assert res["index_digest"] == index_digest and res["index_media_type"] == MT_OCI_INDEX
    assert res["platform"] == "linux/amd64"
    res, _ = reg.pull(ref, "--platform", "linux/arm64")
    assert_image(res, reg.arm64)
    assert res["platform"] == "linux/arm64/v8"
    res, _ = reg.pull(ref, "--platform", "linux/arm/v7")
    assert_image(res, reg.armv7)
    res, _ = reg.pull(ref)             # this node
    if os.uname().machine == "x86_64":
        assert_image(res, reg.amd64)
    res, _ = reg.pull(ref, "--platform", "linux/s390x")
    assert not res["ok"] and res["code"] == NOT_FOUND
    assert "linux/s390x" in res["msg"] and "linux/arm64/v8, linux/amd64, linux/arm/v7" in res["msg"]


def test_docker_manifest_list(reg):
    res, _ = reg.pull(reg.open.host + "/test/v2s2:list", "--platform", "linux/arm64")
    assert res["ok"], res
    assert res["digest"] == reg.v2_arm64_digest
    assert res["index_digest"] == sha256(reg.list_raw)
    assert res["index_media_type"] == MT_DOCKER_LIST
    res, _ = reg.pull(reg.open.host + "/test/v2s2:list", "--platform", "linux/amd64")
    assert res["digest"] == reg.v2_amd64_digest


def test_not_found_and_bad_references(reg):
    h = reg.open.host
    for ref in (h + "/test/busybox:nope", h + "/test/nothing:1",
                h + "/test/busybox@sha256:" + "0" * 64):
        res, _ = reg.pull(ref)
        assert not res["ok"] and res["code"] == NOT_FOUND, res
    res, _ = reg.pull(h + "/test/Busybox:1")
    assert res["code"] == INVALID_ARGUMENT and "lowercase" in res["msg"]
    res, _ = reg.pull(h + "/test/busybox@sha256:abc")
    assert res["code"] == INVALID_ARGUMENT


def test_basic_auth(reg):
    ref = reg.basic.host + "/test/busybox:1"
    res, text = reg.pull(ref, "--user", "crisp", "--password", reg.basic_pw)
    assert_image(res, reg.amd64)
    auth = base64.b64encode(("crisp:" + reg.basic_pw).encode()).decode()
    res, _ = reg.pull(ref, "--auth", auth)
    assert_image(res, reg.amd64)
    res, _ = reg.pull(ref)
    assert res["code"] == UNAUTHENTICATED and "authentication required" in res["msg"]
    res, text = reg.pull(ref, "--user", "crisp", "--password", "wrong-" + reg.basic_pw)
    assert res["code"] == UNAUTHENTICATED and "refused" in res["msg"]
    assert reg.basic_pw not in text
    # credentials for another server are not sent here
    res, _ = reg.pull(ref, "--user", "crisp", "--password", reg.basic_pw,
                      "--server-address", "https://quay.io")
    assert res["code"] == UNAUTHENTICATED


def test_docker_config_credentials(reg):
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "config.json")
        auth = base64.b64encode(("crisp:" + reg.basic_pw).encode()).decode()
        with open(cfg, "w") as f:
            json.dump({"auths": {"http://" + reg.basic.host: {"auth": auth}}}, f)
        res, _ = reg.pull(reg.basic.host + "/test/busybox:1", "--docker-config", cfg)
        assert_image(res, reg.amd64)
        with open(cfg, "w") as f:
            json.dump({"auths": {"other.example.com": {"auth": auth}}}, f)
        res, _ = reg.pull(reg.basic.host + "/test/busybox:1", "--docker-config", cfg)
        assert res["code"] == UNAUTHENTICATED


def test_token_auth_and_cache(reg):
    ts, ref = reg.ts, reg.tok.host + "/test/busybox:1"
    scope = "repository:test/busybox:pull"
    before = ts.count(method="GET", account="crisp", scope=scope, status=200)
    lines, text = reg.probe("--user", "crisp", "--password", ts.password, "--repeat", "3",
                            refs=[ref, ref])
    assert len(lines) == 6
    for res in lines:
        assert_image(res, reg.amd64)
    # six pulls in one client: one token
    assert ts.count(method="GET", account="crisp", scope=scope, status=200) == before + 1
    assert ts.password not in text
    # anonymous: public/ only
    res, _ = reg.pull(reg.tok.host + "/public/busybox:1")
    assert_image(res, reg.amd64)
    res, _ = reg.pull(ref)
    assert res["code"] == UNAUTHENTICATED
    res, text = reg.pull(ref, "--user", "crisp", "--password", "bad-password")
    assert res["code"] == UNAUTHENTICATED and "refused" in res["msg"]
    assert "bad-password" not in text


def test_identity_and_registry_tokens(reg):
    ts, ref = reg.ts, reg.tok.host + "/test/busybox:1"
    posts = ts.count(method="POST", account="crisp", status=200)
    res, text = reg.pull(ref, "--identity-token", ts.refresh_token)
    assert_image(res, reg.amd64)
    assert ts.count(method="POST", account="crisp", status=200) == posts + 1
    assert ts.refresh_token not in text
    res, _ = reg.pull(ref, "--identity-token", "crisp-refresh-wrong")
    assert res["code"] == UNAUTHENTICATED
    # a registry token is sent as is: get one the way kubelet's provider would
    req = urllib.request.Request("%s?service=%s&scope=repository:test/busybox:pull"
                                 % (ts.realm, ts.service))
    req.add_header("Authorization", "Basic " + base64.b64encode(
        ("crisp:" + ts.password).encode()).decode())
    token = json.loads(urllib.request.urlopen(req, timeout=10).read())["token"]
    gets = ts.count(method="GET")
    res, text = reg.pull(ref, "--registry-token", token)
    assert_image(res, reg.amd64)
    assert ts.count(method="GET") == gets       # no token service round trip
    assert token not in text
    res, _ = reg.pull(ref, "--registry-token", "not-a-jwt")
    assert res["code"] == UNAUTHENTICATED


def test_token_expiry(reg):
    ts = reg.env.start_token_server(expires_in=2)
    tok2 = reg.env.start_registry("token2", token=ts)
    reg.env.push(reg.lay, "1", tok2, "test/busybox:1", creds="crisp:" + ts.password)
    ref = tok2.host + "/test/busybox:1"
    scope = "repository:test/busybox:pull"
    lines, _ = reg.probe("--user", "crisp", "--password", ts.password, "--repeat", "2",
                         refs=[ref, ref])
    assert all(r["ok"] for r in lines) and len(lines) == 4
    assert ts.count(method="GET", account="crisp", scope=scope) == 1
    lines, _ = reg.probe("--user", "crisp", "--password", ts.password, "--repeat", "2",
                         "--repeat-delay-ms", "2500", refs=[ref])
    assert all(r["ok"] for r in lines)
    assert ts.count(method="GET", account="crisp", scope=scope) == 3
    tok2.stop()


def test_mirrors(reg):
    # registry.k8s.io and gcr.io come from the local registry: no network
    mirror = "http://" + reg.open.host
    args = ["--host", "registry.k8s.io", "--mirror", mirror,
            "--host", "gcr.io", "--mirror", "http://127.0.0.1:1", "--mirror", mirror]
    lines, _ = reg.probe(*args, refs=["registry.k8s.io/test/busybox:1", "gcr.io/test/multi:1"])
    assert_image(lines[0], reg.amd64)
    assert lines[1]["ok"] and lines[1]["index_digest"] == reg.index["desc"]["digest"]
    # a mirror that refuses us: on to the registry itself
    res, _ = reg.pull(reg.open.host + "/test/busybox:1",
                      "--host", reg.open.host, "--mirror", "http://" + reg.basic.host)
    assert_image(res, reg.amd64)
    # credentials named for the mirror go to the mirror
    res, _ = reg.pull("quay.io/test/busybox:1", "--host", "quay.io",
                      "--mirror", "http://" + reg.basic.host, "--user", "crisp",
                      "--password", reg.basic_pw, "--server-address", reg.basic.host)
    assert_image(res, reg.amd64)


def test_size_caps(reg):
    # a 10 MiB config is refused from its descriptor, before any byte
    res, _ = reg.pull(reg.open.host + "/test/bigcfg:1")
    assert res["code"] == RESOURCE_EXHAUSTED and "cap" in res["msg"]
    # a manifest over a (small) cap: from the registry's Content-Length
    res, _ = reg.pull(reg.open.host + "/test/busybox:1", "--max-manifest", "200")
    assert res["code"] == RESOURCE_EXHAUSTED and "Content-Length" in res["msg"]
    # a manifest that says the config is smaller than the blob the registry has
    m = dict(reg.bigcfg["manifest"])
    m["config"] = dict(m["config"], size=1000)
    raw = json.dumps(m).encode()
    reg.env.put_manifest(reg.open, "test/bigcfg", "liar", raw, MT_OCI_MANIFEST)
    res, _ = reg.pull(reg.open.host + "/test/bigcfg:liar")
    assert res["code"] == RESOURCE_EXHAUSTED and "1000 bytes" in res["msg"]


def test_concurrent_pulls_share_a_client(reg):
    h = reg.open.host
    refs = [h + "/test/busybox:1", h + "/test/three:1", h + "/test/multi:1",
            h + "/test/v2s2:1"] * 3
    lines, _ = reg.probe("--threads", "6", "--layer-threads", "2", "--platform", "linux/amd64",
                         refs=refs)
    assert len(lines) == len(refs) and all(r["ok"] for r in lines)
    by_ref = {}
    for r in lines:
        by_ref.setdefault(r["ref"], set()).add(r["digest"])
    assert by_ref[h + "/test/busybox:1"] == {reg.amd64["desc"]["digest"]}
    assert by_ref[h + "/test/three:1"] == {reg.three["desc"]["digest"]}
    assert by_ref[h + "/test/multi:1"] == {reg.amd64["desc"]["digest"]}
    assert by_ref[h + "/test/v2s2:1"] == {reg.v2_amd64_digest}


def test_cancel_and_deadline(reg):
    # the flag is set during the first layer: the next transfer stops
    res, _ = reg.pull(reg.open.host + "/test/three:1", "--cancel-after", "1")
    assert res["code"] == CANCELLED and "cancelled" in res["msg"]
    res, _ = reg.pull(reg.open.host + "/test/busybox:1", "--deadline-ms", "-1")
    assert res["code"] == DEADLINE_EXCEEDED and "deadline" in res["msg"]


def test_registry_down(reg):
    down = reg.env.start_registry("down")
    down.stop()
    res, _ = reg.pull(down.host + "/test/busybox:1")
    assert res["code"] == UNAVAILABLE
