"""scripted_registry: a tiny registry (OCI distribution, GET only) on
127.0.0.1 that serves images built in memory and misbehaves on purpose:
blobs sent slowly (to make pulls overlap or outlive a deadline), or stalled
after some bytes. It counts the GETs of each path, so a test can see that
two concurrent pulls fetched a blob once. Everything runs in one
ThreadingHTTPServer that stop() ends.
"""
import gzip
import hashlib
import http.server
import json
import socketserver
import threading
import time

from registry_env import layer_tar, MT_OCI_MANIFEST, MT_OCI_CONFIG, MT_OCI_LAYER_GZ


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ScriptedRegistry:
    def __init__(self):
        self.blobs = {}         # digest -> bytes
        self.manifests = {}     # "repo/ref" -> (bytes, media type)
        self.gets = {}          # path -> count
        self.slow = {}          # digest -> seconds per 64 KiB chunk
        self.stall_after = {}   # digest -> bytes sent before it goes silent
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        reg = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                reg.serve(self)

            def do_HEAD(self):
                reg.serve(self, head=True)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.host = "127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self, path_part):
        with self.lock:
            return sum(n for p, n in self.gets.items() if path_part in p)

    # ---- content -----------------------------------------------------------
    def blob(self, data):
        d = sha256(data)
        self.blobs[d] = data
        return d

    def image(self, repo, tag, layers, user="0", layer_mt=MT_OCI_LAYER_GZ, diff_ids=None,
              extra_config=None):
        """layers: list of raw layer blobs (already compressed as layer_mt),
        or of {path: (bytes, mode)} dicts (tarred and gzipped here).
        Returns {"config": digest, "manifest": digest, "layers": [digests]}."""
        blobs, ids = [], []
        for layer in layers:
            if isinstance(layer, dict):
                tar = layer_tar(layer)
                ids.append(sha256(tar))
                layer = gzip.compress(tar, mtime=0)
            else:
                ids.append(None)
            blobs.append(layer)
        if diff_ids is not None:
            ids = diff_ids
        config = {"architecture": "amd64", "os": "linux",
                  "config": {"User": user, "Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": ids}}
        config.update(extra_config or {})
        cfg = json.dumps(config).encode()
        manifest = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
                    "config": {"mediaType": MT_OCI_CONFIG, "digest": self.blob(cfg),
                               "size": len(cfg)},
                    "layers": [{"mediaType": layer_mt, "digest": self.blob(b), "size": len(b)}
                               for b in blobs]}
        raw = json.dumps(manifest).encode()
        md = self.blob(raw)
        self.manifests["%s/%s" % (repo, tag)] = (raw, MT_OCI_MANIFEST)
        self.manifests["%s/%s" % (repo, md)] = (raw, MT_OCI_MANIFEST)
        return {"config": sha256(cfg), "manifest": md,
                "layers": [sha256(b) for b in blobs]}

    # ---- serving -------------------------------------------------------------
    def serve(self, h, head=False):
        path = h.path.split("?")[0]
        with self.lock:
            self.gets[path] = self.gets.get(path, 0) + 1
        if path in ("/v2/", "/v2"):
            return self.send(h, 200, b"{}", "application/json", head)
        if "/manifests/" in path:
            repo, ref = path[len("/v2/"):].split("/manifests/")
            m = self.manifests.get("%s/%s" % (repo, ref))
            if not m:
                return self.send(h, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}',
                                 "application/json", head)
            return self.send(h, 200, m[0], m[1], head, digest=sha256(m[0]))
        if "/blobs/" in path:
            d = path.split("/blobs/")[1]
            data = self.blobs.get(d)
            if data is None:
                return self.send(h, 404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}',
                                 "application/json", head)
            return self.send_blob(h, d, data, head)
        return self.send(h, 404, b"", "text/plain", head)

    def send(self, h, status, body, ctype, head, digest=None):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if digest:
            h.send_header("Docker-Content-Digest", digest)
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def send_blob(self, h, d, data, head):
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Docker-Content-Digest", d)
        h.end_headers()
        if head:
            return
        delay = self.slow.get(d, 0)
        stall = self.stall_after.get(d)
        sent = 0
        try:
            while sent < len(data):
                if stall is not None and sent >= stall:
                    self.stopping.wait(600)     # silent until the test ends
                    return
                n = min(65536, len(data) - sent)
                if stall is not None:
                    n = min(n, stall - sent) or n
                h.wfile.write(data[sent:sent + n])
                h.wfile.flush()
                sent += n
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            pass
