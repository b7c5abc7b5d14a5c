"""SigV4 authentication (raw HTTP with botocore's signer) and --dev mode accounts.

AWS's wording for these errors (the same across JSON-protocol services; see
e.g. botocore/aws-cli issue threads quoting KMS/DynamoDB responses):
  UnrecognizedClientException  "The security token included in the request is invalid."
  InvalidSignatureException    "The request signature we calculated does not match the
                                signature you provided. Check your AWS Secret Access Key
                                and signing method. Consult the service documentation for
                                details."
  InvalidSignatureException    "Signature expired: 20240101T000000Z is now earlier than
                                20240101T000500Z (20240101T001000Z - 5 min.)"
  InvalidSignatureException    "Signature not yet current: 20240101T002000Z is still later
                                than 20240101T001500Z (20240101T001000Z + 5 min.)"
  MissingAuthenticationTokenException (no Authorization header / query signature)
All are HTTP 400 for the JSON protocol.
"""

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError

from kms_harness import (
    DEFAULT_REGION,
    ROOT_ACCOUNT,
    assert_raw_error,
    client_for,
    expect_error,
    key_arn,
    now_utc,
    raw_call,
    send,
    sign_request,
    unique_alias,
)

SIG_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service documentation "
                "for details.")
BAD_TOKEN = "The security token included in the request is invalid."


def test_raw_signed_request_succeeds(server):
    resp = raw_call(server, "ListKeys", {"Limit": 1})
    assert resp.status == 200, resp.body
    body = resp.json
    assert isinstance(body["Keys"], list) and len(body["Keys"]) <= 1
    assert isinstance(body["Truncated"], bool)
    assert resp.headers.get("content-type", "").startswith("application/x-amz-json-1.1")


def test_response_has_request_id(server):
    resp = raw_call(server, "ListKeys", {})
    assert resp.headers.get("x-amzn-requestid"), "AWS JSON services return x-amzn-RequestId"


def test_unknown_access_key(server):
    resp = raw_call(server, "ListKeys", {}, access_key="AKIAUNKNOWNUNKNOWN00",
                    secret_key="0" * 40)
    assert_raw_error(resp, "UnrecognizedClientException")
    assert resp.error_message == BAD_TOKEN


def test_unknown_access_key_boto3(server):
    client = client_for(server.url, DEFAULT_REGION, "AKIAUNKNOWNUNKNOWN00", "0" * 40)
    with expect_error("UnrecognizedClientException", message=BAD_TOKEN):
        client.list_keys()


def test_wrong_secret(server):
    creds = server.root_credentials()
    resp = raw_call(server, "ListKeys", {}, access_key=creds.access_key,
                    secret_key=creds.secret_key[:-1] + ("A" if creds.secret_key[-1] != "A" else "B"))
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == SIG_MISMATCH


def test_wrong_secret_boto3(server):
    creds = server.root_credentials()
    client = client_for(server.url, DEFAULT_REGION, creds.access_key, "wrong" + creds.secret_key)
    with expect_error("InvalidSignatureException", message=SIG_MISMATCH):
        client.list_keys()


def test_body_changed_after_signing(server):
    def mutate(headers, body):
        return headers, body.replace(b'"Limit": 5', b'"Limit": 6')

    resp = raw_call(server, "ListKeys", {"Limit": 5}, mutate=mutate)
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == SIG_MISMATCH


def test_target_changed_after_signing(server):
    def mutate(headers, body):
        headers = dict(headers)
        headers["X-Amz-Target"] = "TrentService.ListAliases"
        return headers, body

    resp = raw_call(server, "ListKeys", {}, mutate=mutate)
    assert_raw_error(resp, "InvalidSignatureException")


def test_signature_tampered(server):
    def mutate(headers, body):
        headers = dict(headers)
        auth = headers["Authorization"]
        last = auth[-1]
        headers["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
        return headers, body

    resp = raw_call(server, "ListKeys", {}, mutate=mutate)
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == SIG_MISMATCH


def test_region_changed_in_scope_after_signing(server):
    # signature was computed for us-east-1; claim eu-west-1 in the credential scope
    def mutate(headers, body):
        headers = dict(headers)
        headers["Authorization"] = headers["Authorization"].replace(f"/{DEFAULT_REGION}/", "/eu-west-1/")
        return headers, body

    resp = raw_call(server, "ListKeys", {}, mutate=mutate)
    assert_raw_error(resp, "InvalidSignatureException")


def _skewed(minutes):
    return (now_utc() + dt.timedelta(minutes=minutes)).replace(microsecond=0)


def test_signature_expired(server):
    when = _skewed(-10)
    resp = raw_call(server, "ListKeys", {}, when=when)
    assert_raw_error(resp, "InvalidSignatureException")
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    assert resp.error_message.startswith(f"Signature expired: {stamp} is now earlier than "), resp.error_message


def test_signature_not_yet_current(server):
    when = _skewed(10)
    resp = raw_call(server, "ListKeys", {}, when=when)
    assert_raw_error(resp, "InvalidSignatureException")
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    assert resp.error_message.startswith(f"Signature not yet current: {stamp} is still later than "), \
        resp.error_message


def test_small_clock_skew_accepted(server):
    resp = raw_call(server, "ListKeys", {}, when=_skewed(-2))
    assert resp.status == 200, resp.body
    resp = raw_call(server, "ListKeys", {}, when=_skewed(2))
    assert resp.status == 200, resp.body


def test_missing_authorization(server):
    resp = raw_call(server, "ListKeys", {}, sign=False)
    assert_raw_error(resp, "MissingAuthenticationTokenException")


def test_garbage_authorization_header(server):
    def mutate(headers, body):
        headers = dict(headers)
        headers["Authorization"] = "AWS4-HMAC-SHA256 garbage"
        return headers, body

    resp = raw_call(server, "ListKeys", {}, mutate=mutate)
    assert resp.status == 400, resp.body
    # AWS answers IncompleteSignatureException for an unparsable Authorization header
    assert resp.error_code == "IncompleteSignatureException", resp.body


def test_missing_date_header(server):
    def mutate(headers, body):
        headers = {k: v for k, v in headers.items() if k.lower() != "x-amz-date"}
        return headers, body

    resp = raw_call(server, "ListKeys", {}, mutate=mutate)
    assert resp.status == 400, resp.body
    assert resp.error_code in ("IncompleteSignatureException", "InvalidSignatureException",
                               "MissingAuthenticationTokenException"), resp.body


def test_wrong_service_in_scope(server):
    creds = server.root_credentials()
    req = sign_request(server.url, "TrentService.ListKeys", b"{}", DEFAULT_REGION,
                       creds.access_key, creds.secret_key, service="s3")
    resp = send(server.url, {str(k): str(v) for k, v in req.headers.items()}, b"{}")
    assert resp.status == 400, resp.body
    assert resp.error_code == "InvalidSignatureException", resp.body


def test_error_never_echoes_secret(server):
    creds = server.root_credentials()
    resp = raw_call(server, "ListKeys", {}, access_key=creds.access_key, secret_key="not-the-secret")
    assert creds.secret_key.encode() not in resp.body


def test_server_alive_after_auth_failures(kms):
    assert kms.list_keys()["ResponseMetadata"]["HTTPStatusCode"] == 200


# ---------------------------------------------------------------------------
# Root credentials
# ---------------------------------------------------------------------------

def test_root_credentials_file(server):
    creds = server.root_credentials()
    assert creds.access_key.startswith("AKIA") and len(creds.access_key) == 20
    assert creds.access_key.isalnum() and creds.access_key.upper() == creds.access_key
    assert len(creds.secret_key) >= 32
    assert creds.account_id == ROOT_ACCOUNT


def test_root_key_belongs_to_root_account(kms):
    md = kms.create_key()["KeyMetadata"]
    assert md["AWSAccountId"] == ROOT_ACCOUNT
    assert md["Arn"] == key_arn(DEFAULT_REGION, ROOT_ACCOUNT, md["KeyId"])


# ---------------------------------------------------------------------------
# --dev mode
# ---------------------------------------------------------------------------

def test_dev_mode_accepts_any_signature(dev_server):
    client = client_for(dev_server.url, DEFAULT_REGION, "AKIAANYTHINGATALL000", "whatever")
    md = client.create_key()["KeyMetadata"]
    # non-12-digit access key -> the dev account (default 000000000000)
    assert md["AWSAccountId"] == ROOT_ACCOUNT
    other_secret = client_for(dev_server.url, DEFAULT_REGION, "AKIAANYTHINGATALL000", "different")
    assert other_secret.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyId"] == md["KeyId"]


def test_dev_mode_raw_request_with_bad_signature(dev_server):
    resp = raw_call(dev_server, "ListKeys", {}, access_key="AKIAANYTHINGATALL000", secret_key="x",
                    mutate=lambda h, b: ({**h, "Authorization": h["Authorization"][:-4] + "0000"}, b))
    assert resp.status == 200, resp.body


def test_dev_mode_account_isolation(dev_server):
    a = client_for(dev_server.url, DEFAULT_REGION, "111122223333", "x")
    b = client_for(dev_server.url, DEFAULT_REGION, "444455556666", "y")
    ka = a.create_key(Description="account a")["KeyMetadata"]
    kb = b.create_key(Description="account b")["KeyMetadata"]
    assert ka["AWSAccountId"] == "111122223333"
    assert ka["Arn"] == key_arn(DEFAULT_REGION, "111122223333", ka["KeyId"])
    assert kb["AWSAccountId"] == "444455556666"
    ids_a = {k["KeyId"] for p in a.get_paginator("list_keys").paginate() for k in p["Keys"]}
    ids_b = {k["KeyId"] for p in b.get_paginator("list_keys").paginate() for k in p["Keys"]}
    assert ka["KeyId"] in ids_a and ka["KeyId"] not in ids_b
    assert kb["KeyId"] in ids_b and kb["KeyId"] not in ids_a
    with expect_error("NotFoundException",
                      message=f"Key '{key_arn(DEFAULT_REGION, '444455556666', ka['KeyId'])}' does not exist"):
        b.describe_key(KeyId=ka["KeyId"])
    # ciphertext of account a is useless to account b
    blob = a.encrypt(KeyId=ka["KeyId"], Plaintext=b"a's secret")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        b.decrypt(CiphertextBlob=blob)
    assert exc.value.response["Error"]["Code"] in ("NotFoundException", "InvalidCiphertextException",
                                                   "AccessDeniedException")
    assert b"a's secret" not in json.dumps(exc.value.response, default=str).encode()
    # aliases are per account too: the same name can exist in both
    name = unique_alias("acct")
    a.create_alias(AliasName=name, TargetKeyId=ka["KeyId"])
    with expect_error("NotFoundException"):
        b.describe_key(KeyId=name)
    b.create_alias(AliasName=name, TargetKeyId=kb["KeyId"])
    assert a.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == ka["KeyId"]
    assert b.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == kb["KeyId"]


def test_dev_mode_account_and_region_scoping(dev_server):
    us = client_for(dev_server.url, "us-east-1", "111122223333", "x")
    eu = client_for(dev_server.url, "eu-west-1", "111122223333", "x")
    k = eu.create_key()["KeyMetadata"]
    assert k["Arn"] == key_arn("eu-west-1", "111122223333", k["KeyId"])
    with expect_error("NotFoundException"):
        us.describe_key(KeyId=k["KeyId"])


@pytest.mark.restart
def test_dev_account_flag(server_factory):
    srv = server_factory(dev=True, extra_args=["--dev-account", "123456789012"])
    client = client_for(srv.url, DEFAULT_REGION, "not-twelve-digits", "x")
    md = client.create_key()["KeyMetadata"]
    assert md["AWSAccountId"] == "123456789012"
    explicit = client_for(srv.url, DEFAULT_REGION, "123456789012", "x")
    assert explicit.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyId"] == md["KeyId"]


# ---------------------------------------------------------------------------
# What the signature must cover (issue 7, section 4), refused before any
# canonicalization; and credential scopes for regions that do not exist (section 6)
# ---------------------------------------------------------------------------

def _not_signed(name):
    return f"'{name}' must be a 'SignedHeader' in the AWS Authorization."


SIGNED_HEADERS_MALFORMED = "The SignedHeaders list must name each header once, in lower case, sorted by name."


def _with_signed_headers(signed_list):
    def mutate(headers, body):
        headers = dict(headers)
        auth = headers["Authorization"]
        start = auth.index("SignedHeaders=") + len("SignedHeaders=")
        end = auth.index(",", start)
        headers["Authorization"] = auth[:start] + signed_list + auth[end:]
        return headers, body
    return mutate


def send_pairs(url, pairs, body):
    """Like kms_harness.send, but headers as a list of pairs, so a name may repeat."""
    import http.client
    hostport = url.split("://", 1)[1]
    host, port = hostport.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        for k, v in pairs:
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        conn.send(body)
        resp = conn.getresponse()
        from kms_harness import RawResponse
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def _signed_pairs(server, body=b"{}", target="TrentService.ListKeys", extra=None, region=DEFAULT_REGION):
    creds = server.root_credentials()
    req = sign_request(server.url, target, body, region, creds.access_key, creds.secret_key,
                       extra_headers=extra)
    pairs = [(str(k), str(v)) for k, v in req.headers.items()]
    if not any(k.lower() == "host" for k, _ in pairs):  # botocore signs the URL's host without adding it
        pairs.append(("Host", server.url.split("://", 1)[1]))
    return pairs


def test_unsigned_amz_header_refused(server):
    resp = raw_call(server, "ListKeys", {}, mutate=lambda h, b: ({**h, "X-Amz-Extra": "1"}, b))
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == _not_signed("x-amz-extra")


def test_unsigned_security_token_refused(server):
    resp = raw_call(server, "ListKeys", {}, mutate=lambda h, b: ({**h, "X-Amz-Security-Token": "tok"}, b))
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == _not_signed("x-amz-security-token")


def test_unsigned_content_type_refused(server):
    # Signed by botocore without Content-Type, which is then added on the wire.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    creds = server.root_credentials()
    req = AWSRequest(method="POST", url=server.url + "/", data=b"{}",
                     headers={"X-Amz-Target": "TrentService.ListKeys"})
    SigV4Auth(Credentials(creds.access_key, creds.secret_key), "kms", DEFAULT_REGION).add_auth(req)
    headers = {str(k): str(v) for k, v in req.headers.items()}
    assert "content-type" not in headers["Authorization"]
    headers["Content-Type"] = "application/x-amz-json-1.1"
    resp = send(server.url, headers, b"{}")
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == _not_signed("content-type")


def test_unsigned_target_refused(server):
    # SignedHeaders without x-amz-target: refused for coverage, before the signature is compared.
    resp = raw_call(server, "ListKeys", {}, mutate=_with_signed_headers("content-type;host;x-amz-date"))
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == _not_signed("x-amz-target")


def test_unsigned_payload_refused(server):
    creds = server.root_credentials()
    req = sign_request(server.url, "TrentService.ListKeys", b"{}", DEFAULT_REGION, creds.access_key,
                       creds.secret_key, extra_headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    headers = {str(k): str(v) for k, v in req.headers.items()}
    assert "x-amz-content-sha256" in headers["Authorization"]
    resp = send(server.url, headers, b"{}")
    assert_raw_error(resp, "InvalidSignatureException")
    assert "UNSIGNED-PAYLOAD is not accepted" in resp.error_message


def test_signed_content_sha256_accepted(server):
    import hashlib
    body = b'{"Limit": 1}'
    creds = server.root_credentials()
    req = sign_request(server.url, "TrentService.ListKeys", body, DEFAULT_REGION, creds.access_key,
                       creds.secret_key, extra_headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    resp = send(server.url, {str(k): str(v) for k, v in req.headers.items()}, body)
    assert resp.status == 200, resp.body


@pytest.mark.parametrize("signed_list", [
    "content-type;host;host;x-amz-date;x-amz-target",
    "content-type;host;HOST;x-amz-date;x-amz-target",
    "host;content-type;x-amz-date;x-amz-target",
    "content-type;host;x-amz-target;x-amz-date",
])
def test_malformed_signed_headers_refused(server, signed_list):
    resp = raw_call(server, "ListKeys", {}, mutate=_with_signed_headers(signed_list))
    assert_raw_error(resp, "IncompleteSignatureException")
    assert resp.error_message == SIGNED_HEADERS_MALFORMED


def test_blown_up_signed_headers_refused(server, kms):
    # Issue 7's probe: one 4 KB header named 2000 times in SignedHeaders, within a 16 KiB head,
    # would have the server build and hash a canonical request of ~8 MB. Refused on parse.
    big = "v" * 4000
    blown = "content-type;host;" + ";".join(["x-b"] * 2000) + ";x-amz-date;x-amz-target"
    resp = raw_call(server, "ListKeys", {},
                    mutate=lambda h, b: _with_signed_headers(blown)({**h, "X-B": big}, b))
    assert_raw_error(resp, "IncompleteSignatureException")
    assert resp.error_message == SIGNED_HEADERS_MALFORMED
    assert kms.list_keys(Limit=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_too_many_signed_headers_refused(server):
    names = ";".join(f"x-h{1000 + i}" for i in range(200))
    resp = raw_call(server, "ListKeys", {},
                    mutate=_with_signed_headers("content-type;host;" + names + ";x-amz-date;x-amz-target"))
    assert_raw_error(resp, "IncompleteSignatureException")
    assert resp.error_message == "The SignedHeaders list names more than 128 headers."


@pytest.mark.parametrize("name,value", [
    ("X-Amz-Target", "TrentService.ScheduleKeyDeletion"),
    ("x-amz-date", "20200101T000000Z"),
    ("Content-Type", "text/plain"),
    ("Host", "elsewhere.example"),
])
def test_repeated_signed_header_refused(server, name, value):
    pairs = _signed_pairs(server) + [(name, value)]
    resp = send_pairs(server.url, pairs, b"{}")
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == f"The request has more than one '{name.lower()}' header."


def test_repeated_authorization_refused(server):
    pairs = _signed_pairs(server)
    auth = next(v for k, v in pairs if k.lower() == "authorization")
    resp = send_pairs(server.url, pairs + [("Authorization", auth)], b"{}")
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == "The request has more than one 'authorization' header."


def test_repeated_unsigned_header_is_harmless(server):
    pairs = _signed_pairs(server) + [("User-Agent", "one"), ("User-Agent", "two")]
    resp = send_pairs(server.url, pairs, b"{}")
    assert resp.status == 200, resp.body


def _bad_region_message(region):
    return f"Credential should be scoped to a valid region, not '{region}'. "


@pytest.mark.parametrize("region", ["us:222222222222", "mars-north-1", "US-EAST-1", "us-east-1.x"])
def test_invalid_region_refused(server, region):
    resp = raw_call(server, "CreateKey", {}, region=region)
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == _bad_region_message(region)


def test_invalid_region_refused_boto3(server):
    creds = server.root_credentials()
    client = client_for(server.url, "mars-north-1", creds.access_key, creds.secret_key)
    with expect_error("InvalidSignatureException", message=_bad_region_message("mars-north-1")):
        client.create_key()


def test_real_regions_accepted(server):
    for region in ("ap-southeast-2", "us-gov-west-1", "cn-northwest-1", "eu-isoe-west-1"):
        resp = raw_call(server, "ListKeys", {"Limit": 1}, region=region)
        assert resp.status == 200, (region, resp.body)


def test_invalid_region_refused_in_dev_mode(dev_server):
    # The probe: no signature at all, region us:222222222222 stored a key.
    resp = raw_call(dev_server, "CreateKey", {}, region="us:222222222222", access_key="222222222222",
                    secret_key="x")
    assert_raw_error(resp, "InvalidSignatureException")
    assert resp.error_message == _bad_region_message("us:222222222222")
    client = client_for(dev_server.url, DEFAULT_REGION, "222222222222", "x")
    for page in client.get_paginator("list_keys").paginate():
        for k in page["Keys"]:
            assert ":us:" not in k["KeyArn"]
