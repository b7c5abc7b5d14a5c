import KMSCore
import SigV4

/// The identities allowed to act as an AWS service calling KMS on a user's behalf
/// (kms:ViaService, issue 10 §4): `--trusted-service NAME=IDENTITY`, where IDENTITY is an
/// access key ID (an account's root credential or an IAM user's key) or an IAM user's or
/// account root's ARN (any active key of that user: keys can rotate without a restart).
/// Only these can assert a service; the request is still authorized as the user.
public struct TrustedServices: Sendable, Equatable {
    /// Service name → the access key IDs and principal ARNs trusted to act as it.
    public private(set) var identities: [String: Set<String>] = [:]

    public init() {}

    public var isEmpty: Bool { identities.isEmpty }

    /// Adds one `NAME=ACCESS_KEY_ID` or `NAME=arn:aws:iam::ACCOUNT:user/...` setting.
    public mutating func add(_ setting: String) throws(TrustedServiceSettingError) {
        guard let eq = setting.firstIndex(of: "=") else { throw TrustedServiceSettingError(setting: setting) }
        let name = String(setting[..<eq])
        let identity = String(setting[setting.index(after: eq)...])
        guard ViaServiceSignature.isValidServiceName(name), Self.isIdentity(identity) else {
            throw TrustedServiceSettingError(setting: setting)
        }
        identities[name, default: []].insert(identity)
    }

    /// An access key ID (16-128 of [A-Z0-9]) or an IAM user/root ARN. Roles are refused: a
    /// role's temporary credentials carry a session token a countersignature cannot.
    static func isIdentity(_ s: String) -> Bool {
        if s.hasPrefix("arn:") {
            let parts = s.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
            guard parts.count == 6, parts[0] == "arn", parts[2] == "iam", parts[3].isEmpty,
                  parts[4].utf8.count == 12, parts[4].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
            return parts[5] == "root" || (parts[5].hasPrefix("user/") && parts[5].count > 5)
        }
        return (16...128).contains(s.utf8.count) && s.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    func trusts(_ name: String, accessKeyId: String, principalArn: String) -> Bool {
        guard let trusted = identities[name] else { return false }
        return trusted.contains(accessKeyId) || trusted.contains(principalArn)
    }
}

public struct TrustedServiceSettingError: Error, CustomStringConvertible, Sendable {
    public let setting: String
    public var description: String {
        "--trusted-service takes NAME=ACCESS_KEY_ID or NAME=arn:aws:iam::ACCOUNT:user/NAME "
            + "(NAME: lower-case letters, digits, '-' and '.', e.g. secretsmanager); got '\(setting)'"
    }
}

extension Authenticator {
    /// The caller of a request a trusted service forwarded: `user` (its SigV4 signature
    /// already verified) acting through the service the headers name, once the service's
    /// countersignature over the user's signature is verified (ViaServiceSignature).
    /// Fails closed: a malformed header is IncompleteSignatureException; an unknown,
    /// untrusted or wrong countersignature is AccessDeniedException, one message for all
    /// three so the answer says nothing about which access keys exist.
    func actingThroughService(_ request: HTTPRequestMessage, user: Caller, verifier: SigV4Verifier) throws(KMSError) -> Caller {
        guard verifier.service == "kms" else {
            throw KMSError(.accessDenied, "X-Kms-Via-Service is accepted only on KMS operations.")
        }
        var name: String?, authorization: String?
        for (header, value) in request.headers {
            let lower = header.lowercased()
            guard lower.hasPrefix(ViaServiceSignature.serviceHeader) else { continue }
            switch lower {
            case ViaServiceSignature.serviceHeader where name == nil: name = value
            case ViaServiceSignature.authorizationHeader where authorization == nil: authorization = value
            default:
                throw KMSError(.incompleteSignature, "The request has a repeated or unknown '\(lower.prefix(64))' header.")
            }
        }
        guard let name, let authorization else {
            throw KMSError(.incompleteSignature, "X-Kms-Via-Service and X-Kms-Via-Service-Authorization go together.")
        }
        guard ViaServiceSignature.isValidServiceName(name) else {
            throw KMSError(.incompleteSignature, "X-Kms-Via-Service must be a service name such as 'secretsmanager'.")
        }
        let via: ViaServiceSignature.Authorization
        let signed: SigV4Authorization
        do {
            via = try ViaServiceSignature.parse(authorization)
            signed = try verifier.parseAuthorization(headers: request.headers)
        } catch {
            throw Self.map(error)
        }
        let refused = KMSError(.accessDenied, "X-Kms-Via-Service-Authorization is not a valid signature of a trusted service '\(name)'.")
        // The countersigner: an account's root credential or an IAM user's active key.
        let secret: String, principalArn: String
        if let root = credentials.credential(accessKeyId: via.accessKeyId) {
            secret = root.secretAccessKey
            principalArn = root.principalArn
        } else if let identities, let user = try identities.credentialReadingThrough(accessKeyId: via.accessKeyId) {
            secret = user.secretAccessKey
            principalArn = user.principal.arn
        } else {
            throw refused
        }
        guard trustedServices.trusts(name, accessKeyId: via.accessKeyId, principalArn: principalArn) else { throw refused }
        do {
            try ViaServiceSignature.verify(via, serviceName: name, user: signed, secretAccessKey: secret, cache: verifier.cache)
        } catch {
            // A scope mismatch is malformed; a wrong MAC is the same refusal as an untrusted key.
            if error.code == SigV4Error.Code.incompleteSignature { throw Self.map(error) }
            throw refused
        }
        return user.acting(through: name)
    }
}
