"""Encrypt / Decrypt / ReEncrypt with asymmetric keys: RSA (RSAES_OAEP_SHA_1 /
RSAES_OAEP_SHA_256) and SM2 (SM2PKE). Ciphertexts made OUTSIDE with the public key from
GetPublicKey must decrypt in the server.

Sources:
  [API]  AWS KMS API Reference, Encrypt: "If you specify an asymmetric KMS key, you must
         also specify the encryption algorithm"; maximum plaintext: RSA_2048 214 / 190
         bytes, RSA_3072 342 / 318, RSA_4096 470 / 446 (OAEP SHA-1 / SHA-256), SM2PKE 1024.
         Decrypt: KeyId "is required only when the ciphertext was encrypted under an
         asymmetric KMS key"; EncryptionAlgorithm "is required only when the ciphertext
         was encrypted under an asymmetric KMS key. The default value, SYMMETRIC_DEFAULT
         ..."; "If you specify a different algorithm, the Decrypt operation fails";
         asymmetric ciphertexts carry no metadata ("The standard format for asymmetric
         key ciphertext does not include configurable fields").
         InvalidKeyUsageException: "The encryption algorithm ... is incompatible with the
         type of key material in the KMS key (KeySpec)".
  [LS]   LocalStack snapshots recorded against AWS: test_encrypt_validate_plaintext_size_
         per_key_type ("Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt
         data larger than 214 bytes."), test_error_messaging_for_invalid_keys ("<key-arn>
         key usage is SIGN_VERIFY which is not valid for Encrypt.").
  [GH]   Errors reported from real AWS in public issues: Encrypt with an RSA key and no
         EncryptionAlgorithm -> InvalidKeyUsageException "Algorithm SYMMETRIC_DEFAULT is
         incompatible with key spec RSA_4096." (zalando/spring-cloud-config-aws-kms#82);
         Decrypt of an RSA ciphertext without KeyId -> InvalidCiphertextException
         (aws/aws-sdk-java#2310).
  OAEP:  RFC 8017 with MGF1 over the same hash and an empty label (what AWS documents as
         RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256).
"""

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from kms_harness import (
    DEFAULT_REGION,
    alias_arn,
    expect_error,
    openssl,
    openssl_with_sm2,
    unique_alias,
)

RSA_SPECS = ["RSA_2048", "RSA_3072", "RSA_4096"]
OAEP = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
MAX_PLAINTEXT = {  # [API Encrypt]
    ("RSA_2048", "RSAES_OAEP_SHA_1"): 214, ("RSA_2048", "RSAES_OAEP_SHA_256"): 190,
    ("RSA_3072", "RSAES_OAEP_SHA_1"): 342, ("RSA_3072", "RSAES_OAEP_SHA_256"): 318,
    ("RSA_4096", "RSAES_OAEP_SHA_1"): 470, ("RSA_4096", "RSAES_OAEP_SHA_256"): 446,
}
CASES = list(MAX_PLAINTEXT)
IDS = [f"{s}-{a}" for s, a in CASES]


def _oaep(alg):
    h = hashes.SHA1() if alg == "RSAES_OAEP_SHA_1" else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


@pytest.fixture(scope="module")
def enc_key(kms, shared_key):
    """enc_key(spec) -> (KeyMetadata, DER public key) of the shared ENCRYPT_DECRYPT key."""
    pubs = {}

    def get(spec):
        md = shared_key(spec, "ENCRYPT_DECRYPT")
        if spec not in pubs:
            pubs[spec] = kms.get_public_key(KeyId=md["KeyId"])["PublicKey"]
        return md, pubs[spec]

    return get


def _decrypt(kms, md, blob, alg):
    resp = kms.decrypt(CiphertextBlob=blob, KeyId=md["KeyId"], EncryptionAlgorithm=alg)
    assert resp["KeyId"] == md["Arn"]
    assert resp["EncryptionAlgorithm"] == alg
    return resp["Plaintext"]


# ---------------------------------------------------------------------------
# RSA
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec,alg", CASES, ids=IDS)
def test_rsa_round_trip_in_server(kms, enc_key, spec, alg):
    md, pub_der = enc_key(spec)
    pt = os.urandom(64)
    enc = kms.encrypt(KeyId=md["KeyId"], Plaintext=pt, EncryptionAlgorithm=alg)
    assert enc["KeyId"] == md["Arn"]
    assert enc["EncryptionAlgorithm"] == alg
    # raw RSAES-OAEP output: exactly the modulus size, no KMS envelope
    assert len(enc["CiphertextBlob"]) == load_der_public_key(pub_der).key_size // 8
    assert _decrypt(kms, md, enc["CiphertextBlob"], alg) == pt
    # OAEP is randomized
    assert kms.encrypt(KeyId=md["KeyId"], Plaintext=pt, EncryptionAlgorithm=alg)["CiphertextBlob"] \
        != enc["CiphertextBlob"]


@pytest.mark.parametrize("spec,alg", CASES, ids=IDS)
def test_ciphertext_made_outside_decrypts_in_server(kms, enc_key, spec, alg):
    md, pub_der = enc_key(spec)
    pub = load_der_public_key(pub_der)
    for pt in (b"made outside with the GetPublicKey public key", os.urandom(MAX_PLAINTEXT[(spec, alg)]), b"\x00"):
        blob = pub.encrypt(pt, _oaep(alg))
        assert _decrypt(kms, md, blob, alg) == pt


@pytest.mark.parametrize("spec,alg", CASES, ids=IDS)
def test_plaintext_size_limit(kms, enc_key, spec, alg):
    md, _ = enc_key(spec)
    limit = MAX_PLAINTEXT[(spec, alg)]
    pt = os.urandom(limit)
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=pt, EncryptionAlgorithm=alg)["CiphertextBlob"]
    assert _decrypt(kms, md, blob, alg) == pt
    with expect_error("ValidationException"):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=os.urandom(limit + 1), EncryptionAlgorithm=alg)


@pytest.mark.parametrize("alg", OAEP)
def test_plaintext_size_limit_message(kms, enc_key, alg):
    md, _ = enc_key("RSA_2048")
    limit = MAX_PLAINTEXT[("RSA_2048", alg)]
    with expect_error("ValidationException",
                      message=f"Algorithm {alg} and key spec RSA_2048 cannot encrypt data larger than {limit} bytes."):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x" * (limit + 1), EncryptionAlgorithm=alg)


def test_decrypt_with_the_other_oaep_hash(kms, enc_key):
    # AWS decrypts an OAEP SHA-256 ciphertext when Decrypt names RSAES_OAEP_SHA_1 (issue 12,
    # section 6; RSAKeys.swift); the other way round (SHA-1 ciphertext, SHA_256 named) fails.
    md, _ = enc_key("RSA_2048")
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"sha-256",
                       EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    out = kms.decrypt(CiphertextBlob=blob, KeyId=md["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert out["Plaintext"] == b"sha-256" and out["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_1"
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"sha-1",
                       EncryptionAlgorithm="RSAES_OAEP_SHA_1")["CiphertextBlob"]
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob, KeyId=md["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_decrypt_without_key_id(kms, enc_key):
    # without KeyId the blob is read as a symmetric KMS ciphertext, which it is not [GH aws-sdk-java#2310]
    md, _ = enc_key("RSA_2048")
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_decrypt_without_encryption_algorithm(kms, enc_key):
    # the default SYMMETRIC_DEFAULT is not an algorithm of an RSA key
    md, _ = enc_key("RSA_2048")
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    with expect_error("InvalidKeyUsageException"):
        kms.decrypt(CiphertextBlob=blob, KeyId=md["KeyId"])


def test_encrypt_without_encryption_algorithm(kms, enc_key):
    md, _ = enc_key("RSA_2048")
    # [GH] zalando/spring-cloud-config-aws-kms#82
    with expect_error("InvalidKeyUsageException",
                      message="Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048."):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")


def test_decrypt_under_another_rsa_key_fails(kms, enc_key, shared_key):
    md, _ = enc_key("RSA_2048")
    other = shared_key("RSA_3072", "ENCRYPT_DECRYPT")
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    # asymmetric ciphertexts name no key, so a wrong key can only fail to decrypt
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob, KeyId=other["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_tampered_rsa_ciphertext(kms, enc_key):
    md, _ = enc_key("RSA_2048")
    blob = bytearray(kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x",
                                 EncryptionAlgorithm="RSAES_OAEP_SHA_1")["CiphertextBlob"])
    blob[10] ^= 0x40
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=bytes(blob), KeyId=md["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_1")


@pytest.mark.parametrize("spec,alg", [("RSA_2048", "SM2PKE"), ("RSA_2048", "SYMMETRIC_DEFAULT"),
                                      ("SM2", "RSAES_OAEP_SHA_256")])
def test_algorithm_not_valid_for_key(kms, enc_key, spec, alg):
    md, _ = enc_key(spec)
    with expect_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm=alg)
    with expect_error("InvalidKeyUsageException"):
        kms.decrypt(CiphertextBlob=b"\x01" * 256, KeyId=md["KeyId"], EncryptionAlgorithm=alg)


def test_rsa_algorithm_on_symmetric_key(kms, key):
    with expect_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "ML_DSA_44"])
def test_encrypt_with_signing_key(kms, shared_key, spec):
    md = shared_key(spec, "SIGN_VERIFY")
    # [LS] "<key-arn> key usage is SIGN_VERIFY which is not valid for Encrypt."
    with expect_error("InvalidKeyUsageException",
                      message=f"{md['Arn']} key usage is SIGN_VERIFY which is not valid for Encrypt."):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_generate_data_key_with_rsa_key(kms, enc_key):
    # data keys need a symmetric encryption KMS key [API GenerateDataKey]
    md, _ = enc_key("RSA_2048")
    with expect_error("InvalidKeyUsageException"):
        kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")


def test_rsa_encrypt_by_alias(kms, enc_key, account):
    md, _ = enc_key("RSA_3072")
    alias = unique_alias("rsa-enc")
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    for ident in (alias, alias_arn(DEFAULT_REGION, account, alias)):
        enc = kms.encrypt(KeyId=ident, Plaintext=b"alias", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
        assert enc["KeyId"] == md["Arn"]
        dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], KeyId=ident, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
        assert dec["Plaintext"] == b"alias" and dec["KeyId"] == md["Arn"]


def test_reencrypt_from_rsa_to_symmetric_and_rsa(kms, enc_key, key):
    md, pub_der = enc_key("RSA_2048")
    blob = load_der_public_key(pub_der).encrypt(b"re-encrypt me", _oaep("RSAES_OAEP_SHA_256"))
    to_sym = kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=md["KeyId"],
                            SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256", DestinationKeyId=key["KeyId"])
    assert to_sym["SourceKeyId"] == md["Arn"] and to_sym["KeyId"] == key["Arn"]
    assert to_sym["SourceEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    assert to_sym["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert kms.decrypt(CiphertextBlob=to_sym["CiphertextBlob"])["Plaintext"] == b"re-encrypt me"
    to_rsa = kms.re_encrypt(CiphertextBlob=to_sym["CiphertextBlob"], DestinationKeyId=md["KeyId"],
                            DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert to_rsa["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_1"
    assert _decrypt(kms, md, to_rsa["CiphertextBlob"], "RSAES_OAEP_SHA_1") == b"re-encrypt me"


def test_disabled_rsa_key(kms, new_key):
    md = new_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    kms.disable_key(KeyId=md["KeyId"])
    with expect_error("DisabledException", message=f"{md['Arn']} is disabled."):
        kms.decrypt(CiphertextBlob=blob, KeyId=md["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    with expect_error("DisabledException", message=f"{md['Arn']} is disabled."):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    kms.enable_key(KeyId=md["KeyId"])
    assert _decrypt(kms, md, blob, "RSAES_OAEP_SHA_256") == b"x"


def test_dry_run_rsa(kms, enc_key):
    md, _ = enc_key("RSA_2048")
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    with expect_error("DryRunOperationException", status=400) as err:
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256", DryRun=True)
    assert "CiphertextBlob" not in err
    with expect_error("DryRunOperationException", status=400) as err:
        kms.decrypt(CiphertextBlob=blob, KeyId=md["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256", DryRun=True)
    assert "Plaintext" not in err


# ---------------------------------------------------------------------------
# SM2PKE (Python `cryptography` cannot load SM2 keys: round trips through the
# server, plus OpenSSL 3 as the outside party when it is available)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 100, 1024])
def test_sm2pke_round_trip(kms, enc_key, size):
    md, _ = enc_key("SM2")
    pt = os.urandom(size)
    enc = kms.encrypt(KeyId=md["KeyId"], Plaintext=pt, EncryptionAlgorithm="SM2PKE")
    assert enc["KeyId"] == md["Arn"] and enc["EncryptionAlgorithm"] == "SM2PKE"
    if size >= 16:  # a 1-byte plaintext turns up by chance in ~100 random ciphertext bytes
        assert pt not in enc["CiphertextBlob"]
    assert _decrypt(kms, md, enc["CiphertextBlob"], "SM2PKE") == pt


def test_sm2pke_plaintext_size_limit(kms, enc_key):
    md, _ = enc_key("SM2")
    with expect_error("ValidationException"):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x" * 1025, EncryptionAlgorithm="SM2PKE")


def test_sm2pke_tampered_ciphertext(kms, enc_key):
    md, _ = enc_key("SM2")
    blob = bytearray(kms.encrypt(KeyId=md["KeyId"], Plaintext=b"sm2 secret",
                                 EncryptionAlgorithm="SM2PKE")["CiphertextBlob"])
    blob[-3] ^= 0x01
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=bytes(blob), KeyId=md["KeyId"], EncryptionAlgorithm="SM2PKE")


@pytest.mark.skipif(openssl_with_sm2() is None, reason="openssl with SM2 support not available")
def test_sm2pke_ciphertext_made_outside_decrypts_in_server(kms, enc_key, tmp_path):
    md, pub_der = enc_key("SM2")
    pt = b"SM2 ciphertext made by OpenSSL from the GetPublicKey SPKI"
    (tmp_path / "pub.der").write_bytes(pub_der)
    (tmp_path / "pt").write_bytes(pt)
    openssl("pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem", cwd=tmp_path)
    openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "pt", "-out", "ct", cwd=tmp_path)
    assert _decrypt(kms, md, (tmp_path / "ct").read_bytes(), "SM2PKE") == pt
