"""Hostile input: a seeded, bounded stream of malformed and model-violating requests.

Every answer must be AWS-shaped (JSON with __type, a 4xx status for client errors), never
a 5xx or a dropped connection, and the server must still serve a normal request after.
"""

from __future__ import annotations

import base64
import json
import random

import pytest

import botocore.session

from kms_harness import raw_call

MODEL = botocore.session.get_session().get_service_model("kms")
OPERATIONS = sorted(MODEL.operation_names)
JUNK_VALUES = [None, True, 0, -1, 2**40, 1.5, "", "x" * 5000, "alias/", "arn:aws:kms:::key/",
               "\u0000\u00ff", [], [1, "a"], {}, {"a": {"b": []}}, "!!notbase64!!",
               base64.b64encode(b"\x01" * 200).decode()]


def random_value(rng: random.Random, shape, depth: int = 0):
    """A value that sometimes fits the shape and often does not."""
    if rng.random() < 0.3 or depth > 3:
        return rng.choice(JUNK_VALUES)
    t = shape.type_name
    if t == "string":
        if getattr(shape, "enum", None):
            return rng.choice(shape.enum + ["NOT_AN_ENUM"])
        return rng.choice(["alias/fuzz", "1234abcd-12ab-34cd-56ef-1234567890ab", "x", "a" * 300])
    if t == "blob":
        return base64.b64encode(rng.randbytes(rng.choice([0, 1, 32, 5000]))).decode()
    if t in ("integer", "long"):
        return rng.choice([0, 1, 7, 30, 1024, 1025, -5, 10**12])
    if t == "boolean":
        return rng.choice([True, False])
    if t == "list":
        return [random_value(rng, shape.member, depth + 1) for _ in range(rng.randint(0, 3))]
    if t == "map":
        return {f"k{i}": random_value(rng, shape.value, depth + 1) for i in range(rng.randint(0, 3))}
    if t == "structure":
        return {name: random_value(rng, member, depth + 1)
                for name, member in shape.members.items() if rng.random() < 0.7}
    return None


def test_hostile_requests_get_aws_shaped_errors(dev_server):
    rng = random.Random(20261123)
    for i in range(1500):
        op = rng.choice(OPERATIONS)
        input_shape = MODEL.operation_model(op).input_shape
        kind = rng.random()
        if kind < 0.1:
            body = rng.randbytes(rng.randint(0, 64))  # not JSON at all
        elif kind < 0.2:
            body = json.dumps(rng.choice(JUNK_VALUES)).encode()  # JSON, but not an object
        else:
            payload = random_value(rng, input_shape) if input_shape is not None else {}
            body = json.dumps(payload if isinstance(payload, dict) else {"Junk": payload}).encode()
        resp = raw_call(dev_server, op, body=body)
        assert resp.status < 500, f"request {i} ({op}) got {resp.status}: {resp.body[:300]!r}"
        if resp.status != 200:
            assert resp.error_code, f"request {i} ({op}) error without __type: {resp.body[:300]!r}"
    # Still alive and correct afterwards.
    created = raw_call(dev_server, "CreateKey", {})
    assert created.status == 200
    key_id = created.json["KeyMetadata"]["KeyId"]
    enc = raw_call(dev_server, "Encrypt", {"KeyId": key_id, "Plaintext": base64.b64encode(b"ok").decode()})
    assert enc.status == 200


def test_pipelined_requests_are_answered_in_order(dev_server):
    """Two requests in one TCP write: a blocking one (CreateKey, run off the event loop)
    and a fast one (ListKeys). HTTP/1.1 requires the answers in request order."""
    import socket

    def request(target: str, body: bytes) -> bytes:
        return (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
                f"X-Amz-Target: TrentService.{target}\r\n"
                f"Authorization: AWS4-HMAC-SHA256 Credential=111122223333/20260101/us-east-1/kms/aws4_request, "
                f"SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20260101T000000Z\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    port = int(dev_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request("CreateKey", b'{"Description":"pipelined"}') + request("ListKeys", b"{}"))
        data = b""
        while data.count(b"HTTP/1.1 ") < 2 or not data.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    first, second = data.split(b"HTTP/1.1 ")[1:3]
    assert first.startswith(b"200") and b'"KeyMetadata"' in first, first[:300]
    assert second.startswith(b"200") and b'"Keys"' in second, second[:300]


def test_malformed_http_gets_400_and_close(dev_server):
    import socket
    port = int(dev_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"NOT-HTTP \x00\x01\x02\r\n\r\n")
        data = s.recv(65536)
    assert data.startswith(b"HTTP/1.1 400"), data[:200]
    assert b"__type" in data


def _raw_exchange(dev_server, payload: bytes, *, pieces: int = 0) -> bytes:
    """Sends `payload` (in `pieces`-byte writes when given) and reads until the server
    closes or one full JSON answer has arrived."""
    import socket
    import time
    port = int(dev_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if pieces:
            for i in range(0, len(payload), pieces):
                s.sendall(payload[i:i + pieces])
                time.sleep(0.001)
        else:
            s.sendall(payload)
        data = b""
        while True:
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if len(rest) >= length:
                    return data
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def _dev_request(target: str, body: bytes, *, version: str = "HTTP/1.1", framing: str = "length") -> bytes:
    head = (f"POST / {version}\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
            f"X-Amz-Target: TrentService.{target}\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential=111122223333/20260101/us-east-1/kms/aws4_request, "
            f"SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20260101T000000Z\r\n")
    if framing == "chunked":
        chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + 5]), body[i:i + 5]) for i in range(0, len(body), 5))
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\nX-Trailer: t\r\n\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_chunked_and_byte_by_byte_requests_are_framed(dev_server):
    """Clients may send chunked bodies, and TCP may deliver a request in any pieces."""
    body = b'{"Description":"chunked body"}'
    answer = _raw_exchange(dev_server, _dev_request("CreateKey", body, framing="chunked"))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b'"Description":"chunked body"' in answer
    answer = _raw_exchange(dev_server, _dev_request("ListKeys", b'{"Limit":1}'), pieces=1)
    assert answer.startswith(b"HTTP/1.1 200") and b'"Keys"' in answer, answer[:200]


def test_http10_closes_and_keep_alive_rules(dev_server):
    answer = _raw_exchange(dev_server, _dev_request("ListKeys", b"{}", version="HTTP/1.0"))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b"\r\nConnection: close\r\n" in answer.split(b"\r\n\r\n")[0] + b"\r\n"


@pytest.mark.parametrize("payload", [
    # Both framings at once is how requests are smuggled past proxies: refused.
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\n folded: x\r\n\r\n",
    b"POST / HTTP/2.0\r\nHost: h\r\n\r\n",
])
def test_ambiguous_framing_gets_400_and_close(dev_server, payload):
    answer = _raw_exchange(dev_server, payload)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"Connection: close" in answer and b"SerializationException" in answer


def test_oversized_body_gets_413(dev_server):
    payload = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 300000\r\n\r\n" + b"x" * 300000
    answer = _raw_exchange(dev_server, payload)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_half_closed_connection_gets_every_answer(dev_server):
    """A client may send its requests and shut down its sending side at once (as
    `nc -N` does): it still gets each answer, in order, and then the server closes."""
    import socket
    port = int(dev_server.url.rsplit(":", 1)[1])
    payload = (_dev_request("ListKeys", b"{}") + _dev_request("CreateKey", b'{"Description":"half-close"}')
               + _dev_request("ListKeys", b'{"Limit":1}'))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    answers = data.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in answers] == [b"200", b"200", b"200"], data[:300]
    assert b'"Keys"' in answers[0] and b'"Description":"half-close"' in answers[1] and b'"Keys"' in answers[2]


@pytest.mark.single_node("one server's idle timeout (the harness proxy holds the client's connection)")
def test_idle_connections_are_closed(server_factory):
    """A connection that sends nothing for --idle-timeout seconds is closed, whether it
    never sent a request, stopped in the middle of one, or finished its requests."""
    import socket
    import time
    srv = server_factory(dev=True, extra_args=["--idle-timeout", "1"])
    port = int(srv.url.rsplit(":", 1)[1])

    def closed_within(sock, seconds: float) -> bool:
        sock.settimeout(seconds)
        data = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return True
                data += chunk
        except socket.timeout:
            return False

    with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
        assert closed_within(silent, 5)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
        stalled.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n{")
        assert closed_within(stalled, 5)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as active:
        # Requests every half second keep a connection open past the timeout.
        for _ in range(4):
            active.sendall(_dev_request("ListKeys", b"{}"))
            data = b""
            while True:  # exactly one response: head, then Content-Length bytes of body
                head, sep, rest = data.partition(b"\r\n\r\n")
                if sep:
                    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:"))
                    if len(rest) >= length:
                        break
                data += active.recv(65536)
            assert data.startswith(b"HTTP/1.1 200") and len(rest) == length
            time.sleep(0.5)
        assert closed_within(active, 5)
    # A request still being answered (RSA-4096 key pairs, generated off the event loop,
    # often take longer than the timeout) is not idleness: its answer arrives.
    created = _raw_exchange(srv, _dev_request("CreateKey", b"{}"))
    key_id = json.loads(created.split(b"\r\n\r\n", 1)[1])["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key_id, "KeyPairSpec": "RSA_4096"}).encode()
    for _ in range(3):
        answer = _raw_exchange(srv, _dev_request("GenerateDataKeyPair", body))
        assert answer.startswith(b"HTTP/1.1 200") and b'"PrivateKeyCiphertextBlob"' in answer, answer[:200]
