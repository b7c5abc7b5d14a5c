"""The peer link between two deployments (issue 13 §3): two servers, two data dirs, two
ports, us-east-1 and eu-west-1, linked with one peer key file.

- a link-check queued by `kms admin peers --check` goes through (the receiver proves it
  unwrapped the wrapped nonce) and both sides' `kms admin peers` say so;
- a captured message carries the nonce only wrapped (the test unwraps it with the peer key,
  following the documented format, and finds its bytes nowhere in clear) and never in a log;
- a replayed captured message, one reordered ahead of the next sequence, one signed with
  the wrong peer key and one altered in transit are refused, and nothing is applied;
- with the peer down, the message waits in the outbox (visible in `kms admin peers`), survives
  a restart of the sender, and is delivered exactly once when the peer is back;
- the link works over TLS (https peer URL, --peer-ca-file) and refuses to start on a bad key file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kms_harness import free_port, kms_binary, poll
from tls_certs import write_bundle

pytestmark = pytest.mark.single_node("starts its own pair of linked deployments")

PATH = "/_peer/v1/messages"
US, EU = "us-east-1", "eu-west-1"


# -- the documented wire format, implemented independently -------------------------------

def derive(secret: bytes, purpose: str, sender: str, receiver: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"swift-kms peer link v1",
                info=f"{purpose}|{sender}|{receiver}".encode()).derive(secret)


def canonical(domain: str, *fields) -> bytes:
    out = b""
    for f in (domain, *fields):
        b = f if isinstance(f, bytes) else str(f).encode()
        out += len(b).to_bytes(4, "big") + b
    return out


def mac_input(m: dict) -> bytes:
    return canonical("kms-peer-message-v1", m["keyId"], m["sender"], m["receiver"], m["sequence"], m["kind"],
                     m["sentAt"], m["body"], len(m["secrets"]), *m["secrets"])


def sign(m: dict, secret: bytes) -> dict:
    key = derive(secret, "mac", m["sender"], m["receiver"])
    m = dict(m)
    m["mac"] = base64.b64encode(hmac.new(key, mac_input(m), hashlib.sha256).digest()).decode()
    return m


def unwrap(m: dict, secret: bytes, index: int = 0) -> bytes:
    key = derive(secret, "wrap", m["sender"], m["receiver"])
    raw = base64.b64decode(m["secrets"][index])
    aad = canonical("kms-peer-secret-v1", m["keyId"], m["sender"], m["receiver"], m["sequence"], m["kind"], index)
    return AESGCM(key).decrypt(raw[:12], raw[12:], aad)


def read_key(path: str) -> tuple[str, bytes]:
    with open(path) as fh:
        doc = json.load(fh)
    return doc["keyId"], base64.b64decode(doc["secret"])


def post(port: int, body: bytes):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", PATH, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data) if data else {}


# -- helpers -------------------------------------------------------------------------------

def admin(*args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run([kms_binary(), "admin", *args], capture_output=True, text=True, timeout=60, check=check)


def make_peer_key(path: str) -> None:
    out = admin("peer-key", "--out", path)
    assert "written to" in out.stdout
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def links(srv) -> dict:
    out = admin("peers", "--data-dir", srv.data_dir, "--json")
    return {l["peerRegion"]: l for l in json.loads(out.stdout)["links"]}


def queue_check(srv, local: str, peer: str) -> int:
    out = admin("peers", "--data-dir", srv.data_dir, "--peer-region", local, "--check", peer)
    return int(out.stdout.split("#")[1].split()[0])


def applied_lines(srv) -> list[str]:
    return [l for l in srv.logs().splitlines() if "peer link: applied" in l]


def all_logs(srv) -> str:
    text = ""
    for name in sorted(os.listdir(srv.log_dir)):
        with open(os.path.join(srv.log_dir, name), "rb") as fh:
            text += fh.read().decode("utf-8", "replace")
    return text


class CapturingProxy:
    """Forwards POSTs to the peer and keeps a copy of every message: the wire an attacker sees."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.captured: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.captured.append(body)
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", outer.target_port, timeout=10)
                    conn.request("POST", self.path, body=body, headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    data, status = resp.read(), resp.status
                    conn.close()
                except OSError:
                    data, status = b"", 502
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def peer_args(local: str, peer: str, url: str, key: str, *extra) -> list:
    return ["--peer-region", local, "--peer", f"{peer}={url}", "--peer-key-file", key,
            "--peer-poll-interval", "0.2", "--peer-max-backoff", "1", *extra]


@pytest.fixture
def pair(server_factory, tmp_path):
    """us-east-1 (sending through a capturing proxy) and eu-west-1, both running."""
    key = str(tmp_path / "peer.key")
    make_peer_key(key)
    us_port, eu_port = free_port(), free_port()
    proxy = CapturingProxy(eu_port)
    eu = server_factory(name="eu", start=False, extra_args=peer_args(EU, US, f"http://127.0.0.1:{us_port}", key))
    us = server_factory(name="us", start=False, extra_args=peer_args(US, EU, f"http://127.0.0.1:{proxy.port}", key))
    eu.start(port=eu_port)
    us.start(port=us_port)
    yield us, eu, proxy, key
    proxy.close()
    assert_clean_stop(us, eu)


def assert_clean_stop(*servers):
    """Each server stops cleanly and never crashed (a crash can hide behind a passing test)."""
    for srv in servers:
        assert srv.stop() in (0, None), srv.logs()
        text = all_logs(srv)
        assert "Fatal error" not in text and "Backtrace" not in text, text[-4000:]


def delivered(srv, peer: str):
    link = links(srv).get(peer)
    return link is not None and link["pending"] == 0 and link["state"] == "reachable"


def test_link_check_goes_through_and_captured_message_holds_no_secret(pair):
    us, eu, proxy, key = pair
    seq = queue_check(us, US, EU)
    assert seq == 1
    poll(lambda: delivered(us, EU), timeout=20, what="link-check delivered")
    assert links(eu)[US]["lastReceivedSequence"] == 1
    assert len(applied_lines(eu)) == 1 and "applied link-check #1 from us-east-1" in applied_lines(eu)[0]
    assert "acknowledged link-check #1 (applied)" in us.logs()

    assert len(proxy.captured) == 1
    wire = proxy.captured[0]
    m = json.loads(wire)
    key_id, secret = read_key(key)
    assert (m["keyId"], m["sender"], m["receiver"], m["sequence"], m["kind"]) == (key_id, US, EU, 1, "link-check")
    # The MAC is what the documented format says, over every field.
    assert hmac.compare_digest(base64.b64decode(m["mac"]), base64.b64decode(sign(m, secret)["mac"]))
    # The wrapped nonce opens only with the peer key; its bytes are nowhere in clear on the
    # wire, nor in either server's logs.
    nonce = unwrap(m, secret)
    assert len(nonce) == 32
    for form in (nonce, base64.b64encode(nonce), nonce.hex().encode(), base64.urlsafe_b64encode(nonce).rstrip(b"=")):
        assert form not in wire
        assert form.decode("latin-1") not in all_logs(us) + all_logs(eu)
    assert secret not in wire and base64.b64encode(secret) not in wire
    with pytest.raises(Exception):
        unwrap(m, os.urandom(32))


def test_replayed_reordered_forged_and_altered_messages_are_refused(pair):
    us, eu, proxy, key = pair
    queue_check(us, US, EU)
    poll(lambda: delivered(us, EU), timeout=20, what="link-check delivered")
    captured = json.loads(proxy.captured[0])
    key_id, secret = read_key(key)

    # Replay of the captured message (its timestamp still fresh): refused, not applied again.
    status, answer = post(eu.port, proxy.captured[0])
    assert status == 409 and answer["status"] == "duplicate" and answer["lastAccepted"] == 1

    # Reordered: a well-signed message ahead of the next sequence.
    ahead = sign({**captured, "sequence": 3, "sentAt": int(time.time() * 1000)}, secret)
    status, answer = post(eu.port, json.dumps(ahead).encode())
    assert status == 409 and answer["__type"] == "PeerSequenceOutOfOrder", answer

    # Signed with the wrong peer key (same key id, other secret), as the next sequence.
    forged = sign({**captured, "sequence": 2, "sentAt": int(time.time() * 1000)}, os.urandom(32))
    status, answer = post(eu.port, json.dumps(forged).encode())
    assert status == 403 and answer["__type"] == "PeerAuthenticationFailed", answer

    # Altered in transit after signing.
    altered = dict(captured, body='{"requestedAt":1}')
    status, answer = post(eu.port, json.dumps(altered).encode())
    assert status == 403 and answer["__type"] == "PeerAuthenticationFailed", answer

    # Addressed to a region this deployment is not; an unknown kind; garbage.
    status, answer = post(eu.port, json.dumps(sign({**captured, "receiver": "ap-south-1", "sequence": 2,
                                                     "sentAt": int(time.time() * 1000)}, secret)).encode())
    assert status == 403 and answer["__type"] == "PeerWrongReceiver", answer
    status, answer = post(eu.port, json.dumps(sign({**captured, "kind": "no-such-kind", "sequence": 2,
                                                     "sentAt": int(time.time() * 1000)}, secret)).encode())
    assert status == 400 and answer["__type"] == "PeerUnknownMessageKind", answer
    status, answer = post(eu.port, b'{"version": 1}')
    assert status == 400 and answer["__type"] == "PeerMalformedMessage", answer

    # A stale message: even correctly signed, outside the 5-minute window.
    stale = sign({**captured, "sequence": 2, "sentAt": int((time.time() - 3600) * 1000)}, secret)
    status, answer = post(eu.port, json.dumps(stale).encode())
    assert status == 400 and answer["__type"] == "PeerMessageExpired", answer

    # Nothing was applied by any of them; the next genuine message is sequence 2 and goes through.
    assert len(applied_lines(eu)) == 1 and links(eu)[US]["lastReceivedSequence"] == 1
    assert queue_check(us, US, EU) == 2
    poll(lambda: delivered(us, EU) and links(eu)[US]["lastReceivedSequence"] == 2, timeout=20, what="second link-check")
    assert len(applied_lines(eu)) == 2
    assert eu.alive and us.alive


def test_peer_down_queues_in_outbox_and_delivers_exactly_once_after_restart(pair):
    us, eu, proxy, key = pair
    eu.stop()
    seq = queue_check(us, US, EU)
    # Queued and retried while the peer is down: visible in `kms admin peers`.
    poll(lambda: links(us)[EU]["state"] == "unreachable", timeout=20, what="link marked unreachable")
    link = links(us)[EU]
    assert link["pending"] == 1 and [q["sequence"] for q in link["queue"]] == [seq] and link["lastError"]
    text = admin("peers", "--data-dir", us.data_dir).stdout
    assert "unreachable" in text and f"pending #{seq} link-check" in text
    # The sender restarts with the message still queued (the outbox is durable).
    us.restart()
    assert links(us)[EU]["pending"] == 1
    time.sleep(1.5)  # a few failed attempts meanwhile
    eu.start()
    poll(lambda: delivered(us, EU), timeout=30, what="queued link-check delivered after the peer came back")
    assert links(eu)[US]["lastReceivedSequence"] == seq
    # Exactly once: one applied line for it across the peer's runs, however many attempts.
    time.sleep(1)
    assert sum(f"#{seq} from" in l for l in all_logs(eu).splitlines() if "peer link: applied" in l) == 1
    assert links(us)[EU]["pending"] == 0


def test_link_over_tls(server_factory, tmp_path):
    key = str(tmp_path / "peer.key")
    make_peer_key(key)
    bundle = write_bundle(str(tmp_path / "tls"))
    us_port, eu_port = free_port(), free_port()
    eu = server_factory(name="eu", start=False, extra_args=peer_args(EU, US, f"http://127.0.0.1:{us_port}", key,
                                                                      "--tls-cert", bundle["cert"], "--tls-key", bundle["key"]))
    us = server_factory(name="us", start=False, extra_args=peer_args(US, EU, f"https://localhost:{eu_port}", key,
                                                                      "--peer-ca-file", bundle["ca"]))
    eu.start(port=eu_port)
    us.start(port=us_port)
    queue_check(us, US, EU)
    poll(lambda: delivered(us, EU), timeout=20, what="link-check over https")
    assert links(eu)[US]["lastReceivedSequence"] == 1
    assert_clean_stop(us, eu)


def test_refuses_to_start_without_a_good_peer_key_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    bad = tmp_path / "bad.key"
    bad.write_text('{"format": "kms-peer-key-v1", "keyId": "pk-00", "secret": "AAAA"}')
    os.chmod(bad, 0o600)
    loose = tmp_path / "loose.key"
    make_peer_key(str(loose))
    os.chmod(loose, 0o644)
    for args in (["--peer-key-file", str(bad)], ["--peer-key-file", str(loose)], ["--peer-key-file", str(tmp_path / "missing")], []):
        proc = subprocess.run([kms_binary(), "server", "--port", "0", "--data-dir", str(data), "--peer-region", US,
                               "--peer", f"{EU}=http://127.0.0.1:1", *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0
        assert "peer" in (proc.stderr + proc.stdout).lower()


@pytest.fixture
def pg_url():
    import shutil
    import uuid
    from urllib.parse import urlsplit, urlunsplit
    url = os.environ.get("KMS_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("KMS_TEST_POSTGRES_URL is not set under CI (scripts/with-postgres sets it)", pytrace=False)
        pytest.skip("KMS_TEST_POSTGRES_URL not set (run under scripts/with-postgres)")
    if not shutil.which("psql"):
        pytest.fail("psql is needed to create scratch databases", pytrace=False)
    name = "kms_peer_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    parts = urlsplit(url)
    yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    subprocess.run(["psql", url, "-tAc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], capture_output=True)


def test_cluster_on_postgresql_sends_each_message_once(server_factory, tmp_path, pg_url):
    """us-east-1 is two nodes on one PostgreSQL: only the lease holder sends, so each queued
    message reaches eu-west-1 once; both nodes and `kms admin peers --storage` see the link."""
    import shutil
    key = str(tmp_path / "peer.key")
    make_peer_key(key)
    eu_port = free_port()
    eu = server_factory(name="eu", start=False, extra_args=peer_args(EU, US, "http://127.0.0.1:1", key))
    eu.start(port=eu_port)
    args = peer_args(US, EU, f"http://127.0.0.1:{eu_port}", key, "--storage", pg_url)
    a = server_factory(name="node-a", extra_args=args)
    b = server_factory(name="node-b", start=False, extra_args=[*args, "--root-key-file", os.path.join(a.data_dir, "root.key")])
    os.chmod(b.data_dir, 0o700)
    shutil.copy2(a.credentials_path, b.credentials_path)
    os.chmod(b.credentials_path, 0o600)
    b.start()
    store = ["--data-dir", a.data_dir, "--storage", pg_url]
    seqs = [int(admin("peers", *store, "--peer-region", US, "--check", EU).stdout.split("#")[1].split()[0]) for _ in range(3)]
    assert seqs == [1, 2, 3]

    def done():
        out = json.loads(admin("peers", *store, "--json").stdout)["links"]
        return out and out[0]["pending"] == 0 and out[0]["state"] == "reachable"
    poll(done, timeout=30, what="three link-checks delivered from the cluster")
    time.sleep(1)
    assert links(eu)[US]["lastReceivedSequence"] == 3
    assert len(applied_lines(eu)) == 3
    acked = [l for l in all_logs(a).splitlines() + all_logs(b).splitlines() if "acknowledged link-check" in l]
    assert len(acked) == 3 and all("(applied)" in l for l in acked), acked
    assert_clean_stop(a, b, eu)


def test_unreachable_peer_is_retried_with_backoff_and_reported(server_factory, tmp_path):
    """Nothing listens at the peer's URL: the message stays queued, the link says why, and
    the sender keeps running (no crash on refused connections)."""
    key = str(tmp_path / "peer.key")
    make_peer_key(key)
    us = server_factory(name="us", extra_args=peer_args(US, EU, f"http://127.0.0.1:{free_port()}", key))
    queue_check(us, US, EU)
    poll(lambda: links(us)[EU]["state"] == "unreachable", timeout=20, what="unreachable")
    link = links(us)[EU]
    assert link["pending"] == 1 and "cannot connect" in link["lastError"], link
    first_error_at = link["lastErrorAt"]
    poll(lambda: links(us)[EU]["lastErrorAt"] > first_error_at, timeout=10, what="a retry")
    assert us.alive
    assert_clean_stop(us)


def test_a_message_the_peer_refuses_for_good_becomes_a_dead_letter(pair):
    """An authentic, in-order message the peer can never apply (here an mrk-change it cannot
    read, put in us-east-1's outbox by hand) is answered with a signed refusal: us-east-1 keeps
    it as a dead letter shown by `kms admin peers`, and the queue behind it moves on."""
    import sqlite3
    us, eu, proxy, key = pair
    db = sqlite3.connect(os.path.join(us.data_dir, "kms.sqlite"), timeout=30)
    with db:
        db.execute("INSERT INTO peer_links (local_region, peer_region) VALUES (?, ?) ON CONFLICT DO NOTHING", (US, EU))
        db.execute("UPDATE peer_links SET last_sent_sequence = last_sent_sequence + 1, version = version + 1 "
                   "WHERE local_region = ? AND peer_region = ?", (US, EU))
        seq = db.execute("SELECT last_sent_sequence FROM peer_links WHERE local_region = ? AND peer_region = ?",
                         (US, EU)).fetchone()[0]
        db.execute("INSERT INTO peer_outbox (local_region, peer_region, sequence, kind, body, sealed_secrets, created_at) "
                   "VALUES (?, ?, ?, 'mrk-change', '{\"format\": \"mrk-change-v0\"}', '[]', ?)", (US, EU, seq, time.time()))
    db.close()
    check = queue_check(us, US, EU)
    assert check == seq + 1
    poll(lambda: delivered(us, EU) and links(eu)[US]["lastReceivedSequence"] == check, timeout=20,
         what="the queue moved past the refused message")
    link = links(us)[EU]
    assert link["pending"] == 0 and [d["sequence"] for d in link["deadLetters"]] == [seq], link
    assert "mrk-change" in link["deadLetters"][0]["reason"] and link["deadLetters"][0]["kind"] == "mrk-change"
    assert f"dead letter #{seq} mrk-change" in admin("peers", "--data-dir", us.data_dir).stdout
    assert f"refused mrk-change #{seq} from {US} for good" in eu.logs()
    assert f"applied link-check #{check} from {US}" in eu.logs()
    # The refusal was signed: a forged one (no valid ack MAC) would have been retried instead.
    assert eu.alive and us.alive

