"""Process harness and helpers for the swift-kms acceptance suite.

Everything that starts, stops or talks to a `kms server` lives here so that
conftest.py stays a thin layer of fixtures and later issues (asymmetric keys,
grants, policy enforcement) can reuse the same pieces:

* ``KmsServer``      -- one `kms server` process on a data dir (start/stop/restart)
* ``client_for``     -- a boto3 KMS client for a server, region and credentials
* ``raw_call``       -- a hand-built (optionally SigV4-signed) HTTP request
* ``expect_error``   -- assert an AWS-shaped ClientError (code, status, message)
"""

from __future__ import annotations

import configparser
import datetime as _dt
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Optional

import boto3
import pytest
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

DEFAULT_BINARY = "/work/main/.build/debug/kms"
START_TIMEOUT = 30.0  # seconds, per the server contract
STOP_TIMEOUT = 15.0
DEFAULT_REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
ROOT_ACCOUNT = "000000000000"
JSON_CT = "application/x-amz-json-1.1"

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def kms_binary() -> str:
    return os.environ.get("KMS_BINARY", DEFAULT_BINARY)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def poll(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Bounded poll: return the first truthy value of predicate() or fail."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - reported below
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                         + (f" (last error: {last_exc!r})" if last_exc else ""))


@dataclass
class RootCredentials:
    access_key: str
    secret_key: str
    account_id: str
    raw: str


def read_credentials_file(path: str) -> RootCredentials:
    with open(path, "r", encoding="utf-8") as fh:
        raw = fh.read()
    cp = configparser.ConfigParser()
    cp.read_string(raw)
    sect = cp["default"]
    return RootCredentials(
        access_key=sect["aws_access_key_id"].strip(),
        secret_key=sect["aws_secret_access_key"].strip(),
        account_id=sect.get("aws_account_id", "").strip(),
        raw=raw,
    )


# Every server stderr file opened in this pytest process, so that conftest can fail a test
# during which a server crashed even when the test's own assertions passed (a crash after the
# response left, e.g. a trap on a leaked NIO promise, is otherwise invisible).
SERVER_STDERR_LOGS: list = []

# What a Swift process prints when it traps or takes a fatal signal. A SIGKILL from a crash
# test prints nothing, and a refused start prints "Error: ...", so neither matches.
CRASH_MARKERS = ("Fatal error:", "Program crashed", "Received signal", "Current stack trace:")


def crash_lines(path: str, offset: int) -> list:
    """The lines of `path` after byte `offset` that show a crash."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read(1 << 20).decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if any(m in line for m in CRASH_MARKERS)]


@dataclass
class KmsServer:
    """One `kms server` process bound to a data directory.

    ``extra_args`` is kept across restarts unless ``restart(extra_args=...)``
    replaces it; ``dev`` adds ``--dev``.
    """

    data_dir: str
    log_dir: str
    dev: bool = False
    extra_args: list = field(default_factory=list)
    port: int = 0
    proc: Optional[subprocess.Popen] = None
    starts: int = 0
    last_returncode: Optional[int] = None

    # -- process control -------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials_path(self) -> str:
        return os.path.join(self.data_dir, "credentials")

    @property
    def stdout_path(self) -> str:
        return os.path.join(self.log_dir, f"stdout.{self.starts}.log")

    @property
    def stderr_path(self) -> str:
        return os.path.join(self.log_dir, f"stderr.{self.starts}.log")

    def command(self) -> list:
        cmd = [kms_binary(), "server", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", self.data_dir]
        if self.dev:
            cmd.append("--dev")
        cmd.extend(str(a) for a in self.extra_args)
        return cmd

    def logs(self) -> str:
        out = []
        for p in (self.stdout_path, self.stderr_path):
            try:
                with open(p, "r", encoding="utf-8", errors="replace") as fh:
                    out.append(f"--- {os.path.basename(p)} ---\n" + fh.read()[-4000:])
            except OSError:
                pass
        return "\n".join(out)

    def start(self, extra_args: Optional[Iterable] = None, port: Optional[int] = None):
        binary = kms_binary()
        if not os.path.exists(binary):
            pytest.fail(f"kms binary not found at {binary} (set KMS_BINARY); the suite does not build it",
                        pytrace=False)
        if extra_args is not None:
            self.extra_args = list(extra_args)
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        self.port = port or self.port or free_port()
        self.starts += 1
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        SERVER_STDERR_LOGS.append(self.stderr_path)
        try:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
            err.close()

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.last_returncode = rc
                self.proc = None
                pytest.fail(f"kms server exited with {rc} during startup: {self.command()}\n{self.logs()}",
                            pytrace=False)
            if port_open(self.port) and (self.dev or os.path.exists(self.credentials_path)):
                return self
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"kms server not ready within {START_TIMEOUT}s: {self.command()}\n{self.logs()}",
                    pytrace=False)

    def stop(self, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """SIGTERM and wait; SIGKILL if it does not exit. Returns the exit code."""
        if self.proc is None:
            return self.last_returncode
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                self.last_returncode = "killed-after-timeout"
                return self.last_returncode
        self.last_returncode = proc.returncode
        # wait for the port to be released before a restart on the same port
        poll(lambda: not port_open(self.port), timeout=10, what="port release")
        return self.last_returncode

    def kill(self):
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                pass
            self.proc = None

    def restart(self, extra_args: Optional[Iterable] = None):
        self.stop()
        return self.start(extra_args=extra_args)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- credentials -----------------------------------------------------
    def root_credentials(self) -> RootCredentials:
        return read_credentials_file(self.credentials_path)

    @property
    def account_id(self) -> str:
        if self.dev:
            dev_acct = ROOT_ACCOUNT
            args = [str(a) for a in self.extra_args]
            if "--dev-account" in args:
                dev_acct = args[args.index("--dev-account") + 1]
            return dev_acct
        return self.root_credentials().account_id or ROOT_ACCOUNT

    def client(self, region: str = DEFAULT_REGION, access_key: Optional[str] = None,
               secret_key: Optional[str] = None, validate: bool = True):
        if access_key is None:
            if self.dev:
                access_key, secret_key = "AKIADEVDEVDEVDEVDEV0", "dev-secret"
            else:
                creds = self.root_credentials()
                access_key, secret_key = creds.access_key, creds.secret_key
        return client_for(self.url, region, access_key, secret_key or "x", validate=validate)


def client_for(url: str, region: str, access_key: str, secret_key: str, validate: bool = True):
    cfg = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        parameter_validation=validate,
        connect_timeout=5,
        read_timeout=60,
    )
    session = boto3.session.Session()
    return session.client(
        "kms",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=cfg,
    )


# ---------------------------------------------------------------------------
# AWS-shaped error assertions
# ---------------------------------------------------------------------------

@contextmanager
def expect_error(code, status: int = 400, message: Optional[str] = None,
                 message_prefix: Optional[str] = None, message_contains: Optional[str] = None):
    """Assert the block raises a ClientError with the given code(s) and HTTP status.

    ``code`` may be a string or a tuple of acceptable codes.
    Yields a dict that is filled with the error response for further checks.
    """
    info: dict = {}
    with pytest.raises(ClientError) as exc_info:
        yield info
    err = exc_info.value.response
    info.update(err)
    got_code = err.get("Error", {}).get("Code")
    got_msg = err.get("Error", {}).get("Message", "")
    got_status = err.get("ResponseMetadata", {}).get("HTTPStatusCode")
    codes = (code,) if isinstance(code, str) else tuple(code)
    assert got_code in codes, f"expected error code {codes}, got {got_code!r} (message {got_msg!r})"
    if status is not None:
        assert got_status == status, f"expected HTTP {status} for {got_code}, got {got_status}"
    if message is not None:
        assert got_msg == message, f"{got_code} message mismatch:\n  expected {message!r}\n  got      {got_msg!r}"
    if message_prefix is not None:
        assert got_msg.startswith(message_prefix), \
            f"{got_code} message should start with {message_prefix!r}, got {got_msg!r}"
    if message_contains is not None:
        assert message_contains in got_msg, \
            f"{got_code} message should contain {message_contains!r}, got {got_msg!r}"


# ---------------------------------------------------------------------------
# Raw HTTP (for SigV4 negative cases and malformed bodies)
# ---------------------------------------------------------------------------

class FixedTimeSigV4Auth(SigV4Auth):
    """SigV4Auth whose signing time is fixed (for clock-skew tests)."""

    def __init__(self, credentials, service_name, region_name, when: _dt.datetime):
        super().__init__(credentials, service_name, region_name)
        self._when = when

    def add_auth(self, request):
        request.context["timestamp"] = self._when.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


@dataclass
class RawResponse:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else {}
        except ValueError:
            return None

    @property
    def error_code(self) -> Optional[str]:
        j = self.json
        typ = None
        if isinstance(j, dict):
            typ = j.get("__type") or j.get("code") or j.get("Code")
        if typ is None:
            typ = self.headers.get("x-amzn-errortype")
        if typ is None:
            return None
        typ = typ.split(":")[0]
        return typ.split("#")[-1]

    @property
    def error_message(self) -> str:
        j = self.json
        if isinstance(j, dict):
            for k in ("message", "Message", "errorMessage"):
                if k in j and j[k] is not None:
                    return j[k]
        return ""


def sign_request(url: str, target: str, body: bytes, region: str, access_key: str,
                 secret_key: str, when: Optional[_dt.datetime] = None,
                 service: str = "kms", extra_headers: Optional[dict] = None) -> AWSRequest:
    headers = {"Content-Type": JSON_CT}
    if target:  # an empty target leaves the header out
        headers["X-Amz-Target"] = target
    if extra_headers:
        headers.update(extra_headers)
    req = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    creds = Credentials(access_key, secret_key)
    if when is None:
        SigV4Auth(creds, service, region).add_auth(req)
    else:
        FixedTimeSigV4Auth(creds, service, region, when).add_auth(req)
    return req


def send(url: str, headers: dict, body: bytes, method: str = "POST", timeout: float = 60) -> RawResponse:
    hostport = url.split("://", 1)[1]
    host, port = hostport.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.putrequest(method, "/", skip_host=True, skip_accept_encoding=True)
        have_host = any(k.lower() == "host" for k in headers)
        if not have_host:
            conn.putheader("Host", hostport)
        for k, v in headers.items():
            conn.putheader(k, v)
        if not any(k.lower() == "content-length" for k in headers):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        return RawResponse(resp.status, hdrs, data)
    finally:
        conn.close()


def raw_call(server: KmsServer, operation: str, payload=None, *, body: Optional[bytes] = None,
             region: str = DEFAULT_REGION, access_key: Optional[str] = None,
             secret_key: Optional[str] = None, sign: bool = True,
             when: Optional[_dt.datetime] = None, target: Optional[str] = None,
             mutate=None) -> RawResponse:
    """Send one TrentService request by hand.

    ``mutate(headers, body) -> (headers, body)`` runs after signing, to tamper.
    """
    if body is None:
        body = json.dumps(payload if payload is not None else {}).encode("utf-8")
    if target is None:
        target = f"TrentService.{operation}"
    if access_key is None:
        if server.dev:
            access_key, secret_key = "AKIADEVDEVDEVDEVDEV0", "dev-secret"
        else:
            creds = server.root_credentials()
            access_key, secret_key = creds.access_key, creds.secret_key
    if sign:
        req = sign_request(server.url, target, body, region, access_key, secret_key, when=when)
        headers = dict(req.headers.items())
    else:
        headers = {"Content-Type": JSON_CT}
        if target:
            headers["X-Amz-Target"] = target
    headers = {str(k): str(v) for k, v in headers.items()}
    if mutate is not None:
        headers, body = mutate(headers, body)
    return send(server.url, headers, body)


def assert_raw_error(resp: RawResponse, code: str, status: int = 400):
    assert resp.status == status, \
        f"expected HTTP {status} ({code}), got {resp.status}: {resp.body[:500]!r}"
    assert resp.error_code == code, \
        f"expected error {code}, got {resp.error_code!r}: {resp.body[:500]!r}"


# ---------------------------------------------------------------------------
# Small domain helpers
# ---------------------------------------------------------------------------

def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias_name: str) -> str:
    return f"arn:aws:kms:{region}:{account}:{alias_name}"


def unique_alias(prefix: str = "t") -> str:
    return f"alias/{prefix}-{uuid.uuid4().hex[:12]}"


def default_policy(account: str) -> dict:
    # AWS's default key policy for keys created through the API
    # (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)
    return {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def now_utc() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def random_account() -> str:
    # 12 digits, never the default dev/root account
    while True:
        acct = f"{uuid.uuid4().int % 10**12:012d}"
        if acct != ROOT_ACCOUNT:
            return acct


# ---------------------------------------------------------------------------
# OpenSSL command line (outside checks for SM2, which Python `cryptography`
# cannot load; see test_sign_verify.py / test_asymmetric_encrypt.py)
# ---------------------------------------------------------------------------

_OPENSSL_SM2: Optional[str] = None
_OPENSSL_SM2_PROBED = False


def openssl_with_sm2() -> Optional[str]:
    """Path of an `openssl` (3.x) whose default provider implements SM2, else None."""
    global _OPENSSL_SM2, _OPENSSL_SM2_PROBED
    if not _OPENSSL_SM2_PROBED:
        _OPENSSL_SM2_PROBED = True
        import shutil
        exe = shutil.which("openssl")
        if exe:
            try:
                out = subprocess.run([exe, "list", "-public-key-algorithms"], capture_output=True,
                                     text=True, timeout=30).stdout
                if "SM2" in out or "sm2" in out:
                    _OPENSSL_SM2 = exe
            except (OSError, subprocess.SubprocessError):
                pass
    return _OPENSSL_SM2


def openssl(*args, cwd: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `openssl args...` in cwd (files are passed by name)."""
    exe = openssl_with_sm2() or "openssl"
    proc = subprocess.run([exe, *[str(a) for a in args]], cwd=cwd, capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, f"openssl {' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc
