"""Bounded work per connection: request deadlines, the connection cap, backpressure on
clients that do not read, the chunk cap, and the blocking queue's fairness and bound.

Every test is bounded in time and count and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from kms_harness import poll, random_account


def _port(srv) -> int:
    return int(srv.url.rsplit(":", 1)[1])


def _request(target: str, body: bytes, account: str = "111122223333", framing: str = "length",
             chunk: int = 5) -> bytes:
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
            f"X-Amz-Target: TrentService.{target}\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential={account}/20260101/us-east-1/kms/aws4_request, "
            f"SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20260101T000000Z\r\n")
    if framing == "chunked":
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + chunk]), body[i:i + chunk])
                          for i in range(0, len(body), chunk))
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


_leftovers: dict = {}


def _read_response(sock) -> tuple[int, dict]:
    """One response (status, JSON body); raises ConnectionError when the server closes first.
    Bytes of the next pipelined response are kept for the next call on the same socket."""
    data = _leftovers.pop(sock.fileno(), b"")
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            if len(rest) >= length:
                if rest[length:]:
                    _leftovers[sock.fileno()] = rest[length:]
                return int(head.split(b" ")[1]), json.loads(rest[:length] or b"{}")
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data[:100]!r}")
        data += chunk


def _call(srv, target: str, body: dict, account: str = "111122223333", timeout: float = 30) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", _port(srv)), timeout=timeout) as s:
        s.sendall(_request(target, json.dumps(body).encode(), account))
        return _read_response(s)


def _closed_within(sock, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.single_node("about one server's connections and timers (the harness proxy sits in between)")
def test_slow_requests_miss_their_deadline(server_factory):
    """A request that trickles in (slowloris) is cut off at --request-timeout even though
    each byte arrives well within the idle timeout; a prompt client is unaffected."""
    srv = server_factory(dev=True, extra_args=["--request-timeout", "1", "--idle-timeout", "30"])
    request = _request("ListKeys", b"{}")
    with socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) as slow_head, \
            socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) as slow_body:
        slow_body.sendall(request[:-1])  # everything but the body's last byte
        started = time.monotonic()
        closed = None
        for i in range(40):  # one byte of head every 0.1 s: never idle, never finished
            try:
                slow_head.sendall(request[i:i + 1])
            except OSError:
                closed = time.monotonic() - started
                break
            slow_head.settimeout(0.1)
            try:
                if slow_head.recv(1) == b"":
                    closed = time.monotonic() - started
                    break
            except socket.timeout:
                pass
        assert closed is not None and closed < 3, f"slow head not cut off (after {closed})"
        assert _closed_within(slow_body, 3), "a body that never finishes is cut off too"
    # A request that arrives promptly after a quiet connection is not affected by the deadline:
    with socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) as quiet:
        time.sleep(1.5)
        quiet.sendall(request)
        assert _read_response(quiet)[0] == 200


@pytest.mark.single_node("about one server's connections and timers (the harness proxy sits in between)")
def test_connections_over_the_cap_are_closed_at_accept(server_factory):
    srv = server_factory(dev=True, extra_args=["--max-connections", "4"])
    time.sleep(0.5)  # the harness's readiness probe connection must be gone first
    held = [socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) for _ in range(4)]
    try:
        time.sleep(0.3)  # let the server accept all four
        with socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) as extra:
            assert _closed_within(extra, 3), "the fifth connection must be closed"
        # The held ones still work.
        held[0].sendall(_request("ListKeys", b"{}"))
        assert _read_response(held[0])[0] == 200
    finally:
        for s in held:
            s.close()
    # Closing them frees their places.
    poll(lambda: _call(srv, "ListKeys", {})[0] == 200, timeout=10, what="a connection after the others closed")
    srv.stop()
    with open(srv.stdout_path) as fh:
        assert "refused 1 connection(s) over --max-connections" in fh.read()


@pytest.mark.single_node("measures one process's RSS")
def test_client_that_never_reads_is_not_read_either(server_factory):
    """A client pipelining requests without reading any answer: once its unsent answers
    pass the write buffer's bound, the server stops reading it, so the client's sends stall
    and the server's memory stays flat. Other clients are served meanwhile, and the
    pipeliner still gets its answers, in order, when it reads."""
    srv = server_factory(dev=True)
    request = _request("GenerateRandom", b'{"NumberOfBytes":1024}')  # ~1.5 KiB answer, ~300 B request
    base_rss = _rss_kib(srv.proc.pid)
    sock = socket.create_connection(("127.0.0.1", _port(srv)), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sent = 0
    budget = 200_000  # requests: ~60 MB sent and ~300 MB of answers if nothing pushed back
    sock.setblocking(False)
    deadline = time.monotonic() + 20
    stalled_since = None
    batch = request * 64
    while sent < budget and time.monotonic() < deadline:
        try:
            n = sock.send(batch)
            sent += n // len(request)
            stalled_since = None
            batch = batch[n:] or request * 64
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 2:
                break
            time.sleep(0.01)
    assert sent < budget, "the server kept reading a client that reads nothing"
    print(f"non-reading client: {sent} requests sent before the sends stalled")
    grown = _rss_kib(srv.proc.pid) - base_rss
    assert grown < 100 * 1024, f"server RSS grew {grown} KiB for one non-reading client"
    # Others are served meanwhile.
    assert _call(srv, "ListKeys", {})[0] == 200
    # The pipeliner's answers are all there, in order: read a few.
    sock.setblocking(True)
    sock.settimeout(10)
    for _ in range(3):
        status, body = _read_response(sock)
        assert status == 200 and "Plaintext" in body
    _leftovers.pop(sock.fileno(), None)
    sock.close()


def test_chunk_count_is_capped(server_factory):
    srv = server_factory(dev=True)
    body = json.dumps({"Description": "x" * 250}).encode()  # > 256 bytes
    with socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) as s:
        s.sendall(_request("ListKeys", b'{"Limit": 1}' + b" " * 244, framing="chunked", chunk=1))
        assert _read_response(s)[0] == 200  # 256 one-byte chunks: the cap
    with socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) as s:
        s.sendall(_request("CreateKey", body, framing="chunked", chunk=1))
        status, answer = _read_response(s)
        assert status == 400 and answer["__type"] == "SerializationException"
        assert _closed_within(s, 3)
    with socket.create_connection(("127.0.0.1", _port(srv)), timeout=10) as s:
        s.sendall(_request("CreateKey", body, framing="chunked", chunk=64))  # few large chunks: fine
        assert _read_response(s)[0] == 200


@pytest.mark.single_node("one server's blocking queue; alternation splits the load across two")
def test_key_pair_generation_is_queued_fairly_and_bounded(server_factory):
    """One account flooding RSA-4096 pair generation: its excess is throttled (400
    ThrottlingException), other accounts' writes are not delayed by it, and another
    account's generation gets the next turn instead of waiting behind the whole flood."""
    srv = server_factory(dev=True)
    flooder, other = random_account(), random_account()
    key_a = _call(srv, "CreateKey", {}, account=flooder)[1]["KeyMetadata"]["KeyId"]
    key_b = _call(srv, "CreateKey", {}, account=other)[1]["KeyMetadata"]["KeyId"]
    results: list = []

    def generate():
        try:
            results.append(_call(srv, "GenerateDataKeyPairWithoutPlaintext",
                                 {"KeyId": key_a, "KeyPairSpec": "RSA_4096"}, account=flooder, timeout=120))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append((0, {"error": repr(exc)}))

    threads = [threading.Thread(target=generate) for _ in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    # The flood's excess (16 > 8 queued + 2 running) is refused at once, in AWS's words.
    throttled = poll(lambda: [r for r in results if r[0] == 400], timeout=10, what="throttled generations")
    assert throttled[0][1]["__type"] == "ThrottlingException"
    assert throttled[0][1]["message"] == ("You have exceeded the rate at which you may call KMS. "
                                          "Reduce the frequency of your calls.")
    # Another account's writes run while the flood is generating.
    started = time.monotonic()
    status, _ = _call(srv, "CreateKey", {"Description": "not stalled"}, account=other)
    write_latency = time.monotonic() - started
    assert status == 200 and write_latency < 1.0, f"write waited {write_latency:.2f}s behind key generation"
    # And its generation takes the next turn in the generation lane: it finishes while most
    # of the flooder's accepted jobs still wait (round-robin, not first-come-first-served).
    status, _ = _call(srv, "GenerateDataKeyPairWithoutPlaintext", {"KeyId": key_b, "KeyPairSpec": "ECC_NIST_P256"},
                      account=other, timeout=120)
    flood_done_before = sum(1 for r in results if r[0] == 200)
    for t in threads:
        t.join(timeout=180)
    assert status == 200
    ok = [r for r in results if r[0] == 200]
    assert len(ok) + len([r for r in results if r[0] == 400]) == 16 and len(ok) >= 8, [r[0] for r in results]
    assert flood_done_before <= 5, f"{flood_done_before} of the flood's {len(ok)} generations went first"
