/// An STS error as the query protocol answers it: `<Error><Type>Sender</Type><Code>...` with
/// the code, HTTP status and message AWS STS uses (codes from botocore's sts model).
public struct STSError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    public let message: String
    public let httpStatus: Int

    public init(_ code: String, _ message: String, status: Int = 400) {
        self.code = code
        self.message = message
        self.httpStatus = status
    }

    public var description: String { "\(code): \(message)" }

    public static func accessDenied(_ message: String) -> STSError { STSError("AccessDenied", message, status: 403) }
    public static func validation(_ message: String) -> STSError { STSError("ValidationError", message) }
    public static func invalidIdentityToken(_ message: String) -> STSError { STSError("InvalidIdentityToken", message) }
    public static func malformedPolicy(_ message: String) -> STSError { STSError("MalformedPolicyDocument", message) }

    /// "User: ARN is not authorized to perform: ACTION on resource: RESOURCE", as STS words it.
    public static func notAuthorized(_ principalArn: String, _ action: String, _ resource: String) -> STSError {
        accessDenied("User: \(principalArn) is not authorized to perform: \(action) on resource: \(resource)")
    }

    /// A web identity token past its `exp`, worded as AWS STS words it (times in seconds since the epoch).
    public static func tokenExpired(now: Double, exp: Double) -> STSError {
        STSError("ExpiredTokenException",
                 "Token expired: current date/time \(Int64(now)) must be before the expiration date/time \(Int64(exp))")
    }

    public static let incorrectAudience = invalidIdentityToken("Incorrect token audience")
    public static let invalidJWT = invalidIdentityToken(
        "The web identity token that was passed could not be validated by Amazon Web Services. "
        + "Get a new identity token from the identity provider and then retry the request.")
    public static let noVerificationKey = invalidIdentityToken(
        "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity "
        + "documentation for requirements")
}
