"""ScheduleKeyDeletion / CancelKeyDeletion and the deletion sweep.

Sources:
  [API] ScheduleKeyDeletion: "If you include a value, it must be between 7 and 30,
        inclusive. If you do not include a value, it defaults to 30."  Response:
        KeyId (the key ARN), DeletionDate, KeyState, PendingWindowInDays.
        "After the waiting period ends, KMS deletes the KMS key, its key material,
        and all KMS data associated with it, including all aliases that refer to it."
  [API] CancelKeyDeletion: "When this operation succeeds, the key state of the KMS
        key is Disabled." Response KeyId is the key ARN.
  [API] KeyMetadata.DeletionDate: present only when KeyState is PendingDeletion;
        PendingDeletionWindowInDays only for PendingReplicaDeletion.

The sweep tests restart a private server with --lifecycle-clock-offset and
--deletion-sweep-interval (testing-only flags of this server).
"""

import datetime as dt
import uuid

import pytest
from botocore.exceptions import ClientError

from kms_harness import expect_error, now_utc, poll, unique_alias

DAY = 86400


def _assert_deletion_date(date, days, offset_seconds=0):
    expected = now_utc() + dt.timedelta(days=days, seconds=offset_seconds)
    assert isinstance(date, dt.datetime)
    # AWS may round the date; allow up to one day of slack but never fewer days
    delta = (date - expected).total_seconds()
    assert -300 <= delta <= DAY, f"DeletionDate {date} not ~{days} days after now (+{offset_seconds}s)"


@pytest.mark.parametrize("days", [7, 15, 30])
def test_schedule_key_deletion(kms, key, days):
    resp = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=days)
    assert resp["KeyId"] == key["Arn"]
    assert resp["KeyState"] == "PendingDeletion"
    assert resp["PendingWindowInDays"] == days
    _assert_deletion_date(resp["DeletionDate"], days)
    md = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert md["KeyState"] == "PendingDeletion"
    assert md["Enabled"] is False
    assert md["DeletionDate"] == resp["DeletionDate"]
    assert "PendingDeletionWindowInDays" not in md


def test_schedule_key_deletion_default_window_is_30(kms, key):
    resp = kms.schedule_key_deletion(KeyId=key["KeyId"])
    assert resp["PendingWindowInDays"] == 30
    _assert_deletion_date(resp["DeletionDate"], 30)


def test_schedule_key_deletion_by_arn(kms, key):
    resp = kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    assert resp["KeyId"] == key["Arn"]


def test_schedule_disabled_key(kms, key):
    kms.disable_key(KeyId=key["KeyId"])
    resp = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert resp["KeyState"] == "PendingDeletion"


@pytest.mark.parametrize("days", [0, 6, 31, 365])
def test_schedule_key_deletion_window_out_of_range(kms_loose, key, days):
    # [API] 7..30 inclusive. (AWS's own wording for this check is not stable enough
    # to pin; the code and HTTP status are.)
    with expect_error("ValidationException"):
        kms_loose.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=days)
    assert kms_loose.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_schedule_key_deletion_window_message_form(kms_loose, key):
    # Issue asks for AWS's "1 validation error detected: Value ... at '...' failed to
    # satisfy constraint: ..." form for this check.
    with expect_error("ValidationException",
                      message_prefix="1 validation error detected: Value '6' at 'pendingWindowInDays' "
                                     "failed to satisfy constraint: "):
        kms_loose.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=6)


def test_schedule_key_deletion_twice(kms, key):
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with expect_error("KMSInvalidStateException", message=f"{key['Arn']} is pending deletion."):
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_schedule_key_deletion_unknown_key(kms):
    with expect_error("NotFoundException"):
        kms.schedule_key_deletion(KeyId=str(uuid.uuid4()), PendingWindowInDays=7)


def test_cancel_key_deletion_leaves_key_disabled(kms, key):
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    resp = kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert resp["KeyId"] == key["Arn"]
    md = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert md["KeyState"] == "Disabled"
    assert md["Enabled"] is False
    assert "DeletionDate" not in md
    with expect_error("DisabledException"):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_cancel_key_deletion_by_arn(kms, key):
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert kms.cancel_key_deletion(KeyId=key["Arn"])["KeyId"] == key["Arn"]


def test_cancel_key_deletion_not_pending(kms, key):
    with expect_error("KMSInvalidStateException", message=f"{key['Arn']} is not pending deletion."):
        kms.cancel_key_deletion(KeyId=key["KeyId"])


def test_cancel_key_deletion_unknown_key(kms):
    with expect_error("NotFoundException"):
        kms.cancel_key_deletion(KeyId=str(uuid.uuid4()))


def test_pending_deletion_key_state_rules(kms, key):
    kid = key["KeyId"]
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    pending = f"{key['Arn']} is pending deletion."
    with expect_error("KMSInvalidStateException", message=pending):
        kms.enable_key(KeyId=kid)
    with expect_error("KMSInvalidStateException", message=pending):
        kms.disable_key(KeyId=kid)
    with expect_error("KMSInvalidStateException", message=pending):
        kms.update_key_description(KeyId=kid, Description="x")
    # still visible to read-only operations
    assert kid in [k["KeyId"] for p in kms.get_paginator("list_keys").paginate() for k in p["Keys"]]
    kms.get_key_policy(KeyId=kid, PolicyName="default")
    kms.list_resource_tags(KeyId=kid)
    kms.list_key_policies(KeyId=kid)


def test_alias_survives_until_deletion_and_can_be_deleted(kms, key):
    name = unique_alias("pending")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    with expect_error("KMSInvalidStateException"):
        kms.encrypt(KeyId=name, Plaintext=b"x")
    kms.delete_alias(AliasName=name)


# ---------------------------------------------------------------------------
# Deletion sweep with the lifecycle clock (private servers)
# ---------------------------------------------------------------------------

@pytest.mark.restart
def test_deletion_sweep_after_waiting_period(server_factory):
    srv = server_factory()
    kms = srv.client()
    doomed = kms.create_key(Description="doomed")["KeyMetadata"]
    survivor = kms.create_key(Description="30 days")["KeyMetadata"]
    cancelled = kms.create_key(Description="cancelled")["KeyMetadata"]
    untouched = kms.create_key(Description="untouched")["KeyMetadata"]
    doomed_alias, survivor_alias = unique_alias("doomed"), unique_alias("survivor")
    kms.create_alias(AliasName=doomed_alias, TargetKeyId=doomed["KeyId"])
    kms.create_alias(AliasName=survivor_alias, TargetKeyId=survivor["KeyId"])
    kms.tag_resource(KeyId=doomed["KeyId"], Tags=[{"TagKey": "t", "TagValue": "v"}])
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    kms.schedule_key_deletion(KeyId=survivor["KeyId"], PendingWindowInDays=30)
    kms.schedule_key_deletion(KeyId=cancelled["KeyId"], PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=cancelled["KeyId"])

    # ~8.1 days later
    srv.restart(extra_args=["--lifecycle-clock-offset", "700000", "--deletion-sweep-interval", "1"])
    kms = srv.client()

    def gone():
        try:
            kms.describe_key(KeyId=doomed["KeyId"])
            return False
        except kms.exceptions.NotFoundException:
            return True

    poll(gone, timeout=20, interval=0.25, what="the 7-day key to be swept")
    with expect_error("NotFoundException",
                      message=f"Key '{doomed['Arn']}' does not exist"):
        kms.describe_key(KeyId=doomed["KeyId"])
    listed = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate() for k in p["Keys"]]
    assert doomed["KeyId"] not in listed
    assert {survivor["KeyId"], cancelled["KeyId"], untouched["KeyId"]} <= set(listed)
    # aliases that referred to the deleted key are deleted with it
    names = [a["AliasName"] for p in kms.get_paginator("list_aliases").paginate() for a in p["Aliases"]]
    assert doomed_alias not in names
    assert survivor_alias in names
    with expect_error("NotFoundException"):
        kms.describe_key(KeyId=doomed_alias)
    with expect_error("NotFoundException"):
        kms.list_resource_tags(KeyId=doomed["KeyId"])
    # the others are untouched
    assert kms.describe_key(KeyId=survivor["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert kms.describe_key(KeyId=cancelled["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert kms.describe_key(KeyId=untouched["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


@pytest.mark.restart
def test_deleted_key_ciphertext_cannot_be_decrypted(server_factory):
    srv = server_factory()
    kms = srv.client()
    k = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=k["KeyId"], Plaintext=b"lost forever")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=7)
    srv.restart(extra_args=["--lifecycle-clock-offset", "700000", "--deletion-sweep-interval", "1"])
    kms = srv.client()

    def undecryptable():
        try:
            kms.decrypt(CiphertextBlob=blob)
        except ClientError as exc:
            return exc.response["Error"]["Code"] in ("NotFoundException", "InvalidCiphertextException")
        return False

    poll(undecryptable, timeout=20, interval=0.25, what="decrypt to fail after deletion")


@pytest.mark.restart
def test_lifecycle_clock_offset_shifts_dates_not_sigv4(server_factory):
    offset = 3 * DAY
    srv = server_factory(extra_args=["--lifecycle-clock-offset", str(offset)])
    kms = srv.client()  # real SigV4 with the real clock still works
    md = kms.create_key()["KeyMetadata"]
    shifted = (md["CreationDate"] - now_utc()).total_seconds()
    assert abs(shifted - offset) < 300, f"CreationDate not shifted by {offset}s (got {shifted}s)"
    resp = kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    _assert_deletion_date(resp["DeletionDate"], 7, offset_seconds=offset)


@pytest.mark.restart
def test_sweep_does_not_delete_early(server_factory):
    # 6 days later a 7-day key is still pending deletion
    srv = server_factory()
    kms = srv.client()
    k = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=7)
    srv.restart(extra_args=["--lifecycle-clock-offset", str(6 * DAY), "--deletion-sweep-interval", "1"])
    kms = srv.client()
    def deleted_or_changed():
        try:
            return kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
        except kms.exceptions.NotFoundException:
            return True

    # give the sweep a few chances to run (bounded poll that must time out)
    with pytest.raises(AssertionError, match="timed out"):
        poll(deleted_or_changed, timeout=3, interval=0.5, what="(should not happen) early deletion")
    assert kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
