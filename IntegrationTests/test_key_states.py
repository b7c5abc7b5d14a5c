"""The key state table, compactly, over boto3: each state against a cryptographic call, a
management call, a read, a grant, rotation settings and CancelKeyDeletion.

Source: [DG] "Key states of AWS KMS keys",
https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html (the table and its notes:
[1] DisabledException "<key ARN> is disabled.", [3] KMSInvalidStateException "<key ARN> is pending
deletion.", [4] "... is not pending deletion.", [5] "... is pending import.", [6]
UnsupportedOperationException "<key ARN> origin is EXTERNAL which is not valid for this operation.").
The full table, row by row, is Tests/KMSCoreTests/KeyStateTableTests.swift.
"""

import pytest

from kms_harness import expect_error

OK = None
DISABLED = ("DisabledException", "is disabled.")
PENDING_DELETION = ("KMSInvalidStateException", "is pending deletion.")
PENDING_IMPORT = ("KMSInvalidStateException", "is pending import.")
NOT_PENDING_DELETION = ("KMSInvalidStateException", "is not pending deletion.")
EXTERNAL_ORIGIN = ("UnsupportedOperationException", "origin is EXTERNAL which is not valid for this operation.")


def _encrypt(kms, kid):
    kms.encrypt(KeyId=kid, Plaintext=b"x")


def _tag(kms, kid):
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "state", "TagValue": "x"}])


def _describe(kms, kid):
    kms.describe_key(KeyId=kid)


def _grant(kms, kid):
    account = kms.describe_key(KeyId=kid)["KeyMetadata"]["AWSAccountId"]
    kms.create_grant(KeyId=kid, GranteePrincipal=f"arn:aws:iam::{account}:root", Operations=["Decrypt"])


def _enable_rotation(kms, kid):
    kms.enable_key_rotation(KeyId=kid)


def _cancel_deletion(kms, kid):
    kms.cancel_key_deletion(KeyId=kid)


#            operation          Enabled  Disabled   PendingImport    PendingDeletion
TABLE = [
    (_encrypt, OK, DISABLED, PENDING_IMPORT, PENDING_DELETION),
    (_tag, OK, OK, OK, PENDING_DELETION),
    (_describe, OK, OK, OK, OK),
    (_grant, OK, DISABLED, PENDING_IMPORT, PENDING_DELETION),
    (_enable_rotation, OK, DISABLED, EXTERNAL_ORIGIN, PENDING_DELETION),
    (_cancel_deletion, NOT_PENDING_DELETION, NOT_PENDING_DELETION, NOT_PENDING_DELETION, OK),
]
STATES = ["Enabled", "Disabled", "PendingImport", "PendingDeletion"]


def _key_in(kms, state):
    if state == "PendingImport":
        kid = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    else:
        kid = kms.create_key()["KeyMetadata"]["KeyId"]
    if state == "Disabled":
        kms.disable_key(KeyId=kid)
    elif state == "PendingDeletion":
        kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    meta = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert meta["KeyState"] == state
    return kid, meta["Arn"]


@pytest.mark.parametrize("row", TABLE, ids=[r[0].__name__.lstrip("_") for r in TABLE])
def test_key_state_table(kms, row):
    op = row[0]
    for state, expected in zip(STATES, row[1:]):
        kid, arn = _key_in(kms, state)
        if expected is OK:
            op(kms, kid)
            continue
        code, suffix = expected
        with expect_error(code, message=f"{arn} {suffix}"):
            op(kms, kid)


def test_refused_grant_leaves_no_grant(kms):
    kid, _ = _key_in(kms, "Disabled")
    with expect_error("DisabledException"):
        _grant(kms, kid)
    assert kms.list_grants(KeyId=kid)["Grants"] == []
    kms.enable_key(KeyId=kid)
    _grant(kms, kid)
    assert len(kms.list_grants(KeyId=kid)["Grants"]) == 1
