"""Dev mode cannot reach production data (issue 7, section 2).

Contract: the data dir records the mode it was created in (<data-dir>/mode: `dev` or
`production`). A dev data dir refuses to start without dev mode; a production one refuses
dev mode (--dev, KMS_DEV=1, "dev": true); each refusal says what to do and exits non-zero,
before anything in the data dir is opened. A data dir made by an earlier version (no mode
record) is adopted by its first start, in that start's mode. Dev mode warns on stderr,
naming its address.
"""

import json
import os
import stat
import subprocess

import pytest

from kms_harness import free_port, kms_binary, poll

pytestmark = [pytest.mark.restart, pytest.mark.single_node("the data dir's mode record, started by hand on one data dir")]


def mode_of(srv) -> str:
    with open(os.path.join(srv.data_dir, "mode"), encoding="utf-8") as fh:
        return fh.read().strip()


def start_expecting_refusal(data_dir, *args, env=None):
    cmd = [kms_binary(), "server", "--host", "127.0.0.1", "--port", str(free_port()), "--data-dir", data_dir, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=env)
    assert proc.returncode != 0, f"expected a refusal, the server exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "listening" not in proc.stdout
    return proc


def snapshot(data_dir):
    """Name -> (size, mtime) of every file: a refusal must leave the data dir as it was."""
    out = {}
    for name in sorted(os.listdir(data_dir)):
        st = os.stat(os.path.join(data_dir, name))
        out[name] = (st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
    return out


def test_new_data_dirs_record_their_mode(server_factory):
    prod = server_factory(name="prod")
    dev = server_factory(name="dev", dev=True)
    assert mode_of(prod) == "production"
    assert mode_of(dev) == "dev"
    assert stat.S_IMODE(os.stat(os.path.join(prod.data_dir, "mode")).st_mode) == 0o600


def test_dev_data_dir_refuses_production_start(server_factory):
    srv = server_factory(dev=True)
    srv.client().create_key(Description="made without signatures")
    srv.stop()
    before = snapshot(srv.data_dir)
    proc = start_expecting_refusal(srv.data_dir)
    assert "dev-mode data dir" in proc.stderr and "--dev" in proc.stderr and "--data-dir" in proc.stderr, proc.stderr
    assert snapshot(srv.data_dir) == before
    # and it still starts in dev mode
    srv.start()
    assert srv.client().list_keys()["Keys"]


def test_production_data_dir_refuses_dev_mode(server_factory):
    srv = server_factory()
    key_id = srv.client().create_key()["KeyMetadata"]["KeyId"]
    srv.stop()
    before = snapshot(srv.data_dir)
    proc = start_expecting_refusal(srv.data_dir, "--dev")
    assert "production data dir" in proc.stderr and "without dev mode" in proc.stderr, proc.stderr
    # every way of asking for dev mode is refused
    proc = start_expecting_refusal(srv.data_dir, env=dict(os.environ, KMS_DEV="1"))
    assert "production data dir" in proc.stderr, proc.stderr
    conf = os.path.join(os.path.dirname(srv.data_dir), "dev.json")
    with open(conf, "w") as fh:
        json.dump({"kms": {"dev": True}}, fh)
    proc = start_expecting_refusal(srv.data_dir, "--config", conf)
    assert "production data dir" in proc.stderr, proc.stderr
    assert snapshot(srv.data_dir) == before
    # the probe from the issue: an unsigned dev-style caller never reaches these keys
    srv.start()
    assert srv.client().describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id


def test_unknown_mode_record_is_refused(server_factory):
    srv = server_factory()
    srv.stop()
    with open(os.path.join(srv.data_dir, "mode"), "w") as fh:
        fh.write("whatever\n")
    proc = start_expecting_refusal(srv.data_dir)
    assert "mode" in proc.stderr and "`production`" in proc.stderr, proc.stderr


@pytest.mark.parametrize("dev", [False, True], ids=["production", "dev"])
def test_data_dir_from_an_earlier_version_is_adopted(server_factory, dev):
    # An earlier version's data dir: no mode record, and SQLite's default 0644 files.
    srv = server_factory(dev=dev)
    key_id = srv.client().create_key(Description="legacy")["KeyMetadata"]["KeyId"]
    srv.stop()
    os.remove(os.path.join(srv.data_dir, "mode"))
    for name in os.listdir(srv.data_dir):
        if name.startswith("kms.sqlite"):
            os.chmod(os.path.join(srv.data_dir, name), 0o644)
    srv.start()
    assert mode_of(srv) == ("dev" if dev else "production")
    out = open(srv.stdout_path, encoding="utf-8").read()
    assert "adopted" in out and "earlier version" in out, out
    assert srv.client().describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "legacy"
    for name in os.listdir(srv.data_dir):
        if name.startswith("kms.sqlite"):
            assert stat.S_IMODE(os.stat(os.path.join(srv.data_dir, name)).st_mode) == 0o600, name
    # adopted once: the next start in the other mode is refused
    srv.stop()
    start_expecting_refusal(srv.data_dir, *([] if dev else ["--dev"]))


def test_dev_mode_warns_on_stderr_naming_its_address(server_factory):
    srv = server_factory(dev=True)
    address = f"http://127.0.0.1:{srv.port}"

    def warned():
        err = open(srv.stderr_path, encoding="utf-8").read()
        return "dev mode" in err and "signatures are not checked" in err and address in err

    poll(warned, timeout=10, what=f"a dev-mode warning on stderr naming {address}")


def test_production_start_does_not_warn_about_dev_mode(server_factory):
    srv = server_factory()
    srv.client().list_keys()
    assert "dev mode" not in open(srv.stderr_path, encoding="utf-8").read()
