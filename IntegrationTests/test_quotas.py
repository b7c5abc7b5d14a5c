"""Request quotas per account and region (AWS KMS "Request quotas"): over its quota a
caller gets ThrottlingException (HTTP 400, AWS's message), and boto3's standard retry mode
then succeeds. Unlimited by default.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kms_harness import expect_error

THROTTLED_MESSAGE = "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."


def _client(srv, attempts: int, region: str = "us-east-1"):
    creds = srv.root_credentials()
    return boto3.session.Session().client(
        "kms", endpoint_url=srv.url, region_name=region,
        aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
        config=Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=5, read_timeout=30))


def _throttle_count(srv) -> int:
    srv.stop()
    with open(srv.stdout_path) as fh:
        for line in fh:
            if line.startswith("kms: throttled "):
                return int(line.split()[2])
    raise AssertionError("the server did not report its throttle count")


@pytest.mark.single_node("request quotas are counted per node, as documented")
def test_symmetric_quota_throttles_and_standard_retry_succeeds(server_factory):
    srv = server_factory(extra_args=["--quota-symmetric", "10"])
    key = _client(srv, attempts=1).create_key()["KeyMetadata"]["KeyId"]

    # A burst from several threads: well over 10 requests per second, even against a slow
    # debug build. With boto3's standard retry mode every call succeeds, after retries.
    def patient_burst(i: int) -> int:
        kms = _client(srv, attempts=10)
        return sum(kms.encrypt(KeyId=key, Plaintext=b"burst %d" % j)["ResponseMetadata"]["RetryAttempts"]
                   for j in range(10))

    with ThreadPoolExecutor(max_workers=6) as pool:
        retries = sum(pool.map(patient_burst, range(6)))
    assert retries > 0, "a burst over the quota must have been throttled and retried"

    # Without retries, the caller sees the throttle itself: 400, AWS KMS's words.
    def impatient_burst(i: int):
        kms = _client(srv, attempts=1)
        for _ in range(20):
            try:
                kms.generate_random(NumberOfBytes=16)  # the same shared symmetric quota
            except ClientError as exc:
                return exc.response
        return None

    with ThreadPoolExecutor(max_workers=6) as pool:
        throttles = [r for r in pool.map(impatient_burst, range(6)) if r is not None]
    assert throttles, "no ThrottlingException without retries"
    assert throttles[0]["Error"]["Code"] == "ThrottlingException"
    assert throttles[0]["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert throttles[0]["Error"]["Message"] == THROTTLED_MESSAGE
    # Management operations have their own (unlimited) quotas here.
    kms = _client(srv, attempts=1)
    for _ in range(20):
        kms.describe_key(KeyId=key)
    assert _throttle_count(srv) >= retries + len(throttles)


def test_quotas_are_per_account_region_and_class(server_factory):
    srv = server_factory(extra_args=["--quota-management", "0.5"])
    kms = _client(srv, attempts=1)
    other_region = _client(srv, attempts=1, region="eu-west-1")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.describe_key(KeyId=key)
    with expect_error("ThrottlingException", 400, message=THROTTLED_MESSAGE):
        for _ in range(5):
            kms.describe_key(KeyId=key)
    # Each management operation has its own quota, each region its own buckets, and the
    # symmetric quota is unlimited.
    kms.list_keys()
    other_region.list_keys()
    for _ in range(20):
        kms.encrypt(KeyId=key, Plaintext=b"x")


def test_rsa_quota_from_config_file(server_factory, tmp_path):
    config = tmp_path / "kms.json"
    config.write_text(json.dumps({"kms": {"quotas": {"rsa": 1}}}))
    srv = server_factory(extra_args=["--config", str(config)])
    kms = _client(srv, attempts=1)
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    with expect_error("ThrottlingException", 400):
        for _ in range(5):
            kms.sign(KeyId=rsa, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    for _ in range(10):  # the symmetric quota is separate, and unlimited
        kms.encrypt(KeyId=symmetric, Plaintext=b"x")


def test_unlimited_by_default(server_factory):
    srv = server_factory()
    kms = _client(srv, attempts=1)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(200):
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert _throttle_count(srv) == 0
