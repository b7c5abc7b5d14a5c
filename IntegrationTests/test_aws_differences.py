"""Differences from AWS that issue 12 (section 6) lists, each answered as AWS does.

Sources:
  Tags: AWS refuses duplicate keys in one request and more than 50 tags with
        TagException ("Duplicate tag keys", "Too many tags"), and reserves keys that
        begin with aws: in any letter case ("Tags beginning with aws: are reserved").
  DryRunOperationException: HTTP 400 on AWS (the API reference says 412).
  ReEncrypt: a SourceKeyId that does not name the ciphertext's key is
        IncorrectKeyException, judged before the destination.
  RSA Decrypt: AWS decrypts an offline OAEP SHA-256 ciphertext when the request names
        RSAES_OAEP_SHA_1 (see RSAKeys.swift).
  DeriveSharedSecret: a public key that is not valid is a ValidationException with an
        empty message.
"""

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from kms_harness import expect_error

INCORRECT_KEY = "The key ID in the request does not identify a CMK that can perform this operation."


def _tags(n, prefix="k"):
    return [{"TagKey": f"{prefix}{i}", "TagValue": "v"} for i in range(n)]


def test_duplicate_tag_keys_in_create_key(kms):
    with expect_error("TagException", message="Duplicate tag keys"):
        kms.create_key(Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}])


def test_duplicate_tag_keys_in_tag_resource(kms, key):
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "a", "TagValue": "0"}])
    with expect_error("TagException", message="Duplicate tag keys"):
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}])
    # state untouched; a stored key given once is still replaced, as AWS edits tags
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "a", "TagValue": "0"}]
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "a", "TagValue": "3"}])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "a", "TagValue": "3"}]


def test_too_many_tags(kms, key):
    with expect_error("TagException", message="Too many tags"):
        kms.create_key(Tags=_tags(51))
    kms.tag_resource(KeyId=key["KeyId"], Tags=_tags(50))
    with expect_error("TagException", message="Too many tags"):
        kms.tag_resource(KeyId=key["KeyId"], Tags=_tags(1, prefix="extra"))
    with expect_error("TagException", message="Too many tags"):
        kms.tag_resource(KeyId=key["KeyId"], Tags=_tags(51))
    assert len(kms.list_resource_tags(KeyId=key["KeyId"], Limit=50)["Tags"]) == 50


@pytest.mark.parametrize("tag_key", ["aws:x", "AWS:x", "Aws:x", "aWs:x"])
def test_reserved_aws_prefix_any_case(kms, key, tag_key):
    with expect_error("TagException", message="Tags beginning with aws: are reserved"):
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": tag_key, "TagValue": "v"}])
    with expect_error("TagException", message="Tags beginning with aws: are reserved"):
        kms.create_key(Tags=[{"TagKey": tag_key, "TagValue": "v"}])
    # "aws" without the colon is an ordinary key
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "awsx", "TagValue": "v"}])


def test_dry_run_is_http_400(kms, key):
    with expect_error("DryRunOperationException", status=400):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)


def test_reencrypt_wrong_source_key_is_checked_before_destination(kms, key, new_key, shared_key):
    other = new_key(Description="not the source")
    hmac = shared_key("HMAC_256", "GENERATE_VERIFY_MAC")
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    for destination in (hmac["KeyId"], key["KeyId"]):
        with expect_error("IncorrectKeyException", message=INCORRECT_KEY):
            kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=other["KeyId"], DestinationKeyId=destination)
    # the right source with an HMAC destination is still refused for the destination
    with expect_error("InvalidKeyUsageException"):
        kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=key["KeyId"], DestinationKeyId=hmac["KeyId"])
    with expect_error("DryRunOperationException", status=400):
        kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=key["KeyId"], DestinationKeyId=other["KeyId"], DryRun=True)


def test_rsa_decrypt_sha1_of_offline_sha256_ciphertext(kms, shared_key):
    md = shared_key("RSA_2048", "ENCRYPT_DECRYPT")
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=md["KeyId"])["PublicKey"])
    for plaintext in (b"offline sha-256", b"\x00" * 32):
        ct = public.encrypt(plaintext, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
        for algorithm in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
            out = kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=ct, EncryptionAlgorithm=algorithm)
            assert out["Plaintext"] == plaintext and out["EncryptionAlgorithm"] == algorithm
    # a SHA-1 ciphertext still decrypts with SHA-1; garbage is still InvalidCiphertextException
    ct = public.encrypt(b"sha1", padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    assert kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=ct, EncryptionAlgorithm="RSAES_OAEP_SHA_1")["Plaintext"] == b"sha1"
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=b"\x01" * 256, EncryptionAlgorithm="RSAES_OAEP_SHA_1")


@pytest.mark.parametrize("peer", ["garbage", "other-curve", "truncated"])
def test_derive_shared_secret_invalid_public_key_empty_message(kms, shared_key, peer):
    md = shared_key("ECC_NIST_P256", "KEY_AGREEMENT")
    good = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = {
        "garbage": b"InvalidPublicKey",
        "other-curve": ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "truncated": good[:-5],
    }[peer]
    with expect_error("ValidationException", message=""):
        kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=der)
