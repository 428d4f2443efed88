"""
test_policy: runs scripts/check-policy.sh (SELinux module, AppArmor
profiles, systemd units) so that CI sees it pass or fail, and proves the
script fails when the policies are broken: a mutated copy of the policy
files must fail exactly the checks the mutations break.

Owns nothing but these two runs; never edits the repo (mutations are made
in a temporary copy).
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path("scripts") / "check-policy.sh"


def run_check(root, build=None):
    env = dict(os.environ)
    env["B"] = build or os.environ.get("CRISP_BUILD", "build")
    return subprocess.run(["sh", str(root / SCRIPT)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def lines(out, word):
    return [l for l in out.splitlines() if l.startswith(word)]


def test_check_policy_passes():
    res = run_check(REPO)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert lines(out, "FAIL") == [], out
    oks = lines(out, "ok")
    # every part ran: the module built and installed, the rule and label
    # checks, six AppArmor profiles, six systemd units
    assert any("crisp.pp installs" in l for l in oks), out
    assert any("connects to" in l for l in oks), out
    assert len([l for l in oks if l.startswith("ok    apparmor:")]) == 6, out
    assert len([l for l in oks if re.search(r"systemd: .* verifies", l)]) == 6, out


def mutate(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, f"mutation anchor {old!r} not unique in {path}"
    path.write_text(text.replace(old, new))


def test_check_policy_fails_on_broken_policies(tmp_path):
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(REPO / "Makefile", copy)
    for d in ("scripts", "selinux", "systemd"):
        shutil.copytree(REPO / d, copy / d)

    # streamd may now connect to imaged: against the architecture's table
    with open(copy / "selinux" / "crisp.te", "a") as f:
        f.write("stream_connect_pattern(crisp_streamd_t, crisp_internal_t, "
                "crisp_internal_t, crisp_imaged_t)\n")
    # a binary's label given by a regex that base policy's /usr/libexec wins over
    mutate(copy / "selinux" / "crisp.fc", "/usr/libexec/crisp/imaged\t",
           "/usr/(local/)?libexec/crisp/imaged\t")
    # an AppArmor permission that does not exist
    mutate(copy / "selinux" / "apparmor" / "usr.libexec.crisp.streamd",
           "  /memfd:* rw,\n", "  /memfd:* rwq,\n")
    # a key systemd 252 does not know (verify warns and exits 0)
    mutate(copy / "systemd" / "crisp-imaged.service.in",
           "RestartSec=1s\n", "RestartSec=1s\nRestartSteps=5\n")

    res = run_check(copy, build=str(tmp_path / "no-build"))
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    fails = lines(out, "FAIL")
    assert any("crisp_streamd_t connects to ['sandboxd']" in l for l in fails), out
    assert any("/usr/libexec/crisp/imaged is crisp_imaged_exec_t" in l for l in fails), out
    assert any("apparmor:" in l and "usr.libexec.crisp.streamd" in l for l in fails), out
    assert any("crisp-imaged.service verifies" in l for l in fails), out
    # and nothing else broke: the rest still passes
    assert not any("apparmor:" in l and "streamd" not in l for l in fails), out
    assert not any("selinux: crisp.pp" in l for l in fails), out
    assert any(l.startswith("ok    selinux: crisp_criserver_t connects to") for l in out.splitlines()), out
