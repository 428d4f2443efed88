"""registry_env: real registries for tests of imaged's registry client.

RegistryEnv starts Debian's docker-registry (distribution 2.8) on 127.0.0.1
at a free port, in a temporary directory: open, with htpasswd (bcrypt)
Basic auth, or with token auth against token_server.TokenServer. It builds
small OCI images (a tar.gz layer holding busybox-static) as OCI layouts by
the image spec, and pushes them with skopeo. It stops everything it
started, by its own process handles, and removes its directory.
"""
import base64
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REGISTRY_BIN = "/usr/bin/docker-registry"
BUSYBOX = "/bin/busybox"

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _die_with_parent():
    """In the child before exec: SIGTERM when the test process dies, so that
    a killed test run leaves no registry behind."""
    import ctypes
    import signal
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """One docker-registry process."""

    def __init__(self, name, port, proc, workdir, user=None, password=None):
        self.name = name
        self.port = port
        self.proc = proc
        self.dir = workdir
        self.host = "127.0.0.1:%d" % port
        self.url = "http://" + self.host
        self.user = user
        self.password = password

    def creds(self):
        return "%s:%s" % (self.user, self.password) if self.user else None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Layout:
    """An OCI image layout being written: blobs and the tagged index.json."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.refs = []
        self.blobs = {}

    def blob(self, data):
        d = sha256(data)
        with open(os.path.join(self.path, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        self.blobs[d] = data
        return {"digest": d, "size": len(data)}

    def tag(self, tag, media_type, desc):
        self.refs.append(dict(desc, mediaType=media_type,
                              annotations={"org.opencontainers.image.ref.name": tag}))
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": self.refs}, f)


def layer_tar(files):
    """A deterministic tar of {path: (bytes, mode)} with its parent dirs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs = sorted({os.path.dirname(p) for p in files if os.path.dirname(p)})
        for d in dirs:
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        for p in sorted(files):
            data, mode = files[p]
            ti = tarfile.TarInfo(p)
            ti.size = len(data)
            ti.mode = mode
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class RegistryEnv:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="crisp-registry-")
        self.registries = []
        self.token_servers = []
        with open(BUSYBOX, "rb") as f:
            self.busybox = f.read()

    # ---- registries -------------------------------------------------------

    def _config(self, name, port, auth):
        root = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(root, "data"), exist_ok=True)
        lines = [
            "version: 0.1",
            "log:", "  level: error", "  accesslog:", "    disabled: true",
            "storage:", "  filesystem:", "    rootdirectory: %s" % os.path.join(root, "data"),
            "  delete:", "    enabled: true",
            "  maintenance:", "    uploadpurging:", "      enabled: false",
            "http:", "  addr: 127.0.0.1:%d" % port, "  secret: %s" % secrets.token_hex(16),
        ]
        lines += auth
        path = os.path.join(root, "config.yml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return root, path

    def _wait_ready(self, proc, port, log):
        deadline = time.time() + 20
        while time.time() < deadline:
            if proc.poll() is not None:
                return False
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/v2/" % port, timeout=1)
                return True
            except urllib.error.HTTPError:
                return True     # 401: up, and asking for credentials
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("docker-registry did not come up: " + open(log).read()[-2000:])

    def start_registry(self, name, htpasswd=None, token=None):
        """htpasswd=(user, password) for Basic; token=TokenServer for Bearer."""
        for _ in range(10):
            port = free_port()
            auth = []
            if htpasswd:
                hp = os.path.join(self.tmp, name + ".htpasswd")
                out = subprocess.run(["htpasswd", "-Bbn", htpasswd[0], htpasswd[1]],
                                     check=True, capture_output=True).stdout
                with open(hp, "wb") as f:
                    f.write(out)
                auth = ["auth:", "  htpasswd:", "    realm: crisp-test", "    path: " + hp]
            elif token:
                auth = ["auth:", "  token:",
                        "    realm: %s" % token.realm,
                        "    service: %s" % token.service,
                        "    issuer: %s" % token.issuer,
                        "    rootcertbundle: %s" % token.cert_path]
            root, cfg = self._config(name, port, auth)
            log = os.path.join(root, "registry.log")
            env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
            with open(log, "ab") as lf:
                proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=lf, stderr=lf,
                                        env=env, start_new_session=True,
                                        preexec_fn=_die_with_parent)
            if self._wait_ready(proc, port, log):
                r = Registry(name, port, proc, root, *(htpasswd or (None, None)))
                self.registries.append(r)
                return r
            proc.wait()         # lost the port to someone else: another one
        raise RuntimeError("docker-registry would not start: " + open(log).read()[-2000:])

    def start_token_server(self, **kw):
        from token_server import TokenServer
        ts = TokenServer(os.path.join(self.tmp, "token-%d" % len(self.token_servers)), **kw)
        ts.start()
        self.token_servers.append(ts)
        return ts

    # ---- images -----------------------------------------------------------

    def layout(self, name):
        return Layout(os.path.join(self.tmp, "layouts", name))

    def image(self, lay, arch="amd64", variant=None, marker=None, config_padding=0,
              layers=1):
        """Writes an image (config + `layers` gzip layers) into lay; returns
        its manifest descriptor and the pieces."""
        diff_ids, layer_descs = [], []
        for i in range(layers):
            files = {"etc/crisp-image": ((marker or arch).encode() + b" %d\n" % i, 0o644)}
            if i == 0:
                files["bin/busybox"] = (self.busybox, 0o755)
            tar = layer_tar(files)
            gz = gzip.compress(tar, mtime=0)
            diff_ids.append(sha256(tar))
            layer_descs.append(dict(lay.blob(gz), mediaType=MT_OCI_LAYER_GZ))
        config = {"architecture": arch, "os": "linux",
                  "config": {"Cmd": ["/bin/busybox", "sh"], "User": "0"},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        if variant:
            config["variant"] = variant
        if config_padding:
            config["padding"] = "x" * config_padding
        cfg = json.dumps(config).encode()
        manifest = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
                    "config": dict(lay.blob(cfg), mediaType=MT_OCI_CONFIG),
                    "layers": layer_descs}
        raw = json.dumps(manifest).encode()
        desc = dict(lay.blob(raw), mediaType=MT_OCI_MANIFEST)
        return {"desc": desc, "manifest": manifest, "raw": raw, "config": cfg,
                "layers": layer_descs}

    def index(self, lay, images):
        """An OCI index over [(image, platform dict)]."""
        idx = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
               "manifests": [dict(img["desc"], platform=plat) for img, plat in images]}
        raw = json.dumps(idx).encode()
        return {"desc": dict(lay.blob(raw), mediaType=MT_OCI_INDEX), "raw": raw}

    def push(self, lay, tag, reg, dest, fmt=None, all_images=False, creds=None):
        """skopeo copy oci:LAYOUT:tag docker://REGISTRY/dest."""
        cmd = ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]
        if fmt:
            cmd += ["--format", fmt]
        if all_images:
            cmd += ["--all"]
        c = creds or reg.creds()
        if c:
            cmd += ["--dest-creds", c]
        cmd += ["oci:%s:%s" % (lay.path, tag), "docker://%s/%s" % (reg.host, dest)]
        env = dict(os.environ, HOME=self.tmp)
        subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=120)

    def inspect_raw(self, reg, ref, creds=None):
        """What the registry serves for ref, by skopeo: (bytes, digest)."""
        cmd = ["skopeo", "inspect", "--raw", "--tls-verify=false"]
        c = creds or reg.creds()
        if c:
            cmd += ["--creds", c]
        raw = subprocess.run(cmd + ["docker://%s/%s" % (reg.host, ref)], check=True,
                             capture_output=True, env=dict(os.environ, HOME=self.tmp),
                             timeout=60).stdout
        return raw, sha256(raw)

    def _request(self, reg, url, data, method, headers, creds):
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        c = creds or reg.creds()
        if c:
            req.add_header("Authorization", "Basic " + base64.b64encode(c.encode()).decode())
        return urllib.request.urlopen(req, timeout=60)

    def put_blob(self, reg, repo, data, creds=None):
        """A monolithic blob upload by the registry API (for blobs skopeo
        will not push, such as a config over its 4 MiB limit)."""
        with self._request(reg, "%s/v2/%s/blobs/uploads/" % (reg.url, repo), b"", "POST",
                           {}, creds) as r:
            loc = urllib.parse.urljoin(reg.url, r.headers["Location"])
        sep = "&" if "?" in loc else "?"
        with self._request(reg, loc + sep + "digest=" + sha256(data), data, "PUT",
                           {"Content-Type": "application/octet-stream"}, creds) as r:
            return r.headers.get("Docker-Content-Digest")

    def put_manifest(self, reg, repo, ref, raw, media_type, creds=None):
        """PUT a manifest the registry API way (for a Docker manifest list,
        which skopeo will not make from an OCI index); its blobs must be
        there already."""
        with self._request(reg, "%s/v2/%s/manifests/%s" % (reg.url, repo, ref), raw, "PUT",
                           {"Content-Type": media_type}, creds) as r:
            return r.headers.get("Docker-Content-Digest")

    # ---- the end ----------------------------------------------------------

    def close(self):
        for r in self.registries:
            r.stop()
        for t in self.token_servers:
            t.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
