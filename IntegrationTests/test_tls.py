"""TLS on the listener (issue 7, section 1).

Contract: `--tls-cert FILE --tls-key FILE` (PEM) serve https through swift-nio-ssl, TLS 1.2
and 1.3, ALPN http/1.1; SIGHUP re-reads both files (new connections get the new certificate,
open ones keep working; a bad pair keeps the old one). Plain HTTP on a non-loopback address
is refused unless --insecure-http, which then warns on stderr.
"""

import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import warnings

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import SSLError

from kms_harness import (DEFAULT_REGION, JSON_CT, KmsServer, free_port, kms_binary, poll,
                         sign_request)
from tls_certs import make_ca, make_server_cert, write_bundle, write_private

pytestmark = pytest.mark.restart

AWS = shutil.which("aws")


class TlsServer(KmsServer):
    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"


@pytest.fixture
def tls_server(tmp_path):
    bundle = write_bundle(str(tmp_path / "tls"))
    srv = TlsServer(data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "logs"),
                    extra_args=["--tls-cert", bundle["cert"], "--tls-key", bundle["key"]])
    srv.start()
    srv.tls = bundle
    yield srv
    srv.stop()


def https_client(srv, verify):
    creds = srv.root_credentials()
    return boto3.session.Session().client(
        "kms", endpoint_url=srv.url, region_name=DEFAULT_REGION, verify=verify,
        aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30))


def trusting_context(ca_path, **kwargs) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_path)
    for k, v in kwargs.items():
        setattr(ctx, k, v)
    return ctx


def tls_connect(srv, ctx, server_hostname="localhost") -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=server_hostname)


def peer_serial(sock: ssl.SSLSocket) -> int:
    return int(sock.getpeercert()["serialNumber"], 16)


def signed_list_keys(srv) -> bytes:
    """One signed ListKeys request as bytes (keep-alive)."""
    creds = srv.root_credentials()
    req = sign_request(srv.url, "TrentService.ListKeys", b"{}", DEFAULT_REGION, creds.access_key, creds.secret_key)
    head = "POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
    head += f"Host: localhost:{srv.port}\r\nContent-Length: 2\r\n\r\n"
    return head.encode() + b"{}"


def read_response(sock) -> bytes:
    """Reads one HTTP response with a Content-Length body."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response head: {buf!r}"
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a response body"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_boto3_round_trip_over_https(tls_server):
    kms = https_client(tls_server, verify=tls_server.tls["ca"])
    key_id = kms.create_key(Description="over tls")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret over tls", EncryptionContext={"t": "1"})["CiphertextBlob"]
    out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"t": "1"})
    assert out["Plaintext"] == b"secret over tls"
    assert out["KeyId"].endswith(key_id)


def test_listening_line_says_https(tls_server):
    expected = f"kms: listening on https://127.0.0.1:{tls_server.port}"
    poll(lambda: expected in open(tls_server.stdout_path, encoding="utf-8").read(), timeout=10,
         what=f"stdout line {expected!r}")


@pytest.mark.skipif(AWS is None, reason="aws CLI not installed")
def test_aws_cli_round_trip_over_https(tls_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_SHARED_CREDENTIALS_FILE": tls_server.credentials_path, "AWS_CONFIG_FILE": "/dev/null",
                "AWS_DEFAULT_REGION": DEFAULT_REGION, "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"})

    def aws(*args):
        proc = subprocess.run([AWS, "kms", *args, "--endpoint-url", tls_server.url,
                               "--ca-bundle", tls_server.tls["ca"], "--output", "json"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"aws kms {args[0]} failed ({proc.returncode}):\n{proc.stderr}"
        return json.loads(proc.stdout)

    key_id = aws("create-key", "--description", "cli over tls")["KeyMetadata"]["KeyId"]
    (tmp_path / "plain.bin").write_bytes(b"cli plaintext over tls")
    enc = aws("encrypt", "--key-id", key_id, "--plaintext", "fileb://plain.bin")
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    dec = aws("decrypt", "--ciphertext-blob", "fileb://ct.bin")
    assert base64.b64decode(dec["Plaintext"]) == b"cli plaintext over tls"


def test_client_that_does_not_trust_the_ca_fails(tls_server, tmp_path):
    # boto3 with the system trust store (which does not hold the test CA)
    with pytest.raises(SSLError):
        https_client(tls_server, verify=True).list_keys()
    # a CA of its own that did not sign the server's certificate
    other = make_ca("some other CA")
    write_private(str(tmp_path / "other-ca.pem"), other.pem())
    with pytest.raises(SSLError):
        https_client(tls_server, verify=str(tmp_path / "other-ca.pem")).list_keys()
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_connect(tls_server, ssl.create_default_context())


def test_certificate_names_are_checked_by_clients(tls_server):
    # the certificate names localhost and 127.0.0.1 only
    ctx = trusting_context(tls_server.tls["ca"])
    tls_connect(tls_server, ctx, "127.0.0.1").close()
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_connect(tls_server, ctx, "kms.example.com")


def test_protocol_versions_and_alpn(tls_server):
    ca = tls_server.tls["ca"]
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        ctx = trusting_context(ca, minimum_version=version, maximum_version=version)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with tls_connect(tls_server, ctx) as s:
            assert s.version() == name
            assert s.selected_alpn_protocol() == "http/1.1"
            s.sendall(signed_list_keys(tls_server))
            assert read_response(s).startswith(b"HTTP/1.1 200")


def test_tls_1_1_is_refused(tls_server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError) as exc:
        pytest.skip(f"this Python/OpenSSL cannot offer TLS 1.1: {exc}")
    with pytest.raises(ssl.SSLError) as exc:
        tls_connect(tls_server, ctx).close()
    # the server's "protocol version" alert, not a client-side refusal to try
    assert "PROTOCOL_VERSION" in str(exc.value).upper(), exc.value


def test_plain_http_to_the_tls_port_is_refused_and_the_server_keeps_serving(tls_server):
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: " + JSON_CT.encode()
                      + b"\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 2\r\n\r\n{}")
            got = b""
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += chunk
            else:
                pytest.fail("the server kept a plain-HTTP connection to the TLS port open")
            assert b"HTTP/" not in got, f"plain HTTP was answered in the clear: {got[:200]!r}"
            # at most a TLS alert record (content type 21) before the close
            assert got == b"" or got[0] == 0x15, f"unexpected bytes: {got[:50]!r}"
    kms = https_client(tls_server, verify=tls_server.tls["ca"])
    assert "Keys" in kms.list_keys()
    assert tls_server.alive


def test_sighup_reloads_certificate_and_open_connections_keep_working(tls_server):
    ca_path = tls_server.tls["ca"]
    ctx = trusting_context(ca_path)
    old = tls_connect(tls_server, ctx)
    old.sendall(signed_list_keys(tls_server))
    assert read_response(old).startswith(b"HTTP/1.1 200")
    old_serial = peer_serial(old)
    assert old_serial == tls_server.tls["serial"]

    cert, key, new_serial = make_server_cert(tls_server.tls["authority"])
    write_private(tls_server.tls["cert"], cert)
    write_private(tls_server.tls["key"], key)
    os.kill(tls_server.proc.pid, signal.SIGHUP)
    poll(lambda: "reloaded the TLS certificate" in open(tls_server.stdout_path, encoding="utf-8").read(),
         timeout=10, what="the reload line on stdout")

    with tls_connect(tls_server, ctx) as fresh:
        assert peer_serial(fresh) == new_serial != old_serial
        fresh.sendall(signed_list_keys(tls_server))
        assert read_response(fresh).startswith(b"HTTP/1.1 200")
    # the connection opened before the reload: same socket, same certificate, still served
    for _ in range(2):
        old.sendall(signed_list_keys(tls_server))
        assert read_response(old).startswith(b"HTTP/1.1 200")
    assert peer_serial(old) == old_serial
    old.close()
    assert https_client(tls_server, verify=ca_path).list_keys()["Keys"] is not None


def test_failed_reload_keeps_the_previous_certificate(tls_server):
    ctx = trusting_context(tls_server.tls["ca"])
    # a key that does not belong to the certificate
    _, stray_key, _ = make_server_cert(tls_server.tls["authority"])
    write_private(tls_server.tls["key"], stray_key)
    os.kill(tls_server.proc.pid, signal.SIGHUP)
    poll(lambda: "not reloaded" in open(tls_server.stderr_path, encoding="utf-8").read(),
         timeout=10, what="the failed-reload message on stderr")
    with open(tls_server.tls["cert"], "w") as fh:
        fh.write("not a certificate\n")
    os.kill(tls_server.proc.pid, signal.SIGHUP)
    poll(lambda: open(tls_server.stderr_path, encoding="utf-8").read().count("not reloaded") >= 2,
         timeout=10, what="the second failed-reload message")
    with tls_connect(tls_server, ctx) as s:
        assert peer_serial(s) == tls_server.tls["serial"]
        s.sendall(signed_list_keys(tls_server))
        assert read_response(s).startswith(b"HTTP/1.1 200")
    assert tls_server.alive


# ---------------------------------------------------------------- refusals ---

def run_server(args, tmp_path, timeout=30, env=None):
    """Runs `kms server` expecting it to exit (refusals); returns the CompletedProcess."""
    data = tmp_path / "refused-data"
    cmd = [kms_binary(), "server", "--port", str(free_port()), "--data-dir", str(data), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=env)


def test_non_loopback_without_tls_is_refused(tmp_path):
    for host in ("0.0.0.0", "::"):
        proc = run_server(["--host", host], tmp_path)
        assert proc.returncode != 0
        assert "without TLS" in proc.stderr and "--insecure-http" in proc.stderr and "--tls-cert" in proc.stderr, \
            proc.stderr
        assert "listening" not in proc.stdout
    # nothing was created in the data dir: the refusal comes first
    assert not (tmp_path / "refused-data").exists()


def test_tls_cert_without_key_is_refused(tmp_path):
    bundle = write_bundle(str(tmp_path / "tls"))
    proc = run_server(["--tls-cert", bundle["cert"]], tmp_path)
    assert proc.returncode != 0
    assert "--tls-key" in proc.stderr, proc.stderr


def test_unreadable_tls_files_are_refused(tmp_path):
    bundle = write_bundle(str(tmp_path / "tls"))
    proc = run_server(["--tls-cert", bundle["cert"], "--tls-key", str(tmp_path / "missing.key")], tmp_path)
    assert proc.returncode != 0
    assert "missing.key" in proc.stderr, proc.stderr


def _start_and_read(cmd, port, env=None):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=env, start_new_session=True)
    try:
        poll(lambda: proc.poll() is not None or socket.create_connection(("127.0.0.1", port), timeout=0.5),
             timeout=30, what="server start")
        assert proc.poll() is None, proc.communicate()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    return proc.returncode, out, err


def test_insecure_http_on_non_loopback_starts_with_a_warning(tmp_path):
    port = free_port()
    rc, out, err = _start_and_read([kms_binary(), "server", "--host", "0.0.0.0", "--port", str(port),
                                    "--data-dir", str(tmp_path / "d"), "--insecure-http"], port)
    assert f"kms: listening on http://0.0.0.0:{port}" in out
    assert "WARNING" in err and "--insecure-http" in err and f"http://0.0.0.0:{port}" in err, err


def test_tls_on_non_loopback_needs_no_flag_and_env_vars_work(tmp_path):
    bundle = write_bundle(str(tmp_path / "tls"))
    port = free_port()
    env = dict(os.environ, KMS_TLS_CERT=bundle["cert"], KMS_TLS_KEY=bundle["key"])
    rc, out, err = _start_and_read([kms_binary(), "server", "--host", "0.0.0.0", "--port", str(port),
                                    "--data-dir", str(tmp_path / "d")], port, env=env)
    assert f"kms: listening on https://0.0.0.0:{port}" in out, out + err
    assert "WARNING" not in err, err


def test_config_file_keys(tmp_path):
    bundle = write_bundle(str(tmp_path / "tls"))
    port = free_port()
    conf = tmp_path / "kms.json"
    conf.write_text(json.dumps({"kms": {"tlsCert": bundle["cert"], "tlsKey": bundle["key"]}}))
    rc, out, err = _start_and_read([kms_binary(), "server", "--port", str(port), "--data-dir", str(tmp_path / "d"),
                                    "--config", str(conf)], port)
    assert f"kms: listening on https://127.0.0.1:{port}" in out, out + err
