#!/usr/bin/env python3
"""Writes botocore_sigv4.json: requests signed by botocore itself, at fixed times.

Run from this folder: python3 make_fixtures.py  (needs botocore; no network).
Two kinds of cases:
  * "client" cases go through a real botocore KMS client, so headers, body and
    signing are exactly what boto3/aws-cli send; the wire request is captured
    at the 'before-send' event and never leaves the process.
  * "raw" cases call botocore.auth.SigV4Auth on hand-made AWSRequests, to cover
    odd header casing, repeated headers, whitespace, query strings, paths,
    a Date header instead of X-Amz-Date and x-amz-content-sha256.
Each case records the canonical request and string to sign botocore built,
so a failing Swift test can show which line differs.
"""
import base64
import datetime
import json
import os
import uuid
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJHMEUCIQ"

_clock = {"now": None}

# Deterministic amz-sdk-invocation-id values, so re-running rewrites the same file
# (User-Agent still names this machine's OS and Python; it is never signed).
_ids = iter(range(1, 1000))
uuid.uuid4 = lambda: uuid.UUID(int=next(_ids))
_last = {}

# Fix botocore's clock: SigV4Auth.add_auth reads it through this module global.
botocore.auth.get_current_datetime = lambda *a, **k: _clock["now"]

_orig_sts = SigV4Auth.string_to_sign


def _recording_sts(self, request, canonical_request):
    sts = _orig_sts(self, request, canonical_request)
    _last["canonical_request"] = canonical_request
    _last["string_to_sign"] = sts
    return sts


SigV4Auth.string_to_sign = _recording_sts


def at(stamp):
    _clock["now"] = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")


def wire_headers(headers, url):
    """Headers as the HTTP client sends them: botocore's, plus Host (added by urllib3)."""
    out = [[k, v.decode() if isinstance(v, bytes) else str(v)] for k, v in headers.items()]
    if not any(k.lower() == "host" for k, _ in out):
        out.append(["Host", urlsplit(url).netloc])
    return out


def body_bytes(body):
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        return body.read()
    return bytes(body)


def record(name, stamp, region, service, token, method, url, headers, body, note):
    auth_value = dict((k.lower(), v) for k, v in headers)["authorization"]
    parts = urlsplit(url)
    return {
        "name": name,
        "note": note,
        "time": stamp,
        "accessKeyId": ACCESS_KEY,
        "secretAccessKey": SECRET_KEY,
        "sessionToken": token,
        "region": region,
        "service": service,
        "method": method,
        "path": parts.path or "/",
        "query": parts.query,
        "headers": headers,
        "bodyBase64": base64.b64encode(body).decode(),
        "authorization": auth_value,
        "signature": auth_value.rsplit("Signature=", 1)[1],
        "canonicalRequest": _last["canonical_request"],
        "stringToSign": _last["string_to_sign"],
    }


def client_case(name, stamp, region, op, params, token=None, endpoint=None, note=""):
    """One KMS API call through botocore's client stack, captured before sending."""
    at(stamp)
    session = botocore.session.get_session()
    client = session.create_client(
        "kms",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=token,
    )
    captured = {}

    def capture(request, **kwargs):
        captured["req"] = request
        return AWSResponse(request.url, 200, {}, None)

    client.meta.events.register("before-send", capture)
    try:
        getattr(client, op)(**params)
    except Exception:
        pass  # the fake empty response does not parse; the request is what we want
    req = captured["req"]
    return record(name, stamp, region, "kms", token, req.method, req.url,
                  wire_headers(req.headers, req.url), body_bytes(req.body), note)


def raw_case(name, stamp, region, method, url, headers, body=b"", params=None,
             token=None, service="kms", extra_wire=(), note=""):
    """SigV4Auth on a hand-made request; headers is a list so names may repeat."""
    at(stamp)
    req = AWSRequest(method=method, url=url, data=body, params=params or {})
    for k, v in headers:
        req.headers[k] = v  # HTTPHeaders appends, so repeated names are kept
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    SigV4Auth(creds, service, region).add_auth(req)
    prepared = req.prepare()
    # req.headers keeps repeated names (prepared.headers would fold them); extra_wire
    # stands for what the HTTP client adds after signing (Content-Length, User-Agent...).
    wire = wire_headers(req.headers, prepared.url) + [list(h) for h in extra_wire]
    return record(name, stamp, region, service, token, method, prepared.url, wire,
                  body_bytes(prepared.body), note)


KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
JSON11 = "application/x-amz-json-1.1"


def cases():
    yield client_case(
        "client-encrypt", "20261123T120000Z", "us-east-1", "encrypt",
        {"KeyId": KEY_ID, "Plaintext": b"hello world"},
        note="botocore KMS client, default endpoint")
    yield client_case(
        "client-decrypt-local-endpoint", "20261123T121000Z", "eu-west-1", "decrypt",
        {"CiphertextBlob": bytes(range(64)), "EncryptionContext": {"purpose": "test", "ü": "ñ"}},
        endpoint="http://localhost:8443",
        note="self-hosted endpoint with a port in Host, non-ASCII JSON")
    yield client_case(
        "client-generate-data-key-session-token", "20261231T235959Z", "ap-southeast-2",
        "generate_data_key", {"KeyId": "alias/my-key", "KeySpec": "AES_256"},
        token=SESSION_TOKEN, endpoint="http://127.0.0.1:4000",
        note="temporary credentials: X-Amz-Security-Token is signed")
    yield client_case(
        "client-list-keys-empty-params", "20260101T000000Z", "us-west-2", "list_keys", {},
        note="body is {}")
    yield raw_case(
        "raw-mixed-case-extra-headers", "20261123T120000Z", "us-east-1", "POST",
        "https://kms.us-east-1.amazonaws.com/",
        [("X-AMZ-TARGET", "TrentService.Encrypt"),
         ("content-TYPE", JSON11),
         ("X-Custom-Spaces", "  a   b \t c  "),
         ("X-Repeated", "one"), ("x-repeated", " two  words ")],
        body=b'{"KeyId":"alias/x","Plaintext":"aGk="}',
        extra_wire=[("Content-Length", "38"), ("User-Agent", "test-agent/1.0"),
                    ("Accept-Encoding", "identity")],
        note="header names in odd case, repeated header joined with ',', whitespace trimmed and collapsed; unsigned headers on the wire")
    yield raw_case(
        "raw-date-header", "20261123T120000Z", "us-east-1", "POST",
        "https://kms.us-east-1.amazonaws.com/",
        [("X-Amz-Target", "TrentService.ListKeys"), ("Content-Type", JSON11),
         ("Date", "placeholder")],
        body=b"{}",
        note="RFC 2822 Date header instead of X-Amz-Date")
    yield raw_case(
        "raw-content-sha256", "20261123T120000Z", "us-east-1", "POST",
        "https://kms.us-east-1.amazonaws.com/",
        [("X-Amz-Target", "TrentService.ListAliases"), ("Content-Type", JSON11),
         ("X-Amz-Content-SHA256",
          "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")],
        body=b"{}",
        note="client-sent x-amz-content-sha256 equal to the body's hash")
    yield raw_case(
        "raw-unsigned-payload", "20261123T120000Z", "us-east-1", "POST",
        "https://kms.us-east-1.amazonaws.com/",
        [("X-Amz-Target", "TrentService.ListAliases"), ("Content-Type", JSON11),
         ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")],
        body=b'{"Limit":10}',
        note="UNSIGNED-PAYLOAD: body not hashed")
    yield raw_case(
        "raw-get-path-query", "20261123T120000Z", "us-east-1", "GET",
        "https://example.amazonaws.com/a%20b/./c/../%C3%BC%2F/",
        [("X-Amz-Target", "TrentService.ListKeys")],
        params=[("b", "2"), ("a", "z"), ("a", "y"), ("space key", "v w"), ("tilde~", "*"), ("empty", "")],
        note="wire path already percent-encoded: normalised then encoded again; query uses + for space, sorted by key then value")
    yield raw_case(
        "raw-other-service", "20261123T120000Z", "us-east-1", "POST",
        "https://example.amazonaws.com/",
        [("X-Amz-Target", "Foo.Bar"), ("Content-Type", JSON11)],
        body=b"{}", service="service",
        note="service other than kms")


# The AWS SigV4 test suite (aws-sig-v4-test-suite, 2015-08-30 edition): its credentials,
# requests and published signatures. botocore must reproduce them, which also checks
# that they were copied here correctly.
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE = [
    ("suite-get-vanilla", "GET", "https://example.amazonaws.com/", [], b"",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("suite-post-vanilla", "POST", "https://example.amazonaws.com/", [], b"",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("suite-get-vanilla-query-order-key-case", "GET",
     "https://example.amazonaws.com/?Param2=value2&Param1=value1", [], b"",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("suite-post-x-www-form-urlencoded", "POST", "https://example.amazonaws.com/",
     [("Content-Type", "application/x-www-form-urlencoded")], b"Param1=value1",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
]


def suite_cases():
    assert SUITE_SECRET == SECRET_KEY
    for name, method, url, headers, body, published in SUITE:
        case = raw_case(name, "20150830T123600Z", "us-east-1", method, url, headers,
                        body=body, service="service",
                        note="AWS SigV4 test suite vector; signature as published by AWS")
        assert case["signature"] == published, (name, case["signature"])
        yield case


def signing_keys():
    """kSigning for a few scopes, derived by botocore's own HMAC chain."""
    scopes = [("20150830", "us-east-1", "iam"), ("20261123", "us-east-1", "kms"),
              ("20261231", "ap-southeast-2", "kms")]
    for date, region, service in scopes:
        auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, region)
        k = auth._sign(("AWS4" + SECRET_KEY).encode(), date)
        for part in (region, service, "aws4_request"):
            k = auth._sign(k, part)
        yield {"secretAccessKey": SECRET_KEY, "date": date, "region": region,
               "service": service, "keyHex": k.hex()}


# Published in AWS's SigV4 documentation ("derive a signing key" example).
PUBLISHED_IAM_KEY = "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def main():
    keys = list(signing_keys())
    assert keys[0]["keyHex"] == PUBLISHED_IAM_KEY, keys[0]
    out = {"generator": "make_fixtures.py", "botocore": botocore.__version__,
           "cases": list(cases()) + list(suite_cases()),
           "signingKeys": keys}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "botocore_sigv4.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(out['cases'])} cases to {path}")


if __name__ == "__main__":
    main()
