"""Issue 14 §1/§4: where the root key lives.

The root key in a PKCS#11 token (SoftHSM2), a root derived from a passphrase (scrypt),
auto-unseal through a second swift-kms (Decrypt over SigV4), and `kms admin rewrap` moving a
data dir between roots. Every test starts its own servers: single node only."""

import json
import os
import shutil
import subprocess

import pytest

from kms_harness import (
    KmsServer,
    client_for,
    free_port,
    kms_binary,
)

pytestmark = pytest.mark.single_node("starts its own servers on their own roots of trust")

SOFTHSM_UTIL = shutil.which("softhsm2-util")
SOFTHSM_MODULES = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                   "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"]
SOFTHSM_MODULE = next((p for p in SOFTHSM_MODULES if os.path.exists(p)), None)
PIN = "1234"


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return str(path)


@pytest.fixture
def softhsm(tmp_path, monkeypatch):
    """A SoftHSM2 token dir of this test's own, with tokens made on demand."""
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
    pin_file = write_private(tmp_path / "pin", PIN + "\n")

    class Token:
        module = SOFTHSM_MODULE
        pin = pin_file

        @staticmethod
        def init(label):
            subprocess.run([SOFTHSM_UTIL, "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", "5678"],
                           check=True, capture_output=True)

        @staticmethod
        def args(label, key_label=None):
            a = ["--root-pkcs11-module", SOFTHSM_MODULE, "--root-pkcs11-token", label, "--root-pkcs11-pin-file", pin_file]
            return a + (["--root-pkcs11-key-label", key_label] if key_label else [])

        @staticmethod
        def spec(label, key_label="swift-kms-root"):
            return f"pkcs11:token={label};object={key_label}?module-path={SOFTHSM_MODULE}&pin-source={pin_file}"

    return Token


def make_server(tmp_path, name, extra_args=(), dev=False):
    base = tmp_path / name
    srv = KmsServer(data_dir=str(base / "data"), log_dir=str(base / "logs"), dev=dev, extra_args=list(extra_args))
    os.makedirs(srv.data_dir, exist_ok=True)
    return srv


def client(srv):
    creds = srv.root_credentials()
    return client_for(srv.url, "us-east-1", creds.access_key, creds.secret_key)


def start_fails(data_dir, *args, stdin_text=None, env=None):
    cmd = [kms_binary(), "server", "--host", "127.0.0.1", "--port", str(free_port()), "--data-dir", str(data_dir), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env,
                          input=stdin_text, stdin=None if stdin_text is not None else subprocess.DEVNULL)
    assert proc.returncode != 0, f"expected the start to fail, it exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "listening" not in proc.stdout
    return proc.stdout + proc.stderr


def decrypts_once_listening(srv, made, *args, stdin=None, env=None):
    """Starts `kms server` on srv's data dir by hand (to give it stdin or an environment),
    waits until it listens, checks that `made` still decrypts, and stops it."""
    port = free_port()
    proc = subprocess.Popen([kms_binary(), "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", srv.data_dir,
                             *args], env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        line = b""
        while b"listening" not in line:
            line = proc.stdout.readline()
            assert line, "the server exited before listening"
        srv.port = port
        assert_decrypts(client(srv), made)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def encrypt_some(kms, n=3):
    made = []
    for i in range(n):
        key_id = kms.create_key(Description=f"root-of-trust {i}")["KeyMetadata"]["KeyId"]
        plaintext = os.urandom(32 + i)
        blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
        made.append((key_id, plaintext, blob))
    return made


def encrypt_restart_decrypt(srv):
    """Starts srv, encrypts under new keys, restarts it, checks they decrypt, stops it."""
    try:
        srv.start()
        made = encrypt_some(client(srv))
        srv.restart()
        assert_decrypts(client(srv), made)
    finally:
        srv.stop()
    return made


def assert_decrypts(kms, made):
    for key_id, plaintext, blob in made:
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext
        # And the key still encrypts (its material is usable, not only cached ciphertexts).
        again = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=again)["Plaintext"] == b"x"


def record(data_dir):
    import json
    with open(os.path.join(data_dir, "root-of-trust.json")) as fh:
        return json.load(fh)


def rewrap(data_dir, frm, to):
    return subprocess.run([kms_binary(), "admin", "rewrap", "--data-dir", str(data_dir), "--from", frm, "--to", to],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


# ------------------------------------------------------------------ PKCS#11 ---

def test_pkcs11_root_restart_decrypts_and_copy_without_token_fails(tmp_path, softhsm):
    softhsm.init("kms-root")
    srv = make_server(tmp_path, "hsm", softhsm.args("kms-root"))
    made = encrypt_restart_decrypt(srv)
    # No root key file: the root is the token's non-extractable key; the record says so.
    assert not os.path.exists(os.path.join(srv.data_dir, "root.key"))
    assert record(srv.data_dir)["kind"] == "pkcs11"

    # `kms admin` opens the data dir as the server does: without --root it is refused (no
    # root.key is made beside the token's key); with it, an account is created and then works.
    def admin(*args):
        return subprocess.run([kms_binary(), "admin", *args, "--data-dir", srv.data_dir], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
    refused = admin("list-accounts")
    assert refused.returncode != 0 and "protected by a pkcs11 root" in refused.stderr, refused.stderr
    assert not os.path.exists(os.path.join(srv.data_dir, "root.key"))
    spec = softhsm.spec("kms-root")
    listed = admin("list-accounts", "--root", spec)
    assert listed.returncode == 0, listed.stderr
    creds_file = str(tmp_path / "second-account-credentials")
    made_account = admin("create-account", "--account", "222233334444", "--output", creds_file, "--root", spec)
    assert made_account.returncode == 0, made_account.stderr
    assert "222233334444" in admin("list-accounts", "--root", spec).stdout
    second = {}
    with open(creds_file) as fh:
        for line in fh:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                second[k.strip()] = v.strip()
    srv.start()
    try:
        kms2 = client_for(srv.url, "us-east-1", second["aws_access_key_id"], second["aws_secret_access_key"])
        key2 = kms2.create_key()["KeyMetadata"]
        assert key2["Arn"].split(":")[4] == "222233334444"
    finally:
        srv.stop()

    # A copy of the data dir without the token: the default (file) root is refused before the
    # store is touched, and so is a token that does not hold the key.
    copy = tmp_path / "copy"
    shutil.copytree(srv.data_dir, copy)
    out = start_fails(copy)
    assert "protected by a pkcs11 root" in out
    assert not os.path.exists(copy / "root.key"), "a refused start must not create a root key file"
    softhsm.init("other-token")
    out = start_fails(copy, *softhsm.args("other-token"))
    assert 'no key labelled "swift-kms-root"' in out
    # The right token with a wrong PIN fails clearly too.
    wrong_pin = write_private(tmp_path / "wrong-pin", "9999\n")
    out = start_fails(copy, "--root-pkcs11-module", softhsm.module, "--root-pkcs11-token", "kms-root",
                      "--root-pkcs11-pin-file", wrong_pin)
    assert "CKR_PIN_INCORRECT" in out


def test_pkcs11_root_from_the_environment(tmp_path, softhsm, monkeypatch):
    """The root-of-trust flags also come from the environment (as every server flag does):
    a container passes KMS_ROOT_PKCS11_* instead of flags."""
    softhsm.init("env-root")
    monkeypatch.setenv("KMS_ROOT_PKCS11_MODULE", softhsm.module)
    monkeypatch.setenv("KMS_ROOT_PKCS11_TOKEN", "env-root")
    monkeypatch.setenv("KMS_ROOT_PKCS11_PIN_FILE", softhsm.pin)
    monkeypatch.setenv("KMS_ROOT_PKCS11_KEY_LABEL", "env-root-key")
    srv = make_server(tmp_path, "hsm-env")
    made = encrypt_restart_decrypt(srv)
    assert record(srv.data_dir)["kind"] == "pkcs11"
    assert not os.path.exists(os.path.join(srv.data_dir, "root.key"))
    # The same token by flags (a flag wins over the environment: here they agree).
    monkeypatch.delenv("KMS_ROOT_PKCS11_MODULE")
    out = start_fails(srv.data_dir)
    assert "--root-pkcs11-module" in out, out
    monkeypatch.delenv("KMS_ROOT_PKCS11_TOKEN")
    monkeypatch.delenv("KMS_ROOT_PKCS11_PIN_FILE")
    monkeypatch.delenv("KMS_ROOT_PKCS11_KEY_LABEL")
    srv2 = KmsServer(data_dir=srv.data_dir, log_dir=str(tmp_path / "hsm-env" / "logs2"),
                     extra_args=softhsm.args("env-root", key_label="env-root-key"))
    try:
        srv2.start()
        assert_decrypts(client(srv2), made)
    finally:
        srv2.stop()


# --------------------------------------------------------------- passphrase ---

def test_passphrase_root_and_wrong_passphrase(tmp_path):
    passphrase = write_private(tmp_path / "passphrase", "correct horse battery staple\n")
    srv = make_server(tmp_path, "pass", ["--root-passphrase-file", passphrase])
    made = encrypt_restart_decrypt(srv)
    rec = record(srv.data_dir)
    assert rec["kind"] == "passphrase" and rec["scrypt"]["n"] >= 1 << 14 and rec["scrypt"]["salt"]
    assert not os.path.exists(os.path.join(srv.data_dir, "root.key"))
    # From stdin: a wrong passphrase fails the start with a clear message (the check value).
    out = start_fails(srv.data_dir, "--root-passphrase-stdin", stdin_text="correct horse battery stapler\n")
    assert "passphrase is wrong" in out
    # The right one on stdin starts it.
    decrypts_once_listening(srv, made, "--root-passphrase-stdin", stdin=b"correct horse battery staple\n")
    # The passphrase never comes from a flag.
    out = subprocess.run([kms_binary(), "server", "--root-passphrase", "x"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    # The file may be named by KMS_ROOT_PASSPHRASE_FILE or the config file instead of the flag.
    env = dict(os.environ, KMS_ROOT_PASSPHRASE_FILE=passphrase)
    wrong = write_private(tmp_path / "wrong-passphrase", "correct horse battery stapler\n")
    config = tmp_path / "kms-config.json"
    config.write_text(json.dumps({"kms": {"rootPassphrase": {"file": wrong}}}))
    out = start_fails(srv.data_dir, "--config", str(config))
    assert "passphrase is wrong" in out
    decrypts_once_listening(srv, made, env=env)


# -------------------------------------------------------------- auto-unseal ---

def test_auto_unseal_through_a_second_kms(tmp_path, monkeypatch):
    unsealer = make_server(tmp_path, "unsealer")
    srv = None
    try:
        unsealer.start()
        other = client(unsealer)
        arn = other.create_key(Description="swift-kms root unseal key")["KeyMetadata"]["Arn"]
        creds = unsealer.root_credentials()
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds.secret_key)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        args = ["--root-kms-key-id", arn, "--root-kms-endpoint", unsealer.url, "--root-kms-region", "us-east-1"]
        srv = make_server(tmp_path, "sealed", args)
        srv.start()
        made = encrypt_some(client(srv))
        srv.restart()
        assert_decrypts(client(srv), made)
        srv.stop()
        assert record(srv.data_dir)["kind"] == "kms"
        assert not os.path.exists(os.path.join(srv.data_dir, "root.key"))
        blob = open(os.path.join(srv.data_dir, "root.key.kms")).read().strip()
        assert len(blob) > 40
        # Disabling the unseal key at the other KMS makes the start fail with its error.
        other.disable_key(KeyId=arn)
        out = start_fails(srv.data_dir, *args)
        assert "Auto-unseal failed" in out and "DisabledException" in out
        other.enable_key(KeyId=arn)
        # An unreachable unseal KMS fails the start clearly (and quickly).
        unsealer.stop()
        out = start_fails(srv.data_dir, *args)
        assert "Auto-unseal failed" in out and "cannot reach" in out
    finally:
        if srv is not None:
            srv.stop()
        unsealer.stop()


# ------------------------------------------------------------------- rewrap ---

def test_rewrap_file_to_pkcs11_to_file_keeps_every_key(tmp_path, softhsm):
    softhsm.init("rewrap")
    srv = make_server(tmp_path, "rw")
    try:
        srv.start()
        kms = client(srv)
        made = encrypt_some(kms)
        sign_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        signature = kms.sign(KeyId=sign_key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        srv.stop()
        data = srv.data_dir
        old_root = open(os.path.join(data, "root.key")).read()

        res = rewrap(data, "file", softhsm.spec("rewrap"))
        assert res.returncode == 0, res.stdout + res.stderr
        assert "4 key materials" in res.stdout and "1 credentials" in res.stdout
        assert record(data)["kind"] == "pkcs11"
        # The old root file no longer opens the data dir.
        assert "protected by a pkcs11 root" in start_fails(data)
        srv.start(extra_args=softhsm.args("rewrap"))
        kms = client(srv)  # the root credential was re-sealed too: it still signs requests
        assert_decrypts(kms, made)
        assert kms.verify(KeyId=sign_key, Message=b"m", Signature=signature, SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"]
        srv.stop()

        new_file = os.path.join(data, "root2.key")
        res = rewrap(data, softhsm.spec("rewrap"), "file:" + new_file)
        assert res.returncode == 0, res.stdout + res.stderr
        assert open(new_file).read() != old_root
        srv.start(extra_args=["--root-key-file", new_file])
        kms = client(srv)
        assert_decrypts(kms, made)
        assert kms.sign(KeyId=sign_key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        srv.stop()
        # A rewrap from a root that does not protect the data dir changes nothing.
        res = rewrap(data, softhsm.spec("rewrap"), "file:" + os.path.join(data, "root3.key"))
        assert res.returncode != 0 and "protected by a file root" in res.stdout + res.stderr
        srv.start(extra_args=["--root-key-file", new_file])
        assert_decrypts(client(srv), made)
    finally:
        srv.stop()


def test_rewrap_file_to_auto_unseal(tmp_path, monkeypatch):
    """An existing data dir moves to auto-unseal with `kms admin rewrap --to kms:...`: the root
    key blob is made through the other KMS, and the old root key file no longer opens it."""
    unsealer = make_server(tmp_path, "unsealer")
    srv = make_server(tmp_path, "was-file")
    try:
        unsealer.start()
        arn = client(unsealer).create_key()["KeyMetadata"]["Arn"]
        creds = unsealer.root_credentials()
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds.secret_key)
        srv.start()
        made = encrypt_some(client(srv), n=2)
        srv.stop()
        res = rewrap(srv.data_dir, "file", f"kms:{arn}?endpoint={unsealer.url}&region=us-east-1")
        assert res.returncode == 0, res.stdout + res.stderr
        assert os.path.exists(os.path.join(srv.data_dir, "root.key.kms"))
        assert "protected by a kms root" in start_fails(srv.data_dir)
        srv.start(extra_args=["--root-kms-key-id", arn, "--root-kms-endpoint", unsealer.url, "--root-kms-region", "us-east-1"])
        assert_decrypts(client(srv), made)
    finally:
        srv.stop()
        unsealer.stop()
