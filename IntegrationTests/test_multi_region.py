"""Regions and multi-Region keys in one deployment (issue 13 §1, §2): one server started with
--regions us-east-1,eu-west-1, driven by boto3 clients of each region. Create and replicate,
decryption across regions, rotation reaching the replica and UpdatePrimaryRegion are
test_multi_region_topologies.py, which runs them in one deployment and across two peers."""

from __future__ import annotations

import glob
import json
import os

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import cluster_mode
from kms_harness import KmsServer, expect_error, key_arn, poll, unique_alias

EAST, WEST, UNSERVED = "us-east-1", "eu-west-1", "ap-south-1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("kms-regions")
    server = cluster_mode.new_server(KmsServer, data_dir=str(base / "data"), log_dir=str(base / "logs"),
                                     extra_args=["--regions", f"{EAST},{WEST}"])
    os.makedirs(server.data_dir, exist_ok=True)
    server.start()
    yield server
    cluster_mode.finish_server(server)


@pytest.fixture(scope="module")
def east(srv):
    return srv.client(EAST)


@pytest.fixture(scope="module")
def west(srv):
    return srv.client(WEST)


@pytest.fixture(scope="module")
def account(srv):
    return srv.account_id


def boto(srv, service, region):
    creds = srv.root_credentials()
    return boto3.session.Session().client(
        service, endpoint_url=srv.url, region_name=region, aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def state(client, key_id):
    return client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


def wait_state(client, key_id, wanted, timeout=20):
    poll(lambda: state(client, key_id) == wanted, timeout=timeout, what=f"{key_id} {wanted}")


def mrk(east, west, **kwargs):
    """A multi-Region primary in us-east-1 with an Enabled replica in eu-west-1."""
    key_id = east.create_key(MultiRegion=True, **kwargs)["KeyMetadata"]["KeyId"]
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    wait_state(west, key_id, "Enabled")
    return key_id


# -- §1 regions -------------------------------------------------------------------------

def test_a_region_not_served_is_refused(srv):
    with expect_error("InvalidSignatureException", message_contains=f"Credential should be scoped to a valid region, not '{UNSERVED}'"):
        srv.client(UNSERVED).list_keys()
    # STS is regional too; IAM is global (signed for us-east-1) and keeps working.
    with pytest.raises(ClientError) as err:
        boto(srv, "sts", UNSERVED).get_caller_identity()
    assert "region" in err.value.response["Error"]["Message"]
    assert boto(srv, "sts", WEST).get_caller_identity()["Account"] == srv.account_id
    boto(srv, "iam", EAST).list_users()


def test_keys_aliases_and_listings_are_per_region(east, west, account):
    key_id = east.create_key()["KeyMetadata"]["KeyId"]
    with expect_error("NotFoundException"):
        west.describe_key(KeyId=key_id)
    with expect_error("NotFoundException"):
        west.describe_key(KeyId=key_arn(EAST, account, key_id))
    assert key_id not in {k["KeyId"] for k in west.list_keys(Limit=1000)["Keys"]}
    assert key_id in {k["KeyId"] for k in east.list_keys(Limit=1000)["Keys"]}
    # One alias name, two regions, two keys.
    name = unique_alias("region")
    other = west.create_key()["KeyMetadata"]["KeyId"]
    east.create_alias(AliasName=name, TargetKeyId=key_id)
    west.create_alias(AliasName=name, TargetKeyId=other)
    assert east.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key_id
    assert west.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other
    # A regional key's ciphertext names a key the other region does not have.
    blob = east.encrypt(KeyId=key_id, Plaintext=b"regional")["CiphertextBlob"]
    with expect_error(("InvalidCiphertextException", "NotFoundException")):
        west.decrypt(CiphertextBlob=blob)


# -- §2 multi-Region keys --------------------------------------------------------------

def test_signatures_and_macs_work_across_regions(east, west):
    # Ciphertexts across regions: test_multi_region_topologies.py (both topologies).
    sign = mrk(east, west, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    signature = west.sign(KeyId=sign, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    assert east.verify(KeyId=sign, Message=b"m", Signature=signature, SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"]
    assert east.get_public_key(KeyId=sign)["PublicKey"] == west.get_public_key(KeyId=sign)["PublicKey"]

    mac = mrk(east, west, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    tag = east.generate_mac(KeyId=mac, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert west.verify_mac(KeyId=mac, Message=b"m", Mac=tag, MacAlgorithm="HMAC_SHA_256")["MacValid"]


def test_deletion_states(east, west):
    key_id = mrk(east, west)
    out = east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingReplicaDeletion" and "DeletionDate" not in out
    md = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["KeyState"] == "PendingReplicaDeletion" and md["PendingDeletionWindowInDays"] == 7
    with expect_error("KMSInvalidStateException"):
        east.encrypt(KeyId=key_id, Plaintext=b"x")
    # The replica keeps working, and has its own waiting period.
    west.encrypt(KeyId=key_id, Plaintext=b"x")
    out = west.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and "DeletionDate" in out
    east.cancel_key_deletion(KeyId=key_id)
    assert state(east, key_id) == "Disabled"
    west.cancel_key_deletion(KeyId=key_id)
    assert state(west, key_id) == "Disabled"


def test_imported_multi_region_keys_need_the_same_material(east, west):
    from test_import_key_material import import_material
    key_id = east.create_key(MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    assert key_id.startswith("mrk-") and state(east, key_id) == "PendingImport"
    material = os.urandom(32)
    import_material(east, key_id, material)
    assert state(east, key_id) == "Enabled"
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    # Imported material is never copied: the replica waits for the same material.
    wait_state(west, key_id, "PendingImport")
    with expect_error("IncorrectKeyMaterialException"):
        import_material(west, key_id, os.urandom(32))
    assert state(west, key_id) == "PendingImport"
    import_material(west, key_id, material)
    assert state(west, key_id) == "Enabled"
    blob = east.encrypt(KeyId=key_id, Plaintext=b"byok")["CiphertextBlob"]
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok"


def test_independent_properties(east, west, account):
    key_id = mrk(east, west)
    grant = west.create_grant(KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{account}:root", Operations=["Decrypt"])
    west.disable_key(KeyId=key_id)
    west.update_key_description(KeyId=key_id, Description="west")
    west.tag_resource(KeyId=key_id, Tags=[{"TagKey": "only", "TagValue": "west"}])
    name = unique_alias("mrk")
    west.create_alias(AliasName=name, TargetKeyId=key_id)
    assert east.encrypt(KeyId=key_id, Plaintext=b"still enabled here")["CiphertextBlob"]
    md = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["Description"] == "" and md["KeyState"] == "Enabled"
    assert east.list_resource_tags(KeyId=key_id)["Tags"] == []
    with expect_error("NotFoundException"):
        east.describe_key(KeyId=name)
    policy = json.loads(east.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    policy["Statement"][0]["Sid"] = "changed in the west"
    west.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
    assert "changed in the west" not in east.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    assert grant["GrantId"] not in {g["GrantId"] for g in east.list_grants(KeyId=key_id)["Grants"]}


def test_errors(east, west):
    regional = east.create_key()["KeyMetadata"]["KeyId"]
    with expect_error("UnsupportedOperationException"):
        east.replicate_key(KeyId=regional, ReplicaRegion=WEST)
    key_id = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    with expect_error("ValidationException"):
        east.replicate_key(KeyId=key_id, ReplicaRegion=EAST)
    with expect_error("UnsupportedOperationException"):
        east.replicate_key(KeyId=key_id, ReplicaRegion=UNSERVED)
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    with expect_error("AlreadyExistsException"):
        east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    wait_state(west, key_id, "Enabled")
    with expect_error("UnsupportedOperationException"):
        west.replicate_key(KeyId=key_id, ReplicaRegion=EAST)
    with expect_error("NotFoundException"):
        east.update_primary_region(KeyId=key_id, PrimaryRegion="ap-northeast-1")
    with expect_error("UnsupportedOperationException"):
        east.update_primary_region(KeyId=regional, PrimaryRegion=WEST)


def test_condition_keys(east, west, account):
    root = f"arn:aws:iam::{account}:root"
    key_id = east.create_key(MultiRegion=True, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": root}, "Action": "kms:ReplicateKey", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ReplicaRegion": WEST}}},
        {"Effect": "Deny", "Principal": {"AWS": root}, "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:MultiRegionKeyType": "PRIMARY"}, "Bool": {"kms:MultiRegion": "true"}}},
    ]}))["KeyMetadata"]["KeyId"]
    with expect_error("AccessDeniedException"):
        east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    with expect_error("AccessDeniedException"):
        east.encrypt(KeyId=key_id, Plaintext=b"x")
    other = mrk(east, west, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": root}, "Action": "kms:UpdatePrimaryRegion", "Resource": "*",
         "Condition": {"StringEquals": {"kms:PrimaryRegion": WEST}}},
    ]}))
    with expect_error("AccessDeniedException"):
        east.update_primary_region(KeyId=other, PrimaryRegion=WEST)


@pytest.mark.single_node("reads this node's audit files")
def test_each_replication_step_is_audited_in_each_region(srv, east, west):
    key_id = mrk(east, west)
    east.rotate_key_on_demand(KeyId=key_id)

    def events():
        out = []
        for path in sorted(glob.glob(os.path.join(srv.data_dir, "audit", "audit-*.jsonl"))):
            with open(path, "rb") as fh:
                out += [json.loads(line) for line in fh.read().split(b"\n") if line]
        return [e for e in out if key_id in json.dumps(e.get("resources", []))]

    def seen():
        return {(e["eventName"], e["awsRegion"], e.get("eventType")) for e in events()}

    poll(lambda: ("SynchronizeMultiRegionKey", WEST, "AwsServiceEvent") in seen(), timeout=10, what="audit")
    got = seen()
    assert ("ReplicateKey", EAST, "AwsApiCall") in got
    assert ("CreateKey", WEST, "AwsServiceEvent") in got
    assert ("RotateKey", EAST, "AwsServiceEvent") in got
    # No key material in any of them.
    assert "materials" not in json.dumps(events())
