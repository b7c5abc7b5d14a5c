"""HMAC KMS keys: GenerateMac / VerifyMac for HMAC_224/256/384/512.

Where the key is knowable: only for imported material. A generated HMAC key's material
never leaves KMS (there is no export), so no MAC of these keys can be recomputed outside;
test_import_key_material.py imports known HMAC material and recomputes the server's MAC
with Python's hmac. This suite therefore checks what is observable:
output length = digest length of the algorithm, determinism (HMAC is a function of key
and message), key separation, round trips, and every failure mode.

Sources:
  [API]  AWS KMS API Reference, GenerateMac / VerifyMac: Message up to 4,096 bytes;
         "This is the standard, raw HMAC defined in RFC 2104"; "If the HMAC is not
         verified, the VerifyMac operation fails with a KMSInvalidMacException"; the
         MacAlgorithm "must be compatible with the HMAC KMS key that you specify".
  [LS]   LocalStack snapshots recorded against AWS (tests/aws/services/kms/
         test_kms.snapshot.json): test_generate_and_verify_mac, test_invalid_generate_mac
         ("Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224." and the
         macAlgorithm enum message), test_invalid_verify_mac (KMSInvalidMacException with
         an empty message), test_error_messaging_for_invalid_keys ("<key-arn> key usage is
         ENCRYPT_DECRYPT which is not valid for GenerateMac."),
         (CreateKey HMAC_256 without KeyUsage: test_asymmetric_keys.py).
"""

import os

import pytest

from kms_harness import DEFAULT_REGION, alias_arn, expect_error, unique_alias

SPECS = {"HMAC_224": ("HMAC_SHA_224", 28), "HMAC_256": ("HMAC_SHA_256", 32),
         "HMAC_384": ("HMAC_SHA_384", 48), "HMAC_512": ("HMAC_SHA_512", 64)}
MACS = ["HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"]
MESSAGE = b"hmac message \x00\xff" * 10


@pytest.fixture(scope="module")
def hmac_key(shared_key):
    return lambda spec: shared_key(spec, "GENERATE_VERIFY_MAC")


@pytest.mark.parametrize("spec", SPECS)
def test_generate_and_verify_mac(kms, hmac_key, spec):
    md = hmac_key(spec)
    alg, length = SPECS[spec]
    assert md["MacAlgorithms"] == [alg]
    gen = kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm=alg)
    assert gen["KeyId"] == md["Arn"]
    assert gen["MacAlgorithm"] == alg
    assert len(gen["Mac"]) == length
    ver = kms.verify_mac(KeyId=md["KeyId"], Message=MESSAGE, Mac=gen["Mac"], MacAlgorithm=alg)
    assert ver["MacValid"] is True
    assert ver["KeyId"] == md["Arn"]
    assert ver["MacAlgorithm"] == alg


@pytest.mark.parametrize("spec", SPECS)
def test_mac_is_deterministic_and_message_bound(kms, hmac_key, spec):
    md = hmac_key(spec)
    alg, _ = SPECS[spec]
    a = kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm=alg)["Mac"]
    b = kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm=alg)["Mac"]
    c = kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE + b".", MacAlgorithm=alg)["Mac"]
    assert a == b
    assert a != c


def test_keys_of_the_same_spec_are_independent(kms, hmac_key, new_key):
    md = hmac_key("HMAC_256")
    other = new_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    mac = kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    mac_other = kms.generate_mac(KeyId=other["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac != mac_other
    with expect_error("KMSInvalidMacException"):
        kms.verify_mac(KeyId=other["KeyId"], Message=MESSAGE, Mac=mac, MacAlgorithm="HMAC_SHA_256")


@pytest.mark.parametrize("size", [1, 4096])
def test_message_size_limits(kms, hmac_key, size):
    md = hmac_key("HMAC_384")
    msg = os.urandom(size)
    mac = kms.generate_mac(KeyId=md["KeyId"], Message=msg, MacAlgorithm="HMAC_SHA_384")["Mac"]
    assert kms.verify_mac(KeyId=md["KeyId"], Message=msg, Mac=mac, MacAlgorithm="HMAC_SHA_384")["MacValid"] is True


@pytest.mark.parametrize("op", ["generate_mac", "verify_mac"])
@pytest.mark.parametrize("size", [0, 4097])
def test_message_out_of_range(kms_loose, hmac_key, op, size):
    md = hmac_key("HMAC_256")
    kw = dict(KeyId=md["KeyId"], Message=b"m" * size, MacAlgorithm="HMAC_SHA_256")
    if op == "verify_mac":
        kw["Mac"] = b"\x00" * 32
    with expect_error("ValidationException"):
        getattr(kms_loose, op)(**kw)


@pytest.mark.parametrize("spec", SPECS)
def test_tampered_mac_or_message(kms, hmac_key, spec):
    md = hmac_key(spec)
    alg, _ = SPECS[spec]
    mac = kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm=alg)["Mac"]
    flipped = bytearray(mac)
    flipped[0] ^= 0x80
    # [LS test_invalid_verify_mac] KMSInvalidMacException with an empty message; never MacValid=false
    for message, candidate in ((MESSAGE, bytes(flipped)), (MESSAGE + b"x", mac), (MESSAGE, mac[:-1]),
                               (MESSAGE, mac + b"\x00"), (MESSAGE, b"\x00" * len(mac))):
        with expect_error("KMSInvalidMacException", message=""):
            kms.verify_mac(KeyId=md["KeyId"], Message=message, Mac=candidate, MacAlgorithm=alg)


@pytest.mark.parametrize("spec", SPECS)
def test_wrong_mac_algorithm_for_spec(kms, hmac_key, spec):
    md = hmac_key(spec)
    right, length = SPECS[spec]
    for alg in MACS:
        if alg == right:
            continue
        with expect_error("InvalidKeyUsageException"):
            kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm=alg)
        with expect_error("InvalidKeyUsageException"):
            kms.verify_mac(KeyId=md["KeyId"], Message=MESSAGE, Mac=b"\x00" * length, MacAlgorithm=alg)


def test_wrong_mac_algorithm_message(kms, hmac_key):
    md = hmac_key("HMAC_224")
    with expect_error("InvalidKeyUsageException",
                      message="Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."):
        kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
    with expect_error("InvalidKeyUsageException",
                      message="Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_224."):
        kms.verify_mac(KeyId=md["KeyId"], Message=MESSAGE, Mac=b"\x00" * 28, MacAlgorithm="HMAC_SHA_512")


@pytest.mark.parametrize("op", ["generate_mac", "verify_mac"])
def test_unknown_mac_algorithm(kms_loose, hmac_key, op):
    md = hmac_key("HMAC_256")
    kw = dict(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="INVALID")
    if op == "verify_mac":
        kw["Mac"] = b"\x00" * 32
    prefix = ("1 validation error detected: Value 'INVALID' at 'macAlgorithm' failed to satisfy constraint: "
              "Member must satisfy enum value set: [")
    with expect_error("ValidationException", message_prefix=prefix) as err:
        getattr(kms_loose, op)(**kw)
    # AWS lists the enum in its own (hash) order [LS]; compare as a set
    listed = err["Error"]["Message"][len(prefix):].rstrip("]").split(", ")
    assert sorted(listed) == MACS


@pytest.mark.parametrize("spec,usage", [("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("RSA_2048", "SIGN_VERIFY"),
                                        ("ECC_NIST_P256", "KEY_AGREEMENT")])
def test_mac_with_non_hmac_key(kms, shared_key, key, spec, usage):
    md = key if spec == "SYMMETRIC_DEFAULT" else shared_key(spec, usage)
    with expect_error("InvalidKeyUsageException",
                      message=f"{md['Arn']} key usage is {usage} which is not valid for GenerateMac."):
        kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
    with expect_error("InvalidKeyUsageException",
                      message=f"{md['Arn']} key usage is {usage} which is not valid for VerifyMac."):
        kms.verify_mac(KeyId=md["KeyId"], Message=MESSAGE, Mac=b"\x00" * 32, MacAlgorithm="HMAC_SHA_256")


def test_hmac_key_refuses_other_operations(kms, hmac_key):
    md = hmac_key("HMAC_512")
    with expect_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")
    with expect_error("InvalidKeyUsageException"):
        kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")
    with expect_error("InvalidKeyUsageException"):
        kms.sign(KeyId=md["KeyId"], Message=b"x", SigningAlgorithm="ECDSA_SHA_256")
    with expect_error("UnsupportedOperationException"):
        kms.get_public_key(KeyId=md["KeyId"])


def test_generate_and_verify_mac_by_alias(kms, hmac_key, account):
    md = hmac_key("HMAC_256")
    alias = unique_alias("hmac")
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    direct = kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    for ident in (alias, alias_arn(DEFAULT_REGION, account, alias)):
        gen = kms.generate_mac(KeyId=ident, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
        assert gen["KeyId"] == md["Arn"] and gen["Mac"] == direct
        ver = kms.verify_mac(KeyId=ident, Message=MESSAGE, Mac=direct, MacAlgorithm="HMAC_SHA_256")
        assert ver["MacValid"] is True and ver["KeyId"] == md["Arn"]


def test_disabled_and_pending_deletion_hmac_key(kms, new_key):
    md = new_key(KeySpec="HMAC_224", KeyUsage="GENERATE_VERIFY_MAC")
    mac = kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_224")["Mac"]
    kms.disable_key(KeyId=md["KeyId"])
    with expect_error("DisabledException", message=f"{md['Arn']} is disabled."):
        kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_224")
    with expect_error("DisabledException", message=f"{md['Arn']} is disabled."):
        kms.verify_mac(KeyId=md["KeyId"], Message=MESSAGE, Mac=mac, MacAlgorithm="HMAC_SHA_224")
    kms.enable_key(KeyId=md["KeyId"])
    assert kms.verify_mac(KeyId=md["KeyId"], Message=MESSAGE, Mac=mac, MacAlgorithm="HMAC_SHA_224")["MacValid"]
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    with expect_error("KMSInvalidStateException", message=f"{md['Arn']} is pending deletion."):
        kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_224")
    kms.cancel_key_deletion(KeyId=md["KeyId"])


@pytest.mark.parametrize("op", ["generate_mac", "verify_mac"])
def test_dry_run(kms, hmac_key, op):
    md = hmac_key("HMAC_256")
    mac = kms.generate_mac(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]
    kw = dict(KeyId=md["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256", DryRun=True)
    if op == "verify_mac":
        kw["Mac"] = mac
    with expect_error("DryRunOperationException", status=400) as err:
        getattr(kms, op)(**kw)
    assert "Mac" not in err and "MacValid" not in err


def test_generate_mac_unknown_key(kms, account):
    missing = "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d"
    with expect_error("NotFoundException",
                      message=f"Key 'arn:aws:kms:{DEFAULT_REGION}:{account}:key/{missing}' does not exist"):
        kms.generate_mac(KeyId=missing, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
