#!/usr/bin/python3
"""Hostile image layers for crisp's unpacker (imaged/unpack*.c).

    gen_layers.py OUTDIR CANARY

writes OUTDIR/<case>.tar for every case below and OUTDIR/MANIFEST, one line
per case:

    <case> <ok|invalid|limit> [flag ...] [check ...]

The outcome is what unpacking the layer into an empty root must give
(ok: success; invalid: refused as INVALID_ARGUMENT; limit: refused as
RESOURCE_EXHAUSTED; contained: either ok or invalid, where the two
unpackers see different trees). CANARY is the absolute path of a directory outside the
root that the cases aim at; whatever the outcome, nothing outside the root
may change (the tests compare a snapshot of the tree around the root).
Checks, paths relative to the root, all must hold after an "ok":

    file:P          P is a regular file          content:P=TEXT  its data
    dir:P           P is a directory             symlink:P=TARGET
    absent:P        nothing at P (lstat)         whiteout:P  char dev 0/0
    xattr:P=N=V     xattr N of P is V            noxattr:P=N  P lacks N
    mode:P=OCTAL    permission bits              uid:P=N, gid:P=N

Flags: mountproc (the test mounts a real /proc at ROOT/proc first).
"""
import io
import os
import sys
import tarfile

CASES = []


def case(name, outcome, entries, checks=(), fmt=tarfile.PAX_FORMAT, flags=()):
    CASES.append((name, outcome, entries, list(checks), fmt, list(flags)))


def f(name, data=b"", mode=0o644, uid=0, gid=0, mtime=1700000000, pax=None):
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode, ti.uid, ti.gid, ti.mtime = \
        tarfile.REGTYPE, len(data), mode, uid, gid, mtime
    if pax:
        ti.pax_headers = dict(pax)
    return (ti, data)


def d(name, mode=0o755, uid=0, gid=0, pax=None):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = tarfile.DIRTYPE, mode, uid, gid, 1700000000
    if pax:
        ti.pax_headers = dict(pax)
    return (ti, None)


def sl(name, target, uid=0, mtime=1700000000):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.uid, ti.mtime, ti.mode = tarfile.SYMTYPE, target, uid, mtime, 0o777
    return (ti, None)


def hl(name, target):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode, ti.mtime = tarfile.LNKTYPE, target, 0o644, 1700000000
    return (ti, None)


def node(name, kind, major=0, minor=0, mode=0o600):
    ti = tarfile.TarInfo(name)
    ti.type, ti.devmajor, ti.devminor, ti.mode, ti.mtime = kind, major, minor, mode, 1700000000
    return (ti, None)


def define(canary):
    ca = canary.rstrip("/")           # "/tmp/crisp-unit-x/canary"
    c = ca.lstrip("/")                # the same inside the root
    parents = []                      # dir entries that make C inside the root
    acc = ""
    for comp in c.split("/"):
        acc = acc + "/" + comp if acc else comp
        parents.append(d(acc))

    # -- '..' is refused wherever it appears --
    case("dotdot_file", "invalid", [f("../canary/evil", b"pwned")])
    case("dotdot_deep", "invalid", [d("a"), d("a/b"), f("a/b/../../../canary/evil", b"x")])
    case("dotdot_ustar", "invalid", [f("../canary/evil", b"x")], fmt=tarfile.USTAR_FORMAT)
    case("dotdot_gnu", "invalid", [f("../canary/evil", b"x")], fmt=tarfile.GNU_FORMAT)
    case("dotdot_hardlink", "invalid", [hl("h", "../canary/file")])
    case("dotdot_whiteout", "invalid", [f("../.wh.canary")])

    # -- absolute names are taken relative to the root --
    case("abs_file", "ok", [f(ca + "/evil", b"inside")],
         ["file:%s/evil" % c, "content:%s/evil=inside" % c])
    case("abs_dir_chmod", "ok", [d(ca, mode=0o777, uid=1234)],
         ["dir:" + c, "mode:%s=777" % c, "uid:%s=1234" % c])

    # -- symlinks: resolved inside the root, never followed at the end --
    case("symlink_abs_write", "invalid", [sl("s", ca), f("s/evil", b"pwned")])
    case("symlink_rel_write", "invalid", [sl("s", "../canary"), f("s/evil", b"pwned")])
    case("symlink_abs_write_contained", "ok",
         parents + [sl("s", ca), f("s/evil", b"inside")],
         ["file:%s/evil" % c, "symlink:s=" + ca])
    case("symlink_root_write", "ok", [sl("s", "/"), f("s/evil", b"inside")],
         ["content:evil=inside"])
    case("symlink_dotdot_clamped", "ok", [sl("s", "../../../../../../../../.."),
                                          f("s/evil", b"inside")], ["content:evil=inside"])
    case("symlink_final_replaced", "ok", [sl("f", ca + "/file"), f("f", b"mine")],
         ["content:f=mine"])
    case("symlink_then_dir", "ok", [sl("d", ca), d("d", mode=0o777, uid=1234)],
         ["dir:d", "mode:d=777", "uid:d=1234"])
    case("symlink_then_dir_write", "ok", [sl("d", ca), d("d"), f("d/evil", b"in")],
         ["content:d/evil=in"])
    case("symlink_repeat_meta", "ok",
         [sl("s", ca + "/file"), sl("s", ca + "/file", uid=4321, mtime=1)],
         ["symlink:s=%s/file" % ca, "uid:s=4321"])
    case("symlink_then_node", "ok", [sl("n", ca + "/file"), node("n", tarfile.FIFOTYPE)],
         ["mode:n=600"])
    case("symlink_loop", "invalid", [sl("a", "b"), sl("b", "a"), f("a/x", b"x")])
    case("symlink_dangling_parent", "invalid", [sl("s", "/nowhere"), f("s/x", b"x")])

    # -- chmod/chown/utimes must not go through a symlink --
    case("chmod_through_symlink", "ok",
         [sl("s", ca + "/file"), f("s", b"", mode=0o4777, uid=999)],
         ["file:s", "mode:s=4777", "uid:s=999"])
    case("chmod_dir_through_symlink", "ok",
         [sl("s", ca + "/sub"), d("s", mode=0o700, uid=42)],
         ["dir:s", "uid:s=42"])

    # -- /proc magic links --
    case("proc_root", "invalid", [sl("p", "/proc/self/root"), f("p" + ca + "/evil", b"x")])
    case("proc_cwd", "invalid", [sl("q", "/proc/self/cwd"), f("q/evil", b"x")])
    case("proc_fd", "invalid", [sl("r", "/proc/self/fd/0"), f("r/evil", b"x")])
    case("proc_mounted_root", "invalid",
         [sl("p", "/proc/self/root"), f("p" + ca + "/evil", b"x")], flags=["mountproc"])
    case("proc_mounted_cwd", "invalid",
         [sl("q", "proc/self/cwd"), f("q/evil", b"x")], flags=["mountproc"])
    # in the child the non-recursive bind leaves /proc out: a plain path then
    case("proc_mounted_direct", "contained",
         [f("proc/self/root" + ca + "/evil", b"x")], flags=["mountproc"])

    # -- hardlinks: both ends inside the root --
    case("hardlink_abs_out", "invalid", [hl("h", ca + "/file")])
    case("hardlink_via_symlink", "invalid", [sl("s", ca), hl("h", "s/file")])
    case("hardlink_to_symlink", "ok",
         [sl("s", ca + "/file"), hl("h", "s"), f("h", b"mine")],
         ["symlink:s=%s/file" % ca, "content:h=mine"])
    case("hardlink_then_write", "ok",
         [d("etc"), f("etc/passwd", b"root"), hl("h", "etc/passwd"), f("h", b"x")],
         ["content:etc/passwd=root", "content:h=x"])
    case("hardlink_to_dir", "invalid", [d("d"), hl("h", "d")])
    case("hardlink_missing", "invalid", [hl("h", "nothing")])
    case("hardlink_to_root", "invalid", [hl("h", "./")])

    # -- whiteouts --
    case("whiteout_dot", "invalid", [f("a/.wh..")])
    case("whiteout_dotdot", "invalid", [f("a/.wh...")])
    case("whiteout_empty", "invalid", [f(".wh.")])
    case("whiteout_aufs", "invalid", [d(".wh..wh.plnk"), f(".wh..wh.plnk/x")])
    case("whiteout_through_symlink", "invalid", [sl("s", ca), f("s/.wh.file")])
    case("opaque_through_symlink", "invalid", [sl("s", ca), f("s/.wh..wh..opq")])
    case("whiteout_over_symlink", "ok", [sl("w", ca + "/file"), f(".wh.w")],
         ["whiteout:w"])

    # -- the root itself --
    case("root_as_file", "invalid", [f(".", b"x")])
    case("root_as_symlink", "invalid", [sl(".", "/")])
    case("root_meta", "ok", [d("./", mode=0o750, uid=7)], ["mode:.=750", "uid:.=7"])

    # -- types and replacement --
    case("file_under_file", "invalid", [f("x", b"x"), f("x/y", b"y")])
    case("dir_replaces_file", "ok", [f("x", b"x"), d("x"), f("x/y", b"y")],
         ["dir:x", "content:x/y=y"])
    case("file_replaces_dir", "ok", [d("x"), d("x/sub"), f("x/sub/y", b"y"), f("x", b"f")],
         ["content:x=f"])

    # -- xattrs that would steer overlayfs are dropped --
    case("overlay_xattrs", "ok",
         [d("d", pax={"SCHILY.xattr.trusted.overlay.opaque": "y",
                      "SCHILY.xattr.user.overlay.opaque": "y",
                      "SCHILY.xattr.trusted.overlay.redirect": "/etc",
                      "SCHILY.xattr.user.kept": "1"})],
         ["noxattr:d=user.overlay.opaque", "noxattr:d=trusted.overlay.opaque",
          "noxattr:d=trusted.overlay.redirect", "xattr:d=user.kept=1"])

    # -- ids and sizes --
    case("uid_minus_one", "invalid", [f("x", b"", uid=4294967295)])
    case("long_name", "limit", [f("a/" * 2100 + "x", b"")])
    case("long_component", "invalid", [f("x" * 300, b"")])
    case("long_symlink", "limit", [sl("s", "t/" * 2100)])
    # libarchive rejects pax extended headers over 1 MiB: memory stays bounded
    case("pax_huge_xattr", "invalid",
         [f("x", b"", pax={"SCHILY.xattr.user.big": "v" * (2 << 20)})])
    case("gnu_longname", "ok", [f("n" * 200 + "/" + "m" * 200, b"long")],
         ["content:%s/%s=long" % ("n" * 200, "m" * 200)], fmt=tarfile.GNU_FORMAT)


def write(outdir, canary):
    define(canary)
    manifest = []
    for name, outcome, entries, checks, fmt, flags in CASES:
        with tarfile.open(os.path.join(outdir, name + ".tar"), "w", format=fmt) as t:
            for ti, data in entries:
                t.addfile(ti, io.BytesIO(data) if data is not None else None)
        manifest.append(" ".join([name, outcome] + flags + checks))
    with open(os.path.join(outdir, "MANIFEST"), "w") as m:
        m.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3 or not sys.argv[2].startswith("/"):
        sys.exit("usage: gen_layers.py OUTDIR /ABS/CANARY")
    write(sys.argv[1], sys.argv[2])
