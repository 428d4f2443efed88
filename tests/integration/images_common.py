"""images_common: what the CRI image tests (test_images*.py) share.

  * OCI images built here by the image spec from layer tars the test
    chooses (shared base layers, a User, several layers), written into a
    registry_env.Layout and pushed with skopeo; the test knows every
    digest, diff_id, chain id and size it should see;
  * the CRI calls (PullImage with auth and annotations, ImageStatus,
    ListImages, RemoveImage) and their gRPC status;
  * looks at the store on disk (ROOT/images/tmp, blobs, layers) and
    snapshots of directories that must not change.
"""
import gzip
import hashlib
import json
import os
import time

import grpc

from crisp_env import cri_pb2
from registry_env import MT_OCI_CONFIG, MT_OCI_INDEX, MT_OCI_LAYER_GZ, MT_OCI_MANIFEST, \
    layer_tar, sha256

MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


# ---- images ---------------------------------------------------------------

def chain_ids(diff_ids):
    out = []
    for d in diff_ids:
        out.append(d if not out else sha256(("%s %s" % (out[-1], d)).encode()))
    return out


def gz_layer(lay, tar):
    """(descriptor, diff_id) of tar, gzip'ed into the layout."""
    gz = gzip.compress(tar, compresslevel=6, mtime=0)
    return dict(lay.blob(gz), mediaType=MT_OCI_LAYER_GZ), sha256(tar)


def build_image(lay, layers, user=None, arch="amd64", extra_config=None):
    """An OCI image in lay from layers: a list of (descriptor, diff_id)
    (gz_layer's answers). Returns what a test checks against."""
    config = {"architecture": arch, "os": "linux",
              "config": {"Cmd": ["/bin/busybox", "sh"]},
              "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]}}
    if user is not None:
        config["config"]["User"] = user
    if extra_config:
        config.update(extra_config)
    cfg = json.dumps(config).encode()
    manifest = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
                "config": dict(lay.blob(cfg), mediaType=MT_OCI_CONFIG),
                "layers": [desc for desc, _ in layers]}
    raw = json.dumps(manifest).encode()
    desc = dict(lay.blob(raw), mediaType=MT_OCI_MANIFEST)
    diff_ids = [d for _, d in layers]
    return {"desc": desc, "digest": desc["digest"], "raw": raw, "config": cfg,
            "id": sha256(cfg), "layers": [l for l, _ in layers], "diff_ids": diff_ids,
            "chain_ids": chain_ids(diff_ids),
            "size": len(raw) + len(cfg) + sum(l["size"] for l, _ in layers)}


def build_index(lay, images):
    """An OCI index over [(image, platform)]."""
    idx = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
           "manifests": [dict(img["desc"], platform=plat) for img, plat in images]}
    raw = json.dumps(idx).encode()
    desc = dict(lay.blob(raw), mediaType=MT_OCI_INDEX)
    return {"desc": desc, "digest": desc["digest"], "raw": raw}


def marker_layer(lay, text, files=None):
    """A small layer unique to text (so that tests never share one by
    accident)."""
    f = {"etc/crisp-marker": (text.encode() + b"\n", 0o644)}
    f.update(files or {})
    return gz_layer(lay, layer_tar(f))


def random_layer(lay, nbytes, name="data/blob", seed=b""):
    """A layer holding nbytes of incompressible data (a sha256 stream)."""
    out = bytearray()
    h = hashlib.sha256(seed + os.urandom(16))
    block = h.digest()
    while len(out) < nbytes:
        block = hashlib.sha256(block).digest() + os.urandom(32)
        out += block
    return gz_layer(lay, layer_tar({name: (bytes(out[:nbytes]), 0o644)}))


# ---- CRI --------------------------------------------------------------------

def spec(image, annotations=None):
    return cri_pb2().ImageSpec(image=image, annotations=annotations or {})


def pull(suite, ref, auth=None, annotations=None, timeout=60):
    """PullImage; the image_ref."""
    pb = cri_pb2()
    req = pb.PullImageRequest(image=spec(ref, annotations))
    if auth:
        req.auth.CopyFrom(pb.AuthConfig(**auth))
    return suite.call("PullImage", req=req, timeout=timeout).image_ref


def rpc_error(fn, *a, **kw):
    """(grpc.StatusCode, details) of a call that must fail."""
    try:
        got = fn(*a, **kw)
    except grpc.RpcError as e:
        return e.code(), e.details() or ""
    raise AssertionError("expected an error, got %r" % (got,))


def status(suite, ref, verbose=False):
    """The Image, or None when ImageStatus answers an empty image."""
    r = suite.call("ImageStatus", image=spec(ref), verbose=verbose)
    return (r.image if r.HasField("image") else None), dict(r.info)


def images(suite, ref=None):
    pb = cri_pb2()
    f = pb.ImageFilter(image=spec(ref)) if ref is not None else None
    return list(suite.call("ListImages", filter=f).images)


def remove(suite, ref):
    suite.call("RemoveImage", image=spec(ref))


def remove_all(suite):
    for im in images(suite):
        remove(suite, im.id)


# ---- the suite's end ------------------------------------------------------------

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def finish(suite):
    """Stops the suite, then fails if a daemon (or an unpack child) printed
    a sanitizer report on the way (`make SANITIZE=1` builds; LeakSanitizer
    reports at exit, so the log is read after the stop); always cleans up."""
    try:
        suite.stop()
        text = suite.logtext()
        found = [m for m in SANITIZER_MARKS if m in text]
        assert not found, "sanitizer report in the suite's log:\n" + text[-6000:]
    finally:
        suite.cleanup()


# ---- the store on disk ------------------------------------------------------

def store_dir(suite, *parts):
    return os.path.join(suite.root, "images", *parts)


def tmp_entries(suite, settle=10.0):
    """What is left in images/tmp once imaged has finished cleaning up.

    A call that ends on the client's side (its deadline, a cancel) returns
    before imaged has released the pull's lease and run its GC, which passes
    what it removes through tmp/: wait (up to settle seconds) for tmp/ to
    empty, then report what is there."""
    d = store_dir(suite, "tmp")
    end = time.monotonic() + settle
    while True:
        left = sorted(os.listdir(d)) if os.path.isdir(d) else []
        if not left or time.monotonic() >= end:
            return left
        time.sleep(0.05)


def blob_digests(suite):
    d = store_dir(suite, "blobs", "sha256")
    return {"sha256:" + x for x in os.listdir(d)} if os.path.isdir(d) else set()


def layer_chain_ids(suite):
    d = store_dir(suite, "layers", "sha256")
    return {"sha256:" + x for x in os.listdir(d)} if os.path.isdir(d) else set()


def layer_diff(suite, chain_id):
    return store_dir(suite, "layers", "sha256", chain_id[7:], "diff")


def dir_bytes(path):
    """st_blocks bytes under path (0 if it is gone), links not followed."""
    total = 0
    for top, dirs, files in os.walk(path):
        for n in dirs + files:
            try:
                total += os.lstat(os.path.join(top, n)).st_blocks * 512
            except OSError:
                pass
    return total


def snapshot(path):
    """Everything about a tree that a write, chmod, chown, utimes, link or
    unlink through an escape would change."""
    out = {}
    for top, dirs, files in os.walk(path):
        for n in [""] + dirs + files:
            p = os.path.join(top, n) if n else top
            st = os.lstat(p)
            item = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                    st.st_nlink)
            if os.path.islink(p):
                item += (os.readlink(p),)
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    item += (hashlib.sha256(f.read()).hexdigest(),)
            out[os.path.relpath(p, path)] = item
    return out
