"""STS (issue 9 §2): temporary credentials from AssumeRole, GetSessionToken and
AssumeRoleWithWebIdentity, verified on every later request, against the real server,
driven by boto3's `iam`/`sts`/`kms` clients, boto3's own web-identity provider and the
AWS CLI.

The test clock: session tokens are stateless (sealed under a key derived from the root
key), so a restart on the same data dir with the hidden `--lifecycle-clock-offset`
moves the server's clock past a session's expiry without waiting 15 minutes.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from kms_harness import DEFAULT_REGION, expect_error

ISSUER = "https://oidc.test.local/cluster-1"
ISSUER_HOST = "oidc.test.local/cluster-1"
AUDIENCE = "sts.amazonaws.com"
CFG = Config(retries={"total_max_attempts": 1, "mode": "standard"})


# ---------------------------------------------------------------------------
# JWTs signed by hand with `cryptography` (PyJWT is not required)
# ---------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(n: int, length: int = None) -> bytes:
    length = length or (n.bit_length() + 7) // 8
    return n.to_bytes(length, "big")


class Issuer:
    """An OIDC issuer with an RSA (RS256) and a P-256 (ES256) signing key."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict:
        rn = self.rsa.public_key().public_numbers()
        en = self.ec.public_key().public_numbers()
        return {"keys": [
            {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": b64url(int_bytes(rn.n)), "e": b64url(int_bytes(rn.e))},
            {"kty": "EC", "kid": "ec-1", "alg": "ES256", "use": "sig", "crv": "P-256",
             "x": b64url(int_bytes(en.x, 32)), "y": b64url(int_bytes(en.y, 32))},
        ]}

    def token(self, alg: str = "RS256", **overrides) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "system:serviceaccount:payments:api", "aud": AUDIENCE,
                  "iat": now, "nbf": now - 5, "exp": now + 600}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"alg": alg, "typ": "JWT", "kid": "rsa-1" if alg == "RS256" else "ec-1"}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}".encode()
        if alg == "RS256":
            sig = self.rsa.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self.ec.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = int_bytes(r, 32) + int_bytes(s, 32)
        return f"{signing_input.decode()}.{b64url(sig)}"


# ---------------------------------------------------------------------------
# Fixtures: one production-mode server, IAM entities made through boto3's iam client
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def issuer():
    return Issuer()


@pytest.fixture(scope="module")
def env(tmp_path_factory, issuer):
    from kms_harness import KmsServer
    import cluster_mode
    base = tmp_path_factory.mktemp("sts")
    jwks_path = base / "jwks.json"
    jwks_path.write_text(json.dumps(issuer.jwks()))
    srv = cluster_mode.new_server(KmsServer, data_dir=str(base / "data"), log_dir=str(base / "logs"),
                                  extra_args=["--oidc-jwks", f"{ISSUER}={jwks_path}"])
    os.makedirs(srv.data_dir, exist_ok=True)
    srv.start()
    root = srv.root_credentials()

    def client(service, access_key=None, secret_key=None, token=None, region=DEFAULT_REGION):
        return boto3.session.Session().client(
            service, endpoint_url=srv.url, region_name=region, config=CFG,
            aws_access_key_id=access_key or root.access_key,
            aws_secret_access_key=secret_key or root.secret_key, aws_session_token=token)

    iam = client("iam")
    suffix = uuid.uuid4().hex[:6]
    bob, eve = f"bob-{suffix}", f"eve-{suffix}"
    keys = {}
    for name in (bob, eve):
        iam.create_user(UserName=name)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        keys[name] = (k["AccessKeyId"], k["SecretAccessKey"])
    bob_arn = iam.get_user(UserName=bob)["User"]["Arn"]
    role_name = f"Deployer-{suffix}"
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": bob_arn}, "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]}
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=7200)["Role"]
    iam.put_role_policy(RoleName=role_name, PolicyName="kms", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))
    provider_arn = iam.create_open_id_connect_provider(
        Url=ISSUER, ClientIDList=[AUDIENCE], ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
    pod_role = f"Pod-{suffix}"
    pod_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{ISSUER_HOST}:aud": AUDIENCE},
                      "StringLike": {f"{ISSUER_HOST}:sub": "system:serviceaccount:payments:*"}}}]}
    pod = iam.create_role(RoleName=pod_role, AssumeRolePolicyDocument=json.dumps(pod_trust))["Role"]
    iam.put_role_policy(RoleName=pod_role, PolicyName="kms", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))
    key_id = client("kms").create_key(Description="sts test")["KeyMetadata"]["KeyId"]
    yield dict(srv=srv, client=client, iam=iam, keys=keys, bob=bob, eve=eve, bob_arn=bob_arn, role=role,
               pod=pod, provider_arn=provider_arn, key_id=key_id, account=root.account_id, jwks_path=jwks_path)
    cluster_mode.finish_server(srv)


def assume(env, user=None, duration=900, **kw):
    ak, sk = env["keys"][user or env["bob"]]
    sts = env["client"]("sts", ak, sk)
    return sts.assume_role(RoleArn=env["role"]["Arn"], RoleSessionName=kw.pop("name", "deploy-1"),
                           DurationSeconds=duration, **kw)


def temp_client(env, service, creds):
    return env["client"](service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


# ---------------------------------------------------------------------------
# AssumeRole
# ---------------------------------------------------------------------------

def test_assume_role_credentials_work_for_kms_and_name_the_session(env):
    out = assume(env)
    creds, user = out["Credentials"], out["AssumedRoleUser"]
    role = env["role"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40 and len(creds["SessionToken"]) > 100
    expected_arn = f"arn:aws:sts::{env['account']}:assumed-role/{role['RoleName']}/deploy-1"
    assert user["Arn"] == expected_arn
    assert user["AssumedRoleId"] == f"{role['RoleId']}:deploy-1" and role["RoleId"].startswith("AROA")
    remaining = (creds["Expiration"].timestamp() - time.time())
    assert 880 < remaining <= 905, remaining
    # The session token is opaque: nothing of the principal is readable in it.
    assert role["RoleName"] not in creds["SessionToken"] and "assumed-role" not in creds["SessionToken"]
    # Compact (version 2): every request signs and sends it, so it stays short (was ~500).
    assert len(creds["SessionToken"]) < 250, len(creds["SessionToken"])
    ident = temp_client(env, "sts", creds).get_caller_identity()
    assert ident["Arn"] == expected_arn
    assert ident["UserId"] == f"{role['RoleId']}:deploy-1"
    assert ident["Account"] == env["account"]
    kms = temp_client(env, "kms", creds)
    blob = kms.encrypt(KeyId=env["key_id"], Plaintext=b"temporary")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"temporary"


def test_aws_cli_with_temporary_credentials(env):
    creds = assume(env, name="cli-session")["Credentials"]
    environ = dict(os.environ, AWS_ACCESS_KEY_ID=creds["AccessKeyId"], AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                   AWS_SESSION_TOKEN=creds["SessionToken"], AWS_DEFAULT_REGION=DEFAULT_REGION,
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    out = subprocess.run(["aws", "sts", "get-caller-identity", "--endpoint-url", env["srv"].url, "--output", "json"],
                         env=environ, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Arn"].endswith(f":assumed-role/{env['role']['RoleName']}/cli-session")
    # `aws sts assume-role` as bob, through the CLI's own query serializer and XML parser.
    ak, sk = env["keys"][env["bob"]]
    environ = dict(environ, AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk)
    environ.pop("AWS_SESSION_TOKEN")
    out = subprocess.run(["aws", "sts", "assume-role", "--role-arn", env["role"]["Arn"], "--role-session-name", "cli-2",
                          "--duration-seconds", "900", "--endpoint-url", env["srv"].url, "--output", "json"],
                         env=environ, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assumed = json.loads(out.stdout)
    assert assumed["AssumedRoleUser"]["Arn"].endswith("/cli-2")
    assert assumed["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_untrusted_user_is_denied(env):
    eve_arn = env["iam"].get_user(UserName=env["eve"])["User"]["Arn"]
    with expect_error("AccessDenied", 403,
                      message=f"User: {eve_arn} is not authorized to perform: sts:AssumeRole on resource: {env['role']['Arn']}"):
        assume(env, user=env["eve"])
    # A role that does not exist answers the same: nothing is revealed.
    ak, sk = env["keys"][env["bob"]]
    with expect_error("AccessDenied", 403):
        env["client"]("sts", ak, sk).assume_role(RoleArn=f"arn:aws:iam::{env['account']}:role/nope", RoleSessionName="x1")


def test_assume_role_validation(env):
    with expect_error("ValidationError", 400,
                      message="The requested DurationSeconds exceeds the MaxSessionDuration set for this role."):
        assume(env, duration=7201)
    with expect_error("ValidationError", 400):
        assume(env, name="has space")
    with expect_error("MalformedPolicyDocument", 400):
        assume(env, Policy="{not json")
    out = assume(env, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}),
        Tags=[{"Key": "project", "Value": "x"}], SourceIdentity="alice")
    assert 0 < out["PackedPolicySize"] <= 100
    assert out["SourceIdentity"] == "alice"
    # PolicyArns: a customer managed policy of the account narrows the session; an unknown one is refused.
    arn = env["iam"].create_policy(PolicyName=f"session-{uuid.uuid4().hex[:6]}", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}))["Policy"]["Arn"]
    narrowed = assume(env, PolicyArns=[{"arn": arn}])
    assert narrowed["PackedPolicySize"] > 0
    assert temp_client(env, "sts", narrowed["Credentials"]).get_caller_identity()["Arn"].endswith("/deploy-1")
    with expect_error("ValidationError", 400):
        assume(env, PolicyArns=[{"arn": f"arn:aws:iam::{env['account']}:policy/missing-policy"}])


def test_get_session_token_and_access_key_info(env):
    ak, sk = env["keys"][env["bob"]]
    sts = env["client"]("sts", ak, sk)
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert temp_client(env, "sts", creds).get_caller_identity()["Arn"] == env["bob_arn"]
    assert sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == env["account"]
    assert sts.get_access_key_info(AccessKeyId=ak)["Account"] == env["account"]
    with expect_error("AccessDenied", 403):
        temp_client(env, "sts", creds).get_session_token()


def test_tampered_session_token_is_refused(env):
    creds = dict(assume(env, name="tamper")["Credentials"])
    token = creds["SessionToken"]
    for i in (0, len(token) // 2, len(token) - 1):
        bad = dict(creds, SessionToken=token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:])
        with expect_error("UnrecognizedClientException", 400, message="The security token included in the request is invalid."):
            temp_client(env, "kms", bad).encrypt(KeyId=env["key_id"], Plaintext=b"x")
        with expect_error("InvalidClientTokenId", 403, message="The security token included in the request is invalid."):
            temp_client(env, "sts", bad).get_caller_identity()
    # A valid token with another session's access key ID and secret: refused (bound to its key).
    other = assume(env, name="other")["Credentials"]
    with expect_error("UnrecognizedClientException", 400):
        temp_client(env, "kms", dict(other, SessionToken=token)).encrypt(KeyId=env["key_id"], Plaintext=b"x")
    # A temporary key ID without its token.
    with expect_error("UnrecognizedClientException", 400):
        env["client"]("kms", creds["AccessKeyId"], creds["SecretAccessKey"]).encrypt(KeyId=env["key_id"], Plaintext=b"x")
    # The right token with a wrong secret: the signature fails.
    with expect_error("InvalidSignatureException", 400):
        temp_client(env, "kms", dict(creds, SecretAccessKey="x" * 40)).encrypt(KeyId=env["key_id"], Plaintext=b"x")


def test_expiry_with_the_test_clock(env):
    """Credentials survive a restart (stateless tokens); with the clock moved past their
    expiry they are refused with ExpiredTokenException (KMS) / ExpiredToken (STS)."""
    srv = env["srv"]
    creds = assume(env, name="expiring", duration=900)["Credentials"]
    base_args = list(srv.extra_args)
    srv.restart(extra_args=base_args)
    temp_client(env, "kms", creds).encrypt(KeyId=env["key_id"], Plaintext=b"still valid")
    try:
        srv.restart(extra_args=base_args + ["--lifecycle-clock-offset", "901"])
        with expect_error("ExpiredTokenException", 400, message="The security token included in the request is expired"):
            temp_client(env, "kms", creds).encrypt(KeyId=env["key_id"], Plaintext=b"x")
        with expect_error("ExpiredToken", 403, message="The security token included in the request is expired"):
            temp_client(env, "sts", creds).get_caller_identity()
    finally:
        srv.restart(extra_args=base_args)


# ---------------------------------------------------------------------------
# AssumeRoleWithWebIdentity
# ---------------------------------------------------------------------------

def anonymous_sts(env):
    return boto3.session.Session().client("sts", endpoint_url=env["srv"].url, region_name=DEFAULT_REGION,
                                          config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))


def web_identity(env, token, name="pod-1"):
    return anonymous_sts(env).assume_role_with_web_identity(
        RoleArn=env["pod"]["Arn"], RoleSessionName=name, WebIdentityToken=token)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_web_identity_token_gets_credentials(env, issuer, alg):
    out = web_identity(env, issuer.token(alg))
    assert out["SubjectFromWebIdentityToken"] == "system:serviceaccount:payments:api"
    assert out["Audience"] == AUDIENCE and out["Provider"] == ISSUER
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{env['account']}:assumed-role/{env['pod']['RoleName']}/pod-1"
    kms = temp_client(env, "kms", out["Credentials"])
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=env["key_id"], Plaintext=b"pod")["CiphertextBlob"])["Plaintext"] == b"pod"


def test_boto3_web_identity_provider(env, issuer, tmp_path):
    """boto3's own credential chain: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, STS at the server."""
    token_file = tmp_path / "token"
    token_file.write_text(issuer.token("ES256"))
    script = (
        "import boto3, json, sys\n"
        "s = boto3.session.Session()\n"
        "url = sys.argv[1]\n"
        "ident = s.client('sts', endpoint_url=url).get_caller_identity()\n"
        "kms = s.client('kms', endpoint_url=url)\n"
        "blob = kms.encrypt(KeyId=sys.argv[2], Plaintext=b'irsa')['CiphertextBlob']\n"
        "ok = kms.decrypt(CiphertextBlob=blob)['Plaintext'] == b'irsa'\n"
        "print(json.dumps({'arn': ident['Arn'], 'ok': ok, 'method': s.get_credentials().method}))\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(AWS_ROLE_ARN=env["pod"]["Arn"], AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
                   AWS_ROLE_SESSION_NAME="irsa-pod", AWS_ENDPOINT_URL_STS=env["srv"].url,
                   AWS_DEFAULT_REGION=DEFAULT_REGION, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_EC2_METADATA_DISABLED="true")
    out = subprocess.run([sys.executable, "-c", script, env["srv"].url, env["key_id"]], env=environ,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["method"] == "assume-role-with-web-identity"
    assert result["arn"].endswith(f":assumed-role/{env['pod']['RoleName']}/irsa-pod")
    assert result["ok"] is True


def test_web_identity_refusals(env, issuer):
    with expect_error("InvalidIdentityToken", 400, message="Incorrect token audience"):
        web_identity(env, issuer.token(aud="someone-else"))
    with expect_error("ExpiredTokenException", 400, message_prefix="Token expired: current date/time"):
        web_identity(env, issuer.token(exp=int(time.time()) - 60, iat=int(time.time()) - 600, nbf=None))
    good = issuer.token("RS256")
    head, body, sig = good.split(".")
    forged_body = b64url(json.dumps({"iss": ISSUER, "sub": "system:serviceaccount:payments:api", "aud": AUDIENCE,
                                     "exp": int(time.time()) + 600, "admin": True}).encode())
    with expect_error("InvalidIdentityToken", 400):
        web_identity(env, f"{head}.{forged_body}.{sig}")
    stranger = Issuer()
    with expect_error("InvalidIdentityToken", 400):
        web_identity(env, stranger.token("ES256"))
    # A subject the trust policy does not allow.
    with expect_error("AccessDenied", 403, message="Not authorized to perform sts:AssumeRoleWithWebIdentity"):
        web_identity(env, issuer.token(sub="system:serviceaccount:other:api"))
    # An issuer with no IAM OIDC provider.
    with expect_error("InvalidIdentityToken", 400, message_prefix="No OpenIDConnect provider found in your account for"):
        web_identity(env, issuer.token(iss="https://elsewhere.test.local"))


@pytest.mark.single_node("reads one node's audit files")
def test_sts_audit_events_hold_no_secrets(env, issuer):
    out = web_identity(env, issuer.token("RS256"), name="audited")
    creds = assume(env, name="audited-2")["Credentials"]
    temp_client(env, "kms", creds).encrypt(KeyId=env["key_id"], Plaintext=b"audited-2")
    srv = env["srv"]
    audit_dir = os.path.join(srv.data_dir, "audit")
    deadline = time.time() + 10
    text = ""
    while time.time() < deadline:
        text = ""
        for root, _, files in os.walk(audit_dir):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    text += fh.read().decode("utf-8", "replace")
        if "audited-2" in text and creds["AccessKeyId"] in text and '"Encrypt"' in text:
            break
        time.sleep(0.2)
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{") and "sts.amazonaws.com" in line]
    names = {e["eventName"] for e in events}
    assert {"AssumeRole", "AssumeRoleWithWebIdentity"} <= names
    # The KMS call made with the session names it as CloudTrail does (AssumedRole, its issuer).
    role = env["role"]
    encrypts = [json.loads(line) for line in text.splitlines()
                if line.startswith("{") and '"Encrypt"' in line and creds["AccessKeyId"] in line]
    assert encrypts, "no Encrypt event for the session"
    ident = encrypts[-1]["userIdentity"]
    assert ident["type"] == "AssumedRole"
    assert ident["arn"] == f"arn:aws:sts::{env['account']}:assumed-role/{role['RoleName']}/audited-2"
    assert ident["principalId"] == f"{role['RoleId']}:audited-2"
    assert ident["accessKeyId"] == creds["AccessKeyId"]
    assert ident["sessionContext"]["sessionIssuer"] == {"type": "Role", "principalId": role["RoleId"], "arn": role["Arn"],
                                                        "accountId": env["account"], "userName": role["RoleName"]}
    for secret in (out["Credentials"]["SecretAccessKey"], out["Credentials"]["SessionToken"],
                   creds["SecretAccessKey"], creds["SessionToken"], issuer.token("RS256").split(".")[2]):
        assert secret not in text
