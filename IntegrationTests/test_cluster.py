"""Issue 8, sections 2 and 3: two `kms server` nodes on one PostgreSQL act as one service.

Each test gets a scratch database (KMS_TEST_POSTGRES_URL, from scripts/with-postgres) and
two nodes that share it, the root key (--root-key-file) and the root credentials. Nothing
is restarted between a change on node A and its use on node B: B reads through to the
store on a miss, and LISTEN/NOTIFY (with a poll of the change log as the fallback) evicts
what B had cached when A changes it.

The propagation test prints p50/p99 over 100 DisableKey trials (run with -s to see them).
"""

import http.client
import os
import shutil
import signal
import statistics
import time

import pytest
from botocore.exceptions import ClientError

from kms_harness import poll, unique_alias
from test_postgres_storage import pg_url, psql  # noqa: F401 - fixture and helper

MARKER = b"cluster-plaintext"


def start_nodes(server_factory, pg_url, count=2, extra_args=()):
    first = server_factory(name="node-0", extra_args=["--storage", pg_url, *extra_args])
    root_key = os.path.join(first.data_dir, "root.key")
    nodes = [first]
    for i in range(1, count):
        n = server_factory(name=f"node-{i}", start=False,
                           extra_args=["--storage", pg_url, "--root-key-file", root_key, *extra_args])
        os.chmod(n.data_dir, 0o700)
        shutil.copy2(first.credentials_path, n.credentials_path)
        os.chmod(n.credentials_path, 0o600)
        n.start()
        nodes.append(n)
    return nodes


def error_code(call):
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return None


def get(node_or_url, path):
    url = node_or_url if isinstance(node_or_url, str) else node_or_url.url
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    return resp.status, body


def metric(node, name, **labels):
    """The sum of a metric family's series whose labels include `labels`; None if absent."""
    _, body = get(node, "/metrics")
    total = None
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


def test_created_on_one_node_usable_on_the_other_at_once(server_factory, pg_url):
    a, b = start_nodes(server_factory, pg_url)
    ka, kb = a.client(), b.client()
    for i in range(20):
        key_id = ka.create_key()["KeyMetadata"]["KeyId"]
        alias = unique_alias(f"at-once-{i}")
        ka.create_alias(AliasName=alias, TargetKeyId=key_id)
        # Straight to B, no wait: never NotFoundException.
        blob = kb.encrypt(KeyId=key_id, Plaintext=MARKER)["CiphertextBlob"]
        blob2 = kb.encrypt(KeyId=alias, Plaintext=MARKER)["CiphertextBlob"]
        assert ka.decrypt(CiphertextBlob=blob)["Plaintext"] == MARKER
        assert ka.decrypt(CiphertextBlob=blob2)["KeyId"].endswith(key_id)
    # And the other way, through ListKeys (served from the store, not a cache).
    key_id = kb.create_key()["KeyMetadata"]["KeyId"]
    listed = [k["KeyId"] for p in ka.get_paginator("list_keys").paginate() for k in p["Keys"]]
    assert key_id in listed and len(listed) == 21


def test_disable_propagates_within_a_second(server_factory, pg_url):
    """DisableKey through A, then Encrypt through B until B refuses: 100 trials."""
    a, b = start_nodes(server_factory, pg_url)
    ka, kb = a.client(), b.client()
    key_id = ka.create_key()["KeyMetadata"]["KeyId"]
    delays = []
    for _ in range(100):
        kb.encrypt(KeyId=key_id, Plaintext=MARKER)  # B has it cached, enabled
        ka.disable_key(KeyId=key_id)
        acknowledged = time.monotonic()
        while error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) != "DisabledException":
            assert time.monotonic() - acknowledged < 5, "node B kept encrypting under a disabled key"
        delays.append(time.monotonic() - acknowledged)
        ka.enable_key(KeyId=key_id)
        poll(lambda: error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) is None, timeout=5,
             interval=0.005, what="B to see the key enabled again")
    delays.sort()
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"\nDisableKey on A -> Encrypt refused on B, 100 trials: p50 {p50 * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms "
          f"(includes one boto3 Encrypt round trip on B)")
    assert p99 < 1.0


def test_alias_deletion_and_policy_changes_propagate(server_factory, pg_url):
    a, b = start_nodes(server_factory, pg_url)
    ka, kb = a.client(), b.client()
    k1 = ka.create_key()["KeyMetadata"]["KeyId"]
    k2 = ka.create_key()["KeyMetadata"]["KeyId"]
    alias = unique_alias("moving")
    ka.create_alias(AliasName=alias, TargetKeyId=k1)
    assert kb.encrypt(KeyId=alias, Plaintext=MARKER)["KeyId"].endswith(k1)  # cached on B

    ka.update_alias(AliasName=alias, TargetKeyId=k2)
    poll(lambda: kb.encrypt(KeyId=alias, Plaintext=MARKER)["KeyId"].endswith(k2), timeout=1,
         interval=0.01, what="B to follow the alias")

    # A policy that denies Encrypt to everyone, put through A.
    policy = ('{"Version":"2012-10-17","Statement":['
              '{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"},'
              '{"Sid":"no","Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*"}]}')
    kb.encrypt(KeyId=k1, Plaintext=MARKER)
    ka.put_key_policy(KeyId=k1, PolicyName="default", Policy=policy)
    poll(lambda: kb.get_key_policy(KeyId=k1, PolicyName="default")["Policy"] == policy, timeout=1,
         interval=0.01, what="B to see the new policy")

    ka.delete_alias(AliasName=alias)
    poll(lambda: error_code(lambda: kb.encrypt(KeyId=alias, Plaintext=MARKER)) == "NotFoundException",
         timeout=1, interval=0.01, what="B to forget the deleted alias")

    kb.encrypt(KeyId=k2, Plaintext=MARKER)
    ka.schedule_key_deletion(KeyId=k2, PendingWindowInDays=7)
    poll(lambda: error_code(lambda: kb.encrypt(KeyId=k2, Plaintext=MARKER)) == "KMSInvalidStateException",
         timeout=1, interval=0.01, what="B to refuse a key pending deletion")


def test_background_jobs_run_on_one_node_and_move_when_it_dies(server_factory, pg_url):
    args = ["--deletion-sweep-interval", "0.5"]
    nodes = start_nodes(server_factory, pg_url, extra_args=args)
    holders = lambda: [n for n in nodes if n.alive and metric(n, "kms_background_job_lease_held") == 1]  # noqa: E731
    poll(lambda: len(holders()) == 1, timeout=10, what="one node to hold the job lease")
    time.sleep(1.5)
    assert len(holders()) == 1, "two nodes ran the background jobs at once"
    holder = holders()[0]
    other = next(n for n in nodes if n is not holder)
    assert metric(holder, "kms_background_job_runs_total", outcome="ok") >= 1
    assert not metric(other, "kms_background_job_runs_total")

    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(timeout=10)
    holder.proc = None
    poll(lambda: metric(other, "kms_background_job_lease_held") == 1, timeout=15,
         what="the surviving node to take the job lease")
    ko = other.client()
    key_id = ko.create_key()["KeyMetadata"]["KeyId"]
    ko.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    # Every node runs on the same shifted clock: move the deletion date into the past.
    psql(pg_url, "UPDATE keys SET metadata = jsonb_set(metadata::jsonb, '{deletionDate}', '1')::text, "
                 f"version = version + 1 WHERE key_id = '{key_id}'")
    poll(lambda: error_code(lambda: ko.describe_key(KeyId=key_id)) == "NotFoundException", timeout=15,
         interval=0.2, what="the surviving node to delete the due key")
    assert psql(pg_url, f"SELECT count(*) FROM keys WHERE key_id = '{key_id}'") == "0"


def test_health_and_metrics(server_factory, pg_url):
    a, = start_nodes(server_factory, pg_url, count=1)
    assert get(a, "/health/live") == (200, "ok\n")
    assert get(a, "/health/ready") == (200, "ready\n")
    kms = a.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        kms.encrypt(KeyId=key_id, Plaintext=MARKER)
    try:
        kms.encrypt(KeyId="alias/does-not-exist", Plaintext=MARKER)
    except ClientError:
        pass
    status, body = get(a, "/metrics")
    assert status == 200
    assert metric(a, "kms_requests_total", operation="Encrypt", outcome="ok") == 3
    assert metric(a, "kms_requests_total", operation="Encrypt", outcome="NotFoundException") == 1
    assert metric(a, "kms_request_duration_seconds_count", operation="Encrypt", outcome="ok") == 3
    assert metric(a, "kms_request_duration_seconds_bucket", operation="CreateKey", outcome="ok", le="+Inf") == 1
    assert metric(a, "kms_storage_duration_seconds_count", call="write") >= 1
    assert metric(a, "kms_key_cache_hits_total") >= 2
    for name in ("kms_key_cache_misses_total", "kms_background_job_lease_held", "kms_keys"):
        assert name in body
    # No key ID, alias or caller input in any label.
    assert key_id not in body and "does-not-exist" not in body
    # The main listener still refuses everything else that is not a KMS call.
    assert get(a, "/nothing")[0] == 400


def test_health_on_an_admin_listener(server_factory):
    from kms_harness import free_port
    port = free_port()
    srv = server_factory(extra_args=["--admin-listen", f"127.0.0.1:{port}"])
    admin = f"http://127.0.0.1:{port}"
    poll(lambda: get(admin, "/health/live")[0] == 200, timeout=5, what="the admin listener")
    assert get(admin, "/health/ready") == (200, "ready\n")
    assert get(admin, "/metrics")[0] == 200
    assert get(admin, "/")[0] == 404
    # Moved: the main listener no longer answers them.
    assert get(srv, "/health/live")[0] == 400


def test_sigterm_drains_in_flight_requests(server_factory):
    """SIGTERM while a slow request (RSA-4096 key generation) runs: it is answered, then the server exits."""
    import threading
    srv = server_factory()
    kms = srv.client()
    result = {}

    def slow():
        try:
            result["key"] = kms.create_key(KeySpec="RSA_4096", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        except Exception as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    proc = srv.proc
    assert t.is_alive(), "the request finished before SIGTERM: nothing was in flight"
    proc.send_signal(signal.SIGTERM)
    t.join(timeout=60)
    rc = proc.wait(timeout=30)
    srv.proc = None
    assert "error" not in result, result.get("error")
    assert result.get("key")
    assert rc == 0
    with open(srv.stdout_path) as fh:
        out = fh.read()
    assert "kms: draining" in out and "kms: stopped" in out
    # The key it created was stored before the answer: a restart finds it.
    srv.start()
    assert srv.client().describe_key(KeyId=result["key"])["KeyMetadata"]["KeySpec"] == "RSA_4096"
