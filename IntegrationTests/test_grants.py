"""Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.

Sources:
  [API] AWS KMS API Reference: CreateGrant (Name: "you can retry a CreateGrant request
        with identical parameters; if the grant already exists, the original GrantId is
        returned ... the returned grant token is unique with every CreateGrant request";
        "Grants must not contain only the CreateGrant operation"), GrantConstraints
        ("You cannot use an encryption context grant constraint for cryptographic
        operations with asymmetric KMS keys or HMAC KMS keys"), ListGrants (Limit 1-100,
        default 50; GrantId and GranteePrincipal filters), ListRetirableGrants,
        RetireGrant ("specify the grant token or both the key ID and grant ID"),
        RevokeGrant.
  [DG]  Developer Guide, "Grants in AWS KMS" / "Retiring and revoking grants": who may
        retire (the retiring principal, the grantee when the grant includes
        RetireGrant, the account that owns the key); "Resource quotas" (grants per key).
  [CT]  CloudTrail logs CreateGrant's grantId, never a grant token.
"""

import base64
import glob
import json
import os
import time

import pytest
from botocore.exceptions import ClientError

from kms_harness import DEFAULT_REGION, expect_error, key_arn, random_account
from test_postgres_storage import pg_url, psql  # noqa: F401 (pg_url is a fixture)


def _grants(client, **kw):
    out = []
    for page in client.get_paginator("list_grants").paginate(**kw):
        out.extend(page["Grants"])
    return out


def _tamper(token: str) -> str:
    raw = bytearray(base64.b64decode(token))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _account_client(dev_server, account=None):
    acct = account or random_account()
    return dev_server.client(region=DEFAULT_REGION, access_key=acct, secret_key="anything"), acct


def test_create_list_retire_revoke(kms, key, account):
    grantee = f"arn:aws:iam::{account}:user/grantee"
    retiring = f"arn:aws:iam::{account}:user/retirer"
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, RetiringPrincipal=retiring,
                         Operations=["Decrypt", "Encrypt", "DescribeKey"],
                         Constraints={"EncryptionContextSubset": {"tenant": "42"}})
    assert len(g["GrantId"]) == 64 and g["GrantToken"]
    [entry] = _grants(kms, KeyId=key["KeyId"])
    assert entry["GrantId"] == g["GrantId"]
    assert entry["KeyId"] == key["Arn"]
    assert entry["GranteePrincipal"] == grantee and entry["RetiringPrincipal"] == retiring
    assert entry["IssuingAccount"] == f"arn:aws:iam::{account}:root"
    assert sorted(entry["Operations"]) == ["Decrypt", "DescribeKey", "Encrypt"]
    assert entry["Constraints"] == {"EncryptionContextSubset": {"tenant": "42"}}
    assert entry["CreationDate"].year >= 2024
    # Filters.
    assert [x["GrantId"] for x in _grants(kms, KeyId=key["Arn"], GrantId=g["GrantId"])] == [g["GrantId"]]
    assert _grants(kms, KeyId=key["KeyId"], GrantId="0" * 64) == []
    assert len(_grants(kms, KeyId=key["KeyId"], GranteePrincipal=grantee)) == 1
    assert _grants(kms, KeyId=key["KeyId"], GranteePrincipal=retiring) == []
    # Retire by token (the key's account may), then it is gone.
    kms.retire_grant(GrantToken=g["GrantToken"])
    assert _grants(kms, KeyId=key["KeyId"]) == []
    with expect_error("NotFoundException"):
        kms.retire_grant(GrantToken=g["GrantToken"])
    # Revoke by key + grant ID.
    g2 = kms.create_grant(KeyId=key["Arn"], GranteePrincipal=grantee, Operations=["Decrypt"])
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=g2["GrantId"])
    assert _grants(kms, KeyId=key["KeyId"]) == []
    with expect_error("NotFoundException"):
        kms.revoke_grant(KeyId=key["KeyId"], GrantId=g2["GrantId"])
    with expect_error("NotFoundException"):
        kms.retire_grant(KeyId=key["KeyId"], GrantId="ab" * 32)


def test_paging_with_limit_and_marker(kms, key, account):
    made = {kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{account}:role/r{i}",
                             Operations=["Encrypt"])["GrantId"] for i in range(5)}
    first = kms.list_grants(KeyId=key["KeyId"], Limit=2)
    assert len(first["Grants"]) == 2 and first["Truncated"] is True and first["NextMarker"]
    seen = [x["GrantId"] for x in first["Grants"]]
    marker = first["NextMarker"]
    while marker:
        page = kms.list_grants(KeyId=key["KeyId"], Limit=2, Marker=marker)
        seen += [x["GrantId"] for x in page["Grants"]]
        marker = page.get("NextMarker")
        assert page["Truncated"] is bool(marker)
    assert len(seen) == 5 and set(seen) == made
    assert {x["GrantId"] for x in _grants(kms, KeyId=key["KeyId"], PaginationConfig={"PageSize": 3})} == made
    with expect_error("InvalidMarkerException"):
        kms.list_grants(KeyId=key["KeyId"], Marker="bogus")


def test_same_name_same_parameters_is_the_same_grant(kms, key, account):
    args = dict(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{account}:user/app", Operations=["Decrypt"],
                Name="retry-safe")
    a, b = kms.create_grant(**args), kms.create_grant(**args)
    assert a["GrantId"] == b["GrantId"]
    assert a["GrantToken"] != b["GrantToken"]
    c = kms.create_grant(**{**args, "Operations": ["Decrypt", "Encrypt"]})
    assert c["GrantId"] != a["GrantId"]
    d = kms.create_grant(**{k: v for k, v in args.items() if k != "Name"})
    assert d["GrantId"] not in (a["GrantId"], c["GrantId"])
    listed = _grants(kms, KeyId=key["KeyId"])
    assert len(listed) == 3
    assert {x.get("Name") for x in listed} == {"retry-safe", None}


def test_validation_errors_change_nothing(kms, key, account, shared_key):
    grantee = f"arn:aws:iam::{account}:user/v"
    with expect_error("ValidationException", message_contains="compatible with key usage"):
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Sign"])
    with expect_error("ValidationException", message="Grants must not contain only the CreateGrant operation."):
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["CreateGrant"])
    with expect_error("ValidationException"):
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal="not a principal", Operations=["Decrypt"])
    with expect_error("InvalidArnException"):
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal="arn:aws:iam::1:user/x", Operations=["Decrypt"])
    with expect_error("ValidationException"):
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Decrypt"],
                         Constraints={"EncryptionContextEquals": {f"k{i}": "v" for i in range(9)}})
    signing = shared_key("ECC_NIST_P256", "SIGN_VERIFY")
    with expect_error("ValidationException", message_contains="compatible with key usage"):
        kms.create_grant(KeyId=signing["KeyId"], GranteePrincipal=grantee, Operations=["Encrypt"])
    with expect_error("ValidationException"):
        kms.create_grant(KeyId=signing["KeyId"], GranteePrincipal=grantee, Operations=["Sign"],
                         Constraints={"EncryptionContextSubset": {"a": "b"}})
    with expect_error("ValidationException"):  # the model's enum (botocore does not check enums)
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Bogus"])
    with expect_error("DryRunOperationException", status=400):
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Decrypt"], DryRun=True)
    with expect_error("NotFoundException"):
        kms.create_grant(KeyId=key_arn(DEFAULT_REGION, account, "00000000-0000-4000-8000-000000000000"),
                         GranteePrincipal=grantee, Operations=["Decrypt"])
    assert _grants(kms, KeyId=key["KeyId"]) == []
    ok = kms.create_grant(KeyId=signing["KeyId"], GranteePrincipal=grantee, Operations=["Sign", "Verify", "GetPublicKey"])
    kms.revoke_grant(KeyId=signing["KeyId"], GrantId=ok["GrantId"])


def test_invalid_grant_tokens_are_refused(kms, key, account):
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{account}:user/t", Operations=["Decrypt"])
    for bad in [_tamper(g["GrantToken"]), "definitely-not-a-token", base64.b64encode(b"\x01" + b"\x00" * 40).decode()]:
        with expect_error("InvalidGrantTokenException"):
            kms.retire_grant(GrantToken=bad)
    assert len(_grants(kms, KeyId=key["KeyId"])) == 1
    with expect_error("ValidationException"):
        kms.retire_grant(KeyId=key["KeyId"])


def test_who_may_retire_and_list_retirable(dev_server):
    owner, a = _account_client(dev_server)
    grantee, b = _account_client(dev_server)
    retirer, c = _account_client(dev_server)
    key = owner.create_key()["KeyMetadata"]
    plain = owner.create_grant(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{b}:root",
                               RetiringPrincipal=f"arn:aws:iam::{c}:root", Operations=["Decrypt"])
    # The grantee may not retire a grant without RetireGrant; the retiring principal may.
    with expect_error("AccessDeniedException"):
        grantee.retire_grant(GrantToken=plain["GrantToken"])
    listed = retirer.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{c}:root")["Grants"]
    assert [x["GrantId"] for x in listed] == [plain["GrantId"]] and listed[0]["KeyId"] == key["Arn"]
    with expect_error("AccessDeniedException"):  # only principals of the caller's own account
        owner.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{c}:root")
    retirer.retire_grant(KeyId=key["Arn"], GrantId=plain["GrantId"])
    assert retirer.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{c}:root")["Grants"] == []
    # A grant that includes RetireGrant lets its grantee retire it.
    own = owner.create_grant(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{b}:root",
                             Operations=["Decrypt", "RetireGrant"])
    grantee.retire_grant(GrantToken=own["GrantToken"])
    assert _grants(owner, KeyId=key["KeyId"]) == []
    # Other accounts cannot list or revoke the key's grants.
    with expect_error("AccessDeniedException"):
        grantee.list_grants(KeyId=key["Arn"])


def test_grants_disappear_with_their_key(server_factory):
    srv = server_factory(extra_args=["--deletion-sweep-interval", "0.2"])
    kms = srv.client()
    account = srv.account_id
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    retiring = f"arn:aws:iam::{account}:user/ops"
    kms.create_grant(KeyId=kid, GranteePrincipal=f"arn:aws:iam::{account}:user/app", RetiringPrincipal=retiring,
                     Operations=["Decrypt"])
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    with expect_error("KMSInvalidStateException"):
        kms.create_grant(KeyId=kid, GranteePrincipal=f"arn:aws:iam::{account}:user/app", Operations=["Decrypt"])
    assert len(kms.list_grants(KeyId=kid)["Grants"]) == 1
    assert len(kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"]) == 1
    srv.restart(extra_args=["--lifecycle-clock-offset", str(8 * 86400), "--deletion-sweep-interval", "0.2"])
    kms = srv.client()
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            kms.describe_key(KeyId=kid)
        except ClientError as e:
            if e.response["Error"]["Code"] == "NotFoundException":
                break
        time.sleep(0.2)
    assert kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"] == []
    with expect_error("NotFoundException"):
        kms.list_grants(KeyId=kid)


@pytest.mark.single_node("reads one node's audit files")
def test_audit_names_the_grant_never_the_token(server_factory):
    srv = server_factory()
    kms = srv.client()
    account = srv.account_id
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    g = kms.create_grant(KeyId=kid, GranteePrincipal=f"arn:aws:iam::{account}:user/app", Operations=["Decrypt"],
                         Name="audited")
    kms.encrypt(KeyId=kid, Plaintext=b"x", GrantTokens=[g["GrantToken"]])
    kms.retire_grant(GrantToken=g["GrantToken"])
    srv.stop()
    blob = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(srv.data_dir, "audit", "audit-*.jsonl")))
    assert g["GrantToken"].encode() not in blob
    events = [json.loads(line) for line in blob.split(b"\n") if line]
    [create] = [e for e in events if e.get("eventName") == "CreateGrant"]
    assert create["requestParameters"]["keyId"] == kid
    assert create["requestParameters"]["granteePrincipal"] == f"arn:aws:iam::{account}:user/app"
    assert create["requestParameters"]["operations"] == ["Decrypt"]
    assert create["responseElements"] == {"grantId": g["GrantId"]}
    [retire] = [e for e in events if e.get("eventName") == "RetireGrant"]
    assert retire["readOnly"] is False


def test_grantee_in_another_account_decrypts_until_the_grant_is_retired(dev_server):
    owner, a = _account_client(dev_server)
    grantee, b = _account_client(dev_server)
    key = owner.create_key()["KeyMetadata"]  # default key policy: names only account a
    blob = owner.encrypt(KeyId=key["KeyId"], Plaintext=b"for b", EncryptionContext={"app": "x"})["CiphertextBlob"]
    # Without a grant: denied.
    with expect_error("AccessDeniedException"):
        grantee.decrypt(KeyId=key["Arn"], CiphertextBlob=blob, EncryptionContext={"app": "x"})
    g = owner.create_grant(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{b}:root", Operations=["Decrypt"],
                           Constraints={"EncryptionContextEquals": {"app": "x"}})
    # At once, with the token; and with the stored grant.
    out = grantee.decrypt(KeyId=key["Arn"], CiphertextBlob=blob, EncryptionContext={"app": "x"},
                          GrantTokens=[g["GrantToken"]])
    assert out["Plaintext"] == b"for b"
    assert grantee.decrypt(KeyId=key["Arn"], CiphertextBlob=blob, EncryptionContext={"app": "x"})["Plaintext"] == b"for b"
    # Only its operation, only within its constraint.
    with expect_error("AccessDeniedException"):
        grantee.encrypt(KeyId=key["Arn"], Plaintext=b"y", EncryptionContext={"app": "x"})
    other = owner.encrypt(KeyId=key["KeyId"], Plaintext=b"z", EncryptionContext={"app": "other"})["CiphertextBlob"]
    with expect_error("AccessDeniedException"):
        grantee.decrypt(KeyId=key["Arn"], CiphertextBlob=other, EncryptionContext={"app": "other"})
    owner.retire_grant(KeyId=key["KeyId"], GrantId=g["GrantId"])
    with expect_error("AccessDeniedException"):
        grantee.decrypt(KeyId=key["Arn"], CiphertextBlob=blob, EncryptionContext={"app": "x"})
    # The retired grant's token no longer works either.
    with expect_error("AccessDeniedException"):
        grantee.decrypt(KeyId=key["Arn"], CiphertextBlob=blob, EncryptionContext={"app": "x"},
                        GrantTokens=[g["GrantToken"]])


def test_a_bad_token_in_grant_tokens_is_refused(kms, key, account):
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{account}:user/t", Operations=["Decrypt"])
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=[g["GrantToken"]])
    with expect_error("InvalidGrantTokenException"):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=[_tamper(g["GrantToken"])])


def test_two_nodes_share_grants_on_postgresql(server_factory, pg_url):
    import shutil
    a = server_factory(name="grants-a", extra_args=["--storage", pg_url])
    b = server_factory(name="grants-b", start=False,
                       extra_args=["--storage", pg_url, "--root-key-file", os.path.join(a.data_dir, "root.key")])
    os.chmod(b.data_dir, 0o700)
    shutil.copy2(a.credentials_path, b.credentials_path)
    os.chmod(b.credentials_path, 0o600)
    ka = a.client()
    account = a.account_id
    kid = ka.create_key()["KeyMetadata"]["KeyId"]
    b.start()  # B loads the key at start (read-through of keys is issue 8, section 2)
    kb = b.client()
    args = dict(KeyId=kid, GranteePrincipal=f"arn:aws:iam::{account}:user/app", Operations=["Decrypt"], Name="shared",
                RetiringPrincipal=f"arn:aws:iam::{account}:user/ops")
    g = ka.create_grant(**args)
    # B reads the store: it lists the grant at once, and the same name and parameters are the same grant.
    assert [x["GrantId"] for x in kb.list_grants(KeyId=kid)["Grants"]] == [g["GrantId"]]
    assert kb.create_grant(**args)["GrantId"] == g["GrantId"]
    assert len(kb.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{account}:user/ops")["Grants"]) == 1
    # A token issued by A verifies on B (same root key, same derived MAC key).
    kb.retire_grant(GrantToken=g["GrantToken"])
    assert ka.list_grants(KeyId=kid)["Grants"] == []
    assert psql(pg_url, "SELECT count(*) FROM grants") == "0"
    g2 = ka.create_grant(KeyId=kid, GranteePrincipal=f"arn:aws:iam::{account}:user/app", Operations=["Encrypt"])
    assert psql(pg_url, f"SELECT grantee_principal FROM grants WHERE grant_id = '{g2['GrantId']}'") == \
        f"arn:aws:iam::{account}:user/app"
    assert g2["GrantToken"] not in psql(pg_url, "SELECT grant_data FROM grants")
