"""--seed FILE (issue 12, section 5) against the real server with boto3.

Keys with fixed IDs and known material, aliases, policies and tags are created at start,
idempotently; two servers seeded with the same file decrypt each other's ciphertexts;
local-kms's seed.yaml is read; secrets outside --dev need a 0600 file.
"""

import base64
import json
import os
import subprocess

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kms_harness import free_port, kms_binary

SYM_ID = "0f0e0d0c-0b0a-4908-8706-050403020100"
EC_ID = "1f0e0d0c-0b0a-4908-8706-050403020100"


def _seed_yaml():
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    indented = "\n".join("      " + line for line in pem.strip().splitlines())
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "all", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]})
    return f"""Region: eu-central-1
Keys:
  - KeyId: {SYM_ID}
    Description: test suite key
    KeyMaterial: hex:{bytes(range(32)).hex()}
    Policy: '{policy}'
    Tags: {{Team: payments}}
    Aliases: [alias/test-suite]
  - KeyId: {EC_ID}
    KeySpec: ECC_NIST_P256
    KeyUsage: SIGN_VERIFY
    PrivateKeyPem: |
{indented}
"""


def _write(path, text, mode=0o600):
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, mode)
    return str(path)


def test_two_seeded_servers_are_interchangeable_and_seeding_is_idempotent(server_factory, tmp_path):
    seed = _write(tmp_path / "seed.yaml", _seed_yaml())
    a = server_factory(extra_args=["--seed", seed], name="a")
    b = server_factory(extra_args=["--seed", seed], name="b")
    ka, kb = a.client(region="eu-central-1"), b.client(region="eu-central-1")
    meta = ka.describe_key(KeyId="alias/test-suite")["KeyMetadata"]
    assert meta["KeyId"] == SYM_ID and meta["Description"] == "test suite key"
    assert ka.list_resource_tags(KeyId=SYM_ID)["Tags"] == [{"TagKey": "Team", "TagValue": "payments"}]
    assert json.loads(ka.get_key_policy(KeyId=SYM_ID, PolicyName="default")["Policy"])["Statement"][0]["Sid"] == "all"
    blob = ka.encrypt(KeyId="alias/test-suite", Plaintext=b"secret")["CiphertextBlob"]
    assert kb.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    sig = kb.sign(KeyId=EC_ID, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    assert ka.verify(KeyId=EC_ID, Message=b"m", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"]
    # Restart: nothing is created twice, and what the keys made still decrypts.
    ka.tag_resource(KeyId=SYM_ID, Tags=[{"TagKey": "Later", "TagValue": "kept"}])
    a.restart()
    ka = a.client(region="eu-central-1")
    assert len(ka.list_keys()["Keys"]) == 2
    assert {"TagKey": "Later", "TagValue": "kept"} in ka.list_resource_tags(KeyId=SYM_ID)["Tags"]
    assert ka.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_local_kms_seed_file(server_factory, tmp_path):
    seed = _write(tmp_path / "seed.yaml", """Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: bc436485-5092-42b8-92a3-0aa8b93536dc
        BackingKeys:
          - 5cdaead27fe7da2de47945d73cd6d79e36494e73802f3cd3869f1d2cb0b5d7a9
Aliases:
  - AliasName: alias/testing
    TargetKeyId: bc436485-5092-42b8-92a3-0aa8b93536dc
""", mode=0o644)
    srv = server_factory(dev=True, extra_args=["--seed", seed, "--seed-region", "eu-west-2"])
    kms = srv.client(region="eu-west-2")
    assert kms.describe_key(KeyId="alias/testing")["KeyMetadata"]["KeyId"] == "bc436485-5092-42b8-92a3-0aa8b93536dc"
    blob = kms.encrypt(KeyId="alias/testing", Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_secrets_outside_dev_need_a_0600_file(tmp_path):
    seed = _write(tmp_path / "seed.yaml", _seed_yaml(), mode=0o644)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    proc = subprocess.run([kms_binary(), "server", "--host", "127.0.0.1", "--port", str(free_port()),
                           "--data-dir", str(data), "--seed", seed], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "0600" in proc.stderr and "seed.yaml" in proc.stderr
