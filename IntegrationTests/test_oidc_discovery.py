"""Issue 9 §2: an OIDC provider with no JWKS file gets its signing keys from the issuer's
discovery URL: `<issuer>/.well-known/openid-configuration`, then its `jwks_uri`, over
HTTPS, as AWS STS does.

The issuer here is a local HTTPS server started by the test (a throwaway CA from
tls_certs.py, trusted through `--oidc-ca-file`). Checked: a token verifies with the
fetched keys (RS256 and ES256); the JWKS is cached (a second AssumeRoleWithWebIdentity
fetches nothing); an issuer the server cannot reach, or whose certificate it does not
trust, is refused with InvalidIdentityToken in AWS's words ("Couldn't retrieve
verification key from your identity provider, ...").
"""

import http.server
import json
import os
import socket
import ssl
import threading
import time
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from kms_harness import DEFAULT_REGION, expect_error
from test_sts import AUDIENCE, Issuer
from tls_certs import make_ca, make_server_cert

CFG = Config(retries={"total_max_attempts": 1, "mode": "standard"})
NO_KEY = ("Couldn't retrieve verification key from your identity provider,  please reference "
          "AssumeRoleWithWebIdentity documentation for requirements")


class DiscoveryServer:
    """HTTPS on 127.0.0.1 (certificate for localhost): the discovery document and the JWKS."""

    def __init__(self, tmp_path, issuer_keys):
        self.ca = make_ca()
        cert, key, _ = make_server_cert(self.ca)
        (tmp_path / "cert.pem").write_bytes(cert)
        (tmp_path / "key.pem").write_bytes(key)
        self.ca_path = str(tmp_path / "ca.pem")
        (tmp_path / "ca.pem").write_bytes(self.ca.pem())
        self.hits = {"config": 0, "jwks": 0}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/oidc/.well-known/openid-configuration":
                    outer.hits["config"] += 1
                    body = json.dumps({"issuer": outer.issuer, "jwks_uri": outer.issuer + "/keys"}).encode()
                elif self.path == "/oidc/keys":
                    outer.hits["jwks"] += 1
                    body = json.dumps(issuer_keys.jwks()).encode()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.issuer = f"https://localhost:{self.port}/oidc"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def setup(server_factory, tmp_path):
    keys = Issuer()
    discovery = DiscoveryServer(tmp_path, keys)
    srv = server_factory(extra_args=["--oidc-ca-file", discovery.ca_path])
    root = srv.root_credentials()
    iam = boto3.session.Session().client("iam", endpoint_url=srv.url, region_name="us-east-1", config=CFG,
                                         aws_access_key_id=root.access_key, aws_secret_access_key=root.secret_key)

    def role_for(issuer_url):
        provider = iam.create_open_id_connect_provider(
            Url=issuer_url, ClientIDList=[AUDIENCE], ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity"}]}
        return iam.create_role(RoleName="pod-" + uuid.uuid4().hex[:8],
                               AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    sts = boto3.session.Session().client("sts", endpoint_url=srv.url, region_name=DEFAULT_REGION,
                                         config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    yield dict(srv=srv, keys=keys, discovery=discovery, role_for=role_for, sts=sts)
    discovery.close()


def test_jwks_from_the_discovery_url_is_fetched_once_and_verifies(setup):
    d, keys, sts = setup["discovery"], setup["keys"], setup["sts"]
    role = setup["role_for"](d.issuer)
    # Each node fetches and caches on its own (two with KMS_TEST_MODE=pg-two-nodes).
    nodes = len(getattr(setup["srv"], "nodes", [setup["srv"]]))
    for i in range(2 * nodes):
        alg = ("RS256", "ES256")[i % 2]
        out = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName=f"disc-{i}",
                                                WebIdentityToken=keys.token(alg, iss=d.issuer))
        assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
        assert out["Provider"] == d.issuer.removeprefix("https://") or out["Provider"] == d.issuer
    # Cached: one fetch of each document per node, whatever the number of calls.
    assert d.hits == {"config": nodes, "jwks": nodes}, d.hits
    # A token signed by another key is still refused.
    with expect_error("InvalidIdentityToken", 400):
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="other-key",
                                          WebIdentityToken=Issuer().token("ES256", iss=d.issuer))


def test_unreachable_or_untrusted_issuer_is_refused(setup, server_factory):
    keys, sts = setup["keys"], setup["sts"]
    # Nothing listens on this port: it stays bound (so no one else takes it) but not listening.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    dead = blocker.getsockname()[1]
    issuer = f"https://localhost:{dead}/oidc"
    role = setup["role_for"](issuer)
    started = time.monotonic()
    try:
        with expect_error("InvalidIdentityToken", 400, message=NO_KEY):
            sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="dead",
                                              WebIdentityToken=keys.token("RS256", iss=issuer))
    finally:
        blocker.close()
    # Bounded: a refused connection fails at once; the fetch's own timeout is 5 s per request.
    assert time.monotonic() - started < 30

    # The same live issuer through a server that does not trust its CA: refused, nothing fetched.
    d = setup["discovery"]
    other = server_factory(name="untrusting")
    root = other.root_credentials()
    iam = boto3.session.Session().client("iam", endpoint_url=other.url, region_name="us-east-1", config=CFG,
                                         aws_access_key_id=root.access_key, aws_secret_access_key=root.secret_key)
    provider = iam.create_open_id_connect_provider(Url=d.issuer, ClientIDList=[AUDIENCE],
                                                   ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity"}]}
    role = iam.create_role(RoleName="pod-untrusted", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    anon = boto3.session.Session().client("sts", endpoint_url=other.url, region_name=DEFAULT_REGION,
                                          config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    with expect_error("InvalidIdentityToken", 400, message=NO_KEY):
        anon.assume_role_with_web_identity(RoleArn=role, RoleSessionName="untrusted",
                                           WebIdentityToken=keys.token("RS256", iss=d.issuer))
    assert d.hits["jwks"] == 0
