"""TagResource, UntagResource, ListResourceTags, GetKeyPolicy, PutKeyPolicy,
ListKeyPolicies.

Sources:
  [API] AWS KMS API Reference (TagResource: "If you specify an existing tag key with
        a different tag value, KMS replaces the current tag value"; TagKeyType 1..128,
        TagValueType 0..256; tag keys beginning with "aws:" are reserved -> TagException;
        GetKeyPolicy/PutKeyPolicy: the only valid policy name is "default";
        ListKeyPolicies: "The only valid value is default").
  [DEF] Default key policy, https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
"""

import json
import uuid

import pytest

from kms_harness import default_policy, expect_error


def _tags(client, key_id, **kw):
    out = []
    for page in client.get_paginator("list_resource_tags").paginate(KeyId=key_id, **kw):
        out.extend(page["Tags"])
    return {t["TagKey"]: t["TagValue"] for t in out}


# ---------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------

def test_new_key_has_no_tags(kms, key):
    resp = kms.list_resource_tags(KeyId=key["KeyId"])
    assert resp["Tags"] == []
    assert resp["Truncated"] is False


def test_tag_list_untag(kms, key):
    kid = key["KeyId"]
    resp = kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "a", "TagValue": "1"},
                                             {"TagKey": "b", "TagValue": "2"}])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _tags(kms, kid) == {"a": "1", "b": "2"}
    kms.untag_resource(KeyId=kid, TagKeys=["a"])
    assert _tags(kms, kid) == {"b": "2"}


def test_tag_overwrites_existing_value(kms, key):
    kid = key["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "env", "TagValue": "dev"}])
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "env", "TagValue": "prod"}])
    assert _tags(kms, kid) == {"env": "prod"}


def test_tags_are_case_sensitive(kms, key):
    kid = key["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "Env", "TagValue": "A"}, {"TagKey": "env", "TagValue": "b"}])
    assert _tags(kms, kid) == {"Env": "A", "env": "b"}


def test_untag_missing_key_is_noop(kms, key):
    kid = key["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "keep", "TagValue": "x"}])
    kms.untag_resource(KeyId=kid, TagKeys=["never-set"])
    assert _tags(kms, kid) == {"keep": "x"}


def test_tag_value_may_be_empty_and_unicode(kms, key):
    kid = key["KeyId"]
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "empty", "TagValue": ""},
                                      {"TagKey": "ünï", "TagValue": "välüé ✓"}])
    assert _tags(kms, kid) == {"empty": "", "ünï": "välüé ✓"}


def test_tag_disabled_key_allowed(kms, key):
    kms.disable_key(KeyId=key["KeyId"])
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "k", "TagValue": "v"}])
    assert _tags(kms, key["KeyId"]) == {"k": "v"}


def test_tag_pending_deletion_key_refused(kms, key):
    # key-state table: TagResource/UntagResource -> KMSInvalidStateException when PendingDeletion
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "k", "TagValue": "v"}])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with expect_error("KMSInvalidStateException"):
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "k2", "TagValue": "v"}])
    with expect_error("KMSInvalidStateException"):
        kms.untag_resource(KeyId=key["KeyId"], TagKeys=["k"])
    # listing still works
    assert _tags(kms, key["KeyId"]) == {"k": "v"}


def test_tag_unknown_key(kms):
    with expect_error("NotFoundException"):
        kms.tag_resource(KeyId=str(uuid.uuid4()), Tags=[{"TagKey": "a", "TagValue": "b"}])
    with expect_error("NotFoundException"):
        kms.list_resource_tags(KeyId=str(uuid.uuid4()))
    with expect_error("NotFoundException"):
        kms.untag_resource(KeyId=str(uuid.uuid4()), TagKeys=["a"])


def test_tag_key_reserved_aws_prefix(kms, key):
    with expect_error("TagException"):
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    assert _tags(kms, key["KeyId"]) == {}


def test_tag_key_too_long(kms_loose, key):
    with expect_error("ValidationException", message_prefix="1 validation error detected: "):
        kms_loose.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "k" * 129, "TagValue": "x"}])


def test_tag_value_too_long(kms_loose, key):
    with expect_error("ValidationException", message_prefix="1 validation error detected: "):
        kms_loose.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "k", "TagValue": "v" * 257}])


def test_tag_limits_ok_at_maximum(kms, key):
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "k" * 128, "TagValue": "v" * 256}])
    assert _tags(kms, key["KeyId"]) == {"k" * 128: "v" * 256}


def test_list_resource_tags_pagination(kms, key):
    kid = key["KeyId"]
    expected = {f"tag{i:02d}": f"value{i}" for i in range(7)}
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": k, "TagValue": v} for k, v in expected.items()])
    seen, marker, pages = [], None, 0
    while True:
        kw = {"KeyId": kid, "Limit": 3}
        if marker:
            kw["Marker"] = marker
        resp = kms.list_resource_tags(**kw)
        pages += 1
        assert len(resp["Tags"]) <= 3
        seen.extend(resp["Tags"])
        if not resp["Truncated"]:
            assert "NextMarker" not in resp
            break
        marker = resp["NextMarker"]
        assert pages < 10
    assert pages == 3
    assert {t["TagKey"]: t["TagValue"] for t in seen} == expected
    assert len(seen) == 7
    assert _tags(kms, kid, PaginationConfig={"PageSize": 2}) == expected


def test_list_resource_tags_invalid_marker(kms, key):
    with expect_error("InvalidMarkerException"):
        kms.list_resource_tags(KeyId=key["KeyId"], Marker="not-a-marker-from-the-server")


# ---------------------------------------------------------------------------
# Key policies
# ---------------------------------------------------------------------------

def test_default_key_policy(kms, key, account):
    resp = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    assert json.loads(resp["Policy"]) == default_policy(account)


def test_get_key_policy_without_policy_name(kms, key, account):
    # PolicyName is optional and defaults to "default" [API GetKeyPolicy]
    resp = kms.get_key_policy(KeyId=key["KeyId"])
    assert json.loads(resp["Policy"]) == default_policy(account)
    assert resp.get("PolicyName", "default") == "default"


def test_get_key_policy_by_arn(kms, key, account):
    assert json.loads(kms.get_key_policy(KeyId=key["Arn"], PolicyName="default")["Policy"]) == default_policy(account)


def test_get_key_policy_unknown_policy_name(kms, key):
    with expect_error("NotFoundException"):
        kms.get_key_policy(KeyId=key["KeyId"], PolicyName="custom")


def test_get_key_policy_unknown_key(kms):
    with expect_error("NotFoundException"):
        kms.get_key_policy(KeyId=str(uuid.uuid4()), PolicyName="default")


def _custom_policy(account, sid="Custom admin statement"):
    pol = default_policy(account)
    pol["Id"] = "custom-policy-1"
    pol["Statement"][0]["Sid"] = sid
    pol["Statement"].append({
        "Sid": "Allow use by a role",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:app": "demo"}},
    })
    return pol


def test_create_key_with_policy(kms, account):
    pol = _custom_policy(account)
    kid = kms.create_key(Policy=json.dumps(pol))["KeyMetadata"]["KeyId"]
    assert json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]) == pol


def test_put_key_policy(kms, key, account):
    pol = _custom_policy(account, sid="Replaced")
    resp = kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(pol, indent=2))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]) == pol
    # the key keeps working
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"after policy change")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"after policy change"


def test_put_key_policy_without_policy_name(kms, key, account):
    pol = _custom_policy(account, sid="NoName")
    kms.put_key_policy(KeyId=key["Arn"], Policy=json.dumps(pol))
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"])["Policy"]) == pol


@pytest.mark.parametrize("bad", [
    "this is not json",
    "{\"Version\": \"2012-10-17\", \"Statement\": [",
    "[]",
    "{\"Version\": \"2012-10-17\"}",
    "{\"Version\": \"2012-10-17\", \"Statement\": \"nope\"}",
])
def test_put_key_policy_malformed(kms, key, account, bad):
    with expect_error("MalformedPolicyDocumentException"):
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=bad)
    # unchanged
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]) == default_policy(account)


@pytest.mark.parametrize("bad", ["not json at all", "{\"Statement\": 42}"])
def test_create_key_malformed_policy(kms, bad):
    with expect_error("MalformedPolicyDocumentException"):
        kms.create_key(Policy=bad)


def test_put_key_policy_unknown_key(kms, account):
    with expect_error("NotFoundException"):
        kms.put_key_policy(KeyId=str(uuid.uuid4()), PolicyName="default",
                           Policy=json.dumps(default_policy(account)))


def test_list_key_policies(kms, key):
    resp = kms.list_key_policies(KeyId=key["KeyId"])
    assert resp["PolicyNames"] == ["default"]
    assert resp["Truncated"] is False
    assert "NextMarker" not in resp


def test_list_key_policies_limit_and_paginator(kms, key):
    resp = kms.list_key_policies(KeyId=key["KeyId"], Limit=1)
    assert resp["PolicyNames"] == ["default"]
    assert resp["Truncated"] is False
    pages = list(kms.get_paginator("list_key_policies").paginate(KeyId=key["Arn"],
                                                                PaginationConfig={"PageSize": 1}))
    assert [n for p in pages for n in p["PolicyNames"]] == ["default"]


def test_list_key_policies_unknown_key(kms):
    with expect_error("NotFoundException"):
        kms.list_key_policies(KeyId=str(uuid.uuid4()))


def test_dev_account_default_policy_names_that_account(fresh_account):
    client, acct = fresh_account
    kid = client.create_key()["KeyMetadata"]["KeyId"]
    assert json.loads(client.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]) == default_policy(acct)
