"""Issue 8, section 3: `kms backup`, `kms restore`, `kms migrate`.

A backup is a consistent snapshot of the store with every secret still sealed; restoring
it into an empty store (same root key) gives back every key, alias, policy and the
credentials; `kms migrate` moves a single SQLite node onto PostgreSQL.
"""

import base64
import json
import os
import shutil
import stat
import subprocess
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from kms_harness import kms_binary, unique_alias
from test_postgres_storage import pg_url, psql  # noqa: F401 - fixture and helper

pytestmark = pytest.mark.single_node("drives kms backup/restore/migrate on data dirs and databases of its own")

MARKER = b"BACKUP-PLAINTEXT-MARKER-93af"
POLICY = ('{"Version":"2012-10-17","Statement":[{"Sid":"all","Effect":"Allow",'
          '"Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}')


def kms(*args, ok=True):
    out = subprocess.run([kms_binary(), *args], capture_output=True, text=True, timeout=120)
    if ok:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def populate(srv):
    client = srv.client()
    made = []
    for i in range(3):
        key_id = client.create_key(Description=f"backup {i}")["KeyMetadata"]["KeyId"]
        alias = unique_alias(f"bk{i}")
        client.create_alias(AliasName=alias, TargetKeyId=key_id)
        client.put_key_policy(KeyId=key_id, PolicyName="default", Policy=POLICY)
        blob = client.encrypt(KeyId=alias, Plaintext=MARKER)["CiphertextBlob"]
        made.append((key_id, alias, blob))
    client.disable_key(KeyId=made[2][0])
    return made


ALLOW_KMS = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}')
ALLOW_DESCRIBE = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"}]}')
TRUST = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},'
         '"Action":"sts:AssumeRole"}]}')


def populate_identities(srv, made):
    """A user with an access key, an inline and (through a group) a managed policy, a role,
    and a grant to a second user that has no policy of its own."""
    from test_iam import iam_client
    iam = iam_client(srv)
    tag = uuid.uuid4().hex[:6]
    user, grantee, group, role = f"bk-user-{tag}", f"bk-grantee-{tag}", f"bk-group-{tag}", f"bk-role-{tag}"
    iam.create_user(UserName=user, Tags=[{"Key": "team", "Value": "backup"}])
    iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=ALLOW_KMS)
    policy_arn = iam.create_policy(PolicyName=f"bk-describe-{tag}", PolicyDocument=ALLOW_DESCRIBE)["Policy"]["Arn"]
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=policy_arn)
    iam.add_user_to_group(GroupName=group, UserName=user)
    access = iam.create_access_key(UserName=user)["AccessKey"]
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST % srv.account_id,
                               MaxSessionDuration=7200)["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="kms", PolicyDocument=ALLOW_KMS)
    grantee_arn = iam.create_user(UserName=grantee)["User"]["Arn"]
    grantee_key = iam.create_access_key(UserName=grantee)["AccessKey"]
    key_id, _, blob = made[0]
    grant = srv.client().create_grant(KeyId=key_id, GranteePrincipal=grantee_arn, Operations=["Decrypt"], Name="bk")
    # Before the backup: the grant is what lets the grantee decrypt.
    as_grantee = srv.client(access_key=grantee_key["AccessKeyId"], secret_key=grantee_key["SecretAccessKey"])
    assert as_grantee.decrypt(CiphertextBlob=blob)["Plaintext"] == MARKER
    return dict(user=user, grantee=grantee, group=group, role=role, role_arn=role_arn, policy_arn=policy_arn,
                access=access, grantee_key=grantee_key, grant_id=grant["GrantId"])


def check_identities(srv, made, ids):
    """Users, access keys (they authenticate), groups, roles, policies and grants came back."""
    import boto3
    from test_iam import iam_client
    iam = iam_client(srv)
    iam.get_user(UserName=ids["user"])
    assert iam.list_user_tags(UserName=ids["user"])["Tags"] == [{"Key": "team", "Value": "backup"}]
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=ids["user"])["AccessKeyMetadata"]] == [ids["access"]["AccessKeyId"]]
    document = iam.get_user_policy(UserName=ids["user"], PolicyName="kms")["PolicyDocument"]
    assert (json.loads(document) if isinstance(document, str) else document) == json.loads(ALLOW_KMS)
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=ids["user"])["Groups"]] == [ids["group"]]
    assert [p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName=ids["group"])["AttachedPolicies"]] == [ids["policy_arn"]]
    assert iam.get_policy(PolicyArn=ids["policy_arn"])["Policy"]["DefaultVersionId"] == "v1"
    role = iam.get_role(RoleName=ids["role"])["Role"]
    assert role["Arn"] == ids["role_arn"] and role["MaxSessionDuration"] == 7200
    assert iam.list_role_policies(RoleName=ids["role"])["PolicyNames"] == ["kms"]
    # The restored access key authenticates, as the user, with the user's policies.
    as_user = srv.client(access_key=ids["access"]["AccessKeyId"], secret_key=ids["access"]["SecretAccessKey"])
    key_id, _, blob = made[0]
    assert as_user.decrypt(CiphertextBlob=blob)["Plaintext"] == MARKER
    sts = boto3.session.Session().client("sts", endpoint_url=srv.url, region_name="us-east-1",
                                         aws_access_key_id=ids["access"]["AccessKeyId"],
                                         aws_secret_access_key=ids["access"]["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"].endswith(":user/" + ids["user"])
    # The grant is there, and is still what lets the policy-less grantee decrypt.
    grants = srv.client().list_grants(KeyId=key_id)["Grants"]
    assert [(g["GrantId"], g["Name"], g["Operations"]) for g in grants] == [(ids["grant_id"], "bk", ["Decrypt"])]
    as_grantee = srv.client(access_key=ids["grantee_key"]["AccessKeyId"], secret_key=ids["grantee_key"]["SecretAccessKey"])
    assert as_grantee.decrypt(CiphertextBlob=blob)["Plaintext"] == MARKER


def check_restored(srv, made):
    client = srv.client()
    for i, (key_id, alias, blob) in enumerate(made):
        meta = client.describe_key(KeyId=alias)["KeyMetadata"]
        assert meta["KeyId"] == key_id and meta["Description"] == f"backup {i}"
        assert meta["KeyState"] == ("Disabled" if i == 2 else "Enabled")
        assert json.loads(client.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == json.loads(POLICY)
        if i < 2:
            assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == MARKER


def second_node(server_factory, source, extra_args):
    node = server_factory(name="restored-" + uuid.uuid4().hex[:6], start=False,
                          extra_args=["--root-key-file", os.path.join(source.data_dir, "root.key"), *extra_args])
    os.chmod(node.data_dir, 0o700)
    return node


def test_backup_and_restore_sqlite(server_factory, tmp_path):
    src = server_factory(name="source")
    made = populate(src)
    ids = populate_identities(src, made)
    snapshot = str(tmp_path / "snap.json")
    # While the server runs: the snapshot is one read transaction.
    out = kms("backup", "--data-dir", src.data_dir, "--output", snapshot)
    assert "3 key(s)" in out.stdout and "3 alias(es)" in out.stdout
    # 2 users, 2 access keys, a group, a managed policy, a role.
    assert "1 grant(s)" in out.stdout and "7 IAM identities" in out.stdout
    assert stat.S_IMODE(os.stat(snapshot).st_mode) == 0o600
    raw = open(snapshot, "rb").read()
    assert MARKER not in raw
    # Access key secrets stay sealed.
    assert ids["access"]["SecretAccessKey"].encode() not in raw and ids["grantee_key"]["SecretAccessKey"].encode() not in raw
    doc = json.loads(raw)
    assert doc["formatVersion"] == 3  # 3: custom key stores too (issue 14)
    assert len(doc["materials"]) == 3 and all(len(base64.b64decode(m["sealed"])) > 32 for m in doc["materials"])
    # Never overwritten.
    assert kms("backup", "--data-dir", src.data_dir, "--output", snapshot, ok=False).returncode != 0

    dst = second_node(server_factory, src, [])
    kms("restore", "--data-dir", dst.data_dir, "--root-key-file", os.path.join(src.data_dir, "root.key"),
        "--input", snapshot)
    # Into a store that is not empty: refused, nothing written.
    again = kms("restore", "--data-dir", dst.data_dir, "--root-key-file", os.path.join(src.data_dir, "root.key"),
                "--input", snapshot, ok=False)
    assert again.returncode != 0 and "not empty" in again.stderr
    shutil.copy2(src.credentials_path, dst.credentials_path)
    os.chmod(dst.credentials_path, 0o600)
    dst.start()
    check_restored(dst, made)
    check_identities(dst, made, ids)


def test_restore_refuses_a_snapshot_from_a_newer_kms(server_factory, tmp_path):
    src = server_factory(name="source")
    populate(src)
    snapshot = str(tmp_path / "snap.json")
    kms("backup", "--data-dir", src.data_dir, "--output", snapshot)
    doc = json.load(open(snapshot))
    root_key = os.path.join(src.data_dir, "root.key")
    for name, change, words in (("newer.json", {"formatVersion": 99}, "format version 99, newer than this kms reads"),
                                ("unknown.json", {"rotations": []}, "carries 'rotations'")):
        path = str(tmp_path / name)
        with open(path, "w") as fh:
            json.dump({**doc, **change}, fh)
        dst = tmp_path / ("dst-" + name)
        dst.mkdir(mode=0o700)
        out = kms("restore", "--data-dir", str(dst), "--root-key-file", root_key, "--input", path, ok=False)
        assert out.returncode != 0 and words in out.stderr, out.stderr
        assert not os.path.exists(dst / "kms.sqlite")
    # A format-1 snapshot (no grants, no identities) still restores.
    old = {k: v for k, v in doc.items() if k not in ("grants", "identities")}
    old["formatVersion"] = 1
    path = str(tmp_path / "v1.json")
    with open(path, "w") as fh:
        json.dump(old, fh)
    dst = tmp_path / "dst-v1"
    dst.mkdir(mode=0o700)
    kms("restore", "--data-dir", str(dst), "--root-key-file", root_key, "--input", path)


def test_restore_refuses_another_root_key(server_factory, tmp_path):
    src = server_factory(name="source")
    populate(src)
    snapshot = str(tmp_path / "snap.json")
    kms("backup", "--data-dir", src.data_dir, "--output", snapshot)
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    # A fresh data dir: its own, different root key.
    subprocess.run(["python3", "-c", f"import os; fd=os.open('{other}/root.key', os.O_CREAT|os.O_WRONLY, 0o600); "
                    "import base64; os.write(fd, base64.b64encode(os.urandom(32))); os.close(fd)"], check=True)
    out = kms("restore", "--data-dir", str(other), "--input", snapshot, ok=False)
    assert out.returncode != 0 and "another root key" in out.stderr
    assert not os.path.exists(other / "kms.sqlite") or os.path.getsize(other / "kms.sqlite") < 64 * 1024


def test_backup_restore_postgresql_and_migrate_from_sqlite(server_factory, pg_url, tmp_path):
    # A single SQLite node, moved onto PostgreSQL.
    src = server_factory(name="single")
    made = populate(src)
    ids = populate_identities(src, made)
    src.stop()
    kms("migrate", "--data-dir", src.data_dir, "--from", "sqlite:" + os.path.join(src.data_dir, "kms.sqlite"),
        "--to", pg_url)
    assert psql(pg_url, "SELECT count(*) FROM keys") == "3"
    assert psql(pg_url, "SELECT count(*) FROM grants") == "1"
    assert psql(pg_url, "SELECT count(*) FROM iam_identities") == "7"
    node = second_node(server_factory, src, ["--storage", pg_url])
    shutil.copy2(src.credentials_path, node.credentials_path)
    os.chmod(node.credentials_path, 0o600)
    node.start()
    check_restored(node, made)
    check_identities(node, made, ids)

    # Backup of the PostgreSQL store, restored into another (empty) database.
    snapshot = str(tmp_path / "pg.json")
    kms("backup", "--data-dir", node.data_dir, "--root-key-file", os.path.join(src.data_dir, "root.key"),
        "--storage", pg_url, "--output", snapshot)
    name = "kms_it_restore_" + uuid.uuid4().hex[:10]
    psql(pg_url, f'CREATE DATABASE "{name}"')
    parts = urlsplit(pg_url)
    target = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    try:
        kms("restore", "--data-dir", node.data_dir, "--root-key-file", os.path.join(src.data_dir, "root.key"),
            "--storage", target, "--input", snapshot)
        third = second_node(server_factory, src, ["--storage", target])
        shutil.copy2(src.credentials_path, third.credentials_path)
        os.chmod(third.credentials_path, 0o600)
        third.start()
        check_restored(third, made)
        check_identities(third, made, ids)
        third.stop()
    finally:
        psql(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
