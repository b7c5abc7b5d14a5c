"""Issue 14 §2/§4: AWS_CLOUDHSM custom key stores on a PKCS#11 token (SoftHSM2).

The server maps a CloudHSM cluster ID onto a SoftHSM2 token (`--pkcs11-cluster`);
ConnectCustomKeyStore logs in with the store's KeyStorePassword (the token user's PIN);
CreateKey with Origin AWS_CLOUDHSM generates a non-extractable AES-256 key in the token, and
Encrypt/Decrypt run AES-GCM there. Disconnecting makes the keys Unavailable. Each test starts
its own server on its own token: single node only."""

import glob
import os
import shutil
import subprocess
import uuid

import pytest

from kms_harness import expect_error, kms_binary
from tls_certs import make_ca

pytestmark = pytest.mark.single_node("starts its own server on its own SoftHSM2 token")

SOFTHSM_UTIL = shutil.which("softhsm2-util")
SOFTHSM_MODULES = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                   "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"]
SOFTHSM_MODULE = next((p for p in SOFTHSM_MODULES if os.path.exists(p)), None)
# KeyStorePassword is 7-32 characters (AWS): the token user PIN must be one.
PIN = "kmsuser-pin-71c3"
CLUSTER = "cluster-234abcdefgh"
MISSING_CLUSTER = "cluster-567ijklmnop"


class Hsm:
    """The server, its client, the token's directory and the cluster's trust anchor."""

    def __init__(self, srv, kms, tokens, anchor, pin_file):
        self.srv, self.kms, self.tokens, self.anchor, self.pin_file = srv, kms, tokens, anchor, pin_file

    def token_keys(self):
        """`kms pkcs11 list-keys`: the labels of the token's AES keys, read by another process."""
        out = subprocess.run([kms_binary(), "pkcs11", "list-keys", "--module", SOFTHSM_MODULE, "--token", "kms-cluster",
                              "--pin-file", self.pin_file], capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stderr
        assert PIN not in out.stdout + out.stderr
        return out.stdout.split()

    def token_objects(self):
        """SoftHSM2's file store keeps one file per token object: the keys kms made there."""
        return sorted(p for p in glob.glob(os.path.join(self.tokens, "*", "*.object"))
                      if os.path.basename(p) != "token.object")

    def create_store(self, password=PIN, anchor=None, cluster=CLUSTER):
        return self.kms.create_custom_key_store(
            CustomKeyStoreName="hsm-" + uuid.uuid4().hex[:8], CloudHsmClusterId=cluster,
            TrustAnchorCertificate=anchor or self.anchor, KeyStorePassword=password)["CustomKeyStoreId"]

    def describe(self, store_id):
        return self.kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]

    def connect(self, store_id):
        self.kms.connect_custom_key_store(CustomKeyStoreId=store_id)
        return self.describe(store_id)

    def connected_store(self):
        store_id = self.create_store()
        assert self.connect(store_id)["ConnectionState"] == "CONNECTED"
        return store_id

    def create_key(self, store_id):
        return self.kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"]


@pytest.fixture
def hsm(tmp_path, monkeypatch, server_factory):
    if SOFTHSM_UTIL is None or SOFTHSM_MODULE is None:
        if os.environ.get("CI"):
            pytest.fail("SoftHSM2 is not installed, and CI must run these tests (.ci/run installs softhsm2)")
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    tokens = tmp_path / "softhsm-tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    monkeypatch.delenv("KMS_PKCS11_PIN", raising=False)
    subprocess.run([SOFTHSM_UTIL, "--init-token", "--free", "--label", "kms-cluster", "--pin", PIN, "--so-pin", "5678"],
                   check=True, capture_output=True)
    anchor = make_ca("cluster trust anchor").pem().decode()
    anchor_file = tmp_path / "customerCA.crt"
    anchor_file.write_text(anchor)
    pin_file = tmp_path / "pin"
    fd = os.open(pin_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(PIN + "\n")
    srv = server_factory(extra_args=[
        "--pkcs11-cluster", f"{CLUSTER}={SOFTHSM_MODULE}:kms-cluster",
        "--pkcs11-cluster-trust-anchor", f"{CLUSTER}={anchor_file}",
        # A cluster whose token does not exist: Connect fails with CLUSTER_NOT_FOUND.
        "--pkcs11-cluster", f"{MISSING_CLUSTER}={SOFTHSM_MODULE}:no-such-token",
    ])
    yield Hsm(srv, srv.client(), str(tokens), anchor, str(pin_file))
    assert "Fatal error" not in srv.logs()


def test_keys_are_generated_and_used_in_the_token(hsm):
    kms = hsm.kms
    # The trust anchor must be the cluster's own (--pkcs11-cluster-trust-anchor).
    with expect_error("IncorrectTrustAnchorException"):
        hsm.create_store(anchor=make_ca("another CA").pem().decode())
    store_id = hsm.connected_store()
    before = hsm.token_objects()
    meta = hsm.create_key(store_id)
    key_id = meta["KeyId"]
    assert meta["Origin"] == "AWS_CLOUDHSM"
    assert meta["CustomKeyStoreId"] == store_id
    assert meta["CloudHsmClusterId"] == CLUSTER
    assert "CurrentKeyMaterialId" not in meta
    # One new persistent object in the token: the key's material, generated there and labelled
    # with the key ID.
    assert len(hsm.token_objects()) == len(before) + 1
    assert hsm.token_keys() == [key_id]
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["KeyState"] == "Enabled" and described["CloudHsmClusterId"] == CLUSTER

    context = {"purpose": "cloudhsm-test"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"in the token", EncryptionContext=context)["CiphertextBlob"]
    assert blob[0] == 4  # the token's format (docs/CUSTOM_KEY_STORES.md)
    out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert out["Plaintext"] == b"in the token" and out["KeyId"].endswith(key_id)
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other"})
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with expect_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=tampered, EncryptionContext=context)

    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    without = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=16)
    assert len(kms.decrypt(CiphertextBlob=without["CiphertextBlob"])["Plaintext"]) == 16
    plain_key = kms.create_key()["KeyMetadata"]["KeyId"]
    moved = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=context, DestinationKeyId=plain_key)
    back = kms.re_encrypt(CiphertextBlob=moved["CiphertextBlob"], DestinationKeyId=key_id)
    assert kms.decrypt(CiphertextBlob=back["CiphertextBlob"])["Plaintext"] == b"in the token"
    with expect_error("UnsupportedOperationException"):
        kms.enable_key_rotation(KeyId=key_id)

    # The store row keeps the PIN sealed: never in the data dir in clear (store, audit), nor in the logs.
    hsm.srv.stop()
    for path in glob.glob(os.path.join(hsm.srv.data_dir, "**", "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                assert PIN.encode() not in fh.read(), path
    assert PIN not in hsm.srv.logs()
    hsm.srv.start()
    # After a restart the store is still CONNECTED; the first use logs in to the token again.
    assert hsm.describe(store_id)["ConnectionState"] == "CONNECTED"
    assert hsm.srv.client().decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"in the token"


def test_disconnect_makes_keys_unavailable_and_reconnect_brings_them_back(hsm):
    kms = hsm.kms
    store_id = hsm.connected_store()
    key_id = hsm.create_key(store_id)["KeyId"]
    other = hsm.create_key(store_id)["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]

    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert hsm.describe(store_id)["ConnectionState"] == "DISCONNECTED"
    with expect_error("KMSInvalidStateException", message_contains="is unavailable") as err:
        kms.decrypt(CiphertextBlob=blob)
    assert "AWS CloudHSM" in err["Error"]["Message"]
    with expect_error("KMSInvalidStateException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    with expect_error("KMSInvalidStateException"):
        kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)
    # Management still works: DescribeKey shows Unavailable; ScheduleKeyDeletion is allowed.
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Unavailable"
    deleting = kms.schedule_key_deletion(KeyId=other, PendingWindowInDays=7)
    assert deleting["KeyState"] == "PendingDeletion"
    assert kms.describe_key(KeyId=other)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    # A store that still holds keys (even pending deletion) cannot be deleted.
    with expect_error("CustomKeyStoreHasCMKsException"):
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)

    assert hsm.connect(store_id)["ConnectionState"] == "CONNECTED"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    kms.cancel_key_deletion(KeyId=other)
    assert kms.describe_key(KeyId=other)["KeyMetadata"]["KeyState"] == "Disabled"


def test_connection_errors_name_the_cause(hsm):
    kms = hsm.kms
    wrong = hsm.create_store(password="not-the-pin")
    entry = hsm.connect(wrong)
    assert entry["ConnectionState"] == "FAILED" and entry["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.connect_custom_key_store(CustomKeyStoreId=wrong)
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=wrong)
    # Disconnect, fix the password (only while DISCONNECTED), connect.
    kms.disconnect_custom_key_store(CustomKeyStoreId=wrong)
    kms.update_custom_key_store(CustomKeyStoreId=wrong, KeyStorePassword=PIN)
    assert hsm.connect(wrong)["ConnectionState"] == "CONNECTED"
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.update_custom_key_store(CustomKeyStoreId=wrong, KeyStorePassword="other-pin")
    kms.disconnect_custom_key_store(CustomKeyStoreId=wrong)
    kms.delete_custom_key_store(CustomKeyStoreId=wrong)

    missing = hsm.create_store(cluster=MISSING_CLUSTER)
    entry = hsm.connect(missing)
    assert entry["ConnectionState"] == "FAILED" and entry["ConnectionErrorCode"] == "CLUSTER_NOT_FOUND"
    # The PIN never shows in the server's output.
    assert "not-the-pin" not in hsm.srv.logs()


def test_generate_random_in_the_store_needs_it_connected(hsm):
    """GenerateRandom with an AWS_CLOUDHSM store's ID draws from its token (C_GenerateRandom;
    KMSCoreTests' generateRandomDrawsFromTheStoresToken shows the token is asked), so it needs
    the store CONNECTED, also on the first use after a restart."""
    kms = hsm.kms
    store_id = hsm.create_store()
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.generate_random(NumberOfBytes=32, CustomKeyStoreId=store_id)
    assert hsm.connect(store_id)["ConnectionState"] == "CONNECTED"
    first = kms.generate_random(NumberOfBytes=1024, CustomKeyStoreId=store_id)["Plaintext"]
    second = kms.generate_random(NumberOfBytes=1024, CustomKeyStoreId=store_id)["Plaintext"]
    assert len(first) == len(second) == 1024 and first != second
    with expect_error("ValidationException"):
        kms.generate_random(NumberOfBytes=1025, CustomKeyStoreId=store_id)
    with expect_error("CustomKeyStoreNotFoundException"):
        kms.generate_random(NumberOfBytes=8, CustomKeyStoreId="cks-1234567890abcdef0")
    hsm.srv.stop()
    hsm.srv.start()
    assert len(hsm.srv.client().generate_random(NumberOfBytes=16, CustomKeyStoreId=store_id)["Plaintext"]) == 16
    kms = hsm.srv.client()
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.generate_random(NumberOfBytes=32, CustomKeyStoreId=store_id)
