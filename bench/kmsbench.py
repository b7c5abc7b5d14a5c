#!/usr/bin/env python3
"""Helpers for bench/run.sh (swift-kms benchmark).

Subcommands (all state lives in files under the run's work directory):

  freeport                      print a free TCP port on 127.0.0.1
  ops                           list the known operations
  prepare  --endpoint --credentials --ops --state
                                create the keys/ciphertexts the operations need
                                (boto3); records per-op readiness in --state
  nginx-request --port --out    write a request of the same shape as the KMS
                                ones (dummy signature) for the nginx baseline
  sign     --state --op --out   write a freshly SigV4-signed request for one
                                operation and replay it once (preflight);
                                exit 3 = op skipped, 4 = preflight failed
  record-run / record-skip / record-raw / report
                                accumulate results and print the final table

Operations are data-driven: add an entry to OPS (a function returning
(target, body) from the prepared fixtures, plus the fixtures it needs).
"""

import argparse
import base64
import configparser
import http.client
import json
import os
import platform
import re
import socket
import statistics
import sys

REGION = "us-east-1"
SERVICE = "kms"
CONTENT_TYPE = "application/x-amz-json-1.1"

EXIT_SKIPPED = 3
EXIT_PREFLIGHT_FAILED = 4


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------
# Fixtures: things created once through boto3 before the wrk runs.
# Each returns a dict merged into state["fixtures"]. `optional` fixtures
# failing means "the server does not support this yet" -> ops skipped.
# --------------------------------------------------------------------------

def fx_symmetric_key(client, fx):
    resp = client.create_key(Description="swift-kms bench symmetric key")
    return {"symmetric_key": resp["KeyMetadata"]["KeyId"]}


def fx_ciphertext(client, fx):
    plaintext = os.urandom(64)
    resp = client.encrypt(KeyId=fx["symmetric_key"], Plaintext=plaintext)
    return {"plaintext_b64": b64(plaintext),
            "ciphertext_b64": b64(resp["CiphertextBlob"])}


def _fx_signing_key(spec):
    def create(client, fx):
        resp = client.create_key(Description=f"swift-kms bench {spec} key",
                                 KeySpec=spec, KeyUsage="SIGN_VERIFY")
        key_id = resp["KeyMetadata"]["KeyId"]
        out = {f"sign_key_{spec}": key_id}
        # The public key lets the preflight verify the server's signature.
        # Optional: without GetPublicKey the check is skipped, not the op.
        try:
            pub = client.get_public_key(KeyId=key_id)["PublicKey"]
            out[f"public_key_{spec}"] = b64(pub)
        except Exception as e:  # noqa: BLE001
            out[f"public_key_{spec}_error"] = describe_exc(e)
        return out
    return create


def fx_policy_key(client, fx):
    """A key under a key policy of ten statements with conditions (issue 10): every
    statement is weighed on each Encrypt, as the default policy's single one is."""
    acct = client.describe_key(KeyId=fx["symmetric_key"])["KeyMetadata"]["AWSAccountId"]
    root = {"AWS": f"arn:aws:iam::{acct}:root"}
    st = [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": root, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": root, "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": acct}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": "forbidden"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringNotEquals": {"kms:EncryptionAlgorithm": ["SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"]}}},
        {"Effect": "Allow", "Principal": root, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "tenant*"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/stage": "frozen"}}},
        {"Effect": "Allow", "Principal": root, "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringLike": {"kms:RequestAlias": "alias/app*"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
         "Condition": {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": "14"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}},
    ]
    resp = client.create_key(Description="swift-kms bench 10-statement policy key",
                             Policy=json.dumps({"Version": "2012-10-17", "Statement": st}),
                             Tags=[{"TagKey": "stage", "TagValue": "bench"}])
    return {"policy_key": resp["KeyMetadata"]["KeyId"]}


def fx_identity_user(client, fx):
    """An IAM user (created through the IAM API as the root) whose identity policy allows
    Encrypt under conditions: Encrypt:policy10+identity signs as this user, so the ten-statement
    key policy delegates to the account and the identity policy is weighed on every request."""
    import boto3
    frozen = client._request_signer._credentials.get_frozen_credentials()
    iam = boto3.client("iam", endpoint_url=client.meta.endpoint_url, region_name="us-east-1",
                       aws_access_key_id=frozen.access_key, aws_secret_access_key=frozen.secret_key,
                       aws_session_token=frozen.token)
    name = f"bench-{os.urandom(4).hex()}"
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "EncryptOnly", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                       "Bool": {"aws:SecureTransport": ["true", "false"]}}},
        {"Sid": "NoDecryptOfOthers", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "bench"}}},
        {"Sid": "NoAdmin", "Effect": "Deny", "NotAction": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
         "Resource": "*"},
    ]}
    iam.put_user_policy(UserName=name, PolicyName="bench-encrypt", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    # The state file (mode 0600, save_json) keeps the user's secret for signing.
    return {"identity_user": name, "identity_user_credentials": [key["AccessKeyId"], key["SecretAccessKey"]]}


def op_encrypt_policy10(fx):
    return "TrentService.Encrypt", {"KeyId": fx["policy_key"], "Plaintext": b64(os.urandom(64))}


FIXTURES = {
    # name: (function, dependencies, optional)
    "policy_key": (fx_policy_key, ["symmetric_key"], True),
    "symmetric_key": (fx_symmetric_key, [], False),
    "ciphertext": (fx_ciphertext, ["symmetric_key"], False),
    "identity_user": (fx_identity_user, [], True),
    "sign_key_ECC_NIST_P256": (_fx_signing_key("ECC_NIST_P256"), [], True),
    "sign_key_RSA_2048": (_fx_signing_key("RSA_2048"), [], True),
}


# --------------------------------------------------------------------------
# Operations: name -> builder(fixtures) -> (X-Amz-Target, body dict),
# the fixtures they need, and a check of the preflight response.
# --------------------------------------------------------------------------

# Fresh random payloads per signing are fine: the request is replayed as-is.

def op_encrypt(fx):
    return "TrentService.Encrypt", {"KeyId": fx["symmetric_key"],
                                    "Plaintext": b64(os.urandom(64))}


def op_decrypt(fx):
    return "TrentService.Decrypt", {"CiphertextBlob": fx["ciphertext_b64"]}


def op_generate_data_key(fx):
    return "TrentService.GenerateDataKey", {"KeyId": fx["symmetric_key"],
                                            "KeySpec": "AES_256"}


def _op_sign(spec, algorithm):
    def build(fx):
        return "TrentService.Sign", {"KeyId": fx[f"sign_key_{spec}"],
                                     "Message": b64(os.urandom(32)),
                                     "MessageType": "RAW",
                                     "SigningAlgorithm": algorithm}
    return build


def _check_signature(spec, algorithm):
    """Verify the preflight Sign response with the key's public key."""
    def check(resp, fx, body_obj):
        pub_b64 = fx.get(f"public_key_{spec}")
        if pub_b64 is None:
            return None  # GetPublicKey not available: presence check only
        try:
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec, padding
        except ImportError:
            return None
        from cryptography.exceptions import InvalidSignature
        try:
            pub = serialization.load_der_public_key(base64.b64decode(pub_b64))
        except ValueError as e:
            return f"GetPublicKey returned an unparsable key: {e}"
        msg = base64.b64decode(body_obj["Message"])
        sig = base64.b64decode(resp["Signature"])
        try:
            if algorithm == "ECDSA_SHA_256":
                pub.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
            elif algorithm == "RSASSA_PSS_SHA_256":
                # KMS uses a salt as long as the digest.
                pub.verify(sig, msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                 salt_length=32), hashes.SHA256())
            else:
                return None
        except InvalidSignature:
            return f"the {algorithm} signature does not verify with the key's public key"
        return None
    return check


def check_decrypt(resp, fx, body_obj):
    if resp.get("Plaintext") != fx["plaintext_b64"]:
        return "Decrypt returned a different plaintext than was encrypted"
    return None


OPS = {
    "Encrypt": {"build": op_encrypt, "needs": ["symmetric_key"],
                "expect": ["CiphertextBlob"]},
    "Decrypt": {"build": op_decrypt, "needs": ["ciphertext"],
                "expect": ["Plaintext"], "check": check_decrypt},
    "GenerateDataKey": {"build": op_generate_data_key, "needs": ["symmetric_key"],
                        "expect": ["Plaintext", "CiphertextBlob"]},
    "Sign:ECC_NIST_P256": {"build": _op_sign("ECC_NIST_P256", "ECDSA_SHA_256"),
                           "needs": ["sign_key_ECC_NIST_P256"],
                           "expect": ["Signature"],
                           "check": _check_signature("ECC_NIST_P256", "ECDSA_SHA_256")},
    "Sign:RSA_2048": {"build": _op_sign("RSA_2048", "RSASSA_PSS_SHA_256"),
                      "needs": ["sign_key_RSA_2048"],
                      "expect": ["Signature"],
                      "check": _check_signature("RSA_2048", "RSASSA_PSS_SHA_256")},
    # Encrypt under a ten-statement conditional key policy, next to Encrypt under the default.
    "Encrypt:policy10": {"build": op_encrypt_policy10, "needs": ["policy_key"],
                         "expect": ["CiphertextBlob"]},
    # The same key and request, signed by an IAM user whose identity policy (with conditions)
    # must allow too: the issue-10 row, against the default-policy root Encrypt.
    "Encrypt:policy10+identity": {"build": op_encrypt_policy10, "needs": ["policy_key", "identity_user"],
                                  "signer": "identity_user_credentials", "expect": ["CiphertextBlob"]},
}
DEFAULT_OPS = list(OPS)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        if default is not None:
            return default
        raise


def save_json(path, data):
    tmp = path + ".tmp"
    # 0600: a prepared state may hold an IAM user's secret (fx_identity_user).
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def read_credentials(path):
    cp = configparser.ConfigParser()
    if not cp.read(path):
        raise SystemExit(f"cannot read credentials file {path}")
    if "default" not in cp:
        raise SystemExit(f"{path}: no [default] section")
    sec = cp["default"]
    try:
        creds = (sec["aws_access_key_id"].strip(), sec["aws_secret_access_key"].strip())
    except KeyError as e:
        raise SystemExit(f"{path}: missing {e}")
    # Temporary credentials (STS) carry a session token, signed as X-Amz-Security-Token.
    token = sec.get("aws_session_token", "").strip()
    return creds + (token,) if token else creds


def boto_client(endpoint, creds_path):
    import boto3
    from botocore.config import Config
    ak, sk, *token = read_credentials(creds_path)
    return boto3.client(
        "kms", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=ak, aws_secret_access_key=sk, aws_session_token=(token or [None])[0],
        config=Config(retries={"max_attempts": 1, "mode": "standard"},
                      connect_timeout=5, read_timeout=30))


def describe_exc(e):
    """A precise one-line description of a boto3/botocore failure."""
    try:
        from botocore.exceptions import ClientError
        if isinstance(e, ClientError):
            err = e.response.get("Error", {})
            meta = e.response.get("ResponseMetadata", {})
            return (f"HTTP {meta.get('HTTPStatusCode')} {err.get('Code')}: "
                    f"{err.get('Message')}")
    except ImportError:
        pass
    return f"{type(e).__name__}: {e}"


def parse_ops(spec):
    if not spec or spec == "all":
        return list(DEFAULT_OPS)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    lower = {k.lower(): k for k in OPS}
    out = []
    for n in names:
        key = lower.get(n.lower())
        if key is None:
            # allow "Sign" as shorthand for all Sign variants
            matches = [k for k in OPS if k.lower().startswith(n.lower() + ":")]
            if not matches:
                raise SystemExit(f"unknown operation {n!r}; known: {', '.join(OPS)}")
            out.extend(m for m in matches if m not in out)
        elif key not in out:
            out.append(key)
    return out


# --------------------------------------------------------------------------
# subcommands
# --------------------------------------------------------------------------

def cmd_freeport(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_ops(args):
    for name in OPS:
        print(name)


def cmd_prepare(args):
    ops = parse_ops(args.ops)
    client = boto_client(args.endpoint, args.credentials)
    fixtures, fixture_errors, done = {}, {}, set()

    def ensure(name):
        if name in done:
            return True
        if name in fixture_errors:
            return False
        fn, deps, _optional = FIXTURES[name]
        for d in deps:
            if not ensure(d):
                fixture_errors[name] = f"depends on {d}: {fixture_errors[d]}"
                return False
        try:
            fixtures.update(fn(client, fixtures))
            done.add(name)
            return True
        except Exception as e:  # noqa: BLE001 - reported precisely below
            fixture_errors[name] = describe_exc(e)
            return False

    op_state = {}
    for op in ops:
        missing = [n for n in OPS[op]["needs"] if not ensure(n)]
        if not missing:
            op_state[op] = {"status": "ready"}
            continue
        optional = all(FIXTURES[n][2] for n in missing)
        reason = "; ".join(f"{n}: {fixture_errors[n]}" for n in missing)
        op_state[op] = {"status": "skipped" if optional else "failed",
                        "reason": reason}

    save_json(args.state, {"endpoint": args.endpoint,
                           "credentials": args.credentials,
                           "ops": op_state, "fixtures": fixtures})
    for op in ops:
        st = op_state[op]
        if st["status"] == "ready":
            print(f"  {op}: ready")
        elif st["status"] == "skipped":
            print(f"  {op}: skipped (not supported yet) -- {st['reason']}")
        else:
            print(f"  {op}: SETUP FAILED -- {st['reason']}")


def write_request_file(path, method, req_path, headers, body: bytes):
    with open(path, "wb") as f:
        f.write(f"{method}\n{req_path}\n".encode())
        for k, v in headers.items():
            if "\n" in str(v) or "\r" in str(v):
                raise SystemExit(f"header {k} contains a newline")
            f.write(f"{k}: {v}\n".encode())
        f.write(b"\n")
        f.write(body)


def signed_request(endpoint, creds, target, body_obj):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from urllib.parse import urlsplit

    body = json.dumps(body_obj, separators=(",", ":")).encode()
    host = urlsplit(endpoint).netloc
    req = AWSRequest(method="POST", url=endpoint.rstrip("/") + "/", data=body,
                     headers={"Host": host,
                              "Content-Type": CONTENT_TYPE,
                              "X-Amz-Target": target})
    SigV4Auth(Credentials(*creds), SERVICE, REGION).add_auth(req)
    headers = {k: v for k, v in req.headers.items()}
    return headers, body


def preflight(endpoint, headers, body, cafile=None):
    """Replay the exact request once; return (status, body_bytes)."""
    from urllib.parse import urlsplit
    u = urlsplit(endpoint)
    if u.scheme == "https":  # the TLS run: verify the server against the bench's own CA
        import ssl
        ctx = ssl.create_default_context(cafile=cafile)
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=15, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    try:
        conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def cmd_sign(args):
    state = load_json(args.state)
    op = args.op
    st = state["ops"].get(op)
    if st is None:
        raise SystemExit(f"operation {op} was not prepared")
    if st["status"] == "skipped":
        print(st["reason"])
        return EXIT_SKIPPED
    if st["status"] != "ready":
        print(f"setup failed: {st['reason']}")
        return EXIT_PREFLIGHT_FAILED
    spec = OPS[op]
    fx = state["fixtures"]
    target, body_obj = spec["build"](fx)
    creds = read_credentials(state["credentials"])
    if spec.get("signer"):  # signed by another identity the fixtures created
        creds = tuple(fx[spec["signer"]])
    endpoint = args.endpoint or state["endpoint"]  # --endpoint: the same keys on another listener (TLS)
    headers, body = signed_request(endpoint, creds, target, body_obj)
    write_request_file(args.out, "POST", "/", headers, body)
    if args.no_preflight:
        return 0
    try:
        status, resp_body = preflight(endpoint, headers, body, cafile=args.cafile)
    except Exception as e:  # noqa: BLE001
        print(f"preflight request failed: {type(e).__name__}: {e}")
        return EXIT_PREFLIGHT_FAILED
    text = resp_body.decode("utf-8", "replace")
    if status != 200:
        print(f"preflight: HTTP {status}: {text[:600]}")
        return EXIT_PREFLIGHT_FAILED
    try:
        resp = json.loads(text)
    except ValueError:
        print(f"preflight: HTTP 200 but body is not JSON: {text[:600]}")
        return EXIT_PREFLIGHT_FAILED
    missing = [k for k in spec.get("expect", []) if k not in resp]
    if missing:
        print(f"preflight: HTTP 200 but response lacks {missing}: {text[:600]}")
        return EXIT_PREFLIGHT_FAILED
    check = spec.get("check")
    if check:
        problem = check(resp, fx, body_obj)
        if problem:
            print(f"preflight: {problem}")
            return EXIT_PREFLIGHT_FAILED
    return 0


def cmd_session_credentials(args):
    """Temporary credentials for the prepared state's root (STS GetSessionToken, one hour),
    and a copy of the state that signs with them: Encrypt with a session token against the
    same keys and the long-term key, in the same run."""
    import boto3
    state = load_json(args.state)
    ak, sk, *_ = read_credentials(state["credentials"])
    sts = boto3.client("sts", endpoint_url=state["endpoint"], region_name=REGION,
                       aws_access_key_id=ak, aws_secret_access_key=sk)
    try:
        c = sts.get_session_token(DurationSeconds=3600)["Credentials"]
    except Exception as e:  # noqa: BLE001
        print(f"GetSessionToken failed: {describe_exc(e)}")
        return EXIT_PREFLIGHT_FAILED
    fd = os.open(args.credentials_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("[default]\n"
                 f"aws_access_key_id = {c['AccessKeyId']}\n"
                 f"aws_secret_access_key = {c['SecretAccessKey']}\n"
                 f"aws_session_token = {c['SessionToken']}\n")
    state["credentials"] = args.credentials_out
    save_json(args.out_state, state)
    return 0


def cmd_rotated_seed(args):
    """A seed file (--seed) holding one symmetric key with 1 + ROTATIONS materials: the server
    stores it as a key rotated ROTATIONS times (each later material an AUTOMATIC rotation, as
    local-kms's BackingKeys are read). Mode 0600: the server reads secrets only from such a file."""
    materials = "\n".join(f"      - hex:{os.urandom(32).hex()}" for _ in range(args.rotations + 1))
    text = ("Keys:\n"
            f"  - KeyId: {args.key_id}\n"
            "    Description: swift-kms bench key rotated before the run\n"
            "    KeyMaterials:\n"
            f"{materials}\n")
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return 0


def cmd_retarget(args):
    """A copy of a prepared state whose symmetric key is KEY_ID (the seeded, rotated key), after
    checking through the API that the key has exactly ROTATIONS rotations."""
    import boto3
    state = load_json(args.state)
    ak, sk, *_ = read_credentials(state["credentials"])
    client = boto3.client("kms", endpoint_url=state["endpoint"], region_name=REGION,
                          aws_access_key_id=ak, aws_secret_access_key=sk)
    count, marker = 0, None
    while True:
        page = client.list_key_rotations(KeyId=args.key_id, **({"Marker": marker} if marker else {}))
        count += len(page["Rotations"])
        if not page.get("Truncated"):
            break
        marker = page["NextMarker"]
    if count != args.rotations:
        print(f"key {args.key_id} has {count} rotations, not {args.rotations}")
        return EXIT_PREFLIGHT_FAILED
    state["fixtures"]["symmetric_key"] = args.key_id
    save_json(args.out_state, state)
    return 0


def cmd_xks_retarget(args):
    """A copy of a prepared state whose symmetric key is an EXTERNAL_KEY_STORE key (issue 14):
    creates and connects an external key store at https://localhost (the server reaches the
    proxy through --xks-proxy-connect-to) and a key on the proxy's external key XKS_KEY_ID."""
    import boto3
    state = load_json(args.state)
    ak, sk, *_ = read_credentials(state["credentials"])
    client = boto3.client("kms", endpoint_url=state["endpoint"], region_name=REGION,
                          aws_access_key_id=ak, aws_secret_access_key=sk)
    store = client.create_custom_key_store(
        CustomKeyStoreName="bench-xks", CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyUriEndpoint="https://localhost", XksProxyUriPath="/kms/xks/v1", XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyAuthenticationCredential={"AccessKeyId": args.access_key_id, "RawSecretAccessKey": args.secret})
    client.connect_custom_key_store(CustomKeyStoreId=store["CustomKeyStoreId"])
    state_now = client.describe_custom_key_stores(CustomKeyStoreId=store["CustomKeyStoreId"])["CustomKeyStores"][0]
    if state_now["ConnectionState"] != "CONNECTED":
        print(f"external key store not connected: {state_now.get('ConnectionErrorCode')}")
        return EXIT_PREFLIGHT_FAILED
    key = client.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store["CustomKeyStoreId"],
                            XksKeyId=args.xks_key_id)["KeyMetadata"]["KeyId"]
    client.decrypt(CiphertextBlob=client.encrypt(KeyId=key, Plaintext=b"preflight")["CiphertextBlob"])
    state["fixtures"]["symmetric_key"] = key
    save_json(args.out_state, state)
    return 0


def cmd_cloudhsm_retarget(args):
    """A copy of a prepared state whose symmetric key is an AWS_CLOUDHSM key (issue 14):
    creates and connects a CloudHSM key store on the cluster the server maps onto a PKCS#11
    token (--pkcs11-cluster), and a key generated in that token."""
    import boto3
    state = load_json(args.state)
    ak, sk, *_ = read_credentials(state["credentials"])
    client = boto3.client("kms", endpoint_url=state["endpoint"], region_name=REGION,
                          aws_access_key_id=ak, aws_secret_access_key=sk)
    with open(args.trust_anchor) as fh:
        anchor = fh.read()
    store = client.create_custom_key_store(CustomKeyStoreName="bench-cloudhsm", CloudHsmClusterId=args.cluster_id,
                                           TrustAnchorCertificate=anchor, KeyStorePassword=args.password)
    client.connect_custom_key_store(CustomKeyStoreId=store["CustomKeyStoreId"])
    state_now = client.describe_custom_key_stores(CustomKeyStoreId=store["CustomKeyStoreId"])["CustomKeyStores"][0]
    if state_now["ConnectionState"] != "CONNECTED":
        print(f"AWS_CLOUDHSM key store not connected: {state_now.get('ConnectionErrorCode')}")
        return EXIT_PREFLIGHT_FAILED
    key = client.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store["CustomKeyStoreId"])["KeyMetadata"]["KeyId"]
    client.decrypt(CiphertextBlob=client.encrypt(KeyId=key, Plaintext=b"preflight")["CiphertextBlob"])
    state["fixtures"]["symmetric_key"] = key
    save_json(args.out_state, state)
    return 0


def cmd_nginx_request(args):
    # Same shape and size as an Encrypt request, signed with dummy credentials.
    endpoint = f"http://127.0.0.1:{args.port}"
    body_obj = {"KeyId": "00000000-0000-0000-0000-000000000000",
                "Plaintext": b64(bytes(64))}
    headers, body = signed_request(endpoint, ("AKIDBENCHNGINX0000000",
                                              "x" * 40), "TrentService.Encrypt",
                                   body_obj)
    write_request_file(args.out, "POST", "/", headers, body)


# ---- results ----------------------------------------------------------------

def _results(path):
    return load_json(path, default={"runs": {}, "order": [], "raw_sign": {},
                                    "notes": []})


def _store(path, name, entry):
    r = _results(path)
    if name not in r["order"]:
        r["order"].append(name)
    r["runs"][name] = entry
    save_json(path, r)


def parse_wrk_output(text):
    m = None
    for line in text.splitlines():
        if line.startswith("BENCH_RESULT "):
            m = line[len("BENCH_RESULT "):]
    if m is None:
        return None
    return json.loads(m)


def cmd_record_run(args):
    with open(args.wrk_output, errors="replace") as f:
        text = f.read()
    res = parse_wrk_output(text)
    entry = {"kind": args.kind, "wrk_exit": args.wrk_exit}
    if res is None:
        entry["status"] = "failed"
        entry["reason"] = ("wrk produced no BENCH_RESULT line (exit "
                           f"{args.wrk_exit}): " + text.strip()[-600:])
    else:
        entry.update(res)
        sock = sum(res["socket_errors"].values())
        problems = []
        if res["non200"]:
            problems.append(f"{res['non200']} non-200 responses "
                            f"{res['status_counts']} e.g. {res['error_sample']!r}")
        if sock:
            problems.append(f"socket errors {res['socket_errors']}")
        if res["requests"] == 0:
            problems.append("no requests completed")
        if args.wrk_exit not in (0, None):
            problems.append(f"wrk exited with {args.wrk_exit}")
        if args.server_died:
            problems.append("the server process died during the run")
        entry["status"] = "errors" if problems else "ok"
        if problems:
            entry["reason"] = "; ".join(problems)
        if args.server_cpu_seconds is not None and res["requests"]:
            entry["server_cpu_s"] = args.server_cpu_seconds
            entry["server_cpu_us_per_request"] = round(args.server_cpu_seconds * 1e6 / res["requests"], 1)
    _store(args.results, args.name, entry)
    if entry["status"] != "ok":
        print(f"!!! {args.name}: {entry['reason']}")
    else:
        print(f"    {args.name}: {res['rps']:.0f} req/s, p99 {res['p99_us']/1000:.2f} ms, "
              f"{res['requests']} requests, 0 errors")


def cmd_record_sum(args):
    """One row for several wrk processes that ran at the same time (one per node): the
    rates and request counts add up, latency is the worst part's, and the row is ok only
    when every part is."""
    runs = _results(args.results)["runs"]
    parts = [runs.get(n, {"status": "failed", "reason": f"no run {n}"}) for n in args.parts]
    bad = [f"{n}: {e.get('reason', e.get('status'))}" for n, e in zip(args.parts, parts)
           if e.get("status") != "ok"]
    if bad:
        entry = {"kind": "op", "status": "failed", "reason": "; ".join(bad), "parts": args.parts}
    else:
        entry = {"kind": "op", "status": "ok", "parts": args.parts,
                 "rps": sum(e["rps"] for e in parts),
                 "requests": sum(e["requests"] for e in parts),
                 "p50_us": max(e["p50_us"] for e in parts),
                 "p99_us": max(e["p99_us"] for e in parts)}
        if all("server_cpu_s" in e for e in parts) and entry["requests"]:
            cpu = sum(e["server_cpu_s"] for e in parts)
            entry["server_cpu_s"] = round(cpu, 3)
            entry["server_cpu_us_per_request"] = round(cpu * 1e6 / entry["requests"], 1)
    _store(args.results, args.name, entry)
    if entry["status"] == "ok":
        print(f"    {args.name}: {entry['rps']:.0f} req/s in all (" +
              " + ".join(f"{e['rps']:.0f}" for e in parts) + ")")
    else:
        print(f"!!! {args.name}: {entry['reason']}")


def cmd_record_skip(args):
    _store(args.results, args.name, {"kind": args.kind, "status": args.status,
                                     "reason": args.reason})


def cmd_record_raw(args):
    r = _results(args.results)
    text = ""
    if args.output and os.path.exists(args.output):
        with open(args.output, errors="replace") as f:
            text = f.read()
    m = re.search(r"signs/s:\s*([0-9]+(?:\.[0-9]+)?)", text)
    if args.unavailable:
        entry = {"status": "unavailable", "reason": args.unavailable}
    elif m:
        entry = {"status": "ok", "signs_per_s": float(m.group(1)),
                 "output": text.strip()[-400:]}
        t = re.search(r"threads:\s*([0-9]+)", text)
        if t:
            entry["threads"] = int(t.group(1))
    else:
        entry = {"status": "failed",
                 "reason": f"exit {args.exit}, no 'signs/s:' line: {text.strip()[-400:]}"}
    r["raw_sign"][args.key_spec] = entry
    save_json(args.results, r)


def _fmt(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def cmd_report(args):
    r = _results(args.results)
    meta = load_json(args.meta) if args.meta else {}
    runs = r["runs"]
    # The baseline is the better of the nginx runs (before and after the KMS operations):
    # the machine's ceiling moves between runs, and the higher one gives the lower ratio.
    nginx_runs = [runs[n] for n in ("nginx", "nginx-after") if runs.get(n, {}).get("status") == "ok"]
    nginx = max(nginx_runs, key=lambda e: e["rps"]) if nginx_runs else None
    base = nginx.get("rps") if nginx else None

    print()
    print(f"swift-kms benchmark  ({meta.get('timestamp', '')})")
    load_end = (open("/proc/loadavg").read().split()[:3]
                if os.path.exists("/proc/loadavg") else None)
    print(f"  machine: nproc={meta.get('nproc')}  loadavg at start={meta.get('loadavg_start')}"
          f" end={load_end}"
          f"  binary={meta.get('kms_binary', '-')}")
    print(f"  wrk: {meta.get('threads')} threads, {meta.get('connections')} connections, "
          f"{meta.get('duration')} (+{meta.get('warmup')} warm-up) per operation")
    print()
    hdr = (f"{'operation':<22} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'vs nginx':>9} "
           f"{'cpu us/req':>10}  notes")
    print(hdr)
    print("-" * len(hdr))
    bad = []
    for name in r["order"]:
        e = runs[name]
        label = {"nginx": "nginx (before)", "nginx-after": "nginx (after)"}.get(name, name)
        status = e.get("status")
        rps = e.get("rps")
        p50 = e.get("p50_us", 0) / 1000 if "p50_us" in e else None
        p99 = e.get("p99_us", 0) / 1000 if "p99_us" in e else None
        ratio = (rps / base) if (base and isinstance(rps, (int, float))) else None
        if status == "ok":
            note = ""
        elif status == "skipped":
            note = "skipped (not supported yet)"
        elif status == "errors":
            note = "!!! ERRORS - number is meaningless"
            bad.append((name, e.get("reason", "")))
        else:
            note = "!!! FAILED"
            bad.append((name, e.get("reason", "")))
        if status in ("skipped", "failed"):
            rps = p50 = p99 = ratio = None
        cpu = e.get("server_cpu_us_per_request") if status == "ok" else None
        print(f"{label:<22} {_fmt(rps, '10.0f'):>10} {_fmt(p50, '8.2f'):>8} "
              f"{_fmt(p99, '8.2f'):>8} {_fmt(ratio, '9.3f'):>9} {_fmt(cpu, '10.1f'):>10}  {note}")
    if base:
        print(f"\nnginx baseline: {base:.0f} req/s, p99 {nginx['p99_us']/1000:.2f} ms "
              f"(static 'return 200' on the same wrk settings: the ceiling of this "
              f"machine+client; the higher of the runs before and after)")

    # TLS: the same Encrypt over https (keep-alive) next to plain HTTP, from this run.
    tls_runs = [n for n in r["order"] if n.endswith("/TLS")]
    for name in tls_runs:
        plain, tls = runs.get(name[:-len("/TLS")], {}), runs[name]
        if plain.get("status") == "ok" and tls.get("status") == "ok":
            print(f"\nTLS: {name} {tls['rps']:.0f} req/s vs plain HTTP {plain['rps']:.0f} req/s "
                  f"= {tls['rps'] / plain['rps']:.3f} of the plain rate "
                  f"(p99 {tls['p99_us']/1000:.2f} vs {plain['p99_us']/1000:.2f} ms)")
    # Ciphertext format v2 (per-message keys) against v1 (bench/run.sh, --no-v1 skips).
    pairs = [(op, f"{op}:v1") for op in ("Encrypt", "Decrypt", "GenerateDataKey")
             if runs.get(op, {}).get("status") == "ok" and runs.get(f"{op}:v1", {}).get("status") == "ok"]
    if pairs:
        print()
        print(f"{'format v2 vs v1':<22} {'v2 req/s':>10} {'v1 req/s':>10} {'v2/v1':>7} "
              f"{'v2 cpu us':>10} {'v1 cpu us':>10}  within 10%")
        for v2, v1 in pairs:
            a, b = runs[v2], runs[v1]
            ratio = a["rps"] / b["rps"] if b.get("rps") else None
            print(f"{v2:<22} {a['rps']:>10.0f} {b['rps']:>10.0f} {_fmt(ratio, '7.3f'):>7} "
                  f"{_fmt(a.get('server_cpu_us_per_request'), '10.1f'):>10} "
                  f"{_fmt(b.get('server_cpu_us_per_request'), '10.1f'):>10}  "
                  f"{'yes' if ratio is not None and ratio >= 0.9 else 'NO'}")

    # Authorization: Encrypt under a ten-statement conditional key policy vs the default policy.
    plain, policy = runs.get("Encrypt", {}), runs.get("Encrypt:policy10", {})
    if plain.get("status") == "ok" and policy.get("status") == "ok" and plain.get("rps"):
        ratio = policy["rps"] / plain["rps"]
        print(f"\nkey policy: Encrypt:policy10 {policy['rps']:.0f} req/s vs default policy {plain['rps']:.0f} req/s "
              f"= {ratio:.3f} (target >= 0.9: {'yes' if ratio >= 0.9 else 'NO'}; cpu us/req "
              f"{_fmt(policy.get('server_cpu_us_per_request'), '.1f')} vs {_fmt(plain.get('server_cpu_us_per_request'), '.1f')})")
    ident = runs.get("Encrypt:policy10+identity", {})
    if plain.get("status") == "ok" and ident.get("status") == "ok" and plain.get("rps"):
        ratio = ident["rps"] / plain["rps"]
        print(f"key + identity policy: Encrypt:policy10+identity {ident['rps']:.0f} req/s vs default policy "
              f"{plain['rps']:.0f} req/s = {ratio:.3f} (target >= 0.9: {'yes' if ratio >= 0.9 else 'NO'}; cpu us/req "
              f"{_fmt(ident.get('server_cpu_us_per_request'), '.1f')} vs {_fmt(plain.get('server_cpu_us_per_request'), '.1f')})")
    # Temporary credentials (an STS session token, verified and cached per request) against
    # the long-term key, same keys, same server, same run.
    temp, base_run = runs.get("Encrypt:temporary-credentials", {}), runs.get("Encrypt", {})
    if temp.get("status") == "ok" and base_run.get("status") == "ok":
        print(f"\ntemporary credentials: Encrypt {temp['rps']:.0f} req/s vs long-term key {base_run['rps']:.0f} req/s "
              f"= {temp['rps'] / base_run['rps']:.3f} (cpu {_fmt(temp.get('server_cpu_us_per_request'), '.1f')} vs "
              f"{_fmt(base_run.get('server_cpu_us_per_request'), '.1f')} us/req)")
    # Audit (issue 11, section 5): the default trail against no trail (target >= 0.85 of the
    # rate), and the cost of --audit-fsync always, per connection count, from the same run.
    audit_conns = sorted({int(n.rsplit("/c", 1)[1]) for n in r["order"]
                          if n.startswith("Encrypt:audit-default/c") and n.rsplit("/c", 1)[1].isdigit()})
    if audit_conns:
        print()
        print(f"{'audit (Encrypt)':<22} {'default':>10} {'off':>10} {'always':>10} {'def/off':>8} "
              f"{'always/def':>10}  cpu us/req default / off / always")
        rate = lambda e: e.get("rps") if e.get("status") == "ok" else None
        cpu = lambda e: _fmt(e.get("server_cpu_us_per_request") if e.get("status") == "ok" else None, '.1f')
        verdict = lambda ratio: '' if ratio is None else ('  (target >= 0.85: ' + ('yes' if ratio >= 0.85 else 'NO') + ')')
        for c in audit_conns:
            # Round 1 is named ".../cN", later rounds ".../cN#k" (bench/run.sh BENCH_AUDIT_ROUNDS).
            rounds = [""] + sorted({n.rsplit("#", 1)[1] for n in r["order"]
                                    if n.startswith(f"Encrypt:audit-default/c{c}#")}, key=int)
            ratios, always_ratios = [], []
            for suffix in rounds:
                tag = f"#{suffix}" if suffix else ""
                d, o, a = (runs.get(f"Encrypt:{v}/c{c}{tag}", {})
                           for v in ("audit-default", "audit-off", "fsync-always"))
                ratio = rate(d) / rate(o) if rate(d) and rate(o) else None
                always = rate(a) / rate(d) if rate(a) and rate(d) else None
                if ratio is not None: ratios.append(ratio)
                if always is not None: always_ratios.append(always)
                label = f"{c} connections" + (f", round {suffix or 1}" if len(rounds) > 1 else "")
                print(f"{label:<22} {_fmt(rate(d), '10.0f'):>10} {_fmt(rate(o), '10.0f'):>10} "
                      f"{_fmt(rate(a), '10.0f'):>10} {_fmt(ratio, '8.3f'):>8} {_fmt(always, '10.3f'):>10}  "
                      f"{cpu(d)} / {cpu(o)} / {cpu(a)}" + ("" if len(rounds) > 1 else verdict(ratio)))
            if len(rounds) > 1 and ratios:
                median = statistics.median(ratios)
                always_median = statistics.median(always_ratios) if always_ratios else None
                print(f"{f'{c} connections, median':<22} {'':>10} {'':>10} {'':>10} {median:8.3f} "
                      f"{_fmt(always_median, '10.3f'):>10}  of {len(ratios)} rounds{verdict(median)}")

    # Rotation (issue 12): Encrypt on a key rotated 100 times against a fresh key, one server, one run.
    rot, fresh = runs.get("Encrypt:rotated100", {}), runs.get("Encrypt:fresh-key", {})
    if rot.get("status") == "ok" and fresh.get("status") == "ok" and fresh.get("rps"):
        ratio = rot["rps"] / fresh["rps"]
        print(f"\nrotated key: Encrypt:rotated100 {rot['rps']:.0f} req/s vs fresh key {fresh['rps']:.0f} req/s "
              f"= {ratio:.3f} (target >= 0.9: {'yes' if ratio >= 0.9 else 'NO'}; cpu us/req "
              f"{_fmt(rot.get('server_cpu_us_per_request'), '.1f')} vs {_fmt(fresh.get('server_cpu_us_per_request'), '.1f')})")

    # Storage (issue 8 §5): Encrypt on the SQLite server, on one node on PostgreSQL, and on
    # two nodes on that PostgreSQL with one wrk per node at the same time, from one run.
    sqlite, pg1, pg2 = runs.get("Encrypt", {}), runs.get("Encrypt:pg-1node", {}), runs.get("Encrypt:pg-2nodes", {})
    if pg1.get("status") == "ok" or pg2.get("status") == "ok":
        def rate(e):
            return e["rps"] if e.get("status") == "ok" else None
        print(f"\nstorage: Encrypt SQLite {_fmt(rate(sqlite), '.0f')} req/s, PostgreSQL one node "
              f"{_fmt(rate(pg1), '.0f')} req/s, two nodes {_fmt(rate(pg2), '.0f')} req/s in all"
              + (f" ({' + '.join(_fmt(rate(runs.get(n, {})), '.0f') for n in pg2.get('parts', []))})"
                 if pg2.get("status") == "ok" else ""))
        if rate(pg1) and rate(pg2):
            print(f"  two nodes / one node = {rate(pg2) / rate(pg1):.3f} (both nodes share this machine's cores)")
        if rate(pg1) and rate(sqlite):
            print(f"  PostgreSQL one node / SQLite = {rate(pg1) / rate(sqlite):.3f}")

    raw = r.get("raw_sign") or {}
    if raw:
        print()
        print(f"{'raw library signing':<22} {'signs/s':>10} {'server Sign req/s':>18} "
              f"{'server/raw':>11}  threads")
        for spec, e in raw.items():
            op = f"Sign:{spec}"
            srv = runs.get(op, {})
            srv_rps = srv.get("rps") if srv.get("status") == "ok" else None
            if e["status"] == "ok":
                ratio = srv_rps / e["signs_per_s"] if srv_rps and e["signs_per_s"] else None
                print(f"{spec:<22} {e['signs_per_s']:>10.0f} {_fmt(srv_rps, '18.0f'):>18} "
                      f"{_fmt(ratio, '11.3f'):>11}  {e.get('threads', '?')}")
            else:
                print(f"{spec:<22} {'-':>10}  {e['status']}: {e['reason']}")

    skipped = [(n, runs[n].get("reason", "")) for n in r["order"]
               if runs[n].get("status") == "skipped"]
    if skipped:
        print("\nskipped:")
        for n, why in skipped:
            print(f"  {n}: skipped (not supported yet) -- {why}")

    out = dict(meta)
    if os.path.exists("/proc/loadavg"):
        out["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    out["results"] = {n: runs[n] for n in r["order"]}
    out["nginx_rps"] = base
    for n, e in out["results"].items():
        if base and e.get("status") == "ok" and not n.startswith("nginx"):
            e["ratio_to_nginx"] = round(e["rps"] / base, 4)
    out["raw_sign"] = raw
    out["ok"] = not bad
    if args.out_json:
        os.makedirs(os.path.dirname(args.out_json), exist_ok=True)
        save_json(args.out_json, out)
        print(f"\nresults written to {args.out_json}")

    if bad:
        print()
        print("!" * 78)
        print("!!! SOME RUNS HAD ERRORS: their numbers measure error handling, not the")
        print("!!! operation. Do not compare or publish them.")
        for n, why in bad:
            print(f"!!!   {n}: {why}")
        print("!" * 78)
        return 2
    return 0


def cmd_meta(args):
    meta = {
        "timestamp": args.timestamp,
        "nproc": os.cpu_count(),
        "loadavg_start": open("/proc/loadavg").read().split()[:3]
        if os.path.exists("/proc/loadavg") else None,
        "kernel": platform.release(),
        "kms_binary": args.kms_binary,
        "threads": args.threads,
        "connections": args.connections,
        "duration": args.duration,
        "warmup": args.warmup,
        "ops_requested": parse_ops(args.ops),
    }
    save_json(args.out, meta)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    sub.add_parser("freeport").set_defaults(fn=cmd_freeport)
    sub.add_parser("ops").set_defaults(fn=cmd_ops)

    s = sub.add_parser("check-ops")
    s.add_argument("--ops", default="all")
    s.set_defaults(fn=lambda a: print(",".join(parse_ops(a.ops))))

    s = sub.add_parser("prepare")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--credentials", required=True)
    s.add_argument("--ops", default="all")
    s.add_argument("--state", required=True)
    s.set_defaults(fn=cmd_prepare)

    s = sub.add_parser("sign")
    s.add_argument("--state", required=True)
    s.add_argument("--op", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--no-preflight", action="store_true")
    s.add_argument("--endpoint", help="sign for (and preflight against) this endpoint instead of the prepared one")
    s.add_argument("--cafile", help="CA bundle for an https --endpoint")
    s.set_defaults(fn=cmd_sign)

    s = sub.add_parser("session-credentials")
    s.add_argument("--state", required=True)
    s.add_argument("--out-state", required=True)
    s.add_argument("--credentials-out", required=True)
    s.set_defaults(fn=cmd_session_credentials)
    s = sub.add_parser("rotated-seed")
    s.add_argument("--out", required=True)
    s.add_argument("--key-id", required=True)
    s.add_argument("--rotations", type=int, default=100)
    s.set_defaults(fn=cmd_rotated_seed)
    s = sub.add_parser("retarget")
    s.add_argument("--state", required=True)
    s.add_argument("--out-state", required=True)
    s.add_argument("--key-id", required=True)
    s.add_argument("--rotations", type=int, default=100)
    s.set_defaults(fn=cmd_retarget)
    s = sub.add_parser("xks-retarget")
    s.add_argument("--state", required=True)
    s.add_argument("--out-state", required=True)
    s.add_argument("--xks-key-id", required=True)
    s.add_argument("--access-key-id", required=True)
    s.add_argument("--secret", required=True)
    s.set_defaults(fn=cmd_xks_retarget)
    s = sub.add_parser("cloudhsm-retarget")
    s.add_argument("--state", required=True)
    s.add_argument("--out-state", required=True)
    s.add_argument("--cluster-id", required=True)
    s.add_argument("--trust-anchor", required=True)
    s.add_argument("--password", required=True)
    s.set_defaults(fn=cmd_cloudhsm_retarget)
    s = sub.add_parser("nginx-request")
    s.add_argument("--port", required=True, type=int)
    s.add_argument("--out", required=True)
    s.add_argument("--no-preflight", action="store_true", help="accepted, ignored")
    s.set_defaults(fn=cmd_nginx_request)

    s = sub.add_parser("record-run")
    s.add_argument("--results", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--kind", default="op")
    s.add_argument("--wrk-output", required=True)
    s.add_argument("--wrk-exit", type=int, default=0)
    s.add_argument("--server-died", action="store_true")
    s.add_argument("--server-cpu-seconds", type=float, default=None,
                   help="server user+system CPU time over the measured run")
    s.set_defaults(fn=cmd_record_run)

    s = sub.add_parser("record-sum")
    s.add_argument("--results", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--parts", nargs="+", required=True)
    s.set_defaults(fn=cmd_record_sum)

    s = sub.add_parser("record-skip")
    s.add_argument("--results", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--kind", default="op")
    s.add_argument("--status", default="skipped", choices=["skipped", "failed"])
    s.add_argument("--reason", required=True)
    s.set_defaults(fn=cmd_record_skip)

    s = sub.add_parser("record-raw")
    s.add_argument("--results", required=True)
    s.add_argument("--key-spec", required=True)
    s.add_argument("--output")
    s.add_argument("--exit", type=int, default=0)
    s.add_argument("--unavailable")
    s.set_defaults(fn=cmd_record_raw)

    s = sub.add_parser("meta")
    s.add_argument("--out", required=True)
    s.add_argument("--timestamp", required=True)
    s.add_argument("--kms-binary", default=None)
    s.add_argument("--threads", type=int, required=True)
    s.add_argument("--connections", type=int, required=True)
    s.add_argument("--duration", required=True)
    s.add_argument("--warmup", required=True)
    s.add_argument("--ops", default="all")
    s.set_defaults(fn=cmd_meta)

    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--meta")
    s.add_argument("--out-json")
    s.set_defaults(fn=cmd_report)

    args = p.parse_args()
    rc = args.fn(args)
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
