"""Protocol-level and input validation: malformed JSON, unknown operations,
missing/typed parameters, oversized bodies, operations outside this issue.

AWS JSON-1.1 (Coral) behaviour:
  * a body that is not JSON                -> 400 SerializationException
  * a member of the wrong JSON type        -> 400 SerializationException
  * X-Amz-Target naming no operation       -> 400 UnknownOperationException
  * a required member missing              -> 400 ValidationException
    "1 validation error detected: Value null at 'targetKeyId' failed to satisfy
     constraint: Member must not be null"
  * several violations are counted: "2 validation errors detected: ...; ..."
"""

import base64
import json
import socket
import uuid

import pytest
from botocore.exceptions import ClientError

from kms_harness import assert_raw_error, expect_error, raw_call

MARKER = "VALIDATION-PLAINTEXT-MARKER-91b2"


def _alive(kms):
    assert kms.list_keys(Limit=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


# ---------------------------------------------------------------------------
# Raw protocol errors
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\x00garbage", b'{"Limit": 5', b"[1, 2"])
def test_malformed_json(server, kms, body):
    resp = raw_call(server, "ListKeys", body=body)
    assert_raw_error(resp, "SerializationException")
    _alive(kms)


def test_wrong_member_type(server, key):
    resp = raw_call(server, "GenerateRandom", {"NumberOfBytes": "thirty-two"})
    assert_raw_error(resp, "SerializationException")
    resp = raw_call(server, "Encrypt", {"KeyId": key["KeyId"], "Plaintext": 12345})
    assert_raw_error(resp, "SerializationException")


def test_plaintext_not_base64(server, key):
    resp = raw_call(server, "Encrypt", {"KeyId": key["KeyId"], "Plaintext": "!!!not base64!!!"})
    assert resp.status == 400, resp.body
    assert resp.error_code in ("SerializationException", "ValidationException"), resp.body


def test_unknown_operation(server, kms):
    resp = raw_call(server, "Nope", {}, target="TrentService.Nope")
    assert_raw_error(resp, "UnknownOperationException")
    _alive(kms)


def test_unknown_target_service(server):
    resp = raw_call(server, "ListKeys", {}, target="DynamoDB_20120810.ListTables")
    assert_raw_error(resp, "UnknownOperationException")


def test_missing_target_header(server, kms):
    # correctly signed, but no X-Amz-Target at all
    resp = raw_call(server, "ListKeys", {}, target="")
    assert resp.status == 400, resp.body
    assert resp.error_code in ("UnknownOperationException", "SerializationException",
                               "InvalidAction", "ValidationException"), resp.body
    _alive(kms)


def test_empty_json_object_body(server):
    resp = raw_call(server, "ListKeys", body=b"{}")
    assert resp.status == 200, resp.body


def test_oversized_body_refused(server, kms):
    body = b'{"Description": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    try:
        resp = raw_call(server, "CreateKey", body=body)
    except (ConnectionError, socket.timeout, OSError):
        resp = None  # closing the connection on an oversized body is acceptable
    if resp is not None:
        assert 400 <= resp.status < 500, f"oversized body got HTTP {resp.status}"
        assert resp.error_code, resp.body[:300]
    _alive(kms)


# ---------------------------------------------------------------------------
# Required members and range checks (boto3 without client-side validation)
# ---------------------------------------------------------------------------

def test_missing_required_member(kms_loose, key):
    with expect_error("ValidationException",
                      message="1 validation error detected: Value null at 'targetKeyId' failed to satisfy "
                              "constraint: Member must not be null"):
        kms_loose.create_alias(AliasName="alias/missing-target")


def test_missing_key_id(kms_loose):
    with expect_error("ValidationException",
                      message="1 validation error detected: Value null at 'keyId' failed to satisfy "
                              "constraint: Member must not be null"):
        kms_loose.describe_key()


def test_two_validation_errors_are_counted(kms_loose):
    with expect_error("ValidationException", message_prefix="2 validation errors detected: "):
        kms_loose.create_alias()


def test_key_id_too_long(kms_loose):
    with expect_error("ValidationException", message_prefix="1 validation error detected: "):
        kms_loose.describe_key(KeyId="k" * 2049)


def test_empty_key_id(kms_loose):
    with expect_error("ValidationException", message_prefix="1 validation error detected: "):
        kms_loose.describe_key(KeyId="")


def test_encrypt_missing_plaintext(kms_loose, key):
    with expect_error("ValidationException",
                      message="1 validation error detected: Value null at 'plaintext' failed to satisfy "
                              "constraint: Member must not be null"):
        kms_loose.encrypt(KeyId=key["KeyId"])


def test_decrypt_missing_ciphertext(kms_loose):
    with expect_error("ValidationException",
                      message="1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
                              "constraint: Member must not be null"):
        kms_loose.decrypt()


def test_list_aliases_limit_out_of_range(kms_loose):
    with expect_error("ValidationException",
                      message="1 validation error detected: Value '1001' at 'limit' failed to satisfy "
                              "constraint: Member must have value less than or equal to 1000"):
        kms_loose.list_aliases(Limit=1001)


def test_list_resource_tags_limit_out_of_range(kms_loose, key):
    with expect_error("ValidationException",
                      message="1 validation error detected: Value '0' at 'limit' failed to satisfy "
                              "constraint: Member must have value greater than or equal to 1"):
        kms_loose.list_resource_tags(KeyId=key["KeyId"], Limit=0)


# ---------------------------------------------------------------------------
# Plaintext never leaks into error messages
# ---------------------------------------------------------------------------

def test_errors_do_not_echo_plaintext(server, key):
    pt = (MARKER * 200).encode()  # > 4096 bytes
    cases = [
        ("Encrypt", {"KeyId": key["KeyId"], "Plaintext": base64.b64encode(pt).decode()}),
        ("Encrypt", {"KeyId": str(uuid.uuid4()), "Plaintext": base64.b64encode(MARKER.encode()).decode()}),
        ("Encrypt", {"KeyId": "alias/" + uuid.uuid4().hex, "Plaintext": base64.b64encode(MARKER.encode()).decode()}),
        ("Decrypt", {"CiphertextBlob": base64.b64encode(MARKER.encode() * 3).decode()}),
        ("ReEncrypt", {"CiphertextBlob": base64.b64encode(MARKER.encode()).decode(),
                       "DestinationKeyId": key["KeyId"]}),
    ]
    for op, payload in cases:
        resp = raw_call(server, op, payload)
        assert resp.status == 400, (op, resp.body[:300])
        assert MARKER.encode() not in resp.body, f"{op} error echoes the plaintext: {resp.body[:300]!r}"
        assert base64.b64encode(MARKER.encode())[:16] not in resp.body, f"{op} echoes base64 plaintext"


def test_decrypt_error_does_not_echo_plaintext(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=MARKER.encode(), EncryptionContext={"a": "b"})["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "c"})
    assert MARKER not in json.dumps(exc.value.response, default=str)


# ---------------------------------------------------------------------------
# Operations outside this issue answer an AWS-shaped error and do not crash
# ---------------------------------------------------------------------------

def _out_of_scope_calls(key_id):
    return {
        "CreateGrant": lambda c: c.create_grant(KeyId=key_id, GranteePrincipal="arn:aws:iam::000000000000:root",
                                                Operations=["Encrypt"]),
        "ListGrants": lambda c: c.list_grants(KeyId=key_id),
        "Sign": lambda c: c.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"),
        "Verify": lambda c: c.verify(KeyId=key_id, Message=b"m", Signature=b"s",
                                     SigningAlgorithm="RSASSA_PSS_SHA_256"),
        "GetPublicKey": lambda c: c.get_public_key(KeyId=key_id),
        "GenerateMac": lambda c: c.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256"),
        "GenerateDataKeyPair": lambda c: c.generate_data_key_pair(KeyId=key_id, KeyPairSpec="RSA_2048"),
        "CreateCustomKeyStore": lambda c: c.create_custom_key_store(CustomKeyStoreName="x"),
        "ReplicateKey": lambda c: c.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1"),
        "ImportKeyMaterial": lambda c: c.import_key_material(KeyId=key_id, ImportToken=b"t",
                                                             EncryptedKeyMaterial=b"m"),
    }


@pytest.mark.parametrize("op", sorted(_out_of_scope_calls("x")))
def test_out_of_scope_operations_fail_cleanly(kms, key, op):
    call = _out_of_scope_calls(key["KeyId"])[op]
    try:
        call(kms)
    except ClientError as exc:
        err = exc.response
        assert err["Error"].get("Code"), f"{op}: error without a code: {err}"
        status = err["ResponseMetadata"]["HTTPStatusCode"]
        assert 400 <= status < 600, f"{op}: HTTP {status}"
    else:
        # implementing it is fine too
        pass
    _alive(kms)


# ---------------------------------------------------------------------------
# Shape of error responses (JSON 1.1 protocol)
# ---------------------------------------------------------------------------

def test_error_response_shape(server):
    resp = raw_call(server, "DescribeKey", {"KeyId": str(uuid.uuid4())})
    assert resp.status == 400
    assert resp.headers.get("content-type", "").startswith("application/x-amz-json-1.1")
    assert resp.headers.get("x-amzn-requestid")
    body = resp.json
    assert isinstance(body, dict)
    assert body["__type"].split("#")[-1] == "NotFoundException"
    assert "does not exist" in body.get("message", body.get("Message", ""))


def test_request_id_reported_to_boto3(kms, key):
    ok = kms.describe_key(KeyId=key["KeyId"])
    assert ok["ResponseMetadata"].get("RequestId")
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=str(uuid.uuid4()))
    assert exc.value.response["ResponseMetadata"].get("RequestId")


# ---------------------------------------------------------------------------
# Bounded work (issue 7, section 5): JSON members and encryption-context caps
# ---------------------------------------------------------------------------

def test_object_member_cap(server, kms):
    # The probe: 32k members in one authenticated 256 KiB body. Refused, and fast.
    import time
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    n = len(alphabet)

    def name(i):  # 2 or 3 characters, so 32k members fit in 256 KiB
        if i < n * n:
            return alphabet[i // n] + alphabet[i % n]
        return alphabet[(i // n // n) % n] + alphabet[(i // n) % n] + alphabet[i % n]

    body = ("{" + ",".join(f'"{name(i)}":1' for i in range(32768)) + "}").encode()
    assert len({name(i) for i in range(32768)}) == 32768
    assert len(body) < 256 * 1024
    started = time.monotonic()
    resp = raw_call(server, "ListKeys", body=body)
    elapsed = time.monotonic() - started
    assert_raw_error(resp, "SerializationException")
    assert resp.error_message == "JSON object has more than 1000 members"
    assert elapsed < 5, elapsed  # loose: a debug build on a shared machine
    _alive(kms)


def test_duplicate_members_last_one_wins(server, key):
    # Many repeats of one name stay one member (as with Jackson, the last value wins).
    members = ",".join(['"Limit": 1000'] * 15000 + ['"Limit": 1'])
    resp = raw_call(server, "ListKeys", body=("{" + members + "}").encode())
    assert resp.status == 200, resp.body
    assert len(resp.json["Keys"]) == 1


def _context(pairs, value_len=4):
    return {f"k{i:04d}": "v" * value_len for i in range(pairs)}


def test_encryption_context_pair_cap(kms, key):
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=_context(128))
    with expect_error("ValidationException",
                      message="1 validation error detected: Value at 'encryptionContext' failed to satisfy "
                              "constraint: Member must have length less than or equal to 128"):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=_context(129))
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with expect_error("ValidationException"):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=_context(129))
    with expect_error("ValidationException",
                      message_contains="Value at 'destinationEncryptionContext' failed to satisfy constraint"):
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key["KeyId"],
                       DestinationEncryptionContext=_context(129))


def test_encryption_context_size_cap(kms, key):
    # 16 KiB of keys and values (UTF-8 bytes) at most: 8 pairs of 5 + 2043 bytes = 16384.
    ok = {f"key{i}_": "v" * 2043 for i in range(8)}
    assert sum(len(k.encode()) + len(v.encode()) for k, v in ok.items()) == 16384
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=ok)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ok)["Plaintext"] == b"x"
    over = dict(ok)
    over["key0_"] += "é"
    with expect_error("ValidationException",
                      message="1 validation error detected: Value at 'encryptionContext' failed to satisfy "
                              "constraint: Member must have a total size of keys and values less than or "
                              "equal to 16384 bytes"):
        kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext=over)
