#!/usr/bin/env python3
"""Writes Corpus/evaluation_cases.json: the table of authorization cases PolicyCorpusTests runs.

Each case names the AWS documentation page that sets its expectation. Tables here are compact
(one row per operator/value/request triple); the JSON is what the Swift test reads, so the
count is visible there. Run: python3 Tests/IAMPolicyTests/make_corpus.py
"""
import json, os

IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
COND_OPS = IAM + "reference_policies_elements_condition_operators.html"
CONDITION = IAM + "reference_policies_elements_condition.html"
MULTI = IAM + "reference_policies_condition-single-vs-multi-valued-context-keys.html"
LOGIC = IAM + "reference_policies_condition-logic-multiple-context-keys-or-values.html"
VARS = IAM + "reference_policies_variables.html"
EVAL = IAM + "reference_policies_evaluation-logic.html"
CROSS = IAM + "reference_policies_evaluation-logic-cross-account.html"
NOTPRINCIPAL = IAM + "reference_policies_elements_notprincipal.html"
NOTACTION = IAM + "reference_policies_elements_notaction.html"
NOTRESOURCE = IAM + "reference_policies_elements_notresource.html"
ACTION = IAM + "reference_policies_elements_action.html"
RESOURCE = IAM + "reference_policies_elements_resource.html"
PRINCIPAL = IAM + "reference_policies_elements_principal.html"
SESSION = IAM + "access_policies.html#policies_session"
GLOBAL_KEYS = IAM + "reference_policies_condition-keys.html"
DENIED = IAM + "troubleshoot_access-denied.html"
KMS = "https://docs.aws.amazon.com/kms/latest/developerguide/"
KEY_POLICIES = KMS + "key-policies.html"
DEFAULT_POLICY = KMS + "key-policy-default.html"
KMS_CROSS = KMS + "key-policy-modifying-external-accounts.html"
KMS_IAM = KMS + "iam-policies.html"
GRANTS = KMS + "grants.html"
GRANT_CONSTRAINTS = KMS + "create-grant-overview.html"
KMS_COND = KMS + "conditions-kms.html"

A, B = "111122223333", "444455556666"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = f"arn:aws:iam::{A}:user/alice"
BOB = f"arn:aws:iam::{A}:user/bob"
ROLE = f"arn:aws:iam::{A}:role/app/Worker"
SESSION_ARN = f"arn:aws:sts::{A}:assumed-role/Worker/s1"
B_USER = f"arn:aws:iam::{B}:user/carol"
B_ROLE = f"arn:aws:iam::{B}:role/Partner"

P_ALICE = {"type": "user", "arn": ALICE, "userId": "AIDAALICE"}
P_BOB = {"type": "user", "arn": BOB, "userId": "AIDABOB"}
P_ROOT = {"type": "root", "account": A}
P_SESSION = {"type": "assumedRole", "roleArn": ROLE, "session": "s1", "roleId": "AROAWORKER"}
P_B_USER = {"type": "user", "arn": B_USER}
P_B_ROOT = {"type": "root", "account": B}
P_B_SESSION = {"type": "assumedRole", "roleArn": B_ROLE, "session": "p1"}
P_SERVICE = {"type": "service", "name": "dynamodb.amazonaws.com"}

cases = []

def case(name, doc, principal, expect, key_policy=None, identity=None, session=None, grants=None,
         action="kms:Decrypt", resource=KEY, context=None, ec=None, reason=None, sids=None):
    c = {"name": name, "doc": doc, "principal": principal, "action": action, "resource": resource,
         "expect": expect}
    if key_policy is not None: c["keyPolicy"] = key_policy
    if identity is not None: c["identityPolicies"] = identity
    if session is not None: c["sessionPolicies"] = session
    if grants is not None: c["grants"] = grants
    if context: c["context"] = context
    if ec is not None: c["encryptionContext"] = ec
    if reason: c["reason"] = reason
    if sids is not None: c["matchedSids"] = sids
    assert name not in {x["name"] for x in cases}, name
    cases.append(c)

def pol(*statements, version="2012-10-17"):
    d = {"Statement": list(statements)}
    if version: d = {"Version": version, **d}
    return d

def st(effect="Allow", principal=None, action="kms:Decrypt", resource="*", condition=None, sid=None, **extra):
    s = {}
    if sid: s["Sid"] = sid
    s["Effect"] = effect
    if principal is not None: s["Principal"] = principal
    s.update({k: v for k, v in extra.items()})
    if "NotAction" not in extra: s["Action"] = action
    if "NotResource" not in extra: s["Resource"] = resource
    if condition is not None: s["Condition"] = condition
    return s

def default_policy(account=A):
    return pol(st(principal={"AWS": f"arn:aws:iam::{account}:root"}, action="kms:*", sid="Enable IAM User Permissions"))

def allow_alice_if(condition, version="2012-10-17"):
    return pol(st(principal={"AWS": ALICE}, condition=condition), version=version)

# ---------------------------------------------------------------- condition operators
# (operator, policy values, request values or None for absent, condition true?)
def op_rows(prefix, key, rows, doc=COND_OPS, deny_too=False):
    for i, (op, pv, rv, ok) in enumerate(rows):
        ctx = {key: rv if isinstance(rv, list) else [rv]} if rv is not None else None
        case(f"{prefix} {i:02d}: {op} {json.dumps(pv)} vs {json.dumps(rv)}", doc, P_ALICE,
             "allowed" if ok else "implicitDeny", key_policy=allow_alice_if({op: {key: pv}}), context=ctx,
             reason=None if ok else "noResourcePolicyAllows")
        if deny_too:
            # The same condition in a Deny statement: it denies exactly when it holds.
            kp = pol(st(principal={"AWS": ALICE}, sid="Use"), st("Deny", principal="*", condition={op: {key: pv}}, sid="Guard"))
            case(f"{prefix} {i:02d} in a Deny: {op} {json.dumps(pv)} vs {json.dumps(rv)}", doc, P_ALICE,
                 "explicitDeny" if ok else "allowed", key_policy=kp, context=ctx,
                 reason="explicitDenyInResourcePolicy" if ok else "allowedByResourcePolicy", sids=["Guard"] if ok else ["Use"])

op_rows("string", "kms:EncryptionContext:Department", [
    ("StringEquals", "Finance", "Finance", True),
    ("StringEquals", "Finance", "finance", False),
    ("StringEquals", ["HR", "Finance"], "Finance", True),
    ("StringEquals", ["HR", "Legal"], "Finance", False),
    ("StringEquals", "Finance", None, False),
    ("StringEquals", "Fin*", "Finance", False),
    ("StringEquals", "Fin*", "Fin*", True),
    ("StringNotEquals", "Finance", "Finance", False),
    ("StringNotEquals", "Finance", "HR", True),
    ("StringNotEquals", ["HR", "Finance"], "Finance", False),
    ("StringNotEquals", ["HR", "Legal"], "Finance", True),
    ("StringNotEquals", "Finance", None, True),
    ("StringNotEquals", "Finance", "FINANCE", True),
    ("StringEqualsIgnoreCase", "finance", "FINANCE", True),
    ("StringEqualsIgnoreCase", "Finance", "finance", True),
    ("StringEqualsIgnoreCase", "Finance", "Finances", False),
    ("StringEqualsIgnoreCase", "Finance", None, False),
    ("StringNotEqualsIgnoreCase", "finance", "FINANCE", False),
    ("StringNotEqualsIgnoreCase", "finance", "HR", True),
    ("StringNotEqualsIgnoreCase", "finance", None, True),
    ("StringLike", "Fin*", "Finance", True),
    ("StringLike", "Fin*", "HR", False),
    ("StringLike", "F?nance", "Finance", True),
    ("StringLike", "F?nance", "Fnance", False),
    ("StringLike", "*ance", "Finance", True),
    ("StringLike", "*an*", "Finance", True),
    ("StringLike", "*", "", True),
    ("StringLike", "?", "", False),
    ("StringLike", "a*b*c", "aXXbYYc", True),
    ("StringLike", "a*b*c", "aXXbYY", False),
    ("StringLike", "fin*", "Finance", False),
    ("StringLike", ["HR", "Fin*"], "Finance", True),
    ("StringLike", "Fin*", None, False),
    ("StringLike", "?té", "été", True),
    ("StringLike", "é?é", "été", True),
    ("StringNotLike", "Fin*", "Finance", False),
    ("StringNotLike", "Fin*", "HR", True),
    ("StringNotLike", ["HR", "Fin*"], "Finance", False),
    ("StringNotLike", "Fin*", None, True),
    ("StringEquals", "10", "10", True),
    ("StringEquals", "10", "10.0", False),
], deny_too=True)
# JSON scalars other than strings are compared as their text.
case("string: number literal compares as text", COND_OPS, P_ALICE, "allowed",
     key_policy=allow_alice_if({"StringEquals": {"kms:EncryptionContext:Level": 3}}), context={"kms:EncryptionContext:Level": ["3"]})
case("string: condition key names are case-insensitive", CONDITION, P_ALICE, "allowed",
     key_policy=allow_alice_if({"StringEquals": {"KMS:ENCRYPTIONCONTEXT:DEPARTMENT": "Finance"}}),
     context={"kms:EncryptionContext:Department": ["Finance"]})
case("string: a pathological pattern is matched in linear time", COND_OPS, P_ALICE, "implicitDeny",
     key_policy=allow_alice_if({"StringLike": {"aws:username": "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"}}),
     context={"aws:username": ["a" * 3000]}, reason="noResourcePolicyAllows")

op_rows("numeric", "kms:ScheduleKeyDeletionPendingWindowInDays", [
    ("NumericEquals", "10", "10", True),
    ("NumericEquals", "10", "10.0", True),
    ("NumericEquals", "10", "11", False),
    ("NumericEquals", ["7", "30"], "30", True),
    ("NumericEquals", "10", None, False),
    ("NumericEquals", "10", "ten", False),
    ("NumericNotEquals", "10", "10", False),
    ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", ["7", "30"], "30", False),
    ("NumericNotEquals", "10", None, True),
    ("NumericLessThan", "30", "7", True),
    ("NumericLessThan", "30", "30", False),
    ("NumericLessThan", "30", "31", False),
    ("NumericLessThan", "30", None, False),
    ("NumericLessThanEquals", "30", "30", True),
    ("NumericLessThanEquals", "30", "30.5", False),
    ("NumericLessThanEquals", "-1", "-2", True),
    ("NumericGreaterThan", "7", "8", True),
    ("NumericGreaterThan", "7", "7", False),
    ("NumericGreaterThan", "7", "6", False),
    ("NumericGreaterThan", "7.5", "7.6", True),
    ("NumericGreaterThanEquals", "7", "7", True),
    ("NumericGreaterThanEquals", "7", "6.99", False),
    ("NumericGreaterThanEquals", ["30", "7"], "10", True),
    ("NumericGreaterThanEquals", "7", None, False),
], deny_too=True)
case("numeric: JSON number value", COND_OPS, P_ALICE, "allowed",
     key_policy=allow_alice_if({"NumericLessThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": 7}}),
     context={"kms:ScheduleKeyDeletionPendingWindowInDays": ["7"]})

op_rows("date", "aws:CurrentTime", [
    ("DateEquals", "2024-06-30T00:00:00Z", "2024-06-30T00:00:00Z", True),
    ("DateEquals", "2024-06-30", "2024-06-30T00:00:00Z", True),
    ("DateEquals", "2024-06-30T00:00:00Z", "2024-06-30T00:00:01Z", False),
    ("DateEquals", "2024-06-30T02:00:00+02:00", "2024-06-30T00:00:00Z", True),
    ("DateEquals", "1719705600", "2024-06-30T00:00:00Z", True),
    ("DateEquals", "2024-06-30T00:00:00Z", None, False),
    ("DateNotEquals", "2024-06-30T00:00:00Z", "2024-06-30T00:00:00Z", False),
    ("DateNotEquals", "2024-06-30T00:00:00Z", "2024-07-01T00:00:00Z", True),
    ("DateNotEquals", "2024-06-30T00:00:00Z", None, True),
    ("DateLessThan", "2024-06-30T00:00:00Z", "2024-06-29T23:59:59Z", True),
    ("DateLessThan", "2024-06-30T00:00:00Z", "2024-06-30T00:00:00Z", False),
    ("DateLessThan", "2024-06-30T00:00:00Z", "2025-01-01T00:00:00Z", False),
    ("DateLessThan", "2024-06-30T00:00:00Z", "2024-06-29T23:59:59.500Z", True),
    ("DateLessThanEquals", "2024-06-30T00:00:00Z", "2024-06-30T00:00:00Z", True),
    ("DateLessThanEquals", "2024-06-30T00:00:00Z", "2024-06-30T00:00:00.001Z", False),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", "2024-06-30T12:00:00Z", True),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z", False),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", "2000-02-29T00:00:00Z", False),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", "not a date", False),
    ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", True),
    ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", "2023-12-31T19:00:00-05:00", True),
    ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", "2023-12-31T18:59:59-05:00", False),
    ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", None, False),
], deny_too=True)
op_rows("epoch", "aws:EpochTime", [
    ("DateGreaterThan", "1700000000", "1700000001", True),
    ("DateGreaterThan", "1700000000", "1699999999", False),
    ("DateLessThan", "2030-01-01T00:00:00Z", "1700000000", True),
], doc=GLOBAL_KEYS)

op_rows("bool", "aws:SecureTransport", [
    ("Bool", "true", "true", True),
    ("Bool", "true", "false", False),
    ("Bool", "false", "false", True),
    ("Bool", "false", "true", False),
    ("Bool", "true", "TRUE", True),
    ("Bool", "true", None, False),
    ("Bool", True, "true", True),
    ("Bool", False, "true", False),
    ("Bool", ["true", "false"], "false", True),
    ("Bool", "true", "yes", False),
])
op_rows("kms-bool", "kms:GrantIsForAWSResource", [
    ("Bool", "true", "true", True),
    ("Bool", "true", "false", False),
], doc=KMS_COND)

op_rows("binary", "kms:EncryptionContext:Blob", [
    ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", True),
    ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", "QmluYXJ5VmFsdWVJbkJhc2U2NQ==", False),
    ("BinaryEquals", ["AAEC", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="], "QmluYXJ5VmFsdWVJbkJhc2U2NA==", True),
    ("BinaryEquals", "AAEC", None, False),
    ("BinaryEquals", "AAEC", "not base64!", False),
])

op_rows("ip", "aws:SourceIp", [
    ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
    ("IpAddress", "203.0.113.0/24", "203.0.114.7", False),
    ("IpAddress", "203.0.113.9", "203.0.113.9", True),
    ("IpAddress", "203.0.113.9/32", "203.0.113.10", False),
    ("IpAddress", "0.0.0.0/0", "198.51.100.1", True),
    ("IpAddress", "10.0.0.0/8", "10.255.255.255", True),
    ("IpAddress", "10.0.0.0/8", "11.0.0.0", False),
    ("IpAddress", "203.0.113.128/25", "203.0.113.127", False),
    ("IpAddress", "203.0.113.128/25", "203.0.113.200", True),
    ("IpAddress", ["192.0.2.0/24", "203.0.113.0/24"], "192.0.2.44", True),
    ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),
    ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5679::1", False),
    ("IpAddress", "2001:db8::/32", "2001:db8:ffff::1", True),
    ("IpAddress", "::/0", "2001:db8::1", True),
    ("IpAddress", "2001:db8::/32", "203.0.113.7", False),
    ("IpAddress", "203.0.113.0/24", "2001:db8::1", False),
    ("IpAddress", "203.0.113.0/24", None, False),
    ("IpAddress", "203.0.113.0/24", "not an ip", False),
    ("NotIpAddress", "203.0.113.0/24", "203.0.113.7", False),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.7", True),
    ("NotIpAddress", ["192.0.2.0/24", "203.0.113.0/24"], "203.0.113.1", False),
    ("NotIpAddress", "2001:db8::/32", "2001:db8::1", False),
    ("NotIpAddress", "2001:db8::/32", "2001:db9::1", True),
    ("NotIpAddress", "203.0.113.0/24", None, True),
], deny_too=True)

op_rows("arn", "kms:GranteePrincipal", [
    ("ArnEquals", ALICE, ALICE, True),
    ("ArnEquals", BOB, ALICE, False),
    ("ArnEquals", f"arn:aws:iam::{A}:user/*", ALICE, True),
    ("ArnEquals", f"arn:aws:iam::*:user/alice", ALICE, True),
    ("ArnLike", f"arn:aws:iam::{A}:user/*", ALICE, True),
    ("ArnLike", f"arn:aws:iam::{A}:role/*", ALICE, False),
    ("ArnLike", f"arn:aws:iam::{A}:user/al?ce", ALICE, True),
    ("ArnLike", f"arn:aws:iam::*:*", ALICE, True),
    ("ArnLike", f"arn:aws:iam::{B}:*", ALICE, False),
    ("ArnLike", "arn:aws:*:*", ALICE, True),
    ("ArnLike", f"arn:aws:iam::{A}:user/*", "not-an-arn", False),
    ("ArnLike", f"arn:aws:iam::{A}:user/*", None, False),
    ("ArnLike", "arn:aws:iam::*:user/ALICE", ALICE, False),
    ("ArnNotEquals", BOB, ALICE, True),
    ("ArnNotEquals", ALICE, ALICE, False),
    ("ArnNotLike", f"arn:aws:iam::{A}:role/*", ALICE, True),
    ("ArnNotLike", f"arn:aws:iam::{A}:user/*", ALICE, False),
    ("ArnNotLike", f"arn:aws:iam::{A}:user/*", None, True),
])
# aws:PrincipalArn is derived from the principal, so these run without an explicit context value.
case("arn: aws:PrincipalArn of a session is the role ARN", GLOBAL_KEYS, P_SESSION, "allowed",
     key_policy=pol(st(principal="*", condition={"ArnEquals": {"aws:PrincipalArn": ROLE}})))
case("arn: aws:PrincipalArn is not the session ARN", GLOBAL_KEYS, P_SESSION, "implicitDeny",
     key_policy=pol(st(principal="*", condition={"ArnEquals": {"aws:PrincipalArn": SESSION_ARN}})), reason="noResourcePolicyAllows")

op_rows("null", "kms:EncryptionContext:Department", [
    ("Null", "true", None, True),
    ("Null", "true", "Finance", False),
    ("Null", "false", "Finance", True),
    ("Null", "false", None, False),
    ("Null", True, None, True),
    ("Null", ["true", "false"], None, True),
], deny_too=True)

# ---------------------------------------------------------------- IfExists
op_rows("ifexists", "kms:EncryptionAlgorithm", [
    ("StringEqualsIfExists", "SYMMETRIC_DEFAULT", None, True),
    ("StringEqualsIfExists", "SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT", True),
    ("StringEqualsIfExists", "SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256", False),
    ("StringNotEqualsIfExists", "SYMMETRIC_DEFAULT", None, True),
    ("StringNotEqualsIfExists", "SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT", False),
    ("StringLikeIfExists", "RSAES_*", "RSAES_OAEP_SHA_1", True),
    ("StringLikeIfExists", "RSAES_*", None, True),
    ("StringLikeIfExists", "RSAES_*", "SM2PKE", False),
], deny_too=True)
op_rows("ifexists-num", "kms:ScheduleKeyDeletionPendingWindowInDays", [
    ("NumericGreaterThanEqualsIfExists", "14", None, True),
    ("NumericGreaterThanEqualsIfExists", "14", "7", False),
    ("NumericGreaterThanEqualsIfExists", "14", "30", True),
])
op_rows("ifexists-misc", "aws:SourceIp", [
    ("IpAddressIfExists", "203.0.113.0/24", None, True),
    ("IpAddressIfExists", "203.0.113.0/24", "198.51.100.1", False),
    ("NotIpAddressIfExists", "203.0.113.0/24", "203.0.113.1", False),
])
op_rows("ifexists-date", "aws:CurrentTime", [
    ("DateLessThanIfExists", "2030-01-01T00:00:00Z", None, True),
    ("DateLessThanIfExists", "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z", False),
])
op_rows("ifexists-bool", "aws:SecureTransport", [
    ("BoolIfExists", "true", None, True),
    ("BoolIfExists", "true", "false", False),
])
op_rows("ifexists-arn", "kms:ViaService", [
    ("ArnLikeIfExists", "arn:aws:iam::*:role/*", None, True),
])
case("ifexists: Deny on missing MFA with BoolIfExists denies when the key says false", CONDITION, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal="*", condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, sid="DenyNoMFA")),
     context={"aws:MultiFactorAuthPresent": ["false"]}, reason="explicitDenyInResourcePolicy", sids=["DenyNoMFA"])
case("ifexists: Deny with BoolIfExists also denies when the key is absent", CONDITION, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal="*", condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})),
     reason="explicitDenyInResourcePolicy")
case("ifexists: Deny with BoolIfExists does not deny when MFA is present", CONDITION, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal="*", condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})),
     context={"aws:MultiFactorAuthPresent": ["true"]})

# ---------------------------------------------------------------- set operators
def set_rows(prefix, rows, doc=MULTI):
    for i, (op, pv, rv, ok) in enumerate(rows):
        ctx = {"aws:TagKeys": rv} if rv is not None else None
        case(f"{prefix} {i:02d}: {op} {json.dumps(pv)} vs {json.dumps(rv)}", doc, P_ALICE,
             "allowed" if ok else "implicitDeny", key_policy=allow_alice_if({op: {"aws:TagKeys": pv}}), context=ctx)

set_rows("set", [
    ("ForAllValues:StringEquals", ["Project", "Owner"], ["Project"], True),
    ("ForAllValues:StringEquals", ["Project", "Owner"], ["Project", "Owner"], True),
    ("ForAllValues:StringEquals", ["Project", "Owner"], ["Project", "Cost"], False),
    ("ForAllValues:StringEquals", ["Project", "Owner"], None, True),
    ("ForAllValues:StringEquals", ["Project", "Owner"], [], True),
    ("ForAllValues:StringLike", ["Proj*", "Own*"], ["Project", "Owner"], True),
    ("ForAllValues:StringLike", ["Proj*"], ["Project", "Owner"], False),
    ("ForAllValues:StringNotEquals", ["Secret"], ["Project", "Owner"], True),
    ("ForAllValues:StringNotEquals", ["Secret"], ["Project", "Secret"], False),
    ("ForAllValues:StringEqualsIgnoreCase", ["project"], ["PROJECT", "Project"], True),
    ("ForAnyValue:StringEquals", ["Project", "Owner"], ["Cost", "Owner"], True),
    ("ForAnyValue:StringEquals", ["Project", "Owner"], ["Cost"], False),
    ("ForAnyValue:StringEquals", ["Project", "Owner"], None, False),
    ("ForAnyValue:StringEquals", ["Project", "Owner"], [], False),
    ("ForAnyValue:StringLike", ["Co*"], ["Cost", "Owner"], True),
    ("ForAnyValue:StringNotEquals", ["Project"], ["Project", "Owner"], True),
    ("ForAnyValue:StringNotEquals", ["Project"], ["Project"], False),
    ("ForAnyValue:StringNotLike", ["P*"], ["Project", "Pilot"], False),
    ("ForAllValues:StringNotLike", ["Sec*"], ["Project", "Owner"], True),
    ("ForAllValues:StringNotLike", ["Sec*"], ["Secret"], False),
    ("ForAnyValue:StringEqualsIfExists", ["Project"], None, True),
    ("ForAllValues:StringEqualsIfExists", ["Project"], ["Owner"], False),
])
case("set: a Deny with ForAnyValue blocks a request carrying one forbidden tag", MULTI, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE}, action="kms:TagResource"),
                    st("Deny", principal="*", action="kms:TagResource", condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["Secret"]}})),
     action="kms:TagResource", context={"aws:TagKeys": ["Project", "Secret"]}, reason="explicitDenyInResourcePolicy")
case("set: ForAllValues in an Allow with a Null guard refuses a request without the key", MULTI, P_ALICE, "implicitDeny",
     key_policy=allow_alice_if({"ForAllValues:StringEquals": {"aws:TagKeys": ["Project"]}, "Null": {"aws:TagKeys": "false"}}))
case("set: ForAllValues with a Null guard allows a request with only allowed keys", MULTI, P_ALICE, "allowed",
     key_policy=allow_alice_if({"ForAllValues:StringEquals": {"aws:TagKeys": ["Project"]}, "Null": {"aws:TagKeys": "false"}}),
     context={"aws:TagKeys": ["Project"]})
case("set: kms:EncryptionContextKeys ForAllValues allows a context with only listed keys", KMS_COND, P_ALICE, "allowed",
     key_policy=allow_alice_if({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Department", "Project"]}}),
     context={"kms:EncryptionContextKeys": ["Project"]})
case("set: kms:EncryptionContextKeys ForAnyValue requires one listed key", KMS_COND, P_ALICE, "implicitDeny",
     key_policy=allow_alice_if({"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["Department"]}}),
     context={"kms:EncryptionContextKeys": ["Project"]})
# ---------------------------------------------------------------- AND/OR logic
case("logic: two keys under one operator are ANDed (both match)", LOGIC, P_ALICE, "allowed",
     key_policy=allow_alice_if({"StringEquals": {"kms:EncryptionContext:Department": "Finance", "kms:EncryptionContext:Project": "Alpha"}}),
     context={"kms:EncryptionContext:Department": ["Finance"], "kms:EncryptionContext:Project": ["Alpha"]})
case("logic: two keys under one operator are ANDed (one fails)", LOGIC, P_ALICE, "implicitDeny",
     key_policy=allow_alice_if({"StringEquals": {"kms:EncryptionContext:Department": "Finance", "kms:EncryptionContext:Project": "Alpha"}}),
     context={"kms:EncryptionContext:Department": ["Finance"], "kms:EncryptionContext:Project": ["Beta"]})
case("logic: two operators are ANDed (both match)", LOGIC, P_ALICE, "allowed",
     key_policy=allow_alice_if({"StringEquals": {"kms:EncryptionContext:Department": "Finance"}, "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
     context={"kms:EncryptionContext:Department": ["Finance"], "aws:SourceIp": ["203.0.113.5"]})
case("logic: two operators are ANDed (one fails)", LOGIC, P_ALICE, "implicitDeny",
     key_policy=allow_alice_if({"StringEquals": {"kms:EncryptionContext:Department": "Finance"}, "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
     context={"kms:EncryptionContext:Department": ["Finance"], "aws:SourceIp": ["198.51.100.5"]})
case("logic: values of one key are ORed", LOGIC, P_ALICE, "allowed",
     key_policy=allow_alice_if({"StringEquals": {"kms:EncryptionContext:Department": ["HR", "Legal", "Finance"]}}),
     context={"kms:EncryptionContext:Department": ["Legal"]})
case("logic: negated operator values are NORed", LOGIC, P_ALICE, "implicitDeny",
     key_policy=allow_alice_if({"StringNotEquals": {"kms:EncryptionContext:Department": ["HR", "Legal"]}}),
     context={"kms:EncryptionContext:Department": ["Legal"]})
case("logic: a Deny on one encryption-context value blocks exactly that value", KMS_COND, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal="*", condition={"StringEquals": {"kms:EncryptionContext:Department": "Secret"}}, sid="DenySecret")),
     context={"kms:EncryptionContext:Department": ["Secret"]}, reason="explicitDenyInResourcePolicy", sids=["DenySecret"])
case("logic: the same Deny lets other values through", KMS_COND, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE}, sid="UseKey"), st("Deny", principal="*", condition={"StringEquals": {"kms:EncryptionContext:Department": "Secret"}})),
     context={"kms:EncryptionContext:Department": ["Finance"]}, sids=["UseKey"])

# ---------------------------------------------------------------- policy variables
def var_case(name, value, ctx, ok, principal=P_ALICE, op="StringEquals", key="kms:EncryptionContext:Owner", version="2012-10-17", doc=VARS):
    case(f"variables: {name}", doc, principal, "allowed" if ok else "implicitDeny",
         key_policy=pol(st(principal="*", condition={op: {key: value}}), version=version), context=ctx)

var_case("${aws:username} matches the caller's name", "${aws:username}", {"kms:EncryptionContext:Owner": ["alice"]}, True)
var_case("${aws:username} differs", "${aws:username}", {"kms:EncryptionContext:Owner": ["bob"]}, False)
var_case("${aws:username} inside a string", "team-${aws:username}-x", {"kms:EncryptionContext:Owner": ["team-alice-x"]}, True)
var_case("${aws:userid} of a user", "${aws:userid}", {"kms:EncryptionContext:Owner": ["AIDAALICE"]}, True)
var_case("${aws:userid} of a session is roleid:session", "${aws:userid}", {"kms:EncryptionContext:Owner": ["AROAWORKER:s1"]}, True, principal=P_SESSION)
var_case("${aws:username} is absent for a session", "${aws:username}", {"kms:EncryptionContext:Owner": ["s1"]}, False, principal=P_SESSION)
var_case("${aws:username} with a default for a session", "${aws:username, 'nobody'}", {"kms:EncryptionContext:Owner": ["nobody"]}, True, principal=P_SESSION)
var_case("${aws:PrincipalAccount}", "${aws:PrincipalAccount}", {"kms:EncryptionContext:Owner": [A]}, True)
var_case("${aws:PrincipalTag/team}", "${aws:PrincipalTag/team}", {"kms:EncryptionContext:Owner": ["blue"]}, True,
         principal={**P_ALICE, "tags": {"team": "blue"}})
var_case("${aws:PrincipalTag/team} with another value", "${aws:PrincipalTag/team}", {"kms:EncryptionContext:Owner": ["red"]}, False,
         principal={**P_ALICE, "tags": {"team": "blue"}})
var_case("${aws:PrincipalTag/team} missing tag does not match", "${aws:PrincipalTag/team}", {"kms:EncryptionContext:Owner": [""]}, False)
var_case("${aws:PrincipalType}", "${aws:PrincipalType}", {"kms:EncryptionContext:Owner": ["User"]}, True)
var_case("${*} is a literal star in StringEquals", "a${*}b", {"kms:EncryptionContext:Owner": ["a*b"]}, True)
var_case("${*} is not a wildcard in StringLike", "a${*}b", {"kms:EncryptionContext:Owner": ["aXb"]}, False, op="StringLike")
var_case("${*} literal star matches itself in StringLike", "a${*}b", {"kms:EncryptionContext:Owner": ["a*b"]}, True, op="StringLike")
var_case("${?} is a literal question mark", "why${?}", {"kms:EncryptionContext:Owner": ["why?"]}, True, op="StringLike")
var_case("${?} is not a single-character wildcard", "why${?}", {"kms:EncryptionContext:Owner": ["whyX"]}, False, op="StringLike")
var_case("${$} is a literal dollar", "${$}{aws:username}", {"kms:EncryptionContext:Owner": ["${aws:username}"]}, True)
var_case("StringLike with a variable and a wildcard", "${aws:username}-*", {"kms:EncryptionContext:Owner": ["alice-42"]}, True, op="StringLike")
var_case("a substituted value is literal, not a wildcard", "${aws:PrincipalTag/pattern}", {"kms:EncryptionContext:Owner": ["anything"]}, False,
         op="StringLike", principal={**P_ALICE, "tags": {"pattern": "*"}})
var_case("StringEqualsIgnoreCase with a variable", "${aws:username}", {"kms:EncryptionContext:Owner": ["ALICE"]}, True, op="StringEqualsIgnoreCase")
var_case("StringNotEquals with a variable", "${aws:username}", {"kms:EncryptionContext:Owner": ["bob"]}, True, op="StringNotEquals")
var_case("ArnLike with ${aws:PrincipalAccount}", "arn:aws:iam::${aws:PrincipalAccount}:user/*", None, True, op="ArnLike", key="aws:PrincipalArn")
var_case("ArnEquals with ${aws:username}", f"arn:aws:iam::{A}:user/${{aws:username}}", None, True, op="ArnEquals", key="aws:PrincipalArn")
var_case("Version 2008-10-17 treats ${aws:username} as text", "${aws:username}", {"kms:EncryptionContext:Owner": ["${aws:username}"]}, True, version="2008-10-17")
var_case("Version 2008-10-17 does not substitute", "${aws:username}", {"kms:EncryptionContext:Owner": ["alice"]}, False, version="2008-10-17")
var_case("no Version means 2008-10-17: no substitution", "${aws:username}", {"kms:EncryptionContext:Owner": ["alice"]}, False, version=None)
var_case("a variable value against an absent key does not match", "${aws:username}", None, False, op="StringEquals", key="kms:Missing")
case("variables: Resource with ${aws:PrincipalAccount}", VARS, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE}, resource="arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/*")))
case("variables: Resource with ${aws:PrincipalAccount} from another account", VARS, P_B_USER, "implicitDeny",
     key_policy=pol(st(principal="*", resource="arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/*")),
     identity=[pol(st(action="kms:*"))], reason="noResourcePolicyAllows")
case("variables: Resource with an unresolvable variable does not match", VARS, P_SESSION, "implicitDeny",
     key_policy=pol(st(principal="*", resource="arn:aws:kms:us-east-1:111122223333:key/${aws:username}")))
case("variables: identity policy Resource keyed by a principal tag", VARS, P_ALICE | {"tags": {"key": "1234abcd-12ab-34cd-56ef-1234567890ab"}}, "allowed",
     key_policy=default_policy(), identity=[pol(st(resource="arn:aws:kms:*:*:key/${aws:PrincipalTag/key}"))])

# ---------------------------------------------------------------- Action / NotAction
def action_case(name, actions, action, ok, doc=ACTION, negated=False):
    elem = {"NotAction": actions} if negated else {"action": actions}
    s = st(principal={"AWS": ALICE}, **({"NotAction": actions} if negated else {}), **({} if negated else {"action": actions}))
    case(f"action: {name}", doc, P_ALICE, "allowed" if ok else "implicitDeny", key_policy=pol(s), action=action)

action_case("exact", "kms:Decrypt", "kms:Decrypt", True)
action_case("different action", "kms:Encrypt", "kms:Decrypt", False)
action_case("case-insensitive action name", "KMS:decrypt", "kms:Decrypt", True)
action_case("case-insensitive request", "kms:Decrypt", "KMS:DECRYPT", True)
action_case("kms:* covers every KMS action", "kms:*", "kms:ScheduleKeyDeletion", True)
action_case("* covers every action", "*", "kms:Decrypt", True)
action_case("prefix wildcard", "kms:Generate*", "kms:GenerateDataKeyWithoutPlaintext", True)
action_case("prefix wildcard does not cover others", "kms:Generate*", "kms:Decrypt", False)
action_case("middle wildcard", "kms:ReEncrypt*", "kms:ReEncryptFrom", True)
action_case("? wildcard", "kms:?ncrypt", "kms:Encrypt", True)
action_case("? wildcard needs one character", "kms:?Encrypt", "kms:Encrypt", False)
action_case("list of actions", ["kms:Encrypt", "kms:Decrypt"], "kms:Decrypt", True)
action_case("other service", "iam:*", "kms:Decrypt", False)
action_case("suffix wildcard", "kms:*Key", "kms:DescribeKey", True)
action_case("suffix wildcard misses", "kms:*Key", "kms:Decrypt", False)
action_case("NotAction excludes the named action", "kms:Decrypt", "kms:Decrypt", False, doc=NOTACTION, negated=True)
action_case("NotAction covers every other action", "kms:Decrypt", "kms:Encrypt", True, doc=NOTACTION, negated=True)
action_case("NotAction with a wildcard", "kms:*Delete*", "kms:ScheduleKeyDeletion", True, doc=NOTACTION, negated=True)
action_case("NotAction with a wildcard excludes matches", "kms:Schedule*", "kms:ScheduleKeyDeletion", False, doc=NOTACTION, negated=True)
action_case("NotAction list", ["kms:Encrypt", "kms:Decrypt"], "kms:Decrypt", False, doc=NOTACTION, negated=True)
action_case("NotAction of another service covers KMS", "iam:*", "kms:Decrypt", True, doc=NOTACTION, negated=True)
case("action: Deny with NotAction denies everything else", NOTACTION, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE}, action="kms:*"), st("Deny", principal="*", NotAction=["kms:Encrypt", "kms:Decrypt"])),
     action="kms:DisableKey", reason="explicitDenyInResourcePolicy")
case("action: Deny with NotAction leaves the named actions", NOTACTION, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE}, action="kms:*"), st("Deny", principal="*", NotAction=["kms:Encrypt", "kms:Decrypt"])),
     action="kms:Encrypt")

# ---------------------------------------------------------------- Resource / NotResource
def res_case(name, resources, ok, doc=RESOURCE, negated=False, resource=KEY):
    s = st(principal={"AWS": ALICE}, **({"NotResource": resources} if negated else {"resource": resources}))
    case(f"resource: {name}", doc, P_ALICE, "allowed" if ok else "implicitDeny", key_policy=pol(s), resource=resource)

res_case("*", "*", True)
res_case("exact key ARN", KEY, True)
res_case("another key", f"arn:aws:kms:us-east-1:{A}:key/other", False)
res_case("key/* in the account", f"arn:aws:kms:us-east-1:{A}:key/*", True)
res_case("any region", f"arn:aws:kms:*:{A}:key/*", True)
res_case("other region", f"arn:aws:kms:eu-west-1:{A}:key/*", False)
res_case("other account", f"arn:aws:kms:us-east-1:{B}:key/*", False)
res_case("alias pattern does not match a key", f"arn:aws:kms:us-east-1:{A}:alias/*", False)
res_case("? in the resource", f"arn:aws:kms:us-east-?:{A}:key/*", True)
res_case("a field wildcard does not reach into the next field", f"arn:aws:kms:us-east-1:1111*:alias/*", False)
res_case("list of resources", [f"arn:aws:kms:eu-west-1:{A}:key/*", KEY], True)
res_case("case-sensitive resource", KEY.upper().replace("ARN:AWS:KMS", "arn:aws:kms"), False)
res_case("alias resource", f"arn:aws:kms:us-east-1:{A}:alias/app-*", True, resource=f"arn:aws:kms:us-east-1:{A}:alias/app-prod")
res_case("NotResource excludes the named key", KEY, False, doc=NOTRESOURCE, negated=True)
res_case("NotResource covers other keys", f"arn:aws:kms:us-east-1:{A}:key/other", True, doc=NOTRESOURCE, negated=True)
res_case("NotResource with a wildcard", f"arn:aws:kms:*:{A}:key/*", False, doc=NOTRESOURCE, negated=True)
res_case("NotResource of aliases covers keys", f"arn:aws:kms:*:{A}:alias/*", True, doc=NOTRESOURCE, negated=True)
case("resource: identity policy Deny with NotResource protects all keys but one", NOTRESOURCE, P_ALICE, "explicitDeny",
     key_policy=default_policy(), identity=[pol(st(action="kms:*"), st("Deny", action="kms:*", NotResource=f"arn:aws:kms:us-east-1:{A}:key/allowed"))],
     reason="explicitDenyInIdentityPolicy")

# ---------------------------------------------------------------- Principal / NotPrincipal
def princ_case(name, principal_elem, who, ok, doc=PRINCIPAL, identity=None, reason=None):
    case(f"principal: {name}", doc, who, "allowed" if ok else "implicitDeny",
         key_policy=pol(st(principal=principal_elem)), identity=identity, reason=reason)

princ_case("user ARN names that user", {"AWS": ALICE}, P_ALICE, True)
princ_case("user ARN does not name another user", {"AWS": ALICE}, P_BOB, False, reason="noResourcePolicyAllows")
princ_case("list of users", {"AWS": [BOB, ALICE]}, P_ALICE, True)
princ_case("* names everyone", "*", P_ALICE, True)
princ_case("{AWS: *} names everyone", {"AWS": "*"}, P_BOB, True)
princ_case("root ARN names the root user", {"AWS": f"arn:aws:iam::{A}:root"}, P_ROOT, True, doc=DEFAULT_POLICY)
princ_case("account ID names the root user", {"AWS": A}, P_ROOT, True)
princ_case("root ARN alone does not allow an IAM user", {"AWS": f"arn:aws:iam::{A}:root"}, P_ALICE, False, doc=DEFAULT_POLICY, reason="noIdentityPolicyAllows")
princ_case("root ARN plus identity policy allows the IAM user", {"AWS": f"arn:aws:iam::{A}:root"}, P_ALICE, True, doc=DEFAULT_POLICY,
           identity=[pol(st(action="kms:Decrypt"))])
princ_case("account ID plus identity policy allows the IAM user", {"AWS": A}, P_ALICE, True, doc=KEY_POLICIES,
           identity=[pol(st(action="kms:*"))])
princ_case("identity policy for another action does not help", {"AWS": A}, P_ALICE, False, doc=KMS_IAM,
           identity=[pol(st(action="kms:Encrypt"))], reason="noIdentityPolicyAllows")
princ_case("role ARN names its sessions", {"AWS": ROLE}, P_SESSION, True)
princ_case("session ARN names the session", {"AWS": SESSION_ARN}, P_SESSION, True)
princ_case("another session of the role is not named by a session ARN", {"AWS": f"arn:aws:sts::{A}:assumed-role/Worker/other"}, P_SESSION, False)
princ_case("role ARN does not name a user", {"AWS": ROLE}, P_ALICE, False)
princ_case("service principal", {"Service": "dynamodb.amazonaws.com"}, P_SERVICE, True)
princ_case("another service", {"Service": "s3.amazonaws.com"}, P_SERVICE, False)
princ_case("user ARN does not name a service", {"AWS": ALICE}, P_SERVICE, False)
princ_case("other account's root does not name this account's user", {"AWS": f"arn:aws:iam::{B}:root"}, P_ALICE, False,
           identity=[pol(st(action="kms:*"))])
princ_case("root user is not allowed when the key policy names only users", {"AWS": ALICE}, P_ROOT, False, doc=KEY_POLICIES)

def notp_case(name, listed, who, denied, doc=NOTPRINCIPAL):
    kp = pol(st(principal="*", sid="AllowAll"), st("Deny", NotPrincipal={"AWS": listed}, sid="DenyOthers"))
    case(f"notprincipal: {name}", doc, who, "explicitDeny" if denied else "allowed", key_policy=kp,
         reason="explicitDenyInResourcePolicy" if denied else None)

notp_case("Deny NotPrincipal spares the listed user", [ALICE, f"arn:aws:iam::{A}:root"], P_ALICE, False)
notp_case("Deny NotPrincipal denies another user", [ALICE, f"arn:aws:iam::{A}:root"], P_BOB, True)
notp_case("Deny NotPrincipal spares the listed session", [ROLE, SESSION_ARN], P_SESSION, False)
notp_case("Deny NotPrincipal naming only the role still denies its session", [ROLE], P_SESSION, True)
notp_case("Deny NotPrincipal spares the root when listed", [f"arn:aws:iam::{A}:root"], P_ROOT, False)
notp_case("Deny NotPrincipal denies a user of another account", [ALICE], P_B_USER, True)
notp_case("Deny NotPrincipal denies a service", [ALICE], P_SERVICE, True)

case("notprincipal: Allow with NotPrincipal allows everyone not listed", NOTPRINCIPAL, P_ALICE, "allowed",
     key_policy=pol({"Effect": "Allow", "NotPrincipal": {"AWS": BOB}, "Action": "kms:Decrypt", "Resource": "*"}))
case("notprincipal: Allow with NotPrincipal does not allow the listed user", NOTPRINCIPAL, P_BOB, "implicitDeny",
     key_policy=pol({"Effect": "Allow", "NotPrincipal": {"AWS": BOB}, "Action": "kms:Decrypt", "Resource": "*"}), reason="noResourcePolicyAllows")

# ---------------------------------------------------------------- evaluation logic
case("eval: no policy allows: implicit deny", EVAL, P_ALICE, "implicitDeny",
     key_policy=pol(st(principal={"AWS": BOB})), reason="noResourcePolicyAllows")
case("eval: explicit Deny in the key policy beats its own Allow", EVAL, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE}, sid="Allow"), st("Deny", principal="*", sid="Deny")),
     reason="explicitDenyInResourcePolicy", sids=["Deny"])
case("eval: Deny kms:Decrypt for * blocks even the root", KEY_POLICIES, P_ROOT, "explicitDeny",
     key_policy=pol(st(principal={"AWS": f"arn:aws:iam::{A}:root"}, action="kms:*"), st("Deny", principal="*")),
     reason="explicitDenyInResourcePolicy")
case("eval: Deny in the key policy beats an identity Allow", EVAL, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": A}, action="kms:*"), st("Deny", principal={"AWS": ALICE})),
     identity=[pol(st(action="kms:*"))], reason="explicitDenyInResourcePolicy")
case("eval: Deny in an identity policy beats a key policy Allow", EVAL, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE})), identity=[pol(st("Deny", action="kms:Decrypt", sid="NoDecrypt"))],
     reason="explicitDenyInIdentityPolicy", sids=["NoDecrypt"])
case("eval: Deny in one identity policy beats Allow in another", EVAL, P_ALICE, "explicitDeny",
     key_policy=default_policy(), identity=[pol(st(action="kms:*")), pol(st("Deny", action="kms:Decrypt"))],
     reason="explicitDenyInIdentityPolicy")
case("eval: key policy naming the user allows without any identity policy", KEY_POLICIES, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE})), reason="allowedByResourcePolicy")
case("eval: identity policy alone without key policy delegation is denied", KMS_IAM, P_ALICE, "implicitDeny",
     key_policy=pol(st(principal={"AWS": BOB}, action="kms:*")), identity=[pol(st(action="kms:*"))], reason="noResourcePolicyAllows")
case("eval: default key policy plus identity policy allows", DEFAULT_POLICY, P_ALICE, "allowed",
     key_policy=default_policy(), identity=[pol(st(action=["kms:Encrypt", "kms:Decrypt"]))], reason="allowedByResourceAndIdentityPolicy",
     sids=["Enable IAM User Permissions", None])
case("eval: default key policy without identity policy denies", DEFAULT_POLICY, P_ALICE, "implicitDeny",
     key_policy=default_policy(), reason="noIdentityPolicyAllows")
case("eval: default key policy allows the account root", DEFAULT_POLICY, P_ROOT, "allowed", key_policy=default_policy(), action="kms:PutKeyPolicy")
case("eval: user allowed only kms:Encrypt can encrypt", KMS_IAM, P_ALICE, "allowed",
     key_policy=default_policy(), identity=[pol(st(action="kms:Encrypt"))], action="kms:Encrypt")
case("eval: user allowed only kms:Encrypt cannot decrypt", KMS_IAM, P_ALICE, "implicitDeny",
     key_policy=default_policy(), identity=[pol(st(action="kms:Encrypt"))], action="kms:Decrypt", reason="noIdentityPolicyAllows")
case("eval: identity policy limited to another key", KMS_IAM, P_ALICE, "implicitDeny",
     key_policy=default_policy(), identity=[pol(st(action="kms:*", resource=f"arn:aws:kms:us-east-1:{A}:key/other"))], reason="noIdentityPolicyAllows")
case("eval: no key policy at all denies", KEY_POLICIES, P_ALICE, "implicitDeny", identity=[pol(st(action="kms:*"))], reason="noResourcePolicyAllows")
case("eval: Deny with a condition that does not hold does not deny", EVAL, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal="*", condition={"Bool": {"aws:SecureTransport": "false"}})),
     context={"aws:SecureTransport": ["true"]})
case("eval: Deny with a condition that holds denies", EVAL, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal="*", condition={"Bool": {"aws:SecureTransport": "false"}})),
     context={"aws:SecureTransport": ["false"]}, reason="explicitDenyInResourcePolicy")
case("eval: Deny naming the account applies to its users", EVAL, P_ALICE, "explicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal={"AWS": A})), reason="explicitDenyInResourcePolicy")
case("eval: Deny for another user does not apply", EVAL, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal={"AWS": BOB})))
case("eval: Deny for another action does not apply", EVAL, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal="*", action="kms:ScheduleKeyDeletion")))
case("eval: Deny on another resource does not apply", EVAL, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE}), st("Deny", principal="*", resource=f"arn:aws:kms:us-east-1:{A}:key/other")))
case("eval: single statement object (not a list)", KEY_POLICIES, P_ALICE, "allowed",
     key_policy={"Version": "2012-10-17", "Statement": st(principal={"AWS": ALICE})})
case("eval: service principal allowed by the key policy", KEY_POLICIES, P_SERVICE, "allowed",
     key_policy=pol(st(principal={"Service": "dynamodb.amazonaws.com"})))
case("eval: service principal is not helped by the account root", KEY_POLICIES, P_SERVICE, "implicitDeny",
     key_policy=default_policy(), reason="noResourcePolicyAllows")
case("eval: aws:PrincipalType condition for a user", GLOBAL_KEYS, P_ALICE, "allowed",
     key_policy=pol(st(principal="*", condition={"StringEquals": {"aws:PrincipalType": "User"}})))
case("eval: aws:PrincipalAccount condition", GLOBAL_KEYS, P_ALICE, "allowed",
     key_policy=pol(st(principal="*", condition={"StringEquals": {"aws:PrincipalAccount": A}})))
case("eval: aws:PrincipalTag condition", GLOBAL_KEYS, P_ALICE | {"tags": {"Dept": "Finance"}}, "allowed",
     key_policy=pol(st(principal="*", condition={"StringEquals": {"aws:PrincipalTag/Dept": "Finance"}})))
case("eval: aws:PrincipalTag condition, other value", GLOBAL_KEYS, P_ALICE | {"tags": {"Dept": "HR"}}, "implicitDeny",
     key_policy=pol(st(principal="*", condition={"StringEquals": {"aws:PrincipalTag/Dept": "Finance"}})))
case("eval: kms:CallerAccount limits * to one account", KMS_COND, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": "*"}, condition={"StringEquals": {"kms:CallerAccount": A}})), context={"kms:CallerAccount": [A]})
case("eval: kms:ViaService condition", KMS_COND, P_ALICE, "implicitDeny",
     key_policy=pol(st(principal={"AWS": ALICE}, condition={"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}})))
# kms:ViaService (issue 10 §4): "NAME.REGION.amazonaws.com" when a trusted service forwards the
# call, absent on a direct call. AWS-managed key policies use StringEquals; Secrets Manager's
# StringLike "secretsmanager.*.amazonaws.com"; "Null": true admits only direct calls.
SM = "secretsmanager.us-east-1.amazonaws.com"
op_rows("viaservice", "kms:ViaService", [
    ("StringEquals", SM, SM, True),
    ("StringEquals", SM, "ec2.us-east-1.amazonaws.com", False),
    ("StringEquals", SM, "secretsmanager.eu-west-1.amazonaws.com", False),
    ("StringEquals", SM, None, False),
    ("StringEquals", [SM, "ec2.us-east-1.amazonaws.com"], "ec2.us-east-1.amazonaws.com", True),
    ("StringLike", "secretsmanager.*.amazonaws.com", "secretsmanager.eu-west-1.amazonaws.com", True),
    ("StringLike", "secretsmanager.*.amazonaws.com", "lambda.us-east-1.amazonaws.com", False),
    ("StringLike", "secretsmanager.*.amazonaws.com", None, False),
    ("StringNotEquals", SM, None, True),
    ("StringNotEquals", SM, SM, False),
    ("StringEqualsIfExists", SM, None, True),
    ("StringEqualsIfExists", SM, SM, True),
    ("StringEqualsIfExists", SM, "lambda.us-east-1.amazonaws.com", False),
    ("StringLikeIfExists", "secretsmanager.*", None, True),
    ("Null", "true", None, True),
    ("Null", "true", SM, False),
    ("Null", "false", SM, True),
    ("Null", "false", None, False),
], doc=KMS_COND, deny_too=True)
case("eval: kms:ViaService with kms:CallerAccount (an AWS managed key) through the service", KMS_COND, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": "*"}, condition={"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com",
                                                                          "kms:CallerAccount": A}})),
     identity=[pol(st(action="kms:Decrypt"))],
     context={"kms:ViaService": ["ec2.us-east-1.amazonaws.com"], "kms:CallerAccount": [A]})
case("eval: kms:ViaService with kms:CallerAccount (an AWS managed key) called directly", KMS_COND, P_ALICE, "implicitDeny",
     key_policy=pol(st(principal={"AWS": "*"}, condition={"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com",
                                                                          "kms:CallerAccount": A}})),
     identity=[pol(st(action="kms:Decrypt"))], context={"kms:CallerAccount": [A]}, reason="noResourcePolicyAllows")
case("eval: matched statements lists every deciding allow", EVAL, P_ALICE, "allowed",
     key_policy=pol(st(principal={"AWS": ALICE}, sid="One"), st(principal="*", sid="Two"), st(principal={"AWS": BOB}, sid="Three")),
     sids=["One", "Two"])
case("eval: IAM actions go through the same engine (identity policy)", EVAL, P_ALICE, "allowed",
     identity=[pol(st(action="iam:Get*"))], key_policy=pol(st(principal={"AWS": A}, action="iam:*")), action="iam:GetUser",
     resource=ALICE)

# ---------------------------------------------------------------- cross-account
XKEY_POLICY = pol(st(principal={"AWS": f"arn:aws:iam::{A}:root"}, action="kms:*"),
                  st(principal={"AWS": f"arn:aws:iam::{B}:root"}, action=["kms:Encrypt", "kms:Decrypt"], sid="AllowB"))
case("cross: key policy names account B and B's identity policy allows", KMS_CROSS, P_B_USER, "allowed",
     key_policy=XKEY_POLICY, identity=[pol(st(action="kms:Decrypt", resource=KEY))])
case("cross: key policy names account B but B's identity policy does not allow", KMS_CROSS, P_B_USER, "implicitDeny",
     key_policy=XKEY_POLICY, identity=[], reason="noIdentityPolicyAllows")
case("cross: B's identity policy allows but the key policy does not name B", KMS_CROSS, P_B_USER, "implicitDeny",
     key_policy=default_policy(), identity=[pol(st(action="kms:*"))], reason="noResourcePolicyAllows")
case("cross: key policy names B's user directly, identity still required", CROSS, P_B_USER, "implicitDeny",
     key_policy=pol(st(principal={"AWS": B_USER})), reason="noIdentityPolicyAllows")
case("cross: key policy names B's user and its identity policy allows", CROSS, P_B_USER, "allowed",
     key_policy=pol(st(principal={"AWS": B_USER})), identity=[pol(st(action="kms:*"))])
case("cross: key policy allows B only Encrypt", KMS_CROSS, P_B_USER, "implicitDeny",
     key_policy=XKEY_POLICY, identity=[pol(st(action="kms:*"))], action="kms:ReEncryptFrom", reason="noResourcePolicyAllows")
case("cross: B's root can use the key the policy grants B", KMS_CROSS, P_B_ROOT, "allowed", key_policy=XKEY_POLICY)
case("cross: principal * still needs B's identity policy", CROSS, P_B_USER, "implicitDeny",
     key_policy=pol(st(principal="*")), reason="noIdentityPolicyAllows")
case("cross: principal * plus B's identity policy allows", CROSS, P_B_USER, "allowed",
     key_policy=pol(st(principal="*")), identity=[pol(st(action="kms:Decrypt"))])
case("cross: B's identity Deny wins", CROSS, P_B_USER, "explicitDeny",
     key_policy=XKEY_POLICY, identity=[pol(st(action="kms:*"), st("Deny", action="kms:Decrypt"))], reason="explicitDenyInIdentityPolicy")
case("cross: B's role session with both sides allowing", KMS_CROSS, P_B_SESSION, "allowed",
     key_policy=pol(st(principal={"AWS": B_ROLE})), identity=[pol(st(action="kms:Decrypt"))])
case("cross: B's role session without identity allow", KMS_CROSS, P_B_SESSION, "implicitDeny",
     key_policy=pol(st(principal={"AWS": B_ROLE})), reason="noIdentityPolicyAllows")
case("cross: kms:CallerAccount condition on B", KMS_COND, P_B_USER, "allowed",
     key_policy=pol(st(principal={"AWS": "*"}, condition={"StringEquals": {"kms:CallerAccount": B}})),
     identity=[pol(st(action="kms:*"))], context={"kms:CallerAccount": [B]})
case("cross: a key in account B used from A", KMS_CROSS, P_ALICE, "implicitDeny",
     key_policy=default_policy(B), identity=[pol(st(action="kms:*"))], resource=f"arn:aws:kms:us-east-1:{B}:key/k",
     reason="noResourcePolicyAllows")

# ---------------------------------------------------------------- session policies
ROLE_IDENTITY = [pol(st(action="kms:*"))]
case("session: no session policy, role identity policy applies", SESSION, P_SESSION, "allowed",
     key_policy=default_policy(), identity=ROLE_IDENTITY)
case("session: session policy allowing the action", SESSION, P_SESSION, "allowed",
     key_policy=default_policy(), identity=ROLE_IDENTITY, session=[pol(st(action="kms:Decrypt"))])
case("session: session policy narrows to Encrypt", SESSION, P_SESSION, "implicitDeny",
     key_policy=default_policy(), identity=ROLE_IDENTITY, session=[pol(st(action="kms:Encrypt"))], reason="noSessionPolicyAllows")
case("session: session policy cannot grant beyond the identity policy", SESSION, P_SESSION, "implicitDeny",
     key_policy=default_policy(), identity=[pol(st(action="kms:Encrypt"))], session=[pol(st(action="kms:*"))], reason="noIdentityPolicyAllows")
case("session: session policy Deny", SESSION, P_SESSION, "explicitDeny",
     key_policy=default_policy(), identity=ROLE_IDENTITY, session=[pol(st(action="kms:*"), st("Deny", action="kms:Decrypt"))],
     reason="explicitDenyInSessionPolicy")
case("session: key policy naming the role is narrowed by the session policy", SESSION, P_SESSION, "implicitDeny",
     key_policy=pol(st(principal={"AWS": ROLE})), session=[pol(st(action="kms:Encrypt"))], reason="noSessionPolicyAllows")
case("session: key policy naming the session is not narrowed", SESSION, P_SESSION, "allowed",
     key_policy=pol(st(principal={"AWS": SESSION_ARN})), session=[pol(st(action="kms:Encrypt"))])
case("session: key policy naming the role, session policy allows", SESSION, P_SESSION, "allowed",
     key_policy=pol(st(principal={"AWS": ROLE})), session=[pol(st(action="kms:Decrypt"))])
case("session: session policy limited to another key", SESSION, P_SESSION, "implicitDeny",
     key_policy=default_policy(), identity=ROLE_IDENTITY, session=[pol(st(action="kms:*", resource=f"arn:aws:kms:us-east-1:{A}:key/other"))],
     reason="noSessionPolicyAllows")
case("session: session policies do not apply to IAM users", SESSION, P_ALICE, "allowed",
     key_policy=default_policy(), identity=ROLE_IDENTITY, session=[pol(st(action="kms:Encrypt"))])
case("session: two session policies, one allows", SESSION, P_SESSION, "allowed",
     key_policy=default_policy(), identity=ROLE_IDENTITY, session=[pol(st(action="kms:Encrypt")), pol(st(action="kms:Decrypt"))])
case("session: session policy with a condition on the encryption context", SESSION, P_SESSION, "allowed",
     key_policy=default_policy(), identity=ROLE_IDENTITY,
     session=[pol(st(action="kms:Decrypt", condition={"StringEquals": {"kms:EncryptionContext:App": "web"}}))],
     context={"kms:EncryptionContext:App": ["web"]})
case("session: session policy condition fails", SESSION, P_SESSION, "implicitDeny",
     key_policy=default_policy(), identity=ROLE_IDENTITY,
     session=[pol(st(action="kms:Decrypt", condition={"StringEquals": {"kms:EncryptionContext:App": "web"}}))],
     context={"kms:EncryptionContext:App": ["batch"]}, reason="noSessionPolicyAllows")

# ---------------------------------------------------------------- grants
def grant(ops, grantee=BOB, constraint=None, gid="g1"):
    g = {"grantId": gid, "grantee": grantee, "operations": ops}
    if constraint: g["constraint"] = constraint
    return g

NOBODY_KP = pol(st(principal={"AWS": f"arn:aws:iam::{A}:user/admin"}, action="kms:*"))
case("grant: grantee may perform a granted operation", GRANTS, P_BOB, "allowed",
     key_policy=NOBODY_KP, grants=[grant(["Decrypt"])], reason="allowedByGrant")
case("grant: grantee may not perform other operations", GRANTS, P_BOB, "implicitDeny",
     key_policy=NOBODY_KP, grants=[grant(["Encrypt"])], reason="noResourcePolicyAllows")
case("grant: another principal gains nothing", GRANTS, P_ALICE, "implicitDeny",
     key_policy=NOBODY_KP, grants=[grant(["Decrypt"])])
case("grant: a grant to a role covers its sessions", GRANTS, P_SESSION, "allowed",
     key_policy=NOBODY_KP, grants=[grant(["Decrypt"], grantee=ROLE)])
case("grant: a grant to a user in another account", GRANTS, P_B_USER, "allowed",
     key_policy=NOBODY_KP, grants=[grant(["Decrypt"], grantee=B_USER)])
case("grant: a grant to a service principal", GRANTS, P_SERVICE, "allowed",
     key_policy=NOBODY_KP, grants=[grant(["Decrypt", "GenerateDataKey"], grantee="dynamodb.amazonaws.com")], action="kms:GenerateDataKey")
case("grant: explicit Deny in the key policy still wins", EVAL, P_BOB, "explicitDeny",
     key_policy=pol(st("Deny", principal={"AWS": BOB})), grants=[grant(["Decrypt"])], reason="explicitDenyInResourcePolicy")
case("grant: second of two grants allows", GRANTS, P_BOB, "allowed",
     key_policy=NOBODY_KP, grants=[grant(["Encrypt"]), grant(["Decrypt"], gid="g2")])
EQ = {"type": "EncryptionContextEquals", "context": {"Department": "IT"}}
SUB = {"type": "EncryptionContextSubset", "context": {"Department": "IT"}}
for name, constraint, ec, ok in [
    ("Equals with the same context", EQ, {"Department": "IT"}, True),
    ("Equals with an extra pair", EQ, {"Department": "IT", "Project": "x"}, False),
    ("Equals with another value", EQ, {"Department": "HR"}, False),
    ("Equals with no context", EQ, {}, False),
    ("Equals is case-sensitive in values", EQ, {"Department": "it"}, False),
    # API reference, GrantConstraints: "in a grant constraint, the key in each key-value pair is not
    # case sensitive, but the value is case sensitive".
    ("Equals is not case-sensitive in keys", EQ, {"department": "IT"}, True),
    ("Subset is not case-sensitive in keys", SUB, {"DEPARTMENT": "IT"}, True),
    ("Subset with the same context", SUB, {"Department": "IT"}, True),
    ("Subset with an extra pair", SUB, {"Department": "IT", "Project": "x"}, True),
    ("Subset with another value", SUB, {"Department": "HR", "Project": "x"}, False),
    ("Subset with no context", SUB, {}, False),
    ("Subset missing the key", SUB, {"Project": "x"}, False),
    ("empty Subset accepts any context", {"type": "EncryptionContextSubset", "context": {}}, {"Project": "x"}, True),
]:
    case(f"grant constraint: {name}", GRANT_CONSTRAINTS, P_BOB, "allowed" if ok else "implicitDeny",
         key_policy=NOBODY_KP, grants=[grant(["Decrypt"], constraint=constraint)], ec=ec)
case("grant constraint: DescribeKey is not restricted by a constraint", GRANT_CONSTRAINTS, P_BOB, "allowed",
     key_policy=NOBODY_KP, grants=[grant(["Decrypt", "DescribeKey"], constraint=EQ)], action="kms:DescribeKey")
case("grant constraint: Encrypt under Subset", GRANT_CONSTRAINTS, P_BOB, "allowed",
     key_policy=NOBODY_KP, grants=[grant(["Encrypt"], constraint=SUB)], action="kms:Encrypt", ec={"Department": "IT", "Env": "prod"})

# ---------------------------------------------------------------- KMS example policies
KEY_ADMIN_USERS = pol(
    st(principal={"AWS": f"arn:aws:iam::{A}:root"}, action="kms:*", sid="Enable IAM User Permissions"),
    st(principal={"AWS": ALICE}, sid="Allow access for Key Administrators",
       action=["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
               "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
               "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]),
    st(principal={"AWS": BOB}, sid="Allow use of the key",
       action=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]),
    st(principal={"AWS": BOB}, sid="Allow attachment of persistent resources",
       action=["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}),
)
for who, action, ok, ctx in [
    (P_ALICE, "kms:PutKeyPolicy", True, None),
    (P_ALICE, "kms:ScheduleKeyDeletion", True, None),
    (P_ALICE, "kms:Decrypt", False, None),
    (P_ALICE, "kms:GetKeyPolicy", True, None),
    (P_BOB, "kms:Decrypt", True, None),
    (P_BOB, "kms:ReEncryptTo", True, None),
    (P_BOB, "kms:GenerateDataKeyPairWithoutPlaintext", True, None),
    (P_BOB, "kms:PutKeyPolicy", False, None),
    (P_BOB, "kms:CreateGrant", True, {"kms:GrantIsForAWSResource": ["true"]}),
    (P_BOB, "kms:CreateGrant", False, {"kms:GrantIsForAWSResource": ["false"]}),
    (P_BOB, "kms:CreateGrant", False, None),
    (P_ROOT, "kms:Decrypt", True, None),
]:
    name = "alice" if who is P_ALICE else "bob" if who is P_BOB else "root"
    case(f"console default policy: {name} {action} {json.dumps(ctx) if ctx else ''}".strip(), DEFAULT_POLICY, who,
         "allowed" if ok else "implicitDeny", key_policy=KEY_ADMIN_USERS, action=action, context=ctx)

# ---------------------------------------------------------------- malformed documents
malformed = []
def bad(name, doc_text, message, kind="resourceBased"):
    malformed.append({"name": name, "doc": "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html",
                      "policy": doc_text if isinstance(doc_text, str) else json.dumps(doc_text), "kind": kind, "message": message})

bad("not JSON", "{not json", "Syntax errors in policy.")
bad("not an object", "[]", "The policy document must be a JSON object.")
bad("bad Version", {"Version": "2012-10-18", "Statement": [st(principal="*")]}, "The policy document contains an invalid Version.")
bad("no Statement", {"Version": "2012-10-17"}, "The policy document must contain at least one Statement.")
bad("empty Statement", {"Version": "2012-10-17", "Statement": []}, "The policy document must contain at least one Statement.")
bad("bad Effect", pol({"Effect": "Maybe", "Principal": "*", "Action": "kms:*", "Resource": "*"}), "Policy contains a statement with an invalid or missing Effect.")
bad("no Effect", pol({"Principal": "*", "Action": "kms:*", "Resource": "*"}), "Policy contains a statement with an invalid or missing Effect.")
bad("no Principal in a key policy", pol({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}), "Policy contains a statement with no principal.")
bad("Principal in an identity policy", pol(st(principal="*")), "Policy document should not specify a principal.", kind="identityBased")
bad("no Action", pol({"Effect": "Allow", "Principal": "*", "Resource": "*"}), "Policy contains a statement with no Action.")
bad("no Resource", pol({"Effect": "Allow", "Principal": "*", "Action": "kms:*"}), "Policy contains a statement with no Resource.")
bad("action without a vendor", pol(st(principal="*", action="Decrypt")), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
bad("unknown condition operator", pol(st(principal="*", condition={"StringEqualz": {"aws:username": "x"}})), "Invalid Condition type : StringEqualz")
bad("NullIfExists", pol(st(principal="*", condition={"NullIfExists": {"aws:username": "true"}})), "Invalid Condition type : NullIfExists")
bad("partial wildcard principal", pol(st(principal={"AWS": f"arn:aws:iam::{A}:user/*"})), "Policy contains a statement with one or more invalid principals.")
bad("unknown principal type", pol(st(principal={"Robot": "x"})), "Policy contains a statement with one or more invalid principals.")
bad("principal not an ARN", pol(st(principal={"AWS": "alice"})), "Policy contains a statement with one or more invalid principals.")
bad("bad CIDR", pol(st(principal="*", condition={"IpAddress": {"aws:SourceIp": "300.1.1.1/24"}})),
    "Invalid Condition value for key aws:SourceIp with operator IpAddress: 300.1.1.1/24")
bad("bad date", pol(st(principal="*", condition={"DateLessThan": {"aws:CurrentTime": "yesterday"}})),
    "Invalid Condition value for key aws:CurrentTime with operator DateLessThan: yesterday")
bad("bad number", pol(st(principal="*", condition={"NumericLessThan": {"kms:X": "ten"}})),
    "Invalid Condition value for key kms:X with operator NumericLessThan: ten")
bad("bad bool", pol(st(principal="*", condition={"Bool": {"aws:SecureTransport": "yes"}})),
    "Invalid Condition value for key aws:SecureTransport with operator Bool: yes")
bad("duplicate Sid", pol(st(principal="*", sid="A"), st(principal="*", sid="A")), "Statement IDs (SID) in a single policy must be unique.")
bad("resource not an ARN", pol(st(principal="*", resource="key/abc")), "Resource key/abc must be in ARN format or \"*\".")
bad("too large", {"Version": "2012-10-17", "Statement": [st(principal="*", sid="x" * 33000)]}, "The policy document exceeds the maximum size of 32768 bytes.")
bad("Principal and NotPrincipal", pol({"Effect": "Deny", "Principal": "*", "NotPrincipal": {"AWS": ALICE}, "Action": "kms:*", "Resource": "*"}),
    "Policy contains a statement with both Principal and NotPrincipal.")
bad("unknown statement element", pol({**st(principal="*"), "Actions": "kms:*"}), "Policy contains a statement with an unknown element: Actions")
bad("unterminated variable", pol(st(principal="*", resource="arn:aws:kms:*:${aws:PrincipalAccount:key/*")),
    "The policy contains an invalid policy variable: arn:aws:kms:*:${aws:PrincipalAccount:key/*")
bad("nesting too deep", "[" * 100 + "]" * 100, "Syntax errors in policy.")

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "Corpus", "evaluation_cases.json"), "w") as f:
    # One case per line: the file's line count is the case count, and diffs stay per case.
    def lines(items):
        return ",\n".join("  " + json.dumps(x, ensure_ascii=False, separators=(",", ":")) for x in items)
    f.write('{"cases":[\n' + lines(cases) + '\n],\n"malformed":[\n' + lines(malformed) + '\n]}\n')
print(len(cases), "evaluation cases,", len(malformed), "malformed documents")
