/// An AWS-shaped error: the `__type` code, the message and the HTTP status AWS uses.
/// Messages never contain plaintext, ciphertext or key material.
public struct KMSError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Code
    public let message: String?

    public init(_ code: Code, _ message: String?) {
        self.code = code
        self.message = message
    }

    public var httpStatus: Int { code.httpStatus }
    public var description: String { "\(code.rawValue): \(message ?? "")" }

    /// The error codes of the KMS model plus the protocol-level ones AWS's front end answers.
    public enum Code: String, Sendable {
        case alreadyExists = "AlreadyExistsException"
        case dependencyTimeout = "DependencyTimeoutException"
        case disabled = "DisabledException"
        case dryRunOperation = "DryRunOperationException"
        case expiredImportToken = "ExpiredImportTokenException"
        case incorrectKey = "IncorrectKeyException"
        case incorrectKeyMaterial = "IncorrectKeyMaterialException"
        case invalidAliasName = "InvalidAliasNameException"
        case invalidArn = "InvalidArnException"
        case invalidCiphertext = "InvalidCiphertextException"
        case invalidGrantId = "InvalidGrantIdException"
        case invalidGrantToken = "InvalidGrantTokenException"
        case invalidImportToken = "InvalidImportTokenException"
        case invalidKeyUsage = "InvalidKeyUsageException"
        case invalidMarker = "InvalidMarkerException"
        case kmsInternal = "KMSInternalException"
        case kmsInvalidMac = "KMSInvalidMacException"
        case kmsInvalidSignature = "KMSInvalidSignatureException"
        case kmsInvalidState = "KMSInvalidStateException"
        case keyUnavailable = "KeyUnavailableException"
        case limitExceeded = "LimitExceededException"
        case malformedPolicyDocument = "MalformedPolicyDocumentException"
        case notFound = "NotFoundException"
        case notAuthorized = "NotAuthorizedException"
        case tag = "TagException"
        case unsupportedOperation = "UnsupportedOperationException"
        // Front-end errors shared by every AWS JSON service.
        case validation = "ValidationException"
        case serialization = "SerializationException"
        case unknownOperation = "UnknownOperationException"
        case accessDenied = "AccessDeniedException"
        case unrecognizedClient = "UnrecognizedClientException"
        case invalidSignature = "InvalidSignatureException"
        case incompleteSignature = "IncompleteSignatureException"
        case missingAuthenticationToken = "MissingAuthenticationTokenException"
        case requestEntityTooLarge = "RequestEntityTooLargeException"
        case throttling = "ThrottlingException"
        // A temporary credential past its expiration (STS session tokens, issue 9).
        case expiredToken = "ExpiredTokenException"
        // CloudTrail's LookupEvents (served on the same endpoint).
        case invalidLookupAttributes = "InvalidLookupAttributesException"
        case invalidTimeRange = "InvalidTimeRangeException"
        case invalidMaxResults = "InvalidMaxResultsException"
        case invalidNextToken = "InvalidNextTokenException"
        // Custom key stores (issue 14): CustomKeyStoreErrors.swift.
        case customKeyStoreNameInUse = "CustomKeyStoreNameInUseException"
        case customKeyStoreNotFound = "CustomKeyStoreNotFoundException"
        case customKeyStoreInvalidState = "CustomKeyStoreInvalidStateException"
        case customKeyStoreHasCMKs = "CustomKeyStoreHasCMKsException"
        case cloudHsmClusterNotFound = "CloudHsmClusterNotFoundException"
        case cloudHsmClusterNotActive = "CloudHsmClusterNotActiveException"
        case cloudHsmClusterInUse = "CloudHsmClusterInUseException"
        case cloudHsmClusterInvalidConfiguration = "CloudHsmClusterInvalidConfigurationException"
        case cloudHsmClusterNotRelated = "CloudHsmClusterNotRelatedException"
        case incorrectTrustAnchor = "IncorrectTrustAnchorException"
        case xksProxyUriInUse = "XksProxyUriInUseException"
        case xksProxyUriEndpointInUse = "XksProxyUriEndpointInUseException"
        case xksProxyUriUnreachable = "XksProxyUriUnreachableException"
        case xksProxyIncorrectAuthenticationCredential = "XksProxyIncorrectAuthenticationCredentialException"
        case xksProxyInvalidResponse = "XksProxyInvalidResponseException"
        case xksProxyInvalidConfiguration = "XksProxyInvalidConfigurationException"
        case xksProxyVpcEndpointServiceNotFound = "XksProxyVpcEndpointServiceNotFoundException"
        case xksKeyInvalidConfiguration = "XksKeyInvalidConfigurationException"
        case xksKeyAlreadyInUse = "XksKeyAlreadyInUseException"
        case xksKeyNotFound = "XksKeyNotFoundException"

        public var httpStatus: Int {
            switch self {
            case .kmsInternal: return 500
            case .dependencyTimeout: return 503
            case .requestEntityTooLarge: return 413
            default: return 400
            }
        }
    }

    public static let unknownOperation = KMSError(.unknownOperation, nil)
    public static let dryRun = KMSError(.dryRunOperation, "The request would have succeeded, but the DryRun option is set.")
    public static let invalidCiphertext = KMSError(.invalidCiphertext, nil)
    public static let internalError = KMSError(.kmsInternal, "An internal error occurred. Try again later.")
    /// A write kept losing to concurrent writers on other nodes: refused, retryable (SDKs retry 500s).
    public static let conflict = KMSError(.kmsInternal, "The request conflicted with a concurrent change to the same resource. Try again later.")
}
