"""CRI basics through a real gRPC client: Version, Status (and the runtime
handlers' features relayed from sandboxd), RuntimeConfig, every one of the 43
methods answering a proper status, bad input, and criserver's checks of the
pod and container calls reaching the client."""
import concurrent.futures
import json
import os

import grpc
import pytest

from crisp_env import Suite, cri_pb2, method_table, wait_for

BUILT = {"Version", "Status", "RuntimeConfig"}


def test_version(shared_suite):
    v = shared_suite.call("Version", version="0.1.0")
    assert v.runtime_name == "crisp"
    assert v.runtime_api_version == "v1"
    assert v.version == "0.1.0"
    assert v.runtime_version  # the project's version
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "Makefile")) as f:
        mk = f.read()
    assert "VERSION    := %s" % v.runtime_version in mk


def test_status_ready(shared_suite):
    st = shared_suite.call("Status", verbose=True)
    conds = {c.type: c for c in st.status.conditions}
    assert conds["RuntimeReady"].status is True
    assert conds["NetworkReady"].status is True, conds["NetworkReady"].message
    names = [h.name for h in st.runtime_handlers]
    assert "runc" in names and "" in names
    assert st.info, "verbose Status has info"
    for k, v in st.info.items():
        json.loads(v)  # every value is JSON


def test_status_handler_features_are_sandboxds(shared_suite):
    """Each handler's features are what sandboxd reported for it (the verbose
    info carries sandboxd's answer as it came): the default handler's also
    under "", and false for a handler sandboxd said nothing of."""
    st = shared_suite.call("Status", verbose=True)
    info = {k: json.loads(v) for k, v in st.info.items()}
    net = info["network"]
    assert net["known"] is True, net
    assert net["ready"] is True and net["config_file"] and net["network_name"] == "crisp-test"
    assert isinstance(net["default_network"], bool)
    reported = {h["name"]: h for h in net["handlers"]}
    default = info["config"]["default_runtime"]
    configured = [r["name"] for r in info["config"]["runtimes"]]
    assert sorted(h.name for h in st.runtime_handlers) == sorted(configured + [""])
    for h in st.runtime_handlers:
        src = reported.get(h.name or default, {})
        for feature in ("recursive_read_only_mounts", "user_namespaces"):
            assert getattr(h.features, feature) is src.get(feature, False), (h.name, feature)
    # the non-verbose answer carries the same features
    quiet = shared_suite.call("Status", verbose=False)
    assert [(h.name, h.features) for h in quiet.runtime_handlers] == \
        [(h.name, h.features) for h in st.runtime_handlers]


def test_status_not_verbose_has_no_info(shared_suite):
    st = shared_suite.call("Status", verbose=False)
    assert len(st.info) == 0


def test_runtime_config(shared_suite):
    rc = shared_suite.call("RuntimeConfig")
    pb = cri_pb2()
    assert rc.linux.cgroup_driver == pb.CGROUPFS


def test_every_method_answers(shared_suite):
    table = method_table()
    assert len(table) == 43
    for path, (req_cls, resp_cls, streaming) in table.items():
        name = path.rsplit("/", 1)[1]
        try:
            shared_suite.call(name, req_cls(), timeout=10)
            code = grpc.StatusCode.OK
            detail = ""
        except grpc.RpcError as e:
            code, detail = e.code(), e.details()
        if name in BUILT:
            assert code == grpc.StatusCode.OK, (path, code, detail)
        else:
            # not built yet, or built and rejecting an empty request clearly
            assert code in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INVALID_ARGUMENT,
                            grpc.StatusCode.NOT_FOUND, grpc.StatusCode.OK), (path, code)
            if code == grpc.StatusCode.UNIMPLEMENTED:
                assert name in detail, (path, detail)


# What criserver says of an empty request to each pod and container call:
# the first required field, named; the List calls need nothing.
EMPTY = {
    "RunPodSandbox": "config: must be set",
    "StopPodSandbox": "pod_sandbox_id: must not be empty",
    "RemovePodSandbox": "pod_sandbox_id: must not be empty",
    "PodSandboxStatus": "pod_sandbox_id: must not be empty",
    "ListPodSandbox": None,
    "CreateContainer": "pod_sandbox_id: must not be empty",
    "StartContainer": "container_id: must not be empty",
    "StopContainer": "container_id: must not be empty",
    "RemoveContainer": "container_id: must not be empty",
    "ContainerStatus": "container_id: must not be empty",
    "ListContainers": None,
    "ReopenContainerLog": "container_id: must not be empty",
    "ExecSync": "container_id: must not be empty",
}


def test_pod_and_container_checks(shared_suite):
    for name, text in EMPTY.items():
        if text is None:
            shared_suite.call(name)     # OK: an empty list, from sandboxd
            continue
        with pytest.raises(grpc.RpcError) as e:
            shared_suite.call(name)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert e.value.details() == text, (name, e.value.details())
    pb = cri_pb2()
    cases = [
        ("RunPodSandbox", pb.RunPodSandboxRequest(config=pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name="p", namespace="default", uid=""))),
         "config.metadata.uid: must not be empty"),
        ("RunPodSandbox", pb.RunPodSandboxRequest(config=pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name="p", namespace="default", uid="u"),
            labels={"k%d" % i: "v" for i in range(257)})),
         "config.labels: more than 256 entries"),
        ("CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id="abc", config=pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name="c"), image=pb.ImageSpec(image="busybox"),
                log_path="../../etc/shadow")),
         'config.log_path: must not contain ".."'),
        ("ExecSync", pb.ExecSyncRequest(container_id="abc", cmd=["true"], timeout=-1),
         "timeout: must not be negative"),
        ("StopContainer", pb.StopContainerRequest(container_id="a/b"),
         "container_id: an id is made of [0-9A-Za-z_.-] only"),
    ]
    for name, req, text in cases:
        with pytest.raises(grpc.RpcError) as e:
            shared_suite.call(name, req)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert e.value.details() == text, (name, e.value.details())
    # a well-formed request reaches sandboxd, which answers for itself
    with pytest.raises(grpc.RpcError) as e:
        shared_suite.call("PodSandboxStatus", pod_sandbox_id="0123456789ab")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND, e.value.details()


def test_unknown_method_unimplemented(shared_suite):
    with pytest.raises(grpc.RpcError) as e:
        shared_suite.call_raw("/runtime.v1.RuntimeService/NoSuchThing", b"")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_garbage_is_invalid_argument(shared_suite):
    # field 1 as a length-delimited field whose length runs past the end
    for junk in (b"\x0a\xff\xff\xff\x0f", b"\xff\xff\xff\xff", b"\x08"):
        with pytest.raises(grpc.RpcError) as e:
            shared_suite.call_raw("/runtime.v1.RuntimeService/Version", junk)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, junk
        assert "VersionRequest" in e.value.details()
    assert shared_suite.call("Version").runtime_name == "crisp"


def test_oversized_is_resource_exhausted(shared_suite):
    pb = cri_pb2()
    big = pb.VersionRequest(version="x" * (17 << 20))
    with pytest.raises(grpc.RpcError) as e:
        shared_suite.call("Version", big)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert shared_suite.call("Version").runtime_name == "crisp"


def test_many_calls_at_once(shared_suite):
    def one(i):
        if i % 3 == 0:
            return shared_suite.call("Status").status.conditions[0].status
        if i % 3 == 1:
            try:
                shared_suite.call("StreamImages")
                return True
            except grpc.RpcError as e:
                return e.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.OK)
        return shared_suite.call("Version").runtime_name == "crisp"
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as ex:
        results = list(ex.map(one, range(300)))
    assert all(results)


def test_default_network_without_cni_config():
    """No CNI config: sandboxd uses crisp's own default network (ready when
    its plugins are there) and says so; a config that appears is used
    without a restart."""
    s = Suite(cni=False).start()
    try:
        st = s.call("Status", verbose=True)
        conds = {c.type: c for c in st.status.conditions}
        assert conds["RuntimeReady"].status is True
        net = json.loads(st.info["network"])
        assert net["default_network"] is True
        assert conds["NetworkReady"].status is net["ready"] is True, conds["NetworkReady"]
        assert "default network" in conds["NetworkReady"].message
        from crisp_env import VALID_CNI
        with open(os.path.join(s.cni_dir, "10-net.conflist"), "w") as f:
            f.write(VALID_CNI)

        def picked_up():
            n = json.loads(s.call("Status", verbose=True).info["network"])
            return n["network_name"] == "crisp-test" and n["default_network"] is False
        wait_for(picked_up, 10, what="the CNI config in use")
    finally:
        s.cleanup()


def test_network_not_ready_without_plugins():
    """No CNI config and none of the default network's plugins: not ready,
    with the reason."""
    s = Suite(cni=False)
    empty = os.path.join(s.tmp, "no-plugins")
    os.makedirs(empty)
    with open(s.conf, "a") as f:
        f.write("cni_bin_dirs = %s\n" % empty)
    s.start()
    try:
        conds = {c.type: c for c in s.call("Status").status.conditions}
        assert conds["RuntimeReady"].status is True
        assert conds["NetworkReady"].status is False
        assert conds["NetworkReady"].reason
        assert conds["NetworkReady"].message
    finally:
        s.cleanup()


def test_network_not_ready_with_invalid_cni_config():
    s = Suite(cni=False)
    with open(os.path.join(s.cni_dir, "10-bad.conflist"), "w") as f:
        f.write('{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "no-such-plugin"}]}')
    s.start()
    try:
        conds = {c.type: c for c in s.call("Status").status.conditions}
        assert conds["NetworkReady"].status is False
        assert "no-such-plugin" in conds["NetworkReady"].message
    finally:
        s.cleanup()
