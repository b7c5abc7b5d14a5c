import Foundation
import KMSCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SigV4

/// Auto-unseal (issue 14 §1): Encrypt and Decrypt on another KMS (AWS KMS or another
/// swift-kms) over AWS JSON 1.1, SigV4-signed with credentials from the usual sources,
/// as Vault's awskms seal does. Used once at start (and by `kms admin`), never per request.
public struct KMSUnsealClient: Sendable {
    public let endpoint: URL
    public let region: String
    public let keyId: String
    let credentials: AWSCredentials
    public var timeout: TimeAmount = .seconds(10)

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    public init(endpoint: String, region: String, keyId: String,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw Failure("--root-kms-endpoint must be an http:// or https:// URL")
        }
        self.endpoint = url
        self.region = region
        self.keyId = keyId
        credentials = try AWSCredentials.load(environment: environment)
    }

    public func encrypt(_ plaintext: [UInt8]) throws -> [UInt8] {
        let answer = try call("Encrypt", ["KeyId": keyId, "Plaintext": Base64.encode(plaintext)])
        guard let blob = (answer["CiphertextBlob"] as? String).flatMap(Base64.decode) else { throw Failure("Encrypt answered without a CiphertextBlob") }
        return blob
    }

    public func decrypt(_ blob: [UInt8]) throws -> [UInt8] {
        let answer = try call("Decrypt", ["KeyId": keyId, "CiphertextBlob": Base64.encode(blob)])
        guard let plain = (answer["Plaintext"] as? String).flatMap(Base64.decode) else { throw Failure("Decrypt answered without a Plaintext") }
        return plain
    }

    /// One signed POST; a KMS error answer becomes its __type and message.
    func call(_ operation: String, _ request: [String: String]) throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: request)
        let host = endpoint.host ?? ""
        let hostHeader = endpoint.port.map { "\(host):\($0)" } ?? host
        var path = endpoint.path.isEmpty ? "/" : endpoint.path
        if let q = endpoint.query { path += "?" + q }
        let headers: [(name: String, value: String)] = [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.\(operation)")]
        let signer = SigV4Signer(accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey,
                                 sessionToken: credentials.sessionToken, region: region, service: "kms", cache: SigningKeyCache())
        let signed = try signer.sign(method: "POST", path: endpoint.path.isEmpty ? "/" : endpoint.path, query: endpoint.query ?? "",
                                     host: hostHeader, headers: headers, body: body)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: hostHeader)
        for (name, value) in headers + signed { head.headers.add(name: name, value: value) }
        head.headers.add(name: "Content-Length", value: String(body.count))
        head.headers.add(name: "Connection", value: "close")
        let (status, answer) = try send(head: head, body: body)
        let object = (try? JSONSerialization.jsonObject(with: Data(answer))) as? [String: Any] ?? [:]
        guard status == 200 else {
            let type = (object["__type"] as? String)?.split(separator: "#").last.map(String.init) ?? "HTTP \(status)"
            let message = object["message"] as? String ?? object["Message"] as? String ?? ""
            throw Failure("\(operation) at \(endpoint.absoluteString) failed: \(type)\(message.isEmpty ? "" : ": " + message)")
        }
        return object
    }

    private func send(head: HTTPRequestHead, body: Data) throws -> (UInt, [UInt8]) {
        let host = endpoint.host ?? ""
        let tls = endpoint.scheme?.lowercased() == "https"
        let port = endpoint.port ?? (tls ? 443 : 80)
        let sslContext = tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: (UInt, [UInt8]).self)
        let serverName = host.first?.isNumber == true || host.contains(":") ? nil : host
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
        let channel: any Channel
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            promise.fail(error)  // never leave a promise unfulfilled (NIO traps in debug builds)
            throw Failure("cannot reach \(endpoint.absoluteString): \(error)")
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(Failure("\(endpoint.absoluteString) did not answer within the timeout"))
            channel.close(promise: nil)
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return try promise.futureResult.wait()
    }

    /// A whole response (status and body, at most 1 MiB).
    final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<(UInt, [UInt8])>
        var status: UInt = 0
        var body: [UInt8] = []

        init(promise: EventLoopPromise<(UInt, [UInt8])>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = head.status.code
            case .body(let buffer):
                guard body.count + buffer.readableBytes <= 1 << 20 else {
                    promise.fail(Failure("answer too large"))
                    return context.close(promise: nil)
                }
                body.append(contentsOf: buffer.readableBytesView)
            case .end:
                promise.succeed((status, body))
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(Failure("connection closed before the answer"))
            context.fireChannelInactive()
        }
    }
}

/// AWS credentials from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
/// AWS_SESSION_TOKEN), else from the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
/// ~/.aws/credentials), profile AWS_PROFILE or "default"; the order the AWS SDKs use.
struct AWSCredentials: Sendable {
    var accessKeyId: String
    var secretAccessKey: String
    var sessionToken: String?

    static func load(environment: [String: String]) throws -> AWSCredentials {
        if let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty {
            return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let path = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let profile = environment["AWS_PROFILE"] ?? "default"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw KMSUnsealClient.Failure("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or profile \(profile) in \(path)")
        }
        var section = ""
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") { section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces); continue }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            values[line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
            throw KMSUnsealClient.Failure("no AWS credentials for profile \(profile) in \(path)")
        }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: values["aws_session_token"])
    }
}
