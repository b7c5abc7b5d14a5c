"""Issue 8, section 5: kill -9 under load loses nothing that was acknowledged.

Two nodes on one PostgreSQL (and, separately, one SQLite node) under load from boto3
clients that alternate between the nodes: CreateKey, CreateAlias, Encrypt. One node is
killed with SIGKILL at random moments, KILLS times, and restarted. Afterwards every
acknowledged key, alias and ciphertext is there and decrypts, and every key has exactly
the material versions it was created with (one, version 1), none lost or duplicated.

Sized to run in well under two minutes with a debug build (KMS_CRASH_KILLS overrides).
"""

import os
import random
import signal
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from kms_harness import client_for, unique_alias
from test_cluster import start_nodes
from test_postgres_storage import pg_url, psql  # noqa: F401 - fixture and helper

# Starts its own nodes (on PostgreSQL, or SQLite on purpose): the first pass runs it.
pytestmark = pytest.mark.single_node("starts its own nodes; run in the single-node pass")

KILLS = int(os.environ.get("KMS_CRASH_KILLS", "20"))


class Load:
    """Client threads doing create/alias/encrypt through alternating nodes; records what was acknowledged."""

    def __init__(self, nodes, threads=2):
        self.nodes = nodes
        self.acked_keys = set()
        self.acked_aliases = {}
        self.acked_blobs = []
        self.failures = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def client(self, node):
        creds = self.nodes[0].root_credentials()
        return client_for(node.url, "us-east-1", creds.access_key, creds.secret_key)

    def run(self, worker):
        rnd = random.Random(worker)
        i = 0
        while not self.stop.is_set():
            i += 1
            node = self.nodes[i % len(self.nodes)]
            try:
                kms = self.client(node)
                key_id = kms.create_key()["KeyMetadata"]["KeyId"]
                with self.lock:
                    self.acked_keys.add(key_id)
                other = self.client(self.nodes[(i + 1) % len(self.nodes)])
                alias = unique_alias(f"crash-{worker}")
                other.create_alias(AliasName=alias, TargetKeyId=key_id)
                with self.lock:
                    self.acked_aliases[alias] = key_id
                plaintext = rnd.randbytes(24)
                blob = kms.encrypt(KeyId=alias, Plaintext=plaintext)["CiphertextBlob"]
                with self.lock:
                    self.acked_blobs.append((key_id, blob, plaintext))
            except (ClientError, BotoCoreError, OSError):
                with self.lock:
                    self.failures += 1
                time.sleep(0.05)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def kill_and_restart(nodes, kills):
    rnd = random.Random(8)
    for _ in range(kills):
        time.sleep(rnd.uniform(0.2, 1.2))
        victim = rnd.choice(nodes)
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(timeout=10)
        victim.proc = None
        victim.start()


def verify(nodes, load):
    assert load.acked_keys and load.acked_blobs, "the load acknowledged nothing"
    for node in nodes:
        kms = load.client(node)
        for key_id in load.acked_keys:
            assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
        for alias, key_id in load.acked_aliases.items():
            assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key_id
        for key_id, blob, plaintext in load.acked_blobs:
            out = kms.decrypt(CiphertextBlob=blob)
            assert out["Plaintext"] == plaintext and out["KeyId"].endswith(key_id)


@pytest.mark.restart
def test_kill_9_two_postgresql_nodes_under_load(server_factory, pg_url):
    nodes = start_nodes(server_factory, pg_url)
    with Load(nodes) as load:
        kill_and_restart(nodes, KILLS)
        time.sleep(0.5)
    verify(nodes, load)
    # Material versions: each key exactly its one, none lost, none twice.
    rows = psql(pg_url, "SELECT key_id, count(*), min(version), max(version) FROM key_materials GROUP BY key_id")
    per_key = {r.split("|")[0]: r.split("|")[1:] for r in rows.splitlines()}
    for key_id in load.acked_keys:
        assert per_key.get(key_id) == ["1", "1", "1"], (key_id, per_key.get(key_id))
    assert psql(pg_url, "SELECT count(*) FROM keys k WHERE NOT EXISTS (SELECT 1 FROM key_materials m WHERE m.key_id = k.key_id)") == "0"
    print(f"\n{KILLS} kills: {len(load.acked_keys)} keys, {len(load.acked_aliases)} aliases, "
          f"{len(load.acked_blobs)} ciphertexts acknowledged and verified; {load.failures} calls failed (node down)")


@pytest.mark.restart
def test_kill_9_one_sqlite_node_under_load(server_factory):
    node = server_factory(name="sqlite-node")
    with Load([node]) as load:
        kill_and_restart([node], KILLS)
        time.sleep(0.5)
    verify([node], load)
    print(f"\n{KILLS} kills (SQLite): {len(load.acked_keys)} keys, {len(load.acked_blobs)} ciphertexts verified; "
          f"{load.failures} calls failed")
