"""crispctl against a real crisp suite and a real docker-registry.

crispctl drives imaged's admin socket: the CRI image calls (pull, ls, rm)
and the admin requests whose archives travel as passed fds (import,
export) and push. Images come from registry_env (small OCI images pushed
by skopeo). What crispctl shows is checked against what the CRI says
(criserver's ListImages / ImageStatus), pushes against what the registry
serves (skopeo inspect), and hostile archives against the store on disk:
they fail clearly and leave nothing behind.

Run against another build with CRISP_BUILD=DIR (crisp_env).
"""
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crisp_env  # noqa: E402
from crisp_env import Suite  # noqa: E402
from registry_env import (MT_OCI_CONFIG, MT_OCI_LAYER_GZ, MT_OCI_MANIFEST,  # noqa: E402
                          RegistryEnv, layer_tar, sha256)

CRISPCTL = os.path.join(crisp_env.BUILD, "crispctl")


class Env:
    """One suite, an open and an htpasswd registry, images pushed once."""

    def __init__(self):
        self.reg_env = e = RegistryEnv()
        self.suite = Suite()
        self.open = e.start_registry("open")
        self.pw = "pw-" + os.urandom(8).hex()
        self.basic = e.start_registry("basic", htpasswd=("crisp", self.pw))
        self.lay = e.layout("images")
        self.img = e.image(self.lay, marker="crispctl")
        self.lay.tag("1", MT_OCI_MANIFEST, self.img["desc"])
        e.push(self.lay, "1", self.open, "test/busybox:1")
        e.push(self.lay, "1", self.basic, "test/busybox:1")
        self.image_id = self.img["manifest"]["config"]["digest"]
        self.ref = self.open.host + "/test/busybox:1"
        self.suite.start()

    def close(self):
        try:
            self.suite.cleanup()
        finally:
            self.reg_env.close()

    def ctl(self, *args, stdin=None, timeout=120, expect=0, **kw):
        p = subprocess.run([CRISPCTL, "--runroot", self.suite.runroot] + list(args),
                           capture_output=True, stdin=stdin, timeout=timeout, **kw)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        if expect is not None:
            assert p.returncode == expect, "crispctl %s -> %d\n%s%s" % (
                " ".join(args), p.returncode, out, err)
        return out, err

    def images(self):
        """{id: [tags]} as `crispctl image ls` shows them."""
        ids = self.ctl("image", "ls", "-q")[0].split()
        rows = ls_rows(self.ctl("image", "ls")[0])
        assert len(ids) == len(rows) and all(i[7:19] == r[0] for i, r in zip(ids, rows)), rows
        return {i: ([] if r[1] == "<none>" else r[1].split(",")) for i, r in zip(ids, rows)}

    def cri_ready(self):
        """True once criserver forwards the CRI image service to imaged."""
        try:
            self.suite.call("ListImages")
            return True
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                return False
            raise

    def blob_files(self):
        d = os.path.join(self.suite.root, "images", "blobs", "sha256")
        return set(os.listdir(d)) if os.path.isdir(d) else set()

    def rm_all(self):
        for image_id in self.images():
            self.ctl("image", "rm", image_id)


@pytest.fixture(scope="module")
def env():
    e = Env()
    try:
        # the admin handlers must be in imaged's table: say so if they are not
        _, err = e.ctl("image", "export", "-o", os.path.join(e.suite.tmp, "probe.tar"),
                       "nosuch:1", expect=None)
        if "unimplemented" in err.lower():
            pytest.skip("imaged answers the admin requests UNIMPLEMENTED: its dispatch table "
                        "does not have admin_import/admin_export/admin_push yet")
        yield e
    finally:
        e.close()


@pytest.fixture
def clean(env):
    env.rm_all()
    yield env
    env.rm_all()


def ls_rows(out):
    lines = out.strip().splitlines()
    assert lines[0].split()[:2] == ["IMAGE", "ID"], out
    return [line.split() for line in lines[1:]]


def test_pull_ls_export_rm_import_same_id(clean):
    env = clean
    out, _ = env.ctl("image", "pull", env.ref)
    assert env.image_id in out
    assert env.images() == {env.image_id: [env.ref]}
    rows = ls_rows(env.ctl("image", "ls")[0])
    assert len(rows) == 1
    short = env.image_id[7:19]
    digest = env.img["desc"]["digest"]
    assert rows[0][0] == short and rows[0][1] == env.ref and rows[0][2] == digest[7:19], rows
    assert env.ctl("image", "ls", "-q")[0].split() == [env.image_id]

    archive = os.path.join(env.suite.tmp, "busybox.tar")
    out, _ = env.ctl("image", "export", "-o", archive, env.ref)
    assert "Exported %d bytes" % os.path.getsize(archive) in out
    with tarfile.open(archive) as t:
        names = set(t.getnames())
        index = json.load(t.extractfile("index.json"))
        layout = json.load(t.extractfile("oci-layout"))
    assert layout == {"imageLayoutVersion": "1.0.0"}
    want = {"oci-layout", "index.json", "blobs/" + digest.replace(":", "/"),
            "blobs/" + env.image_id.replace(":", "/")}
    want |= {"blobs/" + l["digest"].replace(":", "/") for l in env.img["layers"]}
    assert want <= names, names
    assert [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]] \
        == [env.ref]
    assert index["manifests"][0]["digest"] == digest

    out, _ = env.ctl("image", "rm", env.ref)
    assert "Deleted: " + env.ref in out
    assert env.images() == {}
    assert ls_rows(env.ctl("image", "ls")[0]) == []

    out, _ = env.ctl("image", "import", archive)
    assert "Imported " + env.image_id in out and "Tagged " + env.ref in out
    assert env.images() == {env.image_id: [env.ref]}

    # the same bytes when exported again
    again = os.path.join(env.suite.tmp, "again.tar")
    env.ctl("image", "export", "-o", again, env.image_id)
    assert open(archive, "rb").read() == open(again, "rb").read()


def test_image_pulled_through_an_index_keeps_its_repo_digest(clean):
    env = clean
    e, lay = env.reg_env, env.reg_env.layout("multi")
    amd64 = e.image(lay, "amd64", marker="multi")
    arm64 = e.image(lay, "arm64", variant="v8", marker="multi")
    idx = e.index(lay, [(arm64, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
                        (amd64, {"os": "linux", "architecture": "amd64"})])
    lay.tag("multi", idx["desc"]["mediaType"], idx["desc"])
    e.push(lay, "multi", env.open, "test/multi:1", all_images=True)
    ref = env.open.host + "/test/multi:1"
    env.ctl("image", "pull", ref)
    amd64_id = amd64["manifest"]["config"]["digest"]
    rows = ls_rows(env.ctl("image", "ls")[0])
    assert [r[:3] for r in rows] == [[amd64_id[7:19], ref, idx["desc"]["digest"][7:19]]]
    archive = os.path.join(env.suite.tmp, "multi.tar")
    env.ctl("image", "export", "-o", archive, ref)
    with tarfile.open(archive) as t:
        entry = json.load(t.extractfile("index.json"))["manifests"][0]
    assert entry["digest"] == idx["desc"]["digest"]
    env.ctl("image", "rm", ref)
    env.ctl("image", "import", archive)
    assert [r[:3] for r in ls_rows(env.ctl("image", "ls")[0])] == [r[:3] for r in rows]


def test_push_to_another_repo_and_pull_back(clean):
    env = clean
    env.ctl("image", "pull", env.ref)
    dest = env.open.host + "/pushed/copy:v2"
    out, _ = env.ctl("image", "push", env.ref, dest)
    digest = env.img["desc"]["digest"]
    assert "Pushed %s: %s" % (dest, digest) in out
    raw, served = env.reg_env.inspect_raw(env.open, "pushed/copy:v2")
    assert served == digest and raw == env.img["raw"]
    # again: every blob is there already, the manifest is the same
    env.ctl("image", "push", env.ref, dest)
    env.ctl("image", "rm", env.ref)
    # back from the registry
    out, _ = env.ctl("image", "pull", dest)
    assert env.image_id in out
    assert env.images() == {env.image_id: [dest]}
    # and pushed by its own name (no destination)
    env.ctl("image", "push", dest)
    # an id is not a name to push to
    _, err = env.ctl("image", "push", env.image_id, expect=1)
    assert "give a destination" in err


def test_push_with_credentials(clean):
    env = clean
    env.ctl("image", "pull", env.ref)
    dest = env.basic.host + "/private/busybox:1"
    _, err = env.ctl("image", "push", env.ref, dest, expect=1)
    assert "authentication required" in err or "401" in err, err
    _, err = env.ctl("image", "push", env.ref, dest, "--user", "crisp:wrong-password", expect=1)
    assert "refused the credentials" in err, err
    out, err = env.ctl("image", "push", env.ref, dest, "--user", "crisp:" + env.pw)
    assert env.pw not in out + err
    raw, served = env.reg_env.inspect_raw(env.basic, "private/busybox:1")
    assert served == env.img["desc"]["digest"]
    # pulled back with the same credentials, through crispctl
    env.ctl("image", "rm", env.ref)
    env.ctl("image", "pull", dest, "--user", "crisp:" + env.pw)
    assert env.image_id in env.images()
    assert env.pw not in env.suite.logtext()


def test_import_layout_directory_and_stdin(clean):
    env = clean
    out, _ = env.ctl("image", "import", env.lay.path, "--tag", "example.com/dir/import:1")
    assert "Imported " + env.image_id in out
    tags = set(env.images()[env.image_id])
    # skopeo's ref.name "1" is a reference too: docker.io/library/1:latest
    assert tags == {"example.com/dir/import:1", "docker.io/library/1:latest"}, tags
    env.rm_all()
    archive = os.path.join(env.suite.tmp, "stdin.tar")
    with tarfile.open(archive, "w") as t:
        t.add(env.lay.path, arcname=".")
    with open(archive, "rb") as f:
        out, _ = env.ctl("image", "import", "-", stdin=f)
    assert "Imported " + env.image_id in out
    # a compressed archive gets a hint, not a tar error
    gz = archive + ".gz"
    with open(archive, "rb") as f, gzip.open(gz, "wb") as g:
        g.write(f.read())
    _, err = env.ctl("image", "import", gz, expect=1)
    assert "compressed (gzip)" in err


def hostile_tar(path, env, mutate):
    """The test image as a layout tar, with mutate(name, data) -> [(name, data, kind)]."""
    with tarfile.open(path, "w") as t:
        for root, _, files in os.walk(env.lay.path):
            for fn in sorted(files):
                full = os.path.join(root, fn)
                name = os.path.relpath(full, env.lay.path)
                for n, data, kind in mutate(name, open(full, "rb").read()):
                    ti = tarfile.TarInfo(n)
                    if kind == "symlink":
                        ti.type, ti.linkname = tarfile.SYMTYPE, data
                        t.addfile(ti)
                    else:
                        ti.size = len(data)
                        t.addfile(ti, io.BytesIO(data))


def test_hostile_archives_fail_and_leave_nothing(clean):
    env = clean
    layer = env.img["layers"][0]["digest"][7:]
    outside = os.path.join(os.path.dirname(env.suite.tmp), "crisp-crispctl-escape")
    cases = [
        ("bad digest", lambda n, d: [(n, d[:-1] + bytes([d[-1] ^ 1]) if layer in n else d, "file")],
         "does not match its digest"),
        ("dotdot", lambda n, d: [(n, d, "file")] + ([("../crisp-crispctl-escape", b"x", "file")]
                                                   if n == "oci-layout" else []),
         '".." component'),
        ("absolute", lambda n, d: [(n, d, "file")] + ([(outside, b"x", "file")]
                                                     if n == "oci-layout" else []),
         "an absolute name"),
        ("symlink blob", lambda n, d: [(n, "/etc/shadow" if layer in n else d,
                                        "symlink" if layer in n else "file")],
         "not a regular file"),
        ("missing layer", lambda n, d: [] if layer in n else [(n, d, "file")],
         "neither in the archive nor in the store"),
    ]
    before = env.blob_files()
    assert before == set()
    for what, mutate, msg in cases:
        path = os.path.join(env.suite.tmp, "hostile.tar")
        hostile_tar(path, env, mutate)
        _, err = env.ctl("image", "import", path, expect=1)
        assert msg in err, (what, err)
        assert env.images() == {}, what
        assert env.blob_files() == before, what
        layers = os.path.join(env.suite.root, "images", "layers", "sha256")
        assert not os.path.isdir(layers) or os.listdir(layers) == [], what
        assert not os.path.exists(outside), what
        assert not os.path.exists(os.path.join(env.suite.root, "crisp-crispctl-escape"))


def test_export_to_stdout_and_errors(clean):
    env = clean
    env.ctl("image", "pull", env.ref)
    path = os.path.join(env.suite.tmp, "stdout.tar")
    with open(path, "wb") as f:
        p = subprocess.run([CRISPCTL, "--runroot", env.suite.runroot, "image", "export", env.ref],
                           stdout=f, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr
    with tarfile.open(path) as t:
        assert "index.json" in t.getnames()
    # through a pipe too
    p = subprocess.run("%s --runroot %s image export %s | tar tf -" % (CRISPCTL, env.suite.runroot,
                                                                      env.ref),
                       shell=True, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "oci-layout" in p.stdout, p.stderr
    missing = os.path.join(env.suite.tmp, "missing.tar")
    _, err = env.ctl("image", "export", "-o", missing, "nosuch/image:1", expect=1)
    assert 'image "nosuch/image:1" not found' in err
    assert not os.path.exists(missing)


def test_chunked_push_of_a_big_layer(clean):
    """A layer over the 32 MiB chunk size goes up in PATCH chunks."""
    env = clean
    lay = env.reg_env.layout("big")
    tar = layer_tar({"big": (os.urandom(40 << 20), 0o644)})
    blob = gzip.compress(tar, compresslevel=1, mtime=0)
    ldesc = dict(lay.blob(blob), mediaType=MT_OCI_LAYER_GZ)
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
                "config": dict(lay.blob(cfg), mediaType=MT_OCI_CONFIG), "layers": [ldesc]}
    raw = json.dumps(manifest).encode()
    lay.tag("example.com/big:1", MT_OCI_MANIFEST, dict(lay.blob(raw), mediaType=MT_OCI_MANIFEST))
    env.ctl("image", "import", lay.path)
    big_id = sha256(cfg)
    assert env.images() == {big_id: ["example.com/big:1"]}
    dest = env.open.host + "/test/big:1"
    env.ctl("image", "push", "example.com/big:1", dest, timeout=300)
    served_raw, served = env.reg_env.inspect_raw(env.open, "test/big:1")
    assert served == sha256(raw)
    env.ctl("image", "rm", big_id)
    env.ctl("image", "pull", dest, timeout=300)
    assert big_id in env.images()


def test_ctrl_c_cancels_an_import(clean):
    env = clean
    r, w = os.pipe()
    p = subprocess.Popen([CRISPCTL, "--runroot", env.suite.runroot, "image", "import", "-"],
                         stdin=r, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(r)
    try:
        os.write(w, b"\0" * 100)    # a stream that stalls
        time.sleep(1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        os.close(w)
    assert p.returncode == 1, err
    assert b"cancelled" in err, err
    assert env.blob_files() == set()
    # imaged is fine and serves the next request
    env.ctl("image", "ls")


def test_usage_and_errors(env):
    p = subprocess.run([CRISPCTL, "--runroot", env.suite.runroot, "image"], capture_output=True)
    assert p.returncode == 2
    p = subprocess.run([CRISPCTL, "--runroot", env.suite.runroot, "image", "pull"],
                       capture_output=True)
    assert p.returncode == 2 and b"usage: crispctl image pull" in p.stderr
    p = subprocess.run([CRISPCTL, "--runroot", "/nonexistent", "image", "ls"], capture_output=True,
                       text=True)
    assert p.returncode == 1 and "cannot reach imaged" in p.stderr
    _, err = env.ctl("image", "rm", "nosuch:1", expect=1)
    assert "no such image: nosuch:1" in err
    _, err = env.ctl("image", "pull", env.open.host + "/test/nosuch:1", expect=1)
    assert "not found" in err.lower()
    _, err = env.ctl("image", "import", "/nonexistent.tar", expect=1)
    assert "/nonexistent.tar: No such file or directory" in err


def test_the_cri_sees_what_crispctl_does(clean):
    env = clean
    if not env.cri_ready():
        pytest.skip("criserver does not forward the CRI image service yet")
    env.ctl("image", "pull", env.ref)
    cri = {im.id: list(im.repo_tags) for im in env.suite.call("ListImages").images}
    assert cri == env.images() == {env.image_id: [env.ref]}
    archive = os.path.join(env.suite.tmp, "cri.tar")
    env.ctl("image", "export", "-o", archive, env.ref)
    env.ctl("image", "push", env.ref, env.open.host + "/cri/copy:1")
    env.suite.call("RemoveImage", image={"image": env.ref})
    assert env.images() == {}
    env.ctl("image", "import", archive)
    st = env.suite.call("ImageStatus", image={"image": env.ref})
    assert st.image.id == env.image_id
    env.ctl("image", "rm", env.ref)
    resp = env.suite.call("PullImage", image={"image": env.open.host + "/cri/copy:1"}, timeout=60)
    assert resp.image_ref == env.image_id
    assert env.images() == {env.image_id: [env.open.host + "/cri/copy:1"]}
