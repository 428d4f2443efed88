"""evil_registry: a real HTTP registry server for the image tests, written
to misbehave on purpose.

EvilRegistry is an HTTP/1.1 server (http.server, one thread per
connection) on 127.0.0.1 at a port the kernel picks, speaking the part of
the registry API (OCI distribution spec) that a pull uses:

    GET/HEAD /v2/
    GET/HEAD /v2/<name>/manifests/<tag or digest>
    GET/HEAD /v2/<name>/blobs/<digest>

It serves two kinds of content:

  * crafted objects, set by the test (add_manifest, add_blob), each with a
    Behaviour: the bytes it claims (digest, Content-Length) need not be the
    bytes it sends; it may stall after the headers, trickle one byte at a
    time, or leave out Content-Length and end by closing the connection;
  * everything else, when `upstream` is set (a docker-registry's URL),
    relayed to that registry as is (status, the headers a client needs,
    the body), optionally throttled to `throttle` bytes per second.

Every request is logged (method, path, status, body bytes sent, when the
peer went away), so a test can count blob downloads or see when the
client gave up on a stalled transfer. stop() wakes every stalled handler
and closes the server; nothing outlives it.
"""
import hashlib
import http.client
import select
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RELAYED_HEADERS = ("Content-Type", "Content-Length", "Docker-Content-Digest", "Location",
                   "WWW-Authenticate", "Content-Range", "Accept-Ranges", "ETag",
                   "Docker-Distribution-API-Version")


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Behaviour:
    """How one crafted object is sent.

    stall_after: send the headers and this many body bytes, then nothing
        (the connection stays open until the client closes it or stop()).
    trickle: seconds between single body bytes (never stalls for long).
    no_length: no Content-Length; the body ends when the connection closes.
    length: the Content-Length to announce (default: the body's length).
    digest: the Docker-Content-Digest header (default: the body's digest;
        "" leaves it out).
    status: the HTTP status (default 200).
    location: a Location header (with status 307, a redirect; a path is
        taken on this server).
    """

    def __init__(self, stall_after=None, trickle=None, no_length=False, length=None,
                 digest=None, status=200, location=None):
        self.stall_after = stall_after
        self.trickle = trickle
        self.no_length = no_length
        self.length = length
        self.digest = digest
        self.status = status
        self.location = location


class Entry:
    def __init__(self, body, media_type, behaviour):
        self.body = body
        self.media_type = media_type
        self.behaviour = behaviour or Behaviour()


class Request:
    """One logged request."""

    def __init__(self, method, path):
        self.method = method
        self.path = path
        self.status = None
        self.sent = 0               # body bytes written
        self.started = time.monotonic()
        self.peer_gone = None       # monotonic time the client closed, if seen
        self.done = None

    def __repr__(self):
        return "<%s %s %s sent=%d>" % (self.method, self.path, self.status, self.sent)


class EvilRegistry:
    def __init__(self, upstream=None, throttle=None):
        self.upstream = upstream and urllib.parse.urlparse(upstream)
        self.throttle = throttle    # bytes/s for relayed blobs; None: full speed
        self.manifests = {}         # (name, tag or digest) -> Entry
        self.blobs = {}             # digest -> Entry (any repository)
        self.requests = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.httpd = None
        self.thread = None

    # ---- content ----------------------------------------------------------

    def add_manifest(self, name, ref, raw, media_type, behaviour=None):
        """Serves raw for name:ref (and for name@its digest when the
        behaviour announces the real digest)."""
        e = Entry(raw, media_type, behaviour)
        self.manifests[(name, ref)] = e
        if e.behaviour.digest is None:
            self.manifests.setdefault((name, sha256(raw)), e)
        return sha256(raw)

    def add_blob(self, data, digest=None, behaviour=None):
        """Serves data as the blob `digest` (default: its own digest)."""
        d = digest or sha256(data)
        self.blobs[d] = Entry(data, "application/octet-stream", behaviour)
        return d

    # ---- life -------------------------------------------------------------

    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    @property
    def url(self):
        return "http://" + self.host

    def start(self):
        reg = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                reg._serve(self, head=False)

            def do_HEAD(self):
                reg._serve(self, head=True)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.thread:
            self.thread.join(10)
            self.thread = None

    # ---- what happened ----------------------------------------------------

    def log(self):
        with self.lock:
            return list(self.requests)

    def count(self, method="GET", contains=""):
        return sum(1 for r in self.log() if r.method == method and contains in r.path)

    def blob_gets(self):
        """{digest: number of GETs} for blobs."""
        out = {}
        for r in self.log():
            if r.method == "GET" and "/blobs/" in r.path:
                d = r.path.rsplit("/", 1)[1]
                out[d] = out.get(d, 0) + 1
        return out

    def sent_for(self, digest):
        return sum(r.sent for r in self.log() if r.path.endswith("/" + digest))

    def clear(self):
        with self.lock:
            self.requests = []

    # ---- serving ----------------------------------------------------------

    def _lookup(self, path):
        """(kind, Entry or None) for a /v2/ path; kind is "base",
        "manifest", "blob" or None."""
        if path in ("/v2", "/v2/"):
            return "base", None
        if not path.startswith("/v2/"):
            return None, None
        rest = path[4:]
        for kind in ("manifests", "blobs"):
            marker = "/%s/" % kind
            if marker in rest:
                name, _, ref = rest.rpartition(marker)
                if kind == "manifests":
                    return "manifest", self.manifests.get((name, ref))
                return "blob", self.blobs.get(ref)
        return None, None

    def _serve(self, h, head):
        path = urllib.parse.urlparse(h.path).path
        req = Request("HEAD" if head else "GET", path)
        with self.lock:
            self.requests.append(req)
        try:
            kind, entry = self._lookup(path)
            if entry is not None:
                self._crafted(h, req, entry, head)
            elif self.upstream is not None:
                self._relay(h, req, head, kind == "blob")
            elif kind == "base":
                self._simple(h, req, 200, b"{}", head)
            else:
                self._simple(h, req, 404, b'{"errors":[{"code":"NAME_UNKNOWN",'
                             b'"message":"not here"}]}', head)
        except (BrokenPipeError, ConnectionResetError):
            req.peer_gone = req.peer_gone or time.monotonic()
            h.close_connection = True
        finally:
            req.done = time.monotonic()

    def _simple(self, h, req, status, body, head):
        req.status = status
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Docker-Distribution-API-Version", "registry/2.0")
        h.end_headers()
        if not head:
            h.wfile.write(body)
            req.sent += len(body)

    def _crafted(self, h, req, e, head):
        b = e.behaviour
        req.status = b.status
        h.send_response(b.status)
        h.send_header("Content-Type", e.media_type)
        h.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if b.location:
            h.send_header("Location", b.location)
        digest = sha256(e.body) if b.digest is None else b.digest
        if digest:
            h.send_header("Docker-Content-Digest", digest)
        if b.no_length:
            h.send_header("Connection", "close")
            h.close_connection = True
        else:
            h.send_header("Content-Length", str(len(e.body) if b.length is None else b.length))
        h.end_headers()
        h.wfile.flush()
        if head:
            return
        body = e.body
        if b.stall_after is not None:
            self._write(h, req, body[:b.stall_after])
            self._hold(h, req)
            h.close_connection = True
            return
        if b.trickle is not None:
            for i in range(len(body)):
                if self.stopping.is_set() or self._peer_closed(h, req):
                    h.close_connection = True
                    return
                self._write(h, req, body[i:i + 1])
                time.sleep(b.trickle)
            return
        self._write(h, req, body)

    def _write(self, h, req, data, throttle=None):
        step = 64 << 10
        for off in range(0, len(data), step):
            chunk = data[off:off + step]
            h.wfile.write(chunk)
            h.wfile.flush()
            req.sent += len(chunk)
            if throttle:
                time.sleep(len(chunk) / throttle)
                if self.stopping.is_set():
                    raise ConnectionResetError("stopping")

    def _peer_closed(self, h, req):
        """True once the client has closed its end (EOF or reset)."""
        try:
            r, _, _ = select.select([h.connection], [], [], 0)
            if r and not h.connection.recv(1, socket.MSG_PEEK):
                req.peer_gone = req.peer_gone or time.monotonic()
                return True
        except OSError:
            req.peer_gone = req.peer_gone or time.monotonic()
            return True
        return False

    def _hold(self, h, req):
        """A stall: send nothing more until the client goes or we stop."""
        while not self.stopping.wait(0.05):
            if self._peer_closed(h, req):
                return

    def _relay(self, h, req, head, is_blob):
        u = self.upstream
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        headers = {k: h.headers[k] for k in ("Authorization", "Accept", "Range")
                   if h.headers.get(k)}
        try:
            conn.request("HEAD" if head else "GET", h.path, headers=headers)
            resp = conn.getresponse()
            body = resp.read() if not head else b""
        finally:
            conn.close()
        req.status = resp.status
        h.send_response(resp.status)
        for k in RELAYED_HEADERS:
            v = resp.getheader(k)
            if v is not None:
                h.send_header(k, v)
        if resp.getheader("Content-Length") is None:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.flush()
        if not head:
            self._write(h, req, body, self.throttle if is_blob else None)
