"""conmon on its own: the kubelet log format and the atomic exit status."""
import os
import re
import shutil
import subprocess
import tempfile

from crisp_env import BUILD

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) ([PF]) (.*)$")


def run_conmon(script):
    d = tempfile.mkdtemp(prefix="crisp-conmon-")
    log, exitf = os.path.join(d, "ctr.log"), os.path.join(d, "exit")
    p = subprocess.run([os.path.join(BUILD, "conmon"), "--log-path", log, "--exit-file",
                        exitf, "--", "/bin/sh", "-c", script], timeout=30)
    try:
        assert p.returncode == 0
        with open(log) as f:
            lines = f.read().splitlines()
        with open(exitf) as f:
            code = f.read()
        assert not os.path.exists(exitf + ".tmp")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return lines, code


def test_log_format_and_exit_code():
    lines, code = run_conmon("echo hello; echo oops >&2; printf partial; exit 3")
    parsed = [LINE.match(line).groups() for line in lines]
    assert ("stdout", "F", "hello") in parsed
    assert ("stderr", "F", "oops") in parsed
    assert ("stdout", "P", "partial") in parsed
    assert code == "3"


def test_killed_by_signal_is_128_plus_signal():
    lines, code = run_conmon("kill -9 $$")
    assert code == "137"


def test_usage_error():
    p = subprocess.run([os.path.join(BUILD, "conmon")], capture_output=True, timeout=10)
    assert p.returncode == 2 and b"usage" in p.stderr
