"""Authorization under IAM identities (issue 10, sections 7 and 8), boto3 and the AWS CLI
against the real server in non-dev mode, the account root creating the identities:

- a user allowed only kms:Encrypt encrypts but cannot decrypt (AWS's message names the user);
- an assumed role gets exactly its policies, narrowed by a session policy;
- a grant to an IAM user lets it decrypt until the grant is retired;
- IAM calls are governed by identity policies (ListUsers allowed, CreateUser not);
- an identity-policy Deny beats a key-policy Allow naming the user;
- IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy) explains decisions,
  taking a KMS key's own policy and grants into account.

Cross-account use and the encryption-context Deny are in test_authorization.py; the IAM Deny
on ListUsers through a group policy in test_iam.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import boto3
import pytest
from botocore.config import Config

from kms_harness import DEFAULT_REGION, default_policy, expect_error

CFG = Config(retries={"total_max_attempts": 1, "mode": "standard"})
AWS = shutil.which("aws")


def _doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action, resource="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


@pytest.fixture(scope="module")
def env(server):
    root = server.root_credentials()

    def client(service, access_key=None, secret_key=None, token=None):
        return boto3.session.Session().client(
            service, endpoint_url=server.url, config=CFG,
            region_name="us-east-1" if service == "iam" else DEFAULT_REGION,
            aws_access_key_id=access_key or root.access_key,
            aws_secret_access_key=secret_key or root.secret_key, aws_session_token=token)

    iam = client("iam")

    def user(policy=None):
        name = f"u-{uuid.uuid4().hex[:10]}"
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        if policy:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        return dict(name=name, arn=arn, key=(k["AccessKeyId"], k["SecretAccessKey"]))

    return dict(srv=server, client=client, iam=iam, kms=client("kms"), user=user, account=root.account_id)


def as_user(env, u, service="kms"):
    return env["client"](service, *u["key"])


# -- section 8 ----------------------------------------------------------------

def test_user_allowed_only_encrypt_cannot_decrypt(env):
    u = env["user"](_doc(_allow("kms:Encrypt")))
    key = env["kms"].create_key()["KeyMetadata"]
    kms = as_user(env, u)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with expect_error("AccessDeniedException", message=(
            f"User: {u['arn']} is not authorized to perform: kms:Decrypt on resource: {key['Arn']} "
            "because no identity-based policy allows the kms:Decrypt action")):
        kms.decrypt(CiphertextBlob=blob)
    # The root still decrypts: the denial is the user's, not the key's.
    assert env["kms"].decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_role_through_sts_gets_exactly_its_policies_narrowed_by_a_session_policy(env):
    u = env["user"]()
    role_name = f"r-{uuid.uuid4().hex[:8]}"
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": u["arn"]}, "Action": "sts:AssumeRole"})
    role = env["iam"].create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]
    env["iam"].put_role_policy(RoleName=role_name, PolicyName="p",
                               PolicyDocument=_doc(_allow(["kms:Encrypt", "kms:Decrypt"])))
    key = env["kms"].create_key()["KeyMetadata"]
    sts = as_user(env, u, "sts")

    def session(**kw):
        c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", **kw)["Credentials"]
        return env["client"]("kms", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    full = session()
    blob = full.encrypt(KeyId=key["KeyId"], Plaintext=b"r")["CiphertextBlob"]
    assert full.decrypt(CiphertextBlob=blob)["Plaintext"] == b"r"
    # Exactly its policies: an action the role's policy does not allow is denied.
    with expect_error("AccessDeniedException", message_contains="because no identity-based policy allows the kms:GenerateDataKey action"):
        full.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    # A session policy allowing only Encrypt: Decrypt (allowed by the role) is denied.
    narrow = session(Policy=_doc(_allow("kms:Encrypt")))
    narrow.encrypt(KeyId=key["KeyId"], Plaintext=b"r")
    session_arn = f"arn:aws:sts::{env['account']}:assumed-role/{role_name}/s1"
    with expect_error("AccessDeniedException", message=(
            f"User: {session_arn} is not authorized to perform: kms:Decrypt on resource: {key['Arn']} "
            "because no session policy allows the kms:Decrypt action")):
        narrow.decrypt(CiphertextBlob=blob)


def test_grant_to_an_iam_user_allows_decrypt_until_retired(env):
    u = env["user"]()  # no identity policy at all
    key = env["kms"].create_key()["KeyMetadata"]
    blob = env["kms"].encrypt(KeyId=key["KeyId"], Plaintext=b"g")["CiphertextBlob"]
    kms = as_user(env, u)
    with expect_error("AccessDeniedException"):
        kms.decrypt(CiphertextBlob=blob)
    g = env["kms"].create_grant(KeyId=key["KeyId"], GranteePrincipal=u["arn"], Operations=["Decrypt"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"g"
    # Only its operation.
    with expect_error("AccessDeniedException"):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"g")
    env["kms"].retire_grant(KeyId=key["KeyId"], GrantId=g["GrantId"])
    with expect_error("AccessDeniedException"):
        kms.decrypt(CiphertextBlob=blob)


def test_iam_calls_are_governed_by_identity_policies(env):
    u = env["user"](_doc(_allow("iam:ListUsers")))
    iam = as_user(env, u, "iam")
    assert u["name"] in [x["UserName"] for x in iam.list_users()["Users"]]
    new = f"u-{uuid.uuid4().hex[:10]}"
    with expect_error("AccessDenied", status=403, message=(
            f"User: {u['arn']} is not authorized to perform: iam:CreateUser on resource: "
            f"arn:aws:iam::{env['account']}:user/{new} because no identity-based policy allows the iam:CreateUser action")):
        iam.create_user(UserName=new)
    with expect_error("NoSuchEntity", status=404):
        env["iam"].get_user(UserName=new)


def test_a_role_session_calls_iam_as_its_role_and_session_policies_allow(env):
    # Fixed bug: IAM refused every assumed-role session, whatever its role's policies said.
    u = env["user"]()
    role_name = f"r-{uuid.uuid4().hex[:8]}"
    trust = _doc({"Effect": "Allow", "Principal": {"AWS": u["arn"]}, "Action": "sts:AssumeRole"})
    role = env["iam"].create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]
    env["iam"].put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=_doc(_allow(["iam:ListUsers", "iam:GetUser"])))
    sts = as_user(env, u, "sts")

    def session(**kw):
        c = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ops", **kw)["Credentials"]
        return env["client"]("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    iam = session()
    assert u["name"] in [x["UserName"] for x in iam.list_users()["Users"]]
    session_arn = f"arn:aws:sts::{env['account']}:assumed-role/{role_name}/ops"
    with expect_error("AccessDenied", status=403, message_prefix=f"User: {session_arn} is not authorized to perform: iam:CreateUser"):
        iam.create_user(UserName=f"u-{uuid.uuid4().hex[:10]}")
    narrow = session(Policy=_doc(_allow("iam:GetUser")))
    assert narrow.get_user(UserName=u["name"])["User"]["Arn"] == u["arn"]
    with expect_error("AccessDenied", status=403, message_contains="because no session policy allows the iam:ListUsers action"):
        narrow.list_users()


def test_identity_policy_deny_beats_a_key_policy_allow_naming_the_user(env):
    u = env["user"]()
    policy = default_policy(env["account"])
    policy["Statement"].append({"Sid": "AllowUser", "Effect": "Allow", "Principal": {"AWS": u["arn"]},
                                "Action": "kms:Encrypt", "Resource": "*"})
    key = env["kms"].create_key(Policy=json.dumps(policy))["KeyMetadata"]
    kms = as_user(env, u)
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"d")  # the key policy alone allows the user
    env["iam"].put_user_policy(UserName=u["name"], PolicyName="deny", PolicyDocument=_doc(
        {"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}))
    with expect_error("AccessDeniedException", message=(
            f"User: {u['arn']} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
            "with an explicit deny in an identity-based policy")):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"d")


# -- section 7: the policy simulator ---------------------------------------------

def _by_action(results):
    return {r["EvalActionName"]: r for r in results["EvaluationResults"]}


def _statement_text(document: str, st: dict) -> str:
    lines = document.split("\n")
    s, e = st["StartPosition"], st["EndPosition"]
    if s["Line"] == e["Line"]:
        return lines[s["Line"] - 1][s["Column"] - 1:e["Column"]]
    return "\n".join([lines[s["Line"] - 1][s["Column"] - 1:]] + lines[s["Line"]:e["Line"] - 1]
                     + [lines[e["Line"] - 1][:e["Column"]]])


def test_simulate_principal_policy_for_a_user_and_a_key(env):
    u = env["user"](_doc(_allow("kms:Encrypt")))
    key = env["kms"].create_key()["KeyMetadata"]
    out = env["iam"].simulate_principal_policy(PolicySourceArn=u["arn"], ActionNames=["kms:Encrypt", "kms:Decrypt"],
                                               ResourceArns=[key["Arn"]])
    r = _by_action(out)
    assert out["IsTruncated"] is False
    assert r["kms:Encrypt"]["EvalDecision"] == "allowed" and r["kms:Encrypt"]["EvalResourceName"] == key["Arn"]
    # Both sides that allowed: the key policy's delegation to the account, and the user's policy.
    assert sorted((m["SourcePolicyId"], m["SourcePolicyType"]) for m in r["kms:Encrypt"]["MatchedStatements"]) == \
        [(key["Arn"], "resource"), ("p", "user")]
    assert r["kms:Encrypt"]["ResourceSpecificResults"][0]["EvalResourceDecision"] == "allowed"
    assert r["kms:Decrypt"]["EvalDecision"] == "implicitDeny" and r["kms:Decrypt"]["MatchedStatements"] == []

    # A Deny in the key's own policy: explicitDeny, and the statement that decided it.
    policy = default_policy(env["account"])
    policy["Statement"].append({"Sid": "NoEncryptForUser", "Effect": "Deny", "Principal": {"AWS": u["arn"]},
                                "Action": "kms:Encrypt", "Resource": "*"})
    text = json.dumps(policy, indent=2)
    env["kms"].put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=text)
    r = _by_action(env["iam"].simulate_principal_policy(PolicySourceArn=u["arn"], ActionNames=["kms:Encrypt"],
                                                        ResourceArns=[key["Arn"]]))
    m = r["kms:Encrypt"]["MatchedStatements"]
    assert r["kms:Encrypt"]["EvalDecision"] == "explicitDeny"
    assert [(x["SourcePolicyId"], x["SourcePolicyType"]) for x in m] == [(key["Arn"], "resource")]
    decided = json.loads(_statement_text(text, m[0]))
    assert decided["Sid"] == "NoEncryptForUser" and decided["Effect"] == "Deny"
    # ...and the key's real decision agrees.
    with expect_error("AccessDeniedException", message_contains="with an explicit deny in a resource-based policy"):
        as_user(env, u).encrypt(KeyId=key["KeyId"], Plaintext=b"x")


def test_simulation_takes_a_keys_grants_into_account(env):
    u = env["user"]()
    key = env["kms"].create_key()["KeyMetadata"]
    ask = dict(PolicySourceArn=u["arn"], ActionNames=["kms:Decrypt"], ResourceArns=[key["Arn"]])
    assert _by_action(env["iam"].simulate_principal_policy(**ask))["kms:Decrypt"]["EvalDecision"] == "implicitDeny"
    g = env["kms"].create_grant(KeyId=key["KeyId"], GranteePrincipal=u["arn"], Operations=["Decrypt"])
    assert _by_action(env["iam"].simulate_principal_policy(**ask))["kms:Decrypt"]["EvalDecision"] == "allowed"
    env["kms"].revoke_grant(KeyId=key["KeyId"], GrantId=g["GrantId"])
    assert _by_action(env["iam"].simulate_principal_policy(**ask))["kms:Decrypt"]["EvalDecision"] == "implicitDeny"


def test_simulate_custom_policy_with_resource_policy_and_context(env):
    caller = f"arn:aws:iam::{env['account']}:user/alice"
    resource_policy = _doc({"Sid": "DenyProd", "Effect": "Deny", "Principal": {"AWS": caller}, "Action": "kms:Decrypt",
                            "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:stage": "prod"}}},
                           {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{env['account']}:root"},
                            "Action": "kms:*", "Resource": "*"})
    identity = _doc(_allow(["kms:Decrypt", "kms:Encrypt"]))
    base = dict(PolicyInputList=[identity], ActionNames=["kms:Decrypt"], ResourcePolicy=resource_policy, CallerArn=caller,
                ResourceArns=[f"arn:aws:kms:{DEFAULT_REGION}:{env['account']}:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
    dev = env["iam"].simulate_custom_policy(ContextEntries=[{
        "ContextKeyName": "kms:EncryptionContext:stage", "ContextKeyValues": ["dev"], "ContextKeyType": "string"}], **base)
    assert dev["EvaluationResults"][0]["EvalDecision"] == "allowed"
    assert {(m["SourcePolicyId"], m["SourcePolicyType"]) for m in dev["EvaluationResults"][0]["MatchedStatements"]} == \
        {("PolicyInputList.1", "none"), ("ResourcePolicy", "resource")}
    prod = env["iam"].simulate_custom_policy(ContextEntries=[{
        "ContextKeyName": "kms:EncryptionContext:stage", "ContextKeyValues": ["prod"], "ContextKeyType": "string"}], **base)
    r = prod["EvaluationResults"][0]
    assert r["EvalDecision"] == "explicitDeny"
    assert json.loads(_statement_text(resource_policy, r["MatchedStatements"][0]))["Sid"] == "DenyProd"
    # Without the context value the condition's key is reported missing.
    none = env["iam"].simulate_custom_policy(**base)["EvaluationResults"][0]
    assert none["EvalDecision"] == "allowed" and none["MissingContextValues"] == ["kms:EncryptionContext:stage"]


def test_simulation_paging(env):
    actions = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]
    first = env["iam"].simulate_custom_policy(PolicyInputList=[_doc(_allow("kms:*"))], ActionNames=actions, MaxItems=2)
    assert [r["EvalActionName"] for r in first["EvaluationResults"]] == actions[:2] and first["IsTruncated"]
    rest = env["iam"].simulate_custom_policy(PolicyInputList=[_doc(_allow("kms:*"))], ActionNames=actions,
                                             Marker=first["Marker"])
    assert [r["EvalActionName"] for r in rest["EvaluationResults"]] == actions[2:] and not rest["IsTruncated"]
    assert all(r["EvalDecision"] == "allowed" and r["EvalResourceName"] == "*" for r in rest["EvaluationResults"])


def test_simulation_errors_and_authorization(env):
    iam = env["iam"]
    missing = f"arn:aws:iam::{env['account']}:user/nobody-{uuid.uuid4().hex[:6]}"
    with expect_error("NoSuchEntity", status=404, message_contains="cannot be found"):
        iam.simulate_principal_policy(PolicySourceArn=missing, ActionNames=["kms:Encrypt"])
    with expect_error("InvalidInput"):
        iam.simulate_principal_policy(PolicySourceArn="not-an-arn-at-all-really", ActionNames=["kms:Encrypt"])
    with expect_error("MalformedPolicyDocument"):
        iam.simulate_custom_policy(PolicyInputList=["{not json"], ActionNames=["kms:Encrypt"])
    with expect_error("MalformedPolicyDocument"):  # a resource policy must name a Principal
        iam.simulate_custom_policy(PolicyInputList=[_doc(_allow("kms:*"))], ActionNames=["kms:Encrypt"],
                                   ResourcePolicy=_doc(_allow("kms:*")), CallerArn=missing)
    with expect_error("InvalidInput"):  # a resource policy needs a caller
        iam.simulate_custom_policy(PolicyInputList=[_doc(_allow("kms:*"))], ActionNames=["kms:Encrypt"],
                                   ResourcePolicy=_doc({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}))
    # The simulator is an IAM action like any other: a user needs iam:Simulate*.
    u = env["user"](_doc(_allow("iam:SimulateCustomPolicy")))
    as_iam = as_user(env, u, "iam")
    out = as_iam.simulate_custom_policy(PolicyInputList=[_doc(_allow("kms:Encrypt"))], ActionNames=["kms:Encrypt"])
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with expect_error("AccessDenied", status=403, message_contains="iam:SimulatePrincipalPolicy"):
        as_iam.simulate_principal_policy(PolicySourceArn=u["arn"], ActionNames=["kms:Encrypt"])


@pytest.mark.skipif(AWS is None, reason="aws CLI not installed")
def test_aws_cli_simulate_custom_policy(env):
    root = env["srv"].root_credentials()
    run_env = dict(os.environ, AWS_ACCESS_KEY_ID=root.access_key, AWS_SECRET_ACCESS_KEY=root.secret_key,
                   AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="")
    run_env.pop("AWS_SESSION_TOKEN", None)
    out = subprocess.run([AWS, "iam", "simulate-custom-policy", "--endpoint-url", env["srv"].url,
                          "--policy-input-list", _doc(_allow("kms:Encrypt")),
                          "--action-names", "kms:Encrypt", "kms:Decrypt", "--output", "json"],
                         env=run_env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    r = _by_action(json.loads(out.stdout))
    assert r["kms:Encrypt"]["EvalDecision"] == "allowed"
    assert r["kms:Decrypt"]["EvalDecision"] == "implicitDeny"
