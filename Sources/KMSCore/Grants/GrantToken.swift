import Crypto
import IAMPolicy

/// A grant token: the grant's content plus a MAC under a key derived from the root key,
/// so a node that has not seen the grant yet can still honour it (the token alone proves
/// the grant was made) and nobody can forge or alter one. Each CreateGrant answers a new
/// token (a random nonce), as AWS's are unique per request; all of a grant's tokens are
/// interchangeable. Layout: base64(version 1 | HMAC-SHA256(32) | payload JSON).
public struct GrantToken: Sendable, Equatable {
    public let grantId: String
    public let keyArn: String
    public let granteePrincipal: String
    public let retiringPrincipal: String?
    public let operations: [String]
    public let constraints: KMSGrant.Constraints?
    /// When the token was issued (seconds since the epoch): it stands in for the stored
    /// grant only for a while (`GrantRegistry.tokenLifetime`).
    public let issuedAt: Double

    static let version: UInt8 = 1
    static let macLength = 32

    init(grant: KMSGrant, issuedAt: Double) {
        grantId = grant.grantId
        keyArn = grant.keyArn
        granteePrincipal = grant.granteePrincipal
        retiringPrincipal = grant.retiringPrincipal
        operations = grant.operations
        constraints = grant.constraints
        self.issuedAt = issuedAt
    }

    var rule: GrantRule {
        KMSGrant(grantId: grantId, account: "", region: "", keyId: "", granteePrincipal: granteePrincipal,
                 retiringPrincipal: retiringPrincipal, operations: operations, constraints: constraints, name: nil,
                 issuingAccount: "", creationDate: issuedAt).rule
    }

    /// The token text handed to the client.
    func seal(with key: SymmetricKey) -> String {
        var payload = JSONObject()
        payload["g"] = .string(grantId)
        payload["k"] = .string(keyArn)
        payload["p"] = .string(granteePrincipal)
        if let retiringPrincipal { payload["r"] = .string(retiringPrincipal) }
        payload["o"] = .array(operations.map { .string($0) })
        if let e = constraints?.encryptionContextEquals { payload["ce"] = .object(KMSGrant.object(e)) }
        if let s = constraints?.encryptionContextSubset { payload["cs"] = .object(KMSGrant.object(s)) }
        payload["t"] = JSONValue(issuedAt)
        payload["n"] = .string(Base64.encode(SystemRandom.bytes(12)))
        let body = JSONWriter.bytes(.object(payload))
        let mac = HMAC<SHA256>.authenticationCode(for: [Self.version] + body, using: key)
        return Base64.encode([Self.version] + Array(mac) + body)
    }

    /// Verifies and decodes a token; throws InvalidGrantTokenException for anything that is
    /// not a token this service issued, unaltered (the MAC is checked in constant time
    /// before any of the payload is read).
    static func open(_ text: String, with key: SymmetricKey) throws(KMSError) -> GrantToken {
        let invalid = KMSError(.invalidGrantToken, "Invalid grant token.")
        guard let bytes = Base64.decode(text), bytes.count > 1 + macLength, bytes[0] == version else { throw invalid }
        let mac = bytes[1...macLength]
        let body = Array(bytes[(1 + macLength)...])
        guard HMAC<SHA256>.isValidAuthenticationCode(Array(mac), authenticating: [version] + body, using: key) else { throw invalid }
        guard let payload = try? JSONParser.parse(body).objectValue,
              let grantId = payload["g"]?.stringValue, let keyArn = payload["k"]?.stringValue,
              let grantee = payload["p"]?.stringValue, let ops = payload["o"]?.arrayValue?.compactMap(\.stringValue),
              let issuedAt = payload["t"]?.doubleValue else { throw invalid }
        func map(_ v: JSONValue?) -> [String: String]? {
            guard let o = v?.objectValue else { return nil }
            var m: [String: String] = [:]
            for e in o.entries { if let s = e.value.stringValue { m[e.key] = s } }
            return m
        }
        let equals = map(payload["ce"]), subset = map(payload["cs"])
        return GrantToken(grantId: grantId, keyArn: keyArn, granteePrincipal: grantee, retiringPrincipal: payload["r"]?.stringValue,
                          operations: ops,
                          constraints: equals == nil && subset == nil ? nil : KMSGrant.Constraints(encryptionContextEquals: equals, encryptionContextSubset: subset),
                          issuedAt: issuedAt)
    }

    private init(grantId: String, keyArn: String, granteePrincipal: String, retiringPrincipal: String?, operations: [String],
                 constraints: KMSGrant.Constraints?, issuedAt: Double) {
        self.grantId = grantId
        self.keyArn = keyArn
        self.granteePrincipal = granteePrincipal
        self.retiringPrincipal = retiringPrincipal
        self.operations = operations
        self.constraints = constraints
        self.issuedAt = issuedAt
    }
}
