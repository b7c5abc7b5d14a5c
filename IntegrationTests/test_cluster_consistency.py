"""Issue 8 §2 and issue 9 §4: two nodes on one PostgreSQL, read-your-writes and fail closed.

Read-your-writes: whatever is created or allowed through node A is usable through node B
on the very next call, with no wait for the change feed: an IAM user's new access key
(B reads an unknown access key ID from the store), a user policy, a grant (a denied
request re-reads the key's grants, the caller's identity policies and the key policy),
an IAM user or role read through IAM/STS on B. Each is tried many times in a row, so a
path that depends on the change feed's timing would fail.

Fail closed: node B reaches PostgreSQL through a link the test cuts. Past the freshness
bound (5 s) B refuses requests with KMSInternalException (HTTP 500) instead of answering
from grants and identities it can no longer confirm; once the link is back, B serves
again and has caught up with what A changed meanwhile.
"""

import json
import os
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from botocore.exceptions import ClientError

from cluster_mode import CuttableLink
from test_cluster import ALLOW_KMS, error_code, start_nodes, until
from test_postgres_storage import pg_url  # noqa: F401 - fixture

pytestmark = pytest.mark.single_node("starts its own PostgreSQL nodes")

MARKER = b"read-your-writes"
TRIALS = 15


def iam_of(node):
    from test_iam import iam_client
    return iam_client(node)


def sts_for(node, access_key, secret_key, token=None):
    import boto3
    from botocore.config import Config
    return boto3.session.Session().client(
        "sts", endpoint_url=node.url, region_name="us-east-1", aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}))


def test_new_access_key_and_policy_on_a_work_on_b_at_once(server_factory, pg_url):
    a, b = start_nodes(server_factory, pg_url)
    iam = iam_of(a)
    key_id = a.client().create_key()["KeyMetadata"]["KeyId"]
    for i in range(TRIALS):
        user = f"ryw-{i}-" + os.urandom(3).hex()
        arn = iam.create_user(UserName=user)["User"]["Arn"]
        iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=ALLOW_KMS)
        access = iam.create_access_key(UserName=user)["AccessKey"]
        # The very next calls go to B: STS names the user, and KMS allows it.
        sts = sts_for(b, access["AccessKeyId"], access["SecretAccessKey"])
        assert sts.get_caller_identity()["Arn"] == arn
        kb = b.client(access_key=access["AccessKeyId"], secret_key=access["SecretAccessKey"])
        assert kb.encrypt(KeyId=key_id, Plaintext=MARKER)["KeyId"].endswith(key_id)


def test_policy_and_grant_made_on_a_allow_on_b_at_once(server_factory, pg_url):
    a, b = start_nodes(server_factory, pg_url)
    iam = iam_of(a)
    ka = a.client()
    key_id = ka.create_key()["KeyMetadata"]["KeyId"]
    blob = ka.encrypt(KeyId=key_id, Plaintext=MARKER)["CiphertextBlob"]
    for i in range(TRIALS):
        user = f"late-{i}-" + os.urandom(3).hex()
        arn = iam.create_user(UserName=user)["User"]["Arn"]
        access = iam.create_access_key(UserName=user)["AccessKey"]
        kb = b.client(access_key=access["AccessKeyId"], secret_key=access["SecretAccessKey"])
        # No policy yet: denied on B (B now holds the user, without policies).
        assert error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) == "AccessDeniedException"
        iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=ALLOW_KMS)
        assert error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) is None
        # A grant without its token: the denied Decrypt on B re-reads the key's grants.
        iam.delete_user_policy(UserName=user, PolicyName="kms")
        # A removal is a revocation: the change feed brings it within its bound (not read-through).
        until(lambda: error_code(lambda: kb.decrypt(CiphertextBlob=blob)) == "AccessDeniedException",
              "B to apply the removed policy")
        ka.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Decrypt"])
        assert kb.decrypt(CiphertextBlob=blob)["Plaintext"] == MARKER


def test_role_created_on_a_is_assumed_on_b_at_once(server_factory, pg_url):
    a, b = start_nodes(server_factory, pg_url)
    iam = iam_of(a)
    user = "assumer-" + os.urandom(3).hex()
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="sts", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    access = iam.create_access_key(UserName=user)["AccessKey"]
    key_id = a.client().create_key()["KeyMetadata"]["KeyId"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]})
    for i in range(TRIALS):
        role = f"r-{i}-" + os.urandom(3).hex()
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName=role, PolicyName="kms", PolicyDocument=ALLOW_KMS)
        # IAM on B sees the role at once.
        assert iam_of(b).get_role(RoleName=role)["Role"]["RoleName"] == role
        creds = sts_for(b, access["AccessKeyId"], access["SecretAccessKey"]).assume_role(
            RoleArn=f"arn:aws:iam::{a.account_id}:role/{role}", RoleSessionName="session")["Credentials"]
        # The session made on B works on A and on B.
        for node in (a, b):
            import boto3
            k = boto3.session.Session().client(
                "kms", endpoint_url=node.url, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
            assert k.encrypt(KeyId=key_id, Plaintext=MARKER)["KeyId"].endswith(key_id)


def _through(link, url):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{parts.username}@127.0.0.1:{link.port}" if parts.username
                       else f"127.0.0.1:{link.port}", parts.path, parts.query, parts.fragment))


def test_store_outage_fails_closed_and_recovers(server_factory, pg_url):
    parts = urlsplit(pg_url)
    link = CuttableLink(parts.hostname, parts.port)
    a = server_factory(name="node-0", extra_args=["--storage", pg_url])
    b = server_factory(name="node-1", start=False, extra_args=[
        "--storage", _through(link, pg_url), "--root-key-file", os.path.join(a.data_dir, "root.key")])
    import shutil
    os.chmod(b.data_dir, 0o700)
    shutil.copy2(a.credentials_path, b.credentials_path)
    os.chmod(b.credentials_path, 0o600)
    b.start()
    iam = iam_of(a)
    user = "outage-" + os.urandom(3).hex()
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=ALLOW_KMS)
    access = iam.create_access_key(UserName=user)["AccessKey"]
    key_id = a.client().create_key()["KeyMetadata"]["KeyId"]
    kb = b.client(access_key=access["AccessKeyId"], secret_key=access["SecretAccessKey"])
    assert kb.encrypt(KeyId=key_id, Plaintext=MARKER)  # cached on B from here on

    link.cut()
    # A deactivates the key while B cannot hear of it.
    iam.update_access_key(UserName=user, AccessKeyId=access["AccessKeyId"], Status="Inactive")
    started = time.monotonic()
    refused = None
    while time.monotonic() - started < 20:
        try:
            kb.encrypt(KeyId=key_id, Plaintext=MARKER)
        except ClientError as exc:
            refused = exc.response
            break
        time.sleep(0.1)
    waited = time.monotonic() - started
    assert refused is not None, "B kept answering from memory it could not confirm for 20 s"
    assert refused["Error"]["Code"] == "KMSInternalException", refused["Error"]
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert waited < 10, f"refused only after {waited:.1f} s (bound 5 s)"
    # Root on B is refused too: the node cannot confirm anything it holds.
    assert error_code(lambda: b.client().encrypt(KeyId=key_id, Plaintext=MARKER)) == "KMSInternalException"
    print(f"\nlink cut: B refused after {waited:.2f} s")

    link.restore()
    started = time.monotonic()
    while True:
        code = error_code(lambda: b.client().encrypt(KeyId=key_id, Plaintext=MARKER))
        if code is None:
            break
        assert time.monotonic() - started < 30, f"B did not recover within 30 s (last {code})"
        time.sleep(0.2)
    print(f"link restored: B served again after {time.monotonic() - started:.2f} s")
    # B caught up with the deactivation made during the outage.
    assert error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) == "UnrecognizedClientException"
