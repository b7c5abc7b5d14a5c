"""Authorization as AWS KMS decides it: key policies evaluated on every request, cross-account
use, the lockout safety check, UpdateAlias on both keys (issue 10, sections 1, 3-5).

Runs on the dev server, where a 12-digit access key ID authenticates as that account's root,
so two fresh accounts A and B play the two sides of cross-account use.

Sources:
  [KP]   Key policies, https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html
         (explicit deny wins; the default key policy; the lockout safety check:
         "The new key policy will not allow you to update the key policy in the future.")
  [XA]   Allowing users in other accounts to use a KMS key,
         https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html
  [EC]   kms:EncryptionContext:context-key,
         https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html
  [AL]   Controlling access to aliases (UpdateAlias needs the alias, the current key and the
         new key), https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html
  [IAM]  AccessDeniedException messages, IAM User Guide "Troubleshoot access denied error
         messages" ("with an explicit deny in a resource-based policy", "because no
         resource-based policy allows the <action> action").
"""

import json

import pytest

from kms_harness import DEFAULT_REGION, expect_error, random_account
from test_tls import tls_server  # noqa: F401 (fixture)


def _policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _root_all(account):
    return {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}


@pytest.fixture
def accounts(dev_server):
    a, b = random_account(), random_account()
    ca = dev_server.client(region=DEFAULT_REGION, access_key=a, secret_key="anything")
    cb = dev_server.client(region=DEFAULT_REGION, access_key=b, secret_key="anything")
    return (ca, a), (cb, b)


def test_deny_decrypt_for_everyone_blocks_decrypt_not_encrypt(accounts):
    (kms, a), _ = accounts
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=_policy(
        _root_all(a),
        {"Sid": "NoDecrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}))
    blob = kms.encrypt(KeyId=arn, Plaintext=b"secret")["CiphertextBlob"]
    want = (f"User: arn:aws:iam::{a}:root is not authorized to perform: kms:Decrypt on resource: {arn} "
            "with an explicit deny in a resource-based policy")
    with expect_error("AccessDeniedException", message=want):
        kms.decrypt(CiphertextBlob=blob)
    with expect_error("AccessDeniedException", message=want):
        kms.decrypt(CiphertextBlob=blob, KeyId=arn)
    # Encrypt and the rest still work under the same policy.
    kms.encrypt(KeyId=arn, Plaintext=b"more")
    kms.describe_key(KeyId=arn)


def test_deny_on_one_encryption_context_value_blocks_exactly_it(accounts):
    (kms, a), _ = accounts
    arn = kms.create_key(Policy=_policy(
        _root_all(a),
        {"Effect": "Deny", "Principal": "*", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": "secret"}}}))["KeyMetadata"]["Arn"]
    with expect_error("AccessDeniedException", message_contains="with an explicit deny in a resource-based policy"):
        kms.encrypt(KeyId=arn, Plaintext=b"x", EncryptionContext={"purpose": "secret"})
    blob = kms.encrypt(KeyId=arn, Plaintext=b"x", EncryptionContext={"purpose": "public"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "public"})["Plaintext"] == b"x"
    kms.encrypt(KeyId=arn, Plaintext=b"x", EncryptionContext={"purpose": "secret-ish"})
    kms.encrypt(KeyId=arn, Plaintext=b"x")


def test_key_in_a_usable_from_b_only_when_as_key_policy_names_b(accounts):
    (ka, a), (kb, b) = accounts
    arn = ka.create_key()["KeyMetadata"]["Arn"]
    with expect_error("AccessDeniedException",
                      message=f"User: arn:aws:iam::{b}:root is not authorized to perform: kms:Encrypt on resource: "
                              f"{arn} because no resource-based policy allows the kms:Encrypt action"):
        kb.encrypt(KeyId=arn, Plaintext=b"x")
    ka.put_key_policy(KeyId=arn, PolicyName="default", Policy=_policy(
        _root_all(a),
        {"Sid": "AllowB", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{b}:root"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}))
    blob = kb.encrypt(KeyId=arn, Plaintext=b"from b")["CiphertextBlob"]
    assert kb.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from b"
    assert kb.describe_key(KeyId=arn)["KeyMetadata"]["Arn"] == arn
    # Only what the policy names, and never the management operations.
    with expect_error("AccessDeniedException"):
        kb.generate_data_key(KeyId=arn, NumberOfBytes=32)
    with expect_error("AccessDeniedException"):
        kb.disable_key(KeyId=arn)
    # A's alias ARNs name nothing for B.
    ka.create_alias(AliasName="alias/shared", TargetKeyId=arn)
    with expect_error("NotFoundException"):
        kb.encrypt(KeyId=f"arn:aws:kms:{DEFAULT_REGION}:{a}:alias/shared", Plaintext=b"x")
    # Taking B out of the policy takes effect at once.
    ka.put_key_policy(KeyId=arn, PolicyName="default", Policy=_policy(_root_all(a)))
    with expect_error("AccessDeniedException"):
        kb.decrypt(CiphertextBlob=blob)


def test_lockout_safety_check_refuses_a_policy_that_locks_the_caller_out(accounts):
    (kms, a), _ = accounts
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    encrypt_only = _policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a}:root"},
                            "Action": "kms:Encrypt", "Resource": "*"})
    msg = "The new key policy will not allow you to update the key policy in the future."
    with expect_error("MalformedPolicyDocumentException", message=msg):
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=encrypt_only)
    with expect_error("MalformedPolicyDocumentException", message=msg):
        kms.create_key(Policy=encrypt_only)
    # A Deny of PutKeyPolicy for everyone locks out too, though an Allow names the caller.
    deny_put = _policy(_root_all(a), {"Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"})
    with expect_error("MalformedPolicyDocumentException", message=msg):
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=deny_put)
    # With the bypass the policy is stored, and then the caller really is locked out.
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=encrypt_only, BypassPolicyLockoutSafetyCheck=True)
    with expect_error("AccessDeniedException", message_contains="kms:PutKeyPolicy"):
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=_policy(_root_all(a)))
    with expect_error("AccessDeniedException", message_contains="kms:GetKeyPolicy"):
        kms.get_key_policy(KeyId=arn, PolicyName="default")
    kms.encrypt(KeyId=arn, Plaintext=b"still")


def test_update_alias_needs_both_keys(accounts):
    (kms, a), _ = accounts
    k1 = kms.create_key()["KeyMetadata"]["Arn"]
    k2 = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=k1)
    deny_update = {"Effect": "Deny", "Principal": "*", "Action": "kms:UpdateAlias", "Resource": "*"}
    # The current key's policy refuses: the alias may not be moved away from it.
    kms.put_key_policy(KeyId=k1, PolicyName="default", Policy=_policy(_root_all(a), deny_update))
    with expect_error("AccessDeniedException", message_contains=f"kms:UpdateAlias on resource: {k1}"):
        kms.update_alias(AliasName="alias/app", TargetKeyId=k2)
    kms.put_key_policy(KeyId=k1, PolicyName="default", Policy=_policy(_root_all(a)))
    # The new key's policy refuses: the alias may not be moved onto it.
    kms.put_key_policy(KeyId=k2, PolicyName="default", Policy=_policy(_root_all(a), deny_update))
    with expect_error("AccessDeniedException", message_contains=f"kms:UpdateAlias on resource: {k2}"):
        kms.update_alias(AliasName="alias/app", TargetKeyId=k2)
    aliases = kms.list_aliases(KeyId=k1)["Aliases"]
    assert [x["AliasName"] for x in aliases] == ["alias/app"]
    kms.put_key_policy(KeyId=k2, PolicyName="default", Policy=_policy(_root_all(a)))
    kms.update_alias(AliasName="alias/app", TargetKeyId=k2)
    assert kms.describe_key(KeyId="alias/app")["KeyMetadata"]["Arn"] == k2


def test_default_key_policy_is_awss(accounts):
    (kms, a), _ = accounts
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
    assert policy == {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{a}:root"}, "Action": "kms:*", "Resource": "*"}]}


@pytest.mark.single_node("a revocation by a tag change reaches the other node's cryptographic path by the change feed (bounded; test_cluster.py), not on the very next request")
def test_conditions_on_request_alias_and_resource_tags(accounts):
    (kms, a), _ = accounts
    arn = kms.create_key(Policy=_policy(
        _root_all(a),
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringLike": {"kms:RequestAlias": "alias/blocked*"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/stage": "frozen"}}}))["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/blocked-x", TargetKeyId=arn)
    kms.create_alias(AliasName="alias/open-x", TargetKeyId=arn)
    with expect_error("AccessDeniedException"):
        kms.encrypt(KeyId="alias/blocked-x", Plaintext=b"x")
    kms.encrypt(KeyId="alias/open-x", Plaintext=b"x")
    kms.encrypt(KeyId=arn, Plaintext=b"x")
    kms.generate_data_key(KeyId=arn, NumberOfBytes=16)
    kms.tag_resource(KeyId=arn, Tags=[{"TagKey": "stage", "TagValue": "frozen"}])
    with expect_error("AccessDeniedException"):
        kms.generate_data_key(KeyId=arn, NumberOfBytes=16)


def test_secure_transport_is_the_servers_transport(accounts, tls_server):
    """aws:SecureTransport is "false" over plain HTTP and "true" on a TLS server."""
    from test_tls import https_client
    deny_plain = {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
                  "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    (kms, a), _ = accounts
    arn = kms.create_key(Policy=_policy(_root_all(a), deny_plain))["KeyMetadata"]["Arn"]
    with expect_error("AccessDeniedException"):
        kms.encrypt(KeyId=arn, Plaintext=b"x")
    tls = https_client(tls_server, verify=tls_server.tls["ca"])
    root = tls_server.account_id
    key = tls.create_key(Policy=_policy(_root_all(root), deny_plain))["KeyMetadata"]["Arn"]
    tls.encrypt(KeyId=key, Plaintext=b"x")
