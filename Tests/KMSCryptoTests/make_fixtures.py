#!/usr/bin/env python3
"""Generates Fixtures.swift (beside this script): known-answer data made outside KMSCrypto.

Python `cryptography` (48, bundling OpenSSL 4) makes the RSA, ECDSA, ECDH, Ed25519 and
ML-DSA data; a pure-Python RFC 8032 implementation below makes the Ed25519ph data;
hashlib's SM3 and the `openssl` 3.0 command line make the SM2 data. Every key here is a
throwaway test key. Needs python3 with cryptography >= 47 (ML-DSA) and the openssl
3 command line. Rerun from this directory: python3 make_fixtures.py > Fixtures.swift
"""
import hashlib, hmac, os, subprocess, tempfile
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa, ec, padding, ed25519, mldsa

DER, PKCS8, SPKI = serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.PublicFormat.SubjectPublicKeyInfo
NOENC = serialization.NoEncryption()
out = []

def emit(name, value):
    if isinstance(value, (bytes, bytearray)):
        value = value.hex()
    out.append(f'    static let {name} = "{value}"')

def priv_der(k): return k.private_bytes(DER, PKCS8, NOENC)
def pub_der(k): return k.public_key().public_bytes(DER, SPKI)

MESSAGE = b"KMSCrypto known-answer message: the quick brown fox jumps over the lazy dog"
emit("message", MESSAGE)

# RSA: PKCS#1 v1.5 is deterministic (byte-for-byte check); PSS and OAEP are checked by verify/decrypt.
for bits in (2048, 3072):
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    p = f"rsa{bits}"
    emit(f"{p}PKCS8", priv_der(k)); emit(f"{p}SPKI", pub_der(k))
    for h, n in ((hashes.SHA256(), "256"), (hashes.SHA384(), "384"), (hashes.SHA512(), "512")):
        emit(f"{p}PKCS1SHA{n}", k.sign(MESSAGE, padding.PKCS1v15(), h))
        emit(f"{p}PSSSHA{n}", k.sign(MESSAGE, padding.PSS(padding.MGF1(h), h.digest_size), h))
    plaintext = b"OAEP plaintext from Python"
    emit(f"{p}OAEPPlaintext", plaintext)
    emit(f"{p}OAEPSHA1", k.public_key().encrypt(plaintext, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)))
    emit(f"{p}OAEPSHA256", k.public_key().encrypt(plaintext, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)))

# ECDSA (randomized: checked by verification) and ECDH against a Python peer.
for name, curve, h in (("p256", ec.SECP256R1(), hashes.SHA256()), ("p384", ec.SECP384R1(), hashes.SHA384()),
                       ("p521", ec.SECP521R1(), hashes.SHA512()), ("k1", ec.SECP256K1(), hashes.SHA256())):
    k = ec.generate_private_key(curve)
    emit(f"{name}PKCS8", priv_der(k)); emit(f"{name}SPKI", pub_der(k))
    emit(f"{name}Signature", k.sign(MESSAGE, ec.ECDSA(h)))
    if name != "k1":
        peer = ec.generate_private_key(curve)
        emit(f"{name}PeerSPKI", pub_der(peer))
        emit(f"{name}SharedSecret", peer.exchange(ec.ECDH(), k.public_key()))

# A peer SPKI with a compressed point, for the P-256 key above.
k = serialization.load_der_private_key(bytes.fromhex(next(l for l in out if "p256PKCS8" in l).split('"')[1]), None)
peer = ec.generate_private_key(ec.SECP256R1())
point = peer.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
spki_prefix = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200")
emit("p256PeerCompressedPointSPKI", spki_prefix + point)
emit("p256CompressedSharedSecret", peer.exchange(ec.ECDH(), k.public_key()))

# Ed25519: RFC 8032 section 7.1 TEST 2 and TEST 3 keys (pure Ed25519 is deterministic).
for n, seed, msg in (("1", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "72"),
                     ("2", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "af82")):
    k = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))
    emit(f"ed25519Seed{n}", seed); emit(f"ed25519Message{n}", msg)
    emit(f"ed25519PKCS8{n}", priv_der(k)); emit(f"ed25519SPKI{n}", pub_der(k))
    emit(f"ed25519Signature{n}", k.sign(bytes.fromhex(msg)))

# Ed25519ph (RFC 8032 5.1, phflag 1, empty context) in pure Python, checked against the
# RFC's TEST abc vector before use.
P = 2**255 - 19; L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
def inv(x): return pow(x, P - 2, P)
def add(a, b):
    x1, y1, z1, t1 = a; x2, y2, z2, t2 = b
    A = (y1 - x1) * (y2 - x2) % P; B = (y1 + x1) * (y2 + x2) % P
    C = t1 * 2 * D * t2 % P; Dd = z1 * 2 * z2 % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F % P, G * H % P, F * G % P, E * H % P)
def mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1: q = add(q, p)
        p = add(p, p); s >>= 1
    return q
def encode(p):
    x, y, z, _ = p; zi = inv(z); x = x * zi % P; y = y * zi % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")
gy = 4 * inv(5) % P
def recover_x(y, sign):
    x2 = (y * y - 1) * inv(D * y * y + 1) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0: x = x * pow(2, (P - 1) // 4, P) % P
    if x & 1 != sign: x = P - x
    return x
gx = recover_x(gy, 0); G = (gx, gy, 1, gx * gy % P)
def sha512(b): return hashlib.sha512(b).digest()
def ed25519ph_sign(seed, message):
    h = sha512(seed); a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8; a |= 1 << 254
    A = encode(mul(a, G))
    dom = b"SigEd25519 no Ed25519 collisions" + bytes([1, 0])
    ph = sha512(message)
    r = int.from_bytes(sha512(dom + h[32:] + ph), "little") % L
    R = encode(mul(r, G))
    k = int.from_bytes(sha512(dom + R + A + ph), "little") % L
    return A, R + int.to_bytes((r + k * a) % L, 32, "little")
A, sig = ed25519ph_sign(bytes.fromhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42"), b"abc")
assert sig.hex() == ("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
                     "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"), "Ed25519ph reference broken"
seed = bytes.fromhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
digest = sha512(MESSAGE)
_, sig = ed25519ph_sign(seed, digest)   # AWS: the DIGEST is the Ed25519ph message (hashed again)
k = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
emit("ed25519phPKCS8", priv_der(k)); emit("ed25519phSPKI", pub_der(k))
emit("ed25519phDigest", digest); emit("ed25519phSignature", sig)

# ML-DSA: deterministic keygen from a seed (SPKI/PKCS#8 byte-for-byte), hedged signatures
# over MESSAGE with the empty context, and μ = SHAKE256(SHAKE256(pk, 64) || 0 || 0 || M, 64).
for n, cls in ((44, mldsa.MLDSA44PrivateKey), (65, mldsa.MLDSA65PrivateKey), (87, mldsa.MLDSA87PrivateKey)):
    seed = os.urandom(32)
    k = cls.from_seed_bytes(seed)
    raw_pk = k.public_key().public_bytes_raw()
    emit(f"mldsa{n}PKCS8", priv_der(k)); emit(f"mldsa{n}SPKI", pub_der(k))
    emit(f"mldsa{n}Signature", k.sign(MESSAGE))
    tr = hashlib.shake_256(raw_pk).digest(64)
    emit(f"mldsa{n}Mu", hashlib.shake_256(tr + b"\x00\x00" + MESSAGE).digest(64))

# HMAC: RFC 4231 test cases 1, 2, 3, 4, 6, 7 through Python's hmac module.
cases = [("0b" * 20, b"Hi There"), ("4a656665", b"what do ya want for nothing?"),
         ("aa" * 20, bytes([0xdd] * 50)), ("0102030405060708090a0b0c0d0e0f10111213141516171819", bytes([0xcd] * 50)),
         ("aa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"),
         ("aa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data. "
                      b"The key needs to be hashed before being used by the HMAC algorithm.")]
for i, (key, data) in enumerate(cases):
    emit(f"rfc4231Key{i}", key); emit(f"rfc4231Data{i}", data)
    for alg in ("sha224", "sha256", "sha384", "sha512"):
        emit(f"rfc4231{alg.upper()}_{i}", hmac.new(bytes.fromhex(key), data, alg).digest())

# SM2 with the openssl 3.0 CLI: a key, a RAW signature made with the default distinguishing
# ID, e = SM3(Z || M) computed here independently, and an SM2PKE ciphertext.
with tempfile.TemporaryDirectory() as d:
    def run(*args, data=None):
        return subprocess.run(["openssl", *args], input=data, check=True, capture_output=True, cwd=d).stdout
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "k.pem")
    pkcs8 = run("pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER")
    spki = run("pkey", "-in", "k.pem", "-pubout", "-outform", "DER")
    open(os.path.join(d, "m"), "wb").write(MESSAGE)
    sig = run("pkeyutl", "-sign", "-inkey", "k.pem", "-rawin", "-in", "m", "-digest", "sm3",
              "-pkeyopt", "distid:1234567812345678")
    plaintext = b"SM2PKE plaintext from the openssl CLI"
    open(os.path.join(d, "p"), "wb").write(plaintext)
    run("pkey", "-in", "k.pem", "-pubout", "-out", "pub.pem")
    ct = run("pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "p")
point = spki[-64:]
a_b_g = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
                      "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
                      "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
                      "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")
ida = b"1234567812345678"
z = hashlib.new("sm3", (len(ida) * 8).to_bytes(2, "big") + ida + a_b_g + point).digest()
emit("sm2PKCS8", pkcs8); emit("sm2SPKI", spki); emit("sm2Signature", sig)
emit("sm2E", hashlib.new("sm3", z + MESSAGE).digest())
emit("sm2Plaintext", plaintext); emit("sm2Ciphertext", ct)

print("// Generated by make_fixtures.py (see its header); do not edit by hand.")
print("// Known-answer data produced outside KMSCrypto. All keys are throwaway test keys.")
print("enum Fixtures {")
print("\n".join(out))
print("}")
