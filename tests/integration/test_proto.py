"""
test_proto: proto/cri.proto must be the CRI v1 wire format, exactly.

Owns the comparison of crisp's CRI proto with the published specification
(shared/spec/cri-api/api.proto): both are compiled by protoc into
FileDescriptorSets and compared message by message (nested messages, nested
enums and map entry types included), field by field, enum by enum and
method by method. Every difference is reported, not only the first.
Comments and layout are free to differ; nothing that reaches the wire is.

The spec is found at <repo>/../shared/spec/cri-api/api.proto (CI clones the
repo beside a copy of shared/); CRISP_SPEC, when set, names it instead, and
must then name a file. A clone on its own has neither: the tests that need
the spec are then skipped, with the reason; those of our proto alone still run.
This file must never edit proto/cri.proto: mutations happen on temp copies.
"""
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[2]
OURS = REPO / "proto" / "cri.proto"
RPC_COUNT = 43
FDP = descriptor_pb2.FieldDescriptorProto


def spec_path():
    """The spec's api.proto. Asked for by name (CRISP_SPEC) and missing is a
    failure; not beside the checkout either is a skip of what needs it."""
    env = os.environ.get("CRISP_SPEC")
    if env:
        if not Path(env).is_file():
            pytest.fail(f"CRISP_SPEC={env}: no such file")
        return Path(env)
    path = REPO.parent / "shared" / "spec" / "cri-api" / "api.proto"
    if not path.is_file():
        pytest.skip(f"no CRI spec to compare with: {path} does not exist "
                    "(set CRISP_SPEC to the spec's api.proto)")
    return path


def protoc():
    exe = shutil.which("protoc")
    if exe is None:
        pytest.fail("protoc not found (Debian package protobuf-compiler)")
    return exe


def compile_proto(src, workdir):
    """Compile one .proto file; return its FileDescriptorProto."""
    out = Path(workdir) / (Path(src).stem + ".pb")
    res = subprocess.run(
        [protoc(), f"--descriptor_set_out={out}", "--include_imports",
         f"-I{Path(src).parent}", str(src)],
        capture_output=True, text=True)
    assert res.returncode == 0, f"protoc failed on {src}:\n{res.stderr}"
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(out.read_bytes())
    mine = [f for f in fds.file if f.name == Path(src).name]
    assert len(mine) == 1, f"{src}: not in its own descriptor set"
    return mine[0]


def spec_without_redact(workdir):
    """A copy of the spec without [debug_redact = true], which protobuf 3.21
    does not know. Returns the copy's path."""
    text = spec_path().read_text()
    text = re.sub(r"\s*\[\s*debug_redact\s*=\s*true\s*\]", "", text)
    text = re.sub(r",\s*debug_redact\s*=\s*true", "", text)
    text = re.sub(r"debug_redact\s*=\s*true\s*,\s*", "", text)
    assert "debug_redact" not in text, "a debug_redact form this test does not strip"
    d = Path(workdir) / "spec"
    d.mkdir()
    copy = d / "api.proto"
    copy.write_text(text)
    return copy


# --- flattening ------------------------------------------------------------

def walk_messages(prefix, messages, out_msgs, out_enums):
    for m in messages:
        name = f"{prefix}.{m.name}"
        out_msgs[name] = m
        for e in m.enum_type:
            out_enums[f"{name}.{e.name}"] = e
        walk_messages(name, m.nested_type, out_msgs, out_enums)


def flatten(fdp):
    """Full name -> descriptor, for every message and enum at any depth."""
    prefix = "." + fdp.package if fdp.package else ""
    msgs, enums = {}, {}
    for e in fdp.enum_type:
        enums[f"{prefix}.{e.name}"] = e
    walk_messages(prefix, fdp.message_type, msgs, enums)
    return msgs, enums


# --- comparison ------------------------------------------------------------

def field_shape(msg, f):
    """What of a field reaches the wire or the generated code's types."""
    oneof = None
    if f.HasField("oneof_index"):
        oneof = msg.oneof_decl[f.oneof_index].name
    return {
        "number": f.number,
        "type": FDP.Type.Name(f.type),
        "type_name": f.type_name,
        "label": FDP.Label.Name(f.label),
        "proto3_optional": f.proto3_optional,
        "oneof": oneof,
        "default_value": f.default_value,
        "packed": f.options.packed if f.options.HasField("packed") else None,
        "deprecated": f.options.deprecated,
    }


def compare_keys(where, kind, ours, spec, diffs):
    for k in sorted(set(spec) - set(ours)):
        diffs.append(f"{where}: {kind} {k} missing from ours")
    for k in sorted(set(ours) - set(spec)):
        diffs.append(f"{where}: {kind} {k} not in the spec")
    return sorted(set(ours) & set(spec))


def compare_values(where, ours, spec, diffs):
    for key in spec:
        if ours[key] != spec[key]:
            diffs.append(f"{where}: {key}: ours={ours[key]!r} spec={spec[key]!r}")


def compare_message(name, a, b, diffs):
    compare_values(name, {"map_entry": a.options.map_entry},
                   {"map_entry": b.options.map_entry}, diffs)
    compare_keys(name, "oneof", {o.name for o in a.oneof_decl},
                 {o.name for o in b.oneof_decl}, diffs)
    compare_values(name,
                   {"reserved_range": sorted((r.start, r.end) for r in a.reserved_range),
                    "reserved_name": sorted(a.reserved_name),
                    "extension_range": sorted((r.start, r.end) for r in a.extension_range)},
                   {"reserved_range": sorted((r.start, r.end) for r in b.reserved_range),
                    "reserved_name": sorted(b.reserved_name),
                    "extension_range": sorted((r.start, r.end) for r in b.extension_range)},
                   diffs)
    fa = {f.name: f for f in a.field}
    fb = {f.name: f for f in b.field}
    for fname in compare_keys(name, "field", fa, fb, diffs):
        compare_values(f"{name}.{fname}", field_shape(a, fa[fname]),
                       field_shape(b, fb[fname]), diffs)


def compare_enum(name, a, b, diffs):
    compare_values(name, {"allow_alias": a.options.allow_alias},
                   {"allow_alias": b.options.allow_alias}, diffs)
    va = {v.name: v.number for v in a.value}
    vb = {v.name: v.number for v in b.value}
    for vname in compare_keys(name, "value", va, vb, diffs):
        compare_values(f"{name}.{vname}", {"number": va[vname]},
                       {"number": vb[vname]}, diffs)


def compare_service(name, a, b, diffs):
    ma = {m.name: m for m in a.method}
    mb = {m.name: m for m in b.method}
    for mname in compare_keys(name, "method", ma, mb, diffs):
        shape = lambda m: {"input_type": m.input_type, "output_type": m.output_type,
                           "client_streaming": m.client_streaming,
                           "server_streaming": m.server_streaming}
        compare_values(f"{name}.{mname}", shape(ma[mname]), shape(mb[mname]), diffs)


def compare_files(ours, spec):
    """Every difference between two FileDescriptorProtos that matters on the
    wire, as sorted human-readable lines; [] when they match."""
    diffs = []
    compare_values("file",
                   {"package": ours.package, "syntax": ours.syntax,
                    "dependency": sorted(ours.dependency)},
                   {"package": spec.package, "syntax": spec.syntax,
                    "dependency": sorted(spec.dependency)}, diffs)
    msgs_a, enums_a = flatten(ours)
    msgs_b, enums_b = flatten(spec)
    for n in compare_keys("file", "message", msgs_a, msgs_b, diffs):
        compare_message(n, msgs_a[n], msgs_b[n], diffs)
    for n in compare_keys("file", "enum", enums_a, enums_b, diffs):
        compare_enum(n, enums_a[n], enums_b[n], diffs)
    sa = {s.name: s for s in ours.service}
    sb = {s.name: s for s in spec.service}
    for n in compare_keys("file", "service", sa, sb, diffs):
        compare_service(n, sa[n], sb[n], diffs)
    return sorted(diffs)


def rpc_count(fdp):
    return sum(len(s.method) for s in fdp.service)


# --- fixtures --------------------------------------------------------------

@pytest.fixture(scope="module")
def spec_fdp(tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    return compile_proto(spec_without_redact(d), d)


@pytest.fixture(scope="module")
def ours_fdp(tmp_path_factory):
    return compile_proto(OURS, tmp_path_factory.mktemp("ours"))


# --- tests -----------------------------------------------------------------

def test_spec_has_43_rpcs(spec_fdp):
    assert rpc_count(spec_fdp) == RPC_COUNT
    assert sorted(s.name for s in spec_fdp.service) == ["ImageService", "RuntimeService"]


def test_ours_has_43_rpcs(ours_fdp):
    assert rpc_count(ours_fdp) == RPC_COUNT
    assert sorted(s.name for s in ours_fdp.service) == ["ImageService", "RuntimeService"]


def test_ours_matches_spec(ours_fdp, spec_fdp):
    diffs = compare_files(ours_fdp, spec_fdp)
    assert diffs == [], "proto/cri.proto differs from the spec:\n" + "\n".join(diffs)


def test_ours_file_header(ours_fdp):
    assert ours_fdp.syntax == "proto3"
    assert ours_fdp.package == "runtime.v1"
    assert not ours_fdp.options.HasField("go_package")
    # named in a comment, never used as an option
    assert not re.search(r"debug_redact\s*=", OURS.read_text())


def test_nothing_left_out_of_the_flattening(ours_fdp):
    # the comparison walks nested types: make sure there are some to walk
    msgs, enums = flatten(ours_fdp)
    assert ".runtime.v1.SecurityProfile.ProfileType" in enums
    assert msgs[".runtime.v1.PodSandboxConfig.LabelsEntry"].options.map_entry
    assert len(msgs) > 150 and len(enums) >= 11


# Each mutation of a temp copy of our proto must show up as exactly the
# difference(s) named here: proof that the comparison sees each kind of change.
# (`optional` adds a synthetic oneof, so it is seen three ways.)
MUTATIONS = [
    ("    int32 host_port = 3;", "    int32 host_port = 5;",
     ".runtime.v1.PortMapping.host_port: number: ours=5 spec=3"),
    ("    int32 host_port = 3;", "    int64 host_port = 3;",
     ".runtime.v1.PortMapping.host_port: type: ours='TYPE_INT64' spec='TYPE_INT32'"),
    ("    repeated string servers = 1;", "    string servers = 1;",
     ".runtime.v1.DNSConfig.servers: label: ours='LABEL_OPTIONAL' spec='LABEL_REPEATED'"),
    ("    string host_ip = 4;", "    optional string host_ip = 4;",
     [".runtime.v1.PortMapping.host_ip: oneof: ours='_host_ip' spec=None",
      ".runtime.v1.PortMapping.host_ip: proto3_optional: ours=True spec=False",
      ".runtime.v1.PortMapping: oneof _host_ip not in the spec"]),
    ("    Unconfined = 1;", "    Unconfined = 3;",
     ".runtime.v1.SecurityProfile.ProfileType.Unconfined: number: ours=3 spec=1"),
    ("    map<string, string> sysctls = 3;", "    map<string, bytes> sysctls = 3;",
     ".runtime.v1.LinuxPodSandboxConfig.SysctlsEntry.value: type: ours='TYPE_BYTES' spec='TYPE_STRING'"),
    ("returns (stream StreamImagesResponse)", "returns (StreamImagesResponse)",
     "ImageService.StreamImages: server_streaming: ours=False spec=True"),
    ("    Signal stop_signal = 19;", "    ContainerState stop_signal = 19;",
     ".runtime.v1.ContainerStatus.stop_signal: type_name: ours='.runtime.v1.ContainerState' spec='.runtime.v1.Signal'"),
]


@pytest.mark.parametrize("old,new,expected", MUTATIONS,
                         ids=[m[1].strip() for m in MUTATIONS])
def test_comparison_finds_a_mutation(tmp_path, spec_fdp, old, new, expected):
    text = OURS.read_text()
    assert text.count(old) == 1, f"mutation anchor {old!r} is not unique in {OURS}"
    d = tmp_path / "mut"
    d.mkdir()
    (d / "cri.proto").write_text(text.replace(old, new))
    mutated = compile_proto(d / "cri.proto", tmp_path)
    if isinstance(expected, str):
        expected = [expected]
    assert compare_files(mutated, spec_fdp) == sorted(expected)


def test_comparison_reports_every_difference(tmp_path, spec_fdp):
    # two unrelated changes plus a removed message: all three are reported
    text = OURS.read_text()
    text = text.replace("    int32 host_port = 3;", "    int32 host_port = 6;")
    text = text.replace("    GAUGE = 1;", "    GAUGE = 2;")
    text = re.sub(r"message CDIDevice \{[^}]*\}", "", text)
    text = text.replace("repeated CDIDevice CDI_devices = 17;", "")
    d = tmp_path / "mut"
    d.mkdir()
    (d / "cri.proto").write_text(text)
    diffs = compare_files(compile_proto(d / "cri.proto", tmp_path), spec_fdp)
    assert diffs == sorted([
        ".runtime.v1.PortMapping.host_port: number: ours=6 spec=3",
        ".runtime.v1.ContainerConfig: field CDI_devices missing from ours",
        "file: message .runtime.v1.CDIDevice missing from ours",
        ".runtime.v1.MetricType.GAUGE: number: ours=2 spec=1",
    ]), "\n".join(diffs)


def test_generated_c_compiles_strictly(tmp_path):
    # the Makefile builds generated code with -Wno-error; hold it to -Werror here
    protoc_c = shutil.which("protoc-c")
    cc = shutil.which("cc")
    if protoc_c is None or cc is None:
        pytest.fail("protoc-c and cc are needed (protobuf-c-compiler, build-essential)")
    res = subprocess.run([protoc_c, f"--c_out={tmp_path}", f"-I{OURS.parent}", str(OURS)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    (tmp_path / "use.c").write_text(textwrap.dedent("""\
        #include "cri.pb-c.h"
        int main(void)
        {
            Runtime__V1__AuthConfig a = RUNTIME__V1__AUTH_CONFIG__INIT;
            return (int)runtime__v1__auth_config__get_packed_size(&a);
        }
        """))
    res = subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                          f"-I{tmp_path}", "-o", str(tmp_path / "use"),
                          str(tmp_path / "cri.pb-c.c"), str(tmp_path / "use.c"),
                          "-lprotobuf-c"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert subprocess.run([str(tmp_path / "use")]).returncode == 0
