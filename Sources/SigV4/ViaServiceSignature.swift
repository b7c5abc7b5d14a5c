/// The trusted-service countersignature (kms:ViaService): a service forwarding a user's
/// SigV4-signed request adds
///
///     X-Kms-Via-Service: secretsmanager
///     X-Kms-Via-Service-Authorization: KMS-VIA-SERVICE-HMAC-SHA256
///         Credential=<service access key>/<yyyyMMdd>/<region>/kms/aws4_request, Signature=<64 hex>
///
/// The signature is HMAC-SHA256, under the service's own SigV4 signing key for that scope,
/// over
///
///     KMS-VIA-SERVICE-HMAC-SHA256 \n <X-Amz-Date of the request> \n <scope> \n
///     <service name> \n <the user's SigV4 signature, hex>
///
/// The user's signature covers the request's method, path, headers, body and time, so the
/// countersignature cannot be moved to another request; the distinct algorithm line keeps
/// it from ever being a valid SigV4 string to sign (and the reverse).
public enum ViaServiceSignature {
    public static let algorithm = "KMS-VIA-SERVICE-HMAC-SHA256"
    /// Header names, lower-case.
    public static let serviceHeader = "x-kms-via-service"
    public static let authorizationHeader = "x-kms-via-service-authorization"

    /// What X-Kms-Via-Service-Authorization says; parsing needs no secret.
    public struct Authorization: Sendable, Equatable {
        public let accessKeyId: String
        public let date: String
        public let region: String
        public let service: String
        public let signature: String
    }

    /// A service name as configured and as sent: 1-64 of [a-z0-9-.], starting with a letter
    /// or digit (it becomes part of "NAME.REGION.amazonaws.com").
    public static func isValidServiceName(_ name: String) -> Bool {
        let b = Array(name.utf8)
        guard (1...64).contains(b.count), b[0] != UInt8(ascii: "-"), b[0] != UInt8(ascii: ".") else { return false }
        return b.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }
    }

    /// Parses `KMS-VIA-SERVICE-HMAC-SHA256 Credential=AKID/DATE/REGION/kms/aws4_request, Signature=HEX`.
    /// Anything else: IncompleteSignatureException.
    public static func parse(_ header: String) throws(SigV4Error) -> Authorization {
        let malformed = SigV4Error.incomplete(
            "X-Kms-Via-Service-Authorization must be '\(algorithm) Credential=ACCESS_KEY_ID/DATE/REGION/kms/aws4_request, Signature=HEX'.")
        guard header.utf8.count <= 1024 else { throw malformed }
        let prefix = algorithm + " "
        guard header.hasPrefix(prefix) else { throw malformed }
        var credential: Substring?, signature: Substring?
        for part in header.dropFirst(prefix.count).split(separator: ",") {
            let field = part.drop(while: { $0 == " " })
            guard let eq = field.firstIndex(of: "=") else { throw malformed }
            let value = field[field.index(after: eq)...]
            switch field[..<eq] {
            case "Credential" where credential == nil: credential = value
            case "Signature" where signature == nil: signature = value
            default: throw malformed
            }
        }
        guard let credential, let signature, signature.utf8.count == 64,
              signature.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { throw malformed }
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard scope.count == 5, !scope[0].isEmpty, scope[1].utf8.count == 8, scope[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              !scope[2].isEmpty, scope[3] == "kms", scope[4] == "aws4_request" else { throw malformed }
        return Authorization(accessKeyId: String(scope[0]), date: String(scope[1]), region: String(scope[2]),
                             service: String(scope[3]), signature: String(signature))
    }

    static func stringToSign(requestDate: String, date: String, region: String, serviceName: String,
                             userSignature: String) -> [UInt8] {
        Array("\(algorithm)\n\(requestDate)\n\(date)/\(region)/kms/aws4_request\n\(serviceName)\n\(userSignature)".utf8)
    }

    /// Checks the countersignature against the (already verified) user request `user`:
    /// same scope date and region, and the HMAC, compared in constant time.
    public static func verify(_ via: Authorization, serviceName: String, user: SigV4Authorization,
                              secretAccessKey: String, cache: SigningKeyCache = .shared) throws(SigV4Error) {
        guard via.date == user.date, via.region == user.region else {
            throw .incomplete("X-Kms-Via-Service-Authorization must be scoped to the request's credential scope: "
                              + "\(user.date)/\(user.region)/kms/aws4_request.")
        }
        let message = stringToSign(requestDate: user.requestDate, date: via.date, region: via.region,
                                   serviceName: serviceName, userSignature: user.signature)
        let mac = cache.entry(secretAccessKey: secretAccessKey, date: via.date, region: via.region, service: "kms").mac
        let matches = mac.authenticationCode(for: message).withUnsafeBytes { ASCII.constantTimeHexEquals($0, via.signature) }
        guard matches else {
            throw .invalid("The via-service signature we calculated does not match the signature you provided.")
        }
    }

    /// The header value a trusted service sends (tests, and Swift clients acting as a service).
    public static func sign(serviceName: String, user: SigV4Authorization, accessKeyId: String,
                            secretAccessKey: String, cache: SigningKeyCache = .shared) -> String {
        let message = stringToSign(requestDate: user.requestDate, date: user.date, region: user.region,
                                   serviceName: serviceName, userSignature: user.signature)
        let mac = cache.entry(secretAccessKey: secretAccessKey, date: user.date, region: user.region, service: "kms").mac
        let signature = mac.authenticationCode(for: message).withUnsafeBytes { ASCII.hex($0) }
        return "\(algorithm) Credential=\(accessKeyId)/\(user.date)/\(user.region)/kms/aws4_request, Signature=\(signature)"
    }
}
