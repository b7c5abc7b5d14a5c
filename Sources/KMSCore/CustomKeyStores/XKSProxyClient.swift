import Foundation

/// How KMS reaches an XKS proxy: one signed HTTPS POST (the server implements it with NIO,
/// tests with a fake). Synchronous: callers run off the event loops.
public protocol XKSProxyTransport: Sendable {
    /// POSTs `body` to `uriEndpoint` + `path`, SigV4-signed (service "kms-xks-proxy",
    /// `region`) with the store's credential; answers the HTTP status and body.
    func post(uriEndpoint: String, path: String, body: [UInt8], accessKeyId: String, secretAccessKey: String,
              region: String, timeout: Duration) throws(XKSTransportFailure) -> (status: Int, body: [UInt8])
}

/// Why no HTTP answer came back (the rows "cannot establish a TCP/TLS connection" and
/// "socket timeout" of the XKS API specification's error table).
public enum XKSTransportFailure: Error, Sendable, Equatable {
    case unreachable, tls, timedOut
}

/// A transport that is not configured: every call is unreachable.
public struct NoXKSTransport: XKSProxyTransport {
    public init() {}
    public func post(uriEndpoint: String, path: String, body: [UInt8], accessKeyId: String, secretAccessKey: String,
                     region: String, timeout: Duration) throws(XKSTransportFailure) -> (status: Int, body: [UInt8]) {
        throw .unreachable
    }
}

/// What went wrong talking to the proxy: a transport failure, the proxy's own errorName
/// (the specification's error table), or an answer KMS cannot interpret.
public enum XKSFailure: Error, Sendable, Equatable {
    case transport(XKSTransportFailure)
    case proxy(errorName: String)
    case malformed
    /// The external key is not usable as a KMS key (CreateKey): wrong spec, usage or status.
    case keyUnusable(String)

    /// The ConnectionErrorCode a failed connection attempt records.
    var connectionErrorCode: String {
        switch self {
        case .transport(.timedOut): "XKS_PROXY_TIMED_OUT"
        case .transport(.tls): "XKS_PROXY_INVALID_TLS_CONFIGURATION"
        case .transport(.unreachable): "XKS_PROXY_NOT_REACHABLE"
        case .proxy("AuthenticationFailedException"): "INVALID_CREDENTIALS"
        case .proxy("AccessDeniedException"): "XKS_PROXY_ACCESS_DENIED"
        case .proxy("InvalidUriPathException"): "XKS_PROXY_INVALID_CONFIGURATION"
        case .proxy("DependencyTimeoutException"), .proxy("ThrottlingException"): "XKS_PROXY_TIMED_OUT"
        default: "XKS_PROXY_INVALID_RESPONSE"
        }
    }

    /// The KMS exception message the specification assigns to each failure scenario.
    var message: String {
        switch self {
        case .transport(.unreachable):
            "AWS KMS cannot communicate with the external key store proxy. This might be a transient network issue. If you see this error repeatedly, verify that your external key store proxy is active and is connected to the network, and that its endpoint URI is correct in your external keystore."
        case .transport(.tls):
            "AWS KMS cannot establish a TLS connection to the external key store proxy. Verify the TLS configuration, including its certificate."
        case .transport(.timedOut):
            "AWS KMS rejected the request because the external key store proxy did not respond in time. Retry the request. If you see this error repeatedly, report it to your external key store proxy administrator."
        case .proxy("InvalidStateException"):
            "The external key associated with this KMS key in an external key store is not enabled in the external key manager. Enable the external key in the external key manager and retry the request."
        case .proxy("InvalidCiphertextException"):
            "The external key store proxy rejected the request because the specified ciphertext or encryption context is corrupted, missing, or otherwise invalid."
        case .proxy("InvalidKeyUsageException"):
            "The external key associated with this KMS key in an external key store does not support the requested operation. Enable the operation on the key in your external key manager, and try the request again."
        case .proxy("AuthenticationFailedException"):
            "The external key store proxy rejected the request because it could not authenticate AWS KMS. Verify the XKS proxy authentication credentials for your external key store and update if necessary."
        case .proxy("AccessDeniedException"):
            "The external key store proxy denied access to the operation. Verify that the user and the external key are both authorized for this operation, and try the request again."
        case .proxy("KeyNotFoundException"):
            "The external key associated with this KMS key in an external key store was not found in its external key manager. If the external key ID associated with this KMS key is incorrect, create a new KMS key with the correct external key ID."
        case .proxy("InvalidUriPathException"):
            "The external key store proxy rejected the request because of an invalid URI path. Verify the URI path for your external key store and update if necessary."
        case .proxy("UnsupportedOperationException"):
            "The external key store proxy rejected the request because it does not support the requested operation. If you see this error repeatedly, report it to your external key store proxy administrator."
        case .proxy("DependencyTimeoutException"):
            "The external key store proxy did not respond to the request in the time allotted. Retry the request. If you see this error repeatedly, report it to your external key store proxy administrator."
        case .proxy("ThrottlingException"):
            "The external key store proxy rejected the request due to a very high request rate. Reduce the frequency of your calls using KMS keys in this external key store."
        case .proxy("InternalException"):
            "The external key store proxy rejected the request because it cannot communicate with the external key manager. Verify that the external key store proxy configuration is correct and that the external key manager is available."
        case .keyUnusable(let why): why
        default:
            "AWS KMS cannot interpret the response from the external key store proxy. If you see this error repeatedly, report it to your external key store proxy administrator."
        }
    }

    /// The exception for CreateCustomKeyStore and UpdateCustomKeyStore (their health check).
    var keyStoreError: KMSError {
        let code: KMSError.Code = switch self {
        case .transport, .proxy("DependencyTimeoutException"), .proxy("ThrottlingException"): .xksProxyUriUnreachable
        case .proxy("AuthenticationFailedException"): .xksProxyIncorrectAuthenticationCredential
        case .proxy("InvalidUriPathException"): .xksProxyInvalidConfiguration
        default: .xksProxyInvalidResponse
        }
        return KMSError(code, message)
    }

    /// The exception for CreateKey (its GetKeyMetadata call).
    var createKeyError: KMSError {
        switch self {
        case .proxy("InvalidStateException"), .proxy("InvalidKeyUsageException"), .keyUnusable: KMSError(.xksKeyInvalidConfiguration, message)
        case .proxy("KeyNotFoundException"): KMSError(.xksKeyNotFound, message)
        case .proxy("AccessDeniedException"): KMSError(.kmsInvalidState, message)
        default: KMSError(.customKeyStoreInvalidState, message)
        }
    }

    /// Cryptographic operations answer KMSInvalidStateException whatever the cause.
    var cryptoError: KMSError { KMSError(.kmsInvalidState, message) }
}

/// The requestMetadata every XKS API call carries (specification, Appendix B).
public struct XKSRequestMetadata: Sendable {
    public var awsPrincipalArn: String
    public var kmsKeyArn: String?
    public var kmsOperation: String
    public var kmsRequestId: String

    var json: JSONValue {
        var m = JSONObject()
        m["awsPrincipalArn"] = .string(awsPrincipalArn)
        if let kmsKeyArn { m["kmsKeyArn"] = .string(kmsKeyArn) }
        m["kmsOperation"] = .string(kmsOperation)
        m["kmsRequestId"] = .string(kmsRequestId)
        return .object(m)
    }
}

/// AES-GCM output of the proxy's Encrypt (specification, "Encrypt", response payload).
public struct XKSCiphertextParts: Sendable, Equatable {
    public var ciphertext: [UInt8]
    public var metadata: [UInt8]
    public var iv: [UInt8]
    public var tag: [UInt8]
}

/// The four XKS proxy APIs over a transport, with the specification's checks on answers.
public struct XKSProxyClient: Sendable {
    public let transport: any XKSProxyTransport
    /// AWS: "If KMS does not receive a response from the XKS proxy for any API call within
    /// 250ms, KMS will time out" (specification, KMS considerations).
    public let timeout: Duration

    public init(transport: any XKSProxyTransport, timeout: Duration = .milliseconds(250)) {
        self.transport = transport
        self.timeout = timeout
    }

    func call(_ store: CustomKeyStore, _ suffix: String, _ body: JSONObject) throws(XKSFailure) -> JSONObject {
        guard let xks = store.xks else { throw .malformed }
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try transport.post(uriEndpoint: xks.uriEndpoint, path: xks.uriPath + suffix, body: JSONWriter.bytes(.object(body)),
                                        accessKeyId: xks.accessKeyId, secretAccessKey: store.secret, region: store.region,
                                        timeout: timeout)
        } catch {
            throw .transport(error)
        }
        let parsed = try? JSONParser.parse(answer.body).objectValue
        guard answer.status == 200 else {
            if let name = parsed?["errorName"]?.stringValue { throw .proxy(errorName: name) }
            throw .malformed
        }
        guard let parsed else { throw .malformed }
        return parsed
    }

    public func health(_ store: CustomKeyStore, operation: String, requestId: String) throws(XKSFailure) {
        let metadata = JSONObject([("kmsRequestId", .string(requestId)), ("kmsOperation", .string(operation))])
        let answer = try call(store, "/health", JSONObject([("requestMetadata", .object(metadata))]))
        guard answer["xksProxyFleetSize"]?.intValue != nil, answer["ekmFleetDetails"]?.arrayValue != nil else { throw .malformed }
    }

    /// GetKeyMetadata, checked as CreateKey checks it: AES_256, ENCRYPT and DECRYPT, ENABLED.
    public func requireUsableKey(_ store: CustomKeyStore, xksKeyId: String, metadata: XKSRequestMetadata) throws(XKSFailure) {
        let answer = try call(store, "/keys/\(xksKeyId)/metadata", JSONObject([("requestMetadata", metadata.json)]))
        guard let spec = answer["keySpec"]?.stringValue, let usage = answer["keyUsage"]?.arrayValue?.compactMap(\.stringValue),
              let status = answer["keyStatus"]?.stringValue else { throw .malformed }
        guard spec == "AES_256" else { throw .keyUnusable("The external key \(xksKeyId) has key spec \(spec); AWS KMS requires AES_256.") }
        guard usage.contains("ENCRYPT"), usage.contains("DECRYPT") else {
            throw .keyUnusable("The external key \(xksKeyId) does not support both ENCRYPT and DECRYPT.")
        }
        guard status == "ENABLED" else { throw .keyUnusable("The external key \(xksKeyId) is not enabled in the external key manager.") }
    }

    public func encrypt(_ store: CustomKeyStore, xksKeyId: String, plaintext: [UInt8], aad: [UInt8],
                        metadata: XKSRequestMetadata) throws(XKSFailure) -> XKSCiphertextParts {
        let body = JSONObject([
            ("requestMetadata", metadata.json),
            ("additionalAuthenticatedData", .string(Base64.encode(aad))),
            ("plaintext", .string(Base64.encode(plaintext))),
            ("encryptionAlgorithm", .string("AES_GCM")),
        ])
        let answer = try call(store, "/keys/\(xksKeyId)/encrypt", body)
        guard let ciphertext = answer["ciphertext"]?.stringValue.flatMap(Base64.decode), ciphertext.count == plaintext.count,
              let iv = answer["initializationVector"]?.stringValue.flatMap(Base64.decode), iv.count == 12 || iv.count == 16,
              let tag = answer["authenticationTag"]?.stringValue.flatMap(Base64.decode), tag.count == 16 else { throw .malformed }
        var meta: [UInt8] = []
        if let given = answer["ciphertextMetadata"]?.stringValue {
            guard let decoded = Base64.decode(given), decoded.count <= 20 else { throw .malformed }
            meta = decoded
        }
        return XKSCiphertextParts(ciphertext: ciphertext, metadata: meta, iv: iv, tag: tag)
    }

    public func decrypt(_ store: CustomKeyStore, xksKeyId: String, parts: XKSCiphertextParts, aad: [UInt8],
                        metadata: XKSRequestMetadata) throws(XKSFailure) -> [UInt8] {
        var body = JSONObject([
            ("requestMetadata", metadata.json),
            ("ciphertext", .string(Base64.encode(parts.ciphertext))),
            ("encryptionAlgorithm", .string("AES_GCM")),
            ("additionalAuthenticatedData", .string(Base64.encode(aad))),
            ("authenticationTag", .string(Base64.encode(parts.tag))),
            ("initializationVector", .string(Base64.encode(parts.iv))),
        ])
        if !parts.metadata.isEmpty { body["ciphertextMetadata"] = .string(Base64.encode(parts.metadata)) }
        let answer = try call(store, "/keys/\(xksKeyId)/decrypt", body)
        guard let plaintext = answer["plaintext"]?.stringValue.flatMap(Base64.decode), plaintext.count == parts.ciphertext.count else {
            throw .malformed
        }
        return plaintext
    }
}
