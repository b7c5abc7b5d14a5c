"""Sign / Verify for every signing key spec, and proof that the server's signatures
are standard: each one is checked OUTSIDE the server with the public key from
GetPublicKey (Python `cryptography`, a small RFC 8032 verifier for Ed25519ph, and
the OpenSSL command line for SM2).

Sources:
  [API]  AWS KMS API Reference, Sign / Verify: Message is 1..4096 bytes; MessageType
         RAW | DIGEST | EXTERNAL_MU; "When the value of MessageType is DIGEST, the
         length of the Message value must match the length of hashed messages for the
         specified signing algorithm"; "When the value of MessageType is EXTERNAL_MU the
         length of the Message value must be 64 bytes"; for ECC_NIST_EDWARDS25519
         "ED25519_SHA_512 signing algorithm requires KMS MessageType:RAW,
         ED25519_PH_SHA_512 signing algorithm requires KMS MessageType:DIGEST" and "When
         you specify the ED25519_PH_SHA_512 signing algorithm with MessageType:DIGEST, KMS
         still performs the SHA-512 prehash described in Step 1 of Section 7.8.1 in FIPS
         186-5. This means the input is hashed twice"; EXTERNAL_MU is "the 64-byte
         representative mu used in ML-DSA signing as defined in NIST FIPS 204 Section
         6.2"; "If the signature verification fails, the Verify operation fails with an
         KMSInvalidSignatureException"; ECDSA signatures are DER (RFC 3279 2.2.3); SM2
         offline verification uses the distinguishing ID 1234567812345678.
  [LS]   LocalStack snapshots recorded against AWS (tests/aws/services/kms/
         test_kms.snapshot.json): test_sign_verify -- a DIGEST of the wrong length gives
         ValidationException "Digest is invalid length for algorithm <alg>." and a bad
         signature gives KMSInvalidSignatureException with an empty message;
         test_error_messaging_for_invalid_keys -- "<key-arn> key usage is
         GENERATE_VERIFY_MAC which is not valid for Sign." / "... ENCRYPT_DECRYPT which is
         not valid for Verify."
  [AWS-RSA] AWS uses PSS with MGF1 over the same hash and salt length = digest length
         (developer guide, "RSA key specs for signing and verification").

Where the server is the verifier of an outside signature: a data key pair
(GenerateDataKeyPair) is not a KMS key; a private key we hold becomes one only by
ImportKeyMaterial, which test_import_key_material.py covers (the server signs with
imported RSA and ECC material and the signature verifies outside). What this suite
proves: (1) every server signature verifies outside; (2) a DIGEST computed
outside and signed by the server verifies outside as an ordinary signature over the
message, and the server's Verify treats RAW and DIGEST forms of the same message as the
same message; (3) data key pairs sign/verify outside (test_data_key_pairs.py).
"""

import base64
import hashlib
import json
import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
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
RSA_ALGS = ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
            "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"]
ECDSA = [("ECC_NIST_P256", "ECDSA_SHA_256"), ("ECC_NIST_P384", "ECDSA_SHA_384"),
         ("ECC_NIST_P521", "ECDSA_SHA_512"), ("ECC_SECG_P256K1", "ECDSA_SHA_256")]
MLDSA = ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"]

# every (KeySpec, SigningAlgorithm, MessageType used for Sign) the server must support
ALL_CASES = ([(s, a, "RAW") for s in RSA_SPECS for a in RSA_ALGS]
             + [(s, a, "RAW") for s, a in ECDSA]
             + [("ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "RAW"),
                ("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "DIGEST")]
             + [(s, "ML_DSA_SHAKE_256", "RAW") for s in MLDSA]
             + [(s, "ML_DSA_SHAKE_256", "EXTERNAL_MU") for s in MLDSA]
             + [("SM2", "SM2DSA", "RAW"), ("SM2", "SM2DSA", "DIGEST")])

MESSAGE = b"swift-kms interop message \x00\x01\xff" + bytes(range(256))


def _hash(alg):
    return {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg.rsplit("_", 1)[1]]


def _digest(alg, msg):
    h = hashes.Hash(_hash(alg))
    h.update(msg)
    return h.finalize()


def mldsa_mu(public_key_raw: bytes, message: bytes, context: bytes = b"") -> bytes:
    """FIPS 204 Algorithm 2/7: mu = H(tr || M', 64), tr = H(pk, 64), M' = 0 || |ctx| || ctx || M."""
    tr = hashlib.shake_256(public_key_raw).digest(64)
    return hashlib.shake_256(tr + bytes([0, len(context)]) + context + message).digest(64)


def _message_for(spec, alg, mtype, pub_der):
    """The Message to send for a given MessageType (digest / mu computed outside)."""
    if mtype == "RAW":
        return MESSAGE
    if mtype == "EXTERNAL_MU":
        return mldsa_mu(load_der_public_key(pub_der).public_bytes_raw(), MESSAGE)
    if alg == "SM2DSA":
        return hashlib.sha256(MESSAGE).digest()  # any 32 bytes: SM2 DIGEST is only round-tripped
    return hashlib.sha512(MESSAGE).digest() if alg == "ED25519_PH_SHA_512" else _digest(alg, MESSAGE)


# ---------------------------------------------------------------------------
# A small RFC 8032 Ed25519 / Ed25519ph verifier (Python `cryptography` 48 has
# pure Ed25519 only). Verification is one equation: [S]B == R + [k]A.
# ---------------------------------------------------------------------------

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _pt_add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _pt_mul(s, p):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _pt_add(q, p)
        p = _pt_add(p, p)
        s >>= 1
    return q


def _pt_decode(b):
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P or (x == 0 and sign):
        return None
    if (x & 1) != sign:
        x = _P - x
    return x, y, 1, x * y % _P


_B = _pt_decode((4 * pow(5, _P - 2, _P) % _P).to_bytes(32, "little"))


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes, prehash: bool = False,
                   context: bytes = b"") -> bool:
    """RFC 8032 5.1.7 verify; prehash=True is Ed25519ph (dom2(1, context), PH = SHA-512)."""
    if len(signature) != 64:
        return False
    a, r = _pt_decode(public_key), _pt_decode(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    dom = b""
    if prehash:
        dom = b"SigEd25519 no Ed25519 collisions" + bytes([1, len(context)]) + context
        message = hashlib.sha512(message).digest()
    k = int.from_bytes(hashlib.sha512(dom + signature[:32] + public_key + message).digest(), "little") % _L
    lhs, rhs = _pt_mul(s, _B), _pt_add(r, _pt_mul(k, a))
    return (lhs[0] * rhs[2] - rhs[0] * lhs[2]) % _P == 0 and (lhs[1] * rhs[2] - rhs[1] * lhs[2]) % _P == 0


def test_ed25519_verifier_self_check():
    # RFC 8032 section 7.3, test vector "abc" for Ed25519ph
    pub = bytes.fromhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
    sig = bytes.fromhex("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
                        "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406")
    assert ed25519_verify(pub, b"abc", sig, prehash=True)
    assert not ed25519_verify(pub, b"abd", sig, prehash=True)
    assert not ed25519_verify(pub, b"abc", sig, prehash=False)
    # and it agrees with `cryptography` on pure Ed25519
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    k = Ed25519PrivateKey.generate()
    pure = k.sign(b"pure message")
    assert ed25519_verify(k.public_key().public_bytes_raw(), b"pure message", pure)
    assert not ed25519_verify(k.public_key().public_bytes_raw(), b"pure messagf", pure)


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signing_key(kms, shared_key):
    """signing_key(spec) -> (KeyMetadata, DER public key) of the shared SIGN_VERIFY key."""
    pubs = {}

    def get(spec):
        md = shared_key(spec, "SIGN_VERIFY")
        if spec not in pubs:
            pubs[spec] = kms.get_public_key(KeyId=md["KeyId"])["PublicKey"]
        return md, pubs[spec]

    return get


def _sign(kms, md, msg, alg, mtype="RAW"):
    resp = kms.sign(KeyId=md["KeyId"], Message=msg, MessageType=mtype, SigningAlgorithm=alg)
    assert resp["KeyId"] == md["Arn"]
    assert resp["SigningAlgorithm"] == alg
    return resp["Signature"]


def _verify(kms, md, msg, sig, alg, mtype="RAW"):
    resp = kms.verify(KeyId=md["KeyId"], Message=msg, MessageType=mtype, Signature=sig, SigningAlgorithm=alg)
    assert resp["SignatureValid"] is True
    assert resp["KeyId"] == md["Arn"]
    assert resp["SigningAlgorithm"] == alg
    return resp


# ---------------------------------------------------------------------------
# Round trips in the server
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec,alg,mtype", ALL_CASES, ids=[f"{s}-{a}-{m}" for s, a, m in ALL_CASES])
def test_sign_verify_round_trip(kms, signing_key, spec, alg, mtype):
    md, pub = signing_key(spec)
    msg = _message_for(spec, alg, mtype, pub)
    sig = _sign(kms, md, msg, alg, mtype)
    _verify(kms, md, msg, sig, alg, mtype)
    # the response KeyId is the ARN whatever identifier was used
    assert kms.verify(KeyId=md["Arn"], Message=msg, MessageType=mtype, Signature=sig,
                      SigningAlgorithm=alg)["KeyId"] == md["Arn"]


def test_message_type_defaults_to_raw(kms, signing_key):
    md, _ = signing_key("ECC_NIST_P256")
    sig = kms.sign(KeyId=md["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    _verify(kms, md, MESSAGE, sig, "ECDSA_SHA_256", "RAW")
    assert kms.verify(KeyId=md["KeyId"], Message=MESSAGE, Signature=sig,
                      SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"] is True


@pytest.mark.parametrize("size", [1, 4096])
def test_sign_message_size_limits(kms, signing_key, size):
    md, pub = signing_key("ECC_NIST_P256")
    msg = os.urandom(size)
    sig = _sign(kms, md, msg, "ECDSA_SHA_256")
    load_der_public_key(pub).verify(sig, msg, ec.ECDSA(hashes.SHA256()))


def test_randomized_and_deterministic_schemes(kms, signing_key):
    # ECDSA and RSASSA-PSS are randomized; PKCS #1 v1.5 and Ed25519 are deterministic by definition
    ecc, _ = signing_key("ECC_NIST_P256")
    rsa_md, _ = signing_key("RSA_2048")
    ed, _ = signing_key("ECC_NIST_EDWARDS25519")
    assert _sign(kms, ecc, MESSAGE, "ECDSA_SHA_256") != _sign(kms, ecc, MESSAGE, "ECDSA_SHA_256")
    assert _sign(kms, rsa_md, MESSAGE, "RSASSA_PSS_SHA_256") != _sign(kms, rsa_md, MESSAGE, "RSASSA_PSS_SHA_256")
    assert (_sign(kms, rsa_md, MESSAGE, "RSASSA_PKCS1_V1_5_SHA_256")
            == _sign(kms, rsa_md, MESSAGE, "RSASSA_PKCS1_V1_5_SHA_256"))
    assert _sign(kms, ed, MESSAGE, "ED25519_SHA_512") == _sign(kms, ed, MESSAGE, "ED25519_SHA_512")


# ---------------------------------------------------------------------------
# Interoperability: server signatures verify outside
# ---------------------------------------------------------------------------

RSA_CASES = [(s, a) for s in RSA_SPECS for a in RSA_ALGS]


@pytest.mark.parametrize("spec,alg", RSA_CASES, ids=[f"{s}-{a}" for s, a in RSA_CASES])
def test_rsa_signature_verifies_outside(kms, signing_key, spec, alg):
    md, pub_der = signing_key(spec)
    pub = load_der_public_key(pub_der)
    h = _hash(alg)
    if "PSS" in alg:
        # [AWS-RSA] MGF1 with the same hash, salt length = digest length (checked exactly)
        pad = padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
    else:
        pad = padding.PKCS1v15()
    raw_sig = _sign(kms, md, MESSAGE, alg, "RAW")
    assert len(raw_sig) == pub.key_size // 8
    pub.verify(raw_sig, MESSAGE, pad, h)

    # DIGEST computed outside, signed by the server, verifies outside over the message
    digest = _digest(alg, MESSAGE)
    digest_sig = _sign(kms, md, digest, alg, "DIGEST")
    pub.verify(digest_sig, MESSAGE, pad, h)
    pub.verify(digest_sig, digest, pad, utils.Prehashed(h))
    # and the server sees "a message and its hash digest" as the same message [API Verify]
    _verify(kms, md, MESSAGE, digest_sig, alg, "RAW")
    _verify(kms, md, digest, raw_sig, alg, "DIGEST")
    # a verifier using the other padding must reject it
    other = padding.PKCS1v15() if "PSS" in alg else padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
    with pytest.raises(InvalidSignature):
        pub.verify(raw_sig, MESSAGE, other, h)


@pytest.mark.parametrize("spec,alg", ECDSA, ids=[s for s, _ in ECDSA])
def test_ecdsa_signature_verifies_outside(kms, signing_key, spec, alg):
    md, pub_der = signing_key(spec)
    pub = load_der_public_key(pub_der)
    h = _hash(alg)
    raw_sig = _sign(kms, md, MESSAGE, alg, "RAW")
    # [API Sign] DER-encoded ECDSA-Sig-Value (RFC 3279 2.2.3)
    r, s = utils.decode_dss_signature(raw_sig)
    assert utils.encode_dss_signature(r, s) == raw_sig, "signature is not canonical DER"
    assert 0 < r and 0 < s
    pub.verify(raw_sig, MESSAGE, ec.ECDSA(h))

    digest = _digest(alg, MESSAGE)
    digest_sig = _sign(kms, md, digest, alg, "DIGEST")
    pub.verify(digest_sig, MESSAGE, ec.ECDSA(h))
    pub.verify(digest_sig, digest, ec.ECDSA(utils.Prehashed(h)))
    _verify(kms, md, MESSAGE, digest_sig, alg, "RAW")
    _verify(kms, md, digest, raw_sig, alg, "DIGEST")
    with pytest.raises(InvalidSignature):
        pub.verify(raw_sig, MESSAGE + b"!", ec.ECDSA(h))


def test_ed25519_signature_verifies_outside(kms, signing_key):
    md, pub_der = signing_key("ECC_NIST_EDWARDS25519")
    pub = load_der_public_key(pub_der)
    sig = _sign(kms, md, MESSAGE, "ED25519_SHA_512", "RAW")
    assert len(sig) == 64
    pub.verify(sig, MESSAGE)  # `cryptography`: RFC 8032 pure Ed25519
    assert ed25519_verify(pub.public_bytes_raw(), MESSAGE, sig)
    with pytest.raises(InvalidSignature):
        pub.verify(sig, MESSAGE + b"!")


def test_ed25519ph_signature_verifies_outside(kms, signing_key):
    """ED25519_PH_SHA_512 with MessageType DIGEST (a 64-byte SHA-512 digest d).

    [API] says KMS still applies the Ed25519ph prehash to the input, so the input is
    hashed twice. What verifies outside (checked here with the RFC 8032 verifier, since
    `cryptography` has no Ed25519ph): the signature is a standard Ed25519ph signature
    whose *message* is d, i.e. PH(d) = SHA-512(d) enters the signature -- NOT an Ed25519ph
    signature over the original message (whose PH would be d itself).
    """
    md, pub_der = signing_key("ECC_NIST_EDWARDS25519")
    pub = load_der_public_key(pub_der).public_bytes_raw()
    d = hashlib.sha512(MESSAGE).digest()
    sig = _sign(kms, md, d, "ED25519_PH_SHA_512", "DIGEST")
    assert len(sig) == 64
    assert ed25519_verify(pub, d, sig, prehash=True), "not Ed25519ph(message = digest) as AWS documents"
    assert not ed25519_verify(pub, MESSAGE, sig, prehash=True)
    assert not ed25519_verify(pub, d, sig, prehash=False)
    # an Ed25519ph signature is not a pure Ed25519 signature
    with pytest.raises(InvalidSignature):
        load_der_public_key(pub_der).verify(sig, d)
    _verify(kms, md, d, sig, "ED25519_PH_SHA_512", "DIGEST")


@pytest.mark.parametrize("spec", MLDSA)
def test_mldsa_signature_verifies_outside(kms, signing_key, spec):
    md, pub_der = signing_key(spec)
    pub = load_der_public_key(pub_der)
    sig_len = {"ML_DSA_44": 2420, "ML_DSA_65": 3309, "ML_DSA_87": 4627}[spec]  # FIPS 204 Table 2
    sig = _sign(kms, md, MESSAGE, "ML_DSA_SHAKE_256", "RAW")
    assert len(sig) == sig_len
    pub.verify(sig, MESSAGE)  # pure ML-DSA, empty context
    with pytest.raises(InvalidSignature):
        pub.verify(sig, MESSAGE + b"!")


@pytest.mark.parametrize("spec", MLDSA)
def test_mldsa_external_mu_verifies_outside(kms, signing_key, spec):
    """EXTERNAL_MU: mu = SHAKE256(SHAKE256(pk, 64) || 0x00 || 0x00 || M, 64) (FIPS 204,
    empty context), computed here with hashlib; the server's signature over mu is an
    ordinary ML-DSA signature over M."""
    md, pub_der = signing_key(spec)
    pub = load_der_public_key(pub_der)
    mu = mldsa_mu(pub.public_bytes_raw(), MESSAGE)
    sig = _sign(kms, md, mu, "ML_DSA_SHAKE_256", "EXTERNAL_MU")
    pub.verify(sig, MESSAGE)
    with pytest.raises(InvalidSignature):
        pub.verify(sig, MESSAGE, b"ctx")  # a non-empty context gives another mu
    # the server agrees that RAW(M) and EXTERNAL_MU(mu) are the same message
    _verify(kms, md, MESSAGE, sig, "ML_DSA_SHAKE_256", "RAW")
    raw_sig = _sign(kms, md, MESSAGE, "ML_DSA_SHAKE_256", "RAW")
    _verify(kms, md, mu, raw_sig, "ML_DSA_SHAKE_256", "EXTERNAL_MU")
    # mu of another message does not verify
    with expect_error("KMSInvalidSignatureException"):
        kms.verify(KeyId=md["KeyId"], Message=mldsa_mu(pub.public_bytes_raw(), MESSAGE + b"!"),
                   MessageType="EXTERNAL_MU", Signature=sig, SigningAlgorithm="ML_DSA_SHAKE_256")


@pytest.mark.skipif(openssl_with_sm2() is None, reason="openssl with SM2 support not available")
def test_sm2dsa_signature_verifies_outside_with_openssl(kms, signing_key, tmp_path):
    # Python `cryptography` cannot load SM2 keys; OpenSSL 3 can. [API] default distinguishing
    # ID 1234567812345678, SM3 hash, DER signature.
    md, pub_der = signing_key("SM2")
    sig = _sign(kms, md, MESSAGE, "SM2DSA", "RAW")
    r, s = utils.decode_dss_signature(sig)
    assert utils.encode_dss_signature(r, s) == sig
    (tmp_path / "pub.der").write_bytes(pub_der)
    (tmp_path / "msg").write_bytes(MESSAGE)
    (tmp_path / "bad").write_bytes(MESSAGE + b"!")
    (tmp_path / "sig").write_bytes(sig)
    openssl("pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem", cwd=tmp_path)
    ok = openssl("dgst", "-sm3", "-verify", "pub.pem", "-sigopt", "distid:1234567812345678",
                 "-signature", "sig", "msg", cwd=tmp_path, check=False)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout, ok.stdout + ok.stderr
    bad = openssl("dgst", "-sm3", "-verify", "pub.pem", "-sigopt", "distid:1234567812345678",
                  "-signature", "sig", "bad", cwd=tmp_path, check=False)
    assert bad.returncode != 0
    other_id = openssl("dgst", "-sm3", "-verify", "pub.pem", "-sigopt", "distid:0000000000000000",
                       "-signature", "sig", "msg", cwd=tmp_path, check=False)
    assert other_id.returncode != 0, "signature must bind the default distinguishing ID"


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

DIGEST_LEN = {"RSASSA_PSS_SHA_256": 32, "RSASSA_PSS_SHA_384": 48, "RSASSA_PSS_SHA_512": 64,
              "RSASSA_PKCS1_V1_5_SHA_256": 32, "RSASSA_PKCS1_V1_5_SHA_384": 48, "RSASSA_PKCS1_V1_5_SHA_512": 64,
              "ECDSA_SHA_256": 32, "ECDSA_SHA_384": 48, "ECDSA_SHA_512": 64,
              "ED25519_PH_SHA_512": 64, "SM2DSA": 32}
DIGEST_CASES = ([("RSA_2048", a) for a in RSA_ALGS] + ECDSA
                + [("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512"), ("SM2", "SM2DSA")])


@pytest.mark.parametrize("spec,alg", DIGEST_CASES, ids=[f"{s}-{a}" for s, a in DIGEST_CASES])
@pytest.mark.parametrize("delta", [-1, +1])
def test_digest_of_wrong_length(kms, signing_key, spec, alg, delta):
    md, _ = signing_key(spec)
    bad = os.urandom(DIGEST_LEN[alg] + delta)
    with expect_error("ValidationException"):
        kms.sign(KeyId=md["KeyId"], Message=bad, MessageType="DIGEST", SigningAlgorithm=alg)
    with expect_error("ValidationException"):
        kms.verify(KeyId=md["KeyId"], Message=bad, MessageType="DIGEST", Signature=b"\x30" * 64,
                   SigningAlgorithm=alg)


@pytest.mark.parametrize("spec,alg", [("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384"), ("ECC_NIST_P256", "ECDSA_SHA_256")])
def test_digest_of_wrong_length_message(kms, signing_key, spec, alg):
    # [LS test_sign_verify] exact wording recorded for the RSA and ECDSA algorithms
    md, _ = signing_key(spec)
    with expect_error("ValidationException", message=f"Digest is invalid length for algorithm {alg}."):
        kms.sign(KeyId=md["KeyId"], Message=b"\x01" * 20, MessageType="DIGEST", SigningAlgorithm=alg)


@pytest.mark.parametrize("size", [32, 63, 65])
def test_external_mu_of_wrong_length(kms, signing_key, size):
    md, _ = signing_key("ML_DSA_44")
    with expect_error("ValidationException"):
        kms.sign(KeyId=md["KeyId"], Message=os.urandom(size), MessageType="EXTERNAL_MU",
                 SigningAlgorithm="ML_DSA_SHAKE_256")


MTYPE_NOT_ALLOWED = [
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "DIGEST", 64),   # [API] requires RAW
    ("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512", "RAW", 64),   # [API] requires DIGEST
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512", "EXTERNAL_MU", 64),
    ("ML_DSA_44", "ML_DSA_SHAKE_256", "DIGEST", 64),              # issue: RAW and EXTERNAL_MU only
    ("ECC_NIST_P256", "ECDSA_SHA_256", "EXTERNAL_MU", 64),        # [API] EXTERNAL_MU is ML-DSA's mu
    ("RSA_2048", "RSASSA_PSS_SHA_512", "EXTERNAL_MU", 64),
]


@pytest.mark.parametrize("spec,alg,mtype,size", MTYPE_NOT_ALLOWED,
                         ids=[f"{a}-{m}" for _, a, m, _ in MTYPE_NOT_ALLOWED])
def test_message_type_not_allowed_for_algorithm(kms, signing_key, spec, alg, mtype, size):
    md, _ = signing_key(spec)
    with expect_error("ValidationException"):
        kms.sign(KeyId=md["KeyId"], Message=os.urandom(size), MessageType=mtype, SigningAlgorithm=alg)
    with expect_error("ValidationException"):
        kms.verify(KeyId=md["KeyId"], Message=os.urandom(size), MessageType=mtype, Signature=b"\x01" * 64,
                   SigningAlgorithm=alg)


@pytest.mark.parametrize("op", ["sign", "verify"])
def test_message_over_4096_bytes(kms_loose, signing_key, op):
    md, _ = signing_key("ECC_NIST_P256")
    kw = dict(KeyId=md["KeyId"], Message=b"m" * 4097, SigningAlgorithm="ECDSA_SHA_256")
    if op == "verify":
        kw["Signature"] = b"\x30" * 70
    with expect_error("ValidationException"):
        getattr(kms_loose, op)(**kw)


def test_empty_message(kms_loose, signing_key):
    md, _ = signing_key("ECC_NIST_P256")
    with expect_error("ValidationException"):
        kms_loose.sign(KeyId=md["KeyId"], Message=b"", SigningAlgorithm="ECDSA_SHA_256")


def test_unknown_signing_algorithm(kms_loose, signing_key):
    md, _ = signing_key("ECC_NIST_P256")
    with expect_error("ValidationException",
                      message_prefix="1 validation error detected: Value 'ECDSA_SHA_1' at 'signingAlgorithm' "
                                     "failed to satisfy constraint: Member must satisfy enum value set"):
        kms_loose.sign(KeyId=md["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_1")


BAD_SIG_CASES = ["RSA_2048-RSASSA_PSS_SHA_256", "RSA_3072-RSASSA_PKCS1_V1_5_SHA_384", "ECC_NIST_P256-ECDSA_SHA_256",
                 "ECC_SECG_P256K1-ECDSA_SHA_256", "ECC_NIST_EDWARDS25519-ED25519_SHA_512", "ML_DSA_65-ML_DSA_SHAKE_256",
                 "SM2-SM2DSA"]


@pytest.mark.parametrize("case", BAD_SIG_CASES)
def test_invalid_signature_raises(kms, signing_key, case):
    spec, alg = case.split("-")
    md, _ = signing_key(spec)
    sig = _sign(kms, md, MESSAGE, alg)
    flipped = bytearray(sig)
    flipped[len(flipped) // 2] ^= 0x01
    # AWS raises; it never answers SignatureValid=false [API Verify], with an empty message [LS]
    for message, signature in ((MESSAGE, bytes(flipped)), (MESSAGE + b"!", sig), (MESSAGE, sig[:-1]),
                               (MESSAGE, b"\x00" * len(sig)), (MESSAGE[:-1], sig)):
        with expect_error("KMSInvalidSignatureException", message=""):
            kms.verify(KeyId=md["KeyId"], Message=message, Signature=signature, SigningAlgorithm=alg)


def test_signature_of_another_key_is_invalid(kms, signing_key, new_key):
    md, _ = signing_key("ECC_NIST_P256")
    other = new_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    sig = _sign(kms, other, MESSAGE, "ECDSA_SHA_256")
    with expect_error("KMSInvalidSignatureException"):
        kms.verify(KeyId=md["KeyId"], Message=MESSAGE, Signature=sig, SigningAlgorithm="ECDSA_SHA_256")


def test_signature_checked_with_another_algorithm_is_invalid(kms, signing_key):
    md, _ = signing_key("RSA_2048")
    sig = _sign(kms, md, MESSAGE, "RSASSA_PSS_SHA_256")
    for alg in ("RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_384"):
        with expect_error("KMSInvalidSignatureException"):
            kms.verify(KeyId=md["KeyId"], Message=MESSAGE, Signature=sig, SigningAlgorithm=alg)


def test_double_hashed_digest_does_not_verify(kms, signing_key):
    # [API] "if the signed message is hashed once while signing, but twice while verifying,
    # verification fails"
    md, _ = signing_key("ECC_NIST_P256")
    digest = hashlib.sha256(MESSAGE).digest()
    sig = _sign(kms, md, digest, "ECDSA_SHA_256", "DIGEST")
    with expect_error("KMSInvalidSignatureException"):
        kms.verify(KeyId=md["KeyId"], Message=digest, MessageType="RAW", Signature=sig,
                   SigningAlgorithm="ECDSA_SHA_256")


WRONG_ALG = [("RSA_2048", "ECDSA_SHA_256"), ("RSA_4096", "ML_DSA_SHAKE_256"), ("ECC_NIST_P256", "ECDSA_SHA_384"),
             ("ECC_NIST_P384", "ECDSA_SHA_256"), ("ECC_NIST_P521", "RSASSA_PSS_SHA_512"),
             ("ECC_SECG_P256K1", "ECDSA_SHA_512"), ("ECC_NIST_EDWARDS25519", "ECDSA_SHA_512"),
             ("ML_DSA_87", "ED25519_SHA_512"), ("SM2", "ECDSA_SHA_256"), ("ECC_NIST_P256", "SM2DSA")]


@pytest.mark.parametrize("spec,alg", WRONG_ALG, ids=[f"{s}-{a}" for s, a in WRONG_ALG])
def test_algorithm_not_valid_for_key(kms, signing_key, spec, alg):
    md, _ = signing_key(spec)
    # [API InvalidKeyUsageException] "The ... signing algorithm specified for the operation is
    # incompatible with the type of key material in the KMS key (KeySpec)."
    with expect_error("InvalidKeyUsageException"):
        kms.sign(KeyId=md["KeyId"], Message=b"m", SigningAlgorithm=alg)
    with expect_error("InvalidKeyUsageException"):
        kms.verify(KeyId=md["KeyId"], Message=b"m", Signature=b"\x30" * 70, SigningAlgorithm=alg)


NON_SIGNING = [("RSA_2048", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "KEY_AGREEMENT"), ("SM2", "ENCRYPT_DECRYPT"),
               ("HMAC_256", "GENERATE_VERIFY_MAC"), ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")]


@pytest.mark.parametrize("spec,usage", NON_SIGNING, ids=[f"{s}-{u}" for s, u in NON_SIGNING])
def test_sign_with_key_that_cannot_sign(kms, shared_key, key, spec, usage):
    md = key if spec == "SYMMETRIC_DEFAULT" else shared_key(spec, usage)
    alg = {"RSA_2048": "RSASSA_PSS_SHA_256", "ECC_NIST_P256": "ECDSA_SHA_256", "SM2": "SM2DSA"}.get(
        spec, "RSASSA_PSS_SHA_256")
    # [LS] "<key-arn> key usage is <usage> which is not valid for Sign." / "... for Verify."
    with expect_error("InvalidKeyUsageException",
                      message=f"{md['Arn']} key usage is {usage} which is not valid for Sign."):
        kms.sign(KeyId=md["KeyId"], Message=b"m", SigningAlgorithm=alg)
    with expect_error("InvalidKeyUsageException",
                      message=f"{md['Arn']} key usage is {usage} which is not valid for Verify."):
        kms.verify(KeyId=md["KeyId"], Message=b"m", Signature=b"\x30" * 70, SigningAlgorithm=alg)


def test_sign_unknown_key(kms, account):
    missing = "0f0e0d0c-0b0a-4909-8807-060504030201"
    with expect_error("NotFoundException",
                      message=f"Key 'arn:aws:kms:{DEFAULT_REGION}:{account}:key/{missing}' does not exist"):
        kms.sign(KeyId=missing, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")


# ---------------------------------------------------------------------------
# Key states, aliases, DryRun
# ---------------------------------------------------------------------------

def test_disabled_key_refuses_sign_and_verify(kms, new_key):
    md = new_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")
    sig = _sign(kms, md, MESSAGE, "ECDSA_SHA_384")
    kms.disable_key(KeyId=md["KeyId"])
    with expect_error("DisabledException", message=f"{md['Arn']} is disabled."):
        kms.sign(KeyId=md["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_384")
    with expect_error("DisabledException", message=f"{md['Arn']} is disabled."):
        kms.verify(KeyId=md["KeyId"], Message=MESSAGE, Signature=sig, SigningAlgorithm="ECDSA_SHA_384")
    kms.enable_key(KeyId=md["KeyId"])
    _verify(kms, md, MESSAGE, sig, "ECDSA_SHA_384")


def test_pending_deletion_key_refuses_sign(kms, new_key):
    md = new_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")
    sig = _sign(kms, md, MESSAGE, "ED25519_SHA_512")
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    with expect_error("KMSInvalidStateException", message=f"{md['Arn']} is pending deletion."):
        kms.sign(KeyId=md["KeyId"], Message=MESSAGE, SigningAlgorithm="ED25519_SHA_512")
    with expect_error("KMSInvalidStateException", message=f"{md['Arn']} is pending deletion."):
        kms.verify(KeyId=md["KeyId"], Message=MESSAGE, Signature=sig, SigningAlgorithm="ED25519_SHA_512")
    kms.cancel_key_deletion(KeyId=md["KeyId"])
    kms.enable_key(KeyId=md["KeyId"])
    _verify(kms, md, MESSAGE, sig, "ED25519_SHA_512")


def test_sign_verify_get_public_key_by_alias(kms, signing_key, account):
    md, pub = signing_key("ML_DSA_44")
    alias = unique_alias("sign")
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    for ident in (alias, alias_arn(DEFAULT_REGION, account, alias)):
        resp = kms.sign(KeyId=ident, Message=MESSAGE, SigningAlgorithm="ML_DSA_SHAKE_256")
        assert resp["KeyId"] == md["Arn"]
        ver = kms.verify(KeyId=ident, Message=MESSAGE, Signature=resp["Signature"],
                         SigningAlgorithm="ML_DSA_SHAKE_256")
        assert ver["SignatureValid"] is True and ver["KeyId"] == md["Arn"]
        got = kms.get_public_key(KeyId=ident)
        assert got["KeyId"] == md["Arn"] and got["PublicKey"] == pub
        load_der_public_key(pub).verify(resp["Signature"], MESSAGE)


@pytest.mark.parametrize("op", ["sign", "verify"])
def test_dry_run(kms, signing_key, op):
    md, _ = signing_key("ECC_NIST_P256")
    sig = _sign(kms, md, MESSAGE, "ECDSA_SHA_256")
    kw = dict(KeyId=md["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256", DryRun=True)
    if op == "verify":
        kw["Signature"] = sig
    with expect_error("DryRunOperationException", status=400) as err:
        getattr(kms, op)(**kw)
    assert "Signature" not in err and "SignatureValid" not in err


def test_dry_run_on_disabled_signing_key(kms, new_key):
    md = new_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    kms.disable_key(KeyId=md["KeyId"])
    with expect_error("DisabledException"):
        kms.sign(KeyId=md["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256", DryRun=True)


# ---------------------------------------------------------------------------
# AWS CLI v1: get-public-key, sign, verify
# ---------------------------------------------------------------------------

from test_cli import AWS, aws  # noqa: E402,F401  (reuse the CLI fixture: credentials file, endpoint)


@pytest.mark.skipif(AWS is None, reason="aws CLI not installed")
def test_cli_sign_verify_get_public_key(aws, signing_key, tmp_path):
    md, _ = signing_key("ECC_NIST_P256")
    (tmp_path / "msg.bin").write_bytes(MESSAGE)
    pub = json.loads(aws("get-public-key", "--key-id", md["KeyId"], "--output", "json").stdout)
    assert pub["KeySpec"] == "ECC_NIST_P256" and pub["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    pub_der = base64.b64decode(pub["PublicKey"])
    signed = json.loads(aws("sign", "--key-id", md["KeyId"], "--message", "fileb://msg.bin",
                            "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256",
                            "--output", "json").stdout)
    assert signed["KeyId"] == md["Arn"]
    sig = base64.b64decode(signed["Signature"])
    load_der_public_key(pub_der).verify(sig, MESSAGE, ec.ECDSA(hashes.SHA256()))
    (tmp_path / "sig.bin").write_bytes(sig)
    verified = json.loads(aws("verify", "--key-id", md["KeyId"], "--message", "fileb://msg.bin",
                              "--signature", "fileb://sig.bin", "--signing-algorithm", "ECDSA_SHA_256",
                              "--output", "json").stdout)
    assert verified["SignatureValid"] is True
    (tmp_path / "other.bin").write_bytes(MESSAGE + b"!")
    failed = aws("verify", "--key-id", md["KeyId"], "--message", "fileb://other.bin",
                 "--signature", "fileb://sig.bin", "--signing-algorithm", "ECDSA_SHA_256", check=False)
    assert failed.returncode != 0
    assert "KMSInvalidSignatureException" in failed.stderr
