"""AWS managed keys (issue 12, section 3) against the real server with boto3.

Sources:
  [API] DescribeKey: "If you call the DescribeKey operation on a predefined AWS alias,
        that is, an AWS alias with no key ID, KMS creates an AWS managed key. Then, it
        associates the alias with the new KMS key, and returns the KeyId and Arn of the
        new KMS key in the response."
  [DG]  "AWS managed keys": KeyManager AWS, yearly rotation that cannot be changed, the
        key cannot be deleted, its policy cannot change; its key policy allows use only
        through the service (kms:ViaService, kms:CallerAccount) and metadata reads by the
        account (Describe*, Get*, List*, RevokeGrant).
  [API] ListAliases: "the response might include several aliases that do not have a
        TargetKeyId field. These are predefined aliases that AWS has created but has not
        yet associated with a KMS key."
"""

import json

from kms_harness import expect_error


def _aliases(client):
    out = []
    for page in client.get_paginator("list_aliases").paginate():
        out.extend(page["Aliases"])
    return {a["AliasName"]: a for a in out}


def test_predefined_aliases_listed_without_target_until_first_use(fresh_account):
    kms, acct = fresh_account
    before = _aliases(kms)
    assert "alias/aws/s3" in before and "alias/aws/ebs" in before
    assert "TargetKeyId" not in before["alias/aws/s3"]
    assert before["alias/aws/s3"]["AliasArn"] == f"arn:aws:kms:us-east-1:{acct}:alias/aws/s3"
    assert kms.list_keys()["Keys"] == []

    meta = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert meta["KeyState"] == "Enabled"
    after = _aliases(kms)
    assert after["alias/aws/s3"]["TargetKeyId"] == meta["KeyId"]
    assert "TargetKeyId" not in after["alias/aws/ebs"]
    # The same key on the next use, by alias ARN too; one key in the account.
    assert kms.describe_key(KeyId=f"arn:aws:kms:us-east-1:{acct}:alias/aws/s3")["KeyMetadata"]["KeyId"] == meta["KeyId"]
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [meta["KeyId"]]


def test_policy_rotation_and_refused_management(fresh_account):
    kms, acct = fresh_account
    key_id = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    via = policy["Statement"][0]["Condition"]["StringEquals"]
    assert via == {"kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:CallerAccount": acct}
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365

    for call in (lambda: kms.disable_key_rotation(KeyId=key_id),
                 lambda: kms.schedule_key_deletion(KeyId=key_id),
                 lambda: kms.disable_key(KeyId=key_id),
                 lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy)),
                 lambda: kms.create_alias(AliasName="alias/mine-to-aws", TargetKeyId=key_id)):
        with expect_error("AccessDeniedException"):
            call()
    with expect_error("NotAuthorizedException"):
        kms.delete_alias(AliasName="alias/aws/ebs")
    with expect_error("NotAuthorizedException"):
        kms.update_alias(AliasName="alias/aws/ebs", TargetKeyId=key_id)
    assert kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_direct_encrypt_is_refused_as_on_aws_and_creates_nothing(fresh_account):
    kms, _ = fresh_account
    with expect_error("AccessDeniedException"):
        kms.encrypt(KeyId="alias/aws/s3", Plaintext=b"x")
    with expect_error("AccessDeniedException"):
        kms.generate_data_key(KeyId="alias/aws/s3", KeySpec="AES_256")
    assert kms.list_keys()["Keys"] == []
