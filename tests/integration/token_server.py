"""token_server: a small, real token service for docker-registry's token auth
(the Docker Registry v2 token spec), for tests of imaged's registry client.

It signs RS256 JWTs with a key and a self-signed certificate made by
`openssl`; docker-registry trusts that certificate (rootcertbundle) and the
JWT carries it in its x5c header. It serves on 127.0.0.1 at a port the
kernel picks, in a thread of the test process:

  GET  /token?service=S&scope=repository:NAME:ACTIONS   (Basic auth or none)
  POST /token  grant_type=refresh_token&refresh_token=T&service=S&scope=...
  POST /token  grant_type=password&username=U&password=P&...

Policy: the user (default crisp / a random password) and the holder of the
refresh token get what they ask for; anonymous callers get pull on
repositories under "public/" only; wrong credentials get 401. It counts
every request it answers, so tests can see whether tokens were cached.
"""
import base64
import json
import os
import secrets
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt


class TokenServer:
    def __init__(self, workdir, user="crisp", password=None, expires_in=300,
                 service="crisp-test-registry", issuer="crisp-test-issuer"):
        os.makedirs(workdir, exist_ok=True)
        self.dir = workdir
        self.user = user
        self.password = password or secrets.token_hex(12)
        self.refresh_token = "crisp-refresh-" + secrets.token_hex(12)
        self.expires_in = expires_in
        self.service = service
        self.issuer = issuer
        self.key_path = os.path.join(workdir, "key.pem")
        self.cert_path = os.path.join(workdir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", self.key_path, "-out", self.cert_path, "-days", "2",
                        "-subj", "/CN=crisp-test-token-issuer"],
                       check=True, capture_output=True)
        with open(self.key_path, "rb") as f:
            self.key = f.read()
        der = subprocess.run(["openssl", "x509", "-in", self.cert_path, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = [base64.b64encode(der).decode()]
        self.lock = threading.Lock()
        self.requests = []      # (method, account or None, scope, status)
        self.httpd = None
        self.thread = None

    @property
    def realm(self):
        return "http://127.0.0.1:%d/token" % self.httpd.server_address[1]

    def start(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                q = urllib.parse.urlparse(self.path)
                params = dict(urllib.parse.parse_qsl(q.query))
                account, ok = server._basic(self.headers.get("Authorization"))
                self._answer("GET", q.path, params, account, ok)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                params = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
                account, ok = None, True
                if params.get("grant_type") == "refresh_token":
                    ok = params.get("refresh_token") == server.refresh_token
                    account = server.user if ok else None
                elif params.get("grant_type") == "password":
                    ok = (params.get("username") == server.user and
                          params.get("password") == server.password)
                    account = server.user if ok else None
                else:
                    ok = False
                self._answer("POST", urllib.parse.urlparse(self.path).path, params, account, ok)

            def _answer(self, method, path, params, account, ok):
                scope = params.get("scope", "")
                if path != "/token" or not ok:
                    status, body = (404, b"") if path != "/token" else (401, b'{"details":"no"}')
                else:
                    status, body = 200, server._token(account, params.get("service"), scope,
                                                      method == "POST")
                with server.lock:
                    server.requests.append((method, account, scope, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def _basic(self, header):
        """(account, credentials-ok) from an Authorization header."""
        if not header:
            return None, True
        if not header.startswith("Basic "):
            return None, False
        try:
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None, False
        ok = user == self.user and pw == self.password
        return (user if ok else None), ok

    def _token(self, account, service, scope, with_refresh):
        access = []
        parts = scope.split(":") if scope else []
        if len(parts) == 3 and parts[0] == "repository":
            name, wanted = parts[1], parts[2].split(",")
            if account:
                actions = wanted
            else:
                actions = [a for a in wanted if a == "pull" and name.startswith("public/")]
            if actions:
                access.append({"type": "repository", "name": name, "actions": actions})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": account or "", "aud": service or self.service,
                  "exp": now + self.expires_in, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(8), "access": access}
        tok = jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": self.x5c})
        answer = {"token": tok, "access_token": tok, "expires_in": self.expires_in,
                  "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}
        if with_refresh:
            answer["refresh_token"] = self.refresh_token
        return json.dumps(answer).encode()

    def count(self, **match):
        """Requests answered so far that match method=, account=, status=, scope=."""
        keys = ("method", "account", "scope", "status")
        with self.lock:
            rows = [dict(zip(keys, r)) for r in self.requests]
        return sum(1 for r in rows if all(r[k] == v for k, v in match.items()))

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
