import Foundation
import KMSCore
import NIOHTTP1

/// One request, one path: decode -> authenticate -> validate/resolve/authorize/execute
/// (in KMSService) -> encode. Every response, success or AWS-shaped error, comes from here.
struct RequestPipeline: Sendable {
    let service: KMSService
    let authenticator: Authenticator

    struct Response: Sendable {
        let status: HTTPResponseStatus
        let body: [UInt8]
    }

    /// What the handler must do: answer now, or run a blocking operation off the event loop.
    enum Outcome: Sendable {
        case respond(Response)
        case offload(@Sendable () -> Response)
    }

    static let targetPrefix = "TrentService."

    /// `TrentService.<Operation>` to the operation, by bytes (String prefix and index
    /// arithmetic are Unicode-aware and slow); nil for any other target.
    static func operation(target: String) -> OperationSpec? {
        var target = target
        return target.withUTF8 { bytes -> OperationSpec? in
            let prefix = targetPrefix.utf8
            guard bytes.count > prefix.count, bytes.starts(with: prefix) else { return nil }
            return OperationSpec.named(String(decoding: UnsafeBufferPointer(rebasing: bytes[prefix.count...]), as: UTF8.self))
        }
    }

    func process(head: HTTPRequestHead, body: [UInt8], sourceIP: String) -> Outcome {
        process(HTTPRequestMessage(head: head, body: body), sourceIP: sourceIP)
    }

    func process(_ request: HTTPRequestMessage, sourceIP: String) -> Outcome {
        let body = request.body
        do throws(KMSError) {
            guard request.method == "POST" else {
                throw KMSError(.unknownOperation, nil)
            }
            let caller = try authenticator.authenticate(request, sourceIP: sourceIP)
            guard let target = request.amzTarget, let operation = Self.operation(target: target) else {
                throw KMSError.unknownOperation
            }
            let json: JSONValue
            if body.isEmpty {
                json = .object(JSONObject())
            } else {
                do { json = try JSONParser.parse(body) } catch {
                    throw KMSError(.serialization, error.reason)
                }
            }
            let service = self.service
            if operation.blocking {
                return .offload { Self.run(service, operation, json, caller) }
            }
            return .respond(Self.run(service, operation, json, caller))
        } catch {
            return .respond(Self.error(error))
        }
    }

    static func run(_ service: KMSService, _ operation: OperationSpec, _ json: JSONValue, _ caller: Caller) -> Response {
        do {
            let result = try service.handle(operation, body: json, caller: caller)
            return Response(status: .ok, body: JSONWriter.bytes(.object(result)))
        } catch {
            return Self.error(error)
        }
    }

    static func error(_ error: KMSError) -> Response {
        var o = JSONObject([("__type", .string(error.code.rawValue))])
        if let message = error.message { o["message"] = .string(message) }
        return Response(status: HTTPResponseStatus(statusCode: error.httpStatus), body: JSONWriter.bytes(.object(o)))
    }
}
