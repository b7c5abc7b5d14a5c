"""Secrets at rest: files, modes, the root secret, core dumps (issue 7, sections 2 and 7).

Contract:
- the root secret access key is never printed; stdout names the credentials file and the
  access key ID. KMS_ROOT_ACCESS_KEY_ID / KMS_ROOT_SECRET_ACCESS_KEY set the root credentials
  at a data dir's first start (validated; refused with a clear message otherwise).
- root.key is created O_CREAT|O_EXCL|O_NOFOLLOW, 0600; credentials, mode and the SQLite files
  are 0600; the data dir is 0700.
- at start the server refuses, as ssh does, a root key, credentials file or data dir that is
  group/world accessible or owned by another user; the message names the fix.
- core dumps are off unless --allow-core-dumps (RLIMIT_CORE 0, PR_SET_DUMPABLE 0).
"""

import os
import re
import resource
import shutil
import stat
import subprocess
import tempfile

import pytest

from kms_harness import KmsServer, client_for, DEFAULT_REGION, free_port, kms_binary, poll

pytestmark = [pytest.mark.restart, pytest.mark.single_node("file modes and start-up checks of one data dir and process")]

NOBODY = 65534


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def output_of(srv) -> str:
    text = ""
    for p in (srv.stdout_path, srv.stderr_path):
        with open(p, encoding="utf-8", errors="replace") as fh:
            text += fh.read()
    return text


def start_expecting_refusal(data_dir, *args, env=None):
    cmd = [kms_binary(), "server", "--host", "127.0.0.1", "--port", str(free_port()), "--data-dir", data_dir, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=env)
    assert proc.returncode != 0, f"expected a refusal, the server exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "listening" not in proc.stdout
    return proc


# ------------------------------------------------------------ the root secret ---

def test_root_secret_is_not_printed(server_factory):
    srv = server_factory()
    creds = srv.root_credentials()
    poll(lambda: "listening on" in output_of(srv), timeout=10, what="the listening line")
    out = output_of(srv)
    assert creds.secret_key not in out, "the root secret access key was printed"
    stdout = open(srv.stdout_path, encoding="utf-8").read()
    assert creds.access_key in stdout
    assert srv.credentials_path in stdout
    assert "aws_secret_access_key" not in out


@pytest.fixture
def root_env(monkeypatch):
    def set_(access_key, secret):
        monkeypatch.setenv("KMS_ROOT_ACCESS_KEY_ID", access_key)
        monkeypatch.setenv("KMS_ROOT_SECRET_ACCESS_KEY", secret)
    return set_


def test_env_vars_set_the_root_credentials(server_factory, root_env):
    access_key, secret = "AKIACONTAINER0000001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    root_env(access_key, secret)
    srv = server_factory()
    creds = srv.root_credentials()
    assert (creds.access_key, creds.secret_key) == (access_key, secret)
    assert mode(srv.credentials_path) == 0o600
    kms = client_for(srv.url, DEFAULT_REGION, access_key, secret)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"].endswith(key_id)
    out = output_of(srv)
    assert secret not in out
    assert access_key in open(srv.stdout_path, encoding="utf-8").read()
    # a wrong secret for that access key is refused
    bad = client_for(srv.url, DEFAULT_REGION, access_key, secret[:-1] + "Z")
    with pytest.raises(Exception) as exc:
        bad.list_keys()
    assert "InvalidSignature" in str(exc.value) or "SignatureDoesNotMatch" in str(exc.value)


def test_env_vars_are_ignored_with_a_warning_once_credentials_exist(server_factory, root_env):
    srv = server_factory()
    original = srv.root_credentials()
    srv.stop()
    root_env("AKIALATERCHANGE00001", "L" * 40)
    srv.start()
    assert srv.root_credentials() == original
    err = open(srv.stderr_path, encoding="utf-8").read()
    assert "ignored" in err and original.access_key in err, err
    assert "L" * 40 not in output_of(srv)
    assert srv.client().list_keys() is not None


@pytest.mark.parametrize("access_key,secret,fragment", [
    ("AKIASHORT", "s" * 40, "KMS_ROOT_ACCESS_KEY_ID"),
    ("AKIA-NOT-ALNUM-00001", "s" * 40, "KMS_ROOT_ACCESS_KEY_ID"),
    ("AKIAGOODACCESSKEY001", "tooshort", "KMS_ROOT_SECRET_ACCESS_KEY"),
    ("AKIAGOODACCESSKEY001", "has spaces in it, is long enough", "KMS_ROOT_SECRET_ACCESS_KEY"),
])
def test_bad_env_credentials_are_refused(tmp_path, access_key, secret, fragment):
    env = dict(os.environ, KMS_ROOT_ACCESS_KEY_ID=access_key, KMS_ROOT_SECRET_ACCESS_KEY=secret)
    proc = start_expecting_refusal(str(tmp_path / "d"), env=env)
    assert fragment in proc.stderr, proc.stderr
    assert secret not in proc.stderr + proc.stdout
    assert not (tmp_path / "d" / "credentials").exists()


def test_only_one_env_credential_is_refused(tmp_path):
    env = dict(os.environ, KMS_ROOT_ACCESS_KEY_ID="AKIAGOODACCESSKEY001")
    env.pop("KMS_ROOT_SECRET_ACCESS_KEY", None)
    proc = start_expecting_refusal(str(tmp_path / "d"), env=env)
    assert "KMS_ROOT_SECRET_ACCESS_KEY" in proc.stderr, proc.stderr


# ------------------------------------------------------------------ file modes ---

def test_files_are_0600_and_the_data_dir_0700(server_factory):
    srv = server_factory()
    kms = srv.client()
    kms.create_key()  # the WAL and shared-memory files exist while the server runs
    assert mode(srv.data_dir) == 0o700
    names = sorted(os.listdir(srv.data_dir))
    for expected in ("root.key", "credentials", "mode", "kms.sqlite", "kms.sqlite-wal", "kms.sqlite-shm"):
        assert expected in names, f"{expected} missing: {names}"
    # Every file, at any depth (the audit trail lives in audit/), is 0600; every directory 0700.
    for root, dirs, files in os.walk(srv.data_dir):
        for d in dirs:
            assert mode(os.path.join(root, d)) == 0o700, f"{d}/ is {oct(mode(os.path.join(root, d)))}"
        for name in files:
            assert mode(os.path.join(root, name)) == 0o600, f"{name} is {oct(mode(os.path.join(root, name)))}"


def test_root_key_is_not_written_through_a_planted_symlink(tmp_path):
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.key"
    os.symlink(target, data / "root.key")
    proc = start_expecting_refusal(str(data))
    assert "root.key" in proc.stderr, proc.stderr
    assert not target.exists(), "the root key was written through a symlink"


@pytest.mark.parametrize("name,bad_mode,fix", [
    ("root.key", 0o644, "chmod 600"),
    ("root.key", 0o640, "chmod 600"),
    ("credentials", 0o604, "chmod 600"),
    (".", 0o755, "chmod 700"),
    (".", 0o710, "chmod 700"),
])
def test_loose_modes_are_refused_with_the_fix(server_factory, name, bad_mode, fix):
    srv = server_factory()
    srv.stop()
    path = os.path.normpath(os.path.join(srv.data_dir, name))
    os.chmod(path, bad_mode)
    proc = start_expecting_refusal(srv.data_dir)
    assert f"{fix} {path}" in proc.stderr, proc.stderr
    assert oct(bad_mode)[2:] in proc.stderr
    os.chmod(path, 0o700 if name == "." else 0o600)
    srv.start()
    assert srv.client().list_keys() is not None


def test_custom_root_key_file_mode_is_checked(server_factory, tmp_path):
    key_file = tmp_path / "custom-root.key"
    srv = server_factory(extra_args=["--root-key-file", str(key_file)])
    assert mode(key_file) == 0o600
    srv.stop()
    os.chmod(key_file, 0o644)
    proc = start_expecting_refusal(srv.data_dir, "--root-key-file", str(key_file))
    assert f"chmod 600 {key_file}" in proc.stderr, proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
@pytest.mark.parametrize("name", ["root.key", "credentials", "."])
def test_files_owned_by_another_user_are_refused(server_factory, name):
    srv = server_factory()
    srv.stop()
    path = os.path.normpath(os.path.join(srv.data_dir, name))
    os.chown(path, NOBODY, NOBODY)
    proc = start_expecting_refusal(srv.data_dir)
    assert f"owned by uid {NOBODY}" in proc.stderr and f"chown 0 {path}" in proc.stderr, proc.stderr


def test_a_non_empty_foreign_dir_is_not_tightened_silently(tmp_path):
    # an existing directory with other content is refused, not chmod-ed behind the user's back
    data = tmp_path / "shared"
    data.mkdir()
    os.chmod(data, 0o755)
    (data / "notes.txt").write_text("someone else's file")
    proc = start_expecting_refusal(str(data))
    assert f"chmod 700 {data}" in proc.stderr, proc.stderr
    assert mode(data) == 0o755


# ------------------------------------------------------------------ core dumps ---

def limits_core(pid) -> str:
    with open(f"/proc/{pid}/limits") as fh:
        for line in fh:
            if line.startswith("Max core file size"):
                return line
    raise AssertionError("no core limit line")


@pytest.fixture
def core_limit_raised():
    """Lets children start with a non-zero soft core limit, so --allow-core-dumps is visible."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if hard == 0:
        pytest.skip("the hard core-size limit is already 0 here")
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


def test_core_dumps_are_off_by_default(server_factory, core_limit_raised):
    srv = server_factory()
    assert re.split(r"\s{2,}", limits_core(srv.proc.pid).strip())[1:3] == ["0", "0"], limits_core(srv.proc.pid)


def test_allow_core_dumps_leaves_the_limit(server_factory, core_limit_raised):
    srv = server_factory(extra_args=["--allow-core-dumps"])
    fields = re.split(r"\s{2,}", limits_core(srv.proc.pid).strip())
    assert fields[1] != "0", fields


class NobodyServer(KmsServer):
    """The server as an unprivileged user: /proc/PID files of a non-dumpable process belong to
    root instead of the process's user, which shows PR_SET_DUMPABLE from outside."""

    def command(self):
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + super().command()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
@pytest.mark.parametrize("allow", [False, True], ids=["default", "allow-core-dumps"])
def test_process_is_not_dumpable(allow):
    base = tempfile.mkdtemp(prefix="kms-nobody-")
    try:
        os.chmod(base, 0o755)
        data = os.path.join(base, "data")
        os.mkdir(data, 0o700)
        os.chown(data, NOBODY, NOBODY)
        binary = kms_binary()
        if not os.access(binary, os.X_OK) or any(
                not (os.stat(p).st_mode & stat.S_IXOTH) for p in _parents(binary)):
            pytest.skip(f"{binary} is not reachable by uid {NOBODY}")
        srv = NobodyServer(data_dir=data, log_dir=os.path.join(base, "logs"),
                           extra_args=["--allow-core-dumps"] if allow else [])
        srv.start()
        try:
            owner = os.stat(f"/proc/{srv.proc.pid}/status").st_uid
            real_uid = int(open(f"/proc/{srv.proc.pid}/status").read().split("Uid:")[1].split()[0])
            assert real_uid == NOBODY
            assert owner == (NOBODY if allow else 0), \
                f"/proc/PID/status owned by {owner}: the process is {'not ' if owner == 0 else ''}dumpable"
        finally:
            srv.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _parents(path):
    path = os.path.abspath(path)
    out = []
    while True:
        path = os.path.dirname(path)
        out.append(path)
        if path == "/":
            return out
