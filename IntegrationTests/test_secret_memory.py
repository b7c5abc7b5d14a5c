"""Unsealed key material in memory (issue 7, section 7): locked and excluded from dumps.

KeyMaterial keeps its secret bytes (and the keyed KDF states of ciphertext format v2) in
SecretBytes: mmap'd pages with mlock and MADV_DONTDUMP, wiped on release
(Sources/KMSCrypto/SecretMemory.swift; what cannot be wiped is in docs/ARCHITECTURE.md).
Checked from outside the running server through /proc/PID/status (VmLck) and
/proc/PID/smaps (VmFlags "dd" = do not dump, "lo" = locked). When the OS does not allow
locking (RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK), the server keeps serving and warns once.
"""

import os
import shutil
import stat

import pytest

pytestmark = [pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux /proc"), pytest.mark.single_node("inspects one process's memory (/proc/PID)")]

WARNING = "cannot mlock memory for key material"


def vm_lck_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmLck:"):
                return int(line.split()[1])
    return 0


def mappings_with_flags(pid: int, *flags):
    found, header = [], None
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            first = line.split(" ", 1)[0]
            if "-" in first and not first.endswith(":"):
                header = line.strip()
            elif line.startswith("VmFlags:") and all(f in line.split()[1:] for f in flags):
                found.append(header)
    return found


@pytest.mark.restart
def test_key_material_pages_are_locked_and_not_dumped(server_factory):
    srv = server_factory()
    kms = srv.client()
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=kid, Plaintext=b"m")["CiphertextBlob"])["Plaintext"] == b"m"
    pid = srv.proc.pid
    assert mappings_with_flags(pid, "dd"), "no mapping of the server is excluded from core dumps"
    with open(srv.stderr_path) as fh:
        lock_allowed = WARNING not in fh.read()  # e.g. a container with a tiny RLIMIT_MEMLOCK
    if lock_allowed:
        assert mappings_with_flags(pid, "dd", "lo"), "no locked, dump-excluded mapping in the server"
        assert vm_lck_kb(pid) >= 64  # at least one 64 KiB chunk of secret slots
    # Loaded from disk after a restart (on first use: the key cache reads through): the same.
    srv.restart()
    srv.client().encrypt(KeyId=kid, Plaintext=b"m")
    assert mappings_with_flags(srv.proc.pid, *(("dd", "lo") if lock_allowed else ("dd",)))


@pytest.mark.restart
@pytest.mark.skipif(not (shutil.which("prlimit") and shutil.which("setpriv")), reason="needs util-linux prlimit/setpriv")
def test_server_without_mlock_permission_serves_and_warns_once(server_factory, tmp_path, monkeypatch):
    real = os.environ.get("KMS_BINARY") or os.path.abspath(".build/debug/kms")
    wrapper = tmp_path / "kms-no-mlock"
    wrapper.write_text("#!/bin/sh\nexec prlimit --memlock=0:0 setpriv --bounding-set -ipc_lock --inh-caps -ipc_lock "
                       f"'{real}' \"$@\"\n")
    wrapper.chmod(stat.S_IRWXU)
    monkeypatch.setenv("KMS_BINARY", str(wrapper))
    srv = server_factory()
    kms = srv.client()
    for _ in range(3):
        kid = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=kid, Plaintext=b"still works")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still works"
    pid = srv.proc.pid
    assert vm_lck_kb(pid) == 0
    assert mappings_with_flags(pid, "dd"), "pages must still be excluded from dumps"
    srv.stop()
    with open(srv.stderr_path) as fh:
        assert fh.read().count(WARNING) == 1
