"""Key rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
RotateKeyOnDemand, ListKeyRotations, and automatic rotation by the background job.

Sources:
  [API] EnableKeyRotation: RotationPeriodInDays 90..2560, default 365; "Automatic key
        rotation is supported only on symmetric encryption KMS keys."
  [DG] "Perform on-demand key rotation": "a maximum of 25 times per KMS key";
        on-demand rotations "do not change existing automatic rotation schedules".
  [API] ListKeyRotations: Rotations[] with KeyId, KeyMaterialId, KeyMaterialState,
        RotationDate, RotationType AUTOMATIC|ON_DEMAND; Limit/Marker paging.
  [DG] GetKeyRotationStatus on asymmetric/HMAC keys answers KeyRotationEnabled false.

Automatic rotation is observed by restarting a private server with
--lifecycle-clock-offset and --deletion-sweep-interval (the job runs with the sweep).
"""

import base64
import datetime as dt

import pytest

from kms_harness import expect_error, now_utc, poll, unique_alias
from test_audit import events
from test_postgres_storage import pg_url  # noqa: F401 (fixture)

DAY = 86400
NON_SYMMETRIC = "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage."


@pytest.fixture
def key(key):
    """This module names keys by ID (overrides conftest's metadata fixture)."""
    return key["KeyId"]


def _current_material(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]


def test_status_enable_disable_and_period(kms, key):
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is False
    assert "NextRotationDate" not in status
    kms.enable_key_rotation(KeyId=key)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 365
    assert status["KeyId"].endswith(key)
    delta = (status["NextRotationDate"] - now_utc()).total_seconds()
    assert abs(delta - 365 * DAY) < 300
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["RotationPeriodInDays"] == 90
    assert abs((status["NextRotationDate"] - now_utc()).total_seconds() - 90 * DAY) < 300
    assert "OnDemandRotationStartDate" not in status
    kms.disable_key_rotation(KeyId=key)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is False and "NextRotationDate" not in status


@pytest.mark.parametrize("days", [89, 2561])
def test_period_out_of_range(kms_loose, key, days):
    with expect_error("ValidationException"):
        kms_loose.enable_key_rotation(KeyId=key, RotationPeriodInDays=days)


@pytest.mark.parametrize("days", [90, 2560])
def test_period_bounds_accepted(kms, key, days):
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=days)
    assert kms.get_key_rotation_status(KeyId=key)["RotationPeriodInDays"] == days


@pytest.mark.parametrize("spec,usage", [("HMAC_256", "GENERATE_VERIFY_MAC"), ("ECC_NIST_P256", "SIGN_VERIFY"),
                                        ("RSA_2048", "ENCRYPT_DECRYPT")])
def test_only_symmetric_keys_rotate(kms, shared_key, spec, usage):
    kid = shared_key(spec, usage)["KeyId"]
    for op in (kms.enable_key_rotation, kms.disable_key_rotation, kms.rotate_key_on_demand, kms.list_key_rotations):
        with expect_error("UnsupportedOperationException", message=NON_SYMMETRIC):
            op(KeyId=kid)
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False


def test_unknown_key_and_alias(kms):
    with expect_error("NotFoundException"):
        kms.enable_key_rotation(KeyId="11111111-2222-3333-4444-555555555555")
    with expect_error("NotFoundException"):
        kms.get_key_rotation_status(KeyId="alias/nope")


def test_disabled_and_pending_deletion_keys(kms, key):
    kms.disable_key(KeyId=key)
    with expect_error("DisabledException"):
        kms.enable_key_rotation(KeyId=key)
    with expect_error("DisabledException"):
        kms.rotate_key_on_demand(KeyId=key)
    kms.enable_key(KeyId=key)
    kms.enable_key_rotation(KeyId=key)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    with expect_error("KMSInvalidStateException"):
        kms.rotate_key_on_demand(KeyId=key)
    kms.cancel_key_deletion(KeyId=key)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True


def test_on_demand_rotation_paging_reencrypt_and_limit(kms, key):
    alias = unique_alias("rot")
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "team", "TagValue": "a"}])
    policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    first = kms.encrypt(KeyId=key, Plaintext=b"first")["CiphertextBlob"]
    first_material = _current_material(kms, key)
    assert kms.list_key_rotations(KeyId=key)["Rotations"] == []

    for _ in range(25):
        assert kms.rotate_key_on_demand(KeyId=key)["KeyId"] == arn
    with expect_error("LimitExceededException"):
        kms.rotate_key_on_demand(KeyId=key)

    current = _current_material(kms, key)
    assert current != first_material
    out = kms.decrypt(CiphertextBlob=first)
    assert out["Plaintext"] == b"first" and out["KeyMaterialId"] == first_material
    # identity, alias, tags and policy are unchanged
    md = kms.describe_key(KeyId=alias)["KeyMetadata"]
    assert md["Arn"] == arn and md["KeyState"] == "Enabled"
    assert kms.list_resource_tags(KeyId=key)["Tags"] == [{"TagKey": "team", "TagValue": "a"}]
    assert kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"] == policy
    # ReEncrypt moves the old ciphertext onto the current material
    moved = kms.re_encrypt(CiphertextBlob=first, DestinationKeyId=alias)
    assert moved["SourceKeyMaterialId"] == first_material and moved["DestinationKeyMaterialId"] == current
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["KeyMaterialId"] == current

    # paging 10 at a time: 25 ON_DEMAND rotations, oldest first, the last one CURRENT
    entries, marker, pages = [], None, 0
    while True:
        kw = {"KeyId": key, "Limit": 10}
        if marker:
            kw["Marker"] = marker
        page = kms.list_key_rotations(**kw)
        pages += 1
        assert len(page["Rotations"]) <= 10
        entries += page["Rotations"]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert pages == 3 and len(entries) == 25
    assert len({e["KeyMaterialId"] for e in entries}) == 25
    assert all(e["RotationType"] == "ON_DEMAND" and e["KeyId"] == key for e in entries)
    assert [e["KeyMaterialState"] for e in entries] == ["NON_CURRENT"] * 24 + ["CURRENT"]
    assert entries[-1]["KeyMaterialId"] == current
    dates = [e["RotationDate"] for e in entries]
    assert dates == sorted(dates)
    # the paginator agrees; ALL_KEY_MATERIAL adds the original material first
    via_paginator = [e for p in kms.get_paginator("list_key_rotations").paginate(KeyId=key) for e in p["Rotations"]]
    assert [e["KeyMaterialId"] for e in via_paginator] == [e["KeyMaterialId"] for e in entries]
    everything = kms.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL", Limit=100)["Rotations"]
    assert len(everything) == 26 and everything[0]["KeyMaterialId"] == first_material
    assert "RotationDate" not in everything[0]


def test_list_key_rotations_bad_marker_and_limit(kms, kms_loose, key):
    with expect_error("InvalidMarkerException"):
        kms.list_key_rotations(KeyId=key, Marker="bogus")
    with expect_error("ValidationException"):
        kms_loose.list_key_rotations(KeyId=key, Limit=0)


def test_aws_cli_rotation(server, key, tmp_path):
    import json
    import os
    import subprocess
    creds = server.root_credentials()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    base = ["aws", "kms", "--endpoint-url", server.url, "--output", "json"]
    subprocess.run(base + ["enable-key-rotation", "--key-id", key, "--rotation-period-in-days", "180"],
                   env=env, check=True, capture_output=True)
    subprocess.run(base + ["rotate-key-on-demand", "--key-id", key], env=env, check=True, capture_output=True)
    out = json.loads(subprocess.run(base + ["get-key-rotation-status", "--key-id", key], env=env, check=True,
                                    capture_output=True, text=True).stdout)
    assert out["KeyRotationEnabled"] is True and out["RotationPeriodInDays"] == 180
    out = json.loads(subprocess.run(base + ["list-key-rotations", "--key-id", key], env=env, check=True,
                                    capture_output=True, text=True).stdout)
    assert [r["RotationType"] for r in out["Rotations"]] == ["ON_DEMAND"]


@pytest.mark.single_node("its audit event is in the trail of the node that served the call")
def test_on_demand_rotation_is_a_rotate_key_service_event(server, kms, key):
    """CloudTrail writes a RotateKey AwsServiceEvent when on-demand rotation completes, as for
    automatic rotation ([DG] "RotateKey" CloudTrail example: serviceEventDetails rotationType,
    keyOrigin, previousKeyMaterialId, currentKeyMaterialId); a refused rotation writes none."""
    arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    before = _current_material(kms, key)
    kms.rotate_key_on_demand(KeyId=key)
    after = _current_material(kms, key)

    def rotate_events():
        return [e for e in events(server.data_dir) if e.get("eventType") == "AwsServiceEvent"
                and e["eventName"] == "RotateKey" and e["resources"][0]["ARN"] == arn]
    found = poll(rotate_events, timeout=10, interval=0.1, what="the RotateKey service event")
    assert len(found) == 1
    assert found[0]["serviceEventDetails"] == {"rotationType": "ON_DEMAND", "keyOrigin": "AWS_KMS",
                                               "previousKeyMaterialId": before, "currentKeyMaterialId": after}
    assert found[0]["userIdentity"]["invokedBy"] == "kms.amazonaws.com" and found[0]["readOnly"] is False
    kms.disable_key(KeyId=key)
    with expect_error("DisabledException"):
        kms.rotate_key_on_demand(KeyId=key)
    assert len(rotate_events()) == 1


@pytest.mark.single_node("its audit event is in the job-lease holder's trail")
@pytest.mark.restart
def test_automatic_rotation_when_due(server_factory):
    srv = server_factory(extra_args=["--deletion-sweep-interval", "0.2"])
    kms = srv.client()
    due = kms.create_key(Description="90 days")["KeyMetadata"]
    later = kms.create_key(Description="365 days")["KeyMetadata"]
    off = kms.create_key(Description="rotation disabled")["KeyMetadata"]
    disabled = kms.create_key(Description="key disabled")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=due["KeyId"], RotationPeriodInDays=90)
    kms.enable_key_rotation(KeyId=later["KeyId"])
    kms.enable_key_rotation(KeyId=disabled["KeyId"], RotationPeriodInDays=90)
    kms.disable_key(KeyId=disabled["KeyId"])
    old = kms.encrypt(KeyId=due["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    first_material = _current_material(kms, due["KeyId"])
    materials = {k["KeyId"]: _current_material(kms, k["KeyId"]) for k in (later, off, disabled)}

    # 91 days later: only the 90-day key that is enabled falls due
    srv.restart(extra_args=["--lifecycle-clock-offset", str(91 * DAY), "--deletion-sweep-interval", "0.2"])
    kms = srv.client()
    poll(lambda: kms.list_key_rotations(KeyId=due["KeyId"])["Rotations"], timeout=20, interval=0.2,
         what="the due key to rotate")
    rotations = kms.list_key_rotations(KeyId=due["KeyId"])["Rotations"]
    assert len(rotations) == 1 and rotations[0]["RotationType"] == "AUTOMATIC"
    current = _current_material(kms, due["KeyId"])
    assert current != first_material and rotations[0]["KeyMaterialId"] == current
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms.encrypt(KeyId=due["KeyId"], Plaintext=b"x")["KeyId"] == due["Arn"]
    status = kms.get_key_rotation_status(KeyId=due["KeyId"])
    assert abs((status["NextRotationDate"] - now_utc()).total_seconds() - (91 + 90) * DAY) < 600
    for kid, material in materials.items():
        assert _current_material(kms, kid) == material, kid
        assert kms.list_key_rotations(KeyId=kid)["Rotations"] == []
    # each automatic rotation is an AwsServiceEvent in the audit trail
    found = [e for e in events(srv.data_dir) if e.get("eventType") == "AwsServiceEvent" and e["eventName"] == "RotateKey"]
    assert len(found) == 1 and found[0]["resources"][0]["ARN"] == due["Arn"]
    assert found[0]["userIdentity"]["invokedBy"] == "kms.amazonaws.com"
    assert found[0]["serviceEventDetails"]["rotationType"] == "AUTOMATIC"


@pytest.mark.restart
def test_rotation_persists_on_postgresql(server_factory, pg_url):
    """Rotation state and rotated material survive a restart on PostgreSQL (run under scripts/with-postgres)."""
    srv = server_factory(extra_args=["--storage", pg_url])
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    old = kms.encrypt(KeyId=kid, Plaintext=b"before")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=120)
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=kid)
    current = _current_material(kms, kid)
    srv.restart()
    kms = srv.client()
    assert _current_material(kms, kid) == current
    status = kms.get_key_rotation_status(KeyId=kid)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 120
    rotations = kms.list_key_rotations(KeyId=kid)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"] * 3 and rotations[-1]["KeyMaterialId"] == current
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
