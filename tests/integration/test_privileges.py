"""Every thread of every daemon holds exactly the privileges that
docs/ARCHITECTURE.md promises (read from /proc/PID/task/*/status)."""
import os
import pwd

from crisp_env import proc_status

FULL = None  # whatever root had: sandboxd keeps everything

# CapEff masks: bit numbers from linux/capability.h
CAP = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "MKNOD": 27,
       "SETFCAP": 31, "SYS_ADMIN": 21, "SYS_CHROOT": 18}


def mask(*names):
    return sum(1 << CAP[n] for n in names)


EXPECT = {
    # name: (user, CapEff, NoNewPrivs, Seccomp)
    "criserver": ("crisp", 0, 1, 2),
    "streamd": ("crisp", 0, 1, 2),
    "imaged": ("root", mask("DAC_OVERRIDE", "FOWNER"), 1, 2),
    "sandboxd": ("root", FULL, 0, 0),
}


def test_every_thread_matches_architecture(shared_suite):
    pids = shared_suite.wait_daemons()
    # make criserver spin up its threads
    shared_suite.call("Status", verbose=True)
    my_caps = int(proc_status(os.getpid())["CapEff"], 16)
    for name, pid in pids.items():
        user, capeff, nnp, seccomp = EXPECT[name]
        uid = pwd.getpwnam(user).pw_uid
        tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
        assert tids
        for tid in tids:
            st = proc_status(pid, tid)
            where = "%s[%d] thread %d" % (name, pid, tid)
            assert [int(x) for x in st["Uid"].split()] == [uid] * 4, where
            want = my_caps if capeff is None else capeff
            assert int(st["CapEff"], 16) == want, (where, st["CapEff"])
            assert int(st["CapPrm"], 16) == want, (where, st["CapPrm"])
            assert int(st["CapAmb"], 16) == 0, where
            if capeff is not None:
                assert int(st["CapBnd"], 16) == want, (where, st["CapBnd"])
            assert int(st["NoNewPrivs"]) == nnp, where
            assert int(st["Seccomp"]) == seccomp, where
    assert len(os.listdir("/proc/%d/task" % pids["criserver"])) > 1, \
        "criserver runs grpc threads: all of them were checked"


def test_unpack_spawner_holds_only_what_the_child_needs(shared_suite):
    """imaged's unpack spawner (imaged --unpack-server, forked before imaged
    drops privilege) keeps the unpack child's capabilities and nothing else."""
    from crisp_env import proc_children
    imaged = shared_suite.wait_daemons()["imaged"]
    kids = proc_children(imaged)
    assert len(kids) == 1, kids
    with open("/proc/%d/cmdline" % kids[0], "rb") as f:
        assert f.read().split(b"\0")[1] == b"--unpack-server"
    CAP.update({"SETPCAP": 8})
    want = mask("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "MKNOD", "SETFCAP",
                "SYS_ADMIN", "SYS_CHROOT", "SETPCAP")
    for tid in os.listdir("/proc/%d/task" % kids[0]):
        st = proc_status(kids[0], int(tid))
        assert int(st["CapEff"], 16) == want, st["CapEff"]
        assert int(st["CapBnd"], 16) == want, st["CapBnd"]
        assert int(st["CapAmb"], 16) == 0


def test_imaged_restarts_when_its_unpack_spawner_dies(suite):
    """imaged cannot make a new spawner after its drop: it stops, crisp-up
    starts it again, and the new imaged has a new spawner."""
    from crisp_env import pid_alive, proc_children, wait_for
    import signal
    imaged = suite.wait_daemons()["imaged"]
    spawner = proc_children(imaged)[0]
    os.kill(spawner, signal.SIGKILL)
    wait_for(lambda: not pid_alive(imaged), 10, what="imaged to stop")
    new = wait_for(lambda: (lambda p: p if p and p != imaged else None)(
        suite.daemon_pids().get("imaged")), 20, what="imaged restarted")
    suite.wait_ready()
    kids = wait_for(lambda: proc_children(new), 10, what="the new spawner")
    assert kids and kids[0] != spawner
    assert "the unpack spawner is gone" in suite.logtext()
