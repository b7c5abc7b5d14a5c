import CPKCS11
import Crypto
import Foundation
import Synchronization

/// Where a token is: a slot id, or the label of the token in it.
public enum PKCS11TokenSelector: Sendable, Equatable, CustomStringConvertible {
    case slot(UInt)
    case label(String)

    public var description: String {
        switch self {
        case .slot(let id): return "slot \(id)"
        case .label(let label): return "token \"\(label)\""
        }
    }
}

/// A token the process is logged in to as the user. PKCS#11 sessions are not thread-safe,
/// so each operation takes a session of its own from a small pool (opened on demand, kept
/// for reuse); login state belongs to the application, so one C_Login covers them all.
public final class PKCS11Token: @unchecked Sendable {
    public let module: PKCS11Module
    public let slot: UInt
    private let lock = NSLock()
    private var idle: [CK_SESSION_HANDLE] = []  // guarded by lock
    private var anchor: CK_SESSION_HANDLE = 0
    private var closed = false  // guarded by lock

    public init(module: PKCS11Module, selector: PKCS11TokenSelector, pin: String) throws {
        self.module = module
        switch selector {
        case .slot(let id):
            guard try module.tokens().contains(where: { $0.slot == id }) else {
                throw PKCS11Error("No initialized PKCS#11 token in slot \(id) of \(module.path).")
            }
            slot = id
        case .label(let label):
            slot = try module.slot(tokenLabel: label)
        }
        // Held open for the token's life and never used for operations: closing a slot's last
        // session logs the application out, which invalidates the handles of private keys.
        let session = try openSession()
        anchor = session
        var pinBytes = Array(pin.utf8)
        defer { pinBytes.withUnsafeMutableBytes { zeroize($0) } }
        guard let login = f.C_Login else { throw PKCS11Error("\(module.path) lacks C_Login") }
        let rv = login(session, CKU_USER, &pinBytes, CK_ULONG(pinBytes.count))
        let loginKey = "\(module.path)#\(slot)"
        let digest = Array(SHA256.hash(data: pinBytes))
        do {
            if rv == CKR_USER_ALREADY_LOGGED_IN {
                // The token no longer checks the PIN: this process's earlier login stands in.
                guard PKCS11Logins.matches(loginKey, digest) else {
                    throw PKCS11Error("C_Login to \(selector) failed: the process is already logged in to this token with another PIN", code: CKR_PIN_INCORRECT)
                }
            } else {
                try PKCS11Error.check(rv, "C_Login to \(selector)")
                PKCS11Logins.record(loginKey, digest)
            }
        } catch {
            // A refused login leaves no session behind.
            _ = f.C_CloseSession?(session)
            throw error
        }
    }

    /// Closes this token's sessions (its anchor last, which logs the application out of the
    /// token when no other user in the process holds a session on it). Operations running
    /// meanwhile finish; their sessions are closed as they come back. Later calls fail.
    public func close() {
        lock.lock()
        let sessions = closed ? [] : idle + [anchor]
        idle = []
        closed = true
        lock.unlock()
        for session in sessions { _ = f.C_CloseSession?(session) }
    }

    var f: CK_FUNCTION_LIST { module.functions.pointee }

    private func openSession() throws -> CK_SESSION_HANDLE {
        guard let open = f.C_OpenSession else { throw PKCS11Error("\(module.path) lacks C_OpenSession") }
        var handle: CK_SESSION_HANDLE = 0
        try PKCS11Error.check(open(CK_SLOT_ID(slot), CKF_SERIAL_SESSION | CKF_RW_SESSION, nil, nil, &handle), "C_OpenSession")
        return handle
    }

    private func release(_ session: CK_SESSION_HANDLE) {
        lock.lock()
        let isClosed = closed
        if !isClosed { idle.append(session) }
        lock.unlock()
        if isClosed { _ = f.C_CloseSession?(session) }
    }

    /// Runs `body` on a session no other thread uses meanwhile. A session whose operation
    /// failed is closed rather than reused (an aborted operation may leave it mid-state).
    func withSession<T>(_ body: (CK_SESSION_HANDLE) throws -> T) throws -> T {
        lock.lock()
        let pooled = idle.popLast()
        let isClosed = closed
        lock.unlock()
        guard !isClosed else { throw PKCS11Error("The token session was closed (the key store was disconnected).") }
        let session = try pooled ?? openSession()
        do {
            let result = try body(session)
            release(session)
            return result
        } catch {
            _ = f.C_CloseSession?(session)
            throw error
        }
    }

    /// The AES secret key labelled `label`, or nil. More than one with that label is an error:
    /// kms must never pick one of two roots at random.
    public func findAESKey(label: String) throws -> PKCS11SecretKey? {
        let handles: [CK_OBJECT_HANDLE] = try withSession { session in
            let template = AttributeTemplate()
            template.add(CKA_CLASS, ulong: CKO_SECRET_KEY)
            template.add(CKA_KEY_TYPE, ulong: CKK_AES)
            template.add(CKA_LABEL, bytes: Array(label.utf8))
            guard let initFind = f.C_FindObjectsInit, let find = f.C_FindObjects, let final = f.C_FindObjectsFinal else {
                throw PKCS11Error("\(module.path) lacks C_FindObjects")
            }
            try template.withAttributes { try PKCS11Error.check(initFind(session, $0, $1), "C_FindObjectsInit") }
            defer { _ = final(session) }
            var found = [CK_OBJECT_HANDLE](repeating: 0, count: 4)
            var count: CK_ULONG = 0
            try PKCS11Error.check(find(session, &found, CK_ULONG(found.count), &count), "C_FindObjects")
            return Array(found.prefix(Int(count)))
        }
        guard let handle = handles.first else { return nil }
        guard handles.count == 1 else { throw PKCS11Error("\(handles.count) AES keys are labelled \"\(label)\" in the token.") }
        let key = PKCS11SecretKey(token: self, handle: handle, label: label)
        try key.requireNonExtractable()
        return key
    }

    /// Generates a persistent AES-256 key inside the token: sensitive and non-extractable,
    /// so its value can never be read out, only used for encrypt/decrypt.
    public func generateAESKey(label: String) throws -> PKCS11SecretKey {
        let handle: CK_OBJECT_HANDLE = try withSession { session in
            let template = AttributeTemplate()
            template.add(CKA_CLASS, ulong: CKO_SECRET_KEY)
            template.add(CKA_KEY_TYPE, ulong: CKK_AES)
            template.add(CKA_VALUE_LEN, ulong: 32)
            template.add(CKA_LABEL, bytes: Array(label.utf8))
            template.add(CKA_TOKEN, bool: true)
            template.add(CKA_PRIVATE, bool: true)
            template.add(CKA_SENSITIVE, bool: true)
            template.add(CKA_EXTRACTABLE, bool: false)
            template.add(CKA_ENCRYPT, bool: true)
            template.add(CKA_DECRYPT, bool: true)
            guard let generate = f.C_GenerateKey else { throw PKCS11Error("\(module.path) lacks C_GenerateKey") }
            var mechanism = CK_MECHANISM(mechanism: CKM_AES_KEY_GEN, pParameter: nil, ulParameterLen: 0)
            var handle: CK_OBJECT_HANDLE = 0
            try template.withAttributes { try PKCS11Error.check(generate(session, &mechanism, $0, $1, &handle), "C_GenerateKey") }
            return handle
        }
        return PKCS11SecretKey(token: self, handle: handle, label: label)
    }

    /// The labels of the token's AES secret keys, at most `limit` (for operators: which KMS
    /// keys of an AWS_CLOUDHSM key store have material here, orphaned material included).
    public func aesKeyLabels(limit: Int = 100_000) throws -> [String] {
        try withSession { session in
            let template = AttributeTemplate()
            template.add(CKA_CLASS, ulong: CKO_SECRET_KEY)
            template.add(CKA_KEY_TYPE, ulong: CKK_AES)
            guard let initFind = f.C_FindObjectsInit, let find = f.C_FindObjects, let final = f.C_FindObjectsFinal,
                  let get = f.C_GetAttributeValue else {
                throw PKCS11Error("\(module.path) lacks C_FindObjects or C_GetAttributeValue")
            }
            try template.withAttributes { try PKCS11Error.check(initFind(session, $0, $1), "C_FindObjectsInit") }
            var handles: [CK_OBJECT_HANDLE] = []
            do {
                defer { _ = final(session) }
                var batch = [CK_OBJECT_HANDLE](repeating: 0, count: 64)
                while handles.count < limit {
                    var count: CK_ULONG = 0
                    try PKCS11Error.check(find(session, &batch, CK_ULONG(batch.count), &count), "C_FindObjects")
                    if count == 0 { break }
                    handles += batch.prefix(Int(count))
                }
            }
            var labels: [String] = []
            for handle in handles.prefix(limit) {
                // Two calls: the label's length, then its bytes.
                var attribute = CK_ATTRIBUTE(type: CKA_LABEL, pValue: nil, ulValueLen: 0)
                try PKCS11Error.check(get(session, handle, &attribute, 1), "C_GetAttributeValue")
                var bytes = [UInt8](repeating: 0, count: max(Int(attribute.ulValueLen), 1))
                try bytes.withUnsafeMutableBytes { buffer in
                    attribute.pValue = buffer.baseAddress
                    try PKCS11Error.check(get(session, handle, &attribute, 1), "C_GetAttributeValue")
                }
                labels.append(String(decoding: bytes.prefix(Int(attribute.ulValueLen)), as: UTF8.self))
            }
            return labels.sorted()
        }
    }

    /// `count` random bytes from the token's generator (GenerateRandom with an AWS_CLOUDHSM
    /// key store's ID: AWS draws them in the cluster, not on the KMS host).
    public func generateRandom(count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        return try withSession { session in
            guard let generate = f.C_GenerateRandom else { throw PKCS11Error("\(module.path) lacks C_GenerateRandom") }
            var bytes = [UInt8](repeating: 0, count: count)
            try bytes.withUnsafeMutableBufferPointer { buffer in
                try PKCS11Error.check(generate(session, buffer.baseAddress, CK_ULONG(count)), "C_GenerateRandom")
            }
            return bytes
        }
    }

    /// Deletes a key object (tests, and a key store's key deletion).
    public func destroy(_ key: PKCS11SecretKey) throws {
        try withSession { session in
            guard let destroy = f.C_DestroyObject else { throw PKCS11Error("\(module.path) lacks C_DestroyObject") }
            try PKCS11Error.check(destroy(session, key.handle), "C_DestroyObject")
        }
    }
}

/// Zeroes a buffer in a way the optimizer keeps (the PIN's bytes after login).
@inline(never)
func zeroize(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let base = buffer.baseAddress else { return }
    memset(base, 0, buffer.count)
}

/// CK_ATTRIBUTE values need stable addresses for the duration of a call: owned here.
final class AttributeTemplate {
    private var attributes: [CK_ATTRIBUTE] = []
    private var storage: [UnsafeMutableRawPointer] = []

    func add(_ type: CK_ATTRIBUTE_TYPE, bytes: [UInt8]) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { p.copyMemory(from: b, byteCount: bytes.count) } }
        storage.append(p)
        attributes.append(CK_ATTRIBUTE(type: type, pValue: p, ulValueLen: CK_ULONG(bytes.count)))
    }

    func add(_ type: CK_ATTRIBUTE_TYPE, ulong: CK_ULONG) {
        add(type, bytes: withUnsafeBytes(of: ulong) { Array($0) })
    }

    func add(_ type: CK_ATTRIBUTE_TYPE, bool: Bool) { add(type, bytes: [bool ? 1 : 0]) }

    func withAttributes<T>(_ body: (UnsafeMutablePointer<CK_ATTRIBUTE>, CK_ULONG) throws -> T) rethrows -> T {
        try attributes.withUnsafeMutableBufferPointer { try body($0.baseAddress!, CK_ULONG($0.count)) }
    }

    deinit { storage.forEach { $0.deallocate() } }
}

/// PKCS#11 login state belongs to the application (the process), not to a session or a
/// `PKCS11Token`: once one login succeeded, a C_Login to the same token answers
/// CKR_USER_ALREADY_LOGGED_IN whatever PIN it is given. The SHA-256 of the PIN each token
/// was logged in with is kept here so a later login with another PIN is still refused
/// (a custom key store with a wrong KeyStorePassword on the root's token, or on a token
/// another store already opened). Process-wide, because the state it mirrors is; a login
/// this process did not make is refused (fail closed).
enum PKCS11Logins {
    private static let digests = Mutex<[String: [UInt8]]>([:])

    static func record(_ token: String, _ digest: [UInt8]) {
        digests.withLock { $0[token] = digest }
    }

    static func matches(_ token: String, _ digest: [UInt8]) -> Bool {
        guard let known = digests.withLock({ $0[token] }), known.count == digest.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<known.count { diff |= known[i] ^ digest[i] }
        return diff == 0
    }
}
