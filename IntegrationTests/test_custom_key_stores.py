"""Issue 14 §2-§4: custom key stores and an XKS proxy of our own.

A `kms xks-proxy` process (HTTPS, a throwaway CA from tls_certs.py) holds AES-256 external
keys; a `kms server` trusts that CA (`--xks-proxy-ca-file`) and reaches the proxy's
endpoint https://localhost at its real port through `--xks-proxy-connect-to` (AWS's
XksProxyUriEndpoint takes no port). Checked with boto3: the six custom key store
operations with their states and errors; an EXTERNAL_KEY_STORE key's Encrypt, Decrypt,
GenerateDataKey and ReEncrypt through the proxy; a disabled external key, a stopped proxy, a
wrong credential and the proxy's allow-list each give AWS's errors; the proxy's secret
never reaches the server's files unsealed; the proxy audits every request.

The tests start their own server and proxy: single node only.
"""

import base64
import json
import os
import subprocess
import time
import uuid

import pytest

from kms_harness import expect_error, free_port, kms_binary, port_open, raw_call
from tls_certs import make_ca, make_client_cert, make_server_cert, write_private

pytestmark = pytest.mark.single_node("starts its own kms server and XKS proxy")

ACCESS_KEY_ID = "XKSPROXYTESTKEY2345A"  # [A-Z2-7], 20 characters, as the model requires

SECRET = "XksProxySecretAccessKey0123456789abcdefghijklmn"  # 47 characters of [a-zA-Z0-9/+=]
WRONG_SECRET = "WrongProxySecretAccessKey0123456789abcdefghijk"
NOT_CONNECTED = ("This KMS key is in a custom key store that is not connected to its external key store proxy. "
                 "Connect the external key store and try the request again.")


class XksProxy:
    """One `kms xks-proxy` process and its data dir."""

    def __init__(self, tmp_path):
        self.dir = str(tmp_path / "xks")
        self.logs = str(tmp_path / "xks-logs")
        os.makedirs(self.logs, exist_ok=True)
        ca = make_ca()
        cert, key, _ = make_server_cert(ca)
        self.ca = str(tmp_path / "xks-ca.pem")
        write_private(self.ca, ca.pem())
        write_private(str(tmp_path / "xks.pem"), cert)
        write_private(str(tmp_path / "xks.key"), key)
        write_private(str(tmp_path / "xks-secret"), SECRET.encode())
        self.tmp = tmp_path
        self.port = free_port()
        self.proc = None

    def cli(self, *args):
        out = subprocess.run([kms_binary(), "xks-proxy", *args, "--data-dir", self.dir],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def create_key(self, *allow):
        key_id = "ext-" + uuid.uuid4().hex[:12]
        args = ["create-key", "--id", key_id]
        for arn in allow:
            args += ["--allow-key-arn", arn]
        assert self.cli(*args) == key_id
        return key_id

    def start(self, extra=()):
        err = open(os.path.join(self.logs, "stderr.log"), "ab")
        self.proc = subprocess.Popen(
            [kms_binary(), "xks-proxy", "serve", "--data-dir", self.dir, "--listen", f"127.0.0.1:{self.port}",
             "--access-key-id", ACCESS_KEY_ID, "--secret-access-key-file", str(self.tmp / "xks-secret"),
             "--tls-cert", str(self.tmp / "xks.pem"), "--tls-key", str(self.tmp / "xks.key"), *extra],
            stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        err.close()
        deadline = time.monotonic() + 60
        while not port_open(self.port):
            assert self.proc.poll() is None, self.stderr()
            assert time.monotonic() < deadline, "xks-proxy did not start"
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def stderr(self):
        with open(os.path.join(self.logs, "stderr.log"), errors="replace") as fh:
            return fh.read()

    def audit_lines(self):
        with open(os.path.join(self.dir, "xks-audit.log")) as fh:
            return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture
def proxy(tmp_path):
    p = XksProxy(tmp_path)
    p.create_key()  # creates the data dir and its root key
    p.start()
    yield p
    p.stop()
    assert "Fatal error" not in p.stderr()


@pytest.fixture
def kms_xks(server_factory, proxy):
    srv = server_factory(extra_args=["--xks-proxy-ca-file", proxy.ca,
                                     "--xks-proxy-connect-to", f"localhost=127.0.0.1:{proxy.port}",
                                     # A debug build on a shared 2-core host: more than AWS's 250 ms.
                                     "--xks-proxy-timeout-ms", "3000"])
    yield srv, srv.client()
    assert "Fatal error" not in srv.logs()


def create_store(kms, name=None, secret=SECRET, path="/kms/xks/v1", endpoint="https://localhost"):
    return kms.create_custom_key_store(
        CustomKeyStoreName=name or "xks-" + uuid.uuid4().hex[:8], CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyUriEndpoint=endpoint, XksProxyUriPath=path, XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyAuthenticationCredential={"AccessKeyId": ACCESS_KEY_ID, "RawSecretAccessKey": secret},
    )["CustomKeyStoreId"]


def describe(kms, store_id):
    return kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]


def connected_store(kms):
    store_id = create_store(kms)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
    return store_id


def xks_key(kms, store_id, external_id):
    return kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId=external_id)["KeyMetadata"]


def test_the_six_operations_and_their_states(kms_xks):
    _, kms = kms_xks
    name = "xks-" + uuid.uuid4().hex[:8]
    store_id = create_store(kms, name=name)
    entry = describe(kms, store_id)
    assert entry["CustomKeyStoreName"] == name
    assert entry["ConnectionState"] == "DISCONNECTED"
    assert entry["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE"
    assert entry["XksProxyConfiguration"] == {"Connectivity": "PUBLIC_ENDPOINT", "AccessKeyId": ACCESS_KEY_ID,
                                              "UriEndpoint": "https://localhost", "UriPath": "/kms/xks/v1"}
    assert SECRET not in json.dumps(entry, default=str)
    by_name = kms.describe_custom_key_stores(CustomKeyStoreName=name)["CustomKeyStores"]
    assert [s["CustomKeyStoreId"] for s in by_name] == [store_id]

    with expect_error("CustomKeyStoreNameInUseException"):
        create_store(kms, name=name, path="/other/kms/xks/v1")
    with expect_error("XksProxyUriInUseException"):
        create_store(kms)

    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)  # connected already: succeeds
    kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName=name + "-renamed")
    assert describe(kms, store_id)["CustomKeyStoreName"] == name + "-renamed"
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.update_custom_key_store(CustomKeyStoreId=store_id, XksProxyUriPath="/tenant/kms/xks/v1")
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)

    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "DISCONNECTED"
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    with expect_error("CustomKeyStoreNotFoundException"):
        kms.describe_custom_key_stores(CustomKeyStoreId=store_id)
    with expect_error("CustomKeyStoreNotFoundException"):
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)


def test_external_key_store_keys_encrypt_through_the_proxy(kms_xks, proxy):
    srv, kms = kms_xks
    store_id = connected_store(kms)
    external = proxy.create_key()
    meta = xks_key(kms, store_id, external)
    assert meta["Origin"] == "EXTERNAL_KEY_STORE" and meta["KeyState"] == "Enabled"
    assert meta["CustomKeyStoreId"] == store_id
    assert meta["XksKeyConfiguration"] == {"Id": external}
    key_id = meta["KeyId"]

    context = {"purpose": "xks-test"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret data", EncryptionContext=context)["CiphertextBlob"]
    out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert out["Plaintext"] == b"secret data" and out["KeyId"] == meta["Arn"]
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    without = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=16)
    assert len(kms.decrypt(CiphertextBlob=without["CiphertextBlob"])["Plaintext"]) == 16
    # GenerateRandom: AWS refuses external key stores.
    with expect_error("UnsupportedOperationException"):
        kms.generate_random(NumberOfBytes=16, CustomKeyStoreId=store_id)
    with expect_error("CustomKeyStoreNotFoundException"):
        kms.generate_random(NumberOfBytes=16, CustomKeyStoreId="cks-00000000000000000")
    plain_key = kms.create_key()["KeyMetadata"]["KeyId"]
    moved = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=context, DestinationKeyId=plain_key)
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"] == b"secret data"

    # The proxy saw KMS's requestMetadata, and logged no plaintext.
    lines = proxy.audit_lines()
    encrypts = [l for l in lines if l["eventName"] == "Encrypt" and "errorCode" not in l]
    assert encrypts and encrypts[-1]["requestParameters"]["requestMetadata"]["kmsKeyArn"] == meta["Arn"]
    assert {l["eventName"] for l in lines} >= {"GetHealthStatus", "GetKeyMetadata", "Encrypt", "Decrypt"}
    raw = open(os.path.join(proxy.dir, "xks-audit.log"), "rb").read()
    assert b"secret data" not in raw and base64.b64encode(b"secret data") not in raw

    # The proxy's secret access key is never stored or logged unsealed by the server.
    for root, _, files in os.walk(srv.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert SECRET.encode() not in fh.read(), f"secret in {f}"
    assert SECRET not in srv.logs()


def test_a_disabled_external_key_makes_its_ciphertexts_undecryptable(kms_xks, proxy):
    _, kms = kms_xks
    store_id = connected_store(kms)
    external = proxy.create_key()
    key_id = xks_key(kms, store_id, external)["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"payload")["CiphertextBlob"]
    proxy.cli("disable-key", "--id", external)
    with expect_error("KMSInvalidStateException", message_contains="is not enabled in the external key manager"):
        kms.decrypt(CiphertextBlob=blob)
    with expect_error("KMSInvalidStateException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"payload")
    proxy.cli("enable-key", "--id", external)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"payload"

    # A key the proxy holds disabled cannot back a new KMS key.
    other = proxy.create_key()
    proxy.cli("disable-key", "--id", other)
    with expect_error("XksKeyInvalidConfigurationException"):
        xks_key(kms, store_id, other)
    with expect_error("XksKeyNotFoundException"):
        xks_key(kms, store_id, "no-such-external-key")
    with expect_error("XksKeyAlreadyInUseException"):
        xks_key(kms, store_id, external)


def test_a_disconnected_store_makes_its_keys_unavailable(kms_xks, proxy):
    _, kms = kms_xks
    store_id = connected_store(kms)
    key_id = xks_key(kms, store_id, proxy.create_key())["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Unavailable"
    with expect_error("KMSInvalidStateException", message_contains=NOT_CONNECTED):
        kms.decrypt(CiphertextBlob=blob)
    with expect_error("CustomKeyStoreInvalidStateException"):
        xks_key(kms, store_id, proxy.create_key())
    with expect_error("CustomKeyStoreHasCMKsException"):
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_a_stopped_proxy_gives_aws_errors_quickly(kms_xks, proxy):
    _, kms = kms_xks
    store_id = connected_store(kms)
    key_id = xks_key(kms, store_id, proxy.create_key())["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    proxy.stop()
    started = time.monotonic()
    with expect_error("KMSInvalidStateException", message_contains="cannot communicate with the external key store proxy"):
        kms.decrypt(CiphertextBlob=blob)
    assert time.monotonic() - started < 3
    with expect_error("XksProxyUriUnreachableException"):
        create_store(kms, path="/down/kms/xks/v1")
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    entry = describe(kms, store_id)
    assert entry["ConnectionState"] == "FAILED"
    assert entry["ConnectionErrorCode"] == "XKS_PROXY_NOT_REACHABLE"
    with expect_error("CustomKeyStoreInvalidStateException"):
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    proxy.start()
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_a_wrong_credential_is_refused(kms_xks, proxy):
    _, kms = kms_xks
    with expect_error("XksProxyIncorrectAuthenticationCredentialException"):
        create_store(kms, secret=WRONG_SECRET)
    store_id = create_store(kms)
    with expect_error("XksProxyIncorrectAuthenticationCredentialException"):
        kms.update_custom_key_store(CustomKeyStoreId=store_id, XksProxyAuthenticationCredential={
            "AccessKeyId": ACCESS_KEY_ID, "RawSecretAccessKey": WRONG_SECRET})
    refused = [l for l in proxy.audit_lines() if l.get("errorCode") == "AuthenticationFailedException"]
    assert len(refused) == 2
    # A path the proxy does not serve: its InvalidUriPathException, as AWS maps it.
    with expect_error("XksProxyInvalidConfigurationException", message_contains="invalid URI path"):
        create_store(kms, path="/elsewhere/kms/xks/v1")


def test_the_proxy_allow_list_refuses_other_kms_keys(kms_xks, proxy):
    srv, kms = kms_xks
    store_id = connected_store(kms)
    account = srv.account_id
    allowed_only = proxy.create_key(f"arn:aws:kms:us-east-1:{account}:key/00000000-0000-0000-0000-000000000000")
    key_id = xks_key(kms, store_id, allowed_only)["KeyId"]  # CreateKey's metadata call names no key ARN yet
    with expect_error("KMSInvalidStateException", message_contains="denied access"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    denied = [l for l in proxy.audit_lines() if l.get("errorCode") == "AccessDeniedException"]
    assert denied and denied[-1]["requestParameters"]["externalKeyId"] == allowed_only
    any_key_of_account = proxy.create_key(f"arn:aws:kms:us-east-1:{account}:key/*")
    other = xks_key(kms, store_id, any_key_of_account)["KeyId"]
    blob = kms.encrypt(KeyId=other, Plaintext=b"y")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"y"


def test_cloudhsm_stores_are_validated(kms_xks):
    _, kms = kms_xks
    with expect_error("ValidationException"):
        kms.create_custom_key_store(CustomKeyStoreName="hsm-" + uuid.uuid4().hex[:6], CloudHsmClusterId="cluster-234abcdefgh")
    with expect_error("CloudHsmClusterNotFoundException"):
        kms.create_custom_key_store(CustomKeyStoreName="hsm-" + uuid.uuid4().hex[:6], CloudHsmClusterId="cluster-234abcdefgh",
                                    TrustAnchorCertificate="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                                    KeyStorePassword="kmsuser-password")


def test_mutual_tls_to_the_proxy(server_factory, tmp_path):
    """A proxy started with --client-ca-file refuses a KMS without a client certificate; one
    with --xks-proxy-client-cert/--xks-proxy-client-key from that CA connects and encrypts."""
    p = XksProxy(tmp_path)
    external = p.create_key()
    client_ca = make_ca("kms client CA")
    cert, key = make_client_cert(client_ca)
    write_private(str(tmp_path / "client-ca.pem"), client_ca.pem())
    write_private(str(tmp_path / "client.pem"), cert)
    write_private(str(tmp_path / "client.key"), key)
    p.start(["--client-ca-file", str(tmp_path / "client-ca.pem")])
    try:
        base = ["--xks-proxy-ca-file", p.ca, "--xks-proxy-connect-to", f"localhost=127.0.0.1:{p.port}",
                "--xks-proxy-timeout-ms", "3000"]
        plain = server_factory(extra_args=base, name="no-client-cert").client()
        with expect_error("XksProxyUriUnreachableException"):
            create_store(plain)
        mtls = server_factory(extra_args=base + ["--xks-proxy-client-cert", str(tmp_path / "client.pem"),
                                                 "--xks-proxy-client-key", str(tmp_path / "client.key")],
                              name="client-cert").client()
        store_id = connected_store(mtls)
        key_id = xks_key(mtls, store_id, external)["KeyId"]
        blob = mtls.encrypt(KeyId=key_id, Plaintext=b"over mutual TLS")["CiphertextBlob"]
        assert mtls.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over mutual TLS"
    finally:
        p.stop()
    assert "Fatal error" not in p.stderr()


def _proxy_post(proxy, path, body, *, method="POST", sign_with=SECRET, access_key=ACCESS_KEY_ID):
    """A request to the proxy itself, SigV4-signed by botocore (service kms-xks-proxy), as AWS signs."""
    import ssl
    import urllib.error
    import urllib.request
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"https://localhost:{proxy.port}{path}"
    data = json.dumps(body).encode() if body is not None else b""
    request = AWSRequest(method=method, url=url, data=data, headers={"Content-Type": "application/json"})
    if sign_with is not None:
        SigV4Auth(Credentials(access_key, sign_with), "kms-xks-proxy", "us-east-1").add_auth(request)
    context = ssl.create_default_context(cafile=proxy.ca)
    req = urllib.request.Request(url, data=data if method == "POST" else None, method=method,
                                 headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_the_proxy_speaks_the_xks_api(proxy):
    metadata = {"requestMetadata": {"kmsRequestId": str(uuid.uuid4()), "kmsOperation": "KmsHealthCheck"}}
    status, body = _proxy_post(proxy, "/kms/xks/v1/health", metadata)
    assert status == 200 and body["xksProxyFleetSize"] == 1
    assert body["ekmFleetDetails"][0]["healthStatus"] == "ACTIVE"
    # Unsigned, wrongly signed, unknown access key: 401 AuthenticationFailedException.
    for kwargs in ({"sign_with": None}, {"sign_with": WRONG_SECRET}, {"access_key": "UNKNOWNACCESSKEY2345"}):
        status, body = _proxy_post(proxy, "/kms/xks/v1/health", metadata, **kwargs)
        assert (status, body["errorName"]) == (401, "AuthenticationFailedException"), kwargs
    # Other paths, GET, unknown keys.
    status, body = _proxy_post(proxy, "/kms/xks/v2/health", metadata)
    assert (status, body["errorName"]) == (404, "InvalidUriPathException")
    status, _ = _proxy_post(proxy, "/kms/xks/v1/health", None, method="GET")
    assert status == 405
    status, body = _proxy_post(proxy, "/kms/xks/v1/keys/no-such-key/metadata", metadata)
    assert (status, body["errorName"]) == (404, "KeyNotFoundException")
    # Encrypt and decrypt with AAD, as KMS calls them.
    key_id = proxy.create_key()
    request = {"requestMetadata": {"awsPrincipalArn": "arn:aws:iam::111122223333:root", "kmsOperation": "Encrypt",
                                   "kmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/k", "kmsRequestId": "r1"},
               "plaintext": base64.b64encode(b"hello").decode(), "encryptionAlgorithm": "AES_GCM",
               "additionalAuthenticatedData": base64.b64encode(b"aad").decode()}
    status, enc = _proxy_post(proxy, f"/kms/xks/v1/keys/{key_id}/encrypt", request)
    assert status == 200 and len(base64.b64decode(enc["ciphertext"])) == 5
    decrypt = {"requestMetadata": request["requestMetadata"], "encryptionAlgorithm": "AES_GCM",
               "additionalAuthenticatedData": request["additionalAuthenticatedData"], **{
                   k: enc[k] for k in ("ciphertext", "initializationVector", "authenticationTag")}}
    status, dec = _proxy_post(proxy, f"/kms/xks/v1/keys/{key_id}/decrypt", decrypt)
    assert status == 200 and base64.b64decode(dec["plaintext"]) == b"hello"
    decrypt["additionalAuthenticatedData"] = base64.b64encode(b"other").decode()
    status, body = _proxy_post(proxy, f"/kms/xks/v1/keys/{key_id}/decrypt", decrypt)
    assert (status, body["errorName"]) == (400, "InvalidCiphertextException")
    # Every request left an audit line; none holds the plaintext.
    lines = proxy.audit_lines()
    assert len(lines) >= 10
    assert all("eventTime" in l and "eventName" in l for l in lines)
    raw = open(os.path.join(proxy.dir, "xks-audit.log"), "rb").read()
    assert base64.b64encode(b"hello") not in raw and b"hello" not in raw


def test_the_kms_audit_trail_names_stores_but_never_the_credential(kms_xks):
    srv, kms = kms_xks
    from test_audit import cloudtrail_client
    name = "audited-" + uuid.uuid4().hex[:6]
    store_id = create_store(kms, name=name)
    ct = cloudtrail_client(srv)
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateCustomKeyStore"}],
                              MaxResults=50)["Events"]
    mine = [json.loads(e["CloudTrailEvent"]) for e in events]
    mine = [e for e in mine if e["requestParameters"].get("customKeyStoreName") == name]
    assert len(mine) == 1
    assert mine[0]["responseElements"] == {"customKeyStoreId": store_id}
    assert "xksProxyAuthenticationCredential" not in mine[0]["requestParameters"]
    assert mine[0]["readOnly"] is False
    assert SECRET not in json.dumps(events, default=str)


def test_ids_and_names_no_store_can_hold_are_refused_cleanly(dev_server):
    """A NUL in an ID or name must not reach the store (PostgreSQL text refuses it): an ID of
    another shape is simply not found, a name with NUL is a ValidationException."""
    for op in ("ConnectCustomKeyStore", "DisconnectCustomKeyStore", "DeleteCustomKeyStore"):
        for bad in ("\u0000\u00ff", "cks-\u00001234567890abcdef", "x"):
            resp = raw_call(dev_server, op, body=json.dumps({"CustomKeyStoreId": bad}).encode())
            assert resp.status == 400 and resp.error_code == "CustomKeyStoreNotFoundException", (op, bad, resp.body)
    resp = raw_call(dev_server, "CreateCustomKeyStore", body=json.dumps({
        "CustomKeyStoreName": "a\u0000b", "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
        "XksProxyUriEndpoint": "https://xks.example.com", "XksProxyUriPath": "/kms/xks/v1",
        "XksProxyConnectivity": "PUBLIC_ENDPOINT",
        "XksProxyAuthenticationCredential": {"AccessKeyId": "ABCDEFGHIJKLMNOPQRST", "RawSecretAccessKey": "s" * 43}}).encode())
    assert resp.status == 400 and resp.error_code == "ValidationException", resp.body
