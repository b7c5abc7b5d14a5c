"""Issue 8, section 4: the whole suite against two nodes on one PostgreSQL.

With ``KMS_TEST_MODE=pg-two-nodes`` (and ``KMS_TEST_POSTGRES_URL``, from
scripts/with-postgres), every server the fixtures start is a ``ClusterServer``: two
``kms server`` nodes on a scratch database of their own (same ``--root-key-file``, same
credentials file), behind ``RoundRobinProxy``, a small HTTP/1.1 forwarder that sends each
request to the next node in turn. boto3 clients of any service, raw requests and the AWS
CLI all use ``server.url`` (the proxy), so consecutive calls of one test alternate
between the nodes, including a write and the read right after it.

The proxy frames requests and responses by Content-Length. Anything it cannot frame
(chunked or unparsable requests, TLS, Expect) is tunnelled whole to one node for the rest
of that connection, so hostile-input tests still reach a server.

Tests that are about one process (its data dir, files, kill/restart of one node, local
clocks) are marked ``@pytest.mark.single_node("reason")`` and skipped in this mode.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

TWO_NODES = "pg-two-nodes"


def mode() -> str:
    return os.environ.get("KMS_TEST_MODE", "")


def two_nodes() -> bool:
    return mode() == TWO_NODES


# Options that make a server that cannot sit behind the plain-HTTP proxy or that already
# choose their own storage: such a server is started as one node, as asked.
_SINGLE_NODE_OPTIONS = ("--storage", "--tls-cert", "--tls-key", "--admin-listen")


def wants_single_node(extra_args) -> bool:
    args = [str(a) for a in (extra_args or [])]
    return any(a in _SINGLE_NODE_OPTIONS or a.startswith("--storage=") for a in args)


def new_server(server_class, data_dir: str, log_dir: str, dev: bool = False, extra_args=None):
    """A server_class (KmsServer), or in pg-two-nodes mode two nodes on one PostgreSQL behind
    a round-robin proxy, unless its options choose a single node."""
    if two_nodes() and not wants_single_node(extra_args):
        return ClusterServer(server_class, data_dir=data_dir, log_dir=log_dir, dev=dev, extra_args=extra_args)
    return server_class(data_dir=data_dir, log_dir=log_dir, dev=dev, extra_args=list(extra_args or []))


def finish_server(srv):
    """Teardown: stop; for two nodes also close the proxy and drop the database."""
    if isinstance(srv, ClusterServer):
        srv.close()
    else:
        srv.stop()


def _psql(url, sql):
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr}")
    return out.stdout.strip()


class ScratchDatabase:
    """A database of its own on KMS_TEST_POSTGRES_URL's cluster, dropped by drop()."""

    def __init__(self):
        base = os.environ.get("KMS_TEST_POSTGRES_URL")
        if not base:
            raise RuntimeError("KMS_TEST_MODE=pg-two-nodes needs KMS_TEST_POSTGRES_URL (run under scripts/with-postgres)")
        self.base = base
        self.name = "kms_2n_" + uuid.uuid4().hex[:12]
        _psql(base, f'CREATE DATABASE "{self.name}"')
        parts = urlsplit(base)
        self.url = urlunsplit((parts.scheme, parts.netloc, "/" + self.name, parts.query, parts.fragment))

    def drop(self):
        try:
            _psql(self.base, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass


# ---------------------------------------------------------------------------
# Round-robin HTTP/1.1 forwarder
# ---------------------------------------------------------------------------

class _Framing(Exception):
    """The bytes cannot be framed as one HTTP/1.1 message: tunnel instead."""


def _read_head(sock, buf: bytearray, limit: int = 256 * 1024) -> Optional[bytes]:
    """Reads up to and including the blank line; None on a clean close before any byte."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buf[:end + 4])
            del buf[:end + 4]
            return head
        if len(buf) > limit:
            raise _Framing("head too large")
        chunk = sock.recv(65536)
        if not chunk:
            if buf:
                raise _Framing("closed inside a head")
            return None
        buf += chunk


def _headers(head: bytes) -> dict:
    lines = head.split(b"\r\n")
    out = {}
    for line in lines[1:]:
        if not line:
            continue
        if b":" not in line:
            raise _Framing("header without colon")
        k, v = line.split(b":", 1)
        out.setdefault(k.strip().lower().decode("latin-1"), v.strip().decode("latin-1"))
    return out


def _read_exact(sock, buf: bytearray, n: int) -> bytes:
    while len(buf) < n:
        chunk = sock.recv(max(65536, n - len(buf)))
        if not chunk:
            raise _Framing("closed inside a body")
        buf += chunk
    body = bytes(buf[:n])
    del buf[:n]
    return body


# Revocations (a disabled key, a revoked grant, a removed or denying policy...) reach the
# other node by the change feed, within its bound (test_cluster.py measures it; AWS KMS is
# eventually consistent here too), not on the very next request: only creations and
# allows are read through. So after a successful request that may revoke, the proxy waits
# this long before answering, so a test that checks the revocation through the other node
# at once does not race the feed. Creations get no wait: their read-your-writes is tested.
# A key made usable again (EnableKey, ImportKeyMaterial) waits too: the cryptographic calls
# read the key from the node's cache (FreshManagementReads), so the other node sees it by the
# feed as well (a Verify right after EnableKey through the other node failed once in CI).
SETTLE_SECONDS = float(os.environ.get("KMS_TEST_SETTLE_MS", "150")) / 1000.0
_REVOKING_KMS = {"DisableKey", "DisableKeyRotation", "ScheduleKeyDeletion", "RetireGrant", "RevokeGrant",
                 "TagResource", "UntagResource", "PutKeyPolicy", "UpdateAlias", "DeleteAlias",
                 "DeleteImportedKeyMaterial", "EnableKey", "ImportKeyMaterial"}


def may_revoke(head: bytes, body: bytes) -> bool:
    """Whether a request may take something away (see SETTLE_SECONDS)."""
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"x-amz-target:"):
            operation = line.split(b":", 1)[1].strip().rsplit(b".", 1)[-1].decode("latin-1")
            return operation in _REVOKING_KMS
    # Query protocol (IAM, STS): every IAM action but the creating and reading ones.
    for pair in body.split(b"&"):
        if pair.startswith(b"Action="):
            action = pair[7:].decode("latin-1")
            return not action.startswith(("Create", "Get", "List", "Simulate", "Assume", "Decode"))
    return False


class RoundRobinProxy:
    """Listens on 127.0.0.1 and sends each request to the next backend in turn."""

    def __init__(self, backends):
        self.backends = list(backends)  # callables returning (host, port), read per request
        self.counter = itertools.count()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        self.forwarded = [0] * len(self.backends)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _next(self) -> int:
        return next(self.counter) % len(self.backends)

    def _connect(self, index):
        host, port = self.backends[index]()
        s = socket.create_connection((host, port), timeout=120)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def _serve(self, client):
        upstreams = {}
        buf = bytearray()
        try:
            while True:
                head = None
                try:
                    head = _read_head(client, buf)
                    if head is None:
                        return
                    headers = _headers(head)
                    if "transfer-encoding" in headers or "expect" in headers:
                        raise _Framing("not framed by Content-Length")
                    length = int(headers.get("content-length", "0") or "0")
                    if length < 0 or length > 64 * 1024 * 1024:
                        raise _Framing("length out of range")
                    body = _read_exact(client, buf, length)
                except (_Framing, ValueError):
                    self._tunnel(client, (head or b"") + bytes(buf))
                    return
                index = self._next()
                self.forwarded[index] += 1
                response, close = self._exchange(upstreams, index, head + body, head)
                if response is None:
                    return
                if SETTLE_SECONDS > 0 and response.startswith(b"HTTP/1.1 200") and may_revoke(head, body):
                    time.sleep(SETTLE_SECONDS)
                client.sendall(response)
                if close:
                    return
        except OSError:
            return
        finally:
            for s in upstreams.values():
                try:
                    s.close()
                except OSError:
                    pass
            try:
                client.close()
            except OSError:
                pass

    def _exchange(self, upstreams, index, request: bytes, head: bytes):
        """(response bytes, close after it); one retry on a fresh connection if a kept-alive
        one was closed by the server before answering."""
        for attempt in range(2):
            s = upstreams.get(index)
            fresh = s is None
            if s is None:
                s = self._connect(index)
                upstreams[index] = s
            try:
                try:
                    s.sendall(request)
                except OSError:
                    if not fresh:
                        raise ConnectionResetError
                    # The server may answer (e.g. 413) and close before reading the whole body.
                rbuf = bytearray()
                rhead = _read_head(s, rbuf)
                if rhead is None:
                    raise ConnectionResetError
                status = rhead.split(b" ", 2)
                code = int(status[1]) if len(status) > 1 and status[1].isdigit() else 0
                h = _headers(rhead)
                close = h.get("connection", "").lower() == "close"
                if head.split(b" ", 1)[0] == b"HEAD" or code in (204, 304) or 100 <= code < 200:
                    body = b""
                elif "content-length" in h:
                    body = _read_exact(s, rbuf, int(h["content-length"]))
                else:
                    # Delimited by close.
                    chunks = [bytes(rbuf)]
                    while True:
                        c = s.recv(65536)
                        if not c:
                            break
                        chunks.append(c)
                    body, close = b"".join(chunks), True
                if close:
                    s.close()
                    upstreams.pop(index, None)
                return rhead + body, close
            except (ConnectionResetError, BrokenPipeError, _Framing, OSError):
                try:
                    s.close()
                except OSError:
                    pass
                upstreams.pop(index, None)
                if fresh or attempt == 1:
                    return None, True
        return None, True

    def _tunnel(self, client, pending: bytes):
        """Pipes the rest of the connection to one node, both ways, until either closes."""
        try:
            up = self._connect(self._next())
        except OSError:
            return
        if pending:
            try:
                up.sendall(pending)
            except OSError:
                pass

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s, how in ((dst, socket.SHUT_WR),):
                    try:
                        s.shutdown(how)
                    except OSError:
                        pass

        t = threading.Thread(target=pump, args=(up, client), daemon=True)
        t.start()
        pump(client, up)
        t.join(timeout=120)
        try:
            up.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Two nodes that look like one KmsServer
# ---------------------------------------------------------------------------

class ClusterServer:
    """Two ``KmsServer`` nodes on one scratch PostgreSQL database behind a RoundRobinProxy.

    Quacks like ``KmsServer``: ``url`` is the proxy's, ``data_dir``/``credentials_path``
    are node 0's, start/stop/restart act on both nodes (the state is in PostgreSQL).
    """

    def __init__(self, server_class, data_dir: str, log_dir: str, dev: bool = False, extra_args=None):
        self.db = ScratchDatabase()
        self.dev = dev
        args = list(extra_args or [])
        self.nodes = [
            server_class(data_dir=data_dir, log_dir=log_dir, dev=dev, extra_args=["--storage", self.db.url, *args]),
            server_class(data_dir=data_dir + "-node1", log_dir=log_dir + "-node1", dev=dev,
                         extra_args=["--storage", self.db.url, "--root-key-file",
                                     os.path.join(data_dir, "root.key"), *args]),
        ]
        self.proxy = RoundRobinProxy([lambda n=n: ("127.0.0.1", n.port) for n in self.nodes])
        self.port = self.proxy.port

    # KmsServer's surface
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def data_dir(self):
        return self.nodes[0].data_dir

    @property
    def log_dir(self):
        return self.nodes[0].log_dir

    @property
    def credentials_path(self):
        return self.nodes[0].credentials_path

    @property
    def extra_args(self):
        return self.nodes[0].extra_args[2:]

    @property
    def proc(self):
        return self.nodes[0].proc

    @property
    def alive(self):
        return all(n.alive for n in self.nodes)

    @property
    def starts(self):
        return self.nodes[0].starts

    @property
    def stdout_path(self):
        return self.nodes[0].stdout_path

    @property
    def stderr_path(self):
        return self.nodes[0].stderr_path

    def logs(self) -> str:
        return "\n".join(f"=== node {i} ===\n{n.logs()}" for i, n in enumerate(self.nodes))

    def start(self, extra_args=None, port=None):
        first, second = self.nodes
        if extra_args is not None:
            first.extra_args = ["--storage", self.db.url, *extra_args]
            second.extra_args = ["--storage", self.db.url, "--root-key-file",
                                 os.path.join(first.data_dir, "root.key"), *extra_args]
        first.start()
        os.makedirs(second.data_dir, exist_ok=True)
        os.chmod(second.data_dir, 0o700)
        if not self.dev and os.path.exists(first.credentials_path):
            shutil.copy2(first.credentials_path, second.credentials_path)
            os.chmod(second.credentials_path, 0o600)
        second.start()
        return self

    def stop(self, timeout: float = 15.0):
        codes = [n.stop(timeout) for n in self.nodes]
        return codes[0]

    def kill(self):
        for n in self.nodes:
            n.kill()

    def close(self):
        """Teardown: both nodes stopped, the proxy closed, the database dropped."""
        self.stop()
        self.proxy.close()
        self.db.drop()

    def restart(self, extra_args=None):
        self.stop()
        return self.start(extra_args=extra_args)

    def root_credentials(self):
        return self.nodes[0].root_credentials()

    @property
    def account_id(self):
        return self.nodes[0].account_id

    def client(self, region="us-east-1", access_key=None, secret_key=None, validate=True):
        from kms_harness import client_for  # noqa: PLC0415 - avoids an import cycle
        if access_key is None:
            if self.dev:
                access_key, secret_key = "AKIADEVDEVDEVDEVDEV0", "dev-secret"
            else:
                creds = self.root_credentials()
                access_key, secret_key = creds.access_key, creds.secret_key
        return client_for(self.url, region, access_key, secret_key or "x", validate=validate)


# ---------------------------------------------------------------------------
# A TCP link that a test can cut (a store outage without stopping PostgreSQL)
# ---------------------------------------------------------------------------

class CuttableLink:
    """Forwards 127.0.0.1:port to target. ``cut()`` closes every connection and refuses new
    ones (as an unreachable database would); ``restore()`` accepts again on the same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.lock = threading.Lock()
        self.conns = []
        self.listener = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.restore()

    def restore(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        with self.lock:
            self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def cut(self):
        with self.lock:
            listener, self.listener = self.listener, None
            conns, self.conns = self.conns, []
        if listener is not None:
            listener.close()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
