"""kms:ViaService and invokedBy (issue 10 §4, issue 11 §1) against the real server with boto3.

A trusted service (`--trusted-service NAME=IDENTITY`) forwards the user's own SigV4-signed
request and adds X-Kms-Via-Service: NAME and X-Kms-Via-Service-Authorization, an HMAC under the
service's SigV4 signing key over the user's signature (docs/POLICY.md, "kms:ViaService").
Here a botocore `before-send` hook plays the service: the user's client signs as usual and
the hook countersigns with the service user's key.

Sources:
  [DG] "kms:ViaService": limits use of a KMS key to requests from specified AWS services,
       value "SERVICE.REGION.amazonaws.com"; AWS managed keys allow use only through their
       service (kms:ViaService + kms:CallerAccount).
  [CT] CloudTrail userIdentity: invokedBy names the AWS service that made the request;
       sourceIPAddress is the service's DNS name for a request an AWS service made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid

import boto3
import pytest
from botocore.config import Config

import cluster_mode
from kms_harness import DEFAULT_REGION, KmsServer, expect_error, poll, send, sign_request

CFG = Config(retries={"total_max_attempts": 1, "mode": "standard"})
ALG = "KMS-VIA-SERVICE-HMAC-SHA256"
ACCOUNT = "000000000000"  # the root credentials' account (--dev-account's default)
SM_USER = "svc-secretsmanager"
EC2_USER = "svc-ec2"


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def countersign(headers, name, access_key, secret_key, over_signature=None):
    """The trusted service's headers for a request whose SigV4 headers are `headers`."""
    auth = _text(headers["Authorization"])
    amz_date = _text(headers["X-Amz-Date"])
    signature = over_signature or auth.split("Signature=")[1].strip()
    _, date, region, service, _ = auth.split("Credential=")[1].split(",")[0].split("/")
    assert service == "kms"
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, "kms", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    to_sign = "\n".join([ALG, amz_date, f"{date}/{region}/kms/aws4_request", name, signature])
    mac = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {"X-Kms-Via-Service": name,
            "X-Kms-Via-Service-Authorization": f"{ALG} Credential={access_key}/{date}/{region}/kms/aws4_request, Signature={mac}"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("via")
    srv = cluster_mode.new_server(KmsServer, str(base / "data"), str(base / "logs"), extra_args=[
        "--trusted-service", f"secretsmanager=arn:aws:iam::{ACCOUNT}:user/{SM_USER}",
        "--trusted-service", f"ec2=arn:aws:iam::{ACCOUNT}:user/{EC2_USER}",
    ])
    os.makedirs(srv.data_dir, exist_ok=True)
    srv.start()
    root = srv.root_credentials()
    assert root.account_id == ACCOUNT

    def client(service, key=None, via=None):
        c = boto3.session.Session().client(
            service, endpoint_url=srv.url, config=CFG, region_name=DEFAULT_REGION,
            aws_access_key_id=(key or (root.access_key, root.secret_key))[0],
            aws_secret_access_key=(key or (root.access_key, root.secret_key))[1])
        if via is not None:
            def hook(request, **_):
                for k, v in via(request.headers).items():
                    request.headers[k] = v
            c.meta.events.register("before-send.kms", hook)
        return c

    iam = client("iam")

    def user(name=None):
        name = name or f"u-{uuid.uuid4().hex[:10]}"
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        k = iam.create_access_key(UserName=name)["AccessKey"]
        return dict(name=name, arn=arn, key=(k["AccessKeyId"], k["SecretAccessKey"]))

    services = {"secretsmanager": user(SM_USER), "ec2": user(EC2_USER)}
    yield dict(srv=srv, client=client, iam=iam, user=user, services=services, root=root)
    cluster_mode.finish_server(srv)


def through(env, name, signer=None):
    """A countersigning hook: service `name`, signed with `signer`'s key (default: the service's own)."""
    ak, sk = (signer or env["services"][name])["key"]
    return lambda headers: countersign(headers, name, ak, sk)


def test_aws_managed_key_is_refused_directly_and_allowed_through_its_service(env):
    root_kms = env["client"]("kms")
    key_id = root_kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"]
    with expect_error("AccessDeniedException"):
        root_kms.encrypt(KeyId="alias/aws/ebs", Plaintext=b"volume key")
    via_ec2 = env["client"]("kms", via=through(env, "ec2"))
    blob = via_ec2.encrypt(KeyId="alias/aws/ebs", Plaintext=b"volume key")["CiphertextBlob"]
    assert via_ec2.decrypt(CiphertextBlob=blob)["KeyId"].endswith(key_id)
    # Another trusted service is not EBS's endpoint (kms:ViaService ec2.us-east-1.amazonaws.com).
    with expect_error("AccessDeniedException"):
        env["client"]("kms", via=through(env, "secretsmanager")).decrypt(CiphertextBlob=blob)


def _key_for_secrets_manager(env, app):
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "ThroughSecretsManager", "Effect": "Allow", "Principal": {"AWS": app["arn"]},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{DEFAULT_REGION}.amazonaws.com"}}}]}
    return env["client"]("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]


def test_key_policy_requiring_via_service(env):
    app = env["user"]()
    key = _key_for_secrets_manager(env, app)
    direct = env["client"]("kms", key=app["key"])
    with expect_error("AccessDeniedException", message_prefix=(
            f"User: {app['arn']} is not authorized to perform: kms:Encrypt on resource: {key['Arn']}")):
        direct.encrypt(KeyId=key["KeyId"], Plaintext=b"s3cret")
    sm = env["client"]("kms", key=app["key"], via=through(env, "secretsmanager"))
    blob = sm.encrypt(KeyId=key["KeyId"], Plaintext=b"s3cret")["CiphertextBlob"]
    assert sm.decrypt(CiphertextBlob=blob)["Plaintext"] == b"s3cret"
    assert sm.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["KeyId"] == key["Arn"]
    with expect_error("AccessDeniedException"):
        env["client"]("kms", key=app["key"], via=through(env, "ec2")).decrypt(CiphertextBlob=blob)
    with expect_error("AccessDeniedException"):
        direct.decrypt(CiphertextBlob=blob)


def test_untrusted_forged_and_moved_countersignatures_are_refused(env):
    app = env["user"]()
    key = _key_for_secrets_manager(env, app)
    refused = "X-Kms-Via-Service-Authorization is not a valid signature of a trusted service 'secretsmanager'."
    # The user (or any identity not configured as the service) asserting it.
    with expect_error("AccessDeniedException", message=refused):
        env["client"]("kms", key=app["key"], via=through(env, "secretsmanager", signer=app)).encrypt(
            KeyId=key["KeyId"], Plaintext=b"x")
    # The other trusted service's identity claiming to be Secrets Manager.
    with expect_error("AccessDeniedException", message=refused):
        env["client"]("kms", key=app["key"], via=through(env, "secretsmanager", signer=env["services"]["ec2"])).encrypt(
            KeyId=key["KeyId"], Plaintext=b"x")
    # The service's key ID with a guessed secret.
    sm_key_id = env["services"]["secretsmanager"]["key"][0]
    forged = lambda h: countersign(h, "secretsmanager", sm_key_id, "not-the-secret")  # noqa: E731
    with expect_error("AccessDeniedException", message=refused):
        env["client"]("kms", key=app["key"], via=forged).encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    # A genuine countersignature moved from one request to another.
    seen = {}

    def capture(h):
        out = through(env, "secretsmanager")(h)
        seen.setdefault("headers", out)
        return out
    env["client"]("kms", key=app["key"], via=capture).encrypt(KeyId=key["KeyId"], Plaintext=b"first")
    moved = env["client"]("kms", key=app["key"], via=lambda h: seen["headers"])
    with expect_error("AccessDeniedException", message=refused):
        moved.encrypt(KeyId=key["KeyId"], Plaintext=b"second")
    # A service name without its countersignature is malformed, never ignored.
    req = sign_request(env["srv"].url, "TrentService.ListKeys", b"{}", DEFAULT_REGION, *app["key"],
                       extra_headers={"X-Kms-Via-Service": "secretsmanager"})
    resp = send(env["srv"].url, {str(k): str(v) for k, v in req.headers.items()}, b"{}")
    assert resp.status == 400 and resp.error_code == "IncompleteSignatureException", resp.body


def test_audit_event_names_the_service(env):
    app = env["user"]()
    key = _key_for_secrets_manager(env, app)
    sm = env["client"]("kms", key=app["key"], via=through(env, "secretsmanager"))
    sm.encrypt(KeyId=key["KeyId"], Plaintext=b"audited")
    ct = boto3.session.Session().client(
        "cloudtrail", endpoint_url=env["srv"].url, region_name=DEFAULT_REGION, config=CFG,
        aws_access_key_id=env["root"].access_key, aws_secret_access_key=env["root"].secret_key)

    def event():
        for e in ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["KeyId"]}],
                                  MaxResults=50)["Events"]:
            record = json.loads(e["CloudTrailEvent"])
            if record["eventName"] == "Encrypt":
                return record
        return None
    record = poll(event, timeout=15, what="the Encrypt event")
    ident = record["userIdentity"]
    assert ident["type"] == "IAMUser" and ident["arn"] == app["arn"] and ident["accessKeyId"] == app["key"][0]
    assert ident["invokedBy"] == "secretsmanager.amazonaws.com"
    assert record["sourceIPAddress"] == "secretsmanager.amazonaws.com"
    assert record["userAgent"] == "secretsmanager.amazonaws.com"
    # A direct call has neither.
    env["client"]("kms").describe_key(KeyId=key["KeyId"])
    direct = poll(lambda: next((json.loads(e["CloudTrailEvent"]) for e in ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DescribeKey"}], MaxResults=50)["Events"]
        if key["KeyId"] in e["CloudTrailEvent"]), None), timeout=15, what="the DescribeKey event")
    assert "invokedBy" not in direct["userIdentity"] and direct["sourceIPAddress"] != "secretsmanager.amazonaws.com"


def test_policy_simulator_takes_via_service_as_a_context_entry(env):
    caller = f"arn:aws:iam::{ACCOUNT}:user/alice"
    resource_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": caller}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}]})
    base = dict(PolicyInputList=[json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]})],
                ActionNames=["kms:Decrypt"], ResourcePolicy=resource_policy, CallerArn=caller,
                ResourceArns=[f"arn:aws:kms:{DEFAULT_REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
    via = env["iam"].simulate_custom_policy(ContextEntries=[{
        "ContextKeyName": "kms:ViaService", "ContextKeyValues": ["secretsmanager.us-east-1.amazonaws.com"],
        "ContextKeyType": "string"}], **base)
    assert via["EvaluationResults"][0]["EvalDecision"] == "allowed"
    direct = env["iam"].simulate_custom_policy(**base)["EvaluationResults"][0]
    assert direct["EvalDecision"] == "implicitDeny"
    assert direct["MissingContextValues"] == ["kms:ViaService"]


def test_via_headers_are_refused_outside_kms(env):
    """IAM, STS and CloudTrail on the same endpoint do not take a service's countersignature:
    the headers are refused, never ignored."""
    for service in ("iam", "sts"):
        c = boto3.session.Session().client(
            service, endpoint_url=env["srv"].url, config=CFG, region_name=DEFAULT_REGION,
            aws_access_key_id=env["root"].access_key, aws_secret_access_key=env["root"].secret_key)
        c.meta.events.register(f"before-send.{service}", lambda request, **_: request.headers.__setitem__(
            "X-Kms-Via-Service", "secretsmanager"))
        call = c.list_users if service == "iam" else c.get_caller_identity
        with pytest.raises(Exception) as raised:
            call()
        assert getattr(raised.value, "response", {}).get("Error", {}).get("Code") in (
            "AccessDenied", "AccessDeniedException"), raised.value
    ct = boto3.session.Session().client(
        "cloudtrail", endpoint_url=env["srv"].url, region_name=DEFAULT_REGION, config=CFG,
        aws_access_key_id=env["root"].access_key, aws_secret_access_key=env["root"].secret_key)
    ct.meta.events.register("before-send.cloudtrail", lambda request, **_: request.headers.__setitem__(
        "X-Kms-Via-Service", "secretsmanager"))
    with expect_error("AccessDeniedException"):
        ct.lookup_events(MaxResults=1)
