"""sandboxd/cni with the real CNI plugins (Debian's containernetworking-plugins
in /usr/lib/cni), driven through build/tests/cni-driver: crisp's default
conflist (bridge, host-local, portmap, bandwidth) and loopback in a pinned
netns; the pod reached from the host at its IP and through a host port on
127.0.0.1; DEL releasing the IP, the veth and the iptables rules, idempotent,
also after the netns is gone; a failing ADD undone.

Each test has its own netns (crisp-test-<random>), bridge (crt<random>),
subnet (10.201.<n>.0/24, one nothing on the machine uses), IPAM dir and
container id, and removes them all. portmap's shared chains
(CNI-HOSTPORT-DNAT/-MASQ/-SETMARK) and ip_forward (which the bridge plugin
turns on) are put back as they were when the module is done.
"""
import hashlib
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from crisp_env import BUILD

DRIVER = os.path.join(BUILD, "tests", "cni-driver")
BIN_DIRS = "/opt/cni/bin:/usr/lib/cni"
PLUGINS = ["bridge", "host-local", "portmap", "bandwidth", "loopback"]
NETWORK = "crisp"                       # the default conflist's name
POD_PORT = 8080
PY = "/usr/bin/python3"
SHARED_CHAINS = ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"]


def _missing():
    if os.geteuid() != 0:
        return "needs root (network namespaces, bridges, iptables)"
    for tool in ("ip", "iptables", "iptables-save"):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            return "needs %s" % tool
    for p in PLUGINS:
        if not any(os.access(os.path.join(d, p), os.X_OK) for d in BIN_DIRS.split(":")):
            return "needs the CNI plugin %s in %s (containernetworking-plugins)" % (p, BIN_DIRS)
    if not os.access(DRIVER, os.X_OK):
        return "needs %s (make)" % DRIVER
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=60)


def iptables_save():
    return sh("iptables-save").stdout


def chains_of(container_id):
    """The per-container chains bridge (ipMasq) and portmap make (their
    utils.FormatChainName: a prefix and sha512(network name + id), 28 chars)."""
    h = hashlib.sha512((NETWORK + container_id).encode()).hexdigest()
    return [("CNI-" + h)[:28], ("CNI-DN-" + h)[:28]]


def purge_iptables(container_id):
    """Best effort, for a test that failed half-way: the rules that name the
    container and its chains."""
    for table in ("nat", "filter"):
        for line in sh("iptables-save", "-t", table).stdout.splitlines():
            if line.startswith("-A ") and container_id in line:
                sh("iptables", "-t", table, "-D", *shlex.split(line)[1:], check=False)
        for chain in chains_of(container_id):
            sh("iptables", "-t", table, "-F", chain, check=False)
            sh("iptables", "-t", table, "-X", chain, check=False)


@pytest.fixture(scope="module", autouse=True)
def host_state():
    """Put back what the plugins change for everyone: ip_forward, and
    portmap's shared chains when they were not there before (and nobody
    else's rules are in them now)."""
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        forward = f.read().strip()
    before = iptables_save()
    yield
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write(forward)
    nat = sh("iptables-save", "-t", "nat").stdout
    if any(":" + c + " " in before for c in SHARED_CHAINS):
        return
    if "-A CNI-HOSTPORT-DNAT " in nat:
        return                          # in use by someone else's pod
    sh("iptables", "-t", "nat", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL",
       "-j", "CNI-HOSTPORT-DNAT", check=False)
    sh("iptables", "-t", "nat", "-D", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL",
       "-j", "CNI-HOSTPORT-DNAT", check=False)
    sh("iptables", "-t", "nat", "-D", "POSTROUTING", "-m", "comment", "--comment",
       "CNI portfwd requiring masquerade", "-j", "CNI-HOSTPORT-MASQ", check=False)
    for c in SHARED_CHAINS:
        sh("iptables", "-t", "nat", "-F", c, check=False)
        sh("iptables", "-t", "nat", "-X", c, check=False)


def free_subnet():
    used = sh("ip", "-4", "-o", "addr").stdout + sh("ip", "-4", "route", "show", "table",
                                                    "all").stdout
    for _ in range(200):
        n = secrets.randbelow(250) + 2
        if "10.201.%d." % n not in used:
            return "10.201.%d.0/24" % n
    raise RuntimeError("no free 10.201.x.0/24")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Net:
    """One test's netns, bridge, subnet, IPAM dir and pod."""

    def __init__(self):
        tag = secrets.token_hex(4)
        self.ns = "crisp-test-" + tag
        self.netns = "/run/netns/" + self.ns
        self.bridge = "crt" + tag
        self.subnet = free_subnet()
        self.tmp = tempfile.mkdtemp(prefix="crisp-cni-")
        self.conf_dir = os.path.join(self.tmp, "net.d")      # empty: the default network
        self.ipam_dir = os.path.join(self.tmp, "ipam")
        os.mkdir(self.conf_dir)
        self.ids = []
        self.procs = []
        sh("ip", "netns", "add", self.ns)

    def settings(self):
        return {"conf_dir": self.conf_dir, "bin_dirs": BIN_DIRS, "default_bridge": self.bridge,
                "default_subnet": self.subnet, "ipam_dir": self.ipam_dir, "timeout_ms": 30000}

    def pod(self, ports=(), netns=None):
        cid = secrets.token_hex(32)
        self.ids.append(cid)
        return {"id": cid, "netns": netns or self.netns, "name": "web", "namespace": "default",
                "uid": "uid-" + cid[:8], "ports": list(ports)}

    def driver(self, op, **kw):
        req = dict(kw, op=op, settings=self.settings())
        p = subprocess.run([DRIVER], input=json.dumps(req), capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def in_ns(self, *args, check=True):
        return sh("ip", "netns", "exec", self.ns, *args, check=check)

    def ip_file(self, ip):
        return os.path.join(self.ipam_dir, NETWORK, ip)

    def cleanup(self):
        for p in self.procs:
            p.kill()
            p.wait()
        sh("ip", "netns", "del", self.ns, check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        for cid in self.ids:
            purge_iptables(cid)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def net():
    n = Net()
    try:
        yield n
    finally:
        n.cleanup()


def host_veth(result):
    """The host end of the pod's veth, from the bridge plugin's result."""
    names = [i["name"] for i in result.get("interfaces", []) if not i.get("sandbox")]
    veths = [n for n in names if n.startswith("veth")]
    assert len(veths) == 1, result
    return veths[0]


def link_exists(name):
    return sh("ip", "link", "show", "dev", name, check=False).returncode == 0


def serve(net, ip, port, token):
    """A TCP server inside the netns that answers every connection with token."""
    code = ("import socket, sys\n"
            "s = socket.socket()\n"
            "s.bind((sys.argv[1], int(sys.argv[2])))\n"
            "s.listen(8)\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    c, _ = s.accept()\n"
            "    c.sendall(sys.argv[3].encode())\n"
            "    c.close()\n")
    p = subprocess.Popen(["ip", "netns", "exec", net.ns, PY, "-c", code, ip, str(port), token],
                         stdout=subprocess.PIPE, text=True)
    net.procs.append(p)
    assert p.stdout.readline().strip() == "ready"


def fetch(addr):
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(addr, timeout=3) as s:
                return s.recv(100).decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_status_and_load_default_network(net):
    st = net.driver("status")
    assert st["ready"] and st["default_network"], st
    assert st["message"] == "crisp default network crisp (bridge %s, %s)" % (net.bridge,
                                                                            net.subnet)
    assert st["config_file"] == "" and st["network_name"] == NETWORK
    ld = net.driver("load")
    assert ld["ok"] and ld["default"] and ld["name"] == NETWORK and ld["file"] == ""
    conf = json.loads(ld["json"])
    assert [p["type"] for p in conf["plugins"]] == ["bridge", "portmap", "bandwidth"]

    # a configured network always wins over the default
    with open(os.path.join(net.conf_dir, "10-mine.conflist"), "w") as f:
        json.dump({"cniVersion": "1.0.0", "name": "mine", "plugins": [{"type": "bridge"}]}, f)
    st = net.driver("status")
    assert st["ready"] and not st["default_network"] and st["network_name"] == "mine", st
    assert net.driver("load")["name"] == "mine"


def test_add_reach_del(net):
    host_port = free_port()
    pod = net.pod(ports=[{"protocol": "tcp", "container_port": POD_PORT, "host_port": host_port,
                          "host_ip": "127.0.0.1"}])
    cid = pod["id"]
    assert net.driver("loopback", netns=net.netns) == {"ok": True}
    ans = net.driver("add", pod=pod)
    assert ans["ok"], ans
    att = ans["attachment"]
    ip = att["ips"][0]
    assert len(att["ips"]) == 1 and ip.startswith(net.subnet.rsplit(".", 1)[0] + ".")
    result = json.loads(att["result_json"])
    assert json.loads(att["net_json"])["name"] == NETWORK

    # the pod's side: lo up, eth0 with the IP
    assert "UP" in net.in_ns("ip", "-o", "link", "show", "lo").stdout.split(">")[0]
    assert "inet %s/24" % ip in net.in_ns("ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
    # the host's side: the allocation, the veth on the bridge, the rules
    with open(net.ip_file(ip)) as f:
        assert f.read().startswith(cid)
    veth = host_veth(result)
    assert "master " + net.bridge in sh("ip", "-o", "link", "show", "dev", veth).stdout
    rules = iptables_save()
    assert cid in rules and all(":" + c in rules for c in chains_of(cid))

    # reached at its IP, and through the host port on 127.0.0.1 (portmap's
    # snat: route_localnet on the bridge and a masquerade of 127.0.0.1)
    token = secrets.token_hex(8)
    serve(net, ip, POD_PORT, token)
    assert fetch((ip, POD_PORT)) == token
    assert fetch(("127.0.0.1", host_port)) == token

    ans = net.driver("del", pod=pod, attachment=att)
    assert ans == {"ok": True}, ans
    assert not os.path.exists(net.ip_file(ip))
    assert not link_exists(veth)
    assert net.in_ns("ip", "link", "show", "dev", "eth0", check=False).returncode != 0
    rules = iptables_save()
    assert cid not in rules and not any(":" + c in rules for c in chains_of(cid))
    with pytest.raises(OSError):
        with socket.create_connection(("127.0.0.1", host_port), timeout=2) as s:
            s.recv(100)

    # again: nothing left to do, still fine; and once the netns is gone
    assert net.driver("del", pod=pod, attachment=att) == {"ok": True}
    sh("ip", "netns", "del", net.ns)
    assert net.driver("del", pod=pod, attachment=att) == {"ok": True}
    assert net.driver("del", pod=pod) == {"ok": True}     # without the stored result


def test_del_after_netns_gone(net):
    """The pod's netns vanished (a crash, a lost pin): DEL still succeeds and
    frees what lives on the host: the IP, the veth (gone with the netns),
    portmap's rules. The bridge plugin's masquerade rules for the pod stay:
    with CNI_NETNS "" it learns no IPs to tear them down for (upstream
    containernetworking/plugins#810, still so in Debian's 1.1.1); sandboxd
    must DEL before it lets a pod's netns go. The cleanup removes them."""
    pod = net.pod(ports=[{"protocol": "tcp", "container_port": POD_PORT,
                          "host_port": free_port(), "host_ip": "127.0.0.1"}])
    ans = net.driver("add", pod=pod)
    assert ans["ok"], ans
    att = ans["attachment"]
    ip = att["ips"][0]
    veth = host_veth(json.loads(att["result_json"]))
    masq_chain, dnat_chain = chains_of(pod["id"])
    rules = iptables_save()
    assert os.path.exists(net.ip_file(ip)) and ":" + dnat_chain in rules
    sh("ip", "netns", "del", net.ns)
    ans = net.driver("del", pod=pod, attachment=att)
    assert ans == {"ok": True}, ans
    assert not os.path.exists(net.ip_file(ip))
    assert not link_exists(veth)
    rules = iptables_save()
    assert ":" + dnat_chain not in rules
    assert not [r for r in rules.splitlines() if pod["id"] in r and masq_chain not in r]
    assert net.driver("del", pod=pod, attachment=att) == {"ok": True}


def test_failed_add_is_undone(net):
    """A configured list whose second plugin fails (tuning, told to set a
    sysctl that does not exist): the bridge plugin's work (the IP, the veth,
    eth0, the masquerade rules) is undone by DEL before ADD returns."""
    conflist = {"cniVersion": "1.0.0", "name": NETWORK, "plugins": [
        {"type": "bridge", "bridge": net.bridge, "isGateway": True, "ipMasq": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": net.subnet}]],
                  "dataDir": net.ipam_dir}},
        {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.crisp_no_such_key": "1"}}]}
    with open(os.path.join(net.conf_dir, "10-failing.conflist"), "w") as f:
        json.dump(conflist, f)
    pod = net.pod()
    ans = net.driver("add", pod=pod)
    assert not ans["ok"], ans
    assert "CNI plugin tuning (ADD) failed" in ans["error"], ans
    assert "crisp_no_such_key" in ans["error"], ans
    allocated = [f for f in os.listdir(os.path.join(net.ipam_dir, NETWORK)) if f[0].isdigit()]
    assert allocated == []
    assert sh("ip", "-o", "link", "show", "master", net.bridge).stdout.strip() == ""
    assert net.in_ns("ip", "link", "show", "dev", "eth0", check=False).returncode != 0
    assert pod["id"] not in iptables_save()
