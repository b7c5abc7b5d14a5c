"""Audit trail (issue 11, single node): one CloudTrail-shaped event per request, written
before the response leaves, hash-chained, verifiable offline, readable with LookupEvents.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kms_harness import DEFAULT_REGION, client_for, kms_binary

pytestmark = pytest.mark.single_node("the audit trail and LookupEvents are per node (files in each node's data dir)")

AWS = shutil.which("aws")


# -- helpers -------------------------------------------------------------------------

def audit_files(data_dir):
    return sorted(glob.glob(os.path.join(data_dir, "audit", "audit-*.jsonl")))


def events(data_dir):
    out = []
    for path in audit_files(data_dir):
        with open(path, "rb") as fh:
            for line in fh.read().split(b"\n"):
                if line:
                    out.append(json.loads(line))
    return out


def by_request_id(data_dir):
    table = {}
    for e in events(data_dir):
        table.setdefault(e.get("requestID"), []).append(e)
    return table


def request_id(result):
    return result["ResponseMetadata"]["RequestId"]


def call(fn, **kwargs):
    """(request id, response or None, error code or None) of one call."""
    try:
        r = fn(**kwargs)
        return request_id(r), r, None
    except ClientError as e:
        return e.response["ResponseMetadata"]["RequestId"], None, e.response["Error"]["Code"]


def verify(data_dir, *extra):
    proc = subprocess.run([kms_binary(), "audit", "verify", "--data-dir", data_dir, *extra],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


def cloudtrail_client(srv, access_key=None, secret_key=None):
    if access_key is None:
        creds = srv.root_credentials()
        access_key, secret_key = creds.access_key, creds.secret_key
    return boto3.session.Session().client(
        "cloudtrail", endpoint_url=srv.url, region_name=DEFAULT_REGION,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A private server, the calls made against it (operation -> request id, response,
    error) and every secret value the run used, for the checks below."""
    from kms_harness import KmsServer
    base = tmp_path_factory.mktemp("kms-audit")
    srv = KmsServer(data_dir=str(base / "data"), log_dir=str(base / "logs"))
    os.makedirs(srv.data_dir, exist_ok=True)
    srv.start()
    kms = srv.client()
    secrets = [srv.root_credentials().secret_key]
    calls = {}

    def record(name, fn, **kwargs):
        rid, r, err = call(fn, **kwargs)
        calls[name] = (rid, r, err, kwargs)
        return r

    plaintext = os.urandom(48)
    secrets.append(plaintext)
    md = record("CreateKey", kms.create_key, Description="audited key",
                Tags=[{"TagKey": "team", "TagValue": "audit"}])["KeyMetadata"]
    kid, arn = md["KeyId"], md["Arn"]
    record("DescribeKey", kms.describe_key, KeyId=kid)
    record("ListKeys", kms.list_keys, Limit=5)
    enc = record("Encrypt", kms.encrypt, KeyId=kid, Plaintext=plaintext, EncryptionContext={"purpose": "audit-test"})
    secrets.append(enc["CiphertextBlob"])
    dec = record("Decrypt", kms.decrypt, CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"purpose": "audit-test"})
    assert dec["Plaintext"] == plaintext
    re = record("ReEncrypt", kms.re_encrypt, CiphertextBlob=enc["CiphertextBlob"],
                SourceEncryptionContext={"purpose": "audit-test"}, DestinationKeyId=kid)
    secrets.append(re["CiphertextBlob"])
    dk = record("GenerateDataKey", kms.generate_data_key, KeyId=kid, KeySpec="AES_256")
    secrets += [dk["Plaintext"], dk["CiphertextBlob"]]
    dkw = record("GenerateDataKeyWithoutPlaintext", kms.generate_data_key_without_plaintext, KeyId=kid, NumberOfBytes=32)
    secrets.append(dkw["CiphertextBlob"])
    rnd = record("GenerateRandom", kms.generate_random, NumberOfBytes=32)
    secrets.append(rnd["Plaintext"])
    alias = f"alias/audit-{os.getpid()}"
    record("CreateAlias", kms.create_alias, AliasName=alias, TargetKeyId=kid)
    record("ListAliases", kms.list_aliases, KeyId=kid)
    record("DeleteAlias", kms.delete_alias, AliasName=alias)
    record("TagResource", kms.tag_resource, KeyId=kid, Tags=[{"TagKey": "env", "TagValue": "test"}])
    record("UntagResource", kms.untag_resource, KeyId=kid, TagKeys=["env"])
    record("ListResourceTags", kms.list_resource_tags, KeyId=kid)
    policy = record("GetKeyPolicy", kms.get_key_policy, KeyId=kid, PolicyName="default")["Policy"]
    record("PutKeyPolicy", kms.put_key_policy, KeyId=kid, PolicyName="default", Policy=policy)
    record("ListKeyPolicies", kms.list_key_policies, KeyId=kid)
    record("UpdateKeyDescription", kms.update_key_description, KeyId=kid, Description="still audited")
    record("DisableKey", kms.disable_key, KeyId=kid)
    record("EnableKey", kms.enable_key, KeyId=kid)

    sign_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    sig = record("Sign", kms.sign, KeyId=sign_key, Message=b"audited message", SigningAlgorithm="ECDSA_SHA_256")
    secrets.append(sig["Signature"])
    record("Verify", kms.verify, KeyId=sign_key, Message=b"audited message", Signature=sig["Signature"],
           SigningAlgorithm="ECDSA_SHA_256")
    record("GetPublicKey", kms.get_public_key, KeyId=sign_key)
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = record("GenerateMac", kms.generate_mac, KeyId=mac_key, Message=b"mac me", MacAlgorithm="HMAC_SHA_256")
    secrets.append(mac["Mac"])
    record("VerifyMac", kms.verify_mac, KeyId=mac_key, Message=b"mac me", Mac=mac["Mac"], MacAlgorithm="HMAC_SHA_256")
    pair = record("GenerateDataKeyPair", kms.generate_data_key_pair, KeyId=kid, KeyPairSpec="ECC_NIST_P256")
    secrets += [pair["PrivateKeyPlaintext"], pair["PrivateKeyCiphertextBlob"]]
    pair2 = record("GenerateDataKeyPairWithoutPlaintext", kms.generate_data_key_pair_without_plaintext,
                   KeyId=kid, KeyPairSpec="ECC_NIST_P256")
    secrets.append(pair2["PrivateKeyCiphertextBlob"])

    del_key = kms.create_key()["KeyMetadata"]["KeyId"]
    record("ScheduleKeyDeletion", kms.schedule_key_deletion, KeyId=del_key, PendingWindowInDays=7)
    record("CancelKeyDeletion", kms.cancel_key_deletion, KeyId=del_key)

    # Key agreement: the shared secret never reaches the trail.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives import hashes
    agree_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    peer = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    shared = record("DeriveSharedSecret", kms.derive_shared_secret, KeyId=agree_key, KeyAgreementAlgorithm="ECDH",
                    PublicKey=peer)
    secrets.append(shared["SharedSecret"])

    # Grants: the grant token is a bearer credential and never reaches the trail.
    grantee = f"arn:aws:iam::{srv.account_id}:root"
    grant = record("CreateGrant", kms.create_grant, KeyId=kid, GranteePrincipal=grantee, RetiringPrincipal=grantee,
                   Operations=["Decrypt"], Name="audited-grant")
    secrets.append(grant["GrantToken"])
    record("ListGrants", kms.list_grants, KeyId=kid)
    record("ListRetirableGrants", kms.list_retirable_grants, RetiringPrincipal=grantee)
    record("RetireGrant", kms.retire_grant, KeyId=kid, GrantId=grant["GrantId"])
    grant2 = kms.create_grant(KeyId=kid, GranteePrincipal=grantee, Operations=["Encrypt"])
    secrets.append(grant2["GrantToken"])
    record("RevokeGrant", kms.revoke_grant, KeyId=kid, GrantId=grant2["GrantId"])

    # Rotation.
    record("EnableKeyRotation", kms.enable_key_rotation, KeyId=kid, RotationPeriodInDays=180)
    record("GetKeyRotationStatus", kms.get_key_rotation_status, KeyId=kid)
    record("RotateKeyOnDemand", kms.rotate_key_on_demand, KeyId=kid)
    record("ListKeyRotations", kms.list_key_rotations, KeyId=kid)
    record("DisableKeyRotation", kms.disable_key_rotation, KeyId=kid)

    # Imported key material: the wrapped material and the import token never reach the trail.
    ext = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = record("GetParametersForImport", kms.get_parameters_for_import, KeyId=ext,
                    WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    material = os.urandom(32)
    wrapped = serialization.load_der_public_key(params["PublicKey"]).encrypt(
        material, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    secrets += [material, params["ImportToken"], wrapped]
    record("ImportKeyMaterial", kms.import_key_material, KeyId=ext, ImportToken=params["ImportToken"],
           EncryptedKeyMaterial=wrapped, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")

    # Last use, from the trail: the GenerateDataKeyPairWithoutPlaintext above was the last on kid.
    record("GetKeyLastUsage", kms.get_key_last_usage, KeyId=kid)

    # Failed, invalid and denied calls.
    loose = srv.client(validate=False)
    record("invalid:GenerateDataKey", loose.generate_data_key, KeyId=kid, NumberOfBytes=2048)
    record("notfound:DescribeKey", kms.describe_key, KeyId="11111111-2222-3333-4444-555555555555")
    bad_secret = client_for(srv.url, DEFAULT_REGION, srv.root_credentials().access_key, "wrong-secret")
    record("denied:Encrypt", bad_secret.encrypt, KeyId=kid, Plaintext=b"denied plaintext 0123456789")
    secrets.append(b"denied plaintext 0123456789")
    unknown = client_for(srv.url, DEFAULT_REGION, "AKIAUNKNOWNUNKNOWN00", "whatever-secret")
    record("unknown:ListKeys", unknown.list_keys)

    yield srv, calls, secrets, kid, arn
    srv.stop()


# -- 1. one event per request, with the right fields ---------------------------------

EXPECTED = {
    # operation: (readOnly, has resource, request parameter names, response element names or None)
    "CreateKey": (False, True, {"description", "tags"}, {"keyMetadata"}),
    "DescribeKey": (True, True, {"keyId"}, None),
    "ListKeys": (True, False, {"limit"}, None),
    "Encrypt": (True, True, {"keyId", "encryptionContext"}, None),
    "Decrypt": (True, True, {"encryptionContext"}, None),
    "ReEncrypt": (True, True, {"destinationKeyId", "sourceEncryptionContext"}, None),
    "GenerateDataKey": (True, True, {"keyId", "keySpec"}, None),
    "GenerateDataKeyWithoutPlaintext": (True, True, {"keyId", "numberOfBytes"}, None),
    "GenerateRandom": (True, False, {"numberOfBytes"}, None),
    "CreateAlias": (False, True, {"aliasName", "targetKeyId"}, None),
    "ListAliases": (True, True, {"keyId"}, None),
    "DeleteAlias": (False, False, {"aliasName"}, None),
    "TagResource": (False, True, {"keyId", "tags"}, None),
    "UntagResource": (False, True, {"keyId", "tagKeys"}, None),
    "ListResourceTags": (True, True, {"keyId"}, None),
    "GetKeyPolicy": (True, True, {"keyId", "policyName"}, None),
    "PutKeyPolicy": (False, True, {"keyId", "policyName", "policy"}, None),
    "ListKeyPolicies": (True, True, {"keyId"}, None),
    "UpdateKeyDescription": (False, True, {"keyId", "description"}, None),
    "DisableKey": (False, True, {"keyId"}, None),
    "EnableKey": (False, True, {"keyId"}, None),
    "Sign": (True, True, {"keyId", "signingAlgorithm"}, None),
    "Verify": (True, True, {"keyId", "signingAlgorithm"}, None),
    "GetPublicKey": (True, True, {"keyId"}, None),
    "GenerateMac": (True, True, {"keyId", "macAlgorithm"}, None),
    "VerifyMac": (True, True, {"keyId", "macAlgorithm"}, None),
    "GenerateDataKeyPair": (True, True, {"keyId", "keyPairSpec"}, None),
    "GenerateDataKeyPairWithoutPlaintext": (True, True, {"keyId", "keyPairSpec"}, None),
    "ScheduleKeyDeletion": (False, True, {"keyId", "pendingWindowInDays"},
                            {"keyId", "deletionDate", "keyState", "pendingWindowInDays"}),
    "CancelKeyDeletion": (False, True, {"keyId"}, {"keyId"}),
    "DeriveSharedSecret": (True, True, {"keyId", "keyAgreementAlgorithm"}, None),
    "CreateGrant": (False, True, {"keyId", "granteePrincipal", "retiringPrincipal", "operations", "name"}, {"grantId"}),
    "ListGrants": (True, True, {"keyId"}, None),
    "ListRetirableGrants": (True, False, {"retiringPrincipal"}, None),
    "RetireGrant": (False, True, {"keyId", "grantId"}, None),
    "RevokeGrant": (False, True, {"keyId", "grantId"}, None),
    "EnableKeyRotation": (False, True, {"keyId", "rotationPeriodInDays"}, {"keyId"}),
    "DisableKeyRotation": (False, True, {"keyId"}, {"keyId"}),
    "GetKeyRotationStatus": (True, True, {"keyId"}, None),
    "RotateKeyOnDemand": (False, True, {"keyId"}, {"keyId"}),
    "ListKeyRotations": (True, True, {"keyId"}, None),
    "GetParametersForImport": (True, True, {"keyId", "wrappingAlgorithm", "wrappingKeySpec"}, None),
    "ImportKeyMaterial": (False, True, {"keyId", "expirationModel"}, {"keyId", "keyMaterialId"}),
    "GetKeyLastUsage": (True, True, {"keyId"}, None),
}

# Management calls AWS logs with the key ARN in responseElements.keyId ("recorded on or after
# December 2022 ... even though this operation does not return the key ARN").
RESPONSE_KEY_ARN = {"EnableKey", "DisableKey", "UpdateKeyDescription", "PutKeyPolicy", "TagResource",
                    "UntagResource", "EnableKeyRotation", "DisableKeyRotation", "ImportKeyMaterial",
                    "RotateKeyOnDemand"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_operation_leaves_one_event(audited, name):
    srv, calls, _, _, _ = audited
    rid, _, err, _ = calls[name]
    assert err is None, f"{name} failed: {err}"
    found = by_request_id(srv.data_dir).get(rid, [])
    assert len(found) == 1, f"{name}: {len(found)} events with requestID {rid}"
    e = found[0]
    read_only, has_resource, params, elements = EXPECTED[name]
    creds = srv.root_credentials()
    assert e["eventVersion"] == "1.08"
    assert e["eventName"] == name
    assert e["eventSource"] == "kms.amazonaws.com"
    assert e["eventType"] == "AwsApiCall" and e["eventCategory"] == "Management" and e["managementEvent"] is True
    assert e["awsRegion"] == DEFAULT_REGION
    assert e["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in e["userAgent"] or "botocore" in e["userAgent"]
    assert e["userIdentity"] == {"type": "Root", "principalId": srv.account_id,
                                 "arn": f"arn:aws:iam::{srv.account_id}:root",
                                 "accountId": srv.account_id, "accessKeyId": creds.access_key}
    assert e["recipientAccountId"] == srv.account_id
    assert e["readOnly"] is read_only
    assert "errorCode" not in e
    assert len(e["eventID"]) == 36 and e["eventID"][14] == "4"
    assert e["eventTime"].endswith("Z") and len(e["eventTime"]) == 20
    assert "tlsDetails" not in e  # plain HTTP
    assert params <= set((e["requestParameters"] or {}).keys()), e["requestParameters"]
    if name in RESPONSE_KEY_ARN:
        assert e["responseElements"]["keyId"].startswith("arn:aws:kms:"), e["responseElements"]
        assert e["responseElements"]["keyId"] == e["resources"][0]["ARN"]
    elif elements is None:
        assert e["responseElements"] is None
    else:
        assert elements <= set(e["responseElements"].keys())
    if has_resource:
        assert e["resources"] and all(r["type"] == "AWS::KMS::Key" and r["ARN"].startswith("arn:aws:kms:")
                                      and r["accountId"] == srv.account_id for r in e["resources"])
    else:
        assert "resources" not in e


def test_encrypt_event_names_the_key_and_context(audited):
    srv, calls, _, kid, arn = audited
    e = by_request_id(srv.data_dir)[calls["Encrypt"][0]][0]
    assert e["requestParameters"] == {"keyId": kid, "encryptionContext": {"purpose": "audit-test"}}
    assert e["resources"] == [{"accountId": srv.account_id, "type": "AWS::KMS::Key", "ARN": arn}]
    d = by_request_id(srv.data_dir)[calls["Decrypt"][0]][0]
    assert d["resources"][0]["ARN"] == arn  # resolved from the ciphertext


@pytest.mark.parametrize("name,code,identity", [
    ("invalid:GenerateDataKey", "ValidationException", "Root"),
    ("notfound:DescribeKey", "NotFoundException", "Root"),
    ("denied:Encrypt", "InvalidSignatureException", "Unknown"),
    ("unknown:ListKeys", "UnrecognizedClientException", "Unknown"),
])
def test_failed_and_denied_calls_leave_one_event(audited, name, code, identity):
    srv, calls, _, _, _ = audited
    rid, _, err, _ = calls[name]
    assert err == code
    found = by_request_id(srv.data_dir).get(rid, [])
    assert len(found) == 1
    e = found[0]
    assert e["errorCode"] == code and e["errorMessage"]
    assert e["eventName"] == name.split(":")[1]
    assert e["userIdentity"]["type"] == identity
    assert e["responseElements"] is None


def test_request_ids_are_unique_and_every_event_is_chained(audited):
    srv, calls, _, _, _ = audited
    table = by_request_id(srv.data_dir)
    for name, (rid, *_rest) in calls.items():
        assert len(table.get(rid, [])) == 1, name
    for e in events(srv.data_dir):
        assert len(e["previousEventHash"]) == 64


def test_no_secret_reaches_the_audit_files(audited):
    srv, _, secrets, _, _ = audited
    blob = b"".join(open(p, "rb").read() for p in audit_files(srv.data_dir))
    assert blob
    for secret in secrets:
        raw = secret if isinstance(secret, bytes) else secret.encode()
        assert raw not in blob
        if isinstance(secret, bytes):
            b64 = base64.b64encode(secret)
            assert b64 not in blob
            assert b64[:24] not in blob


def test_audit_files_are_private(audited):
    srv, *_ = audited
    assert oct(os.stat(os.path.join(srv.data_dir, "audit")).st_mode & 0o777) == "0o700"
    for path in audit_files(srv.data_dir):
        assert os.stat(path).st_mode & 0o777 == 0o600


# -- 5. LookupEvents -----------------------------------------------------------------

def test_lookup_events_by_key_and_event_name(audited):
    srv, calls, _, kid, arn = audited
    ct = cloudtrail_client(srv)
    got = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": kid}], MaxResults=50)
    names = {e["EventName"] for e in got["Events"]}
    assert {"Encrypt", "Decrypt", "CreateKey", "DisableKey"} <= names
    enc = [e for e in got["Events"] if e["EventName"] == "Encrypt"][0]
    assert enc["EventSource"] == "kms.amazonaws.com" and enc["ReadOnly"] == "true"
    assert enc["Username"] == "root" and enc["AccessKeyId"] == srv.root_credentials().access_key
    assert {"ResourceType": "AWS::KMS::Key", "ResourceName": arn} in enc["Resources"]
    inner = json.loads(enc["CloudTrailEvent"])
    assert inner["requestID"] == calls["Encrypt"][0]

    by_name = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GenerateRandom"}])
    assert [json.loads(e["CloudTrailEvent"])["requestID"] for e in by_name["Events"]] == [calls["GenerateRandom"][0]]
    # Paging: one at a time, newest first, no repeats.
    seen, token = [], None
    for _ in range(4):
        kw = {"MaxResults": 1, "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": arn}]}
        if token:
            kw["NextToken"] = token
        page = ct.lookup_events(**kw)
        assert len(page["Events"]) == 1
        seen.append(page["Events"][0]["EventId"])
        token = page["NextToken"]
    assert len(set(seen)) == 4
    # The lookups are audited too.
    assert any(e["eventName"] == "LookupEvents" and e["eventSource"] == "cloudtrail.amazonaws.com"
               for e in events(srv.data_dir))


def test_lookup_events_errors(audited):
    srv, *_ = audited
    ct = cloudtrail_client(srv)
    with pytest.raises(ClientError) as e:
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"},
                                           {"AttributeKey": "ReadOnly", "AttributeValue": "true"}])
    assert e.value.response["Error"]["Code"] == "InvalidLookupAttributesException"
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    with pytest.raises(ClientError) as e:
        ct.lookup_events(StartTime=now, EndTime=now - datetime.timedelta(hours=1))
    assert e.value.response["Error"]["Code"] == "InvalidTimeRangeException"
    with pytest.raises(ClientError) as e:
        cloudtrail_client(srv, access_key=srv.root_credentials().access_key, secret_key="nope").lookup_events()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"


@pytest.mark.skipif(AWS is None, reason="aws CLI not installed")
def test_aws_cli_lookup_events(audited, tmp_path):
    srv, calls, _, kid, _ = audited
    creds = srv.root_credentials()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_DEFAULT_REGION=DEFAULT_REGION, AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_PAGER="")
    out = subprocess.run([AWS, "cloudtrail", "lookup-events", "--endpoint-url", srv.url, "--output", "json",
                          "--lookup-attributes", f"AttributeKey=ResourceName,AttributeValue={kid}"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)["Events"]
    # AwsServiceEvents (the RotateKey after RotateKeyOnDemand) name the key too; they have no requestID.
    assert calls["Encrypt"][0] in {json.loads(e["CloudTrailEvent"]).get("requestID") for e in found}
    out = subprocess.run([AWS, "cloudtrail", "lookup-events", "--endpoint-url", srv.url, "--output", "json",
                          "--lookup-attributes", "AttributeKey=Username,AttributeValue=root", "--max-items", "3"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["Events"]) == 3


def test_lookup_events_sees_only_the_callers_account(server_factory):
    srv = server_factory(dev=True)
    a = client_for(srv.url, DEFAULT_REGION, "111111111111", "x")
    b = client_for(srv.url, DEFAULT_REGION, "222222222222", "x")
    kid = a.create_key()["KeyMetadata"]["KeyId"]
    b.create_key()
    mine = cloudtrail_client(srv, "111111111111", "x").lookup_events()["Events"]
    theirs = cloudtrail_client(srv, "222222222222", "x").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": kid}])["Events"]
    assert mine and all(json.loads(e["CloudTrailEvent"])["recipientAccountId"] == "111111111111" for e in mine)
    assert theirs == []


# -- 4. tamper evidence --------------------------------------------------------------

def copy_trail(src_data_dir, dst):
    os.makedirs(dst)
    shutil.copytree(os.path.join(src_data_dir, "audit"), os.path.join(dst, "audit"))
    files = audit_files(dst)
    with open(files[-1], "rb") as fh:
        lines = fh.read().split(b"\n")[:-1]
    return files[-1], lines


def write_lines(path, lines, tail=b"\n"):
    with open(path, "wb") as fh:
        fh.write(b"\n".join(lines) + tail)


def test_verify_detects_tampering(audited, tmp_path):
    srv, *_ = audited
    srv.stop()  # the final fsync writes the chain head
    try:
        rc, out = verify(srv.data_dir)
        assert rc == 0 and "intact" in out, out

        path, lines = copy_trail(srv.data_dir, str(tmp_path / "flip"))
        assert len(lines) > 20
        i = len(lines) // 2
        line = bytearray(lines[i])
        pos = line.index(b'"eventName":"') + 14
        line[pos] ^= 0x01
        lines[i] = bytes(line)
        write_lines(path, lines)
        rc, out = verify(str(tmp_path / "flip"))
        assert rc == 1 and f"record {i + 2}" in out, out

        path, lines = copy_trail(srv.data_dir, str(tmp_path / "removed"))
        del lines[10]
        write_lines(path, lines)
        rc, out = verify(str(tmp_path / "removed"))
        assert rc == 1 and "record 11" in out, out

        path, lines = copy_trail(srv.data_dir, str(tmp_path / "swapped"))
        lines[5], lines[6] = lines[6], lines[5]
        write_lines(path, lines)
        rc, out = verify(str(tmp_path / "swapped"))
        assert rc == 1 and "record 6" in out, out

        path, lines = copy_trail(srv.data_dir, str(tmp_path / "cut"))
        write_lines(path, lines[:-1] + [lines[-1][:40]], tail=b"")
        rc, out = verify(str(tmp_path / "cut"))
        assert rc == 1 and "truncated" in out, out

        path, lines = copy_trail(srv.data_dir, str(tmp_path / "cutlines"))
        write_lines(path, lines[:-3])
        rc, out = verify(str(tmp_path / "cutlines"))
        assert rc == 1 and "truncated" in out, out

        # A time range: only records in it are checked.
        rc, out = verify(srv.data_dir, "--from", "2000-01-01T00:00:00Z", "--to", "2001-01-01T00:00:00Z")
        assert rc == 0 and "0 checked" in out, out
    finally:
        srv.start()


# -- 3. durability across kill -9 ----------------------------------------------------

def test_kill_9_loses_no_acknowledged_event(server_factory):
    srv = server_factory()
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    acknowledged = []
    for round_ in range(5):
        kms = srv.client()
        lock = threading.Lock()
        stop = threading.Event()

        def worker():
            c = srv.client()
            while not stop.is_set():
                try:
                    r = c.encrypt(KeyId=kid, Plaintext=b"x" * 16)
                except Exception:  # noqa: BLE001  (the kill cuts calls short)
                    return
                with lock:
                    acknowledged.append(request_id(r))

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.6)
        os.killpg(srv.proc.pid, signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        srv.proc.wait(timeout=10)
        srv.proc = None
        srv.start()
    assert len(acknowledged) > 20
    recorded = by_request_id(srv.data_dir)
    missing = [rid for rid in acknowledged if rid not in recorded]
    assert not missing, f"{len(missing)} acknowledged call(s) without an event"
    srv.stop()
    rc, out = verify(srv.data_dir)
    assert rc == 0, out


def test_deletion_at_end_of_window_is_a_service_event(server_factory):
    srv = server_factory(extra_args=["--deletion-sweep-interval", "0.2"])
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    srv.restart(extra_args=["--lifecycle-clock-offset", str(8 * 86400), "--deletion-sweep-interval", "0.2"])
    deadline = time.time() + 20
    found = []
    while time.time() < deadline and not found:
        found = [e for e in events(srv.data_dir) if e.get("eventType") == "AwsServiceEvent"]
        time.sleep(0.2)
    assert len(found) == 1
    e = found[0]
    assert e["eventName"] == "DeleteKey" and e["userIdentity"]["invokedBy"] == "kms.amazonaws.com"
    assert e["resources"][0]["ARN"].endswith(kid) and e["readOnly"] is False
    with pytest.raises(ClientError):
        srv.client().describe_key(KeyId=kid)


# -- tlsDetails ----------------------------------------------------------------------

def test_tls_calls_carry_tls_details(tmp_path):
    from test_tls import TlsServer, https_client
    from tls_certs import write_bundle
    bundle = write_bundle(str(tmp_path / "tls"))
    srv = TlsServer(data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "logs"),
                    extra_args=["--tls-cert", bundle["cert"], "--tls-key", bundle["key"]])
    srv.start()
    try:
        kms = https_client(srv, bundle["ca"])
        rid = request_id(kms.list_keys())
        e = by_request_id(srv.data_dir)[rid][0]
        assert e["tlsDetails"]["tlsVersion"] in ("TLSv1.2", "TLSv1.3")
        assert e["tlsDetails"]["clientProvidedHostHeader"] == f"localhost:{srv.port}"
    finally:
        srv.stop()


# -- an event that cannot be written fails its request -------------------------------

def test_full_disk_fails_requests_and_refuses_changes(tmp_path):
    """The audit directory on a 64 KiB tmpfs: once it is full, calls answer 500
    KMSInternalException, state-changing ones are not carried out, and every call that
    was answered 200 has its event."""
    from kms_harness import KmsServer
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    data = tmp_path / "data"
    audit_dir = data / "audit"
    os.makedirs(audit_dir)
    os.chmod(data, 0o700)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(audit_dir)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    srv = KmsServer(data_dir=str(data), log_dir=str(tmp_path / "logs"))
    try:
        srv.start()
        kms = srv.client()
        kid = kms.create_key()["KeyMetadata"]["KeyId"]
        ok, failed = [], None
        for _ in range(400):
            try:
                ok.append(request_id(kms.encrypt(KeyId=kid, Plaintext=b"y" * 32)))
            except ClientError as e:
                failed = e.response
                break
        assert failed is not None, "the 64 KiB audit disk never filled"
        assert failed["Error"]["Code"] == "KMSInternalException"
        assert failed["ResponseMetadata"]["HTTPStatusCode"] == 500
        # Within the second after a failed write, a state change is refused before it runs.
        with pytest.raises(ClientError) as refused:
            kms.create_key(Description="must not exist")
        assert refused.value.response["Error"]["Code"] == "KMSInternalException"
        srv.stop()
        assert "audit write" in open(srv.stderr_path).read()
        saved = tmp_path / "saved-audit"
        shutil.copytree(audit_dir, saved)
    finally:
        srv.kill()
        subprocess.run(["umount", str(audit_dir)])
    shutil.rmtree(audit_dir)
    shutil.copytree(saved, audit_dir)
    recorded = by_request_id(str(data))
    assert all(rid in recorded for rid in ok)
    rc, out = verify(str(data))
    assert rc == 0, out
    srv.start()
    try:
        descriptions = [srv.client().describe_key(KeyId=k["KeyId"])["KeyMetadata"]["Description"]
                        for k in srv.client().list_keys()["Keys"]]
        assert "must not exist" not in descriptions
    finally:
        srv.stop()


# -- export and tail -----------------------------------------------------------------

def test_export_and_tail_filter_the_trail(server_factory):
    srv = server_factory()
    kms = srv.client()
    a = kms.create_key()["KeyMetadata"]["KeyId"]
    b = kms.create_key()["KeyMetadata"]["KeyId"]
    ids = [request_id(kms.encrypt(KeyId=a, Plaintext=b"p")) for _ in range(3)]
    kms.encrypt(KeyId=b, Plaintext=b"p")

    def run(*args):
        out = subprocess.run([kms_binary(), "audit", *args, "--data-dir", srv.data_dir],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines()]

    got = run("export", "--key", a, "--event-name", "Encrypt")
    assert [e["requestID"] for e in got] == ids
    assert len(run("export", "--principal", "root")) == len(events(srv.data_dir))
    assert run("export", "--from", "2000-01-01T00:00:00Z", "--to", "2000-01-02T00:00:00Z") == []
    assert [e["requestID"] for e in run("tail", "-n", "2", "--no-follow", "--key", a)] == ids[1:]


# -- round 2: digests, GetKeyLastUsage, LookupEvents authorization, secrets of IAM/STS --

def test_signed_digests_verify_and_tampering_shows(audited, tmp_path):
    srv, *_ = audited
    out = subprocess.run([kms_binary(), "audit", "public-key", "--data-dir", srv.data_dir],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("-----BEGIN PUBLIC KEY-----"), out.stderr
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    public = serialization.load_pem_public_key(out.stdout.encode())
    assert isinstance(public, Ed25519PublicKey)
    pem = tmp_path / "digest.pem"
    pem.write_text(out.stdout)
    srv.stop()  # a clean stop writes the final digest, covering every record
    try:
        rc, text = verify(srv.data_dir)  # key derived from the data dir's root key
        assert rc == 0 and "with the key derived from" in text and "not yet covered" not in text, text
        _, records = copy_trail(srv.data_dir, str(tmp_path / "ok"))
        digests_path = os.path.join(tmp_path, "ok", "audit", "digests.jsonl")
        digests = open(digests_path, "rb").read().splitlines()
        assert digests
        assert json.loads(digests[-1])["digestEndSequence"] == len(events(str(tmp_path / "ok")))
        rc, text = verify(str(tmp_path / "ok"), "--public-key", str(pem))
        assert rc == 0 and "with the given public key" in text, text
        # Each digest's signature checks with the printed key in Python, independently of the server.
        for line in digests:
            body, sig = line.rsplit(b',"signature":"', 1)
            public.verify(base64.b64decode(sig[:-2]), body)

        # One byte of the last digest changed (its end time): the signature no longer verifies.
        copy_trail(srv.data_dir, str(tmp_path / "forged"))
        forged = list(digests)
        at = forged[-1].index(b'"digestEndTime":"') + 20
        forged[-1] = forged[-1][:at] + bytes([forged[-1][at] ^ 0x01]) + forged[-1][at + 1:]
        write_lines(os.path.join(tmp_path, "forged", "audit", "digests.jsonl"), forged)
        rc, text = verify(str(tmp_path / "forged"), "--public-key", str(pem))
        assert rc == 1 and "forged or altered" in text, text

        # The last digest removed: the chain head counted it.
        copy_trail(srv.data_dir, str(tmp_path / "nodigest"))
        with open(os.path.join(tmp_path, "nodigest", "audit", "digests.jsonl"), "wb") as fh:
            fh.write(b"".join(d + b"\n" for d in digests[:-1]))
        rc, text = verify(str(tmp_path / "nodigest"), "--public-key", str(pem))
        assert rc == 1 and "missing" in text, text

        # Records cut from the end and the chain head removed: the last digest still tells.
        path, lines = copy_trail(srv.data_dir, str(tmp_path / "cut"))
        write_lines(path, lines[:-2])
        os.remove(os.path.join(tmp_path, "cut", "audit", "chain-head"))
        rc, text = verify(str(tmp_path / "cut"), "--public-key", str(pem))
        assert rc == 1 and "truncated" in text and "signed digest" in text, text
    finally:
        srv.start()


def test_get_key_last_usage_comes_from_the_trail(audited):
    srv, calls, _, kid, arn = audited
    rid, out, err, _ = calls["GetKeyLastUsage"]
    assert err is None
    usage = out["KeyLastUsage"]
    last_rid = calls["GenerateDataKeyPairWithoutPlaintext"][0]
    event = by_request_id(srv.data_dir)[last_rid][0]
    assert usage["Operation"] == "GenerateDataKeyPairWithoutPlaintext"
    assert usage["KmsRequestId"] == last_rid
    assert usage["CloudTrailEventId"] == event["eventID"]
    import calendar
    assert abs(usage["Timestamp"].timestamp() - calendar.timegm(time.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%SZ"))) < 1.5
    assert out["KeyId"] == kid
    assert out["TrackingStartDate"] >= out["KeyCreationDate"]
    # A key never used has no KeyLastUsage; an alias is refused (key ID or ARN only).
    kms = srv.client()
    fresh = kms.create_key()["KeyMetadata"]["KeyId"]
    assert "KeyLastUsage" not in kms.get_key_last_usage(KeyId=fresh)
    kms.create_alias(AliasName=f"alias/last-{os.getpid()}", TargetKeyId=fresh)
    with pytest.raises(ClientError) as info:
        kms.get_key_last_usage(KeyId=f"alias/last-{os.getpid()}")
    assert info.value.response["Error"]["Code"] == "NotFoundException"
    # A failed call is not a use.
    with pytest.raises(ClientError):
        kms.encrypt(KeyId=fresh, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert "KeyLastUsage" not in kms.get_key_last_usage(KeyId=fresh)
    kms.encrypt(KeyId=fresh, Plaintext=b"x")
    assert kms.get_key_last_usage(KeyId=fresh)["KeyLastUsage"]["Operation"] == "Encrypt"


@pytest.fixture(scope="module")
def iam_env(tmp_path_factory):
    """A server with an IAM user (no policies), one allowed cloudtrail:LookupEvents, and a role."""
    from kms_harness import KmsServer
    base = tmp_path_factory.mktemp("kms-audit-iam")
    srv = KmsServer(data_dir=str(base / "data"), log_dir=str(base / "logs"))
    os.makedirs(srv.data_dir, exist_ok=True)
    srv.start()
    root = srv.root_credentials()

    def client(service, ak=None, sk=None, token=None):
        return boto3.session.Session().client(
            service, endpoint_url=srv.url, region_name=DEFAULT_REGION,
            aws_access_key_id=ak or root.access_key, aws_secret_access_key=sk or root.secret_key,
            aws_session_token=token, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    iam = client("iam")
    suffix = os.urandom(3).hex()
    users = {}
    for name in (f"nobody-{suffix}", f"auditor-{suffix}"):
        iam.create_user(UserName=name)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        users[name.split("-")[0]] = (name, k["AccessKeyId"], k["SecretAccessKey"])
    iam.put_user_policy(UserName=users["auditor"][0], PolicyName="lookup", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["cloudtrail:LookupEvents", "sts:AssumeRole"], "Resource": "*"}]}))
    auditor_arn = iam.get_user(UserName=users["auditor"][0])["User"]["Arn"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": auditor_arn}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"Keys-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="kms", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))
    yield dict(srv=srv, client=client, users=users, role=role)
    srv.stop()


def test_lookup_events_needs_cloudtrail_lookup_events(iam_env):
    srv, client, users = iam_env["srv"], iam_env["client"], iam_env["users"]
    _, ak, sk = users["nobody"]
    with pytest.raises(ClientError) as info:
        cloudtrail_client(srv, ak, sk).lookup_events(MaxResults=5)
    err = info.value.response["Error"]
    assert err["Code"] == "AccessDeniedException" and "cloudtrail:LookupEvents" in err["Message"]
    # The refusal itself is an event.
    rid = info.value.response["ResponseMetadata"]["RequestId"]
    e = by_request_id(srv.data_dir)[rid][0]
    assert e["eventName"] == "LookupEvents" and e["errorCode"] == "AccessDeniedException"
    assert e["userIdentity"]["type"] == "IAMUser"
    # The allowed user sees the account's trail, its own refused call included.
    _, ak, sk = users["auditor"]
    found = cloudtrail_client(srv, ak, sk).lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": users["nobody"][0]}], MaxResults=50)["Events"]
    assert any(ev["EventName"] == "LookupEvents" for ev in found)
    assert cloudtrail_client(srv).lookup_events(MaxResults=1)["Events"]  # root: allowed


def test_policy_denied_kms_call_leaves_one_event(iam_env):
    srv, client, users = iam_env["srv"], iam_env["client"], iam_env["users"]
    kid = client("kms").create_key()["KeyMetadata"]["KeyId"]
    name, ak, sk = users["nobody"]
    rid, _, err = call(client("kms", ak, sk).encrypt, KeyId=kid, Plaintext=b"denied by policy 0123456789")
    assert err == "AccessDeniedException"
    found = by_request_id(srv.data_dir)[rid]
    assert len(found) == 1
    e = found[0]
    assert e["errorCode"] == "AccessDeniedException" and e["userIdentity"]["userName"] == name
    assert e["requestParameters"]["keyId"] == kid and e["responseElements"] is None
    assert b"denied by policy" not in b"".join(open(p, "rb").read() for p in audit_files(srv.data_dir))


def test_no_data_key_secret_key_or_session_token_in_the_trail(iam_env):
    """A focused run of calls that return secrets, then a grep of every audit file for them."""
    srv, client, users, role = iam_env["srv"], iam_env["client"], iam_env["users"], iam_env["role"]
    secrets = []
    kms = client("kms")
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
    secrets += [dk["Plaintext"], dk["CiphertextBlob"]]
    iam = client("iam")
    extra = f"extra-{os.urandom(3).hex()}"
    iam.create_user(UserName=extra)
    key = iam.create_access_key(UserName=extra)["AccessKey"]
    secrets.append(key["SecretAccessKey"])
    secrets += [users["nobody"][2], users["auditor"][2], srv.root_credentials().secret_key]
    _, ak, sk = users["auditor"]
    creds = client("sts", ak, sk).assume_role(RoleArn=role["Arn"], RoleSessionName="audit-scan")["Credentials"]
    secrets += [creds["SecretAccessKey"], creds["SessionToken"]]
    session = client("kms", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    pt = b"session plaintext 0123456789abcdef"
    secrets.append(pt)
    blob = session.encrypt(KeyId=kid, Plaintext=pt)["CiphertextBlob"]
    secrets.append(blob)
    # The session's call is recorded as an assumed role, with its access key ID only.
    e = [x for x in events(srv.data_dir) if x["eventName"] == "Encrypt"][-1]
    assert e["userIdentity"]["type"] == "AssumedRole" and e["userIdentity"]["accessKeyId"] == creds["AccessKeyId"]
    srv.stop()
    srv.start()  # the final digest is written at a clean stop; scan after it too
    files = sorted(glob.glob(os.path.join(srv.data_dir, "audit", "*")))
    assert any(f.endswith("digests.jsonl") for f in files)
    blob_all = b"".join(open(p, "rb").read() for p in files if os.path.isfile(p))
    assert b"AssumeRole" in blob_all and b"CreateAccessKey" in blob_all and b"GenerateDataKey" in blob_all
    for secret in secrets:
        raw = secret if isinstance(secret, bytes) else secret.encode()
        assert raw not in blob_all
        if isinstance(secret, bytes):
            assert base64.b64encode(secret)[:24] not in blob_all
        else:
            assert raw[:16] not in blob_all
