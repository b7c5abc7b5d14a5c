#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into Fuzz/Corpus/<target>/ (docs/FUZZING.md).

Seeds are small valid inputs (requests signed by botocore, as boto3 and the AWS CLI send
them; blobs in the v2 and v1 layouts; AWS's default key policy) and near-valid ones (one field
wrong), so libFuzzer starts next to the interesting branches. Deterministic: a fixed
signing time and fixed credentials, so re-running changes nothing.

    python3 Fuzz/make_corpus.py
"""
import datetime
import hashlib
import json
import os

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Corpus")
SIGNED_AT = datetime.datetime(2025, 11, 24, 12, 0, 0)
botocore.auth.get_current_datetime = lambda: SIGNED_AT  # deterministic signatures
CREDS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
TEMP_CREDS = Credentials("ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzEFAKETOKEN")
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def signed(operation, body, creds=CREDS, path="/", query="", extra=None, region="us-east-1"):
    """(method, target, [(name, value)], body) as botocore signs a KMS call."""
    host = f"kms.{region}.amazonaws.com"
    url = f"https://{host}{path}" + (f"?{query}" if query else "")
    headers = {
        "X-Amz-Target": f"TrentService.{operation}",
        "Content-Type": "application/x-amz-json-1.1",
        "User-Agent": "Boto3/1.40.0 md/Botocore#1.43.11 ua/2.1 os/linux lang/python#3.13",
        "Content-Length": str(len(body)),
    }
    headers.update(extra or {})
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(creds, "kms", region).add_auth(request)
    items = [("Host", host)] + list(request.headers.items())
    return "POST", path + (f"?{query}" if query else ""), items, body


def loose(request):
    """FuzzSigV4's input format: `METHOD SP target LF (name: value LF)* LF body`."""
    method, target, headers, body = request
    head = f"{method} {target}\n" + "".join(f"{n}: {v}\n" for n, v in headers) + "\n"
    return head.encode() + body


def wire(request, chunked=False):
    """HTTP/1.1 bytes as the SDK sends them."""
    method, target, headers, body = request
    if chunked:
        headers = [(n, v) for n, v in headers if n.lower() != "content-length"] + [("Transfer-Encoding", "chunked")]
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    if chunked:
        half = len(body) // 2
        parts = [body[:half], body[half:]]
        body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\nX-Trailer: t\r\n\r\n"
    return head.encode() + body


ENCRYPT = json.dumps({"KeyId": f"alias/app", "Plaintext": "aGVsbG8gd29ybGQ=",
                      "EncryptionContext": {"purpose": "test", "tenant": "a\u00e9"}}).encode()
DESCRIBE = json.dumps({"KeyId": KEY_ID}).encode()
CREATE = json.dumps({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "Tags": [{"TagKey": "k", "TagValue": "v"}],
                     "BypassPolicyLockoutSafetyCheck": False, "Policy": None}).encode()


def sigv4_and_framer():
    requests = {
        "encrypt": signed("Encrypt", ENCRYPT),
        "describe": signed("DescribeKey", DESCRIBE),
        "temporary-credentials": signed("CreateKey", CREATE, creds=TEMP_CREDS),
        "query-and-path": signed("ListKeys", b"{}", path="/a/./b/../c%20d/", query="b=2&a=1&a=%2F+x&flag"),
        "content-sha256": signed("ListAliases", b'{"Limit":10}',
                                 extra={"X-Amz-Content-SHA256": hashlib.sha256(b'{"Limit":10}').hexdigest()}),
        "unsigned-payload": signed("ListAliases", b'{"Limit":10}', extra={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}),
    }
    for name, request in requests.items():
        write("FuzzSigV4", name, loose(request))
        write("FuzzHTTPFramer", name, b"\xff" + wire(request))  # one segment: the whole stream
        write("FuzzHTTPFramer", name + "-split7", b"\x06" + wire(request))
    # Near-valid SigV4: a field missing or wrong.
    method, target, headers, body = requests["encrypt"]
    auth = dict(headers)["Authorization"]
    def replaced(value, drop=()):
        return (method, target, [(n, value if n == "Authorization" else v) for n, v in headers if n not in drop], body)
    write("FuzzSigV4", "no-signature", loose(replaced(auth.split(", Signature=")[0])))
    write("FuzzSigV4", "bad-algorithm", loose(replaced(auth.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"))))
    write("FuzzSigV4", "four-slashes", loose(replaced(auth.replace("/kms/", "/"))))
    write("FuzzSigV4", "http-date", loose((method, target, [(n, v) for n, v in headers if n != "X-Amz-Date"]
                                           + [("Date", "Mon, 24 Nov 2025 12:00:00 GMT")], body)))
    write("FuzzSigV4", "duplicate-signed-headers", loose(replaced(auth.replace("SignedHeaders=", "SignedHeaders=host;host;"))))
    # What the verifier now refuses (docs/FUZZING.md): each is one documented refusal.
    write("FuzzSigV4", "region-eu-west-1", loose(signed("Encrypt", ENCRYPT, region="eu-west-1")))
    write("FuzzSigV4", "region-invalid", loose(signed("Encrypt", ENCRYPT, region="us_east_1")))
    write("FuzzSigV4", "region-too-long", loose(signed("Encrypt", ENCRYPT, region="us-" + "x" * 40 + "-1")))
    write("FuzzSigV4", "repeated-signed-header", loose((method, target, headers + [("X-Amz-Target", "TrentService.Decrypt")], body)))
    write("FuzzSigV4", "content-type-unsigned", loose(replaced(auth.replace("content-type;", ""))))
    write("FuzzSigV4", "signed-headers-unsorted", loose(replaced(auth.replace("content-type;host", "host;content-type"))))
    many = [(f"X-H{i:03d}", "v") for i in range(124)]  # 5 more are signed anyway
    write("FuzzSigV4", "signed-headers-129", loose(signed("DescribeKey", DESCRIBE, extra=dict(many))))
    write("FuzzSigV4", "signed-headers-128", loose(signed("DescribeKey", DESCRIBE, extra=dict(many[:123]))))
    write("FuzzSigV4", "authorization-twice", loose((method, target, headers + [("Authorization", auth)], body)))
    # Framer: pipelining, chunked bodies, HTTP/1.0, refusals.
    enc, desc = wire(requests["encrypt"]), wire(requests["describe"])
    write("FuzzHTTPFramer", "pipelined", b"\xff" + enc + desc)
    write("FuzzHTTPFramer", "pipelined-split1", b"\x00" + enc + desc)
    write("FuzzHTTPFramer", "chunked", b"\xff" + wire(requests["encrypt"], chunked=True))
    write("FuzzHTTPFramer", "chunked-split3", b"\x02" + wire(requests["describe"], chunked=True))
    write("FuzzHTTPFramer", "http10-keepalive", b"\xff" + b"\r\nPOST / HTTP/1.0\r\nConnection: keep-alive, Foo\r\nContent-Length: 2\r\n\r\n{}")
    write("FuzzHTTPFramer", "connection-close", b"\x10" + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    write("FuzzHTTPFramer", "conflicting-length", b"\xff" + b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
    write("FuzzHTTPFramer", "length-and-chunked", b"\xff" + b"POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    write("FuzzHTTPFramer", "too-large", b"\xff" + b"POST / HTTP/1.1\r\nContent-Length: 513\r\n\r\n" + b"x" * 16)
    # Regression seed (docs/FUZZING.md): a head of exactly 16384 bytes, delivered in pieces
    # of 145 bytes so that the last piece holds 3 bytes of its CRLFCRLF (113 * 145 = 16385).
    start = b"POST / HTTP/1.1\r\nHost: x\r\nX-Pad: "
    write("FuzzHTTPFramer", "head-at-limit-split145", b"\x90" + start + b"a" * (16384 - len(start)) + b"\r\n\r\n")
    # The limits main added: 256 data chunks per body, trailers within a head's budget
    # (100 fields, 16 KiB), 100 header fields. Each at the limit and one past it.
    post = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    write("FuzzHTTPFramer", "chunks-256", b"\xff" + post + b"1\r\nx\r\n" * 256 + b"0\r\n\r\n")
    write("FuzzHTTPFramer", "chunks-257-split5", b"\x04" + post + b"1\r\nx\r\n" * 257 + b"0\r\n\r\n")
    write("FuzzHTTPFramer", "trailers-100", b"\xff" + post + b"1\r\nx\r\n0\r\n" + b"T: v\r\n" * 100 + b"\r\n")
    write("FuzzHTTPFramer", "trailers-101", b"\x20" + post + b"1\r\nx\r\n0\r\n" + b"T: v\r\n" * 101 + b"\r\n")
    # One trailer line of 16383 bytes: with its CR it is exactly the 16 KiB budget.
    write("FuzzHTTPFramer", "trailer-at-budget-split145", b"\x90" + post + b"0\r\nT: " + b"a" * 16380 + b"\r\n\r\n")
    write("FuzzHTTPFramer", "trailer-over-budget", b"\xff" + post + b"0\r\nT: " + b"a" * 16381 + b"\r\n\r\n")
    write("FuzzHTTPFramer", "headers-100", b"\xff" + b"GET / HTTP/1.1\r\n" + b"H: v\r\n" * 100 + b"\r\n")
    write("FuzzHTTPFramer", "headers-101", b"\x08" + b"GET / HTTP/1.1\r\n" + b"H: v\r\n" * 101 + b"\r\n")
    write("FuzzHTTPFramer", "obs-fold", b"\xff" + b"POST / HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n")


def json_seeds():
    write("FuzzJSON", "encrypt", ENCRYPT)
    write("FuzzJSON", "create-key", CREATE)
    write("FuzzJSON", "escapes", r'{"s":"\"\\\/\b\f\n\r\t\u0000\u00e9\ud83d\ude00","n":[-0,1.5e+10,-2E-3,12345678901234567890]}')
    write("FuzzJSON", "literals", '[true,false,null,{},[],"",0]')
    write("FuzzJSON", "duplicate-members", '{"a":1,"b":2,"a":3}')
    write("FuzzJSON", "whitespace", ' \t\r\n{ "a" : [ 1 , 2 ] } \n')
    write("FuzzJSON", "deep-64", "[" * 64 + "]" * 64)
    write("FuzzJSON", "deep-63", "[" * 63 + "]" * 63)
    write("FuzzJSON", "trailing-comma", '{"a":1,}')
    write("FuzzJSON", "lone-surrogate", r'"\ud800x"')
    write("FuzzJSON", "bad-utf8", b'{"a":"\xc3\x28"}')
    write("FuzzJSON", "unterminated", '{"a":"b')
    write("FuzzJSON", "leading-zero", "[01]")


def blob(account="111122223333", key_id=KEY_ID, version=1, ciphertext=b"secret!", fmt=2, random_size=None):
    """v2: 32-byte salt after the header; v1: 12-byte nonce (docs/CIPHERTEXT.md)."""
    kid = key_id.encode()
    if random_size is None:
        random_size = 12 if fmt == 1 else 32
    return (bytes([fmt]) + account.encode() + bytes([len(kid)]) + kid + version.to_bytes(4, "big")
            + bytes(range(random_size)) + ciphertext + bytes(range(100, 116)))


def blob_seeds():
    for fmt in (2, 1):
        v = f"v{fmt}"
        write("FuzzBlob", v, blob(fmt=fmt))
        write("FuzzBlob", f"{v}-empty-plaintext", blob(fmt=fmt, ciphertext=b""))
        write("FuzzBlob", f"{v}-version-max", blob(fmt=fmt, version=0xFFFFFFFF, ciphertext=bytes(64)))
        write("FuzzBlob", f"{v}-short-key-id", blob(fmt=fmt, key_id="a"))
        write("FuzzBlob", f"{v}-key-id-255", blob(fmt=fmt, key_id="k" * 255))
    # A v1-sized blob labelled v2: long enough for a 12-byte nonce, too short for a 32-byte salt.
    write("FuzzBlob", "v2-short-salt", blob(fmt=2, random_size=12, ciphertext=b""))
    write("FuzzBlob", "truncated", blob()[:40])
    write("FuzzBlob", "bad-format", blob(fmt=9))
    write("FuzzBlob", "format-3", blob(fmt=3))
    write("FuzzBlob", "bad-account", blob(account="11112222333x"))
    write("FuzzBlob", "key-id-uppercase", blob(key_id=KEY_ID.upper()))
    b = bytearray(blob()); b[13] = 0xFF
    write("FuzzBlob", "key-id-length-overruns", bytes(b))


def policy_seeds():
    default = {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]}
    write("FuzzPolicy", "default", json.dumps(default, indent=2))
    write("FuzzPolicy", "single-statement", json.dumps({"Statement": {
        "Effect": "Allow", "Principal": "*", "Action": ["kms:Put*", "kms:Encrypt"], "Resource": "*"}}))
    write("FuzzPolicy", "lockout", json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/fuzz"}, "Action": "kms:Encrypt", "Resource": "*"}]}))
    write("FuzzPolicy", "deny-and-condition", json.dumps({"Version": "2008-10-17", "Statement": [
        {"Effect": "Deny", "NotPrincipal": {"Service": "logs.amazonaws.com"}, "NotAction": "kms:Decrypt", "NotResource": "x"},
        {"Effect": "Allow", "Principal": {"AWS": ["111122223333", "*"]}, "Action": "kms:PutKeyPolicy", "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}}}]}))
    write("FuzzPolicy", "invalid-principal", json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "kms:*", "Resource": "*"}]}))
    write("FuzzPolicy", "bad-version", '{"Version":"2020-01-01","Statement":[]}')
    write("FuzzPolicy", "not-json", "Version: 2012-10-17")


def session_token_seeds():
    """FuzzSessionToken: byte 0 picks the mode (0 token text, 1 compact plaintext, else session fields)."""
    write("FuzzSessionToken", "token-empty", b"\x00")
    write("FuzzSessionToken", "token-v2-shape", b"\x00" + b"AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    write("FuzzSessionToken", "token-v1-shape", b"\x00" + b"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    write("FuzzSessionToken", "plain-short", b"\x01\x00\x00\x00")
    write("FuzzSessionToken", "plain-flags", b"\x01\x01\x03\x10" + bytes(8) + b"\x10\x0e\x00\x00" + bytes(30) + b"\x00\x04root")
    write("FuzzSessionToken", "session-role", b"\x02\x00\x05admin\x07session\x06ABCDEF\x01\x03key\x03val\x00")
    write("FuzzSessionToken", "session-user", b"\x02\x28\x04bob1\x00\x00\x00\x05alice\x00\x3f\x09{\"a\":\"b\"}"
          b"\x02\x03p/1\x03p/2" + bytes(16) + b"\x04src1\x05other")
    write("FuzzSessionToken", "session-raw", b"\x02\xff\x0e123456789012\x14ABCDEFGHIJKLMNOPQRST\x28" + b"x" * 40
          + b"\x03r/1\x02s1\x02id\x05a:b:c\x06userid\x00\xff")


if __name__ == "__main__":
    sigv4_and_framer()
    json_seeds()
    blob_seeds()
    policy_seeds()
    session_token_seeds()
    for target in sorted(os.listdir(ROOT)):
        print(f"{target}: {len(os.listdir(os.path.join(ROOT, target)))} seeds")
