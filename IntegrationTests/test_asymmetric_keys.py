"""CreateKey / DescribeKey / GetPublicKey for every asymmetric and HMAC key spec,
and persistence of asymmetric and HMAC keys across a restart.

Sources:
  [API]  AWS KMS API Reference: CreateKey (KeySpec / KeyUsage rules: "For asymmetric
         KMS keys with RSA key pairs, specify ENCRYPT_DECRYPT or SIGN_VERIFY. ... NIST-
         standard elliptic curve key pairs, specify SIGN_VERIFY or KEY_AGREEMENT.
         ... ECC_SECG_P256K1 ... SIGN_VERIFY. ... ML-DSA key pairs, specify SIGN_VERIFY.
         ... SM2 key pairs ... ENCRYPT_DECRYPT, SIGN_VERIFY, or KEY_AGREEMENT";
         ECC_NIST_EDWARDS25519 is "signing and verification only"; HMAC keys take
         GENERATE_VERIFY_MAC; KeyUsage "is optional when you are creating a symmetric
         encryption KMS key; otherwise, it is required"), GetPublicKey (PublicKey is a
         DER SubjectPublicKeyInfo; EncryptionAlgorithms / SigningAlgorithms /
         KeyAgreementAlgorithms appear only for the matching KeyUsage; error list
         includes UnsupportedOperationException and DisabledException), KeyMetadata.
         The CustomerMasterKeySpec enum (botocore 1.43 model) has no ML_DSA_* and no
         ECC_NIST_EDWARDS25519 value, so those keys carry KeySpec only.
  [LS]   LocalStack snapshots recorded against AWS (tests/aws/services/kms/
         test_kms.snapshot.json): test_hmac_create_key (HMAC metadata),
         test_import_key_asymmetric (ECC_NIST_P256 SIGN_VERIFY metadata field set),
         test_hmac_create_key_invalid_operations ("You must specify a KeyUsage value for
         all KMS keys except for symmetric encryption keys.").
"""

import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from kms_harness import DEFAULT_REGION, alias_arn, expect_error, unique_alias

RSA_SIGN = ["RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"]
RSA_ENC = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]

# (KeySpec, KeyUsage) -> (algorithm-list field, algorithms)  [API key spec reference]
VALID = {
    ("RSA_2048", "ENCRYPT_DECRYPT"): ("EncryptionAlgorithms", RSA_ENC),
    ("RSA_3072", "ENCRYPT_DECRYPT"): ("EncryptionAlgorithms", RSA_ENC),
    ("RSA_4096", "ENCRYPT_DECRYPT"): ("EncryptionAlgorithms", RSA_ENC),
    ("RSA_2048", "SIGN_VERIFY"): ("SigningAlgorithms", RSA_SIGN),
    ("RSA_3072", "SIGN_VERIFY"): ("SigningAlgorithms", RSA_SIGN),
    ("RSA_4096", "SIGN_VERIFY"): ("SigningAlgorithms", RSA_SIGN),
    ("ECC_NIST_P256", "SIGN_VERIFY"): ("SigningAlgorithms", ["ECDSA_SHA_256"]),
    ("ECC_NIST_P384", "SIGN_VERIFY"): ("SigningAlgorithms", ["ECDSA_SHA_384"]),
    ("ECC_NIST_P521", "SIGN_VERIFY"): ("SigningAlgorithms", ["ECDSA_SHA_512"]),
    ("ECC_NIST_P256", "KEY_AGREEMENT"): ("KeyAgreementAlgorithms", ["ECDH"]),
    ("ECC_NIST_P384", "KEY_AGREEMENT"): ("KeyAgreementAlgorithms", ["ECDH"]),
    ("ECC_NIST_P521", "KEY_AGREEMENT"): ("KeyAgreementAlgorithms", ["ECDH"]),
    ("ECC_SECG_P256K1", "SIGN_VERIFY"): ("SigningAlgorithms", ["ECDSA_SHA_256"]),
    ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"): ("SigningAlgorithms", ["ED25519_SHA_512", "ED25519_PH_SHA_512"]),
    ("ML_DSA_44", "SIGN_VERIFY"): ("SigningAlgorithms", ["ML_DSA_SHAKE_256"]),
    ("ML_DSA_65", "SIGN_VERIFY"): ("SigningAlgorithms", ["ML_DSA_SHAKE_256"]),
    ("ML_DSA_87", "SIGN_VERIFY"): ("SigningAlgorithms", ["ML_DSA_SHAKE_256"]),
    ("SM2", "SIGN_VERIFY"): ("SigningAlgorithms", ["SM2DSA"]),
    ("SM2", "ENCRYPT_DECRYPT"): ("EncryptionAlgorithms", ["SM2PKE"]),
    ("SM2", "KEY_AGREEMENT"): ("KeyAgreementAlgorithms", ["ECDH"]),
    ("HMAC_224", "GENERATE_VERIFY_MAC"): ("MacAlgorithms", ["HMAC_SHA_224"]),
    ("HMAC_256", "GENERATE_VERIFY_MAC"): ("MacAlgorithms", ["HMAC_SHA_256"]),
    ("HMAC_384", "GENERATE_VERIFY_MAC"): ("MacAlgorithms", ["HMAC_SHA_384"]),
    ("HMAC_512", "GENERATE_VERIFY_MAC"): ("MacAlgorithms", ["HMAC_SHA_512"]),
}
ALGORITHM_FIELDS = {"EncryptionAlgorithms", "SigningAlgorithms", "KeyAgreementAlgorithms", "MacAlgorithms"}
ALL_USAGES = ["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"]
ALL_SPECS = sorted({s for s, _ in VALID} | {"SYMMETRIC_DEFAULT"})
VALID_WITH_SYMMETRIC = set(VALID) | {("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")}
INVALID = [(s, u) for s in ALL_SPECS for u in ALL_USAGES if (s, u) not in VALID_WITH_SYMMETRIC]

# Specs newer than the (deprecated) CustomerMasterKeySpec enum.
NO_CMK_SPEC = {"ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519"}

# [LS test_import_key_asymmetric / test_hmac_create_key] field set of a customer managed key
BASE_FIELDS = {"AWSAccountId", "Arn", "CreationDate", "Description", "Enabled", "KeyId", "KeyManager",
               "KeySpec", "KeyState", "KeyUsage", "MultiRegion", "Origin"}
OPTIONAL_FIELDS = {"CurrentKeyMaterialId"}

VALID_IDS = [f"{s}-{u}" for s, u in VALID]
ASYMMETRIC = [(s, u) for (s, u) in VALID if not s.startswith("HMAC")]
ASYMMETRIC_IDS = [f"{s}-{u}" for s, u in ASYMMETRIC]

# SM2 curve (GB/T 32918.5, OID 1.2.156.10197.1.301) for an on-curve check without a library
SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = SM2_P - 3
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
OID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
OID_SM2_CURVE = bytes.fromhex("06082a811ccf5501822d")


def expected_fields(spec, usage):
    fields = set(BASE_FIELDS) | {VALID[(spec, usage)][0]}
    if spec not in NO_CMK_SPEC:
        fields.add("CustomerMasterKeySpec")
    return fields


def assert_metadata(md, spec, usage, account):
    field, algorithms = VALID[(spec, usage)]
    have = set(md)
    missing = expected_fields(spec, usage) - have
    extra = have - expected_fields(spec, usage) - OPTIONAL_FIELDS
    assert not missing, f"{spec}/{usage}: DescribeKey lacks {sorted(missing)}"
    assert not extra, f"{spec}/{usage}: DescribeKey has unexpected fields {sorted(extra)}"
    assert md["KeySpec"] == spec
    assert md["KeyUsage"] == usage
    assert md["KeyState"] == "Enabled" and md["Enabled"] is True
    assert md["Origin"] == "AWS_KMS" and md["KeyManager"] == "CUSTOMER" and md["MultiRegion"] is False
    assert md["AWSAccountId"] == account
    assert md["Arn"] == f"arn:aws:kms:{DEFAULT_REGION}:{account}:key/{md['KeyId']}"
    if spec in NO_CMK_SPEC:
        assert "CustomerMasterKeySpec" not in md
    else:
        assert md["CustomerMasterKeySpec"] == spec
    assert sorted(md[field]) == sorted(algorithms), f"{spec}/{usage} {field}: {md[field]}"
    for other in ALGORITHM_FIELDS - {field}:
        assert other not in md, f"{spec}/{usage}: {other} must be absent"


def assert_public_key_matches_spec(der, spec):
    """Load the SPKI outside and check it is the key type and size the spec names."""
    if spec == "SM2":
        # Python `cryptography` has no SM2 curve: check the SPKI by hand -- id-ecPublicKey
        # with the SM2 curve OID and an uncompressed point that lies on the SM2 curve.
        assert len(der) == 91 and der[0] == 0x30, der.hex()
        assert OID_EC_PUBLIC_KEY in der[:30] and OID_SM2_CURVE in der[:30], der[:30].hex()
        point = der[-65:]
        assert point[0] == 0x04 and der[-68:-65] == b"\x03\x42\x00", der.hex()
        x, y = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
        assert (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P == 0, "SM2 public point is not on the curve"
        return
    pub = load_der_public_key(der)
    # DER is canonical: re-encoding gives the same bytes
    assert pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == der
    if spec.startswith("RSA_"):
        assert isinstance(pub, rsa.RSAPublicKey)
        assert pub.key_size == int(spec.split("_")[1])
        assert pub.public_numbers().e == 65537
    elif spec.startswith("ECC_NIST_P") or spec == "ECC_SECG_P256K1":
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        want = {"ECC_NIST_P256": "secp256r1", "ECC_NIST_P384": "secp384r1", "ECC_NIST_P521": "secp521r1",
                "ECC_SECG_P256K1": "secp256k1"}[spec]
        assert pub.curve.name == want
    elif spec == "ECC_NIST_EDWARDS25519":
        assert isinstance(pub, ed25519.Ed25519PublicKey)
        assert len(pub.public_bytes_raw()) == 32
    elif spec.startswith("ML_DSA_"):
        cls, size = {"ML_DSA_44": (mldsa.MLDSA44PublicKey, 1312), "ML_DSA_65": (mldsa.MLDSA65PublicKey, 1952),
                     "ML_DSA_87": (mldsa.MLDSA87PublicKey, 2592)}[spec]
        assert isinstance(pub, cls)
        assert len(pub.public_bytes_raw()) == size  # FIPS 204 Table 2
    else:  # pragma: no cover
        raise AssertionError(spec)


# ---------------------------------------------------------------------------
# CreateKey / DescribeKey
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec,usage", list(VALID), ids=VALID_IDS)
def test_create_and_describe_every_spec(kms, shared_key, account, spec, usage):
    md = shared_key(spec, usage)  # the CreateKey response
    assert_metadata(md, spec, usage, account)
    described = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert_metadata(described, spec, usage, account)
    assert described == md


@pytest.mark.parametrize("spec,usage", INVALID, ids=[f"{s}-{u}" for s, u in INVALID])
def test_create_key_usage_not_valid_for_spec(kms, spec, usage):
    with expect_error("ValidationException"):
        kms.create_key(KeySpec=spec, KeyUsage=usage)


@pytest.mark.parametrize("spec", ["HMAC_256", "RSA_2048", "ECC_NIST_P256", "ECC_SECG_P256K1",
                                  "ML_DSA_44", "ECC_NIST_EDWARDS25519", "SM2"])
def test_create_key_without_key_usage(kms, spec):
    # [API CreateKey] KeyUsage "is optional when you are creating a symmetric encryption KMS
    # key; otherwise, it is required" -- no default for RSA/SM2 (which have two or three usages)
    with expect_error("ValidationException"):
        md = kms.create_key(KeySpec=spec)["KeyMetadata"]
        pytest.fail(f"CreateKey {spec} without KeyUsage created a {md['KeyUsage']} key")


def test_create_key_without_key_usage_message(kms):
    # [LS test_hmac_create_key_invalid_operations] recorded for HMAC_256
    with expect_error("ValidationException",
                      message="You must specify a KeyUsage value for all KMS keys except for symmetric "
                              "encryption keys."):
        kms.create_key(KeySpec="HMAC_256")


def test_create_key_with_deprecated_customer_master_key_spec(kms, account):
    md = kms.create_key(CustomerMasterKeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert_metadata(md, "ECC_NIST_P384", "SIGN_VERIFY", account)


def test_create_key_with_both_spec_parameters(kms):
    # [API CreateKey] "Instead, use the KeySpec parameter" -- the two are alternatives
    with expect_error("ValidationException"):
        kms.create_key(KeySpec="ECC_NIST_P256", CustomerMasterKeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")


def test_asymmetric_keys_are_listed(kms, shared_key):
    mine = {shared_key("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"], shared_key("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"],
            shared_key("ML_DSA_44", "SIGN_VERIFY")["KeyId"]}
    listed = {k["KeyId"] for p in kms.get_paginator("list_keys").paginate() for k in p["Keys"]}
    assert mine <= listed


# ---------------------------------------------------------------------------
# GetPublicKey
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec,usage", ASYMMETRIC, ids=ASYMMETRIC_IDS)
def test_get_public_key_every_spec(kms, shared_key, spec, usage):
    md = shared_key(spec, usage)
    resp = kms.get_public_key(KeyId=md["KeyId"])
    field, algorithms = VALID[(spec, usage)]
    assert resp["KeyId"] == md["Arn"]
    assert resp["KeySpec"] == spec
    assert resp["KeyUsage"] == usage
    if spec in NO_CMK_SPEC:
        assert "CustomerMasterKeySpec" not in resp
    else:
        assert resp["CustomerMasterKeySpec"] == spec
    assert sorted(resp[field]) == sorted(algorithms)
    for other in ALGORITHM_FIELDS - {field}:
        assert other not in resp, f"GetPublicKey of a {usage} key must not carry {other}"
    assert_public_key_matches_spec(resp["PublicKey"], spec)
    # stable: the same public key every time
    assert kms.get_public_key(KeyId=md["Arn"])["PublicKey"] == resp["PublicKey"]


def test_public_keys_are_distinct_per_key(kms, new_key):
    a = new_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    b = new_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    assert kms.get_public_key(KeyId=a["KeyId"])["PublicKey"] != kms.get_public_key(KeyId=b["KeyId"])["PublicKey"]


def test_get_public_key_of_symmetric_key(kms, key):
    with expect_error("UnsupportedOperationException"):
        kms.get_public_key(KeyId=key["KeyId"])


def test_get_public_key_of_hmac_key(kms, shared_key):
    with expect_error("UnsupportedOperationException"):
        kms.get_public_key(KeyId=shared_key("HMAC_256", "GENERATE_VERIFY_MAC")["KeyId"])


def test_get_public_key_by_alias(kms, shared_key, account):
    md = shared_key("ECC_NIST_P256", "SIGN_VERIFY")
    alias = unique_alias("gpk")
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    direct = kms.get_public_key(KeyId=md["KeyId"])["PublicKey"]
    for ident in (alias, alias_arn(DEFAULT_REGION, account, alias), md["Arn"]):
        resp = kms.get_public_key(KeyId=ident)
        assert resp["KeyId"] == md["Arn"]
        assert resp["PublicKey"] == direct


def test_get_public_key_unknown_key(kms):
    with expect_error("NotFoundException"):
        kms.get_public_key(KeyId="11111111-2222-3333-4444-555555555555")


def test_get_public_key_key_states(kms, new_key):
    md = new_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    kms.disable_key(KeyId=md["KeyId"])
    with expect_error("DisabledException", message=f"{md['Arn']} is disabled."):
        kms.get_public_key(KeyId=md["KeyId"])
    kms.enable_key(KeyId=md["KeyId"])
    assert kms.get_public_key(KeyId=md["KeyId"])["KeyUsage"] == "KEY_AGREEMENT"
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    with expect_error("KMSInvalidStateException", message=f"{md['Arn']} is pending deletion."):
        kms.get_public_key(KeyId=md["KeyId"])
    kms.cancel_key_deletion(KeyId=md["KeyId"])


# ---------------------------------------------------------------------------
# Persistence: asymmetric and HMAC keys survive a restart
# ---------------------------------------------------------------------------

@pytest.mark.restart
def test_asymmetric_and_hmac_keys_survive_restart(server_factory):
    srv = server_factory()
    kms = srv.client()
    made = {
        "rsa_sign": kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"],
        "rsa_enc": kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"],
        "p256": kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"],
        "ed": kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyMetadata"],
        "mldsa": kms.create_key(KeySpec="ML_DSA_44", KeyUsage="SIGN_VERIFY")["KeyMetadata"],
        "sm2": kms.create_key(KeySpec="SM2", KeyUsage="SIGN_VERIFY")["KeyMetadata"],
        "ecdh": kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyMetadata"],
        "hmac": kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"],
    }
    alias = unique_alias("persist-asym")
    kms.create_alias(AliasName=alias, TargetKeyId=made["p256"]["KeyId"])
    signing = {"rsa_sign": "RSASSA_PSS_SHA_256", "p256": "ECDSA_SHA_256", "ed": "ED25519_SHA_512",
               "mldsa": "ML_DSA_SHAKE_256", "sm2": "SM2DSA"}
    msg = b"signed before the restart"
    before_md = {n: kms.describe_key(KeyId=m["KeyId"])["KeyMetadata"] for n, m in made.items()}
    before_pub = {n: kms.get_public_key(KeyId=made[n]["KeyId"])["PublicKey"] for n in made if n != "hmac"}
    sigs = {n: kms.sign(KeyId=made[n]["KeyId"], Message=msg, SigningAlgorithm=a)["Signature"]
            for n, a in signing.items()}
    mac = kms.generate_mac(KeyId=made["hmac"]["KeyId"], Message=msg, MacAlgorithm="HMAC_SHA_256")["Mac"]
    ct = kms.encrypt(KeyId=made["rsa_enc"]["KeyId"], Plaintext=b"rsa before restart",
                     EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    peer = ec.generate_private_key(ec.SECP384R1())
    peer_der = peer.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    secret = kms.derive_shared_secret(KeyId=made["ecdh"]["KeyId"], KeyAgreementAlgorithm="ECDH",
                                      PublicKey=peer_der)["SharedSecret"]

    srv.restart()
    kms = srv.client()

    for n, m in made.items():
        assert kms.describe_key(KeyId=m["KeyId"])["KeyMetadata"] == before_md[n], f"{n}: metadata changed"
    for n, pub in before_pub.items():
        assert kms.get_public_key(KeyId=made[n]["KeyId"])["PublicKey"] == pub, f"{n}: public key changed"
    for n, alg in signing.items():
        assert kms.verify(KeyId=made[n]["KeyId"], Message=msg, Signature=sigs[n],
                          SigningAlgorithm=alg)["SignatureValid"] is True, f"{n}: old signature no longer verifies"
    # new signatures still match the public key downloaded before the restart
    new_sig = kms.sign(KeyId=made["rsa_sign"]["KeyId"], Message=b"after", SigningAlgorithm="RSASSA_PSS_SHA_256")
    load_der_public_key(before_pub["rsa_sign"]).verify(
        new_sig["Signature"], b"after", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    new_ed = kms.sign(KeyId=made["ed"]["KeyId"], Message=b"after", SigningAlgorithm="ED25519_SHA_512")["Signature"]
    load_der_public_key(before_pub["ed"]).verify(new_ed, b"after")
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == made["p256"]["KeyId"]
    assert kms.verify(KeyId=alias, Message=msg, Signature=sigs["p256"],
                      SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"] is True
    # HMAC: same key material -> the same MAC, and the old MAC verifies
    assert kms.verify_mac(KeyId=made["hmac"]["KeyId"], Message=msg, Mac=mac,
                          MacAlgorithm="HMAC_SHA_256")["MacValid"] is True
    assert kms.generate_mac(KeyId=made["hmac"]["KeyId"], Message=msg, MacAlgorithm="HMAC_SHA_256")["Mac"] == mac
    assert kms.decrypt(CiphertextBlob=ct, KeyId=made["rsa_enc"]["KeyId"],
                       EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == b"rsa before restart"
    assert kms.derive_shared_secret(KeyId=made["ecdh"]["KeyId"], KeyAgreementAlgorithm="ECDH",
                                    PublicKey=peer_der)["SharedSecret"] == secret


@pytest.mark.single_node("inspects the SQLite data dir's files")
@pytest.mark.restart
def test_data_key_pair_private_key_never_on_disk(server_factory):
    srv = server_factory()
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    secrets = []
    for spec in ("ECC_NIST_P256", "ECC_NIST_EDWARDS25519", "RSA_2048"):
        pair = kms.generate_data_key_pair(KeyId=kid, KeyPairSpec=spec)
        secrets.append(pair["PrivateKeyPlaintext"])
        blob = kms.generate_data_key_pair_without_plaintext(KeyId=kid, KeyPairSpec=spec)["PrivateKeyCiphertextBlob"]
        secrets.append(kms.decrypt(CiphertextBlob=blob)["Plaintext"])
    srv.stop()
    data = b""
    for root, _dirs, files in os.walk(srv.data_dir):
        for f in files:
            if f not in ("root.key", "credentials"):
                with open(os.path.join(root, f), "rb") as fh:
                    data += fh.read()
    for s in secrets:
        # the whole PKCS#8 blob and its last 32 bytes (the private scalar / seed for ECC and Ed25519)
        assert s not in data and s[-32:] not in data, "a data key pair private key is stored unsealed"
