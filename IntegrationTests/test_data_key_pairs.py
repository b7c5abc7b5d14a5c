"""GenerateDataKeyPair / GenerateDataKeyPairWithoutPlaintext for every DataKeyPairSpec.

A data key pair is used outside KMS: the suite loads PrivateKeyPlaintext (PKCS #8 DER)
and PublicKey (SPKI DER) with Python `cryptography` (OpenSSL 3 for SM2), checks that
they are one pair, signs and verifies (and for RSA encrypts and decrypts) outside with
them, and checks that PrivateKeyCiphertextBlob decrypts with Decrypt to exactly
PrivateKeyPlaintext under the same encryption context.

Note on "a signature made outside with a data key pair's private key verifies in the
server": a data key pair is not a KMS key -- Verify only takes a KMS key; outside key
material becomes a KMS key only through ImportKeyMaterial (test_import_key_material.py).
The meaningful checks here are: the pair signs/verifies outside (proves
private and public halves match and are standard encodings), and the server-side
interop of server keys is covered in test_sign_verify.py.

Sources:
  [API]  AWS KMS API Reference, GenerateDataKeyPair: "The public key is a DER-encoded
         X.509 SubjectPublicKeyInfo, as specified in RFC 5280. The private key is a
         DER-encoded PKCS8 PrivateKeyInfo, as specified in RFC 5958"; KeyId "Specifies the
         symmetric encryption KMS key that encrypts the private key ... You cannot specify
         an asymmetric KMS key"; DataKeyPairSpec enum (botocore 1.43): RSA_2048, RSA_3072,
         RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2,
         ECC_NIST_EDWARDS25519; error list includes InvalidKeyUsageException, DisabledException,
         DryRunOperationException.
  [LS]   LocalStack snapshots recorded against AWS: test_generate_data_key_pair (the
         private key blob decrypts to PrivateKeyPlaintext), test_encryption_context_
         generate_data_key_pair(_without_plaintext) (Decrypt without the context ->
         InvalidCiphertextException, empty message), test_generate_data_key_pair_dry_run.
"""

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_private_key, load_der_public_key

from kms_harness import DEFAULT_REGION, alias_arn, expect_error, openssl, openssl_with_sm2, unique_alias
from test_asymmetric_keys import assert_public_key_matches_spec

SPECS = ["RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
         "ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519"]
CONTEXT = {"purpose": "data-key-pair-test", "tenant": "t-42"}
MESSAGE = b"signed outside with a data key pair"

# PKCS #8 AlgorithmIdentifier (DER contents of the OIDs)
OID_RSA = bytes.fromhex("2a864886f70d010101")
OID_EC = bytes.fromhex("2a8648ce3d0201")
OID_ED25519 = bytes.fromhex("2b6570")
CURVE_OID = {"ECC_NIST_P256": "2a8648ce3d030107", "ECC_NIST_P384": "2b81040022", "ECC_NIST_P521": "2b81040023",
             "ECC_SECG_P256K1": "2b8104000a", "SM2": "2a811ccf5501822d"}


def _der(b, i=0):
    """(tag, contents, next index) of the DER element at i."""
    tag, length = b[i], b[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(b[i:i + n], "big")
        i += n
    return tag, b[i:i + length], i + length


def assert_pkcs8(der, spec):
    """RFC 5958 OneAsymmetricKey: SEQUENCE { version, AlgorithmIdentifier, OCTET STRING, ... }."""
    tag, body, end = _der(der)
    assert tag == 0x30 and end == len(der), "PrivateKeyPlaintext is not one DER SEQUENCE"
    tag, version, i = _der(body)
    assert tag == 0x02 and version in (b"\x00", b"\x01"), "PKCS #8 version must be v1 (0) or v2 (1)"
    tag, alg_id, i = _der(body, i)
    assert tag == 0x30
    tag, oid, j = _der(alg_id)
    assert tag == 0x06
    if spec.startswith("RSA_"):
        assert oid == OID_RSA
    elif spec == "ECC_NIST_EDWARDS25519":
        assert oid == OID_ED25519 and j == len(alg_id), "Ed25519 AlgorithmIdentifier has no parameters"
    else:
        assert oid == OID_EC, f"{spec}: expected id-ecPublicKey, got OID {oid.hex()}"
        tag, curve, _ = _der(alg_id, j)
        assert tag == 0x06 and curve.hex() == CURVE_OID[spec], f"{spec}: curve OID {curve.hex()}"
    tag, _, _ = _der(body, i)
    assert tag == 0x04, "privateKey must be an OCTET STRING"


def _spki(pub):
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_pair_outside(private_der, public_der, spec, tmp_path):
    """Load both halves outside, prove they belong together, and use them."""
    assert_pkcs8(private_der, spec)
    assert_public_key_matches_spec(public_der, spec)
    if spec == "SM2":
        if openssl_with_sm2() is None:
            pytest.skip("openssl with SM2 support not available")
        (tmp_path / "priv.der").write_bytes(private_der)
        (tmp_path / "msg").write_bytes(MESSAGE)
        openssl("pkey", "-inform", "DER", "-in", "priv.der", "-out", "priv.pem", cwd=tmp_path)
        openssl("pkey", "-in", "priv.pem", "-pubout", "-outform", "DER", "-out", "pub.der", cwd=tmp_path)
        assert (tmp_path / "pub.der").read_bytes() == public_der, "SM2 private key does not match PublicKey"
        openssl("pkey", "-in", "priv.pem", "-pubout", "-out", "pub.pem", cwd=tmp_path)
        openssl("dgst", "-sm3", "-sign", "priv.pem", "-sigopt", "distid:1234567812345678", "-out", "sig", "msg",
                cwd=tmp_path)
        ok = openssl("dgst", "-sm3", "-verify", "pub.pem", "-sigopt", "distid:1234567812345678",
                     "-signature", "sig", "msg", cwd=tmp_path, check=False)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        return
    priv = load_der_private_key(private_der, password=None)
    pub = load_der_public_key(public_der)
    assert _spki(priv.public_key()) == public_der, "PrivateKeyPlaintext does not match PublicKey"
    if spec.startswith("RSA_"):
        assert isinstance(priv, rsa.RSAPrivateKey) and priv.key_size == int(spec[4:])
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        pub.verify(priv.sign(MESSAGE, pss, hashes.SHA256()), MESSAGE, pss, hashes.SHA256())
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
        assert priv.decrypt(pub.encrypt(b"wrapped", oaep), oaep) == b"wrapped"
    elif spec == "ECC_NIST_EDWARDS25519":
        assert isinstance(priv, ed25519.Ed25519PrivateKey)
        sig = priv.sign(MESSAGE)
        pub.verify(sig, MESSAGE)
        with pytest.raises(InvalidSignature):
            pub.verify(sig, MESSAGE + b"!")
    else:
        assert isinstance(priv, ec.EllipticCurvePrivateKey)
        h = {"ECC_NIST_P384": hashes.SHA384(), "ECC_NIST_P521": hashes.SHA512()}.get(spec, hashes.SHA256())
        sig = priv.sign(MESSAGE, ec.ECDSA(h))
        pub.verify(sig, MESSAGE, ec.ECDSA(h))
        with pytest.raises(InvalidSignature):
            pub.verify(sig, MESSAGE + b"!", ec.ECDSA(h))


# ---------------------------------------------------------------------------
# Every spec, with and without plaintext
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS)
def test_generate_data_key_pair(kms, key, spec, tmp_path):
    resp = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec=spec, EncryptionContext=CONTEXT)
    assert resp["KeyId"] == key["Arn"]
    assert resp["KeyPairSpec"] == spec
    private, public, blob = resp["PrivateKeyPlaintext"], resp["PublicKey"], resp["PrivateKeyCiphertextBlob"]
    assert private not in blob
    dec = kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
    assert dec["Plaintext"] == private, "PrivateKeyCiphertextBlob does not decrypt to PrivateKeyPlaintext"
    assert dec["KeyId"] == key["Arn"] and dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert kms.decrypt(CiphertextBlob=blob, KeyId=key["KeyId"], EncryptionContext=CONTEXT)["Plaintext"] == private
    check_pair_outside(private, public, spec, tmp_path)


@pytest.mark.parametrize("spec", SPECS)
def test_generate_data_key_pair_without_plaintext(kms, key, spec, tmp_path):
    resp = kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec=spec,
                                                        EncryptionContext=CONTEXT)
    assert "PrivateKeyPlaintext" not in resp
    assert resp["KeyId"] == key["Arn"]
    assert resp["KeyPairSpec"] == spec
    private = kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"], EncryptionContext=CONTEXT)["Plaintext"]
    check_pair_outside(private, resp["PublicKey"], spec, tmp_path)


# ---------------------------------------------------------------------------
# Encryption context, uniqueness, identifiers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["generate_data_key_pair", "generate_data_key_pair_without_plaintext"])
def test_encryption_context_is_honoured(kms, key, op):
    resp = getattr(kms, op)(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256", EncryptionContext=CONTEXT)
    blob = resp["PrivateKeyCiphertextBlob"]
    # [LS] InvalidCiphertextException with an empty message
    with expect_error("InvalidCiphertextException", message=""):
        kms.decrypt(CiphertextBlob=blob)
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={**CONTEXT, "tenant": "t-43"})
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": CONTEXT["purpose"]})
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=dict(reversed(list(CONTEXT.items()))))["Plaintext"]


def test_without_context_round_trip(kms, key):
    resp = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_EDWARDS25519")
    assert kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"])["Plaintext"] == resp["PrivateKeyPlaintext"]
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"], EncryptionContext={"a": "b"})


def test_every_call_returns_a_new_pair(kms, key):
    a = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    b = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    c = kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    assert len({a["PublicKey"], b["PublicKey"], c["PublicKey"]}) == 3
    assert a["PrivateKeyPlaintext"] != b["PrivateKeyPlaintext"]


def test_data_key_pair_by_alias(kms, key, account):
    alias = unique_alias("dkp")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    for ident in (alias, alias_arn(DEFAULT_REGION, account, alias), key["Arn"]):
        resp = kms.generate_data_key_pair(KeyId=ident, KeyPairSpec="ECC_SECG_P256K1")
        assert resp["KeyId"] == key["Arn"]
        assert kms.decrypt(CiphertextBlob=resp["PrivateKeyCiphertextBlob"])["Plaintext"] == resp["PrivateKeyPlaintext"]
        resp = kms.generate_data_key_pair_without_plaintext(KeyId=ident, KeyPairSpec="ECC_NIST_P384")
        assert resp["KeyId"] == key["Arn"]


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

NOT_SYMMETRIC = [("RSA_2048", "ENCRYPT_DECRYPT"), ("RSA_2048", "SIGN_VERIFY"), ("ECC_NIST_P256", "SIGN_VERIFY"),
                 ("ECC_NIST_P256", "KEY_AGREEMENT"), ("SM2", "ENCRYPT_DECRYPT"), ("HMAC_256", "GENERATE_VERIFY_MAC"),
                 ("ML_DSA_44", "SIGN_VERIFY")]


@pytest.mark.parametrize("op", ["generate_data_key_pair", "generate_data_key_pair_without_plaintext"])
@pytest.mark.parametrize("spec,usage", NOT_SYMMETRIC, ids=[f"{s}-{u}" for s, u in NOT_SYMMETRIC])
def test_key_id_must_be_symmetric_encryption_key(kms, shared_key, op, spec, usage):
    md = shared_key(spec, usage)
    with expect_error("InvalidKeyUsageException"):
        getattr(kms, op)(KeyId=md["KeyId"], KeyPairSpec="ECC_NIST_P256")


@pytest.mark.parametrize("op", ["generate_data_key_pair", "generate_data_key_pair_without_plaintext"])
def test_disabled_key(kms, new_key, op):
    md = new_key()
    kms.disable_key(KeyId=md["KeyId"])
    with expect_error("DisabledException", message=f"{md['Arn']} is disabled."):
        getattr(kms, op)(KeyId=md["KeyId"], KeyPairSpec="ECC_NIST_P256")


@pytest.mark.parametrize("op", ["generate_data_key_pair", "generate_data_key_pair_without_plaintext"])
def test_dry_run(kms, key, op):
    with expect_error("DryRunOperationException", status=400) as err:
        getattr(kms, op)(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256", DryRun=True)
    assert "PrivateKeyPlaintext" not in err and "PrivateKeyCiphertextBlob" not in err and "PublicKey" not in err


@pytest.mark.parametrize("bad", ["RSA_1024", "ML_DSA_44", "HMAC_256", "SYMMETRIC_DEFAULT"])
def test_unsupported_key_pair_spec(kms_loose, key, bad):
    with expect_error("ValidationException",
                      message_prefix=f"1 validation error detected: Value '{bad}' at 'keyPairSpec' failed to "
                                     "satisfy constraint: Member must satisfy enum value set"):
        kms_loose.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec=bad)


def test_unknown_key(kms, account):
    missing = "a1b2c3d4-e5f6-4789-8abc-def012345678"
    with expect_error("NotFoundException",
                      message=f"Key 'arn:aws:kms:{DEFAULT_REGION}:{account}:key/{missing}' does not exist"):
        kms.generate_data_key_pair(KeyId=missing, KeyPairSpec="ECC_NIST_P256")
