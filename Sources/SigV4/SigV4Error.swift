/// A SigV4 refusal, worded as AWS JSON services word it, so clients (and their
/// retry/clock-skew logic, which matches on these codes and messages) react as with AWS.
/// The server answers it as HTTP 400 with body `{"__type": code, "message": message}`
/// (`Content-Type: application/x-amz-json-1.1`), as KMS does.
public struct SigV4Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The AWS error code, e.g. `InvalidSignatureException`.
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// The HTTP status AWS JSON services (KMS among them) answer these codes with.
    public var httpStatus: Int { 400 }

    public enum Code {
        public static let missingAuthenticationToken = "MissingAuthenticationTokenException"
        public static let incompleteSignature = "IncompleteSignatureException"
        public static let invalidSignature = "InvalidSignatureException"
    }
}

extension SigV4Error {
    static let missingAuthenticationToken = SigV4Error(
        code: Code.missingAuthenticationToken, message: "Missing Authentication Token")

    static let signatureMismatch = SigV4Error(
        code: Code.invalidSignature,
        message: "The request signature we calculated does not match the signature you provided. "
            + "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")

    static let hostNotSigned = SigV4Error(
        code: Code.invalidSignature,
        message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")

    static let contentSHA256Mismatch = SigV4Error(
        code: Code.invalidSignature,
        message: "The provided 'x-amz-content-sha256' header does not match what was computed.")

    static let unsignedPayloadRefused = SigV4Error(
        code: Code.invalidSignature,
        message: "The provided 'x-amz-content-sha256' header must be the payload's SHA-256; UNSIGNED-PAYLOAD is not accepted.")

    /// AWS requires host, content-type and every x-amz-* header of a request to be signed
    /// ("Create a canonical request" in the SigV4 guide); worded like AWS's refusal of an unsigned Host.
    static func headerNotSigned(_ lowercasedName: String) -> SigV4Error {
        invalid("'\(lowercasedName)' must be a 'SignedHeader' in the AWS Authorization.")
    }

    /// A signed header (or Authorization) sent more than once: which copy the signature covers,
    /// and which one the service reads, would be open to interpretation.
    static func repeatedHeader(_ lowercasedName: String) -> SigV4Error {
        invalid("The request has more than one '\(lowercasedName)' header.")
    }

    static let signedHeadersNotSorted = incomplete(
        "The SignedHeaders list must name each header once, in lower case, sorted by name.")

    static let tooManySignedHeaders = incomplete(
        "The SignedHeaders list names more than \(SigV4Authorization.maxSignedHeaders) headers.")

    static let canonicalRequestTooLarge = invalid(
        "The canonical request would exceed \(SigV4Verifier.maxCanonicalRequestBytes) bytes.")

    /// What AWS answers for a credential scope whose region it does not serve.
    static func invalidRegion(_ region: String) -> SigV4Error {
        invalid("Credential should be scoped to a valid region, not '\(region)'. ")
    }

    static func incomplete(_ message: String) -> SigV4Error {
        SigV4Error(code: Code.incompleteSignature, message: message)
    }

    static func invalid(_ message: String) -> SigV4Error {
        SigV4Error(code: Code.invalidSignature, message: message)
    }
}
