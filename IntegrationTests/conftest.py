"""Fixtures for the swift-kms acceptance suite.

Servers
  server          session-scoped, real SigV4, fresh data dir, root credentials
  dev_server      session-scoped, --dev (any access key; 12-digit key = account)
  server_factory  function-scoped factory for private servers (restart, clock
                  offsets, persistence); every server it makes is stopped at
                  teardown

Clients
  kms             boto3 KMS client for `server`, us-east-1, root credentials
  kms_other_region  same credentials, eu-west-1
  kms_loose       like `kms` but without botocore's client-side parameter
                  validation, so out-of-range values reach the server
  make_client     factory: make_client(srv=None, region=..., access_key=...,
                  secret_key=..., validate=...)
  fresh_account   (client, account_id) on the dev server for a brand-new
                  12-digit account: an empty namespace for exact-count tests

Keys
  new_key         factory creating a symmetric key (kwargs go to CreateKey);
                  returns KeyMetadata
  key             one fresh symmetric key's KeyMetadata
  shared_key      session-wide factory shared_key(KeySpec, KeyUsage) -> KeyMetadata
                  of one asymmetric/HMAC key per (spec, usage) on `server`, made
                  once and reused by every module (RSA_4096 generation takes
                  seconds in a debug build). Read-only: never disable, delete or
                  re-alias-away these keys; use new_key(KeySpec=..., KeyUsage=...)
                  for a key whose state a test changes.
"""

from __future__ import annotations

import os

import pytest

from kms_harness import (
    DEFAULT_REGION,
    OTHER_REGION,
    SERVER_STDERR_LOGS,
    KmsServer,
    crash_lines,
    random_account,
)
import cluster_mode


def new_server(data_dir: str, log_dir: str, dev: bool = False, extra_args=None):
    """A KmsServer, or with KMS_TEST_MODE=pg-two-nodes two nodes on one PostgreSQL behind a
    round-robin proxy (cluster_mode.py), unless its options choose a single node."""
    return cluster_mode.new_server(KmsServer, data_dir, log_dir, dev=dev, extra_args=extra_args)


finish_server = cluster_mode.finish_server


def pytest_configure(config):
    config.addinivalue_line("markers", "single_node(reason): about one process (its files, restarts, "
                                       "local clock); skipped with KMS_TEST_MODE=pg-two-nodes")


def pytest_collection_modifyitems(config, items):
    if not cluster_mode.two_nodes():
        return
    for item in items:
        marker = item.get_closest_marker("single_node")
        if marker is not None:
            reason = marker.args[0] if marker.args else "single-node test"
            item.add_marker(pytest.mark.skip(reason=f"single node only: {reason}"))


@pytest.fixture(autouse=True)
def no_server_crash():
    """Fails the test during which any kms server it could reach printed a crash to stderr."""
    def sizes():
        out = {}
        for path in SERVER_STDERR_LOGS:
            try:
                out[path] = os.path.getsize(path)
            except OSError:
                pass
        return out

    before = sizes()
    yield
    found = []
    for path in dict.fromkeys(SERVER_STDERR_LOGS):
        lines = crash_lines(path, before.get(path, 0))
        if lines:
            found.append(f"{path}:\n  " + "\n  ".join(lines[:10]))
    if found:
        pytest.fail("a kms server crashed during this test:\n" + "\n".join(found), pytrace=False)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("kms-main")
    srv = new_server(data_dir=str(base / "data"), log_dir=str(base / "logs"))
    os.makedirs(srv.data_dir, exist_ok=True)
    srv.start()
    yield srv
    finish_server(srv)


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("kms-dev")
    srv = new_server(data_dir=str(base / "data"), log_dir=str(base / "logs"), dev=True)
    os.makedirs(srv.data_dir, exist_ok=True)
    srv.start()
    yield srv
    finish_server(srv)


@pytest.fixture
def server_factory(tmp_path):
    made = []

    def make(dev: bool = False, extra_args=None, name: str = None, start: bool = True) -> KmsServer:
        base = tmp_path / (name or f"srv{len(made)}")
        srv = new_server(data_dir=str(base / "data"), log_dir=str(base / "logs"), dev=dev,
                         extra_args=extra_args)
        os.makedirs(srv.data_dir, exist_ok=True)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in made:
        finish_server(srv)


@pytest.fixture
def make_client(server):
    def make(srv=None, region=DEFAULT_REGION, access_key=None, secret_key=None, validate=True):
        return (srv or server).client(region=region, access_key=access_key,
                                      secret_key=secret_key, validate=validate)

    return make


@pytest.fixture(scope="session")
def kms(server):
    return server.client(region=DEFAULT_REGION)


@pytest.fixture(scope="session")
def kms_other_region(server):
    return server.client(region=OTHER_REGION)


@pytest.fixture(scope="session")
def kms_loose(server):
    return server.client(region=DEFAULT_REGION, validate=False)


@pytest.fixture(scope="session")
def account(server):
    return server.account_id


@pytest.fixture
def fresh_account(dev_server):
    acct = random_account()
    return dev_server.client(region=DEFAULT_REGION, access_key=acct, secret_key="anything"), acct


@pytest.fixture
def new_key(kms):
    def make(client=None, **kwargs):
        c = client or kms
        return c.create_key(**kwargs)["KeyMetadata"]

    return make


@pytest.fixture
def key(new_key):
    return new_key(Description="integration-test key")


@pytest.fixture(scope="session")
def shared_key(kms):
    cache = {}

    def get(spec: str, usage: str):
        if (spec, usage) not in cache:
            cache[(spec, usage)] = kms.create_key(
                KeySpec=spec, KeyUsage=usage, Description=f"shared {spec} {usage} (read-only)")["KeyMetadata"]
        return cache[(spec, usage)]

    return get
