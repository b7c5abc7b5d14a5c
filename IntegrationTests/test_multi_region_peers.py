"""Multi-Region keys across two peer deployments (issue 13 §3, §4): us-east-1 and eu-west-1
are two servers with their own data dirs, each serving one region (--regions), linked with
one peer key file (--peer-region defaults to the one served region). Changes travel as
`mrk-change` messages through the peer link's outbox.

What both topologies share (replicate, decrypt elsewhere, rotation, UpdatePrimaryRegion) is
test_multi_region_topologies.py; this file holds what only a pair of peers has:
- with the peer down during ReplicateKey, the replica appears once it is back, exactly once;
- eu-west-1 SIGKILLed at several moments of ReplicateKey (before the message reaches it,
  while it applies it, after it applied it but before the ack, during the completion step)
  and restarted on its data dir: exactly one healthy replica each time;
- captured mrk-change messages hold no key material: imported material (known to the test)
  never travels, and generated material (an HMAC key, proven to be the key by a MAC) travels
  only wrapped; neither is in a log.
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

from kms_harness import expect_error, free_port, kms_binary, poll
from test_import_key_material import import_material
from test_peer_link import EU, US, all_logs, assert_clean_stop, links, make_peer_key, read_key, unwrap

pytestmark = pytest.mark.single_node("starts its own pair of linked deployments")


def mrk_args(local: str, peer: str, url: str, key: str) -> list:
    # No --peer-region: the single --regions entry names this deployment on the link.
    return ["--regions", local, "--peer", f"{peer}={url}", "--peer-key-file", key,
            "--peer-poll-interval", "0.2", "--peer-max-backoff", "1"]


@pytest.fixture
def peers(server_factory, tmp_path):
    key = str(tmp_path / "peer.key")
    make_peer_key(key)
    us_port, eu_port = free_port(), free_port()
    eu = server_factory(name="eu", dev=True, start=False, extra_args=mrk_args(EU, US, f"http://127.0.0.1:{us_port}", key))
    us = server_factory(name="us", dev=True, start=False, extra_args=mrk_args(US, EU, f"http://127.0.0.1:{eu_port}", key))
    eu.start(port=eu_port)
    us.start(port=us_port)
    yield us, eu
    assert_clean_stop(us, eu)


def meta(client, key_id) -> dict:
    return client.describe_key(KeyId=key_id)["KeyMetadata"]


def wait_state(client, key_id, wanted, timeout=30):
    def ok():
        try:
            return meta(client, key_id)["KeyState"] == wanted
        except client.exceptions.NotFoundException:
            return False
    poll(ok, timeout=timeout, what=f"{key_id} {wanted}")


def outbox_empty(srv, peer):
    link = links(srv).get(peer)
    return link is not None and link["pending"] == 0


def test_peer_down_during_replicate_key_replica_appears_once_back(peers):
    us, eu = peers
    east, west = us.client(US), eu.client(EU)
    key_id = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    eu.stop()
    east.replicate_key(KeyId=key_id, ReplicaRegion=EU)
    poll(lambda: links(us)[EU]["pending"] >= 1 and links(us)[EU]["state"] == "unreachable", timeout=20,
         what="change queued while the peer is down")
    time.sleep(1.5)  # a few failed attempts
    eu.start()
    wait_state(west, key_id, "Enabled")
    poll(lambda: outbox_empty(us, EU), timeout=20, what="outbox drained")
    # Exactly one replica, on both sides.
    assert [k["KeyId"] for k in west.list_keys()["Keys"]].count(key_id) == 1
    assert [r["Region"] for r in meta(east, key_id)["MultiRegionConfiguration"]["ReplicaKeys"]] == [EU]
    # A second ReplicateKey to the same region is refused.
    with expect_error("AlreadyExistsException"):
        east.replicate_key(KeyId=key_id, ReplicaRegion=EU)


def test_peer_region_defaults_only_to_a_single_served_region(tmp_path):
    # Two served regions and no --peer-region: which one is this deployment on the link is
    # ambiguous, so the server refuses to start (one region: the fixture above starts fine).
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    key = str(tmp_path / "peer.key")
    make_peer_key(key)
    proc = subprocess.run([kms_binary(), "server", "--port", "0", "--data-dir", str(data), "--regions", f"{US},ap-south-1",
                           "--peer", f"{EU}=http://127.0.0.1:1", "--peer-key-file", key],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "--peer-region" in proc.stderr + proc.stdout


# -- a proxy on the us-east-1 -> eu-west-1 link: the wire an attacker sees, and a switch -----

class LinkProxy:
    """Forwards us-east-1's POSTs to eu-west-1 and keeps a copy of each. `before(message)` runs
    before a message is forwarded, `after(message)` once eu-west-1 answered; `after` returning
    True drops the answer (the sender gets a 502, as if the ack were lost on the way)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.captured: list[bytes] = []
        self.before = None
        self.after = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.captured.append(body)
                try:
                    message = json.loads(body)
                except ValueError:
                    message = {}
                if outer.before:
                    outer.before(message)
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", outer.target_port, timeout=10)
                    conn.request("POST", self.path, body=body, headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    data, status = resp.read(), resp.status
                    conn.close()
                except OSError:
                    data, status = b"", 502
                if status != 502 and outer.after and outer.after(message):
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


def change_of(message: dict):
    """(kind, keyId) of an mrk-change message; None for anything else."""
    if message.get("kind") != "mrk-change":
        return None
    body = json.loads(message["body"])
    return body["kind"], body["keyId"]


@pytest.fixture
def proxied(server_factory, tmp_path):
    """us-east-1 and eu-west-1 as peers, us-east-1 sending through a LinkProxy."""
    key = str(tmp_path / "peer.key")
    make_peer_key(key)
    us_port, eu_port = free_port(), free_port()
    proxy = LinkProxy(eu_port)
    eu = server_factory(name="eu", dev=True, start=False, extra_args=mrk_args(EU, US, f"http://127.0.0.1:{us_port}", key))
    us = server_factory(name="us", dev=True, start=False, extra_args=mrk_args(US, EU, f"http://127.0.0.1:{proxy.port}", key))
    eu.start(port=eu_port)
    us.start(port=us_port)
    yield us, eu, proxy, key
    proxy.close()
    assert_clean_stop(us, eu)


# The moments of ReplicateKey at which eu-west-1 is SIGKILLed.
KILL_MOMENTS = (
    "right after ReplicateKey returns",
    "before the createReplica message reaches it",
    "while it applies the createReplica message",
    "after it applied createReplica, before the ack reaches us-east-1",
    "when the completion step reaches it",
)


def test_killing_the_replica_region_during_replicate_key_ends_with_one_healthy_replica(proxied):
    us, eu, proxy, _ = proxied
    east, west = us.client(US), eu.client(EU)
    for moment in KILL_MOMENTS:
        key_id = east.create_key(MultiRegion=True, Description=moment)["KeyMetadata"]["KeyId"]
        killed = threading.Event()

        def kill_eu(delay: float = 0.0):
            if delay:
                time.sleep(delay)
            eu.kill()  # SIGKILL: no shutdown, no flush beyond what was committed
            killed.set()

        def is_(kind):
            return lambda m: change_of(m) == (kind, key_id) and not killed.is_set()

        if moment == "before the createReplica message reaches it":
            proxy.before = lambda m: is_("createReplica")(m) and kill_eu()
        elif moment == "while it applies the createReplica message":
            proxy.before = lambda m: is_("createReplica")(m) and threading.Thread(target=kill_eu, args=(0.003,)).start()
        elif moment == "after it applied createReplica, before the ack reaches us-east-1":
            proxy.after = lambda m: bool(is_("createReplica")(m) and (kill_eu() or True))
        elif moment == "when the completion step reaches it":
            proxy.before = lambda m: is_("completeReplica")(m) and kill_eu()
        east.replicate_key(KeyId=key_id, ReplicaRegion=EU)
        if moment == "right after ReplicateKey returns":
            kill_eu()
        assert killed.wait(30), f"eu-west-1 was not killed ({moment})"
        proxy.before = proxy.after = None
        poll(lambda: not eu.alive, timeout=10, what="eu-west-1 gone")
        eu.start()  # same data dir, same port

        wait_state(west, key_id, "Enabled")
        poll(lambda: outbox_empty(us, EU), timeout=30, what=f"outbox drained ({moment})")
        listed = [k["KeyId"] for k in west.list_keys(Limit=1000)["Keys"]]
        assert listed.count(key_id) == 1, moment
        m = meta(west, key_id)
        assert m["KeyState"] == "Enabled" and m["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA", (moment, m)
        assert m["MultiRegionConfiguration"]["PrimaryKey"]["Region"] == US
        assert [r["Region"] for r in meta(east, key_id)["MultiRegionConfiguration"]["ReplicaKeys"]] == [EU], moment
        secret = os.urandom(32)
        blob = east.encrypt(KeyId=key_id, Plaintext=secret)["CiphertextBlob"]
        assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == secret, moment
        with expect_error("AlreadyExistsException"):
            east.replicate_key(KeyId=key_id, ReplicaRegion=EU)
    # Exactly once: no message was applied twice across eu-west-1's five restarts.
    applied = [l for l in all_logs(eu).splitlines() if "peer link: applied mrk-change" in l]
    assert len(applied) == len(set(applied)), applied
    assert eu.alive and us.alive


def clear_forms(secret: bytes) -> list:
    b64 = base64.b64encode(secret)
    return [secret, b64, base64.urlsafe_b64encode(secret).rstrip(b"="), b64.rstrip(b"="), secret.hex().encode(),
            secret.hex().upper().encode()]


def test_captured_mrk_changes_hold_no_key_material(proxied):
    us, eu, proxy, key_path = proxied
    east, west = us.client(US), eu.client(EU)
    _, peer_secret = read_key(key_path)

    # Imported material, known to the test: AWS never copies it; the same material is
    # imported into the replica, which waits in PendingImport until then. (The two
    # deployments key KeyMaterialIds with different root keys: the replica recognises the
    # material by the primary's check, and reports the primary's KeyMaterialId.)
    material = os.urandom(32)
    byok = east.create_key(MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_material(east, byok, material)
    east.replicate_key(KeyId=byok, ReplicaRegion=EU)
    wait_state(west, byok, "PendingImport")
    with expect_error("IncorrectKeyMaterialException"):
        import_material(west, byok, os.urandom(32))
    import_material(west, byok, material)
    wait_state(west, byok, "Enabled")
    assert meta(west, byok)["CurrentKeyMaterialId"] == meta(east, byok)["CurrentKeyMaterialId"]
    blob = east.encrypt(KeyId=byok, Plaintext=b"byok across peers")["CiphertextBlob"]
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok across peers"

    # Generated material (AWS_KMS origin) must travel, wrapped. An HMAC key lets the test
    # prove, without any ciphertext format, that what it unwraps is the key: its MAC matches.
    mac_key = east.create_key(MultiRegion=True, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    east.replicate_key(KeyId=mac_key, ReplicaRegion=EU)
    wait_state(west, mac_key, "Enabled")
    tag = east.generate_mac(KeyId=mac_key, Message=b"probe", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert west.verify_mac(KeyId=mac_key, Message=b"probe", Mac=tag, MacAlgorithm="HMAC_SHA_256")["MacValid"]
    poll(lambda: outbox_empty(us, EU), timeout=20, what="outbox drained")

    messages = [json.loads(w) for w in proxy.captured]
    byok_changes = [m for m in messages if (change_of(m) or ("", ""))[1] == byok]
    assert {change_of(m)[0] for m in byok_changes} >= {"createReplica", "completeReplica"}
    # Imported material never leaves us-east-1, not even wrapped: its changes carry no material
    # version, only (wrapped) a check of it, HMAC-SHA256 keyed by the material over the key ID
    # and version, with which eu-west-1 recognised the import above.
    for m in byok_changes:
        shared = json.loads(m["body"])["shared"]
        assert shared["materials"] == [], "imported material left us-east-1"
        assert len(m["secrets"]) == len(shared.get("checks") or [])
        for i, version in enumerate(shared.get("checks") or []):
            expected = hmac.new(material, f"kms-mrk-material-check|v1|{byok}|{version}".encode(), hashlib.sha256).digest()
            assert unwrap(m, peer_secret, i) == expected
    assert any(json.loads(m["body"])["shared"].get("checks") for m in byok_changes)
    creates = [m for m in messages if change_of(m) == ("createReplica", mac_key)]
    assert creates and all(len(m["secrets"]) == 1 for m in creates)
    mac_material = unwrap(creates[0], peer_secret)
    assert hmac.new(mac_material, b"probe", hashlib.sha256).digest() == tag, "the wrapped secret is not the HMAC key"
    for m in messages:
        for i in range(len(m["secrets"])):
            assert unwrap(m, peer_secret, i) != material

    wire = b"".join(proxy.captured)
    logs = all_logs(us) + all_logs(eu)
    for secret in (material, mac_material, peer_secret):
        for form in clear_forms(secret):
            assert form not in wire, "key material in clear on the wire"
            assert form.decode("latin-1") not in logs, "key material in a log"
