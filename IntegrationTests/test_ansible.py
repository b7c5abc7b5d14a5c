"""Ansible's amazon.aws.kms_key module against the server (issue 12 §7): it creates a key with
an alias, tags, a key policy, grants and rotation, re-applies the same task with no change
(changed == false), updates description, tags and rotation, and re-applies again; boto3 checks
the server's state after each step.

kms_key reads the key back with DescribeKey, ListAliases (paginated), GetKeyRotationStatus,
ListGrants (paginated), ListResourceTags, ListKeyPolicies and GetKeyPolicy, and compares grants
by Name, grantee, retiring principal, operations and Constraints: idempotence needs each of
those answered exactly as AWS answers them.

Ansible (pip `ansible`, which bundles the amazon.aws collection) and boto3 are installed into a
venv under $KMS_TEST_CACHE (default /tmp/kms-test-cache), made once and reused by later runs
and by CI (.ci/run sets KMS_TEST_CACHE). If pip cannot reach its index the test is skipped
with the reason.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from kms_harness import unique_alias

CACHE = os.environ.get("KMS_TEST_CACHE", "/tmp/kms-test-cache")
VENV = os.path.join(CACHE, "ansible-venv")
PYTHON = os.path.join(VENV, "bin", "python")
PLAYBOOK_BIN = os.path.join(VENV, "bin", "ansible-playbook")

PLAYBOOK = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: the key, as the vars describe it
      amazon.aws.kms_key:
        alias: "{{ alias }}"
        description: "{{ description }}"
        tags: "{{ tags }}"
        purge_tags: true
        policy: "{{ policy | to_json }}"
        grants: "{{ grants }}"
        purge_grants: true
        enable_key_rotation: "{{ rotation }}"
        state: present
        endpoint_url: "{{ endpoint }}"
        access_key: "{{ access_key }}"
        secret_key: "{{ secret_key }}"
        region: us-east-1
      register: out
    - name: write the module's result for the test
      ansible.builtin.copy:
        content: "{{ out | to_json }}"
        dest: "{{ result_file }}"
"""


def _ensure_ansible():
    """The cached venv, made on first use (pip install ansible boto3 botocore)."""
    if os.path.exists(PLAYBOOK_BIN) and os.path.exists(os.path.join(VENV, ".complete")):
        return
    os.makedirs(CACHE, exist_ok=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True, capture_output=True, timeout=300)
    pip = subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                          "ansible", "boto3", "botocore"], capture_output=True, text=True, timeout=1800)
    if pip.returncode != 0:
        pytest.skip(f"pip could not install ansible into {VENV} (index unreachable?): {pip.stderr.strip()[-400:]}")
    with open(os.path.join(VENV, ".complete"), "w") as fh:
        fh.write(f"installed in {time.monotonic() - started:.0f}s\n")


@pytest.fixture(scope="module")
def ansible():
    _ensure_ansible()
    return PLAYBOOK_BIN


def _apply(ansible, tmp_path, server, variables):
    creds = server.root_credentials()
    step = len(list(tmp_path.glob("result-*.json")))
    result_file = tmp_path / f"result-{step}.json"
    play = tmp_path / "playbook.yml"
    play.write_text(PLAYBOOK)
    extra = dict(variables, endpoint=server.url, access_key=creds.access_key, secret_key=creds.secret_key,
                 result_file=str(result_file), ansible_python_interpreter=PYTHON)
    vars_file = tmp_path / f"vars-{step}.json"
    vars_file.write_text(json.dumps(extra))
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               ANSIBLE_HOME=str(tmp_path / "ansible-home"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_LOCALHOST_WARNING="False",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    run = subprocess.run([ansible, "-i", "localhost,", str(play), "-e", f"@{vars_file}"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"ansible-playbook failed:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    return json.loads(result_file.read_text())


def _policy(account, extra_sid):
    return {
        "Version": "2012-10-17",
        "Id": "ansible-test",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": extra_sid, "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
             "Action": ["kms:DescribeKey"], "Resource": "*"},
        ],
    }


def test_kms_key_module_creates_updates_and_reapplies_idempotently(ansible, tmp_path, server, kms, account):
    alias = unique_alias("ansible")
    root = f"arn:aws:iam::{account}:root"
    grants = [
        {"name": "ansible-decrypt", "grantee_principal": root, "retiring_principal": root,
         "operations": ["Decrypt", "Encrypt"]},
        {"name": "ansible-constrained", "grantee_principal": root, "operations": ["GenerateDataKey"],
         "constraints": {"encryption_context_subset": {"app": "ansible"}}},
    ]
    first = {"alias": alias, "description": "made by ansible", "tags": {"team": "a", "env": "test"},
             "policy": _policy(account, "first"), "grants": grants, "rotation": True}

    out = _apply(ansible, tmp_path, server, first)
    assert out["changed"] is True
    key_id = out["key_id"]
    meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
    assert meta["KeyId"] == key_id and meta["Description"] == "made by ansible"
    assert {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]} == {"team": "a", "env": "test"}
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])["Statement"][1]["Sid"] == "first"
    listed = {g["Name"]: g for g in kms.list_grants(KeyId=key_id)["Grants"]}
    assert set(listed) == {"ansible-decrypt", "ansible-constrained"}
    assert sorted(listed["ansible-decrypt"]["Operations"]) == ["Decrypt", "Encrypt"]
    assert listed["ansible-constrained"]["Constraints"] == {"EncryptionContextSubset": {"app": "ansible"}}
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True

    # The same task again changes nothing.
    again = _apply(ansible, tmp_path, server, first)
    assert again["changed"] is False, again
    assert again["key_id"] == key_id

    # Update description, tags (purged to the new set), policy, one grant and rotation.
    second = dict(first, description="updated by ansible", tags={"team": "b"}, policy=_policy(account, "second"),
                  grants=[grants[0]], rotation=False)
    out = _apply(ansible, tmp_path, server, second)
    assert out["changed"] is True and out["key_id"] == key_id
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["Description"] == "updated by ansible" and meta["KeyState"] == "Enabled"
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "b"}]
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])["Statement"][1]["Sid"] == "second"
    assert [g["Name"] for g in kms.list_grants(KeyId=key_id)["Grants"]] == ["ansible-decrypt"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    assert [a["TargetKeyId"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]] == [key_id]

    again = _apply(ansible, tmp_path, server, second)
    assert again["changed"] is False, again
