"""Imported key material (origin EXTERNAL), the symmetric slice: CreateKey Origin EXTERNAL
starts in PendingImport; GetParametersForImport (RSA_2048/3072/4096 wrapping keys,
RSAES_OAEP_SHA_1/256); ImportKeyMaterial with material wrapped by Python's `cryptography`
as a user would; the same material imports again, other material is
IncorrectKeyMaterialException; the token is bound to its key and expires after 24 hours
(proven with a manual clock in Tests/KMSCoreTests/ImportKeyMaterialTests.swift).

Not yet here (see the report): RSA_AES_KEY_WRAP_*, expiring material (ValidTo),
DeleteImportedKeyMaterial, NEW_KEY_MATERIAL rotation, HMAC/asymmetric imports, and tokens
that open on another node or after a restart.
"""

import datetime as dt
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from kms_harness import expect_error, now_utc
from test_postgres_storage import pg_url  # noqa: F401 (fixture)

# A real cluster gap, not a harness limit: GetParametersForImport keeps its token in one
# node's memory, so ImportKeyMaterial through the other node fails (reported to the lead).
pytestmark = pytest.mark.single_node("import tokens live in one node's memory")

HASHES = {"RSAES_OAEP_SHA_1": hashes.SHA1, "RSAES_OAEP_SHA_256": hashes.SHA256}
BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}


def wrap(params, material, algorithm):
    public = serialization.load_der_public_key(params["PublicKey"])
    h = HASHES[algorithm]
    return public.encrypt(material, padding.OAEP(mgf=padding.MGF1(h()), algorithm=h(), label=None))


def external_key(kms):
    md = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]
    assert md["Origin"] == "EXTERNAL" and md["KeyState"] == "PendingImport" and md["Enabled"] is False
    assert "CurrentKeyMaterialId" not in md
    return md


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_import_and_use(kms, spec, algorithm):
    md = external_key(kms)
    with expect_error("KMSInvalidStateException"):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
    assert params["KeyId"] == md["Arn"]
    assert serialization.load_der_public_key(params["PublicKey"]).key_size == BITS[spec]
    assert abs((params["ParametersValidTo"] - now_utc()).total_seconds() - 24 * 3600) < 300
    material = os.urandom(32)
    out = kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                                  EncryptedKeyMaterial=wrap(params, material, algorithm),
                                  ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert out["KeyId"] == md["Arn"] and len(out["KeyMaterialId"]) == 64
    after = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert after["KeyState"] == "Enabled" and after["CurrentKeyMaterialId"] == out["KeyMaterialId"]
    assert after["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"byok")["CiphertextBlob"]
    dec = kms.decrypt(CiphertextBlob=blob)
    assert dec["Plaintext"] == b"byok" and dec["KeyMaterialId"] == out["KeyMaterialId"]


def test_same_material_again_other_material_refused(kms):
    md = external_key(kms)
    material = os.urandom(32)
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    first = kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                                    EncryptedKeyMaterial=wrap(params, material, "RSAES_OAEP_SHA_256"))
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"kept")["CiphertextBlob"]
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_3072")
    again = kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                                    EncryptedKeyMaterial=wrap(params, material, "RSAES_OAEP_SHA_1"))
    assert again["KeyMaterialId"] == first["KeyMaterialId"]
    with expect_error("IncorrectKeyMaterialException"):
        kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                                EncryptedKeyMaterial=wrap(params, os.urandom(32), "RSAES_OAEP_SHA_1"))
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"] == first["KeyMaterialId"]


def test_token_bound_to_key_and_wrapping_key(kms):
    a, b = external_key(kms), external_key(kms)
    pa = kms.get_parameters_for_import(KeyId=a["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    pb = kms.get_parameters_for_import(KeyId=b["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    material = os.urandom(32)
    with expect_error("InvalidImportTokenException"):
        kms.import_key_material(KeyId=b["KeyId"], ImportToken=pa["ImportToken"],
                                EncryptedKeyMaterial=wrap(pa, material, "RSAES_OAEP_SHA_256"))
    # material wrapped for b's wrapping key does not open with a's token
    with expect_error("InvalidCiphertextException"):
        kms.import_key_material(KeyId=a["KeyId"], ImportToken=pa["ImportToken"],
                                EncryptedKeyMaterial=wrap(pb, material, "RSAES_OAEP_SHA_256"))
    tampered = bytearray(pa["ImportToken"])
    tampered[-1] ^= 1
    with expect_error("InvalidImportTokenException"):
        kms.import_key_material(KeyId=a["KeyId"], ImportToken=bytes(tampered),
                                EncryptedKeyMaterial=wrap(pa, material, "RSAES_OAEP_SHA_256"))
    for kid in (a["KeyId"], b["KeyId"]):
        assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_errors(kms, key):
    with expect_error("UnsupportedOperationException"):
        kms.get_parameters_for_import(KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    md = external_key(kms)
    with expect_error("UnsupportedOperationException"):
        kms.enable_key_rotation(KeyId=md["KeyId"])
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    with expect_error("IncorrectKeyMaterialException"):
        kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                                EncryptedKeyMaterial=wrap(params, os.urandom(16), "RSAES_OAEP_SHA_256"))
    with expect_error("UnsupportedOperationException"):
        kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                                EncryptedKeyMaterial=wrap(params, os.urandom(32), "RSAES_OAEP_SHA_256"),
                                ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=now_utc() + dt.timedelta(days=1))
    with expect_error("UnsupportedOperationException"):
        kms.create_key(Origin="EXTERNAL", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"


@pytest.mark.restart
def test_token_does_not_survive_a_restart(server_factory):
    # Tokens are sealed under a key held only by the issuing process (a known limitation;
    # the 24-hour expiry is proven with a manual clock in ImportKeyMaterialTests.swift).
    srv = server_factory()
    kms = srv.client()
    md = external_key(kms)
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    srv.restart()
    kms = srv.client()
    with expect_error("InvalidImportTokenException"):
        kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                                EncryptedKeyMaterial=wrap(params, os.urandom(32), "RSAES_OAEP_SHA_256"))
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    # a fresh token after the restart imports; the material survives the next restart
    material = os.urandom(32)
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048")
    kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                            EncryptedKeyMaterial=wrap(params, material, "RSAES_OAEP_SHA_1"))
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"persisted")["CiphertextBlob"]
    srv.restart()
    kms = srv.client()
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"persisted"
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


@pytest.mark.restart
def test_import_on_postgresql(server_factory, pg_url):
    """A PendingImport key (no material yet) and its imported material on PostgreSQL (scripts/with-postgres)."""
    srv = server_factory(extra_args=["--storage", pg_url])
    kms = srv.client()
    md = external_key(kms)
    srv.restart()
    kms = srv.client()
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                            EncryptedKeyMaterial=wrap(params, os.urandom(32), "RSAES_OAEP_SHA_256"))
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"pg")["CiphertextBlob"]
    srv.restart()
    assert srv.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"pg"
