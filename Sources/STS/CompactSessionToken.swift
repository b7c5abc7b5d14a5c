/// The plaintext of a version-2 session token: STSSession in a binary layout, with every
/// field that can be derived left out. The token travels in X-Amz-Security-Token on every
/// request and SigV4 signs it into the canonical request, so each byte saved is one the
/// server frames, parses and hashes less per request.
///
/// Not carried:
/// - the access key ID: the sealer authenticates it as associated data, which binds the
///   token to its key (another key ID fails to open it);
/// - the account, when the access key ID encodes it (AccessKeyID.make does);
/// - a role session's ARN and aws:userid, rebuilt from the account, role ARN, role ID and
///   session name exactly as AssumeRole builds them (checked when sealing; otherwise carried).
///
/// Layout: kind (1) | flags (2, little-endian) | issued (Double bits, 8) | expires (duration in
/// whole seconds, 4, or Double bits, 8) | the fields the flags name, in a fixed order.
/// A string is a LEB128 length then UTF-8; an ARN in the session's account starts with a byte
/// naming its prefix ("arn:aws:iam::ACCOUNT:" or "arn:aws:sts::ACCOUNT:") that is then left out.
/// Decoding reads each length against the bytes left and refuses unknown flags, unknown
/// kinds and trailing bytes: bounded work, no trust in lengths even though the seal is checked first.
enum CompactSessionToken {
    struct Flags: OptionSet {
        let rawValue: UInt16
        static let packedSecret = Flags(rawValue: 1 << 0)
        static let accountFromKeyId = Flags(rawValue: 1 << 1)
        static let derivedArn = Flags(rawValue: 1 << 2)
        static let derivedUserId = Flags(rawValue: 1 << 3)
        static let userIdIsAccount = Flags(rawValue: 1 << 4)
        static let roleArn = Flags(rawValue: 1 << 5)
        static let roleId = Flags(rawValue: 1 << 6)
        static let sessionName = Flags(rawValue: 1 << 7)
        static let sourceIdentity = Flags(rawValue: 1 << 8)
        static let tags = Flags(rawValue: 1 << 9)
        static let policy = Flags(rawValue: 1 << 10)
        static let policyArns = Flags(rawValue: 1 << 11)
        static let durationExpiry = Flags(rawValue: 1 << 12)
        static let known = Flags(rawValue: (1 << 13) - 1)
    }

    /// AccessKeyID.newSecret's alphabet: a 40-character secret packs into 30 bytes.
    static let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let secretInverse: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in secretAlphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    // MARK: Encoding

    static func encode(_ s: STSSession) -> [UInt8] {
        var flags: Flags = []
        var out: [UInt8] = []
        out.reserveCapacity(160)
        let packed = packSecret(s.secretAccessKey)
        if packed != nil { flags.insert(.packedSecret) }
        if let a = AccessKeyID.account(of: s.accessKeyId), same(a, s.account) { flags.insert(.accountFromKeyId) }
        if s.roleArn != nil { flags.insert(.roleArn) }
        if s.roleId != nil { flags.insert(.roleId) }
        if s.sessionName != nil { flags.insert(.sessionName) }
        if s.kind == .assumedRole, let arn = assumedRoleArn(account: s.account, roleArn: s.roleArn, sessionName: s.sessionName),
           same(arn, s.arn) { flags.insert(.derivedArn) }
        if let roleId = s.roleId, let name = s.sessionName, same(s.userId, "\(roleId):\(name)") {
            flags.insert(.derivedUserId)
        } else if same(s.userId, s.account) {
            flags.insert(.userIdIsAccount)
        }
        if s.sourceIdentity != nil { flags.insert(.sourceIdentity) }
        if !s.tags.isEmpty { flags.insert(.tags) }
        if s.policy != nil { flags.insert(.policy) }
        if s.policyArns != nil { flags.insert(.policyArns) }
        let duration = s.expires - s.issued
        let seconds = duration >= 0 && duration <= Double(UInt32.max) ? UInt32(exactly: duration) : nil
        if let seconds, s.issued + Double(seconds) == s.expires { flags.insert(.durationExpiry) }

        out.append(s.kind == .assumedRole ? 0 : 1)
        appendLE(&out, UInt64(flags.rawValue), bytes: 2)
        appendLE(&out, s.issued.bitPattern, bytes: 8)
        if flags.contains(.durationExpiry), let seconds { appendLE(&out, UInt64(seconds), bytes: 4) } else {
            appendLE(&out, s.expires.bitPattern, bytes: 8)
        }
        if let packed { out.append(contentsOf: packed) } else { appendString(&out, s.secretAccessKey) }
        if !flags.contains(.accountFromKeyId) { appendString(&out, s.account) }
        if let v = s.roleArn { appendARN(&out, v, account: s.account) }
        if let v = s.roleId { appendString(&out, v) }
        if let v = s.sessionName { appendString(&out, v) }
        if !flags.contains(.derivedArn) { appendARN(&out, s.arn, account: s.account) }
        if !flags.contains(.derivedUserId) && !flags.contains(.userIdIsAccount) { appendString(&out, s.userId) }
        if let v = s.sourceIdentity { appendString(&out, v) }
        if !s.tags.isEmpty {
            appendVarint(&out, UInt64(s.tags.count))
            for (k, v) in s.tags.sorted(by: { $0.key < $1.key }) { appendString(&out, k); appendString(&out, v) }
        }
        if let v = s.policy { appendString(&out, v) }
        if let arns = s.policyArns {
            appendVarint(&out, UInt64(arns.count))
            for a in arns { appendARN(&out, a, account: s.account) }
        }
        appendARN(&out, s.issuedFor, account: s.account)
        return out
    }

    /// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, ROLE being the role ARN's last component.
    static func assumedRoleArn(account: String, roleArn: String?, sessionName: String?) -> String? {
        guard let roleArn, let sessionName, let slash = roleArn.lastIndex(of: "/") else { return nil }
        return "arn:aws:sts::\(account):assumed-role/\(roleArn[roleArn.index(after: slash)...])/\(sessionName)"
    }

    /// Byte equality: a derived field must rebuild the very bytes it replaces (String's ==
    /// would accept a canonically equivalent spelling).
    static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    static func packSecret(_ secret: String) -> [UInt8]? {
        let chars = Array(secret.utf8)
        guard chars.count == 40 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(30)
        var acc: UInt32 = 0, bits = 0
        for c in chars {
            let v = secretInverse[Int(c)]
            guard v != 0xFF else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 { bits -= 8; out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits))) }
        }
        return out
    }

    static func appendLE(_ out: inout [UInt8], _ value: UInt64, bytes: Int) {
        for i in 0..<bytes { out.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * i))) }
    }

    static func appendVarint(_ out: inout [UInt8], _ value: UInt64) {
        var v = value
        while v >= 0x80 { out.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    static func appendString(_ out: inout [UInt8], _ s: String) {
        appendVarint(&out, UInt64(s.utf8.count))
        out.append(contentsOf: s.utf8)
    }

    static func arnPrefixes(account: String) -> [String] {
        ["arn:aws:iam::\(account):", "arn:aws:sts::\(account):"]
    }

    static func appendARN(_ out: inout [UInt8], _ arn: String, account: String) {
        for (i, prefix) in arnPrefixes(account: account).enumerated() where arn.utf8.starts(with: prefix.utf8) {
            let rest = arn.utf8.dropFirst(prefix.utf8.count)
            out.append(UInt8(i + 1))
            appendVarint(&out, UInt64(rest.count))
            out.append(contentsOf: rest)
            return
        }
        out.append(0)
        appendString(&out, arn)
    }

    // MARK: Decoding

    /// The session in `bytes` (an opened token's plaintext), bound to `accessKeyId`; nil for
    /// anything this encoder would not have written.
    static func decode(_ bytes: [UInt8], accessKeyId: String) -> STSSession? {
        var r = Reader(bytes: bytes)
        guard let kindByte = r.byte(), kindByte <= 1, let rawFlags = r.le(2) else { return nil }
        let flags = Flags(rawValue: UInt16(truncatingIfNeeded: rawFlags))
        guard Flags.known.isSuperset(of: flags), !(flags.contains(.derivedUserId) && flags.contains(.userIdIsAccount)),
              let issuedBits = r.le(8) else { return nil }
        let issued = Double(bitPattern: issuedBits)
        let expires: Double
        if flags.contains(.durationExpiry) {
            guard let d = r.le(4) else { return nil }
            expires = issued + Double(d)
        } else {
            guard let e = r.le(8) else { return nil }
            expires = Double(bitPattern: e)
        }
        let secret: String
        if flags.contains(.packedSecret) {
            guard let raw = r.take(30) else { return nil }
            secret = unpackSecret(raw)
        } else {
            guard let s = r.string() else { return nil }
            secret = s
        }
        let account: String
        if flags.contains(.accountFromKeyId) {
            guard let a = AccessKeyID.account(of: accessKeyId) else { return nil }
            account = a
        } else {
            guard let a = r.string() else { return nil }
            account = a
        }
        let prefixes = arnPrefixes(account: account)
        var roleArn: String?, roleId: String?, sessionName: String?
        if flags.contains(.roleArn) { guard let v = r.arn(prefixes) else { return nil }; roleArn = v }
        if flags.contains(.roleId) { guard let v = r.string() else { return nil }; roleId = v }
        if flags.contains(.sessionName) { guard let v = r.string() else { return nil }; sessionName = v }
        let arn: String
        if flags.contains(.derivedArn) {
            guard kindByte == 0, let v = assumedRoleArn(account: account, roleArn: roleArn, sessionName: sessionName) else { return nil }
            arn = v
        } else {
            guard let v = r.arn(prefixes) else { return nil }
            arn = v
        }
        let userId: String
        if flags.contains(.derivedUserId) {
            guard let roleId, let sessionName else { return nil }
            userId = "\(roleId):\(sessionName)"
        } else if flags.contains(.userIdIsAccount) {
            userId = account
        } else {
            guard let v = r.string() else { return nil }
            userId = v
        }
        var sourceIdentity: String?
        if flags.contains(.sourceIdentity) { guard let v = r.string() else { return nil }; sourceIdentity = v }
        var tags: [String: String] = [:]
        if flags.contains(.tags) {
            // Each tag takes at least two bytes: a count beyond that is a lie, refused up front.
            guard let n = r.varint(), n > 0, n <= UInt64(r.remaining / 2) else { return nil }
            for _ in 0..<n {
                guard let k = r.string(), let v = r.string(), tags.updateValue(v, forKey: k) == nil else { return nil }
            }
        }
        var policy: String?
        if flags.contains(.policy) { guard let v = r.string() else { return nil }; policy = v }
        var policyArns: [String]?
        if flags.contains(.policyArns) {
            guard let n = r.varint(), n <= UInt64(r.remaining / 2) else { return nil }
            var arns: [String] = []
            for _ in 0..<n { guard let a = r.arn(prefixes) else { return nil }; arns.append(a) }
            policyArns = arns
        }
        guard let issuedFor = r.arn(prefixes), r.remaining == 0 else { return nil }
        return STSSession(kind: kindByte == 0 ? .assumedRole : .sessionToken, accessKeyId: accessKeyId,
                          secretAccessKey: secret, account: account, arn: arn, userId: userId, roleArn: roleArn,
                          roleId: roleId, sessionName: sessionName, sourceIdentity: sourceIdentity, tags: tags,
                          policy: policy, policyArns: policyArns, issuedFor: issuedFor, issued: issued, expires: expires)
    }

    static func unpackSecret(_ raw: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(40)
        var acc: UInt32 = 0, bits = 0
        for b in raw {
            acc = acc << 8 | UInt32(b)
            bits += 8
            while bits >= 6 { bits -= 6; out.append(secretAlphabet[Int(acc >> UInt32(bits) & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A cursor that never reads past the end.
    struct Reader {
        let bytes: [UInt8]
        var at = 0
        var remaining: Int { bytes.count - at }

        mutating func byte() -> UInt8? {
            guard at < bytes.count else { return nil }
            defer { at += 1 }
            return bytes[at]
        }

        mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard n >= 0, n <= remaining else { return nil }
            defer { at += n }
            return bytes[at..<(at + n)]
        }

        mutating func le(_ n: Int) -> UInt64? {
            guard let raw = take(n) else { return nil }
            var v: UInt64 = 0
            for (i, b) in raw.enumerated() { v |= UInt64(b) << UInt64(8 * i) }
            return v
        }

        /// LEB128, at most three bytes (2 MiB, beyond any token) and minimal.
        mutating func varint() -> UInt64? {
            var v: UInt64 = 0
            for i in 0..<3 {
                guard let b = byte() else { return nil }
                v |= UInt64(b & 0x7F) << UInt64(7 * i)
                if b & 0x80 == 0 { return i > 0 && b == 0 ? nil : v }
            }
            return nil
        }

        mutating func string() -> String? {
            guard let n = varint(), n <= UInt64(remaining), let raw = take(Int(n)) else { return nil }
            return String(validating: raw, as: UTF8.self)
        }

        mutating func arn(_ prefixes: [String]) -> String? {
            guard let p = byte(), Int(p) <= prefixes.count, let rest = string() else { return nil }
            return p == 0 ? rest : prefixes[Int(p) - 1] + rest
        }
    }
}
