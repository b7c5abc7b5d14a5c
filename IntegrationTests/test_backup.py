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
    snapshot = str(tmp_path / "snap.json")
    # While the server runs: the snapshot is one read transaction.
    out = kms("backup", "--data-dir", src.data_dir, "--output", snapshot)
    assert "3 key(s)" in out.stdout and "3 alias(es)" in out.stdout
    assert stat.S_IMODE(os.stat(snapshot).st_mode) == 0o600
    raw = open(snapshot, "rb").read()
    assert MARKER not in raw
    doc = json.loads(raw)
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
    src.stop()
    kms("migrate", "--data-dir", src.data_dir, "--from", "sqlite:" + os.path.join(src.data_dir, "kms.sqlite"),
        "--to", pg_url)
    assert psql(pg_url, "SELECT count(*) FROM keys") == "3"
    node = second_node(server_factory, src, ["--storage", pg_url])
    shutil.copy2(src.credentials_path, node.credentials_path)
    os.chmod(node.credentials_path, 0o600)
    node.start()
    check_restored(node, made)

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
        third.stop()
    finally:
        psql(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
