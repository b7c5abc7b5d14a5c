"""The AWS CLI (v1) against the server, using the generated credentials file."""

import base64
import json
import os
import shutil
import subprocess

import pytest

from kms_harness import DEFAULT_REGION, unique_alias

AWS = shutil.which("aws")

pytestmark = pytest.mark.skipif(AWS is None, reason="aws CLI not installed")


@pytest.fixture
def aws(server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_SHARED_CREDENTIALS_FILE": server.credentials_path,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
    })

    def run(*args, check=True):
        proc = subprocess.run([AWS, "kms", *args, "--endpoint-url", server.url],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        if check:
            assert proc.returncode == 0, f"aws kms {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
        return proc

    return run


def test_cli_create_key(aws, server):
    out = json.loads(aws("create-key", "--description", "from the cli", "--output", "json").stdout)
    md = out["KeyMetadata"]
    assert md["Description"] == "from the cli"
    assert md["KeyState"] == "Enabled"
    assert md["AWSAccountId"] == server.account_id
    described = json.loads(aws("describe-key", "--key-id", md["KeyId"], "--output", "json").stdout)
    assert described["KeyMetadata"]["Arn"] == md["Arn"]


def test_cli_encrypt_decrypt_round_trip(aws, tmp_path):
    kid = json.loads(aws("create-key", "--output", "json").stdout)["KeyMetadata"]["KeyId"]
    data = os.urandom(300) + b"cli plaintext"
    (tmp_path / "plain.bin").write_bytes(data)
    enc = json.loads(aws("encrypt", "--key-id", kid, "--plaintext", "fileb://plain.bin",
                         "--encryption-context", "app=cli", "--output", "json").stdout)
    assert enc["KeyId"].endswith(kid)
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    plain_b64 = aws("decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "app=cli",
                    "--output", "text", "--query", "Plaintext").stdout.strip()
    assert base64.b64decode(plain_b64) == data


def test_cli_aliases(aws):
    kid = json.loads(aws("create-key", "--output", "json").stdout)["KeyMetadata"]["KeyId"]
    name = unique_alias("cli")
    aws("create-alias", "--alias-name", name, "--target-key-id", kid)
    listed = json.loads(aws("list-aliases", "--output", "json").stdout)["Aliases"]
    entry = [a for a in listed if a["AliasName"] == name]
    assert entry and entry[0]["TargetKeyId"] == kid
    only = json.loads(aws("list-aliases", "--key-id", kid, "--output", "json").stdout)["Aliases"]
    assert [a["AliasName"] for a in only] == [name]
    aws("delete-alias", "--alias-name", name)
    listed = json.loads(aws("list-aliases", "--output", "json").stdout)["Aliases"]
    assert name not in [a["AliasName"] for a in listed]


def test_cli_list_keys_paginates(aws):
    for _ in range(3):
        aws("create-key", "--output", "json")
    # --page-size makes the CLI follow NextMarker itself
    keys = json.loads(aws("list-keys", "--page-size", "1", "--output", "json").stdout)["Keys"]
    assert len(keys) >= 3
    assert len({k["KeyId"] for k in keys}) == len(keys)


def test_cli_generate_random_and_data_key(aws, tmp_path):
    rnd = aws("generate-random", "--number-of-bytes", "24", "--output", "text", "--query", "Plaintext").stdout
    assert len(base64.b64decode(rnd.strip())) == 24
    kid = json.loads(aws("create-key", "--output", "json").stdout)["KeyMetadata"]["KeyId"]
    dk = json.loads(aws("generate-data-key", "--key-id", kid, "--key-spec", "AES_256", "--output", "json").stdout)
    (tmp_path / "dk.bin").write_bytes(base64.b64decode(dk["CiphertextBlob"]))
    plain = aws("decrypt", "--ciphertext-blob", "fileb://dk.bin", "--output", "text", "--query", "Plaintext").stdout
    assert base64.b64decode(plain.strip()) == base64.b64decode(dk["Plaintext"])


def test_cli_service_error(aws):
    proc = aws("describe-key", "--key-id", unique_alias("nope"), check=False)
    assert proc.returncode != 0
    assert "NotFoundException" in proc.stderr
    assert "DescribeKey" in proc.stderr


def test_cli_grants(aws, server):
    kid = json.loads(aws("create-key", "--output", "json").stdout)["KeyMetadata"]["KeyId"]
    grantee = f"arn:aws:iam::{server.account_id}:user/cli"
    g = json.loads(aws("create-grant", "--key-id", kid, "--grantee-principal", grantee,
                       "--operations", "Decrypt", "Encrypt", "--constraints", "EncryptionContextSubset={app=cli}",
                       "--output", "json").stdout)
    listed = json.loads(aws("list-grants", "--key-id", kid, "--output", "json").stdout)["Grants"]
    assert [x["GrantId"] for x in listed] == [g["GrantId"]]
    assert listed[0]["Constraints"] == {"EncryptionContextSubset": {"app": "cli"}}
    aws("retire-grant", "--grant-token", g["GrantToken"])
    assert json.loads(aws("list-grants", "--key-id", kid, "--output", "json").stdout)["Grants"] == []
