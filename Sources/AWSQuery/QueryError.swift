/// An error of a query-protocol service, answered as
/// `<ErrorResponse><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>`.
/// Codes are strings because each service has its own (NoSuchEntity, ExpiredTokenException, ...).
public struct QueryError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    public let message: String?
    public let httpStatus: Int
    /// `Sender` (the caller's fault) or `Receiver` (the server's).
    public let senderFault: Bool

    public init(_ code: String, _ message: String?, status: Int = 400, senderFault: Bool? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = status
        self.senderFault = senderFault ?? (status < 500)
    }

    /// A modeled error of `model` with its modeled HTTP status.
    public init(_ code: String, _ message: String?, model: QueryServiceModel) {
        let e = model.errors[code]
        self.init(code, message, status: e?.httpStatus ?? 400, senderFault: e?.senderFault)
    }

    public var description: String { "\(code): \(message ?? "")" }

    // Front-end errors every query service answers.
    public static func validation(_ message: String) -> QueryError { QueryError("ValidationError", message) }
    public static func invalidAction(_ action: String, version: String) -> QueryError {
        QueryError("InvalidAction", "Could not find operation \(action) for version \(version)")
    }
    public static let missingAction = QueryError("MissingAction", "Missing Action")
    public static func invalidParameterValue(_ message: String) -> QueryError { QueryError("InvalidParameterValue", message) }
    public static let internalFailure = QueryError("InternalFailure", "An internal error occurred. Try again later.", status: 500)
}
