"""CreateKey, DescribeKey, ListKeys, EnableKey/DisableKey, UpdateKeyDescription,
key identifiers and region/account isolation.

Sources for expected shapes and messages:
  [API]  AWS KMS API Reference (CreateKey, DescribeKey, ListKeys, KeyMetadata).
  [LS]   LocalStack's KMS snapshot tests, recorded against real AWS
         (tests/aws/services/kms/test_kms.snapshot.json): exact DescribeKey
         field set of a SYMMETRIC_DEFAULT key and NotFoundException messages.
"""

import datetime as dt
import re
import uuid

import pytest

from kms_harness import (
    DEFAULT_REGION,
    OTHER_REGION,
    UUID_RE,
    alias_arn,
    expect_error,
    key_arn,
    now_utc,
    unique_alias,
)

# Fields [LS] recorded for a symmetric customer managed key (test_create_key).
SYMMETRIC_FIELDS = {
    "AWSAccountId", "Arn", "CreationDate", "CustomerMasterKeySpec", "Description", "Enabled",
    "EncryptionAlgorithms", "KeyId", "KeyManager", "KeySpec", "KeyState", "KeyUsage",
    "MultiRegion", "Origin",
}
# Fields AWS may add for a symmetric AWS_KMS key (newer API: on-demand rotation).
OPTIONAL_FIELDS = {"CurrentKeyMaterialId"}


def assert_symmetric_metadata(md, account, region=DEFAULT_REGION, description=""):
    missing = SYMMETRIC_FIELDS - set(md)
    extra = set(md) - SYMMETRIC_FIELDS - OPTIONAL_FIELDS
    assert not missing, f"KeyMetadata lacks {sorted(missing)}"
    assert not extra, f"KeyMetadata has fields AWS does not return for an enabled symmetric key: {sorted(extra)}"
    assert re.match(UUID_RE, md["KeyId"]), md["KeyId"]
    assert md["AWSAccountId"] == account
    assert md["Arn"] == key_arn(region, account, md["KeyId"])
    assert isinstance(md["CreationDate"], dt.datetime)
    assert abs((md["CreationDate"] - now_utc()).total_seconds()) < 300
    assert md["Enabled"] is True
    assert md["Description"] == description
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["KeyState"] == "Enabled"
    assert md["Origin"] == "AWS_KMS"
    assert md["KeyManager"] == "CUSTOMER"
    assert md["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["MultiRegion"] is False


# ---------------------------------------------------------------------------
# CreateKey
# ---------------------------------------------------------------------------

def test_create_key_defaults(kms, account):
    resp = kms.create_key()
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    # [LS] test_create_key: Description is "" when none was given
    assert_symmetric_metadata(resp["KeyMetadata"], account, description="")


def test_create_key_explicit_symmetric_parameters(kms, account):
    md = kms.create_key(KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT",
                        Origin="AWS_KMS", Description="explicit")["KeyMetadata"]
    assert_symmetric_metadata(md, account, description="explicit")


def test_create_key_with_deprecated_customer_master_key_spec(kms, account):
    md = kms.create_key(CustomerMasterKeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]
    assert_symmetric_metadata(md, account)


def test_create_key_ids_are_unique(kms):
    ids = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)}
    assert len(ids) == 5


def test_create_key_with_tags(kms):
    md = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "crypto"},
                              {"TagKey": "env", "TagValue": ""}])["KeyMetadata"]
    tags = kms.list_resource_tags(KeyId=md["KeyId"])["Tags"]
    assert sorted(tags, key=lambda t: t["TagKey"]) == [
        {"TagKey": "env", "TagValue": ""},
        {"TagKey": "team", "TagValue": "crypto"},
    ]


def test_create_key_invalid_key_usage_enum(kms_loose):
    # Coral enum validation, [LS] test_hmac_create_key_invalid_operations
    with expect_error("ValidationException",
                      message_prefix="1 validation error detected: Value 'RANDOM' at 'keyUsage' "
                                     "failed to satisfy constraint: Member must satisfy enum value set"):
        kms_loose.create_key(KeyUsage="RANDOM")


def test_create_key_invalid_key_spec_enum(kms_loose):
    with expect_error("ValidationException",
                      message_prefix="1 validation error detected: Value 'SYMMETRIC_XXL' at 'keySpec' "
                                     "failed to satisfy constraint: Member must satisfy enum value set"):
        kms_loose.create_key(KeySpec="SYMMETRIC_XXL")


def test_create_key_description_too_long(kms_loose):
    # DescriptionType: max length 8192 [API]
    with expect_error("ValidationException", message_prefix="1 validation error detected: "):
        kms_loose.create_key(Description="d" * 8193)


# ---------------------------------------------------------------------------
# DescribeKey
# ---------------------------------------------------------------------------

def test_describe_key_returns_same_metadata_as_create(kms, account):
    created = kms.create_key(Description="describe me")["KeyMetadata"]
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described == created
    assert_symmetric_metadata(described, account, description="describe me")


@pytest.mark.parametrize("form", ["key_id", "key_arn", "alias_name", "alias_arn"])
def test_describe_key_by_every_identifier_form(kms, key, account, form):
    alias = unique_alias("describe")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    ident = {
        "key_id": key["KeyId"],
        "key_arn": key["Arn"],
        "alias_name": alias,
        "alias_arn": alias_arn(DEFAULT_REGION, account, alias),
    }[form]
    md = kms.describe_key(KeyId=ident)["KeyMetadata"]
    assert md["KeyId"] == key["KeyId"]
    assert md["Arn"] == key["Arn"]


def test_describe_key_not_found(kms, account):
    missing = str(uuid.uuid4())
    # [LS] describe-nonexistent-key-with-id: "Key '<key-arn>' does not exist"
    with expect_error("NotFoundException",
                      message=f"Key '{key_arn(DEFAULT_REGION, account, missing)}' does not exist"):
        kms.describe_key(KeyId=missing)


def test_describe_key_not_found_by_arn(kms, account):
    arn = key_arn(DEFAULT_REGION, account, str(uuid.uuid4()))
    with expect_error("NotFoundException", message=f"Key '{arn}' does not exist"):
        kms.describe_key(KeyId=arn)


def test_describe_key_malformed_key_id(kms):
    # [LS] test_get_key_invalid_uuid: "Invalid keyId 'fake-key-id'"
    with expect_error("NotFoundException", message="Invalid keyId 'fake-key-id'"):
        kms.describe_key(KeyId="fake-key-id")


def test_describe_key_unknown_alias_name(kms, account):
    alias = unique_alias("missing")
    # AWS names the alias by its ARN: "Alias arn:aws:kms:<region>:<acct>:alias/x is not found."
    with expect_error("NotFoundException",
                      message=f"Alias {alias_arn(DEFAULT_REGION, account, alias)} is not found."):
        kms.describe_key(KeyId=alias)


def test_describe_key_unknown_alias_arn(kms, account):
    arn = alias_arn(DEFAULT_REGION, account, unique_alias("missing"))
    with expect_error("NotFoundException", message=f"Alias {arn} is not found."):
        kms.describe_key(KeyId=arn)


def test_describe_key_alias_of_other_region_not_resolved(kms, kms_other_region, key, account):
    alias = unique_alias("regional")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    with expect_error("NotFoundException"):
        kms_other_region.describe_key(KeyId=alias)


# ---------------------------------------------------------------------------
# ListKeys
# ---------------------------------------------------------------------------

def _all_keys(client, **kw):
    out = []
    for page in client.get_paginator("list_keys").paginate(**kw):
        out.extend(page["Keys"])
    return out


def test_list_keys_contains_created_keys(kms):
    ids = [kms.create_key()["KeyMetadata"] for _ in range(2)]
    listed = _all_keys(kms)
    entries = {k["KeyId"]: k for k in listed}
    for md in ids:
        assert entries[md["KeyId"]] == {"KeyId": md["KeyId"], "KeyArn": md["Arn"]}
    # every entry has exactly these two members [API ListKeys KeyListEntry]
    assert all(set(k) == {"KeyId", "KeyArn"} for k in listed)


def test_list_keys_single_page_not_truncated(fresh_account):
    client, _ = fresh_account
    created = {client.create_key()["KeyMetadata"]["KeyId"] for _ in range(2)}
    resp = client.list_keys()
    assert {k["KeyId"] for k in resp["Keys"]} == created
    assert resp["Truncated"] is False
    assert "NextMarker" not in resp


def test_list_keys_empty_account(fresh_account):
    client, _ = fresh_account
    resp = client.list_keys()
    assert resp["Keys"] == []
    assert resp["Truncated"] is False


def test_list_keys_manual_pagination(fresh_account):
    client, _ = fresh_account
    created = {client.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)}
    seen = []
    marker = None
    pages = 0
    while True:
        kw = {"Limit": 2}
        if marker:
            kw["Marker"] = marker
        resp = client.list_keys(**kw)
        pages += 1
        assert len(resp["Keys"]) <= 2
        seen.extend(k["KeyId"] for k in resp["Keys"])
        if resp["Truncated"]:
            assert resp["NextMarker"]
            marker = resp["NextMarker"]
        else:
            assert "NextMarker" not in resp
            break
        assert pages < 10
    assert pages == 3
    assert sorted(seen) == sorted(created)


def test_list_keys_paginator(fresh_account):
    client, _ = fresh_account
    created = {client.create_key()["KeyMetadata"]["KeyId"] for _ in range(4)}
    pages = list(client.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1}))
    assert len(pages) == 4
    assert [len(p["Keys"]) for p in pages] == [1, 1, 1, 1]
    got = [k["KeyId"] for p in pages for k in p["Keys"]]
    assert sorted(got) == sorted(created)
    # paginator with MaxItems builds a resumable token
    first = client.get_paginator("list_keys").paginate(
        PaginationConfig={"PageSize": 1, "MaxItems": 2}).build_full_result()
    assert len(first["Keys"]) == 2 and "NextToken" in first
    rest = client.get_paginator("list_keys").paginate(
        PaginationConfig={"PageSize": 1, "StartingToken": first["NextToken"]}).build_full_result()
    assert sorted([k["KeyId"] for k in first["Keys"] + rest["Keys"]]) == sorted(created)


def test_list_keys_limit_out_of_range(kms_loose):
    # LimitType: 1..1000 [API]; Coral range-validation wording
    with expect_error("ValidationException",
                      message="1 validation error detected: Value '0' at 'limit' failed to satisfy "
                              "constraint: Member must have value greater than or equal to 1"):
        kms_loose.list_keys(Limit=0)
    with expect_error("ValidationException",
                      message="1 validation error detected: Value '1001' at 'limit' failed to satisfy "
                              "constraint: Member must have value less than or equal to 1000"):
        kms_loose.list_keys(Limit=1001)


def test_list_keys_invalid_marker(kms):
    # ListKeys documents InvalidMarkerException for a marker it did not issue [API]
    with expect_error("InvalidMarkerException"):
        kms.list_keys(Marker="this-is-not-a-marker-the-server-issued")


# ---------------------------------------------------------------------------
# EnableKey / DisableKey / UpdateKeyDescription
# ---------------------------------------------------------------------------

def test_disable_and_enable_key(kms, key):
    kid = key["KeyId"]
    resp = kms.disable_key(KeyId=kid)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Disabled" and md["Enabled"] is False
    kms.enable_key(KeyId=kid)
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["Enabled"] is True


def test_disable_and_enable_are_idempotent(kms, key):
    kid = key["KeyId"]
    kms.enable_key(KeyId=kid)
    kms.disable_key(KeyId=kid)
    kms.disable_key(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"


def test_enable_disable_by_key_arn(kms, key):
    kms.disable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_enable_disable_unknown_key(kms, account):
    missing = str(uuid.uuid4())
    with expect_error("NotFoundException",
                      message=f"Key '{key_arn(DEFAULT_REGION, account, missing)}' does not exist"):
        kms.disable_key(KeyId=missing)
    with expect_error("NotFoundException"):
        kms.enable_key(KeyId=missing)


def test_update_key_description(kms, key):
    kms.update_key_description(KeyId=key["KeyId"], Description="new words")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "new words"
    kms.update_key_description(KeyId=key["Arn"], Description="")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == ""


def test_update_key_description_disabled_key_allowed(kms, key):
    # Key-state table: UpdateKeyDescription works on Disabled keys
    kms.disable_key(KeyId=key["KeyId"])
    kms.update_key_description(KeyId=key["KeyId"], Description="still editable")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "still editable"


def test_update_key_description_unknown_key(kms):
    with expect_error("NotFoundException"):
        kms.update_key_description(KeyId=str(uuid.uuid4()), Description="x")


# ---------------------------------------------------------------------------
# Identifier forms on operations AWS documents as "key ID or key ARN" only
# (e.g. API_DisableKey: "Specify the key ID or key ARN of the KMS key"). The
# issue asks every KeyId to accept what AWS accepts there, so aliases are refused.
# ---------------------------------------------------------------------------

KEY_ID_ONLY_OPS = {
    "disable_key": lambda c, k: c.disable_key(KeyId=k),
    "enable_key": lambda c, k: c.enable_key(KeyId=k),
    "update_key_description": lambda c, k: c.update_key_description(KeyId=k, Description="via alias"),
    "list_resource_tags": lambda c, k: c.list_resource_tags(KeyId=k),
    "tag_resource": lambda c, k: c.tag_resource(KeyId=k, Tags=[{"TagKey": "a", "TagValue": "b"}]),
    "untag_resource": lambda c, k: c.untag_resource(KeyId=k, TagKeys=["a"]),
    "get_key_policy": lambda c, k: c.get_key_policy(KeyId=k, PolicyName="default"),
    "list_key_policies": lambda c, k: c.list_key_policies(KeyId=k),
    "list_aliases": lambda c, k: c.list_aliases(KeyId=k),
}


@pytest.mark.parametrize("op", sorted(KEY_ID_ONLY_OPS))
@pytest.mark.parametrize("form", ["key_id", "key_arn"])
def test_key_id_only_operations_accept_id_and_arn(kms, key, op, form):
    ident = key["KeyId"] if form == "key_id" else key["Arn"]
    resp = KEY_ID_ONLY_OPS[op](kms, ident)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("op", sorted(KEY_ID_ONLY_OPS))
@pytest.mark.parametrize("form", ["alias_name", "alias_arn"])
def test_key_id_only_operations_refuse_alias_forms(kms, key, account, op, form):
    """AWS documents only key ID / key ARN for these operations and refuses an alias
    there: an alias ARN with InvalidArnException "Key Aliases are not supported for this
    operation." (terraform-provider-aws#20813), an alias name as an invalid key ID."""
    alias = unique_alias("anyform")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    if form == "alias_name":
        with expect_error("NotFoundException", message=f"Invalid keyId '{alias}'"):
            KEY_ID_ONLY_OPS[op](kms, alias)
    else:
        with expect_error("InvalidArnException", message="Key Aliases are not supported for this operation."):
            KEY_ID_ONLY_OPS[op](kms, alias_arn(DEFAULT_REGION, account, alias))


# ---------------------------------------------------------------------------
# Region and account isolation
# ---------------------------------------------------------------------------

def test_key_is_regional(kms, kms_other_region, key, account):
    kid = key["KeyId"]
    # [LS] test_get_key_in_different_region: the key ARN in the message uses the caller's region
    with expect_error("NotFoundException",
                      message=f"Key '{key_arn(OTHER_REGION, account, kid)}' does not exist"):
        kms_other_region.describe_key(KeyId=kid)
    assert kid not in [k["KeyId"] for k in _all_keys(kms_other_region)]
    assert kid in [k["KeyId"] for k in _all_keys(kms)]


def test_key_arn_of_other_region_is_rejected(kms_other_region, key):
    # [LS] describe-key-diff-region-with-arn: NotFoundException "Invalid arn <arn region>"
    with expect_error("NotFoundException", message=f"Invalid arn {DEFAULT_REGION}"):
        kms_other_region.describe_key(KeyId=key["Arn"])


def test_keys_created_in_other_region_carry_that_region(kms_other_region, account):
    md = kms_other_region.create_key()["KeyMetadata"]
    assert md["Arn"] == key_arn(OTHER_REGION, account, md["KeyId"])
    assert_symmetric_metadata(md, account, region=OTHER_REGION)


def test_crypto_is_regional(kms, kms_other_region, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"regional secret")["CiphertextBlob"]
    with expect_error("NotFoundException"):
        kms_other_region.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    # the ciphertext cannot be opened from the other region
    with expect_error(("NotFoundException", "InvalidCiphertextException")):
        kms_other_region.decrypt(CiphertextBlob=blob)
