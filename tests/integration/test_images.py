"""The CRI ImageService end to end: criserver -> imaged -> a real
docker-registry, with images built here (images_common) and pushed by
skopeo, so that every id, digest, tag, user and size the CRI answers is
checked against what was pushed (and against what skopeo reads back).

Covers PullImage (by tag, digest, tag@digest, through an index; gzip,
zstd and plain layers, OCI and Docker schema2 manifests;
concurrently, with blobs fetched once as a counting relay in front of the
registry sees), ListImages / StreamImages (and filters), ImageStatus (by
id, tag, repo digest; verbose JSON; users; pinned; annotations),
RemoveImage (all names at once, shared layers stay) and ImageFsInfo, and
bad input. One suite serves the module; each test starts from an empty
store.

Run against another build with CRISP_BUILD=DIR (crisp_env).
"""
import concurrent.futures
import json
import os
import subprocess
import sys

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crisp_env import Suite, cri_pb2  # noqa: E402
from evil_registry import EvilRegistry  # noqa: E402
from images_common import (MT_OCI_LAYER, MT_OCI_LAYER_ZSTD, blob_digests,  # noqa: E402
                           build_image, build_index, finish, gz_layer, images,
                           layer_chain_ids, layer_diff, marker_layer, pull, random_layer,
                           remove, rpc_error, spec, status, tmp_entries)
from registry_env import (MT_DOCKER_MANIFEST, MT_OCI_INDEX, MT_OCI_MANIFEST,  # noqa: E402
                          RegistryEnv, layer_tar, sha256)

SC = grpc.StatusCode


class Env:
    """A registry with the images below, a counting relay in front of it,
    and one suite."""

    def __init__(self):
        self.reg_env = e = RegistryEnv()
        self.suite = None
        self.relay = None
        try:
            self._setup(e)
        except BaseException:
            self.close()
            raise

    def _setup(self, e):
        self.reg = e.start_registry("open")
        self.relay = EvilRegistry(upstream=self.reg.url).start()
        lay = self.lay = e.layout("images")
        self.pushed = {}
        busybox = gz_layer(lay, layer_tar({"bin/busybox": (e.busybox, 0o755)}))
        self.one = build_image(lay, [busybox, marker_layer(lay, "one")], user="1000")
        self.two = build_image(lay, [marker_layer(lay, "two")], user="nobody")
        self.colon = build_image(lay, [marker_layer(lay, "colon")], user="1234:5678")
        self.nouser = build_image(lay, [marker_layer(lay, "nouser")])
        self.pinned = build_image(lay, [marker_layer(lay, "pinned")])
        sbase = random_layer(lay, 1 << 20, seed=b"shared")
        self.shared_a = build_image(lay, [sbase, marker_layer(lay, "shared-a")])
        self.shared_b = build_image(lay, [sbase, marker_layer(lay, "shared-b")])
        self.big = build_image(lay, [random_layer(lay, 2 << 20, seed=b"big")])
        plats = {}
        for arch, variant in (("arm64", "v8"), ("amd64", None), ("arm", "v7")):
            plats[arch] = build_image(lay, [marker_layer(lay, "multi-" + arch)], arch=arch,
                                      extra_config={"variant": variant} if variant else None)
        self.multi_amd64 = plats["amd64"]
        self.multi_others = [plats["arm64"], plats["arm"]]
        self.multi = build_index(lay, [
            (plats["arm64"], {"os": "linux", "architecture": "arm64", "variant": "v8"}),
            (plats["amd64"], {"os": "linux", "architecture": "amd64"}),
            (plats["arm"], {"os": "linux", "architecture": "arm", "variant": "v7"})])
        tar = layer_tar({"etc/plain": (b"plain\n", 0o644)})
        plain = (dict(lay.blob(tar), mediaType=MT_OCI_LAYER), sha256(tar))
        tar = layer_tar({"etc/zstd": (b"zstd\n" * 1000, 0o644)})
        zst = subprocess.run(["zstd", "-q", "-c", "-19"], input=tar, check=True,
                             capture_output=True).stdout
        zstd = (dict(lay.blob(zst), mediaType=MT_OCI_LAYER_ZSTD), sha256(tar))
        self.formats = build_image(lay, [marker_layer(lay, "formats"), plain, zstd])
        cbase = random_layer(lay, 2 << 20, seed=b"conc")
        self.conc = build_image(lay, [cbase, marker_layer(lay, "conc")])
        self.conc_a = build_image(lay, [cbase, marker_layer(lay, "conc-a")])
        self.conc_b = build_image(lay, [cbase, marker_layer(lay, "conc-b")])

        for dest, img in (("test/busybox:1", self.one), ("test/busybox:latest", self.one),
                          ("test/other:1", self.one), ("test/busybox:2", self.two),
                          ("test/user:colon", self.colon), ("test/user:none", self.nouser),
                          ("test/pinned:1", self.pinned), ("test/shared-a:1", self.shared_a),
                          ("test/shared-b:1", self.shared_b), ("test/big:1", self.big),
                          ("test/conc:1", self.conc), ("test/conc-a:1", self.conc_a),
                          ("test/conc-b:1", self.conc_b)):
            self.push(dest, img["desc"], MT_OCI_MANIFEST)
        self.push("test/multi:1", self.multi["desc"], MT_OCI_INDEX, all_images=True)
        # by the registry API: skopeo would compress the plain layer
        for blob in [l["digest"] for l in self.formats["layers"]] + [self.formats["id"]]:
            e.put_blob(self.reg, "test/formats", lay.blobs[blob])
        e.put_manifest(self.reg, "test/formats", "oci", self.formats["raw"], MT_OCI_MANIFEST)
        # skopeo writes the Docker schema2 form (its own manifest, Docker
        # media types for the config and the gzip layers)
        self.push("test/v2s2:1", self.one["desc"], MT_OCI_MANIFEST, fmt="v2s2")

        self.suite = Suite()
        self.suite.start()
        self.pids = self.suite.daemon_pids()

    def push(self, dest, desc, media_type, all_images=False, fmt=None):
        tag = "t%d" % len(self.pushed)
        self.lay.tag(tag, media_type, desc)
        self.reg_env.push(self.lay, tag, self.reg, dest, all_images=all_images, fmt=fmt)
        self.pushed[dest] = desc["digest"]

    def ref(self, dest):
        return "%s/%s" % (self.reg.host, dest)

    def skopeo(self, *args):
        return subprocess.run(["skopeo", "inspect", "--tls-verify=false"] + list(args),
                              check=True, capture_output=True, timeout=60,
                              env=dict(os.environ, HOME=self.reg_env.tmp)).stdout

    def served(self, dest):
        """(manifest digest, config digest) of dest as skopeo reads them
        from the registry."""
        url = "docker://" + self.ref(dest)
        raw = self.skopeo("--raw", url)
        cfg = self.skopeo("--raw", "--config", url)
        return sha256(raw), sha256(cfg)

    def close(self):
        try:
            if self.suite:
                finish(self.suite)
        finally:
            if self.relay:
                self.relay.stop()
            self.reg_env.close()


@pytest.fixture(scope="module")
def env():
    e = Env()
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def clean(env):
    """An empty store, and a check that the daemons are the same processes
    at the end and that no work in progress is left."""
    drop_all(env)
    yield env
    drop_all(env)
    assert env.suite.daemon_pids() == env.pids, "a daemon died or was restarted"
    assert tmp_entries(env.suite) == []


def drop_all(env):
    for im in images(env.suite):
        remove(env.suite, im.id)


def name_of(ref):
    return ref.rsplit(":", 1)[0]


# ---- PullImage ----------------------------------------------------------------

def test_pull_by_tag_answers_the_config_digest_and_names_like_containerd(clean):
    env = clean
    ref = env.ref("test/busybox:1")
    manifest_digest, config_digest = env.served("test/busybox:1")
    assert (manifest_digest, config_digest) == (env.one["digest"], env.one["id"])
    image_ref = pull(env.suite, ref)
    assert image_ref == config_digest
    listed = [im for im in images(env.suite) if im.id == image_ref]
    assert len(listed) == 1
    im = listed[0]
    assert list(im.repo_tags) == [ref]
    assert list(im.repo_digests) == ["%s@%s" % (name_of(ref), manifest_digest)]
    assert im.size == env.one["size"] > 0
    assert im.uid.value == 1000 and im.username == ""
    assert im.spec.image == image_ref
    assert im.pinned is False
    # every blob and layer it names is in the store, nothing is half done
    assert {env.one["digest"], env.one["id"]} | {l["digest"] for l in env.one["layers"]} \
        <= blob_digests(env.suite)
    assert set(env.one["chain_ids"]) <= layer_chain_ids(env.suite)
    assert os.path.isfile(os.path.join(layer_diff(env.suite, env.one["chain_ids"][0]),
                                       "bin", "busybox"))
    # a second pull of what is there answers the same, and adds nothing
    assert pull(env.suite, ref) == image_ref
    assert images(env.suite) == listed


def test_status_by_id_tag_repo_digest_and_id_prefix_agree(clean):
    env = clean
    ref = env.ref("test/busybox:1")
    image_id = pull(env.suite, ref)
    by_list = [im for im in images(env.suite) if im.id == image_id][0]
    names = [image_id, ref, "%s@%s" % (name_of(ref), env.one["digest"]), image_id[7:19]]
    for name in names:
        im, info = status(env.suite, name)
        assert im is not None, name
        assert im == by_list, name
        assert info == {}, "no verbose info unless asked"


def test_pull_by_digest_and_by_tag_at_digest(clean):
    env = clean
    name = name_of(env.ref("test/busybox:1"))
    by_digest = "%s@%s" % (name, env.one["digest"])
    assert pull(env.suite, by_digest) == env.one["id"]
    im, _ = status(env.suite, by_digest)
    assert list(im.repo_digests) == [by_digest]
    assert list(im.repo_tags) == [], "a pull by digest adds no tag"
    remove(env.suite, by_digest)
    assert status(env.suite, env.one["id"])[0] is None

    # tag and digest: the digest decides (":2" is another image), and the
    # tag is dropped as containerd drops it (ParseDockerRef; seen with
    # containerd 1.6.20: PullImage of NAME:2@DIGEST lists no repo tag)
    both = "%s:2@%s" % (name, env.one["digest"])
    assert pull(env.suite, both) == env.one["id"]
    im, _ = status(env.suite, env.one["id"])
    assert list(im.repo_digests) == [by_digest]
    assert list(im.repo_tags) == [], im.repo_tags
    assert status(env.suite, name + ":2")[0] is None
    # a digest the repository does not have
    code, msg = rpc_error(pull, env.suite, "%s@%s" % (name, sha256(b"nothing")))
    assert code == SC.NOT_FOUND, (code, msg)


def test_pull_through_an_index_takes_linux_amd64(clean):
    env = clean
    ref = env.ref("test/multi:1")
    manifest_digest, config_digest = env.served("test/multi:1")
    assert manifest_digest == env.multi["digest"]      # skopeo reads the index itself
    assert config_digest == env.multi_amd64["id"]      # and picks amd64 for --config
    image_ref = pull(env.suite, ref)
    assert image_ref == env.multi_amd64["id"]
    im, info = status(env.suite, ref, verbose=True)
    assert list(im.repo_tags) == [ref]
    # containerd's repo digest is what the name resolved to: the index
    assert list(im.repo_digests) == ["%s@%s" % (name_of(ref), env.multi["digest"])]
    # the size counts the index too, as containerd 1.6 counts it (seen: an
    # index of 517 bytes over a 757-byte image is 1274)
    assert im.size == env.multi_amd64["size"] + len(env.multi["raw"])
    j = json.loads(info["info"])
    assert j["manifestDigest"] == env.multi_amd64["digest"]
    assert j["imageSpec"]["architecture"] == "amd64"
    # only amd64's content was fetched
    blobs = blob_digests(env.suite)
    assert env.multi_amd64["layers"][0]["digest"] in blobs
    assert layer_chain_ids(env.suite) == set(env.multi_amd64["chain_ids"])
    for other in env.multi_others:
        assert not {other["digest"], other["id"], other["layers"][0]["digest"]} & blobs
    assert status(env.suite, "%s@%s" % (name_of(ref), env.multi["digest"]))[0] == im


def test_pull_plain_and_zstd_layers_and_docker_schema2(clean):
    env = clean
    ref = env.ref("test/formats:oci")
    assert env.served("test/formats:oci") == (env.formats["digest"], env.formats["id"])
    assert pull(env.suite, ref) == env.formats["id"]
    assert status(env.suite, ref)[0].size == env.formats["size"]
    top = layer_diff(env.suite, env.formats["chain_ids"][-1])
    with open(os.path.join(top, "etc", "zstd"), "rb") as f:
        assert f.read() == b"zstd\n" * 1000
    plain = layer_diff(env.suite, env.formats["chain_ids"][1])
    assert os.path.isfile(os.path.join(plain, "etc", "plain"))

    ref = env.ref("test/v2s2:1")
    manifest_digest, config_digest = env.served("test/v2s2:1")
    raw = env.skopeo("--raw", "docker://" + ref)
    assert json.loads(raw)["mediaType"] == MT_DOCKER_MANIFEST
    assert pull(env.suite, ref) == config_digest
    im, info = status(env.suite, ref, verbose=True)
    assert list(im.repo_digests) == ["%s@%s" % (name_of(ref), manifest_digest)]
    assert json.loads(info["info"])["mediaType"] == MT_DOCKER_MANIFEST
    assert im.uid.value == 1000


def test_users_as_the_cri_reports_them(clean):
    env = clean
    cases = (("test/busybox:1", 1000, ""), ("test/busybox:2", None, "nobody"),
             ("test/user:colon", 1234, ""), ("test/user:none", None, ""))
    for dest, uid, username in cases:
        pull(env.suite, env.ref(dest))
        im, _ = status(env.suite, env.ref(dest))
        if uid is None:
            assert not im.HasField("uid"), (dest, im.uid)
        else:
            assert im.HasField("uid") and im.uid.value == uid, (dest, im.uid)
        assert im.username == username, dest


def test_verbose_status_is_json_with_the_config_and_top_chain_id(clean):
    env = clean
    ref = env.ref("test/busybox:1")
    pull(env.suite, ref)
    im, info = status(env.suite, ref, verbose=True)
    assert set(info) == {"info"}
    j = json.loads(info["info"])
    assert j["chainID"] == env.one["chain_ids"][-1]
    assert j["imageSpec"] == json.loads(env.one["config"])
    assert j["manifestDigest"] == env.one["digest"]
    assert j["mediaType"] == MT_OCI_MANIFEST


def test_annotations_from_the_pull_are_returned(clean):
    env = clean
    ref = env.ref("test/user:none")
    ann = {"io.kubernetes.cri.image-source": "test", "crisp.test/empty": "",
           "crisp.test/unicode": "\u00e9t\u00e9"}
    image_id = pull(env.suite, ref, annotations=ann)
    im, _ = status(env.suite, ref)
    assert dict(im.spec.annotations) == ann
    assert im.spec.image == image_id
    listed = images(env.suite, ref)
    assert len(listed) == 1 and dict(listed[0].spec.annotations) == ann


def test_pinned_image_is_reported_and_kept(env):
    """[image] pinned_images: its own suite, so that the module's can be emptied."""
    pinned, other = env.ref("test/pinned:1"), env.ref("test/user:none")
    s = Suite(extra_conf="[image]\npinned_images = %s,\n  %s\n"
              % (env.ref("test/nosuch:1"), pinned))
    try:
        s.start()
        pull(s, pinned)
        pull(s, other)
        assert status(s, pinned)[0].pinned is True
        assert status(s, env.pinned["id"])[0].pinned is True
        assert status(s, other)[0].pinned is False
        code, msg = rpc_error(remove, s, pinned)
        assert code == SC.FAILED_PRECONDITION, (code, msg)
        code, msg = rpc_error(remove, s, env.pinned["id"])
        assert code == SC.FAILED_PRECONDITION, (code, msg)
        assert status(s, pinned)[0] is not None
        assert {im.id: im.pinned for im in images(s)} == {
            env.pinned["id"]: True, env.nouser["id"]: False}
        remove(s, other)
        assert [im.id for im in images(s)] == [env.pinned["id"]]
    finally:
        finish(s)


# ---- ListImages, StreamImages, ImageStatus -------------------------------------

def stream(suite, ref=None):
    pb = cri_pb2()
    f = pb.ImageFilter(image=spec(ref)) if ref is not None else None
    return [im for part in suite.call("StreamImages", filter=f) for im in part.images]


def test_list_filters_and_stream_agree(clean):
    env = clean
    a, b = env.ref("test/busybox:1"), env.ref("test/user:colon")
    id_a, id_b = pull(env.suite, a), pull(env.suite, b)
    everything = sorted(images(env.suite), key=lambda im: im.id)
    assert [im.id for im in everything] == sorted([id_a, id_b])
    assert sorted(stream(env.suite), key=lambda im: im.id) == everything
    for f in (a, id_a, "%s@%s" % (name_of(a), env.one["digest"])):
        assert [im.id for im in images(env.suite, f)] == [id_a], f
        assert [im.id for im in stream(env.suite, f)] == [id_a], f
    assert [im.id for im in images(env.suite, b)] == [id_b]
    for f in (env.ref("test/busybox:nosuch"), sha256(b"no image")):
        assert images(env.suite, f) == [], f
        assert stream(env.suite, f) == [], f
    # an empty filter is no filter
    assert sorted(images(env.suite, ""), key=lambda im: im.id) == everything


def test_status_of_an_unknown_image_is_empty_not_an_error(clean):
    env = clean
    for ref in (env.ref("test/busybox:nosuch"), "docker.io/library/nosuch:1", "nosuch",
                sha256(b"no image"), "%s@%s" % (name_of(env.ref("test/busybox:1")),
                                                sha256(b"x"))):
        im, info = status(env.suite, ref, verbose=True)
        assert im is None and info == {}, ref


# ---- RemoveImage ----------------------------------------------------------------

def test_remove_by_tag_removes_the_image_and_all_its_names(clean):
    env = clean
    refs = [env.ref(d) for d in ("test/busybox:1", "test/busybox:latest", "test/other:1")]
    ids = {pull(env.suite, r) for r in refs}
    assert ids == {env.one["id"]}
    im, _ = status(env.suite, env.one["id"])
    assert sorted(im.repo_tags) == sorted(refs)
    assert sorted(im.repo_digests) == sorted({"%s@%s" % (name_of(r), env.one["digest"])
                                              for r in refs})
    remove(env.suite, refs[1])
    for name in refs + list(im.repo_digests) + [env.one["id"]]:
        assert status(env.suite, name)[0] is None, name
    assert images(env.suite) == []
    own = {env.one["digest"], env.one["id"]} | {l["digest"] for l in env.one["layers"]}
    assert not own & blob_digests(env.suite)
    assert not set(env.one["chain_ids"]) & layer_chain_ids(env.suite)


def test_remove_by_id_and_unknown_images(clean):
    env = clean
    image_id = pull(env.suite, env.ref("test/user:colon"))
    remove(env.suite, image_id)
    assert status(env.suite, image_id)[0] is None
    assert images(env.suite) == []
    # idempotent: gone already, a tag never pulled, an id never seen
    for ref in (image_id, env.ref("test/nosuch:1"), sha256(b"never")):
        remove(env.suite, ref)


def fsinfo(suite):
    r = suite.call("ImageFsInfo")
    assert len(r.image_filesystems) == 1
    return r


def test_remove_keeps_a_shared_layer_and_frees_the_rest(clean):
    env = clean
    a, b = env.shared_a, env.shared_b
    assert a["layers"][0] == b["layers"][0] and a["chain_ids"][0] == b["chain_ids"][0]
    pull(env.suite, env.ref("test/shared-a:1"))
    pull(env.suite, env.ref("test/shared-b:1"))
    used = fsinfo(env.suite).image_filesystems[0].used_bytes.value
    remove(env.suite, env.ref("test/shared-a:1"))
    blobs, layers = blob_digests(env.suite), layer_chain_ids(env.suite)
    assert a["layers"][0]["digest"] in blobs and a["chain_ids"][0] in layers
    assert os.path.isfile(os.path.join(layer_diff(env.suite, a["chain_ids"][0]), "data", "blob"))
    assert a["layers"][1]["digest"] not in blobs and a["chain_ids"][1] not in layers
    assert a["digest"] not in blobs and a["id"] not in blobs
    im, _ = status(env.suite, env.ref("test/shared-b:1"))
    assert im is not None and im.size == b["size"]
    # the last image that holds the 1 MiB shared layer goes: its blob and
    # unpacked file are freed
    remove(env.suite, env.ref("test/shared-b:1"))
    assert a["layers"][0]["digest"] not in blob_digests(env.suite)
    assert a["chain_ids"][0] not in layer_chain_ids(env.suite)
    after = fsinfo(env.suite).image_filesystems[0].used_bytes.value
    assert after < used - (3 << 19), (after, used)


# ---- ImageFsInfo -----------------------------------------------------------------

def test_image_fs_info_grows_with_a_pull_and_shrinks_with_a_removal(clean):
    env = clean
    before = fsinfo(env.suite)
    fs = before.image_filesystems[0]
    assert fs.used_bytes.value > 0 and fs.inodes_used.value > 0
    assert fs.timestamp > 0
    assert fs.fs_id.mountpoint and os.path.isdir(fs.fs_id.mountpoint)
    assert os.path.realpath(fs.fs_id.mountpoint).startswith(os.path.realpath(env.suite.root))
    assert len(before.container_filesystems) >= 1
    cfs = before.container_filesystems[0]
    assert cfs.fs_id.mountpoint and cfs.timestamp > 0 and cfs.HasField("used_bytes")
    pull(env.suite, env.ref("test/big:1"))
    after = fsinfo(env.suite).image_filesystems[0]
    # the 2 MiB random layer is stored twice: its blob and its unpacked file
    assert after.used_bytes.value >= fs.used_bytes.value + (4 << 20) - (256 << 10), \
        (after.used_bytes.value, fs.used_bytes.value)
    assert after.inodes_used.value > fs.inodes_used.value
    assert after.timestamp >= fs.timestamp
    remove(env.suite, env.ref("test/big:1"))
    gone = fsinfo(env.suite).image_filesystems[0]
    assert gone.used_bytes.value < after.used_bytes.value - (3 << 20)
    assert gone.inodes_used.value < after.inodes_used.value


# ---- bad input --------------------------------------------------------------------

def test_bad_input_is_invalid_argument_and_the_daemons_stay(clean):
    env = clean
    code, msg = rpc_error(pull, env.suite, "")
    assert code == SC.INVALID_ARGUMENT and "image" in msg, (code, msg)
    pb = cri_pb2()
    code, msg = rpc_error(env.suite.call, "PullImage", req=pb.PullImageRequest())
    assert code == SC.INVALID_ARGUMENT and "image" in msg, (code, msg)
    for method in ("ImageStatus", "RemoveImage"):
        code, msg = rpc_error(env.suite.call, method, image=spec(""))
        assert code == SC.INVALID_ARGUMENT and "image" in msg, (method, code, msg)
    bad = ["busybox:", "Busybox", "a b", "busybox@sha256:1234", "busybox@md5:" + "0" * 32,
           "test//busybox:1", env.reg.host + "/test/busybox:-x", "x" * 300,
           env.reg.host + "/" + "a/" * 200 + "b:1", "busybox:" + "t" * 200, "x" * 5000]
    for ref in bad:
        code, msg = rpc_error(pull, env.suite, ref)
        assert code == SC.INVALID_ARGUMENT, (ref[:60], code, msg)
    assert images(env.suite) == []
    assert env.suite.daemon_pids() == env.pids


def test_missing_images_are_not_found(clean):
    env = clean
    for ref in (env.ref("test/nosuch:1"), env.ref("test/busybox:nosuch")):
        code, msg = rpc_error(pull, env.suite, ref)
        assert code == SC.NOT_FOUND, (ref, code, msg)
    assert images(env.suite) == []


# ---- concurrency ------------------------------------------------------------------

def pull_many(suite, refs):
    with concurrent.futures.ThreadPoolExecutor(len(refs)) as ex:
        futs = [ex.submit(pull, suite, r, None, None, 120) for r in refs]
        return [f.result() for f in futs]


def test_eight_concurrent_pulls_of_one_image_fetch_each_blob_once(clean):
    env = clean
    env.relay.clear()
    ref = "%s/test/conc:1" % env.relay.host
    ids = pull_many(env.suite, [ref] * 8)
    assert set(ids) == {env.conc["id"]}
    listed = images(env.suite)
    assert [im.id for im in listed] == [env.conc["id"]]
    assert list(listed[0].repo_tags) == [ref]
    gets = env.relay.blob_gets()
    layers = [l["digest"] for l in env.conc["layers"]]
    assert {d: gets.get(d) for d in layers} == {d: 1 for d in layers}, gets
    # the config is a blob too: one download shared by the concurrent pulls
    assert gets.get(env.conc["id"]) == 1, "config blob fetched %s times" % gets.get(
        env.conc["id"])
    assert tmp_entries(env.suite) == []


def test_concurrent_pulls_of_images_sharing_a_layer(clean):
    env = clean
    env.relay.clear()
    a, b = env.conc_a, env.conc_b
    base = a["layers"][0]["digest"]
    assert base == b["layers"][0]["digest"]
    refs = ["%s/test/conc-%s:1" % (env.relay.host, x) for x in "abababab"]
    ids = pull_many(env.suite, refs)
    assert ids == [a["id"], b["id"]] * 4
    assert sorted(im.id for im in images(env.suite)) == sorted([a["id"], b["id"]])
    gets = env.relay.blob_gets()
    assert gets.get(base) == 1, gets
    for img in (a, b):
        assert gets.get(img["layers"][1]["digest"]) == 1, gets
        im, _ = status(env.suite, img["id"])
        assert im.size == img["size"]
    assert a["chain_ids"][0] in layer_chain_ids(env.suite)


def test_sizes_agree_across_list_status_and_stream(clean):
    env = clean
    for dest, img in (("test/busybox:1", env.one), ("test/shared-a:1", env.shared_a)):
        pull(env.suite, env.ref(dest))
    by_list = {im.id: im.size for im in images(env.suite)}
    by_stream = {im.id: im.size for im in stream(env.suite)}
    by_status = {i: status(env.suite, i)[0].size for i in by_list}
    assert by_list == by_stream == by_status == {env.one["id"]: env.one["size"],
                                                 env.shared_a["id"]: env.shared_a["size"]}
