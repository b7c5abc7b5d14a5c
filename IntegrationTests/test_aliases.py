"""CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

Sources:
  [API] AWS KMS API Reference: CreateAlias ("The alias name cannot begin with
        alias/aws/. The alias/aws/ prefix is reserved for AWS managed keys."),
        AliasNameType (1..256 chars, pattern ^[a-zA-Z0-9:/_-]+$), ListAliases,
        AliasListEntry (AliasName, AliasArn, TargetKeyId, CreationDate, LastUpdatedDate).
  [LS]  LocalStack snapshot recorded against AWS (test_create_alias): an alias name
        without the prefix -> ValidationException 'Alias must start with the prefix
        "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html'
  [EMU] moto and nsmithuk/local-kms both answer NotAuthorizedException for the
        reserved alias/aws/ prefix (mirroring AWS, which treats it as a permission
        denial rather than a validation error).
"""

import datetime as dt
import uuid

import pytest

from kms_harness import DEFAULT_REGION, OTHER_REGION, alias_arn, expect_error, unique_alias


def _aliases(client, **kw):
    out = []
    for page in client.get_paginator("list_aliases").paginate(**kw):
        out.extend(page["Aliases"])
    return out


def _find(client, name, **kw):
    matches = [a for a in _aliases(client, **kw) if a["AliasName"] == name]
    assert len(matches) <= 1
    return matches[0] if matches else None


def test_create_alias_and_list(kms, key, account):
    name = unique_alias("create")
    resp = kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    entry = _find(kms, name)
    assert entry is not None
    assert entry["AliasArn"] == alias_arn(DEFAULT_REGION, account, name)
    # TargetKeyId in ListAliases is the key ID, not the ARN [API AliasListEntry]
    assert entry["TargetKeyId"] == key["KeyId"]
    assert isinstance(entry["CreationDate"], dt.datetime)
    assert isinstance(entry["LastUpdatedDate"], dt.datetime)


def test_create_alias_with_key_arn_target(kms, key):
    name = unique_alias("arn-target")
    kms.create_alias(AliasName=name, TargetKeyId=key["Arn"])
    assert _find(kms, name)["TargetKeyId"] == key["KeyId"]


def test_key_can_have_several_aliases(kms, key):
    names = {unique_alias("multi") for _ in range(3)}
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=key["KeyId"])
    listed = {a["AliasName"] for a in _aliases(kms, KeyId=key["KeyId"])}
    assert listed == names


def test_list_aliases_filtered_by_key(kms, new_key):
    k1, k2 = new_key(), new_key()
    a1, a2 = unique_alias("k1"), unique_alias("k2")
    kms.create_alias(AliasName=a1, TargetKeyId=k1["KeyId"])
    kms.create_alias(AliasName=a2, TargetKeyId=k2["KeyId"])
    only1 = _aliases(kms, KeyId=k1["KeyId"])
    assert [a["AliasName"] for a in only1] == [a1]
    assert all(a["TargetKeyId"] == k1["KeyId"] for a in only1)
    assert [a["AliasName"] for a in _aliases(kms, KeyId=k2["Arn"])] == [a2]
    unfiltered = {a["AliasName"] for a in _aliases(kms)}
    assert {a1, a2} <= unfiltered


def test_list_aliases_for_key_without_aliases(kms, key):
    resp = kms.list_aliases(KeyId=key["KeyId"])
    assert resp["Aliases"] == []
    assert resp["Truncated"] is False


def test_list_aliases_unknown_key(kms):
    with expect_error("NotFoundException"):
        kms.list_aliases(KeyId=str(uuid.uuid4()))


def test_list_aliases_pagination(kms, key):
    names = sorted(unique_alias("page") for _ in range(5))
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=key["KeyId"])
    seen, marker, pages = [], None, 0
    while True:
        kw = {"KeyId": key["KeyId"], "Limit": 2}
        if marker:
            kw["Marker"] = marker
        resp = kms.list_aliases(**kw)
        pages += 1
        assert len(resp["Aliases"]) <= 2
        seen.extend(a["AliasName"] for a in resp["Aliases"])
        if not resp["Truncated"]:
            assert "NextMarker" not in resp
            break
        marker = resp["NextMarker"]
        assert pages < 10
    assert pages == 3
    assert sorted(seen) == names
    via_paginator = [a["AliasName"] for p in kms.get_paginator("list_aliases").paginate(
        KeyId=key["KeyId"], PaginationConfig={"PageSize": 1}) for a in p["Aliases"]]
    assert sorted(via_paginator) == names


def test_list_aliases_exact_in_fresh_account(fresh_account):
    client, acct = fresh_account
    k = client.create_key()["KeyMetadata"]
    names = sorted(unique_alias("fresh") for _ in range(3))
    for n in names:
        client.create_alias(AliasName=n, TargetKeyId=k["KeyId"])
    listed = [a for a in _aliases(client) if not a["AliasName"].startswith("alias/aws/")]
    assert sorted(a["AliasName"] for a in listed) == names
    assert all(a["AliasArn"] == alias_arn(DEFAULT_REGION, acct, a["AliasName"]) for a in listed)


def test_duplicate_alias(kms, new_key, account):
    k1, k2 = new_key(), new_key()
    name = unique_alias("dup")
    kms.create_alias(AliasName=name, TargetKeyId=k1["KeyId"])
    with expect_error("AlreadyExistsException",
                      message=f"An alias with the name {alias_arn(DEFAULT_REGION, account, name)} already exists"):
        kms.create_alias(AliasName=name, TargetKeyId=k2["KeyId"])
    assert _find(kms, name)["TargetKeyId"] == k1["KeyId"]


def test_create_alias_unknown_target(kms, account):
    missing = str(uuid.uuid4())
    with expect_error("NotFoundException",
                      message=f"Key 'arn:aws:kms:{DEFAULT_REGION}:{account}:key/{missing}' does not exist"):
        kms.create_alias(AliasName=unique_alias("orphan"), TargetKeyId=missing)


def test_create_alias_reserved_aws_prefix(kms, key):
    # [API] alias/aws/ is reserved; [EMU] NotAuthorizedException
    name = f"alias/aws/{uuid.uuid4().hex[:8]}"
    with expect_error("NotAuthorizedException"):
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert _find(kms, name) is None


def test_create_alias_missing_prefix(kms, key):
    with expect_error("ValidationException",
                      message='Alias must start with the prefix "alias/". Please see '
                              'https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html'):
        kms.create_alias(AliasName="no-prefix-" + uuid.uuid4().hex[:6], TargetKeyId=key["KeyId"])


@pytest.mark.parametrize("bad", ["alias/has space", "alias/semi;colon", "alias/üml", "alias/a.b", "alias/star*"])
def test_create_alias_bad_characters(kms_loose, key, bad):
    # AliasNameType pattern [API], Coral pattern-validation wording
    with expect_error("ValidationException",
                      message=f"1 validation error detected: Value '{bad}' at 'aliasName' failed to satisfy "
                              "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"):
        kms_loose.create_alias(AliasName=bad, TargetKeyId=key["KeyId"])


def test_create_alias_too_long(kms_loose, key):
    name = "alias/" + "a" * 251  # 257 characters
    with expect_error("ValidationException",
                      message=f"1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy "
                              "constraint: Member must have length less than or equal to 256"):
        kms_loose.create_alias(AliasName=name, TargetKeyId=key["KeyId"])


def test_create_alias_max_length_ok(kms, key):
    name = "alias/" + uuid.uuid4().hex[:8] + "a" * 242  # exactly 256 characters
    assert len(name) == 256
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key["KeyId"]


def test_alias_names_allow_slashes_underscores_dashes(kms, key):
    name = f"alias/team_a/svc-{uuid.uuid4().hex[:6]}/Key_1"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key["KeyId"]


def test_create_alias_for_pending_deletion_key(kms, key):
    # key-state table: CreateAlias is not allowed on a key pending deletion
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with expect_error("KMSInvalidStateException"):
        kms.create_alias(AliasName=unique_alias("pending"), TargetKeyId=key["KeyId"])


def test_create_alias_for_disabled_key_allowed(kms, key):
    kms.disable_key(KeyId=key["KeyId"])
    name = unique_alias("disabled")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert _find(kms, name)["TargetKeyId"] == key["KeyId"]


def test_update_alias(kms, new_key):
    k1, k2 = new_key(), new_key()
    name = unique_alias("update")
    kms.create_alias(AliasName=name, TargetKeyId=k1["KeyId"])
    before = _find(kms, name)
    kms.update_alias(AliasName=name, TargetKeyId=k2["KeyId"])
    after = _find(kms, name)
    assert after["TargetKeyId"] == k2["KeyId"]
    assert after["AliasArn"] == before["AliasArn"]
    assert after["CreationDate"] == before["CreationDate"]
    assert after["LastUpdatedDate"] >= before["LastUpdatedDate"]
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == k2["KeyId"]
    blob = kms.encrypt(KeyId=name, Plaintext=b"now k2")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == k2["Arn"]
    assert [a["AliasName"] for a in _aliases(kms, KeyId=k1["KeyId"])] == []


def test_update_alias_by_target_arn(kms, new_key):
    k1, k2 = new_key(), new_key()
    name = unique_alias("update-arn")
    kms.create_alias(AliasName=name, TargetKeyId=k1["KeyId"])
    kms.update_alias(AliasName=name, TargetKeyId=k2["Arn"])
    assert _find(kms, name)["TargetKeyId"] == k2["KeyId"]


def test_update_alias_unknown_alias(kms, key, account):
    name = unique_alias("ghost")
    with expect_error("NotFoundException",
                      message=f"Alias {alias_arn(DEFAULT_REGION, account, name)} is not found."):
        kms.update_alias(AliasName=name, TargetKeyId=key["KeyId"])


def test_update_alias_unknown_target(kms, key):
    name = unique_alias("upd-missing")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    with expect_error("NotFoundException"):
        kms.update_alias(AliasName=name, TargetKeyId=str(uuid.uuid4()))
    assert _find(kms, name)["TargetKeyId"] == key["KeyId"]


def test_delete_alias(kms, key, account):
    name = unique_alias("delete")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    resp = kms.delete_alias(AliasName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _find(kms, name) is None
    with expect_error("NotFoundException",
                      message=f"Alias {alias_arn(DEFAULT_REGION, account, name)} is not found."):
        kms.describe_key(KeyId=name)
    with expect_error("NotFoundException",
                      message=f"Alias {alias_arn(DEFAULT_REGION, account, name)} is not found."):
        kms.delete_alias(AliasName=name)
    # the key itself is untouched
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_alias_name_is_reusable_after_delete(kms, new_key):
    k1, k2 = new_key(), new_key()
    name = unique_alias("reuse")
    kms.create_alias(AliasName=name, TargetKeyId=k1["KeyId"])
    kms.delete_alias(AliasName=name)
    kms.create_alias(AliasName=name, TargetKeyId=k2["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == k2["KeyId"]


def test_delete_alias_missing_prefix(kms):
    with expect_error("ValidationException"):
        kms.delete_alias(AliasName="no-prefix")


def test_aliases_are_regional(kms, kms_other_region, key):
    name = unique_alias("region")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    assert _find(kms_other_region, name) is None
    # the same name can exist independently in another region
    other = kms_other_region.create_key()["KeyMetadata"]
    kms_other_region.create_alias(AliasName=name, TargetKeyId=other["KeyId"])
    assert kms_other_region.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other["KeyId"]
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key["KeyId"]
    # a key of another region cannot be an alias target
    with expect_error("NotFoundException"):
        kms_other_region.create_alias(AliasName=unique_alias("xregion"), TargetKeyId=key["KeyId"])


def test_alias_arn_of_other_region_not_resolved(kms_other_region, kms, key, account):
    name = unique_alias("arnregion")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    with expect_error("NotFoundException"):
        kms_other_region.describe_key(KeyId=alias_arn(DEFAULT_REGION, account, name))
    with expect_error("NotFoundException"):
        kms_other_region.encrypt(KeyId=alias_arn(OTHER_REGION, account, name), Plaintext=b"x")


def test_alias_arn_of_other_account_is_not_found(dev_server):
    # Issue 7, section 6: aliases resolve only in the caller's own account. Another
    # account's alias ARN answers exactly as a missing alias: NotFoundException naming only
    # the ARN the caller gave, nothing about the key behind it.
    from kms_harness import client_for, random_account
    owner_id, other_id = random_account(), random_account()
    owner = client_for(dev_server.url, DEFAULT_REGION, owner_id, "x")
    other = client_for(dev_server.url, DEFAULT_REGION, other_id, "y")
    key = owner.create_key(Description="owner's key")["KeyMetadata"]
    name = unique_alias("xacct")
    owner.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    arn = alias_arn(DEFAULT_REGION, owner_id, name)
    assert owner.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"] == key["KeyId"]

    missing = alias_arn(DEFAULT_REGION, owner_id, unique_alias("never-made"))
    for alias in (arn, missing):
        for call in (lambda a: other.describe_key(KeyId=a),
                     lambda a: other.encrypt(KeyId=a, Plaintext=b"x"),
                     lambda a: other.generate_data_key(KeyId=a, KeySpec="AES_256")):
            with expect_error("NotFoundException", message=f"Alias {alias} is not found.") as info:
                call(alias)
            text = str(info)
            assert key["KeyId"] not in text and key["Arn"] not in text
    # The other account's own alias of the same name resolves to its own key.
    mine = other.create_key()["KeyMetadata"]
    other.create_alias(AliasName=name, TargetKeyId=mine["KeyId"])
    assert other.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == mine["KeyId"]
    assert other.describe_key(KeyId=alias_arn(DEFAULT_REGION, other_id, name))["KeyMetadata"]["KeyId"] == mine["KeyId"]
    with expect_error("NotFoundException", message=f"Alias {arn} is not found."):
        other.describe_key(KeyId=arn)
