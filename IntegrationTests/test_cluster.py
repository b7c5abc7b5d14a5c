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

# Starts its own nodes (on PostgreSQL, or SQLite on purpose): the first pass runs it.
pytestmark = pytest.mark.single_node("starts its own nodes; run in the single-node pass")

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


# -- grants, IAM identities and root credentials across nodes (migration 5) ----------------

ALLOW_KMS = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}')
DENY_ENCRYPT = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},'
                '{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}]}')


def iam_of(node):
    from test_iam import iam_client
    return iam_client(node)


def until(check, what, limit=1.0):
    """Seconds until `check()` holds, asserting it holds within `limit`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < limit, f"{what} took longer than {limit} s"
        time.sleep(0.002)
    return time.monotonic() - start


def percentiles(delays):
    delays = sorted(delays)
    return statistics.median(delays), delays[min(len(delays) - 1, int(len(delays) * 0.99))], delays[-1]


def test_access_key_deactivation_reaches_the_other_node_within_a_second(server_factory, pg_url):
    """UpdateAccessKey Inactive through A, then Encrypt as that key through B until B refuses: 30 trials."""
    a, b = start_nodes(server_factory, pg_url)
    iam = iam_of(a)
    user = "prop-" + os.urandom(4).hex()
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=ALLOW_KMS)
    key_id = a.client().create_key()["KeyMetadata"]["KeyId"]
    access = iam.create_access_key(UserName=user)["AccessKey"]
    kb = b.client(access_key=access["AccessKeyId"], secret_key=access["SecretAccessKey"])
    # Made on A, usable on B (the insert is notified too).
    until(lambda: error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) is None, "B to know the new key")
    delays = []
    for _ in range(30):
        assert error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) is None
        iam.update_access_key(UserName=user, AccessKeyId=access["AccessKeyId"], Status="Inactive")
        delays.append(until(lambda: error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER))
                            == "UnrecognizedClientException", "B to refuse the inactive key"))
        iam.update_access_key(UserName=user, AccessKeyId=access["AccessKeyId"], Status="Active")
        until(lambda: error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) is None,
              "B to accept the key active again", limit=5)
    p50, p99, worst = percentiles(delays)
    print(f"\nUpdateAccessKey Inactive on A -> refused on B, 30 trials: p50 {p50 * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms, max {worst * 1000:.1f} ms (includes one boto3 Encrypt round trip on B)")
    assert p99 < 1.0
    # Deleted on A: refused on B as well.
    iam.delete_access_key(UserName=user, AccessKeyId=access["AccessKeyId"])
    until(lambda: error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) == "UnrecognizedClientException",
          "B to refuse the deleted key")


def test_user_policy_change_applies_on_the_other_node_within_a_second(server_factory, pg_url):
    a, b = start_nodes(server_factory, pg_url)
    iam = iam_of(a)
    user = "pol-" + os.urandom(4).hex()
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=ALLOW_KMS)
    key_id = a.client().create_key()["KeyMetadata"]["KeyId"]
    access = iam.create_access_key(UserName=user)["AccessKey"]
    kb = b.client(access_key=access["AccessKeyId"], secret_key=access["SecretAccessKey"])
    until(lambda: error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) is None, "B to know the user")
    iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=DENY_ENCRYPT)
    until(lambda: error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) == "AccessDeniedException",
          "B to apply the user's new policy")
    # Through a group and a managed policy, too.
    iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=ALLOW_KMS)
    until(lambda: error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) is None, "B to apply the allow again")
    group = "g-" + os.urandom(4).hex()
    iam.create_group(GroupName=group)
    arn = iam.create_policy(PolicyName="deny-" + group, PolicyDocument=DENY_ENCRYPT)["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.add_user_to_group(GroupName=group, UserName=user)
    until(lambda: error_code(lambda: kb.encrypt(KeyId=key_id, Plaintext=MARKER)) == "AccessDeniedException",
          "B to apply the group's managed policy")


def test_revoked_grant_is_refused_on_the_other_node_within_a_second(server_factory, pg_url):
    a, b = start_nodes(server_factory, pg_url)
    iam = iam_of(a)
    user = "grantee-" + os.urandom(4).hex()
    arn = iam.create_user(UserName=user)["User"]["Arn"]  # no identity policy: only grants let it in
    access = iam.create_access_key(UserName=user)["AccessKey"]
    ka = a.client()
    key_id = ka.create_key()["KeyMetadata"]["KeyId"]
    blob = ka.encrypt(KeyId=key_id, Plaintext=MARKER)["CiphertextBlob"]
    kb = b.client(access_key=access["AccessKeyId"], secret_key=access["SecretAccessKey"])
    until(lambda: error_code(lambda: kb.decrypt(CiphertextBlob=blob)) == "AccessDeniedException", "B to know the user")
    grant = ka.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Decrypt"])
    # No grant token: B learns of the grant from the change feed.
    until(lambda: error_code(lambda: kb.decrypt(CiphertextBlob=blob)) is None, "B to honour the new grant")
    ka.revoke_grant(KeyId=key_id, GrantId=grant["GrantId"])
    revoked = until(lambda: error_code(lambda: kb.decrypt(CiphertextBlob=blob)) == "AccessDeniedException",
                    "B to refuse the revoked grant")
    # The token of the revoked grant does not stand in for it on B either.
    assert error_code(lambda: kb.decrypt(CiphertextBlob=blob, GrantTokens=[grant["GrantToken"]])) == "AccessDeniedException"
    print(f"\nRevokeGrant on A -> Decrypt refused on B after {revoked * 1000:.1f} ms")


def test_root_credential_rotation_reaches_running_nodes(server_factory, pg_url, tmp_path):
    """`kms admin rotate-root-credential` writes the store; both running nodes follow, no restart."""
    import configparser
    import subprocess
    from kms_harness import client_for, kms_binary
    a, b = start_nodes(server_factory, pg_url)
    old = a.root_credentials()
    key_id = a.client().create_key()["KeyMetadata"]["KeyId"]
    new_file = str(tmp_path / "new-credentials")
    out = subprocess.run([kms_binary(), "admin", "rotate-root-credential", "--data-dir", a.data_dir, "--storage", pg_url,
                          old.access_key, "--output", new_file], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    ini = configparser.ConfigParser()
    ini.read(new_file)
    section = ini[ini.sections()[0]]
    new_id, new_secret = section["aws_access_key_id"], section["aws_secret_access_key"]
    for node in (a, b):
        fresh = client_for(node.url, "us-east-1", new_id, new_secret)
        stale = client_for(node.url, "us-east-1", old.access_key, old.secret_key)
        until(lambda: error_code(lambda: fresh.encrypt(KeyId=key_id, Plaintext=MARKER)) is None,
              "a running node to accept the new root credential")
        until(lambda: error_code(lambda: stale.encrypt(KeyId=key_id, Plaintext=MARKER)) == "UnrecognizedClientException",
              "a running node to refuse the removed root credential")
