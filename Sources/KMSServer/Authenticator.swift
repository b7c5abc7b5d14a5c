import Foundation
import KMSCore
import SigV4
import STS

/// The authentication stage: SigV4 for real, or the dev mode's trust-anything.
struct Authenticator: Sendable {
    /// UNSIGNED-PAYLOAD refused (the verifier's default): a KMS body is always signed.
    var verifier = SigV4Verifier(allowedClockSkew: 300, service: "kms", allowUnsignedPayload: false)
    /// CloudTrail's LookupEvents is served on the same endpoint, signed for `cloudtrail`.
    var cloudTrailVerifier = SigV4Verifier(allowedClockSkew: 300, service: "cloudtrail", allowUnsignedPayload: false)
    let credentials: CredentialRegistry
    let dev: Bool
    let devAccount: String
    /// IAM users' access keys (issue 9); nil when the server has no identity store.
    var identities: IdentityRegistry? = nil
    /// Temporary credentials (STS session tokens); nil refuses every session token.
    var sessions: SessionCredentialVerifier? = nil
    /// A cluster node's confirmation that its grants and identities are current; nil on a
    /// single node. Past its bound (a store outage) every request is refused: fail closed.
    var freshness: StoreFreshness? = nil
    /// `--trusted-service`: who may act as which service (kms:ViaService); empty trusts none.
    var trustedServices = TrustedServices()

    func authenticate(_ request: HTTPRequestMessage, sourceIP: String, cloudTrail: Bool = false,
                      connection: ConnectionSession? = nil) throws(KMSError) -> Caller {
        try authenticate(request, sourceIP: sourceIP, verifier: cloudTrail ? cloudTrailVerifier : self.verifier,
                         connection: connection)
    }

    /// Authentication with a given service's verifier (KMS, CloudTrail, IAM, STS). A request
    /// a trusted service forwarded (X-Kms-Via-Service...) is its signer acting through that
    /// service once the countersignature checks (TrustedServices.swift); the framer's flag
    /// makes that one Bool test for every other request.
    /// `connection`: the keep-alive connection's last verified session (ConnectionSession), if any.
    func authenticate(_ request: HTTPRequestMessage, sourceIP: String, verifier: SigV4Verifier,
                      connection: ConnectionSession? = nil) throws(KMSError) -> Caller {
        let caller = try authenticateSigner(request, sourceIP: sourceIP, verifier: verifier, connection: connection)
        guard request.viaServiceHeaders else { return caller }
        return try actingThroughService(request, user: caller, verifier: verifier)
    }

    /// The principal whose credentials signed the request.
    func authenticateSigner(_ request: HTTPRequestMessage, sourceIP: String, verifier: SigV4Verifier,
                            connection: ConnectionSession? = nil) throws(KMSError) -> Caller {
        let headers = request.headers
        let auth: SigV4Authorization
        do {
            auth = try verifier.parseAuthorization(headers: headers)
        } catch {
            throw Self.map(error)
        }
        // Grants, identities and credentials held in memory may be stale: refuse, as AWS words an internal error.
        if let freshness { try freshness.check() }
        let userAgent = request.userAgent ?? ""
        if dev {
            // No signature check in dev mode, but the region still goes into every ARN.
            do { try verifier.checkRegion(auth) } catch { throw Self.map(error) }
            let id = auth.accessKeyId
            let account = id.utf8.count == 12 && id.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) ? id : devAccount
            return Caller(account: account, region: auth.region, accessKeyId: id, sourceIP: sourceIP, userAgent: userAgent)
        }
        if let token = auth.securityToken {
            return try authenticateSession(request, auth, token: token, verifier: verifier, sourceIP: sourceIP, userAgent: userAgent,
                                           connection: connection)
        }
        guard let credential = credentials.credential(accessKeyId: auth.accessKeyId) else {
            // Not an account root: an IAM user's active access key, or refused.
            // A cluster node reads a key it does not hold from the store (read-your-writes).
            guard let identities, let user = try identities.credentialReadingThrough(accessKeyId: auth.accessKeyId) else {
                throw KMSError(.unrecognizedClient, "The security token included in the request is invalid.")
            }
            do {
                try verifier.verify(method: request.method, uri: request.uri, headers: headers, body: request.body,
                                    authorization: auth, secretAccessKey: user.secretAccessKey)
            } catch {
                throw Self.map(error)
            }
            identities.recordUse(accessKeyId: auth.accessKeyId, service: verifier.service, region: auth.region)
            return Caller(account: user.account, region: auth.region, accessKeyId: auth.accessKeyId,
                          principalArn: user.principal.arn, sourceIP: sourceIP, userAgent: userAgent,
                          principal: user.principal, identityPolicies: user.identityPolicies)
        }
        do {
            try verifier.verify(method: request.method, uri: request.uri, headers: headers, body: request.body,
                                authorization: auth, secretAccessKey: credential.secretAccessKey)
        } catch {
            throw Self.map(error)
        }
        return Caller(account: credential.account, region: auth.region, accessKeyId: auth.accessKeyId,
                      principalArn: credential.principalArn, sourceIP: sourceIP, userAgent: userAgent)
    }

    /// A request signed with temporary credentials: the token must open, belong to the
    /// access key ID and be unexpired before the signature is checked with its secret.
    func authenticateSession(_ request: HTTPRequestMessage, _ auth: SigV4Authorization, token: String,
                             verifier: SigV4Verifier, sourceIP: String, userAgent: String,
                             connection: ConnectionSession? = nil) throws(KMSError) -> Caller {
        // The token must be covered by the signature (as every x-amz-* header): refused as
        // the verifier refuses any unsigned x-amz-* header, before the token is looked at.
        guard auth.signedHeaders.contains("x-amz-security-token") else {
            throw KMSError(.invalidSignature, "'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization.")
        }
        guard let sessions else { throw KMSError(.unrecognizedClient, SessionTokenError.invalidMessage) }
        // The connection's last session, if this request carries the same key and token
        // (constant time) and it is unexpired: no shared lock or reference count is touched.
        if let connection, connection.matches(token: token, accessKeyId: auth.accessKeyId, now: sessions.clock.now()) {
            do {
                try verifier.verify(method: request.method, uri: request.uri, headers: request.headers, body: request.body,
                                    authorization: auth, secretAccessKey: connection.secretAccessKey)
            } catch {
                throw Self.map(error)
            }
            if verifier.service == "sts", let verified = connection.verified { sessions.remember(verified.session) }
            return connection.caller(sessions: sessions, region: auth.region, sourceIP: sourceIP, userAgent: userAgent)
        }
        let verified: VerifiedSession
        do {
            verified = try sessions.verify(token: token, accessKeyId: auth.accessKeyId)
        } catch {
            switch error {
            case .invalid: throw KMSError(.unrecognizedClient, SessionTokenError.invalidMessage)
            case .expired: throw KMSError(.expiredToken, SessionTokenError.expiredMessage)
            }
        }
        do {
            try verifier.verify(method: request.method, uri: request.uri, headers: request.headers, body: request.body,
                                authorization: auth, secretAccessKey: verified.session.secretAccessKey)
        } catch {
            throw Self.map(error)
        }
        if verifier.service == "sts" { sessions.remember(verified.session) }
        if let connection {
            return connection.remember(verified, token: token, accessKeyId: auth.accessKeyId, sessions: sessions,
                                       region: auth.region, sourceIP: sourceIP, userAgent: userAgent)
        }
        return sessions.caller(verified, region: auth.region, accessKeyId: auth.accessKeyId, sourceIP: sourceIP,
                               userAgent: userAgent)
    }

    static func map(_ error: SigV4Error) -> KMSError {
        KMSError(KMSError.Code(rawValue: error.code) ?? .invalidSignature, error.message)
    }
}
