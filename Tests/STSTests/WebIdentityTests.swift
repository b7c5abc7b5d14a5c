import Crypto
import CryptoExtras
import Foundation
import IAMPolicy
import JWTKit
import Testing
@testable import STS

/// Arbitrary claims, signed by jwt-kit in the tests; verified by WebIdentityVerifier.
struct TestClaims: JWTPayload {
    var iss: String?
    var sub: String?
    var aud: [String]?
    var exp: Double?
    var nbf: Double?
    var amr: [String]?
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// An OIDC issuer with an RSA and an EC P-256 key, and its JWKS.
struct TestIssuer {
    let rsa: JWTKit.Insecure.RSA.PrivateKey
    let ec: ES256PrivateKey
    let signers: JWTKeyCollection
    let jwks: String

    static func make() async throws -> TestIssuer {
        let rsa = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        let ec = ES256PrivateKey()
        let signers = JWTKeyCollection()
        await signers.add(rsa: rsa, digestAlgorithm: .sha256, kid: "rsa1")
        await signers.add(ecdsa: ec, kid: "ec1")
        let (n, e) = try rsa.publicKey.getKeyPrimitives()
        let x963 = ec.publicKey.parameters.map { ($0.x, $0.y) }
        let (x, y) = try #require(x963)
        let jwks = """
            {"keys":[{"kty":"RSA","kid":"rsa1","alg":"RS256","use":"sig","n":"\(Base64URL.encode(Array(n)))","e":"\(Base64URL.encode(Array(e)))"},
            {"kty":"EC","kid":"ec1","alg":"ES256","crv":"P-256","x":"\(x)","y":"\(y)"}]}
            """
        return TestIssuer(rsa: rsa, ec: ec, signers: signers, jwks: jwks)
    }

    func sign(_ claims: TestClaims, kid: String) async throws -> String {
        try await signers.sign(claims, kid: JWKIdentifier(string: kid))
    }
}

@Suite struct WebIdentityTests {
    static let now: Double = 1_700_000_000
    static func provider(_ jwks: String) -> OIDCProviderConfig {
        OIDCProviderConfig(arn: "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/tenant",
                           url: "https://oidc.example.com/tenant", clientIds: ["sts.amazonaws.com", "app-2"], jwks: jwks)
    }

    func claims(aud: [String] = ["sts.amazonaws.com"], exp: Double = now + 600, nbf: Double? = now - 10,
                iss: String = "https://oidc.example.com/tenant") -> TestClaims {
        TestClaims(iss: iss, sub: "system:serviceaccount:ns:app", aud: aud, exp: exp, nbf: nbf, amr: ["pwd", "mfa"])
    }

    @Test func rs256AndES256Verify() async throws {
        let issuer = try await TestIssuer.make()
        let verifier = WebIdentityVerifier()
        for kid in ["rsa1", "ec1"] {
            let token = try await issuer.sign(claims(), kid: kid)
            let id = try await verifier.verify(token, provider: Self.provider(issuer.jwks), now: Self.now)
            #expect(id.subject == "system:serviceaccount:ns:app")
            #expect(id.audience == "sts.amazonaws.com")
            #expect(id.conditions["oidc.example.com/tenant:sub"] == ["system:serviceaccount:ns:app"])
            #expect(id.conditions["oidc.example.com/tenant:amr"] == ["pwd", "mfa"])
        }
    }

    func refusal(_ token: String, _ jwks: String, now: Double = now) async -> STSError? {
        do {
            _ = try await WebIdentityVerifier().verify(token, provider: Self.provider(jwks), now: now)
            return nil
        } catch {
            return error
        }
    }

    @Test func claimsAreChecked() async throws {
        let issuer = try await TestIssuer.make()
        let wrongAud = try await issuer.sign(claims(aud: ["someone-else"]), kid: "ec1")
        #expect(await refusal(wrongAud, issuer.jwks) == .incorrectAudience)
        let noAud = try await issuer.sign(claims(aud: []), kid: "ec1")
        #expect(await refusal(noAud, issuer.jwks)?.code == "InvalidIdentityToken")
        let expired = try await issuer.sign(claims(exp: Self.now - 1), kid: "rsa1")
        let e = await refusal(expired, issuer.jwks)
        #expect(e?.code == "ExpiredTokenException")
        #expect(e?.message.hasPrefix("Token expired: current date/time") == true)
        // The same token is fine at an earlier clock: expiry follows the injected clock.
        #expect(await refusal(expired, issuer.jwks, now: Self.now - 100) == nil)
        let notYet = try await issuer.sign(claims(nbf: Self.now + 3600), kid: "rsa1")
        #expect(await refusal(notYet, issuer.jwks)?.code == "InvalidIdentityToken")
        let otherIssuer = try await issuer.sign(claims(iss: "https://evil.example.com/tenant"), kid: "rsa1")
        #expect(await refusal(otherIssuer, issuer.jwks)?.code == "InvalidIdentityToken")
    }

    @Test func signaturesAreChecked() async throws {
        let issuer = try await TestIssuer.make()
        let stranger = try await TestIssuer.make()
        // Signed by another key under the same kid: refused.
        let forged = try await stranger.sign(claims(), kid: "rsa1")
        #expect(await refusal(forged, issuer.jwks) == .invalidJWT)
        // Every character of a valid token's signature and payload, changed: refused.
        let token = try await issuer.sign(claims(), kid: "ec1")
        var chars = Array(token.utf8)
        let firstDot = chars.firstIndex(of: UInt8(ascii: "."))!
        for i in (firstDot + 1)..<chars.count where chars[i] != UInt8(ascii: ".") {
            let saved = chars[i]
            chars[i] = saved == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            #expect(await refusal(String(decoding: chars, as: UTF8.self), issuer.jwks) != nil)
            chars[i] = saved
        }
        // alg "none": refused.
        let header = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let body = Base64URL.encode(Array(#"{"iss":"https://oidc.example.com/tenant","sub":"x","aud":"sts.amazonaws.com","exp":1800000000}"#.utf8))
        #expect(await refusal("\(header).\(body).", issuer.jwks) == .invalidJWT)
        // No JWKS for the provider: the verification key cannot be found.
        let noKeys = OIDCProviderConfig(arn: "a", url: "https://oidc.example.com/tenant", clientIds: ["sts.amazonaws.com"], jwks: nil)
        await #expect(throws: STSError.noVerificationKey) {
            try await WebIdentityVerifier().verify(token, provider: noKeys, now: Self.now)
        }
    }

    @Test func issuerHostPath() {
        #expect(OIDCIssuer.hostPath("https://OIDC.Example.com/Tenant/") == "oidc.example.com/Tenant")
        #expect(OIDCIssuer.hostPath("oidc.example.com") == "oidc.example.com")
    }
}

@Suite struct AssumeRoleWithWebIdentityTests {
    static let roleArn = "arn:aws:iam::111122223333:role/Pod"
    static let providerArn = "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/tenant"

    func service(_ issuer: TestIssuer, subCondition: String = "system:serviceaccount:ns:*") throws -> STSService {
        let trust = """
            {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"\(Self.providerArn)"},
             "Action":"sts:AssumeRoleWithWebIdentity","Resource":"*",
             "Condition":{"StringLike":{"oidc.example.com/tenant:sub":"\(subCondition)"},
                          "StringEquals":{"oidc.example.com/tenant:aud":"sts.amazonaws.com"}}}]}
            """
        let role = STSRole(arn: Self.roleArn, name: "Pod", roleId: "AROAPOD", account: "111122223333",
                           trustPolicy: try CompiledPolicy(trust, kind: .resourceBased), maxSessionDuration: 3600)
        let provider = OIDCProviderConfig(arn: Self.providerArn, url: "https://oidc.example.com/tenant",
                                          clientIds: ["sts.amazonaws.com"], jwks: issuer.jwks)
        return STSService(sealer: SessionTokenSealer(key: SymmetricKey(size: .bits256)),
                          directory: FakeDirectory(roles: [role.arn: role], providers: ["111122223333/oidc.example.com/tenant": provider]))
    }

    func claims(sub: String = "system:serviceaccount:ns:app") -> TestClaims {
        TestClaims(iss: "https://oidc.example.com/tenant", sub: sub, aud: ["sts.amazonaws.com"],
                   exp: WebIdentityTests.now + 600, nbf: nil, amr: nil)
    }

    @Test func trustedTokenGetsCredentials() async throws {
        let issuer = try await TestIssuer.make()
        let s = try service(issuer)
        for kid in ["rsa1", "ec1"] {
            let token = try await issuer.sign(claims(), kid: kid)
            let r = try await s.assumeRoleWithWebIdentity(
                AssumeRoleWithWebIdentityRequest(roleArn: Self.roleArn, roleSessionName: "pod-1", webIdentityToken: token),
                now: WebIdentityTests.now)
            #expect(r.arn == "arn:aws:sts::111122223333:assumed-role/Pod/pod-1")
            #expect(r.subjectFromWebIdentityToken == "system:serviceaccount:ns:app")
            #expect(r.audience == "sts.amazonaws.com")
            #expect(r.provider == "https://oidc.example.com/tenant")
            #expect(r.session.issuedFor == Self.providerArn)
        }
    }

    @Test func trustConditionsOnClaimsAreEnforced() async throws {
        let issuer = try await TestIssuer.make()
        let s = try service(issuer)
        let token = try await issuer.sign(claims(sub: "system:serviceaccount:other:app"), kid: "ec1")
        await #expect(throws: STSError.accessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity")) {
            try await s.assumeRoleWithWebIdentity(
                AssumeRoleWithWebIdentityRequest(roleArn: Self.roleArn, roleSessionName: "pod-1", webIdentityToken: token),
                now: WebIdentityTests.now)
        }
        // An issuer with no provider in the role's account.
        var c = claims()
        c.iss = "https://unknown.example.com"
        let stranger = try await issuer.sign(c, kid: "ec1")
        await #expect(throws: STSError.invalidIdentityToken("No OpenIDConnect provider found in your account for https://unknown.example.com")) {
            try await s.assumeRoleWithWebIdentity(
                AssumeRoleWithWebIdentityRequest(roleArn: Self.roleArn, roleSessionName: "pod-1", webIdentityToken: stranger),
                now: WebIdentityTests.now)
        }
        await #expect(throws: STSError.invalidJWT) {
            try await s.assumeRoleWithWebIdentity(
                AssumeRoleWithWebIdentityRequest(roleArn: Self.roleArn, roleSessionName: "pod-1", webIdentityToken: "abc.def"),
                now: WebIdentityTests.now)
        }
    }
}
