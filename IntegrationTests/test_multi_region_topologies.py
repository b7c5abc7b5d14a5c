"""One suite, two topologies (issue 13 §4: "the same suite runs with both regions served by one
deployment"). Every test runs against:

- one-deployment: one server (a two-node cluster in KMS_TEST_MODE=pg-two-nodes) started with
  --regions us-east-1,eu-west-1;
- two-peers: two servers with their own data dirs, us-east-1 and eu-west-1, linked as peers
  (single node: it starts and stops its own pair);
- two-peers-postgresql: the same, us-east-1 on PostgreSQL (KMS_TEST_POSTGRES_URL, as under
  scripts/with-postgres; skipped without it, failed under CI without it).

It covers: a multi-Region key created in us-east-1 and replicated to eu-west-1; a ciphertext
made in us-east-1 decrypts in eu-west-1 (with two peers, also with us-east-1 stopped); a
rotation of the primary reaches the replica; UpdatePrimaryRegion moves the primary. Changes
between peers are asynchronous, so the assertions wait for them in both topologies.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Callable, Optional

import pytest

import cluster_mode
from kms_harness import KmsServer, expect_error, free_port, key_arn, poll
from test_peer_link import all_logs, assert_clean_stop, make_peer_key, pg_url  # noqa: F401 (pg_url: fixture)

US, EU = "us-east-1", "eu-west-1"


@dataclass
class Topology:
    name: str
    east: object
    west: object
    account: str
    # Two peers only: stops and restarts the us-east-1 deployment.
    stop_east: Optional[Callable[[], None]] = None
    start_east: Optional[Callable[[], None]] = None
    servers: tuple = ()


@pytest.fixture(scope="module")
def one_deployment(tmp_path_factory):
    base = tmp_path_factory.mktemp("kms-one-deployment")
    server = cluster_mode.new_server(KmsServer, data_dir=str(base / "data"), log_dir=str(base / "logs"),
                                     extra_args=["--regions", f"{US},{EU}"])
    os.makedirs(server.data_dir, exist_ok=True)
    server.start()
    yield server
    cluster_mode.finish_server(server)


def peer_args(local: str, peer: str, url: str, key: str) -> list:
    return ["--regions", local, "--peer", f"{peer}={url}", "--peer-key-file", key,
            "--peer-poll-interval", "0.2", "--peer-max-backoff", "1"]


@pytest.fixture(params=["one-deployment",
                        pytest.param("two-peers", marks=pytest.mark.single_node("starts its own pair of linked deployments")),
                        pytest.param("two-peers-postgresql",
                                     marks=pytest.mark.single_node("starts its own pair of linked deployments"))])
def topology(request, server_factory, tmp_path):
    if request.param == "one-deployment":
        srv = request.getfixturevalue("one_deployment")
        yield Topology("one-deployment", srv.client(US), srv.client(EU), srv.account_id)
        return
    # two-peers-postgresql: us-east-1 keeps its keys and outbox in PostgreSQL (the outbox row
    # is then committed by PostgresKeyStore in the operation's transaction).
    storage = ["--storage", request.getfixturevalue("pg_url")] if request.param == "two-peers-postgresql" else []
    key = str(tmp_path / "peer.key")
    make_peer_key(key)
    us_port, eu_port = free_port(), free_port()
    eu = server_factory(name="eu", dev=True, start=False, extra_args=peer_args(EU, US, f"http://127.0.0.1:{us_port}", key))
    us = server_factory(name="us", dev=True, start=False,
                        extra_args=peer_args(US, EU, f"http://127.0.0.1:{eu_port}", key) + storage)
    eu.start(port=eu_port)
    us.start(port=us_port)
    yield Topology(request.param, us.client(US), eu.client(EU), us.account_id, stop_east=us.stop, start_east=us.start,
                   servers=(us, eu))
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


def replica_regions(client, key_id) -> list:
    return [r["Region"] for r in meta(client, key_id)["MultiRegionConfiguration"]["ReplicaKeys"]]


def replicated(t: Topology, **kwargs) -> str:
    """A primary in us-east-1 with an Enabled replica in eu-west-1, both sides agreeing."""
    key_id = t.east.create_key(MultiRegion=True, **kwargs)["KeyMetadata"]["KeyId"]
    t.east.replicate_key(KeyId=key_id, ReplicaRegion=EU)
    wait_state(t.west, key_id, "Enabled")
    poll(lambda: replica_regions(t.east, key_id) == [EU], timeout=30, what="primary lists the replica")
    return key_id


def test_create_and_replicate(topology):
    t = topology
    md = t.east.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    key_id = md["KeyId"]
    assert key_id.startswith("mrk-") and len(key_id) == 36 and int(key_id[4:], 16) >= 0
    assert md["MultiRegion"] is True
    assert md["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    assert md["MultiRegionConfiguration"]["PrimaryKey"] == {"Arn": key_arn(US, t.account, key_id), "Region": US}
    assert md["MultiRegionConfiguration"]["ReplicaKeys"] == []
    out = t.east.replicate_key(KeyId=key_id, ReplicaRegion=EU, Description="replica",
                               Tags=[{"TagKey": "side", "TagValue": "west"}])
    replica = out["ReplicaKeyMetadata"]
    assert replica["KeyState"] == "Creating" and replica["Enabled"] is False
    assert replica["Arn"] == key_arn(EU, t.account, key_id)
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert out["ReplicaTags"] == [{"TagKey": "side", "TagValue": "west"}]
    assert json.loads(out["ReplicaPolicy"])["Statement"]
    wait_state(t.west, key_id, "Enabled")
    west_md = meta(t.west, key_id)
    assert west_md["Description"] == "replica" and west_md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert west_md["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert west_md["MultiRegionConfiguration"]["PrimaryKey"] == {"Arn": key_arn(US, t.account, key_id), "Region": US}
    assert west_md["MultiRegionConfiguration"]["ReplicaKeys"] == [{"Arn": key_arn(EU, t.account, key_id), "Region": EU}]
    assert meta(t.east, key_id)["MultiRegionConfiguration"]["ReplicaKeys"] == \
        [{"Arn": key_arn(EU, t.account, key_id), "Region": EU}]
    # Independent per key: tags and description.
    assert t.west.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "side", "TagValue": "west"}]
    assert t.east.list_resource_tags(KeyId=key_id)["Tags"] == []
    assert meta(t.east, key_id)["Description"] == "primary"
    # Exactly one replica; a second ReplicateKey to the region is refused.
    assert [k["KeyId"] for k in t.west.list_keys(Limit=1000)["Keys"]].count(key_id) == 1
    with expect_error("AlreadyExistsException"):
        t.east.replicate_key(KeyId=key_id, ReplicaRegion=EU)


def test_encrypt_in_us_east_1_decrypt_in_eu_west_1(topology):
    t = topology
    key_id = replicated(t)
    secret = os.urandom(32)
    blob = t.east.encrypt(KeyId=key_id, Plaintext=secret, EncryptionContext={"a": "b"})["CiphertextBlob"]
    out = t.west.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
    assert out["Plaintext"] == secret and out["KeyId"] == key_arn(EU, t.account, key_id)
    data_key = t.west.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert t.east.decrypt(CiphertextBlob=data_key["CiphertextBlob"], KeyId=key_id)["Plaintext"] == data_key["Plaintext"]
    if t.stop_east:
        # No call to the other region at request time: eu-west-1 decrypts with us-east-1 down.
        t.stop_east()
        try:
            out = t.west.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
            assert out["Plaintext"] == secret
        finally:
            t.start_east()
        # The change went over the link; the plaintext is in neither side's logs (the wire
        # test is test_multi_region_peers').
        assert "mrk-change" in all_logs(t.servers[0])
        for srv in t.servers:
            text = all_logs(srv)
            assert secret.hex() not in text and base64.b64encode(secret).decode() not in text


def test_rotation_of_the_primary_reaches_the_replica(topology):
    t = topology
    key_id = replicated(t)
    with expect_error("UnsupportedOperationException"):
        t.west.enable_key_rotation(KeyId=key_id)
    with expect_error("UnsupportedOperationException"):
        t.west.rotate_key_on_demand(KeyId=key_id)
    t.east.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=120)

    def settings_copied():
        s = t.west.get_key_rotation_status(KeyId=key_id)
        return s["KeyRotationEnabled"] is True and s.get("RotationPeriodInDays") == 120
    poll(settings_copied, timeout=30, what="rotation settings on the replica")
    t.east.rotate_key_on_demand(KeyId=key_id)
    poll(lambda: [r["RotationType"] for r in t.west.list_key_rotations(KeyId=key_id)["Rotations"]] == ["ON_DEMAND"],
         timeout=30, what="the rotation on the replica")
    assert meta(t.west, key_id)["CurrentKeyMaterialId"] == meta(t.east, key_id)["CurrentKeyMaterialId"]
    blob = t.east.encrypt(KeyId=key_id, Plaintext=b"after rotation")["CiphertextBlob"]
    assert t.west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"after rotation"


def test_update_primary_region_moves_the_primary(topology):
    t = topology
    key_id = replicated(t)
    with expect_error("UnsupportedOperationException"):
        t.west.update_primary_region(KeyId=key_id, PrimaryRegion=US)
    t.east.update_primary_region(KeyId=key_id, PrimaryRegion=EU)

    def moved():
        e, w = meta(t.east, key_id), meta(t.west, key_id)
        return (e["KeyState"] == "Enabled" and w["KeyState"] == "Enabled"
                and e["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
                and w["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY")
    poll(moved, timeout=30, what="primary moved to eu-west-1 on both sides")
    for c in (t.east, t.west):
        cfg = meta(c, key_id)["MultiRegionConfiguration"]
        assert cfg["PrimaryKey"] == {"Arn": key_arn(EU, t.account, key_id), "Region": EU}
        assert [r["Region"] for r in cfg["ReplicaKeys"]] == [US]
    # The new primary rotates, and its rotation reaches the old one, which may not rotate.
    t.west.rotate_key_on_demand(KeyId=key_id)
    with expect_error("UnsupportedOperationException"):
        t.east.rotate_key_on_demand(KeyId=key_id)
    poll(lambda: len(t.east.list_key_rotations(KeyId=key_id)["Rotations"]) == 1, timeout=30, what="rotation on the old primary")
    blob = t.west.encrypt(KeyId=key_id, Plaintext=b"from the new primary")["CiphertextBlob"]
    assert t.east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from the new primary"
