"""imaged's image service from its two sockets and through the CRI, for
what the image tests (test_images*.py) do not look at: leases on the admin
socket (sandboxd's and crispctl's; layers outlive RemoveImage until the
release), who may ask what on which socket, a PullImage past its gRPC
deadline or cancelled by its client (the registry sees the transfer end),
and StreamImages in parts of at most 500 images.

Images come from scripted_registry (in memory, on 127.0.0.1).
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crisp_env import Suite, cri_pb2, wait_for  # noqa: E402
from image_peer import ImagePeer, modules, pb2dir  # noqa: E402
from scripted_registry import ScriptedRegistry  # noqa: E402

SC = grpc.StatusCode
CANCELLED, NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT = 1, 5, 6, 3


@pytest.fixture(scope="module")
def world():
    reg = ScriptedRegistry()
    s = Suite()
    try:
        reg.images = {}
        reg.images["app"] = reg.image("test/app", "v1", [{"etc/app": (b"app\n", 0o644)},
                                                          {"etc/top": (b"top\n", 0o644)}])
        reg.images["slow"] = reg.image("test/slow", "v1", [{"etc/slow": (b"x" * 4096, 0o644)},
                                                            {"big": (os.urandom(1 << 20), 0o644)}])
        reg.stall_after[reg.images["slow"]["layers"][1]] = 1000
        s.start()
        s.reg = reg
        s.admin = os.path.join(s.runroot, "admin", "imaged.sock")
        s.internal = os.path.join(s.runroot, "internal", "imaged.sock")
        yield s
    finally:
        s.cleanup()
        reg.stop()


def ref(world, name):
    return "%s/test/%s:v1" % (world.reg.host, name)


def admin_pull(peer, image, timeout_ms=0):
    cri = peer.cri
    return peer.call("IMG_PULL", cri.PullImageRequest(image=cri.ImageSpec(image=image)),
                     cri.PullImageResponse, timeout_ms=timeout_ms)


def layer_dir(world, chain_id):
    return os.path.join(world.root, "images", "layers", "sha256", chain_id[7:], "diff")


def test_leases_keep_layers_past_remove_image(world):
    c = ImagePeer(world.admin, role="crispctl")
    p = ImagePeer(world.admin, role="sandboxd")
    pb, cri = p.pb, p.cri
    st, err, resp = admin_pull(c, ref(world, "app"))
    assert st == 0, err
    image_id = resp.image_ref
    assert image_id == world.reg.images["app"]["config"]

    st, err, lease = p.call("LEASE_CREATE", pb.LeaseCreate(id="ctr-1", holder="container c1"),
                            pb.Lease)
    assert st == 0, err
    assert lease.id == "ctr-1" and lease.holder == "container c1" and lease.created_at > 0
    st, err, _ = p.call("LEASE_CREATE", pb.LeaseCreate(id="ctr-1"), pb.Lease)
    assert st == ALREADY_EXISTS, err
    st, err, _ = p.call("LEASE_CREATE", pb.LeaseCreate(id="crisp-pull-7"), pb.Lease)
    assert st == INVALID_ARGUMENT, err

    st, err, lease = p.call("LEASE_ADD", pb.LeaseAdd(id="ctr-1", image=ref(world, "app")),
                            pb.Lease)
    assert st == 0, err
    assert list(lease.images) == [image_id]
    assert len(lease.layers) == 2
    for ch in lease.layers:
        assert os.path.isdir(layer_dir(world, ch))
    st, err, _ = p.call("LEASE_ADD", pb.LeaseAdd(id="ctr-1", image="nosuch:1"), pb.Lease)
    assert st == NOT_FOUND, err
    st, err, _ = p.call("LEASE_ADD", pb.LeaseAdd(id="nolease", image=image_id), pb.Lease)
    assert st == NOT_FOUND, err

    # crispctl sees it; the image goes, its layers stay for the lease
    st, err, ll = c.call("LEASE_LIST", pb.LeaseListRequest(), pb.LeaseList)
    assert st == 0 and [l.id for l in ll.leases] == ["ctr-1"], (err, ll)
    st, err, _ = c.call("IMG_REMOVE", cri.RemoveImageRequest(image=cri.ImageSpec(image=image_id)),
                        cri.RemoveImageResponse)
    assert st == 0, err
    st, err, resp = c.call("IMG_STATUS", cri.ImageStatusRequest(
        image=cri.ImageSpec(image=image_id)), cri.ImageStatusResponse)
    assert st == 0 and not resp.HasField("image")
    for ch in lease.layers:
        assert os.path.isdir(layer_dir(world, ch)), "a leased layer was collected"

    st, err, rel = p.call("LEASE_RELEASE", pb.LeaseRelease(id="ctr-1"), pb.Lease)
    assert st == 0 and rel.id == "ctr-1", err
    for ch in lease.layers:
        assert not os.path.exists(layer_dir(world, ch)), "released layers stay"
    st, err, _ = p.call("LEASE_RELEASE", pb.LeaseRelease(id="ctr-1"), pb.Lease)
    assert st == NOT_FOUND, err
    p.close()
    c.close()


_peerdir = None


def peer_dir():
    """A fresh directory with image_peer.py and the compiled protos, which
    the peer runs from as the crisp user: the checkout may not be readable
    by that user (/root is 0700), so nothing it runs is read from there."""
    global _peerdir
    if _peerdir is None:
        _peerdir = tempfile.mkdtemp(prefix="crisp-peer-")
        atexit.register(shutil.rmtree, _peerdir, True)
        here = os.path.dirname(os.path.abspath(__file__))
        shutil.copyfile(os.path.join(here, "image_peer.py"),
                        os.path.join(_peerdir, "image_peer.py"))
        for name in ("cri_pb2.py", "crisp_pb2.py"):
            shutil.copyfile(os.path.join(pb2dir(), name), os.path.join(_peerdir, name))
        for name in os.listdir(_peerdir):
            os.chmod(os.path.join(_peerdir, name), 0o644)
        os.chmod(_peerdir, 0o755)
    return _peerdir


def run_as_crisp(sock, mtype, req):
    d = peer_dir()
    out = subprocess.run([sys.executable, os.path.join(d, "image_peer.py"), sock, d,
                          "criserver", mtype, req.SerializeToString().hex()],
                         capture_output=True, text=True, timeout=60, cwd=d, user="crisp",
                         group="crisp", extra_groups=[])
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_who_may_ask_what(world):
    pb, cri = modules()
    # criserver on the internal socket: the image service, not leases
    r = run_as_crisp(world.internal, "IMG_FSINFO", cri.ImageFsInfoRequest())
    assert r.get("status") == 0, r
    fs = cri.ImageFsInfoResponse()
    fs.ParseFromString(bytes.fromhex(r["resp"]))
    assert fs.image_filesystems[0].fs_id.mountpoint == os.path.join(world.root, "images")
    assert fs.container_filesystems[0].fs_id.mountpoint == os.path.join(world.root, "containers")
    assert os.path.isdir(os.path.join(world.root, "containers"))
    r = run_as_crisp(world.internal, "LEASE_LIST", pb.LeaseListRequest())
    assert "exception" in r, r       # the peer is ended: leases are not criserver's
    # sandboxd on the admin socket: leases, not the image service
    p = ImagePeer(world.admin, role="sandboxd")
    p.send(p.type_of("IMG_FSINFO"), cri.ImageFsInfoRequest())
    assert p.recv() is None
    # crispctl's admin requests are not sandboxd's
    p = ImagePeer(world.admin, role="sandboxd")
    p.send(p.type_of("ADM_PUSH"), pb.ImagePush(image="x"))
    assert p.recv() is None
    # and imaged is still there for everyone
    assert world.call("ImageFsInfo").image_filesystems


def test_cri_deadline_and_cancel_stop_the_transfer(world):
    cri = cri_pb2()
    slow = ref(world, "slow")
    big = world.reg.images["slow"]["layers"][1]
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        world.call("PullImage", image=cri.ImageSpec(image=slow), timeout=2)
    assert e.value.code() == SC.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 6

    # a client that cancels: imaged gets MSG_CANCEL and ends the pull; the
    # next pull of the same image (still stalled) fails on its own, fast
    fn = world.grpc_channel().unary_unary(
        "/runtime.v1.ImageService/PullImage",
        request_serializer=cri.PullImageRequest.SerializeToString,
        response_deserializer=cri.PullImageResponse.FromString)
    fut = fn.future(cri.PullImageRequest(image=cri.ImageSpec(image=slow)), timeout=60)
    wait_for(lambda: world.reg.count(big) >= 2, 10, what="the stalled blob requested")
    fut.cancel()
    with pytest.raises(grpc.FutureCancelledError):
        fut.result()
    # imaged stays responsive, has no half image, and no pull lease left
    wait_for(lambda: not any(l.id.startswith("crisp-pull") for l in leases(world)), 10,
             what="the cancelled pull's lease to go")
    listed = world.call("ListImages").images
    assert world.reg.images["slow"]["config"] not in [im.id for im in listed]
    # the GC after the lease's release moves what it removes through tmp/
    # (gc-*) and empties it: tmp/ converges to empty
    tmp = os.path.join(world.root, "images", "tmp")
    wait_for(lambda: os.listdir(tmp) == [], 10, what="images/tmp to be empty")


def leases(world):
    p = ImagePeer(world.admin, role="crispctl")
    try:
        st, err, ll = p.call("LEASE_LIST", p.pb.LeaseListRequest(), p.pb.LeaseList)
        assert st == 0, err
        return list(ll.leases)
    finally:
        p.close()


def test_stream_images_in_parts(world):
    """520 images (one layer shared, configs apart): StreamImages sends at
    most 500 a message, ListImages all of them, the same set."""
    reg = world.reg
    n = 520
    names = []
    for i in range(n):
        reg.image("test/many", "t%d" % i, [{"etc/shared": (b"shared\n", 0o644)}],
                  user=str(1000 + i))
        names.append("%s/test/many:t%d" % (reg.host, i))
    p = ImagePeer(world.admin, role="crispctl")
    cri = p.cri
    ids = []
    for chunk in range(0, n, 40):       # 40 pulls in flight at once
        want = []
        for name in names[chunk:chunk + 40]:
            want.append(p.send(p.type_of("IMG_PULL"),
                               cri.PullImageRequest(image=cri.ImageSpec(image=name))))
        for id in want:
            st, err, resp = p.wait(id, cri.PullImageResponse)
            assert st == 0, err
            ids.append(resp.image_ref)
    assert len(set(ids)) == n
    parts = world.call("StreamImages", timeout=60)
    assert all(len(m.images) <= 500 for m in parts)
    assert len(parts) >= 2
    streamed = {im.id for m in parts for im in m.images}
    listed = {im.id for im in world.call("ListImages", timeout=60).images}
    assert set(ids) <= streamed and streamed == listed
    for id in ids:
        st, err, _ = p.call("IMG_REMOVE", cri.RemoveImageRequest(image=cri.ImageSpec(image=id)),
                            cri.RemoveImageResponse)
        assert st == 0, err
    p.close()


def test_docker_config_written_after_start(tmp_path):
    """[registry] docker_config may appear, and be replaced, while imaged
    runs: Landlock lets imaged read its directory, not an inode."""
    import base64
    from registry_env import RegistryEnv
    env = RegistryEnv()
    s = None
    try:
        reg = env.start_registry("auth", htpasswd=("alice", "s3cret"))
        lay = env.layout("auth")
        img = env.image(lay)
        lay.tag("v1", "application/vnd.oci.image.manifest.v1+json", img["desc"])
        env.push(lay, "v1", reg, "test/private:v1")
        cfgdir = tmp_path / "docker"
        cfgdir.mkdir()
        cfg = cfgdir / "config.json"
        s = Suite(extra_conf="[registry]\ndocker_config = %s\n" % cfg)
        s.start()
        cri = cri_pb2()
        image = cri.ImageSpec(image="%s/test/private:v1" % reg.host)
        with pytest.raises(grpc.RpcError) as e:
            s.call("PullImage", image=image, timeout=60)
        assert e.value.code() == SC.UNAUTHENTICATED, e.value.details()

        def write(user, password):
            auth = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            tmp = cfgdir / "config.json.new"
            tmp.write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
            os.rename(tmp, cfg)
        write("alice", "wrong")
        with pytest.raises(grpc.RpcError) as e:
            s.call("PullImage", image=image, timeout=60)
        assert e.value.code() == SC.UNAUTHENTICATED, e.value.details()
        write("alice", "s3cret")        # a new inode in the same directory
        got = s.call("PullImage", image=image, timeout=60).image_ref
        assert got.startswith("sha256:")
        assert "s3cret" not in s.logtext()
    finally:
        if s:
            s.cleanup()
        env.close()
