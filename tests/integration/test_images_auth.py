"""PullImage with credentials and through mirrors, against real registries:
docker-registry behind htpasswd (Basic) and behind token auth
(token_server.py), credentials from the CRI AuthConfig or from the
[registry] docker_config file; [registry.HOST] mirrors in front of
registry.k8s.io and docker.io that lead to the local registry (through a
counting relay, so the test sees the mirror was used). No credential may
ever reach the suite's log.

Run against another build with CRISP_BUILD=DIR (crisp_env).
"""
import base64
import json
import os
import sys
import urllib.request

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crisp_env import Suite  # noqa: E402
from evil_registry import EvilRegistry  # noqa: E402
from images_common import (build_image, finish, images, marker_layer, pull,  # noqa: E402
                           remove, rpc_error, status, tmp_entries)
from registry_env import MT_OCI_MANIFEST, RegistryEnv, free_port  # noqa: E402

SC = grpc.StatusCode


class Env:
    def __init__(self):
        self.reg_env = e = RegistryEnv()
        self.suite = None
        self.relay = None
        try:
            self._setup(e)
        except BaseException:
            self.close()
            raise

    def _setup(self, e):
        self.pw = "pw-" + os.urandom(8).hex()
        self.basic = e.start_registry("basic", htpasswd=("crisp", self.pw))
        self.ts = e.start_token_server()
        self.tok = e.start_registry("token", token=self.ts)
        self.open = e.start_registry("open")
        self.relay = EvilRegistry(upstream=self.open.url).start()
        lay = self.lay = e.layout("images")
        self.img = build_image(lay, [marker_layer(lay, "auth")], user="1000")
        lay.tag("1", MT_OCI_MANIFEST, self.img["desc"])
        e.push(lay, "1", self.basic, "test/busybox:1")
        tok_creds = "crisp:" + self.ts.password
        e.push(lay, "1", self.tok, "test/busybox:1", creds=tok_creds)
        e.push(lay, "1", self.tok, "public/busybox:1", creds=tok_creds)
        e.push(lay, "1", self.open, "test/busybox:1")
        e.push(lay, "1", self.open, "library/busybox:1")
        # a docker config.json with the Basic registry's credentials, for
        # another registry name that only the config file knows
        self.dockercfg = os.path.join(e.tmp, "docker-config.json")
        self.cfg_pw = self.pw
        with open(self.dockercfg, "w") as f:
            json.dump({"auths": {self.basic.host: {"auth": base64.b64encode(
                ("crisp:" + self.pw).encode()).decode()}}}, f)
        self.dead = "http://127.0.0.1:%d" % free_port()
        conf = ("[registry]\ndocker_config = %s\n"
                "[registry.registry.k8s.io]\nmirrors = %s, %s\n"
                "[registry.docker.io]\nmirrors = %s\n"
                % (self.dockercfg, self.dead, self.relay.url, self.relay.url))
        self.suite = Suite(extra_conf=conf)
        self.suite.start()
        self.pids = self.suite.daemon_pids()

    def secrets(self):
        return [self.pw, self.ts.password, self.ts.refresh_token,
                base64.b64encode(("crisp:" + self.pw).encode()).decode()]

    def close(self):
        try:
            if self.suite:
                finish(self.suite)
        finally:
            if self.relay:
                self.relay.stop()
            self.reg_env.close()


@pytest.fixture(scope="module")
def env():
    e = Env()
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def clean(env):
    for im in images(env.suite):
        remove(env.suite, im.id)
    yield env
    for im in images(env.suite):
        remove(env.suite, im.id)
    assert env.suite.daemon_pids() == env.pids
    assert tmp_entries(env.suite) == []
    log = env.suite.logtext()
    for secret in env.secrets():
        assert secret not in log, "a credential reached the log"


def fails(env, ref, auth, codes):
    code, msg = rpc_error(pull, env.suite, ref, auth)
    assert code in codes, (ref, code, msg)
    for secret in env.secrets():
        assert secret not in msg
    return code


def test_basic_auth(clean):
    env = clean
    ref = env.basic.host + "/test/busybox:1"
    # no credentials at all: the docker config has some for this host, so
    # take those away by asking for a name the config does not know
    other = "localhost:%d/test/busybox:1" % env.basic.port
    fails(env, other, None, (SC.UNAUTHENTICATED,))
    fails(env, ref, {"username": "crisp", "password": "wrong"}, (SC.UNAUTHENTICATED,))
    fails(env, ref, {"username": "nobody", "password": env.pw}, (SC.UNAUTHENTICATED,))
    assert images(env.suite) == []
    assert pull(env.suite, ref, {"username": "crisp", "password": env.pw}) == env.img["id"]
    # the image is there now, and still a wrong password is refused
    fails(env, ref, {"username": "crisp", "password": "wrong"}, (SC.UNAUTHENTICATED,))
    remove(env.suite, ref)
    auth = base64.b64encode(("crisp:" + env.pw).encode()).decode()
    assert pull(env.suite, other, {"auth": auth}) == env.img["id"]
    assert list(status(env.suite, other)[0].repo_tags) == [other]


def test_docker_config_credentials(clean):
    env = clean
    ref = env.basic.host + "/test/busybox:1"
    assert pull(env.suite, ref) == env.img["id"]
    # the request's credentials win over the file's
    remove(env.suite, ref)
    fails(env, ref, {"username": "crisp", "password": "wrong"}, (SC.UNAUTHENTICATED,))


def test_token_auth(clean):
    env = clean
    ref = env.tok.host + "/test/busybox:1"
    # anonymous: a token without access, and the registry says 401
    fails(env, ref, None, (SC.UNAUTHENTICATED, SC.PERMISSION_DENIED))
    fails(env, ref, {"username": "crisp", "password": "wrong"},
          (SC.UNAUTHENTICATED, SC.PERMISSION_DENIED))
    assert images(env.suite) == []
    assert pull(env.suite, ref, {"username": "crisp", "password": env.ts.password}) == \
        env.img["id"]
    fails(env, ref, {"username": "crisp", "password": "wrong"},
          (SC.UNAUTHENTICATED, SC.PERMISSION_DENIED))
    remove(env.suite, ref)
    # anonymous pulls of public/ are allowed by the token service
    pub = env.tok.host + "/public/busybox:1"
    assert pull(env.suite, pub) == env.img["id"]
    remove(env.suite, pub)
    # an identity token (OAuth2 refresh token) and a registry token
    assert pull(env.suite, ref, {"identity_token": env.ts.refresh_token}) == env.img["id"]
    remove(env.suite, ref)
    fails(env, ref, {"identity_token": "crisp-refresh-wrong"},
          (SC.UNAUTHENTICATED, SC.PERMISSION_DENIED))
    q = "service=%s&scope=repository:test/busybox:pull" % env.ts.service
    req = urllib.request.Request(env.ts.realm + "?" + q, headers={
        "Authorization": "Basic " + base64.b64encode(
            ("crisp:" + env.ts.password).encode()).decode()})
    with urllib.request.urlopen(req, timeout=30) as r:
        token = json.load(r)["token"]
    assert pull(env.suite, ref, {"registry_token": token}) == env.img["id"]


def test_missing_image_behind_auth_is_not_found(clean):
    env = clean
    creds = {"username": "crisp", "password": env.pw}
    fails(env, env.basic.host + "/test/nosuch:1", creds, (SC.NOT_FOUND,))
    fails(env, env.basic.host + "/test/busybox:nosuch", creds, (SC.NOT_FOUND,))
    tcreds = {"username": "crisp", "password": env.ts.password}
    fails(env, env.tok.host + "/test/busybox:nosuch", tcreds, (SC.NOT_FOUND,))


def test_mirror_for_registry_k8s_io(clean):
    """registry.k8s.io is reached only through its mirrors: a dead one,
    then the relay in front of the local registry."""
    env = clean
    env.relay.clear()
    ref = "registry.k8s.io/test/busybox:1"
    assert pull(env.suite, ref) == env.img["id"]
    assert env.relay.count("GET", "/v2/test/busybox/manifests/1") >= 1
    assert env.relay.count("GET", "/v2/test/busybox/blobs/") >= 2
    im, _ = status(env.suite, ref)
    assert list(im.repo_tags) == [ref]
    assert list(im.repo_digests) == ["registry.k8s.io/test/busybox@" + env.img["digest"]]
    assert status(env.suite, "registry.k8s.io/test/busybox@" + env.img["digest"])[0] == im


def test_mirror_for_docker_io_with_short_names(clean):
    env = clean
    env.relay.clear()
    assert pull(env.suite, "busybox:1") == env.img["id"]
    assert env.relay.count("GET", "/v2/library/busybox/manifests/1") >= 1
    im, _ = status(env.suite, "busybox:1")
    assert list(im.repo_tags) == ["docker.io/library/busybox:1"]
    assert list(im.repo_digests) == ["docker.io/library/busybox@" + env.img["digest"]]
    for name in ("docker.io/library/busybox:1", "docker.io/busybox:1",
                 "index.docker.io/library/busybox:1"):
        assert status(env.suite, name)[0] == im, name
