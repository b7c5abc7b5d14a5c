import Foundation
import KMSCore
import SigV4

/// The authentication stage: SigV4 for real, or the dev mode's trust-anything.
struct Authenticator: Sendable {
    /// UNSIGNED-PAYLOAD refused (the verifier's default): a KMS body is always signed.
    let verifier = SigV4Verifier(allowedClockSkew: 300, service: "kms", allowUnsignedPayload: false)
    /// CloudTrail's LookupEvents is served on the same endpoint, signed for `cloudtrail`.
    let cloudTrailVerifier = SigV4Verifier(allowedClockSkew: 300, service: "cloudtrail", allowUnsignedPayload: false)
    let credentials: CredentialRegistry
    let dev: Bool
    let devAccount: String
    /// IAM users' access keys (issue 9); nil when the server has no identity store.
    var identities: IdentityRegistry? = nil

    func authenticate(_ request: HTTPRequestMessage, sourceIP: String, cloudTrail: Bool = false) throws(KMSError) -> Caller {
        try authenticate(request, sourceIP: sourceIP, verifier: cloudTrail ? cloudTrailVerifier : self.verifier)
    }

    /// Authentication with a given service's verifier (KMS, CloudTrail, IAM, STS).
    func authenticate(_ request: HTTPRequestMessage, sourceIP: String, verifier: SigV4Verifier) throws(KMSError) -> Caller {
        let headers = request.headers
        let auth: SigV4Authorization
        do {
            auth = try verifier.parseAuthorization(headers: headers)
        } catch {
            throw Self.map(error)
        }
        let userAgent = request.userAgent ?? ""
        if dev {
            // No signature check in dev mode, but the region still goes into every ARN.
            do { try verifier.checkRegion(auth) } catch { throw Self.map(error) }
            let id = auth.accessKeyId
            let account = id.utf8.count == 12 && id.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) ? id : devAccount
            return Caller(account: account, region: auth.region, accessKeyId: id, sourceIP: sourceIP, userAgent: userAgent)
        }
        guard let credential = credentials.byAccessKey[auth.accessKeyId] else {
            // Not an account root: an IAM user's active access key, or refused.
            guard let identities, let user = identities.credential(accessKeyId: auth.accessKeyId) else {
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

    static func map(_ error: SigV4Error) -> KMSError {
        KMSError(KMSError.Code(rawValue: error.code) ?? .invalidSignature, error.message)
    }
}
