"""Deleted key material is gone from disk (issue 7, section 7).

The server opens SQLite with `PRAGMA secure_delete = ON` (deleted rows are overwritten
with zeros) and runs `PRAGMA wal_checkpoint(TRUNCATE)` after every deletion (the WAL
frames that once inserted the row are cut away). This test finds a key's sealed material
row in the data dir, lets the deletion sweep remove the key (test clock offset, hidden
flags as in test_lifecycle.py), and then searches every file of the data dir for the
sealed bytes, every 16-byte slice of them, and the key ID.
"""

import os
import shutil
import sqlite3

import pytest

from kms_harness import poll

pytestmark = pytest.mark.single_node("inspects the SQLite data dir's files for erased bytes")

DAY = 86400


def sealed_rows(data_dir: str, tmp_path, key_id: str):
    copy = tmp_path / "dbcopy"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    for name in os.listdir(data_dir):
        if name.startswith("kms.sqlite"):
            shutil.copy(os.path.join(data_dir, name), copy / name)
    db = sqlite3.connect(str(copy / "kms.sqlite"))
    try:
        return [bytes(r[0]) for r in db.execute("SELECT sealed FROM key_materials WHERE key_id = ?", (key_id,))]
    finally:
        db.close()


def files_containing(data_dir: str, needle: bytes):
    found = []
    for root, _, files in os.walk(data_dir):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                if needle in fh.read():
                    found.append(os.path.relpath(path, data_dir))
    return sorted(found)


@pytest.mark.restart
def test_deleted_key_leaves_no_sealed_bytes_on_disk(server_factory, tmp_path):
    srv = server_factory()
    kms = srv.client()
    doomed = kms.create_key(Description="doomed")["KeyMetadata"]
    kept = kms.create_key(Description="kept")["KeyMetadata"]
    blob = kms.encrypt(KeyId=kept["KeyId"], Plaintext=b"still here")["CiphertextBlob"]
    rows = sealed_rows(srv.data_dir, tmp_path, doomed["KeyId"])
    assert len(rows) == 1 and len(rows[0]) == 12 + 32 + 16
    sealed = rows[0]
    # The probe works: before deletion the sealed row is on disk (database or WAL).
    assert files_containing(srv.data_dir, sealed), "sealed row not found on disk before deletion"
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)

    srv.restart(extra_args=["--lifecycle-clock-offset", str(8 * DAY), "--deletion-sweep-interval", "1"])
    kms = srv.client()

    def gone():
        try:
            kms.describe_key(KeyId=doomed["KeyId"])
            return False
        except kms.exceptions.NotFoundException:
            return True

    poll(gone, timeout=20, interval=0.25, what="the key to be swept")
    # While the server is still running (its WAL and shm files exist):
    assert files_containing(srv.data_dir, sealed) == []
    for start in range(0, len(sealed) - 15):
        assert files_containing(srv.data_dir, sealed[start:start + 16]) == [], f"16-byte slice at {start}"
    # The key's ID is gone from the store's files; the audit trail keeps naming it on
    # purpose (who used and deleted which key is what it is for), and never held its material.
    assert [f for f in files_containing(srv.data_dir, doomed["KeyId"].encode()) if not f.startswith("audit/")] == []
    assert files_containing(srv.data_dir, doomed["KeyId"].encode()), "the audit trail should record the deletion"
    # The other key is intact, before and after a restart.
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still here"
    srv.restart(extra_args=[])
    assert files_containing(srv.data_dir, sealed) == []
    assert srv.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"still here"
