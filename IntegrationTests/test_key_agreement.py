"""DeriveSharedSecret (ECDH) with KEY_AGREEMENT keys on ECC_NIST_P256/P384/P521 and SM2.

Interoperability: the secret the server derives from its private key and an outside
ephemeral public key equals the secret Python `cryptography` derives from the outside
private key and the server's public key (GetPublicKey).

Sources:
  [API]  AWS KMS API Reference, DeriveSharedSecret: "The public key must be a DER-encoded
         X.509 public key, also known as SubjectPublicKeyInfo (SPKI)"; "both key pairs must
         be on the same elliptic curve"; the only KeyAgreementAlgorithm is ECDH; KMS
         returns "the raw shared secret" (the ECDH x-coordinate, NIST SP 800-56A Rev. 3
         section 5.7.1.2); "If you use Amazon Web Services CLI version 1, you must provide
         the DER-encoded X.509 public key in a file. Otherwise, the Amazon Web Services CLI
         Base64-encodes the public key a second time, resulting in a ValidationException";
         response fields KeyId, SharedSecret, KeyAgreementAlgorithm, KeyOrigin.
  [LS]   LocalStack test_derive_shared_secret (validated against AWS): two KMS keys derive
         the same secret; a SIGN_VERIFY key, a symmetric key, a bad algorithm and an
         invalid public key are errors.
"""

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from kms_harness import DEFAULT_REGION, alias_arn, expect_error, unique_alias

CURVES = {"ECC_NIST_P256": (ec.SECP256R1(), 32), "ECC_NIST_P384": (ec.SECP384R1(), 48),
          "ECC_NIST_P521": (ec.SECP521R1(), 66)}


def spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def ka_key(shared_key):
    return lambda spec: shared_key(spec, "KEY_AGREEMENT")


def _derive(kms, md, peer_der, ident=None):
    resp = kms.derive_shared_secret(KeyId=ident or md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert resp["KeyId"] == md["Arn"]
    assert resp["KeyAgreementAlgorithm"] == "ECDH"
    assert resp["KeyOrigin"] == "AWS_KMS"
    return resp["SharedSecret"]


@pytest.mark.parametrize("spec", CURVES)
def test_shared_secret_matches_outside_ecdh(kms, ka_key, spec):
    curve, size = CURVES[spec]
    md = ka_key(spec)
    server_pub = load_der_public_key(kms.get_public_key(KeyId=md["KeyId"])["PublicKey"])
    assert server_pub.curve.name == curve.name
    for _ in range(2):
        outside = ec.generate_private_key(curve)
        secret = _derive(kms, md, spki(outside.public_key()))
        assert len(secret) == size
        assert secret == outside.exchange(ec.ECDH(), server_pub), "server and outside ECDH disagree"


@pytest.mark.parametrize("spec", CURVES)
def test_two_kms_keys_agree(kms, ka_key, new_key, spec):
    a = ka_key(spec)
    b = new_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")
    pub_a = kms.get_public_key(KeyId=a["KeyId"])["PublicKey"]
    pub_b = kms.get_public_key(KeyId=b["KeyId"])["PublicKey"]
    assert _derive(kms, a, pub_b) == _derive(kms, b, pub_a)


def test_secret_depends_on_peer(kms, ka_key):
    md = ka_key("ECC_NIST_P256")
    p1, p2 = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    s1 = _derive(kms, md, spki(p1.public_key()))
    assert s1 == _derive(kms, md, spki(p1.public_key())), "ECDH is deterministic for a fixed peer"
    assert s1 != _derive(kms, md, spki(p2.public_key()))


def test_sm2_key_agreement_round_trip(kms, ka_key, new_key):
    # Python `cryptography` cannot load SM2 keys: agreement between two SM2 KMS keys only
    a = ka_key("SM2")
    b = new_key(KeySpec="SM2", KeyUsage="KEY_AGREEMENT")
    pub_a = kms.get_public_key(KeyId=a["KeyId"])
    pub_b = kms.get_public_key(KeyId=b["KeyId"])["PublicKey"]
    assert pub_a["KeyUsage"] == "KEY_AGREEMENT" and pub_a["KeyAgreementAlgorithms"] == ["ECDH"]
    s_ab = _derive(kms, a, pub_b)
    assert len(s_ab) == 32
    assert s_ab == _derive(kms, b, pub_a["PublicKey"])


# ---------------------------------------------------------------------------
# Bad peer keys
# ---------------------------------------------------------------------------

def _bad_peers(spec):
    curve, _ = CURVES[spec]
    others = [c for s, (c, _) in CURVES.items() if s != spec]
    good = ec.generate_private_key(curve).public_key()
    return {
        "other-curve-1": spki(ec.generate_private_key(others[0]).public_key()),
        "other-curve-2": spki(ec.generate_private_key(others[1]).public_key()),
        "secp256k1": spki(ec.generate_private_key(ec.SECP256K1()).public_key()),
        "rsa": spki(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()),
        "ed25519": spki(ed25519.Ed25519PrivateKey.generate().public_key()),
        "raw-point-not-spki": good.public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint),
        "truncated-spki": spki(good)[:-5],
        "garbage": b"InvalidPublicKey",
    }


@pytest.mark.parametrize("spec", CURVES)
def test_invalid_peer_public_key(kms, ka_key, spec):
    md = ka_key(spec)
    for name, der in _bad_peers(spec).items():
        with expect_error("ValidationException"):
            kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=der)


def test_peer_point_not_on_curve(kms, ka_key):
    # a well-formed P-256 SPKI whose point is not on the curve (invalid-curve attack input)
    md = ka_key("ECC_NIST_P256")
    der = bytearray(spki(ec.generate_private_key(ec.SECP256R1()).public_key()))
    der[-1] ^= 0x01  # changes y only
    with expect_error("ValidationException"):
        kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=bytes(der))


def test_sm2_peer_on_nist_key_and_back(kms, ka_key):
    nist, sm2 = ka_key("ECC_NIST_P256"), ka_key("SM2")
    with expect_error("ValidationException"):
        kms.derive_shared_secret(KeyId=nist["KeyId"], KeyAgreementAlgorithm="ECDH",
                                 PublicKey=kms.get_public_key(KeyId=sm2["KeyId"])["PublicKey"])
    with expect_error("ValidationException"):
        kms.derive_shared_secret(KeyId=sm2["KeyId"], KeyAgreementAlgorithm="ECDH",
                                 PublicKey=spki(ec.generate_private_key(ec.SECP256R1()).public_key()))


def test_unknown_key_agreement_algorithm(kms_loose, ka_key):
    md = ka_key("ECC_NIST_P256")
    with expect_error("ValidationException",
                      message_prefix="1 validation error detected: Value 'INVALID' at 'keyAgreementAlgorithm' "
                                     "failed to satisfy constraint: Member must satisfy enum value set"):
        kms_loose.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="INVALID",
                                       PublicKey=spki(ec.generate_private_key(ec.SECP256R1()).public_key()))


# ---------------------------------------------------------------------------
# Keys that cannot agree, states, aliases, DryRun
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec,usage", [("ECC_NIST_P256", "SIGN_VERIFY"), ("RSA_2048", "ENCRYPT_DECRYPT"),
                                        ("SM2", "ENCRYPT_DECRYPT"), ("HMAC_256", "GENERATE_VERIFY_MAC"),
                                        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")])
def test_key_without_key_agreement_usage(kms, shared_key, key, spec, usage):
    md = key if spec == "SYMMETRIC_DEFAULT" else shared_key(spec, usage)
    peer = spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    with expect_error("InvalidKeyUsageException",
                      message=f"{md['Arn']} key usage is {usage} which is not valid for DeriveSharedSecret."):
        kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer)


def test_derive_by_alias(kms, ka_key, account):
    md = ka_key("ECC_NIST_P384")
    alias = unique_alias("ecdh")
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    outside = ec.generate_private_key(ec.SECP384R1())
    expected = _derive(kms, md, spki(outside.public_key()))
    for ident in (alias, alias_arn(DEFAULT_REGION, account, alias), md["Arn"]):
        assert _derive(kms, md, spki(outside.public_key()), ident=ident) == expected


def test_disabled_and_pending_deletion_key(kms, new_key):
    md = new_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    peer = spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    kms.disable_key(KeyId=md["KeyId"])
    with expect_error("DisabledException", message=f"{md['Arn']} is disabled."):
        kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer)
    kms.enable_key(KeyId=md["KeyId"])
    _derive(kms, md, peer)
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    with expect_error("KMSInvalidStateException", message=f"{md['Arn']} is pending deletion."):
        kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer)
    kms.cancel_key_deletion(KeyId=md["KeyId"])


def test_dry_run(kms, ka_key):
    md = ka_key("ECC_NIST_P256")
    peer = spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    with expect_error("DryRunOperationException", status=400) as err:
        kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer, DryRun=True)
    assert "SharedSecret" not in err


def test_unknown_key(kms):
    peer = spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    with expect_error("NotFoundException"):
        kms.derive_shared_secret(KeyId="12345678-90ab-4cde-8f01-234567890abc", KeyAgreementAlgorithm="ECDH",
                                 PublicKey=peer)


def test_random_peer_bytes_never_crash(kms, ka_key):
    md = ka_key("ECC_NIST_P521")
    for n in (1, 64, 158, 300):
        with expect_error("ValidationException"):
            kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=os.urandom(n))
