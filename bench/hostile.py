#!/usr/bin/env python3
"""Hostile clients against one kms server, while a well-behaved boto3 client encrypts.

    bench/hostile.py --binary .build/release/kms --seconds 30

Starts its own server on 127.0.0.1 (fresh data dir, real SigV4), then runs together, each
attack in its own process so Python's GIL does not slow the measured client:

  slowloris      connections that send a request head one byte at a time, never finishing
  pipeliners     connections that pipeline signed Encrypt requests and never read an answer
  wide-json      signed, authenticated requests whose body is one JSON object of 32k members
  signed-headers heads of ~16 KiB whose SignedHeaders names one long header over and over
  tiny-chunks    chunked bodies of one-byte chunks

and reports the well-behaved client's latency (p50/p99/max) and the server's peak RSS
(VmHWM from /proc/PID/status). Targets (issue 7): p99 < 50 ms, peak RSS < 512 MiB.
Everything is bounded in count and time and stays on loopback. Exit status 0 when both
targets are met, 1 when not, 2 when the run itself failed.
"""

from __future__ import annotations

import argparse
import configparser
import json
import multiprocessing
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REGION = "us-east-1"
HOST = "127.0.0.1"
TARGET_P99_MS = 50.0
TARGET_RSS_MIB = 512.0


# --------------------------------------------------------------------------- helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def signed_request(port: int, creds: tuple[str, str], target: str, body: bytes,
                   extra_headers: dict | None = None) -> bytes:
    """The bytes of one SigV4-signed TrentService request (Content-Length framing)."""
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{target}"}
    headers.update(extra_headers or {})
    req = AWSRequest(method="POST", url=f"http://{HOST}:{port}/", data=body, headers=headers)
    SigV4Auth(Credentials(*creds), "kms", REGION).add_auth(req)
    head = f"POST / HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    for name, value in req.headers.items():
        if name.lower() != "host":
            head += f"{name}: {value}\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def read_answer(sock: socket.socket, limit: float = 30.0) -> bytes:
    """Reads one response (head + Content-Length body) or until close/timeout."""
    sock.settimeout(limit)
    data = b""
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(rest) >= length:
                return data
        try:
            chunk = sock.recv(65536)
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk


def connect(port: int, timeout: float = 5.0) -> socket.socket | None:
    try:
        return socket.create_connection((HOST, port), timeout=timeout)
    except OSError:
        return None


# --------------------------------------------------------------------------- attacks
# Each runs in its own process until `until` (a time.time() value) and returns a count of
# what it did through a queue. Counts and connection numbers are fixed by the arguments.

def slowloris(port: int, creds, until: float, connections: int, out) -> None:
    """Connections that send a head one byte per second and never finish it."""
    head = (f"POST / HTTP/1.1\r\nHost: {HOST}:{port}\r\nX-Amz-Target: TrentService.Encrypt\r\n"
            + "X-Pad: " + "a" * 4000 + "\r\n").encode()
    socks: dict[socket.socket, int] = {}
    opened = closed_by_server = 0
    while time.time() < until:
        while len(socks) < connections and time.time() < until:
            s = connect(port)
            if s is None:
                break
            s.setblocking(False)
            socks[s] = 0
            opened += 1
        for s in list(socks):
            pos = socks[s]
            try:
                if pos < len(head):
                    s.send(head[pos:pos + 1])
                    socks[s] = pos + 1
                if s.recv(1) == b"":
                    raise ConnectionError
            except BlockingIOError:
                pass
            except OSError:
                closed_by_server += 1
                s.close()
                del socks[s]
        time.sleep(1.0)
    for s in socks:
        s.close()
    out.put(("slowloris", {"connections_opened": opened, "closed_by_server": closed_by_server}))


def pipeliners(port: int, creds, until: float, connections: int, key_id: str, out) -> None:
    """Connections that pipeline signed Encrypt requests and never read an answer."""
    request = signed_request(port, creds, "Encrypt",
                             json.dumps({"KeyId": key_id, "Plaintext": "aGVsbG8="}).encode())
    batch = request * 32
    socks: list[list] = []
    for _ in range(connections):
        s = connect(port)
        if s is not None:
            s.setblocking(False)
            socks.append([s, 0, True])
    sent = 0
    while time.time() < until and socks:
        progressed = False
        for entry in socks:
            s = entry[0]
            if not entry[2]:
                continue
            try:
                n = s.send(batch)
                sent += n
                progressed = True
            except BlockingIOError:
                pass
            except OSError:
                entry[2] = False
        if not progressed:
            time.sleep(0.05)
    for entry in socks:
        entry[0].close()
    out.put(("pipeliners", {"connections": len(socks), "requests_sent": sent // len(request),
                            "mib_sent": round(sent / 2**20, 1)}))


def wide_object(members: int) -> bytes:
    """One JSON object of `members` distinct short names (1-3 characters), under 256 KiB."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    names: list[str] = []
    length = 1
    while len(names) < members:
        def grow(prefix: str, depth: int):
            if len(names) >= members:
                return
            if depth == 0:
                names.append(prefix)
                return
            for c in alphabet:
                grow(prefix + c, depth - 1)
        grow("", length)
        length += 1
    return ("{" + ",".join(f'"{n}":0' for n in names[:members]) + "}").encode()


def wide_json(port: int, creds, until: float, connections: int, out) -> None:
    """Signed, authenticated requests with one 32k-member JSON object as the body."""
    body = wide_object(32 * 1024)
    sent = answered = 0
    while time.time() < until:
        s = connect(port)
        if s is None:
            time.sleep(0.1)
            continue
        with s:
            # Signed per connection (the signature's date stays valid for minutes).
            request = signed_request(port, creds, "ListKeys", body)
            for _ in range(connections):
                try:
                    s.sendall(request)
                    sent += 1
                    if read_answer(s, limit=max(0.1, until - time.time())):
                        answered += 1
                    else:
                        break
                except OSError:
                    break
                if time.time() >= until:
                    break
    out.put(("wide-json", {"requests": sent, "answered": answered, "body_bytes": len(body)}))


def signed_headers(port: int, creds, until: float, connections: int, out) -> None:
    """~15 KiB heads whose SignedHeaders lists one 6 KB header 900 times (the canonical
    request would be ~5 MB); the signature is wrong, the work is before it."""
    access_key = creds[0]
    names = ";".join(["x-amz-pad"] * 900)
    head = (f"POST / HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/x-amz-json-1.1\r\n"
            f"X-Amz-Target: TrentService.ListKeys\r\nX-Amz-Date: {time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}\r\n"
            f"X-Amz-Pad: {'p' * 6000}\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential={access_key}/{time.strftime('%Y%m%d', time.gmtime())}/"
            f"{REGION}/kms/aws4_request, SignedHeaders={names}, Signature={'0' * 64}\r\n"
            f"Content-Length: 2\r\n\r\n{{}}").encode()
    sent = 0
    while time.time() < until:
        s = connect(port)
        if s is None:
            time.sleep(0.1)
            continue
        with s:
            for _ in range(connections):
                try:
                    s.sendall(head)
                    sent += 1
                    if not read_answer(s, limit=max(0.1, until - time.time())):
                        break
                except OSError:
                    break
                if time.time() >= until:
                    break
    out.put(("signed-headers", {"requests": sent, "head_bytes": len(head)}))


def tiny_chunks(port: int, creds, until: float, chunks: int, out) -> None:
    """Chunked bodies of one-byte chunks (the server caps the chunk count)."""
    head = (f"POST / HTTP/1.1\r\nHost: {HOST}:{port}\r\nX-Amz-Target: TrentService.ListKeys\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n").encode()
    body = b"1\r\n \r\n" * chunks + b"0\r\n\r\n"
    sent = refused = 0
    while time.time() < until:
        s = connect(port)
        if s is None:
            time.sleep(0.1)
            continue
        with s:
            payload = head + body
            sent += 1
            try:
                # In pieces, watching for the answer: the server refuses the body part way
                # through and closes, so writing all of it would end in a reset.
                for i in range(0, len(payload), 4096):
                    s.sendall(payload[i:i + 4096])
                    if select.select([s], [], [], 0)[0]:
                        break
                answer = read_answer(s, limit=max(0.1, until - time.time()))
                if answer.startswith(b"HTTP/1.1 400"):
                    refused += 1
            except OSError:
                pass
    out.put(("tiny-chunks", {"requests": sent, "answered_400": refused, "chunks_each": chunks}))


# --------------------------------------------------------------------------- server

def start_server(binary: str, data_dir: str, port: int, extra: list[str]) -> subprocess.Popen:
    log = open(os.path.join(data_dir, "..", "server.log"), "wb")
    proc = subprocess.Popen([binary, "server", "--host", HOST, "--port", str(port), "--data-dir", data_dir, *extra],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    creds_path = os.path.join(data_dir, "credentials")
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if os.path.exists(creds_path):
            s = connect(port, timeout=0.5)
            if s is not None:
                s.close()
                return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def read_credentials(data_dir: str) -> tuple[str, str]:
    cp = configparser.ConfigParser()
    cp.read(os.path.join(data_dir, "credentials"))
    section = cp["default"]
    return section["aws_access_key_id"].strip(), section["aws_secret_access_key"].strip()


def memory_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


# --------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=".build/release/kms")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--slowloris", type=int, default=300, help="slowloris connections (default 300)")
    ap.add_argument("--pipeliners", type=int, default=8, help="non-reading pipelining connections (default 8)")
    ap.add_argument("--wide-json", type=int, default=1, help="processes sending 32k-member objects (default 1)")
    ap.add_argument("--signed-headers", type=int, default=1, help="processes sending blown-up SignedHeaders (default 1)")
    ap.add_argument("--tiny-chunks", type=int, default=1, help="processes sending one-byte chunks (default 1)")
    ap.add_argument("--chunks", type=int, default=4096, help="one-byte chunks per chunked request (default 4096)")
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for `kms server` (repeatable)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="kms-hostile-")
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir, mode=0o700)
    port = free_port()
    proc = None
    attackers: list[multiprocessing.Process] = []
    try:
        proc = start_server(os.path.abspath(args.binary), data_dir, port, args.server_arg)
        creds = read_credentials(data_dir)
        # Two clients, alternated: their connections, opened one after the other before any
        # attack, land on different event loops, so the measure sees every loop's delays.
        clients = [boto3.session.Session().client(
            "kms", endpoint_url=f"http://{HOST}:{port}", region_name=REGION,
            aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
            config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=30))
            for _ in range(2)]
        key_id = clients[0].create_key(Description="hostile-bench")["KeyMetadata"]["KeyId"]
        for i in range(50):  # warm the connections and the server
            clients[i % 2].encrypt(KeyId=key_id, Plaintext=b"warm-up")
        kms = clients[0]
        rss_before = memory_kib(proc.pid, "VmRSS")

        ctx = multiprocessing.get_context("fork")
        results = ctx.Queue()
        start_at = time.time() + 1.0
        until = start_at + args.seconds
        plan = [(slowloris, (args.slowloris,))] if args.slowloris else []
        if args.pipeliners:
            plan.append((pipeliners, (args.pipeliners, key_id)))
        plan += [(wide_json, (4,))] * args.wide_json
        plan += [(signed_headers, (16,))] * args.signed_headers
        plan += [(tiny_chunks, (args.chunks,))] * args.tiny_chunks
        for fn, extra in plan:
            p = ctx.Process(target=fn, args=(port, creds, until, *extra, results), daemon=True)
            p.start()
            attackers.append(p)

        while time.time() < start_at:
            time.sleep(0.01)
        latencies: list[float] = []
        errors: dict[str, int] = {}
        peak_sampled = 0
        next_sample = 0.0
        turn = 0
        while time.time() < until:
            turn += 1
            t0 = time.perf_counter()
            try:
                clients[turn % 2].encrypt(KeyId=key_id, Plaintext=b"well-behaved client")
                latencies.append((time.perf_counter() - t0) * 1000)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                name = type(exc).__name__
                errors[name] = errors.get(name, 0) + 1
            if time.time() >= next_sample:
                peak_sampled = max(peak_sampled, memory_kib(proc.pid, "VmRSS"))
                next_sample = time.time() + 0.25

        for p in attackers:
            p.join(timeout=max(1.0, args.seconds))
        attack_reports = {}
        while not results.empty():
            name, report = results.get_nowait()
            attack_reports.setdefault(name, []).append(report)
        for p in attackers:
            if p.is_alive():
                p.terminate()

        # The server must still be fine afterwards.
        kms.encrypt(KeyId=key_id, Plaintext=b"after")
        hwm = memory_kib(proc.pid, "VmHWM")
        latencies.sort()
        report = {
            "seconds": args.seconds,
            "client": {
                "requests": len(latencies),
                "errors": errors,
                "p50_ms": round(percentile(latencies, 50), 2),
                "p99_ms": round(percentile(latencies, 99), 2),
                "max_ms": round(latencies[-1], 2) if latencies else None,
            },
            "server": {
                "peak_rss_mib": round(hwm / 1024, 1),
                "rss_before_mib": round(rss_before / 1024, 1),
                "max_sampled_rss_mib": round(peak_sampled / 1024, 1),
            },
            "attacks": attack_reports,
            "targets": {"p99_ms": TARGET_P99_MS, "peak_rss_mib": TARGET_RSS_MIB},
        }
        ok = (bool(latencies) and not errors and report["client"]["p99_ms"] < TARGET_P99_MS
              and report["server"]["peak_rss_mib"] < TARGET_RSS_MIB)
        report["result"] = "PASS" if ok else "FAIL"
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            c, s = report["client"], report["server"]
            print(f"well-behaved client: {c['requests']} Encrypt in {args.seconds:g} s, p50 {c['p50_ms']} ms, "
                  f"p99 {c['p99_ms']} ms, max {c['max_ms']} ms, errors {errors or 0}")
            print(f"server: peak RSS (VmHWM) {s['peak_rss_mib']} MiB (before the attacks {s['rss_before_mib']} MiB)")
            for name, reports in sorted(attack_reports.items()):
                print(f"  {name}: {reports}")
            print(f"targets: p99 < {TARGET_P99_MS:g} ms, peak RSS < {TARGET_RSS_MIB:g} MiB -> {report['result']}")
        return 0 if ok else 1
    except Exception as exc:  # noqa: BLE001 - the run failed, not the targets
        print(f"hostile.py: {exc}", file=sys.stderr)
        return 2
    finally:
        for p in attackers:
            if p.is_alive():
                p.terminate()
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
