"""CRI basics through a real gRPC client: Version, Status, RuntimeConfig,
every one of the 43 methods answering a proper status, bad input."""
import concurrent.futures
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
    for h in st.runtime_handlers:
        # not built yet: reported truthfully as false
        assert h.features.recursive_read_only_mounts is False
        assert h.features.user_namespaces is False
    assert st.info, "verbose Status has info"
    import json
    for k, v in st.info.items():
        json.loads(v)  # every value is JSON


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


def test_network_not_ready_without_cni_config():
    s = Suite(cni=False).start()
    try:
        st = s.call("Status")
        conds = {c.type: c for c in st.status.conditions}
        assert conds["RuntimeReady"].status is True
        assert conds["NetworkReady"].status is False
        assert conds["NetworkReady"].reason
        assert s.cni_dir in conds["NetworkReady"].message
        # a config appears: NetworkReady follows without a restart
        from crisp_env import VALID_CNI
        with open(os.path.join(s.cni_dir, "10-net.conflist"), "w") as f:
            f.write(VALID_CNI)

        def ready():
            c = {c.type: c for c in s.call("Status").status.conditions}
            return c["NetworkReady"].status
        wait_for(ready, 10, what="NetworkReady")
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
