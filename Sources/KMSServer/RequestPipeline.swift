import Foundation
import KMSCore
import NIOHTTP1

/// One request, one path: decode -> authenticate -> validate/resolve/authorize/execute
/// (in KMSService) -> encode. Every response, success or AWS-shaped error, comes from here.
struct RequestPipeline: Sendable {
    let service: KMSService
    let authenticator: Authenticator
    /// Request quotas per account and region; nil when every quota is unlimited (the
    /// default), so the hot path pays one nil check.
    let quotas: RequestQuotas?

    init(service: KMSService, authenticator: Authenticator, quotas: RequestQuotaRates = RequestQuotaRates()) {
        self.service = service
        self.authenticator = authenticator
        self.quotas = quotas.isUnlimited ? nil : RequestQuotas(rates: quotas)
    }

    struct Response: Sendable {
        let status: HTTPResponseStatus
        let body: [UInt8]
    }

    /// What the handler must do: answer now, or run a blocking operation off the event loop.
    enum Outcome: Sendable {
        case respond(Response)
        case offload(BlockingWork)
    }

    /// An operation to run off the event loop, with what the blocking queue needs to place
    /// it fairly: its lane and the caller's account. Callable like the closure it wraps.
    struct BlockingWork: Sendable {
        let lane: BlockingWorkQueue.Lane
        let account: String
        let run: @Sendable () -> Response

        func callAsFunction() -> Response { run() }
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
            if let quotas, !quotas.admit(operation.name, body: json, caller: caller, service: service) {
                throw KMSError.throttled
            }
            if operation.blocking {
                return .offload(BlockingWork(lane: Self.lane(operation.name, json), account: caller.account) {
                    Self.run(service, operation, json, caller)
                })
            }
            return .respond(Self.run(service, operation, json, caller))
        } catch {
            return .respond(Self.error(error))
        }
    }

    /// Key-pair generation (up to seconds for RSA-4096) has a lane of its own, so it never
    /// delays the writes of the others.
    static func lane(_ operation: String, _ json: JSONValue) -> BlockingWorkQueue.Lane {
        switch operation {
        case "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext":
            return .generation
        case "CreateKey":
            let object = json.objectValue
            let spec = (object?["KeySpec"] ?? object?["CustomerMasterKeySpec"])?.stringValue
            return spec.flatMap(KeySpec.init(rawValue:))?.isAsymmetric == true ? .generation : .writes
        default:
            return .writes
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
