"""Persistence across restarts and sealing of the data directory.

Contract (issue): DIR/credentials (0600, shared-credentials format), DIR/root.key
(0600), DIR/kms.sqlite; restarting on the same DIR keeps everything; SIGTERM stops
the server cleanly; key material and plaintexts never appear unsealed on disk.
"""

import base64
import json
import os
import re
import stat

import pytest

from kms_harness import default_policy, expect_error, poll, unique_alias

MARKER = b"PERSIST-PLAINTEXT-MARKER-3e5d0c"

pytestmark = [pytest.mark.restart, pytest.mark.single_node("restarts on one SQLite data dir and inspects its files")]


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _db_files(data_dir):
    """Every file of the data dir except the root key and credentials."""
    out = []
    for root, _dirs, files in os.walk(data_dir):
        for f in files:
            if f in ("root.key", "credentials"):
                continue
            out.append(os.path.join(root, f))
    return out


def _all_bytes(paths):
    blob = b""
    for p in paths:
        with open(p, "rb") as fh:
            blob += fh.read()
    return blob


def test_data_dir_layout_and_modes(server_factory):
    srv = server_factory()
    for name in ("credentials", "root.key", "kms.sqlite"):
        assert os.path.exists(os.path.join(srv.data_dir, name)), f"{name} missing from data dir"
    assert _mode(os.path.join(srv.data_dir, "credentials")) == 0o600
    assert _mode(os.path.join(srv.data_dir, "root.key")) == 0o600
    with open(os.path.join(srv.data_dir, "root.key"), "rb") as fh:
        assert len(fh.read()) >= 32, "root.key holds less than 256 bits"


def test_credentials_file_format(server_factory):
    srv = server_factory()
    with open(srv.credentials_path, encoding="utf-8") as fh:
        text = fh.read()
    assert re.search(r"^\[default\]\s*$", text, re.M)
    assert re.search(r"^aws_access_key_id\s*=\s*AKIA[A-Z0-9]{16}\s*$", text, re.M)
    assert re.search(r"^aws_secret_access_key\s*=\s*\S+\s*$", text, re.M)
    assert re.search(r"^aws_account_id\s*=\s*000000000000\s*$", text, re.M)


def test_each_fresh_dir_gets_distinct_credentials(server_factory):
    a = server_factory(name="a").root_credentials()
    b = server_factory(name="b").root_credentials()
    assert a.access_key != b.access_key
    assert a.secret_key != b.secret_key


def test_prints_listening_line(server_factory):
    srv = server_factory()
    expected = f"kms: listening on http://127.0.0.1:{srv.port}"

    def printed():
        with open(srv.stdout_path, encoding="utf-8", errors="replace") as fh:
            return expected in fh.read()

    poll(printed, timeout=10, interval=0.1, what=f"stdout line {expected!r} (is stdout flushed?)")


def test_sigterm_exits_cleanly(server_factory):
    srv = server_factory()
    srv.client().create_key()
    rc = srv.stop()
    assert rc == 0, f"SIGTERM should stop the server cleanly (exit 0), got {rc}\n{srv.logs()}"


def test_everything_survives_restart(server_factory):
    srv = server_factory()
    kms = srv.client()
    acct = srv.account_id
    creds_before = srv.root_credentials()

    plain = kms.create_key(Description="plain", Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]
    custom_policy = default_policy(acct)
    custom_policy["Statement"][0]["Sid"] = "Persisted statement"
    with_policy = kms.create_key(Description="policy", Policy=json.dumps(custom_policy))["KeyMetadata"]
    disabled = kms.create_key(Description="disabled")["KeyMetadata"]
    pending = kms.create_key(Description="pending")["KeyMetadata"]
    alias = unique_alias("persist")
    kms.create_alias(AliasName=alias, TargetKeyId=plain["KeyId"])
    kms.update_key_description(KeyId=plain["KeyId"], Description="plain, updated")
    kms.tag_resource(KeyId=plain["KeyId"], Tags=[{"TagKey": "env", "TagValue": "prod"}])

    ct_plain = kms.encrypt(KeyId=alias, Plaintext=MARKER, EncryptionContext={"c": "1"})["CiphertextBlob"]
    ct_disabled = kms.encrypt(KeyId=disabled["KeyId"], Plaintext=b"disabled later")["CiphertextBlob"]
    dk = kms.generate_data_key(KeyId=with_policy["KeyId"], KeySpec="AES_256")
    eu = srv.client(region="eu-west-1")
    eu_key = eu.create_key(Description="eu")["KeyMetadata"]
    ct_eu = eu.encrypt(KeyId=eu_key["KeyId"], Plaintext=b"eu data")["CiphertextBlob"]

    kms.disable_key(KeyId=disabled["KeyId"])
    sched = kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=10)

    before = {k["KeyId"]: kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
              for k in (plain, with_policy, disabled, pending)}

    srv.restart()
    kms = srv.client()
    eu = srv.client(region="eu-west-1")

    # same credentials file, old credentials still valid
    assert srv.root_credentials() == creds_before
    for kid, md in before.items():
        assert kms.describe_key(KeyId=kid)["KeyMetadata"] == md
    assert kms.describe_key(KeyId=pending["KeyId"])["KeyMetadata"]["DeletionDate"] == sched["DeletionDate"]
    listed = {k["KeyId"] for p in kms.get_paginator("list_keys").paginate() for k in p["Keys"]}
    assert set(before) <= listed
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == plain["KeyId"]
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=plain["KeyId"])["Tags"]}
    assert tags == {"team": "a", "env": "prod"}
    assert json.loads(kms.get_key_policy(KeyId=with_policy["KeyId"], PolicyName="default")["Policy"]) == custom_policy
    assert json.loads(kms.get_key_policy(KeyId=plain["KeyId"], PolicyName="default")["Policy"]) == default_policy(acct)

    # old ciphertexts decrypt
    dec = kms.decrypt(CiphertextBlob=ct_plain, EncryptionContext={"c": "1"})
    assert dec["Plaintext"] == MARKER and dec["KeyId"] == plain["Arn"]
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert eu.decrypt(CiphertextBlob=ct_eu)["Plaintext"] == b"eu data"
    with expect_error("DisabledException"):
        kms.decrypt(CiphertextBlob=ct_disabled)
    kms.enable_key(KeyId=disabled["KeyId"])
    assert kms.decrypt(CiphertextBlob=ct_disabled)["Plaintext"] == b"disabled later"
    with expect_error("KMSInvalidStateException"):
        kms.encrypt(KeyId=pending["KeyId"], Plaintext=b"x")
    kms.cancel_key_deletion(KeyId=pending["KeyId"])

    # new work after restart still round-trips, and a second restart keeps it
    ct_new = kms.encrypt(KeyId=plain["KeyId"], Plaintext=b"after restart")["CiphertextBlob"]
    srv.restart()
    kms = srv.client()
    assert kms.decrypt(CiphertextBlob=ct_new)["Plaintext"] == b"after restart"
    assert kms.describe_key(KeyId=pending["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_alias_changes_survive_restart(server_factory):
    srv = server_factory()
    kms = srv.client()
    k1 = kms.create_key()["KeyMetadata"]
    k2 = kms.create_key()["KeyMetadata"]
    moved, deleted = unique_alias("moved"), unique_alias("deleted")
    kms.create_alias(AliasName=moved, TargetKeyId=k1["KeyId"])
    kms.create_alias(AliasName=deleted, TargetKeyId=k1["KeyId"])
    kms.update_alias(AliasName=moved, TargetKeyId=k2["KeyId"])
    kms.delete_alias(AliasName=deleted)
    kms.untag_resource(KeyId=k1["KeyId"], TagKeys=["none"])
    srv.restart()
    kms = srv.client()
    assert kms.describe_key(KeyId=moved)["KeyMetadata"]["KeyId"] == k2["KeyId"]
    with expect_error("NotFoundException"):
        kms.describe_key(KeyId=deleted)


def test_disk_never_holds_plaintexts_or_data_keys(server_factory):
    srv = server_factory()
    kms = srv.client()
    secrets = [MARKER]
    keys = [kms.create_key(Description="sealing")["KeyMetadata"] for _ in range(3)]
    for k in keys:
        kms.encrypt(KeyId=k["KeyId"], Plaintext=MARKER)
        for spec in ("AES_256", "AES_128"):
            secrets.append(kms.generate_data_key(KeyId=k["KeyId"], KeySpec=spec)["Plaintext"])
        secrets.append(kms.generate_data_key(KeyId=k["KeyId"], NumberOfBytes=64)["Plaintext"])
        # the plaintext of a GenerateDataKeyWithoutPlaintext key is only ever seen via Decrypt
        blob = kms.generate_data_key_without_plaintext(KeyId=k["KeyId"], KeySpec="AES_256")["CiphertextBlob"]
        secrets.append(kms.decrypt(CiphertextBlob=blob)["Plaintext"])
    random_bytes = kms.generate_random(NumberOfBytes=64)["Plaintext"]
    secrets.append(random_bytes)

    def check(when):
        files = _db_files(srv.data_dir)
        assert any(os.path.basename(f).startswith("kms.sqlite") for f in files)
        data = _all_bytes(files)
        for s in secrets:
            assert s not in data, f"{when}: a plaintext / data key appears in the database files"
            assert base64.b64encode(s) not in data, f"{when}: a base64 plaintext appears in the database files"
            assert s.hex().encode() not in data and s.hex().upper().encode() not in data, \
                f"{when}: a hex-encoded plaintext appears in the database files"
        with open(os.path.join(srv.data_dir, "root.key"), "rb") as fh:
            root = fh.read()
        if len(root) >= 16:
            assert root not in data, f"{when}: root.key content is copied into the database"

    check("while running")
    srv.stop()
    check("after SIGTERM")
    srv.start()
    kms = srv.client()
    for k in keys:
        assert kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    srv.stop()
    check("after restart")


def test_modes_stay_0600_after_restart(server_factory):
    srv = server_factory()
    srv.client().create_key()
    srv.restart()
    assert _mode(os.path.join(srv.data_dir, "credentials")) == 0o600
    assert _mode(os.path.join(srv.data_dir, "root.key")) == 0o600


def test_restart_on_different_port_same_dir(server_factory):
    srv = server_factory()
    k = srv.client().create_key()["KeyMetadata"]
    srv.stop()
    srv.port = 0  # start() picks a new free port
    srv.start()
    assert srv.client().describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyId"] == k["KeyId"]
