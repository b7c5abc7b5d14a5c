/// Resolving a KeyId parameter (key ID, key ARN, alias name, alias ARN) to a key in
/// the right account and region, and the key-state checks AWS applies.
extension KMSService {
    /// `allowAlias` is true for the operations whose KeyId AWS documents as accepting alias
    /// names and alias ARNs (DescribeKey and the cryptographic operations); the others take
    /// only a key ID or key ARN, and AWS refuses aliases there.
    public func resolveKey(_ identifier: String, caller: Caller, allowAlias: Bool) throws(KMSError) -> KMSKey {
        // The common case first, by bytes: a bare key ID (String.hasPrefix is Unicode-aware and slow).
        if KeyIdentifier.isKeyId(identifier) {
            guard let key = try registry.key(account: caller.account, region: caller.region, keyId: identifier) else {
                throw KMSError(.notFound, "Key '\(ARN.key(identifier, region: caller.region, account: caller.account))' does not exist")
            }
            return withMaterialExpiry(key)
        }
        if identifier.utf8.starts(with: "arn:".utf8) {
            guard let arn = ARN.parse(identifier) else { throw KMSError(.notFound, "Invalid arn \(identifier)") }
            // Keys never leave their region: an ARN of another region names nothing here.
            guard arn.region == caller.region else { throw KMSError(.notFound, "Invalid arn \(arn.region)") }
            if arn.resource.hasPrefix("alias/") {
                guard allowAlias else { throw KMSError(.invalidArn, "Key Aliases are not supported for this operation.") }
                // Aliases resolve only in the caller's own account: another account's alias
                // ARN answers exactly as an alias that does not exist, so it reveals neither
                // whether the alias exists nor which key it names. (Cross-account use goes by
                // key ARN, which the key policy then judges, as AWS documents.)
                guard arn.account == caller.account else {
                    throw KMSError(.notFound, "Alias \(ARN.alias(arn.resource, region: arn.region, account: arn.account)) is not found.")
                }
                return try keyForAlias(arn.resource, account: caller.account, region: arn.region, caller: caller)
            }
            let keyId = String(arn.resource.dropFirst(4))
            guard let key = try registry.key(account: arn.account, region: arn.region, keyId: keyId) else {
                throw KMSError(.notFound, "Key '\(identifier)' does not exist")
            }
            return withMaterialExpiry(key)
        }
        if identifier.utf8.starts(with: "alias/".utf8), allowAlias {
            return try keyForAlias(identifier, account: caller.account, region: caller.region, caller: caller)
        }
        throw KMSError(.notFound, "Invalid keyId '\(identifier)'")
    }

    func keyForAlias(_ name: String, account: String, region: String, caller: Caller) throws(KMSError) -> KMSKey {
        guard region == caller.region, let alias = try registry.alias(account: account, region: region, name: name),
              let key = try registry.key(account: account, region: region, keyId: alias.targetKeyId) else {
            throw KMSError(.notFound, "Alias \(ARN.alias(name, region: region, account: account)) is not found.")
        }
        return withMaterialExpiry(key)
    }

    /// Imported material whose ValidTo has passed makes its key PendingImport at once, before
    /// the background job deletes it (only keys with imported material pay for the check).
    func withMaterialExpiry(_ key: KMSKey) -> KMSKey {
        key.imports.records.isEmpty ? key : key.expiringMaterial(at: clock.now())
    }

    /// Resolves and authorizes in one step, as every key operation starts.
    /// `action` defaults to the operation's declared action (`OperationActions`).
    func authorizedKey(_ request: KMSRequest, member: String = "KeyId", action: String? = nil, caller: Caller,
                       allowAlias: Bool = false) throws(KMSError) -> KMSKey {
        let identifier = try request.required(member)
        // A predefined alias/aws/<service> names an AWS managed key, made on first use.
        if allowAlias, let managed = AWSManagedKeys.predefinedAlias(identifier, caller: caller) {
            return try awsManagedKey(alias: managed, request: request, action: action, caller: caller)
        }
        var key = try resolveKey(identifier, caller: caller, allowAlias: allowAlias)
        // A cluster node reads a management operation's key from the store (read-your-writes).
        if freshManagementReads.isOn, let operation = request.context?.operation, !Self.servedFromCache.contains(operation) {
            key = try freshlyResolvedKey(identifier, key, caller: caller, allowAlias: allowAlias)
        }
        try authorize(request, action, on: .key(key))
        return key
    }

    /// Cryptographic operations need an enabled key.
    func requireUsable(_ key: KMSKey) throws(KMSError) {
        // A key in a custom key store is Unavailable while its store is not connected.
        if key.customKeyStoreId != nil, key.keyState == .enabled { _ = try connectedStore(of: key) }
        switch key.keyState {
        case .enabled:
            // Expired imported material never encrypts, whichever path found the key.
            if !key.imports.records.isEmpty, withMaterialExpiry(key).keyState == .pendingImport {
                throw KMSError(.kmsInvalidState, "\(key.arn) is pending import.")
            }
            return
        case .disabled: throw KMSError(.disabled, "\(key.arn) is disabled.")
        case .pendingDeletion: throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.")
        case .pendingImport: throw KMSError(.kmsInvalidState, "\(key.arn) is pending import.")
        default: throw KMSError(.kmsInvalidState, "\(key.arn) is \(key.keyState.rawValue).")
        }
    }

    /// Management operations refuse a key that is pending deletion.
    func requireNotPendingDeletion(_ key: KMSKey) throws(KMSError) {
        if key.keyState == .pendingDeletion { throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.") }
        // A multi-Region primary waiting for its replicas' deletion is treated alike.
        if key.keyState == .pendingReplicaDeletion { throw KMSError(.kmsInvalidState, "\(key.arn) is pending replica deletion.") }
    }

    func dryRunCheck(_ request: KMSRequest) throws(KMSError) {
        if request.dryRun { throw KMSError.dryRun }
    }
}

/// Key ID syntax: a UUID, or "mrk-" and 32 hex digits for multi-Region keys.
public enum KeyIdentifier {
    public static func isKeyId(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { u in  // contiguous bytes: no array per check
            guard u.count == 36 else { return false }
            if u.starts(with: "mrk-".utf8) { return u.dropFirst(4).allSatisfy(isHex) }
            for (i, c) in u.enumerated() {
                if i == 8 || i == 13 || i == 18 || i == 23 { if c != UInt8(ascii: "-") { return false } } else if !isHex(c) { return false }
            }
            return true
        }
    }

    static func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) }

    /// A new random key ID in AWS's UUID form (lower-case).
    public static func newKeyId() -> String {
        let b = SystemRandom.bytes(16)
        var bytes = b
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Hex.lower(bytes)
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
    }

    public static func newMaterialId() -> String {
        Hex.lower(SystemRandom.bytes(32))
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
