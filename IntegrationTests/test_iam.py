"""IAM on the KMS endpoint (issue 9, sections 1, 3, 4): the query protocol driven by
boto3's `iam` client and `aws iam`, users and access keys that call KMS as themselves,
AWS's error codes and quotas, and `kms admin`."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kms_harness import DEFAULT_REGION, client_for, expect_error, kms_binary

AWS = shutil.which("aws")
CFG = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def iam_client(srv, access_key=None, secret_key=None, validate=True):
    if access_key is None:
        creds = srv.root_credentials()
        access_key, secret_key = creds.access_key, creds.secret_key
    cfg = CFG.merge(Config(parameter_validation=validate))
    return boto3.session.Session().client(
        "iam", endpoint_url=srv.url, region_name="us-east-1",
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, config=cfg)


def cloudtrail(srv):
    creds = srv.root_credentials()
    return boto3.session.Session().client(
        "cloudtrail", endpoint_url=srv.url, region_name=DEFAULT_REGION,
        aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key, config=CFG)


def name(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


ALLOW_KMS = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})
ALLOW_ALL_IAM = json.dumps({"Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})


@pytest.fixture(scope="module")
def iam(server):
    return iam_client(server)


def user_with_key(iam, server, policy=ALLOW_KMS):
    user = name()
    iam.create_user(UserName=user)
    if policy:
        iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=policy)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return user, key


def wait_refused(client_call, code="UnrecognizedClientException"):
    """Key changes are published before the IAM call answers: refused at once."""
    with expect_error(code):
        client_call()


# -- users, keys, KMS as the user ----------------------------------------------

@pytest.mark.single_node("LookupEvents and GetAccessKeyLastUsed are per node")
def test_user_access_key_calls_kms_as_the_user(server, iam, kms):
    user, key = user_with_key(iam, server)
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    got = iam.get_user(UserName=user)["User"]
    assert got["UserId"].startswith("AIDA") and len(got["UserId"]) == 21
    assert got["Arn"] == f"arn:aws:iam::{server.account_id}:user/{user}"

    as_user = client_for(server.url, DEFAULT_REGION, key["AccessKeyId"], key["SecretAccessKey"])
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = as_user.encrypt(KeyId=key_id, Plaintext=b"hello")["CiphertextBlob"]
    assert as_user.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"

    # The audit trail names the user, with its unique ID (what GetCallerIdentity would say).
    events = cloudtrail(server).lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}])["Events"]
    identities = [json.loads(e["CloudTrailEvent"])["userIdentity"] for e in events]
    encrypts = [i for e, i in zip(events, identities) if e["EventName"] == "Encrypt"]
    assert encrypts, events
    assert encrypts[0]["type"] == "IAMUser"
    assert encrypts[0]["arn"] == got["Arn"]
    assert encrypts[0]["principalId"] == got["UserId"]
    assert encrypts[0]["accessKeyId"] == key["AccessKeyId"]

    # IAM calls are audited with IAM's eventSource; the secret never reaches the trail.
    created = [json.loads(e["CloudTrailEvent"]) for e in cloudtrail(server).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"}])["Events"]]
    mine = [e for e in created if (e.get("requestParameters") or {}).get("userName") == user]
    assert mine and mine[0]["eventSource"] == "iam.amazonaws.com" and mine[0]["readOnly"] is False
    assert mine[0]["responseElements"] is None and mine[0]["userIdentity"]["type"] == "Root"
    segments = glob.glob(os.path.join(server.data_dir, "audit", "audit-*.jsonl"))
    assert segments
    for path in segments:
        with open(path, "rb") as fh:
            assert key["SecretAccessKey"].encode() not in fh.read()

    last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert last["UserName"] == user
    assert last["AccessKeyLastUsed"]["ServiceName"] == "kms"
    assert last["AccessKeyLastUsed"]["Region"] == DEFAULT_REGION


def test_inactive_then_deleted_key_is_refused(server, iam, kms):
    user, key = user_with_key(iam, server)
    as_user = client_for(server.url, DEFAULT_REGION, key["AccessKeyId"], key["SecretAccessKey"])
    as_user.list_keys()
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    with expect_error("UnrecognizedClientException", message="The security token included in the request is invalid."):
        as_user.list_keys()
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Active")
    as_user.list_keys()
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    with expect_error("UnrecognizedClientException"):
        as_user.list_keys()
    # IAM itself answers a refused key as IAM does.
    with expect_error("InvalidClientTokenId", status=403):
        iam_client(server, key["AccessKeyId"], key["SecretAccessKey"]).list_users()


def test_wrong_secret_is_refused(server, iam):
    user, key = user_with_key(iam, server)
    bad = client_for(server.url, DEFAULT_REGION, key["AccessKeyId"], "x" * 40)
    with expect_error("InvalidSignatureException"):
        bad.list_keys()
    with expect_error("SignatureDoesNotMatch", status=403):
        iam_client(server, key["AccessKeyId"], "x" * 40).list_users()


def test_user_policies_govern_iam_calls(server, iam):
    # Only a root (or what a user's identity policy allows) may call IAM.
    user, key = user_with_key(iam, server)
    as_user = iam_client(server, key["AccessKeyId"], key["SecretAccessKey"])
    with expect_error("AccessDenied", status=403,
                      message_prefix=f"User: arn:aws:iam::{server.account_id}:user/{user} is not authorized to perform: iam:ListUsers"):
        as_user.list_users()
    # Through a group's managed policy.
    group = name("g")
    iam.create_group(GroupName=group)
    arn = iam.create_policy(PolicyName=name("p"), PolicyDocument=ALLOW_ALL_IAM)["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert any(u["UserName"] == user for u in as_user.list_users()["Users"])
    # An explicit deny wins.
    iam.put_user_policy(UserName=user, PolicyName="deny", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"}]}))
    with expect_error("AccessDenied", status=403, message_contains="explicit deny"):
        as_user.list_users()


def assert_tag_calls_refuse_missing(iam, kind):
    """TagX, UntagX and ListXTags on a user or role that does not exist: NoSuchEntity, AWS's message."""
    missing, lower = name(), kind.lower()
    member = {f"{kind}Name": missing}
    for call in (lambda: getattr(iam, f"tag_{lower}")(**member, Tags=[{"Key": "a", "Value": "b"}]),
                 lambda: getattr(iam, f"untag_{lower}")(**member, TagKeys=["a"]),
                 lambda: getattr(iam, f"list_{lower}_tags")(**member)):
        with expect_error("NoSuchEntity", status=404, message=f"The {lower} with name {missing} cannot be found."):
            call()


def test_user_lifecycle_and_delete_conflicts(iam):
    user = name()
    created = iam.create_user(UserName=user, Path="/team/", Tags=[{"Key": "env", "Value": "dev"}])["User"]
    assert created["Path"] == "/team/" and created["Arn"].endswith(f":user/team/{user}")
    with expect_error("EntityAlreadyExists", status=409, message=f"User with name {user} already exists."):
        iam.create_user(UserName=user)
    assert user in [u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]]
    iam.tag_user(UserName=user, Tags=[{"Key": "team", "Value": "kms"}])
    assert {t["Key"] for t in iam.list_user_tags(UserName=user)["Tags"]} == {"env", "team"}
    iam.untag_user(UserName=user, TagKeys=["env"])
    assert [t["Key"] for t in iam.list_user_tags(UserName=user)["Tags"]] == ["team"]
    assert_tag_calls_refuse_missing(iam, "User")

    k1 = iam.create_access_key(UserName=user)["AccessKey"]
    iam.create_access_key(UserName=user)
    with expect_error("LimitExceeded", status=409, message="Cannot exceed quota for AccessKeysPerUser: 2"):
        iam.create_access_key(UserName=user)
    with expect_error("DeleteConflict", status=409, message="Cannot delete entity, must delete access keys first."):
        iam.delete_user(UserName=user)
    for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
    with expect_error("NoSuchEntity", status=404, message=f"The Access Key with id {k1['AccessKeyId']} cannot be found."):
        iam.delete_access_key(UserName=user, AccessKeyId=k1["AccessKeyId"])

    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=ALLOW_KMS)
    with expect_error("DeleteConflict", status=409, message="Cannot delete entity, must delete policies first."):
        iam.delete_user(UserName=user)
    iam.delete_user_policy(UserName=user, PolicyName="p")
    group = name("g")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]
    with expect_error("DeleteConflict", status=409, message="Cannot delete entity, must remove user from all groups first."):
        iam.delete_user(UserName=user)
    with expect_error("DeleteConflict", status=409, message="Cannot delete entity, must remove users from group first."):
        iam.delete_group(GroupName=group)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    renamed = name()
    iam.update_user(UserName=user, NewUserName=renamed)
    with expect_error("NoSuchEntity", status=404, message=f"The user with name {user} cannot be found."):
        iam.get_user(UserName=user)
    iam.delete_user(UserName=renamed)
    with expect_error("NoSuchEntity", status=404):
        iam.delete_user(UserName=renamed)


def test_validation_errors_are_awss(server):
    loose = iam_client(server, validate=False)
    with expect_error("ValidationError", message="1 validation error detected: Value 'bad name!' at 'userName' "
                      "failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"):
        loose.create_user(UserName="bad name!")
    with expect_error("ValidationError", message="1 validation error detected: Value null at 'userName' "
                      "failed to satisfy constraint: Member must not be null"):
        loose.create_user()
    with expect_error("ValidationError", message_contains="Member must satisfy enum value set: [Active, Inactive, Expired]"):
        loose.update_access_key(UserName="x", AccessKeyId="AKIAAAAAAAAAAAAAAAAA", Status="Paused")
    with expect_error("ValidationError", message_contains="Member must have value less than or equal to 43200"):
        loose.create_role(RoleName=name("r"), AssumeRolePolicyDocument="{}", MaxSessionDuration=50000)


def test_malformed_policies_and_size_quotas(iam):
    user = name()
    iam.create_user(UserName=user)
    with expect_error("MalformedPolicyDocument", message="Syntax errors in policy."):
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument="{not json")
    with expect_error("MalformedPolicyDocument", message="Has prohibited field Principal"):
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}))
    with expect_error("MalformedPolicyDocument", message="Policy statement must contain resources."):
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*"}]}))
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"kms:Action{i:04d}" for i in range(150)], "Resource": "*"}]})
    with expect_error("LimitExceeded", status=409, message=f"Maximum policy size of 2048 bytes exceeded for user {user}"):
        iam.put_user_policy(UserName=user, PolicyName="big", PolicyDocument=big)
    with expect_error("NoSuchEntity", status=404, message="The user policy with name big cannot be found."):
        iam.get_user_policy(UserName=user, PolicyName="big")
    # A role takes up to 10240.
    role = name("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{iam.get_user(UserName=user)['User']['Arn'].split(':')[4]}:root"},
         "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=role, PolicyName="big", PolicyDocument=big)
    got = iam.get_role_policy(RoleName=role, PolicyName="big")
    assert got["PolicyDocument"] == json.loads(big)  # botocore decodes IAM's URL-encoded document
    with expect_error("MalformedPolicyDocument", message="Has prohibited field Resource"):
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=ALLOW_KMS)
    with expect_error("MalformedPolicyDocument", message="Missing required field Principal"):
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}))


def test_roles(server, iam):
    role = name("r")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "sts:AssumeRole"}]}
    r = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=7200,
                        Description="d", Tags=[{"Key": "k", "Value": "v"}])["Role"]
    assert r["RoleId"].startswith("AROA") and len(r["RoleId"]) == 21
    assert r["Arn"] == f"arn:aws:iam::{server.account_id}:role/{role}"
    got = iam.get_role(RoleName=role)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust and got["MaxSessionDuration"] == 7200
    with expect_error("EntityAlreadyExists", status=409, message=f"Role with name {role} already exists."):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.update_role(RoleName=role, MaxSessionDuration=3600, Description="e")
    assert iam.get_role(RoleName=role)["Role"]["MaxSessionDuration"] == 3600
    iam.tag_role(RoleName=role, Tags=[{"Key": "a", "Value": "b"}])
    assert {t["Key"] for t in iam.list_role_tags(RoleName=role)["Tags"]} == {"k", "a"}
    iam.untag_role(RoleName=role, TagKeys=["k"])
    assert [t["Key"] for t in iam.list_role_tags(RoleName=role)["Tags"]] == ["a"]
    assert_tag_calls_refuse_missing(iam, "Role")
    arn = iam.create_policy(PolicyName=name("p"), PolicyDocument=ALLOW_KMS)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"][0]["PolicyArn"] == arn
    with expect_error("DeleteConflict", status=409, message="Cannot delete entity, must detach all policies first."):
        iam.delete_role(RoleName=role)
    with expect_error("DeleteConflict", status=409, message="Cannot delete a policy attached to entities."):
        iam.delete_policy(PolicyArn=arn)
    ents = iam.list_entities_for_policy(PolicyArn=arn)
    assert [x["RoleName"] for x in ents["PolicyRoles"]] == [role]
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.put_role_policy(RoleName=role, PolicyName="i", PolicyDocument=ALLOW_KMS)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["i"]
    with expect_error("DeleteConflict", status=409, message="Cannot delete entity, must delete policies first."):
        iam.delete_role(RoleName=role)
    iam.delete_role_policy(RoleName=role, PolicyName="i")
    iam.delete_role(RoleName=role)
    with expect_error("NoSuchEntity", status=404, message=f"The role with name {role} cannot be found."):
        iam.get_role(RoleName=role)


def test_managed_policy_versions(server, iam):
    pname = name("p")
    p = iam.create_policy(PolicyName=pname, PolicyDocument=ALLOW_KMS, Path="/x/")["Policy"]
    assert p["PolicyId"].startswith("ANPA") and p["DefaultVersionId"] == "v1"
    assert p["Arn"] == f"arn:aws:iam::{server.account_id}:policy/x/{pname}"
    with expect_error("EntityAlreadyExists", status=409):
        iam.create_policy(PolicyName=pname, PolicyDocument=ALLOW_KMS)
    for i in range(4):
        v = iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=ALLOW_ALL_IAM, SetAsDefault=(i == 3))["PolicyVersion"]
        assert v["VersionId"] == f"v{i + 2}"
    with expect_error("LimitExceeded", status=409, message="A managed policy can have up to 5 versions. Before you create "
                      "a new version, you must delete an existing version."):
        iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=ALLOW_KMS)
    versions = iam.list_policy_versions(PolicyArn=p["Arn"])["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v5"]
    assert iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v1")["PolicyVersion"]["Document"] == json.loads(ALLOW_KMS)
    with expect_error("DeleteConflict", status=409, message="Cannot delete the default version of a policy."):
        iam.delete_policy_version(PolicyArn=p["Arn"], VersionId="v5")
    iam.delete_policy_version(PolicyArn=p["Arn"], VersionId="v2")
    v6 = iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=ALLOW_KMS)["PolicyVersion"]
    assert v6["VersionId"] == "v6"  # numbers are never reused
    iam.set_default_policy_version(PolicyArn=p["Arn"], VersionId="v1")
    assert iam.get_policy(PolicyArn=p["Arn"])["Policy"]["DefaultVersionId"] == "v1"
    with expect_error("NoSuchEntity", status=404):
        iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v2")
    with expect_error("DeleteConflict", status=409, message_prefix="This policy has more than one version."):
        iam.delete_policy(PolicyArn=p["Arn"])
    for v in ["v3", "v4", "v5", "v6"]:
        iam.delete_policy_version(PolicyArn=p["Arn"], VersionId=v)
    iam.delete_policy(PolicyArn=p["Arn"])
    with expect_error("NoSuchEntity", status=404,
                      message=f"Policy {p['Arn']} does not exist or is not attachable."):
        iam.get_policy(PolicyArn=p["Arn"])
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"kms:Action{i:04d}" for i in range(400)], "Resource": "*"}]})
    with expect_error("LimitExceeded", status=409, message="Cannot exceed quota for PolicySize: 6144"):
        iam.create_policy(PolicyName=name("p"), PolicyDocument=big)


def test_oidc_providers(server, iam):
    host = f"oidc-{uuid.uuid4().hex[:8]}.example.com"
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40],
        Tags=[{"Key": "kms:jwks-file", "Value": "/etc/kms/jwks.json"}])["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{server.account_id}:oidc-provider/{host}"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == host and got["ClientIDList"] == ["sts.amazonaws.com"]
    assert "Tags" not in got  # the JWKS path is configuration, not a tag
    assert {"Arn": arn} in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    with expect_error("EntityAlreadyExists", status=409):
        iam.create_open_id_connect_provider(Url=f"https://{host}", ThumbprintList=["a" * 40])
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with expect_error("NoSuchEntity", status=404):
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_unknown_action_and_wrong_region(server):
    creds = server.root_credentials()
    other = boto3.session.Session().client("iam", endpoint_url=server.url, region_name="eu-west-1",
                                           aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
                                           config=CFG)
    with expect_error(("SignatureDoesNotMatch", "InvalidClientTokenId"), status=403):
        other.list_users()
    with expect_error("InvalidAction"):
        iam_client(server).list_saml_providers()


def test_aws_cli_drives_iam(server):
    if not AWS:
        pytest.skip("aws CLI not installed")
    creds = server.root_credentials()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
    env.pop("AWS_PROFILE", None)
    user = name()
    base = [AWS, "iam", "--endpoint-url", server.url, "--output", "json"]
    out = subprocess.run(base + ["create-user", "--user-name", user], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["User"]["UserName"] == user
    out = subprocess.run(base + ["list-users"], env=env, capture_output=True, text=True, timeout=60)
    assert user in [u["UserName"] for u in json.loads(out.stdout)["Users"]]
    out = subprocess.run(base + ["get-user", "--user-name", name()], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "NoSuchEntity" in out.stderr


@pytest.mark.single_node("kms admin on one SQLite data dir")
def test_identities_survive_restart_and_admin(server_factory):
    srv = server_factory()
    iam = iam_client(srv)
    user = name()
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=ALLOW_KMS)
    srv.restart()
    as_user = client_for(srv.url, DEFAULT_REGION, key["AccessKeyId"], key["SecretAccessKey"])
    as_user.list_keys()
    # The secret is sealed in the store: not in any file of the data dir.
    for root, _, files in os.walk(srv.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert key["SecretAccessKey"].encode() not in fh.read(), f
    srv.stop()
    # kms admin: a second account, listed; a rotated root credential.
    out = subprocess.run([kms_binary(), "admin", "create-account", "--data-dir", srv.data_dir, "--account", "444455556666"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "444455556666" in out.stdout and "aws_secret_access_key" not in out.stdout
    listed = subprocess.run([kms_binary(), "admin", "list-accounts", "--data-dir", srv.data_dir],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split("\t")[0]: line for line in listed.stdout.splitlines()}
    assert "444455556666" in lines and "users=1" in lines[srv.account_id]
    old = srv.root_credentials().access_key
    rot = subprocess.run([kms_binary(), "admin", "rotate-root-credential", "--data-dir", srv.data_dir, old,
                          "--output", os.path.join(srv.data_dir, "rotated")], capture_output=True, text=True, timeout=60)
    assert rot.returncode == 0, rot.stderr
    srv.start()
    with expect_error("InvalidClientTokenId", status=403):
        iam.list_users()
    new = {}
    with open(os.path.join(srv.data_dir, "rotated")) as f:
        for line in f:
            if "=" in line:
                k, v = line.split("=", 1)
                new[k.strip()] = v.strip()
    fresh = iam_client(srv, new["aws_access_key_id"], new["aws_secret_access_key"])
    assert user in [u["UserName"] for u in fresh.list_users()["Users"]]


def test_dev_mode_accepts_any_credentials_as_root(dev_server):
    iam = iam_client(dev_server, "AKIAANYTHING00000000", "whatever")
    user = name()
    iam.create_user(UserName=user)
    assert iam.get_user(UserName=user)["User"]["Arn"] == f"arn:aws:iam::{dev_server.account_id}:user/{user}"


def test_key_policies_may_name_only_existing_principals(server, iam, kms):
    from kms_harness import default_policy
    user = iam.create_user(UserName=name(), Path="/p/")["User"]
    role_name = name("r")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "sts:AssumeRole"}]}))["Role"]
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]

    def with_principal(arn):
        policy = default_policy(server.account_id)
        policy["Statement"].append({"Sid": "named", "Effect": "Allow", "Principal": {"AWS": arn},
                                    "Action": "kms:Encrypt", "Resource": "*"})
        return json.dumps(policy)

    session = f"arn:aws:sts::{server.account_id}:assumed-role/{role_name}/s1"
    for arn in (user["Arn"], role["Arn"], session):
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=with_principal(arn))
    missing = [f"arn:aws:iam::{server.account_id}:user/{name()}",
               f"arn:aws:iam::{server.account_id}:user/{user['UserName']}",  # without its path
               f"arn:aws:iam::{server.account_id}:role/{name('r')}",
               f"arn:aws:sts::{server.account_id}:assumed-role/{name('r')}/s1"]
    for arn in missing:
        with expect_error("MalformedPolicyDocumentException",
                          message="Policy contains a statement with one or more invalid principals."):
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=with_principal(arn))
    with expect_error("MalformedPolicyDocumentException"):
        kms.create_key(Policy=with_principal(missing[0]))


def test_admin_refuses_what_it_must(tmp_path):
    data = str(tmp_path / "data")
    os.makedirs(data, mode=0o700)

    def admin(*args):
        return subprocess.run([kms_binary(), "admin", *args, "--data-dir", data], capture_output=True, text=True, timeout=60)

    first = admin("create-account", "--account", "777788889999")
    assert first.returncode == 0, first.stderr
    key_id = first.stdout.split("root access key id ")[1].split(";")[0]
    again = admin("create-account", "--account", "777788889999")
    assert again.returncode != 0 and "already has root credentials" in again.stderr
    assert admin("create-account", "--account", "12345").returncode != 0
    last = admin("deactivate-root-credential", key_id)
    assert last.returncode != 0 and "last root credential" in last.stderr
    rotated = admin("rotate-root-credential", key_id, "--keep-old")
    assert rotated.returncode == 0, rotated.stderr
    assert admin("deactivate-root-credential", key_id).returncode == 0
    listed = admin("list-accounts")
    assert "777788889999" in listed.stdout and key_id not in listed.stdout
    # Secrets only ever go to 0600 files.
    for f in os.listdir(data):
        if f.startswith("credentials-"):
            assert os.stat(os.path.join(data, f)).st_mode & 0o077 == 0
    assert admin("deactivate-root-credential", "AKIANOSUCHKEY0000000").returncode != 0
