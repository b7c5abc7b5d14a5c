import Crypto
import Foundation
import JWTKit

/// An IAM OIDC identity provider as AssumeRoleWithWebIdentity needs it: its ARN, issuer URL,
/// client IDs (the accepted audiences) and its signing keys (a JWKS document).
public struct OIDCProviderConfig: Sendable {
    /// arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH
    public let arn: String
    /// The issuer, as IAM stores it ("https://oidc.example.com/path").
    public let url: String
    public let clientIds: [String]
    /// The JWKS JSON text; nil when the provider has none configured (the token is then refused).
    public let jwks: String?

    public init(arn: String, url: String, clientIds: [String], jwks: String?) {
        self.arn = arn
        self.url = url
        self.clientIds = clientIds
        self.jwks = jwks
    }

    /// The URL without its scheme: the ARN's resource and the prefix of the trust policy's
    /// condition keys ("oidc.example.com:sub").
    public var hostPath: String { OIDCIssuer.hostPath(url) }
}

public enum OIDCIssuer {
    /// "https://Host/path/" -> "host/path", the form IAM keys providers by.
    public static func hostPath(_ url: String) -> String {
        var s = Substring(url)
        if s.lowercased().hasPrefix("https://") { s = s.dropFirst(8) }
        while s.hasSuffix("/") { s = s.dropLast() }
        guard let slash = s.firstIndex(of: "/") else { return s.lowercased() }
        return s[..<slash].lowercased() + s[slash...]
    }
}

/// The claims of a verified web identity token that STS uses.
public struct VerifiedWebIdentity: Sendable, Equatable {
    public let issuer: String
    public let subject: String
    /// The token's audience that matched one of the provider's client IDs.
    public let audience: String
    public let expires: Double
    /// Condition keys for the role's trust policy: "<provider host/path>:sub", ":aud", ":amr", ":azp".
    public let conditions: [String: [String]]
}

/// The claims AWS reads from an OIDC token. Values may be strings or arrays (aud, amr);
/// times are NumericDate. Claims are checked by WebIdentityVerifier with the server's clock,
/// not by the JWT library, so expiry follows the injected (test) clock.
struct WebIdentityClaims: JWTPayload {
    var iss: String?
    var sub: String?
    var aud: [String]
    var azp: String?
    var amr: [String]
    var exp: Double?
    var nbf: Double?
    var iat: Double?

    enum CodingKeys: String, CodingKey { case iss, sub, aud, azp, amr, exp, nbf, iat }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        iss = try? c.decodeIfPresent(String.self, forKey: .iss)
        sub = try? c.decodeIfPresent(String.self, forKey: .sub)
        azp = try? c.decodeIfPresent(String.self, forKey: .azp)
        aud = Self.strings(c, .aud)
        amr = Self.strings(c, .amr)
        exp = Self.number(c, .exp)
        nbf = Self.number(c, .nbf)
        iat = Self.number(c, .iat)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(iss, forKey: .iss)
        try c.encodeIfPresent(sub, forKey: .sub)
        try c.encode(aud, forKey: .aud)
        try c.encodeIfPresent(exp, forKey: .exp)
    }

    static func strings(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> [String] {
        if let one = try? c.decode(String.self, forKey: key) { return [one] }
        return (try? c.decode([String].self, forKey: key)) ?? []
    }

    static func number(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> Double? {
        if let d = try? c.decode(Double.self, forKey: key) { return d }
        // The library's decoder may read NumericDates as Dates.
        return (try? c.decode(Date.self, forKey: key)).map(\.timeIntervalSince1970)
    }

    /// Claims are checked by WebIdentityVerifier, with the server's clock.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Verifies OIDC JWTs for AssumeRoleWithWebIdentity: signature (RS256, ES256 and whatever
/// else jwt-kit supports for the provider's JWKS; never "none"), issuer, audience (the
/// provider's client IDs), exp and nbf, with AWS's error codes and wording.
public final class WebIdentityVerifier: Sendable {
    /// AWS's WebIdentityToken limit (clientTokenType max 20,000).
    public static let maxTokenLength = 20_000
    /// Clock skew allowed for nbf and iat; exp is strict, as AWS reports it.
    public static let allowedSkew: Double = 300

    /// Key collections by the JWKS text: a JWKS file read again costs a hash, not a parse.
    private let collections = SessionTokenCache<JWTKeyCollection>(capacity: 64)

    public init() {}

    /// The issuer the token claims, read without verification, to find its provider.
    public static func unverifiedIssuer(_ token: String) -> String? {
        guard token.utf8.count <= maxTokenLength else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Base64URL.decodeLenient(String(parts[1])),
              let object = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else { return nil }
        return object["iss"] as? String
    }

    public func verify(_ token: String, provider: OIDCProviderConfig, now: Double) async throws(STSError) -> VerifiedWebIdentity {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        // Each segment in canonical base64url (no padding, zero trailing bits): a token has
        // exactly one spelling, so no byte of it can change without the token being refused.
        guard token.utf8.count <= Self.maxTokenLength, segments.count == 3,
              segments.allSatisfy({ !$0.isEmpty && Base64URL.decode(String($0)) != nil }) else { throw .invalidJWT }
        guard let jwks = provider.jwks else { throw .noVerificationKey }
        let keys: JWTKeyCollection
        let cacheKey = SessionTokenCache<JWTKeyCollection>.Key(token: jwks)
        if let cached = collections.value(for: cacheKey) {
            keys = cached
        } else {
            keys = JWTKeyCollection()
            do { try await keys.add(jwksJSON: jwks) } catch { throw .noVerificationKey }
            collections.insert(keys, for: cacheKey)
        }
        let claims: WebIdentityClaims
        do {
            claims = try await keys.verify(token, as: WebIdentityClaims.self, iteratingKeys: true)
        } catch {
            throw .invalidJWT
        }
        return try Self.check(claims, provider: provider, now: now)
    }

    static func check(_ claims: WebIdentityClaims, provider: OIDCProviderConfig, now: Double) throws(STSError) -> VerifiedWebIdentity {
        guard let iss = claims.iss, OIDCIssuer.hostPath(iss) == provider.hostPath else {
            throw .invalidIdentityToken("Issuer in the token does not match the provider's URL")
        }
        guard let exp = claims.exp else { throw .invalidIdentityToken("Missing a required claim: exp") }
        guard now < exp else { throw .tokenExpired(now: now, exp: exp) }
        if let nbf = claims.nbf, now + allowedSkew < nbf {
            throw .invalidIdentityToken("Token used before its not-before time (nbf)")
        }
        if let iat = claims.iat, now + allowedSkew < iat {
            throw .invalidIdentityToken("Token issued in the future (iat)")
        }
        guard !claims.aud.isEmpty else { throw .invalidIdentityToken("Missing a required claim: aud") }
        // AWS accepts the token when one of its audiences (or azp) is a registered client ID.
        guard let audience = (claims.aud + (claims.azp.map { [$0] } ?? [])).first(where: { provider.clientIds.contains($0) }) else {
            throw .incorrectAudience
        }
        guard let sub = claims.sub, !sub.isEmpty else { throw .invalidIdentityToken("Missing a required claim: sub") }
        let prefix = provider.hostPath + ":"
        var conditions: [String: [String]] = [
            prefix + "sub": [sub],
            prefix + "aud": [audience],
        ]
        if !claims.amr.isEmpty { conditions[prefix + "amr"] = claims.amr }
        if let azp = claims.azp { conditions[prefix + "azp"] = [azp] }
        return VerifiedWebIdentity(issuer: iss, subject: sub, audience: audience, expires: exp, conditions: conditions)
    }
}

extension Base64URL {
    /// JWT segments: base64url, padding tolerated.
    static func decodeLenient(_ text: String) -> [UInt8]? {
        var t = text
        while t.hasSuffix("=") { t.removeLast() }
        let chars = Array(t.utf8)
        guard chars.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var acc: UInt32 = 0, bits = 0
        for c in chars {
            let v = inverse[Int(c)]
            guard v != 0xFF else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }
}
