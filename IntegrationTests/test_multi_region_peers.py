"""Multi-Region keys across two peer deployments (issue 13 §3, §4): us-east-1 and eu-west-1
are two servers with their own data dirs, each serving one region (--regions), linked with
one peer key file (--peer-region defaults to the one served region). Changes travel as
`mrk-change` messages through the peer link's outbox.

- ReplicateKey from us-east-1 creates the replica in eu-west-1, which becomes Enabled there;
  a ciphertext made in us-east-1 decrypts in eu-west-1 with us-east-1 stopped;
- RotateKeyOnDemand on the primary reaches the replica (a new ciphertext decrypts there);
- UpdatePrimaryRegion moves the primary to eu-west-1 (DescribeKey on both sides agrees);
- with the peer down during ReplicateKey, the replica appears once it is back, exactly once;
- the key material is never in a message body or a log.
"""

from __future__ import annotations

import base64
import os
import subprocess
import time

import pytest

from kms_harness import expect_error, free_port, kms_binary, poll
from test_peer_link import EU, US, all_logs, assert_clean_stop, links, make_peer_key

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


def replicated_key(us, eu):
    east, west = us.client(US), eu.client(EU)
    key_id = east.create_key(MultiRegion=True, Description="mrk across peers")["KeyMetadata"]["KeyId"]
    assert key_id.startswith("mrk-")
    out = east.replicate_key(KeyId=key_id, ReplicaRegion=EU, Description="the eu replica")
    assert out["ReplicaKeyMetadata"]["Arn"].split(":")[3] == EU
    wait_state(west, key_id, "Enabled")
    return key_id, east, west


def test_replicate_to_peer_and_decrypt_there_with_primary_stopped(peers):
    us, eu = peers
    key_id, east, west = replicated_key(us, eu)
    m = meta(west, key_id)
    assert m["MultiRegion"] and m["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert m["MultiRegionConfiguration"]["PrimaryKey"]["Region"] == US
    assert m["Description"] == "the eu replica"
    # The primary learns its replica is Enabled too (its own completion step over the link).
    poll(lambda: [r["Region"] for r in meta(east, key_id)["MultiRegionConfiguration"]["ReplicaKeys"]] == [EU],
         timeout=20, what="primary lists the replica")
    secret = os.urandom(32)
    blob = east.encrypt(KeyId=key_id, Plaintext=secret)["CiphertextBlob"]
    us.stop()
    out = west.decrypt(CiphertextBlob=blob)
    assert out["Plaintext"] == secret and out["KeyId"].split(":")[3] == EU
    us.start()
    # The material never travelled in a body or a log: neither side's logs hold the plaintext
    # or anything of the key in clear (only wrapped secrets are on the wire; the wire test is
    # test_peer_link's).
    b64 = base64.b64encode(secret).decode()
    for srv in (us, eu):
        text = all_logs(srv)
        assert b64 not in text and secret.hex() not in text
    assert "mrk-change" in all_logs(us)


def test_rotation_on_primary_reaches_replica(peers):
    us, eu = peers
    key_id, east, west = replicated_key(us, eu)
    poll(lambda: outbox_empty(us, EU), timeout=20, what="outbox drained")
    east.rotate_key_on_demand(KeyId=key_id)
    new_material = east.describe_key(KeyId=key_id)["KeyMetadata"].get("CurrentKeyMaterialId")

    def replica_has_new_version():
        blob = east.encrypt(KeyId=key_id, Plaintext=b"after rotation")["CiphertextBlob"]
        try:
            return west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"after rotation"
        except west.exceptions.InvalidCiphertextException:
            return False
        except west.exceptions.KMSInternalException:
            return False
    poll(replica_has_new_version, timeout=30, what="rotated material on the replica")
    if new_material:
        assert west.describe_key(KeyId=key_id)["KeyMetadata"].get("CurrentKeyMaterialId") == new_material
    # Rotation is the primary's: refused on the replica.
    expect_error(lambda: west.rotate_key_on_demand(KeyId=key_id), "UnsupportedOperationException")


def test_update_primary_region_moves_the_primary_across_peers(peers):
    us, eu = peers
    key_id, east, west = replicated_key(us, eu)
    poll(lambda: outbox_empty(us, EU), timeout=20, what="outbox drained")
    east.update_primary_region(KeyId=key_id, PrimaryRegion=EU)

    def moved():
        e, w = meta(east, key_id), meta(west, key_id)
        return (e["KeyState"] == "Enabled" and w["KeyState"] == "Enabled"
                and e["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
                and w["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY")
    poll(moved, timeout=30, what="primary moved to eu-west-1 on both sides")
    for c in (east, west):
        cfg = meta(c, key_id)["MultiRegionConfiguration"]
        assert cfg["PrimaryKey"]["Region"] == EU
        assert [r["Region"] for r in cfg["ReplicaKeys"]] == [US]
    # The new primary rotates; the old one (now a replica) may not.
    expect_error(lambda: east.rotate_key_on_demand(KeyId=key_id), "UnsupportedOperationException")


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
    expect_error(lambda: east.replicate_key(KeyId=key_id, ReplicaRegion=EU), "AlreadyExistsException")


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
