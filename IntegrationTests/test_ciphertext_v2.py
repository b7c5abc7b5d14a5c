"""Ciphertext format v2: a fresh AES-256-GCM key per message (issue 7, section 3).

Layout and construction: docs/CIPHERTEXT.md.
  K_msg = SP 800-108r1 KDF in counter mode, PRF HMAC-SHA256, K_in = key material,
          Label = b"swift-kms ciphertext v2", Context = salt (32 random bytes), L = 256
  blob  = 0x02 | account(12) | len(keyId) | keyId | materialVersion(4) | salt(32)
          | AES-256-GCM(K_msg, nonce 0^96, aad = header || canonical(context))

The interop tests unseal the key material from the server's data dir with its root key
(the same way the server does: AES-256-GCM, nonce || ciphertext || tag, context
"key-material|account|region|keyId|version") and check the server's blobs against
Python `cryptography` (KBKDFHMAC, AESGCM), in both directions.

v1 compatibility: IntegrationTests/fixtures/v1_data_dir is a data dir written by the
server before v2 existed (commit eb7ab44), with blobs it made (blobs.json). The new server
must serve that data dir and decrypt those blobs.
"""

import base64
import json
import os
import shutil
import sqlite3
import stat

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.kbkdf import CounterLocation, KBKDFHMAC, Mode

from kms_harness import expect_error

FIXTURE_DIR = os.path.join(os.path.dirname(__file__), "fixtures", "v1_data_dir")
LABEL = b"swift-kms ciphertext v2"


def header_length(blob: bytes) -> int:
    return 1 + 12 + 1 + blob[13] + 4


def canonical_context(ctx) -> bytes:
    if not ctx:
        return b"\0\0"
    out = len(ctx).to_bytes(4, "big")
    for k, v in sorted((k.encode(), v.encode()) for k, v in ctx.items()):
        out += len(k).to_bytes(4, "big") + k + len(v).to_bytes(4, "big") + v
    return out


def message_key(material: bytes, salt: bytes) -> bytes:
    return KBKDFHMAC(algorithm=hashes.SHA256(), mode=Mode.CounterMode, length=32, rlen=4, llen=4,
                     location=CounterLocation.BeforeFixed, label=LABEL, context=salt,
                     fixed=None).derive(material)


def key_material(data_dir: str, tmp_path, key_id: str) -> bytes:
    """The key's current material, unsealed from a copy of the running server's database."""
    copy = tmp_path / "dbcopy"
    copy.mkdir(exist_ok=True)
    for name in os.listdir(data_dir):
        if name.startswith("kms.sqlite"):
            shutil.copy(os.path.join(data_dir, name), copy / name)
    root = base64.b64decode(open(os.path.join(data_dir, "root.key")).read().strip())
    db = sqlite3.connect(str(copy / "kms.sqlite"))
    try:
        row = db.execute("SELECT account, region, version, sealed FROM key_materials WHERE key_id = ? "
                         "ORDER BY version DESC LIMIT 1", (key_id,)).fetchone()
    finally:
        db.close()
    assert row is not None, "key material row not found"
    account, region, version, sealed = row
    ctx = f"key-material|{account}|{region}|{key_id}|{version}".encode()
    return AESGCM(root).decrypt(sealed[:12], sealed[12:], ctx)


def assert_v2(blob: bytes, key_id: str, account: str, plaintext_len: int):
    assert blob[0] == 0x02, f"format byte {blob[0]:#x}, expected 0x02"
    assert blob[1:13] == account.encode()
    assert blob[14:14 + blob[13]] == key_id.encode()
    assert len(blob) == header_length(blob) + 32 + plaintext_len + 16


def test_every_symmetric_blob_is_v2(kms, key, account):
    kid = key["KeyId"]
    enc = kms.encrypt(KeyId=kid, Plaintext=b"hello v2", EncryptionContext={"a": "b"})["CiphertextBlob"]
    assert_v2(enc, kid, account, 8)
    assert kms.decrypt(CiphertextBlob=enc, EncryptionContext={"a": "b"})["Plaintext"] == b"hello v2"

    dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert_v2(dk["CiphertextBlob"], kid, account, 32)
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]

    dk128 = kms.generate_data_key_without_plaintext(KeyId=kid, KeySpec="AES_128")
    assert_v2(dk128["CiphertextBlob"], kid, account, 16)

    other = kms.create_key()["KeyMetadata"]["KeyId"]
    re = kms.re_encrypt(CiphertextBlob=enc, SourceEncryptionContext={"a": "b"}, DestinationKeyId=other)["CiphertextBlob"]
    assert_v2(re, other, account, 8)
    assert kms.decrypt(CiphertextBlob=re)["Plaintext"] == b"hello v2"

    pair = kms.generate_data_key_pair(KeyId=kid, KeyPairSpec="ECC_NIST_P256")
    assert_v2(pair["PrivateKeyCiphertextBlob"], kid, account, len(pair["PrivateKeyPlaintext"]))
    assert kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"] == pair["PrivateKeyPlaintext"]
    pair2 = kms.generate_data_key_pair_without_plaintext(KeyId=kid, KeyPairSpec="ECC_NIST_P256")
    assert pair2["PrivateKeyCiphertextBlob"][0] == 0x02


def test_salts_are_fresh(kms, key):
    blobs = [kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"] for _ in range(20)]
    salts = {b[header_length(b):header_length(b) + 32] for b in blobs}
    assert len(salts) == 20
    assert len({b[header_length(b) + 32:] for b in blobs}) == 20  # different keys: different ciphertexts


@pytest.mark.single_node("reads key material from the SQLite data dir")
def test_server_blob_opens_with_python_kdf(server, kms, key, tmp_path):
    ctx = {"tenant": "42", "purpose": "interop"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"interop plaintext", EncryptionContext=ctx)["CiphertextBlob"]
    material = key_material(server.data_dir, tmp_path, key["KeyId"])
    h = header_length(blob)
    salt, body = blob[h:h + 32], blob[h + 32:]
    plain = AESGCM(message_key(material, salt)).decrypt(bytes(12), body, blob[:h] + canonical_context(ctx))
    assert plain == b"interop plaintext"
    # The material itself (v1's key) does not open it: the key really is derived.
    with pytest.raises(Exception):
        AESGCM(material).decrypt(bytes(12), body, blob[:h] + canonical_context(ctx))


@pytest.mark.single_node("reads key material from the SQLite data dir")
def test_python_made_v2_blob_decrypts_in_server(server, kms, key, account, tmp_path):
    material = key_material(server.data_dir, tmp_path, key["KeyId"])
    kid = key["KeyId"].encode()
    header = bytes([2]) + account.encode() + bytes([len(kid)]) + kid + (1).to_bytes(4, "big")
    salt = os.urandom(32)
    ctx = {"made": "by python"}
    ct = AESGCM(message_key(material, salt)).encrypt(bytes(12), b"from outside", header + canonical_context(ctx))
    resp = kms.decrypt(CiphertextBlob=header + salt + ct, EncryptionContext=ctx)
    assert resp["Plaintext"] == b"from outside"
    assert resp["KeyId"] == key["Arn"]


def test_tampered_or_truncated_v2_blobs_fail(kms, key):
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"tamper", EncryptionContext={"a": "b"})["CiphertextBlob"]
    assert blob[0] == 2
    for i in range(len(blob)):
        t = bytearray(blob)
        t[i] ^= 0x01 if i else 0x03  # byte 0: 0x02 -> 0x01, a downgrade to v1
        with expect_error("InvalidCiphertextException"):
            kms.decrypt(CiphertextBlob=bytes(t), EncryptionContext={"a": "b"})
    for n in list(range(1, 60)) + [len(blob) - 17, len(blob) - 16, len(blob) - 1]:
        with expect_error("InvalidCiphertextException"):
            kms.decrypt(CiphertextBlob=blob[:n], EncryptionContext={"a": "b"})
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"tamper"


def _install_v1_data_dir(srv):
    os.makedirs(srv.data_dir, exist_ok=True)
    for name in ("root.key", "credentials", "kms.sqlite"):
        dst = os.path.join(srv.data_dir, name)
        shutil.copy(os.path.join(FIXTURE_DIR, name), dst)
        os.chmod(dst, stat.S_IRUSR | stat.S_IWUSR)  # git keeps no modes; the server wants 0600
    os.chmod(srv.data_dir, stat.S_IRWXU)
    with open(os.path.join(FIXTURE_DIR, "blobs.json")) as fh:
        return json.load(fh)


@pytest.mark.restart
@pytest.mark.single_node("serves a v1 SQLite data dir copied from fixtures")
def test_v1_data_dir_from_the_old_server_still_decrypts(server_factory):
    srv = server_factory(start=False, name="v1dir")
    fixture = _install_v1_data_dir(srv)
    srv.start()
    kms = srv.client()
    assert srv.account_id == fixture["account"]
    for case in fixture["cases"]:
        blob = base64.b64decode(case["blob"])
        assert blob[0] == 0x01, case["label"]
        args = {"CiphertextBlob": blob}
        if case["context"]:
            args["EncryptionContext"] = case["context"]
        resp = kms.decrypt(**args)
        assert resp["Plaintext"] == base64.b64decode(case["plaintext"]), case["label"]
        assert resp["KeyId"].endswith(case["keyId"])
        if case["context"]:
            with expect_error("InvalidCiphertextException"):
                kms.decrypt(CiphertextBlob=blob, EncryptionContext={"wrong": "context"})
    # Old keys write v2 from now on; ReEncrypt turns a v1 blob into a v2 one.
    first = fixture["cases"][0]
    new = kms.encrypt(KeyId=first["keyId"], Plaintext=b"now v2")["CiphertextBlob"]
    assert new[0] == 0x02
    re = kms.re_encrypt(CiphertextBlob=base64.b64decode(first["blob"]), DestinationKeyId=first["keyId"])
    assert re["CiphertextBlob"][0] == 0x02
    assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] == base64.b64decode(first["plaintext"])
    # ...and survive a restart together with the v1 blobs.
    srv.restart()
    kms = srv.client()
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"now v2"
    assert kms.decrypt(CiphertextBlob=base64.b64decode(first["blob"]))["Plaintext"] == base64.b64decode(first["plaintext"])


@pytest.mark.restart
def test_benchmark_only_format_1_flag(server_factory):
    srv = server_factory(extra_args=["--ciphertext-format", "1"])
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    v1 = kms.encrypt(KeyId=kid, Plaintext=b"old style")["CiphertextBlob"]
    assert v1[0] == 0x01
    assert len(v1) == header_length(v1) + 12 + 9 + 16
    srv.restart(extra_args=[])
    kms = srv.client()
    assert kms.decrypt(CiphertextBlob=v1)["Plaintext"] == b"old style"
    assert kms.encrypt(KeyId=kid, Plaintext=b"x")["CiphertextBlob"][0] == 0x02
