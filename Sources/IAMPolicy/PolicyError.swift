/// A policy document AWS would refuse: the wiring turns it into
/// MalformedPolicyDocumentException (or LimitExceededException for `tooLarge`).
public struct PolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case malformed, tooLarge }
    public let kind: Kind
    public let message: String

    init(_ message: String, kind: Kind = .malformed) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Bounds on the work one document may cause when compiled and evaluated.
public struct PolicyLimits: Sendable {
    /// AWS KMS: "the maximum length of a key policy document is 32 KB (32,768 bytes)".
    public var maxDocumentBytes: Int
    public var maxStatements: Int
    /// Values in one Principal/Action/Resource element or under one condition key.
    public var maxValuesPerElement: Int

    public init(maxDocumentBytes: Int = 32_768, maxStatements: Int = 1_024, maxValuesPerElement: Int = 1_024) {
        self.maxDocumentBytes = maxDocumentBytes
        self.maxStatements = maxStatements
        self.maxValuesPerElement = maxValuesPerElement
    }

    public static let keyPolicy = PolicyLimits()
    /// IAM managed policies may be up to 6,144 characters; inline and session policies are
    /// smaller. A single generous cap keeps the parser bounded for all of them.
    public static let identityPolicy = PolicyLimits(maxDocumentBytes: 10_240)
}
