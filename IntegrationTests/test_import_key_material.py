"""Imported key material (origin EXTERNAL), driven with boto3 and material wrapped by
Python's `cryptography` exactly as a user would.

Sources:
  [API] GetParametersForImport: WrappingAlgorithm RSA_AES_KEY_WRAP_SHA_1/256 (RSA and ECC
        material; an RSA private key needs them), RSAES_OAEP_SHA_1/256 (all but RSA
        material), RSAES_PKCS1_V1_5 "As of October 10, 2023, KMS does not support";
        WrappingKeySpec RSA_2048/3072/4096; token and public key valid for 24 hours.
  [API] ImportKeyMaterial: ExpirationModel "The default is KEY_MATERIAL_EXPIRES", which needs
        ValidTo (future, at most 365 days); ImportType
        NEW_KEY_MATERIAL / EXISTING_KEY_MATERIAL, KeyMaterialDescription, KeyMaterialId
        (symmetric encryption keys only).
  [DG] "Delete imported key material": deletion or expiry of any material not
        PENDING_ROTATION moves the key to PendingImport; the same material comes back.
  [DG] "Requirements for imported key material": 256-bit symmetric keys; HMAC keys from
        the hash length to its block size; asymmetric keys as PKCS #8 DER.
  [API] ListKeyRotations: ImportState, KeyMaterialState PENDING_ROTATION, ExpirationModel,
        ValidTo, KeyMaterialDescription for EXTERNAL symmetric keys.

Expiry moves the server's clock with --lifecycle-clock-offset (as test_rotation.py does);
the expiry job runs with the deletion sweep (--deletion-sweep-interval).
"""

import base64
import datetime as dt
import hmac as hmac_lib
import hashlib
import os

import pytest
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kms_harness import expect_error, now_utc, poll
from test_audit import events
from test_postgres_storage import pg_url  # noqa: F401 (fixture)

DAY = 86400
BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
ALGORITHMS = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"]


def wrap(params, material, algorithm):
    """Encrypt key material for import as the Developer Guide's step 3 does."""
    public = serialization.load_der_public_key(params["PublicKey"])
    h = hashes.SHA1 if algorithm.endswith("SHA_1") else hashes.SHA256
    oaep = padding.OAEP(mgf=padding.MGF1(h()), algorithm=h(), label=None)
    if algorithm.startswith("RSA_AES_KEY_WRAP"):
        aes_key = os.urandom(32)
        return public.encrypt(aes_key, oaep) + keywrap.aes_key_wrap_with_padding(aes_key, material)
    return public.encrypt(material, oaep)


NEVER = {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}


def import_material(kms, key_id, material, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048", bare=False, **extra):
    """Non-expiring material unless `extra` names ExpirationModel or ValidTo (AWS's default,
    KEY_MATERIAL_EXPIRES, needs a ValidTo); `bare`: neither field, as a client omitting both."""
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
    if not bare and "ExpirationModel" not in extra and "ValidTo" not in extra:
        extra = {**NEVER, **extra}
    return kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"],
                                   EncryptedKeyMaterial=wrap(params, material, algorithm), **extra)


def external_key(kms, **kwargs):
    md = kms.create_key(Origin="EXTERNAL", Description="byok", **kwargs)["KeyMetadata"]
    assert md["Origin"] == "EXTERNAL" and md["KeyState"] == "PendingImport" and md["Enabled"] is False
    assert "CurrentKeyMaterialId" not in md and "ExpirationModel" not in md
    return md


def pkcs8(private_key):
    return private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def state(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


# -- every wrapping algorithm x every key type --------------------------------

KEY_TYPES = {
    "SYMMETRIC": dict(KeySpec="SYMMETRIC_DEFAULT"),
    "HMAC": dict(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"),
    "RSA": dict(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY"),
    "ECC": dict(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"),
}


def _material(kind):
    if kind == "SYMMETRIC":
        return os.urandom(32), None
    if kind == "HMAC":
        return os.urandom(64), None
    if kind == "RSA":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return pkcs8(private), private
    private = ec.generate_private_key(ec.SECP256R1())
    return pkcs8(private), private


def _prove_use(kms, md, kind, material, private):
    kid = md["KeyId"]
    if kind == "SYMMETRIC":
        blob = kms.encrypt(KeyId=kid, Plaintext=b"byok")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok"
    elif kind == "HMAC":
        mac = kms.generate_mac(KeyId=kid, MacAlgorithm="HMAC_SHA_256", Message=b"m")["Mac"]
        assert mac == hmac_lib.new(material, b"m", hashlib.sha256).digest()
    elif kind == "RSA":
        sig = kms.sign(KeyId=kid, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
        private.public_key().verify(sig, b"m", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                                    hashes.SHA256())
    else:
        sig = kms.sign(KeyId=kid, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        private.public_key().verify(sig, b"m", ec.ECDSA(hashes.SHA256()))
    if private is not None:
        public = kms.get_public_key(KeyId=kid)["PublicKey"]
        assert public == private.public_key().public_bytes(serialization.Encoding.DER,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("kind", list(KEY_TYPES))
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_wrapping_algorithm_and_key_type(kms, kind, algorithm):
    md = external_key(kms, **KEY_TYPES[kind])
    material, private = _material(kind)
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_3072")
    assert params["KeyId"] == md["Arn"]
    assert serialization.load_der_public_key(params["PublicKey"]).key_size == 3072
    assert abs((params["ParametersValidTo"] - now_utc()).total_seconds() - 24 * 3600) < 300
    if kind == "RSA" and algorithm.startswith("RSAES_OAEP"):
        # AWS: an RSA private key needs an RSA_AES wrapping algorithm; OAEP alone cannot carry it.
        with pytest.raises(ValueError):
            wrap(params, material, algorithm)
        assert state(kms, md["KeyId"]) == "PendingImport"
        return
    out = kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                                  EncryptedKeyMaterial=wrap(params, material, algorithm),
                                  ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert out["KeyId"] == md["Arn"] and len(out["KeyMaterialId"]) == 64
    after = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert after["KeyState"] == "Enabled" and after["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in after
    if kind == "SYMMETRIC":
        assert after["CurrentKeyMaterialId"] == out["KeyMaterialId"]
    _prove_use(kms, md, kind, material, private)


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_4096"])
def test_wrapping_key_specs(kms, spec):
    md = external_key(kms)
    import_material(kms, md["KeyId"], os.urandom(32), algorithm="RSA_AES_KEY_WRAP_SHA_256", spec=spec)
    assert state(kms, md["KeyId"]) == "Enabled"


# -- re-import, binding, errors ------------------------------------------------

def test_same_material_again_other_material_refused(kms):
    md = external_key(kms)
    material = os.urandom(32)
    first = import_material(kms, md["KeyId"], material)
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"kept")["CiphertextBlob"]
    again = import_material(kms, md["KeyId"], material, algorithm="RSA_AES_KEY_WRAP_SHA_1", spec="RSA_3072")
    assert again["KeyMaterialId"] == first["KeyMaterialId"]
    with expect_error("IncorrectKeyMaterialException"):
        import_material(kms, md["KeyId"], os.urandom(32), algorithm="RSAES_OAEP_SHA_1")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"] == first["KeyMaterialId"]


def test_token_bound_to_key_and_wrapping_key(kms):
    a, b = external_key(kms), external_key(kms)
    pa = kms.get_parameters_for_import(KeyId=a["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    pb = kms.get_parameters_for_import(KeyId=b["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    material = os.urandom(32)
    with expect_error("InvalidImportTokenException"):
        kms.import_key_material(KeyId=b["KeyId"], ImportToken=pa["ImportToken"],
                                EncryptedKeyMaterial=wrap(pa, material, "RSAES_OAEP_SHA_256"), **NEVER)
    # material wrapped for b's wrapping key does not open with a's token
    with expect_error("InvalidCiphertextException"):
        kms.import_key_material(KeyId=a["KeyId"], ImportToken=pa["ImportToken"],
                                EncryptedKeyMaterial=wrap(pb, material, "RSAES_OAEP_SHA_256"), **NEVER)
    tampered = bytearray(pa["ImportToken"])
    tampered[-1] ^= 1
    with expect_error("InvalidImportTokenException"):
        kms.import_key_material(KeyId=a["KeyId"], ImportToken=bytes(tampered),
                                EncryptedKeyMaterial=wrap(pa, material, "RSAES_OAEP_SHA_256"), **NEVER)
    for kid in (a["KeyId"], b["KeyId"]):
        assert state(kms, kid) == "PendingImport"


def test_errors(kms, key):
    with expect_error("UnsupportedOperationException"):
        kms.get_parameters_for_import(KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    with expect_error("UnsupportedOperationException"):
        kms.delete_imported_key_material(KeyId=key["KeyId"])
    md = external_key(kms)
    with expect_error("UnsupportedOperationException"):
        kms.enable_key_rotation(KeyId=md["KeyId"])
    with expect_error("ValidationException"):
        kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSAES_PKCS1_V1_5", WrappingKeySpec="RSA_2048")
    with expect_error("IncorrectKeyMaterialException"):
        import_material(kms, md["KeyId"], os.urandom(16))
    now = now_utc()
    for bad in (dict(ExpirationModel="KEY_MATERIAL_EXPIRES"),
                dict(ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", ValidTo=now + dt.timedelta(days=1)),
                dict(ValidTo=now - dt.timedelta(hours=1)),
                dict(ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=now + dt.timedelta(days=366))):
        with expect_error("ValidationException"):
            import_material(kms, md["KeyId"], os.urandom(32), **bad)
    hmac_key = external_key(kms, KeySpec="HMAC_512", KeyUsage="GENERATE_VERIFY_MAC")
    with expect_error("IncorrectKeyMaterialException"):
        import_material(kms, hmac_key["KeyId"], os.urandom(32))  # HMAC_512 takes 64..128 bytes
    ecc = external_key(kms, KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")
    with expect_error("IncorrectKeyMaterialException"):  # a P-256 key for a P-384 KMS key
        import_material(kms, ecc["KeyId"], pkcs8(ec.generate_private_key(ec.SECP256R1())))
    with expect_error("UnsupportedOperationException"):
        kms.create_key(Origin="EXTERNAL", KeySpec="ML_DSA_44", KeyUsage="SIGN_VERIFY")
    for kid in (md["KeyId"], hmac_key["KeyId"], ecc["KeyId"]):
        assert state(kms, kid) == "PendingImport"


def test_expiration_model_defaults_to_expires(kms):
    """[API] ExpirationModel: "The default is KEY_MATERIAL_EXPIRES ... you must specify a value
    for the ValidTo parameter"; ValidTo with KEY_MATERIAL_DOES_NOT_EXPIRE is refused. The
    messages are AWS's as LocalStack's AWS-recorded tests and local-kms reproduce them."""
    md = external_key(kms)
    material = os.urandom(32)
    needs = "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
    with expect_error("ValidationException", message=needs):
        import_material(kms, md["KeyId"], material, bare=True)
    with expect_error("ValidationException", message=needs):
        import_material(kms, md["KeyId"], material, ExpirationModel="KEY_MATERIAL_EXPIRES")
    with expect_error("ValidationException", message="The parameter ValidTo cannot be specified for a key with an "
                                                      "expiration model of KEY_MATERIAL_DOES_NOT_EXPIRE"):
        import_material(kms, md["KeyId"], material, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
                        ValidTo=now_utc() + dt.timedelta(days=1))
    assert state(kms, md["KeyId"]) == "PendingImport"
    valid_to = now_utc() + dt.timedelta(days=30)
    out = import_material(kms, md["KeyId"], material, ValidTo=valid_to)  # ValidTo alone: it expires
    after = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert after["KeyState"] == "Enabled" and after["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs((after["ValidTo"] - valid_to).total_seconds()) < 1
    # KeyMaterialId is keyed (root-derived key) and bound to the key: not a bare hash of the material.
    assert len(out["KeyMaterialId"]) == 64
    assert out["KeyMaterialId"] not in (hashlib.sha256(material).hexdigest(),
                                        hashlib.sha256(b"kms-imported-key-material|" + material).hexdigest())
    other = external_key(kms)
    assert import_material(kms, other["KeyId"], material)["KeyMaterialId"] != out["KeyMaterialId"]


def test_delete_and_reimport(kms):
    md = external_key(kms)
    material = os.urandom(32)
    first = import_material(kms, md["KeyId"], material)
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"before delete")["CiphertextBlob"]
    out = kms.delete_imported_key_material(KeyId=md["KeyId"])
    assert out["KeyId"] == md["Arn"] and out["KeyMaterialId"] == first["KeyMaterialId"]
    assert state(kms, md["KeyId"]) == "PendingImport"
    with expect_error("KMSInvalidStateException"):
        kms.decrypt(CiphertextBlob=blob)
    with expect_error("KMSInvalidStateException"):
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")
    with expect_error("IncorrectKeyMaterialException"):
        import_material(kms, md["KeyId"], os.urandom(32))
    again = import_material(kms, md["KeyId"], material, algorithm="RSA_AES_KEY_WRAP_SHA_256")
    assert again["KeyMaterialId"] == first["KeyMaterialId"] and state(kms, md["KeyId"]) == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before delete"
    # asymmetric keys too: the same private key comes back, another one is refused
    ecc = external_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    private = ec.generate_private_key(ec.SECP256R1())
    import_material(kms, ecc["KeyId"], pkcs8(private))
    kms.delete_imported_key_material(KeyId=ecc["KeyId"])
    assert state(kms, ecc["KeyId"]) == "PendingImport"
    with expect_error("IncorrectKeyMaterialException"):
        import_material(kms, ecc["KeyId"], pkcs8(ec.generate_private_key(ec.SECP256R1())))
    import_material(kms, ecc["KeyId"], pkcs8(private))
    assert state(kms, ecc["KeyId"]) == "Enabled"


def test_new_key_material_rotates_on_demand(kms):
    md = external_key(kms)
    kid = md["KeyId"]
    first = import_material(kms, kid, os.urandom(32))["KeyMaterialId"]
    old = kms.encrypt(KeyId=kid, Plaintext=b"first material")["CiphertextBlob"]
    with expect_error("KMSInvalidStateException"):  # nothing imported for a rotation yet
        kms.rotate_key_on_demand(KeyId=kid)
    with expect_error("ValidationException"):
        import_material(kms, kid, os.urandom(32), ImportType="NEW_KEY_MATERIAL", KeyMaterialId=first)
    second = import_material(kms, kid, os.urandom(32), algorithm="RSA_AES_KEY_WRAP_SHA_256",
                             ImportType="NEW_KEY_MATERIAL", KeyMaterialDescription="second import")["KeyMaterialId"]
    assert second != first
    # stored but not current until the rotation
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] == first
    listed = kms.list_key_rotations(KeyId=kid, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"]) for r in listed] == [
        (first, "CURRENT", "IMPORTED"), (second, "PENDING_ROTATION", "IMPORTED")]
    assert listed[1]["KeyMaterialDescription"] == "second import" and "RotationDate" not in listed[1]
    assert kms.list_key_rotations(KeyId=kid)["Rotations"] == []
    kms.rotate_key_on_demand(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] == second
    rotations = kms.list_key_rotations(KeyId=kid)["Rotations"]
    assert len(rotations) == 1 and rotations[0]["RotationType"] == "ON_DEMAND" and rotations[0]["KeyMaterialId"] == second
    new = kms.encrypt(KeyId=kid, Plaintext=b"second material")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new)["KeyMaterialId"] == second
    dec = kms.decrypt(CiphertextBlob=old)
    assert dec["Plaintext"] == b"first material" and dec["KeyMaterialId"] == first
    # the earlier material, deleted by ID, makes the key PendingImport until it is back
    kms.delete_imported_key_material(KeyId=kid, KeyMaterialId=first)
    assert state(kms, kid) == "PendingImport"
    listed = kms.list_key_rotations(KeyId=kid, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [r["ImportState"] for r in listed] == ["PENDING_IMPORT", "IMPORTED"]


# -- restart, expiry, secrecy ------------------------------------------------------

@pytest.mark.restart
def test_token_survives_a_restart(server_factory):
    """Tokens are sealed under a key derived from the root key: they open after a restart."""
    srv = server_factory()
    kms = srv.client()
    md = external_key(kms)
    material = os.urandom(32)
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256",
                                           WrappingKeySpec="RSA_2048")
    srv.restart()
    kms = srv.client()
    kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                            EncryptedKeyMaterial=wrap(params, material, "RSA_AES_KEY_WRAP_SHA_256"), **NEVER)
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"persisted")["CiphertextBlob"]
    srv.restart()
    kms = srv.client()
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"persisted"
    assert state(kms, md["KeyId"]) == "Enabled"


@pytest.mark.restart
def test_expiry_by_the_clock(server_factory):
    srv = server_factory(extra_args=["--deletion-sweep-interval", "0.2"])
    kms = srv.client()
    expiring, lasting = external_key(kms), external_key(kms)
    material = os.urandom(32)
    valid_to = now_utc() + dt.timedelta(days=1)
    import_material(kms, expiring["KeyId"], material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    import_material(kms, lasting["KeyId"], os.urandom(32))
    md = kms.describe_key(KeyId=expiring["KeyId"])["KeyMetadata"]
    assert md["ExpirationModel"] == "KEY_MATERIAL_EXPIRES" and abs((md["ValidTo"] - valid_to).total_seconds()) < 1
    blob = kms.encrypt(KeyId=expiring["KeyId"], Plaintext=b"before expiry")["CiphertextBlob"]
    # two days later: the material has expired
    srv.restart(extra_args=["--lifecycle-clock-offset", str(2 * DAY), "--deletion-sweep-interval", "0.2"])
    kms = srv.client()
    assert state(kms, expiring["KeyId"]) == "PendingImport"
    with expect_error("KMSInvalidStateException"):
        kms.encrypt(KeyId=expiring["KeyId"], Plaintext=b"x")
    with expect_error("KMSInvalidStateException"):
        kms.decrypt(CiphertextBlob=blob)
    assert state(kms, lasting["KeyId"]) == "Enabled"
    found = poll(lambda: [e for e in events(srv.data_dir) if e.get("eventType") == "AwsServiceEvent"
                          and e["eventName"] == "DeleteExpiredKeyMaterial"], timeout=20, interval=0.2,
                 what="the expiry job's audit event")
    assert len(found) == 1 and found[0]["resources"][0]["ARN"] == expiring["Arn"]
    assert found[0]["userIdentity"]["invokedBy"] == "kms.amazonaws.com"
    listed = kms.list_key_rotations(KeyId=expiring["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["ImportState"], r["ExpirationModel"]) for r in listed] == [("PENDING_IMPORT", "KEY_MATERIAL_EXPIRES")]
    # the same material again, without expiry: the key and its ciphertexts are back
    with expect_error("IncorrectKeyMaterialException"):
        import_material(kms, expiring["KeyId"], os.urandom(32))
    import_material(kms, expiring["KeyId"], material, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert state(kms, expiring["KeyId"]) == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before expiry"
    assert kms.describe_key(KeyId=expiring["KeyId"])["KeyMetadata"]["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"


@pytest.mark.restart
def test_material_and_tokens_never_reach_logs_audit_or_rows(server_factory):
    srv = server_factory()
    kms = srv.client()
    md = external_key(kms)
    hmac_key = external_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    material, hmac_material = os.urandom(32), os.urandom(48)
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    wrapped = wrap(params, material, "RSAES_OAEP_SHA_256")
    kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped, **NEVER)
    import_material(kms, hmac_key["KeyId"], hmac_material, algorithm="RSA_AES_KEY_WRAP_SHA_1")
    kms.delete_imported_key_material(KeyId=hmac_key["KeyId"])
    import_material(kms, hmac_key["KeyId"], hmac_material)
    srv.stop()
    secrets = []
    for value in (material, hmac_material, params["ImportToken"], wrapped):
        secrets += [value, base64.b64encode(value), value.hex().encode()]
    secrets.append(params["ImportToken"][:64])  # no part of the token either
    for root in (srv.data_dir, srv.log_dir):
        for dirpath, _, files in os.walk(root):
            for name in files:
                with open(os.path.join(dirpath, name), "rb") as fh:
                    content = fh.read()
                for s in secrets:
                    assert s not in content, f"secret found in {os.path.join(dirpath, name)}"
    imports = [e for e in events(srv.data_dir) if e.get("eventName") in ("ImportKeyMaterial", "GetParametersForImport",
                                                                           "DeleteImportedKeyMaterial")]
    assert {e["eventName"] for e in imports} == {"ImportKeyMaterial", "GetParametersForImport", "DeleteImportedKeyMaterial"}
    for e in imports:
        params_logged = e.get("requestParameters") or {}
        assert not {"ImportToken", "EncryptedKeyMaterial", "importToken", "encryptedKeyMaterial"} & set(params_logged)
        assert "PublicKey" not in (e.get("responseElements") or {}) and "publicKey" not in (e.get("responseElements") or {})


@pytest.mark.restart
def test_import_on_postgresql(server_factory, pg_url):
    """Imported material, its deletion and re-import, and a token across a restart on PostgreSQL (scripts/with-postgres)."""
    srv = server_factory(extra_args=["--storage", pg_url])
    kms = srv.client()
    md = external_key(kms)
    srv.restart()
    kms = srv.client()
    assert state(kms, md["KeyId"]) == "PendingImport"
    material = os.urandom(32)
    params = kms.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    srv.restart()
    kms = srv.client()
    kms.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                            EncryptedKeyMaterial=wrap(params, material, "RSAES_OAEP_SHA_256"), **NEVER)
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"pg")["CiphertextBlob"]
    kms.delete_imported_key_material(KeyId=md["KeyId"])
    srv.restart()
    kms = srv.client()
    assert state(kms, md["KeyId"]) == "PendingImport"
    import_material(kms, md["KeyId"], material, algorithm="RSA_AES_KEY_WRAP_SHA_256")
    srv.restart()
    assert srv.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"pg"


@pytest.mark.restart
def test_token_from_one_node_imports_on_the_other(server_factory, pg_url):
    """Two nodes on one PostgreSQL with one root key: a token issued by A opens on B, and
    B's import and deletion reach A (scripts/with-postgres)."""
    from test_cluster import start_nodes
    a, b = start_nodes(server_factory, pg_url)
    ka, kb = a.client(), b.client()
    md = external_key(ka)
    material = os.urandom(32)
    params = ka.get_parameters_for_import(KeyId=md["KeyId"], WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256",
                                          WrappingKeySpec="RSA_2048")
    kb.import_key_material(KeyId=md["KeyId"], ImportToken=params["ImportToken"],
                           EncryptedKeyMaterial=wrap(params, material, "RSA_AES_KEY_WRAP_SHA_256"), **NEVER)
    poll(lambda: state(ka, md["KeyId"]) == "Enabled", timeout=10, what="the import to reach node A")
    blob = ka.encrypt(KeyId=md["KeyId"], Plaintext=b"cluster")["CiphertextBlob"]
    assert kb.decrypt(CiphertextBlob=blob)["Plaintext"] == b"cluster"
    kb.delete_imported_key_material(KeyId=md["KeyId"])
    poll(lambda: state(ka, md["KeyId"]) == "PendingImport", timeout=10, what="the deletion to reach node A")
    with expect_error("KMSInvalidStateException"):
        ka.decrypt(CiphertextBlob=blob)
