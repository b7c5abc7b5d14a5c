import Crypto
import Foundation
import KMSCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SigV4

/// `kms xks-proxy`: the XKS proxy API (AWS's External Key Store Proxy API Specification v1:
/// GetKeyMetadata, Encrypt, Decrypt, GetHealthStatus) over HTTPS, backed by the AES-256
/// keys of an `XKSProxyKeyFile`. Requests are SigV4-verified (service "kms-xks-proxy") with
/// the configured credentials; a key's allow-list is checked against
/// requestMetadata.kmsKeyArn; every request leaves one JSON line in the audit log, never
/// with plaintext or key material.
public struct XKSProxyConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8443
    public var uriPathPrefix = "/kms/xks/v1"
    /// Access key ID → secret access key; two allow rotation without downtime (spec, "SigV4 credentials rotation").
    public var credentials: [String: String] = [:]
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Mutual TLS: client certificates must chain to these CAs.
    public var clientCAFile: String?
    public var dataDirectory: String
    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }
}

public final class XKSProxyServer: Sendable {
    let configuration: XKSProxyConfiguration
    let keys: XKSProxyKeyFile
    let audit: XKSProxyAuditLog
    let verifier = SigV4Verifier(service: "kms-xks-proxy")

    public init(configuration: XKSProxyConfiguration) throws {
        self.configuration = configuration
        keys = try XKSProxyKeyFile(directory: configuration.dataDirectory)
        _ = try keys.keys()  // a malformed keys file fails the start
        audit = try XKSProxyAuditLog(path: configuration.dataDirectory + "/xks-audit.log")
    }

    /// Binds and serves until the process ends; answers the bound port once listening.
    public func run(onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        guard let cert = configuration.tlsCertificate, let key = configuration.tlsKey else {
            throw TLSSetupError("kms xks-proxy needs --tls-cert and --tls-key: the XKS API is HTTPS only")
        }
        let chain = try NIOSSLCertificate.fromPEMFile(cert)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                           privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        tls.minimumTLSVersion = .tlsv12
        if let ca = configuration.clientCAFile {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .file(ca)
        }
        let context = try NIOSSLContext(configuration: tls)
        let server = self
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(XKSProxyHandler(server: server))
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        onListening(channel.localAddress?.port ?? configuration.port)
        try await channel.closeFuture.get()
    }

    /// One XKS API error: its HTTP status and errorName (spec, "Error codes").
    struct Failure: Error {
        let status: Int
        let name: String
        let message: String
        static func validation(_ m: String) -> Failure { Failure(status: 400, name: "ValidationException", message: m) }
    }

    /// Answers one request: (status, JSON body) and the audit line's fields.
    func handle(method: String, uri: String, headers: [(name: String, value: String)], body: [UInt8],
                sourceIP: String) -> (status: Int, body: [UInt8]) {
        let started = Date()
        var event = XKSProxyAuditLog.Event(time: started.timeIntervalSince1970, sourceIP: sourceIP)
        let result: Result<JSONObject, Failure>
        do {
            result = .success(try process(method: method, uri: uri, headers: headers, body: body, event: &event))
        } catch let failure as Failure {
            result = .failure(failure)
        } catch {
            result = .failure(Failure(status: 500, name: "InternalException", message: "The request failed."))
        }
        event.latencyMs = Date().timeIntervalSince(started) * 1000
        switch result {
        case .success(let answer):
            audit.append(event)
            return (200, JSONWriter.bytes(.object(answer)))
        case .failure(let failure):
            event.errorCode = failure.name
            event.errorMessage = failure.message
            audit.append(event)
            return (failure.status, JSONWriter.bytes(.object(JSONObject([("errorName", .string(failure.name)),
                                                                          ("errorMessage", .string(failure.message))]))))
        }
    }

    func process(method: String, uri: String, headers: [(name: String, value: String)], body: [UInt8],
                 event: inout XKSProxyAuditLog.Event) throws -> JSONObject {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let prefix = configuration.uriPathPrefix
        guard path.hasPrefix(prefix + "/") else {
            throw Failure(status: 404, name: "InvalidUriPathException", message: "The URI path is not valid.")
        }
        let rest = path.dropFirst(prefix.count + 1).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let operation: String
        var keyId: String?
        switch rest.count {
        case 1 where rest[0] == "health": operation = "GetHealthStatus"
        case 3 where rest[0] == "keys" && ["metadata", "encrypt", "decrypt"].contains(rest[2]):
            keyId = rest[1]
            operation = ["metadata": "GetKeyMetadata", "encrypt": "Encrypt", "decrypt": "Decrypt"][rest[2]] ?? ""
        default:
            throw Failure(status: 404, name: "InvalidUriPathException", message: "The URI path is not valid.")
        }
        event.eventName = operation
        event.externalKeyId = keyId
        guard method == "POST" else { throw Failure(status: 405, name: "ValidationException", message: "Use POST.") }
        // Authentication before anything about keys or the body is looked at.
        let authorization: SigV4Authorization
        do { authorization = try verifier.parseAuthorization(headers: headers) } catch {
            throw Failure(status: 401, name: "AuthenticationFailedException", message: "The request signature is missing or malformed.")
        }
        event.accessKeyId = authorization.accessKeyId
        guard let secret = Self.secret(for: authorization.accessKeyId, in: configuration.credentials) else {
            throw Failure(status: 401, name: "AuthenticationFailedException", message: "The access key ID is not recognized.")
        }
        do {
            try verifier.verify(method: method, uri: uri, headers: headers, body: body, authorization: authorization, secretAccessKey: secret)
        } catch {
            throw Failure(status: 401, name: "AuthenticationFailedException", message: "The request signature does not match.")
        }
        guard let request = (try? JSONParser.parse(body))?.objectValue, let metadata = request["requestMetadata"]?.objectValue else {
            throw Failure.validation("The body must be a JSON object with requestMetadata.")
        }
        event.metadata = metadata
        guard metadata["kmsRequestId"]?.stringValue != nil, metadata["kmsOperation"]?.stringValue != nil else {
            throw Failure.validation("requestMetadata needs kmsRequestId and kmsOperation.")
        }
        if operation == "GetHealthStatus" { return health() }
        guard let keyId, let key = try keys.keys()[keyId] else {
            throw Failure(status: 404, name: "KeyNotFoundException", message: "The external key is not found.")
        }
        // Secondary authorization (spec, "Authorization"): the key's allow-list of KMS key ARNs.
        let arn = metadata["kmsKeyArn"]?.stringValue
        if operation != "GetKeyMetadata" || arn != nil, !key.allows(arn) {
            throw Failure(status: 403, name: "AccessDeniedException", message: "The KMS key \(arn ?? "(none)") is not allowed to use external key \(keyId).")
        }
        if operation == "GetKeyMetadata" {
            return JSONObject([("keySpec", .string("AES_256")), ("keyUsage", .array([.string("ENCRYPT"), .string("DECRYPT")])),
                               ("keyStatus", .string(key.enabled ? "ENABLED" : "DISABLED"))])
        }
        guard key.enabled else {
            throw Failure(status: 400, name: "InvalidStateException", message: "The external key \(keyId) is disabled.")
        }
        guard request["encryptionAlgorithm"]?.stringValue == "AES_GCM" else {
            throw Failure.validation("encryptionAlgorithm must be AES_GCM.")
        }
        let aad = try Self.bytes(request, "additionalAuthenticatedData", optional: true, max: 8192)
        let material = try keys.material(key)
        if operation == "Encrypt" {
            let plaintext = try Self.bytes(request, "plaintext", optional: false, max: 65536)
            let sealed = try AES.GCM.seal(plaintext, using: material, nonce: AES.GCM.Nonce(),
                                          authenticating: Self.gcmAAD(aad: aad, metadata: []))
            return JSONObject([("ciphertext", .string(Base64.encode(sealed.ciphertext))),
                               ("initializationVector", .string(Base64.encode(Array(sealed.nonce)))),
                               ("authenticationTag", .string(Base64.encode(sealed.tag)))])
        }
        let ciphertext = try Self.bytes(request, "ciphertext", optional: false, max: 65536)
        let iv = try Self.bytes(request, "initializationVector", optional: false, max: 16)
        let tag = try Self.bytes(request, "authenticationTag", optional: false, max: 16)
        let metadataBytes = try Self.bytes(request, "ciphertextMetadata", optional: true, max: 20)
        let invalid = Failure(status: 400, name: "InvalidCiphertextException",
                              message: "The ciphertext, initialization vector, additional authenticated data or authentication tag is invalid.")
        guard iv.count == 12, tag.count == 16, let box = try? AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: iv), ciphertext: ciphertext, tag: tag),
              let plaintext = try? AES.GCM.open(box, using: material, authenticating: Self.gcmAAD(aad: aad, metadata: metadataBytes)) else {
            throw invalid
        }
        return JSONObject([("plaintext", .string(Base64.encode(plaintext)))])
    }

    func health() -> JSONObject {
        JSONObject([
            ("xksProxyFleetSize", JSONValue(1)),
            ("xksProxyVendor", .string("swift-kms")),
            ("xksProxyModel", .string("swift-kms xks-proxy 1")),
            ("ekmVendor", .string("swift-kms")),
            ("ekmFleetDetails", .array([.object(JSONObject([("id", .string("local")), ("model", .string("swift-kms key file")),
                                                            ("healthStatus", .string("ACTIVE"))]))])),
        ])
    }

    /// The AES-GCM AAD of the specification: len16(aad) || aad || len8(metadata) || metadata.
    static func gcmAAD(aad: [UInt8], metadata: [UInt8]) -> [UInt8] {
        [UInt8(aad.count >> 8), UInt8(aad.count & 0xFF)] + aad + [UInt8(metadata.count)] + metadata
    }

    static func bytes(_ request: JSONObject, _ name: String, optional: Bool, max: Int) throws -> [UInt8] {
        guard let text = request[name]?.stringValue else {
            if optional { return [] }
            throw Failure.validation("\(name) is required.")
        }
        guard let bytes = Base64.decode(text), bytes.count <= max else { throw Failure.validation("\(name) is not valid Base64 of at most \(max) bytes.") }
        return bytes
    }

    /// The secret of a configured access key ID, compared in constant time over every entry.
    static func secret(for accessKeyId: String, in credentials: [String: String]) -> String? {
        var found: String?
        for (id, secret) in credentials where constantTimeEqual(Array(id.utf8), Array(accessKeyId.utf8)) { found = secret }
        return found
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// Collects one HTTP request and answers it (the work is a file stat and one AES-GCM call:
/// done on the event loop).
final class XKSProxyHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let server: XKSProxyServer
    var head: HTTPRequestHead?
    var body: [UInt8] = []
    static let maxBody = 64 * 1024

    init(server: XKSProxyServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
        case .body(let buffer):
            guard body.count + buffer.readableBytes <= Self.maxBody else {
                context.close(promise: nil)
                return
            }
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            let headers = head.headers.map { (name: $0.name, value: $0.value) }
            let source = context.remoteAddress?.ipAddress ?? "unknown"
            let (status, answer) = server.handle(method: head.method.rawValue, uri: head.uri, headers: headers, body: body, sourceIP: source)
            var responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status))
            responseHead.headers.add(name: "Content-Type", value: "application/json")
            responseHead.headers.add(name: "Content-Length", value: String(answer.count))
            let keepAlive = head.isKeepAlive
            if !keepAlive { responseHead.headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer)))), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { bound.value.close(promise: nil) }
            }
            self.head = nil
            body = []
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// The proxy's audit trail: one CloudTrail-shaped JSON line per request (event time and
/// name, source, access key ID, the request's metadata, the external key, the error),
/// appended and synced before the answer leaves. Never plaintext, ciphertext or keys.
final class XKSProxyAuditLog: @unchecked Sendable {
    struct Event {
        var time: Double
        var sourceIP: String
        var eventName = "Unknown"
        var accessKeyId: String?
        var externalKeyId: String?
        var metadata: JSONObject?
        var errorCode: String?
        var errorMessage: String?
        var latencyMs: Double = 0
    }

    let fd: Int32
    private let lock = NSLock()

    init(path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw TLSSetupError("cannot open the audit log \(path)") }
    }

    deinit { close(fd) }

    func append(_ e: Event) {
        var m = JSONObject()
        m["eventVersion"] = .string("1.08")
        m["eventTime"] = .string(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: e.time)))
        m["eventSource"] = .string("xks-proxy.swift-kms")
        m["eventName"] = .string(e.eventName)
        m["sourceIPAddress"] = .string(e.sourceIP)
        if let id = e.accessKeyId { m["userIdentity"] = .object(JSONObject([("accessKeyId", .string(id))])) }
        var parameters = JSONObject()
        if let key = e.externalKeyId { parameters["externalKeyId"] = .string(key) }
        if let metadata = e.metadata { parameters["requestMetadata"] = .object(metadata) }
        m["requestParameters"] = .object(parameters)
        if let code = e.errorCode { m["errorCode"] = .string(code) }
        if let message = e.errorMessage { m["errorMessage"] = .string(message) }
        m["requestID"] = e.metadata?["kmsRequestId"] ?? .null
        m["latencyMs"] = JSONValue(e.latencyMs)
        var line = JSONWriter.bytes(.object(m))
        line.append(0x0A)
        lock.withLock {
            _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            _ = fdatasync(fd)
        }
    }
}
