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

    /// The audit stage's trail; nil only with the benchmark switch `--audit off`.
    let audit: AuditLog?
    /// Whether the server listens with TLS (it then accepts nothing else): aws:SecureTransport.
    let secureTransport: Bool

    /// GET /health/live, /health/ready and /metrics on this listener; nil when they are on
    /// the admin listener only.
    var operations: OperationsEndpoints?
    /// The admin listener (`--admin-listen`) answers only those.
    var operationsOnly = false
    /// Requests by operation and outcome with latencies; nil records nothing.
    var metrics: RequestMetrics?

    /// The query-protocol services on the same endpoint (IAM, STS), by signing name.
    let queryServices: QueryServices
    /// On PostgreSQL: ships this node's records to the cluster trail, which LookupEvents reads.
    var clusterAudit: AuditClusterShipper?
    /// POST /_peer/v1/messages from peer deployments (Peers/); nil when no peer is configured.
    var peers: PeerReceiver?

    init(service: KMSService, authenticator: Authenticator, quotas: RequestQuotaRates = RequestQuotaRates(),
         audit: AuditLog? = nil, secureTransport: Bool = false, queryServices: QueryServices = QueryServices()) {
        self.service = service
        self.authenticator = authenticator
        self.quotas = quotas.isUnlimited ? nil : RequestQuotas(rates: quotas)
        self.audit = audit
        self.secureTransport = secureTransport
        self.queryServices = queryServices
    }

    struct Response: Sendable {
        let status: HTTPResponseStatus
        let body: [UInt8]
        /// The `x-amzn-RequestId` the client sees, the same as in the audit event.
        var requestID: String = ""
        /// The request's audit record without its chain link (see AuditRecord); empty when
        /// auditing is off. The handler hands it to the loop's FlushBatcher, which writes
        /// it before the response may leave.
        var event: [UInt8] = []
        var entry: AuditIndexEntry?
        /// The event was built into the event loop's FlushBatcher (`event` is empty): the
        /// response must be held there.
        var eventInBatch = false
        /// Content-Type when not the AWS JSON one (health and metrics answers).
        var contentType: String?
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
        /// The answer when the work cannot run (queue full, shutting down), with its event.
        let refuse: @Sendable (KMSError) -> Response
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

    /// The one audit stage: every request that reaches here leaves exactly one event, in
    /// the Response (or in the blocking work's Response), whatever its outcome.
    /// `connection`: the keep-alive connection's last verified temporary credential, kept
    /// by its handler on its event loop (nil where there is none: tests, a rerun off the loop).
    /// `auditCache`: the connection's AuditEventCache, for the events answered on its event
    /// loop (never captured by work that runs elsewhere).
    func process(_ request: HTTPRequestMessage, sourceIP: String, tls: AuditTLS? = nil,
                 connection: ConnectionSession? = nil, auditCache: AuditEventCache? = nil) -> Outcome {
        // Peer link messages: authenticated by their own MAC (not SigV4), answered off the loop.
        if let peers, request.uri == PeerReceiver.path, request.method == "POST" { return peers.outcome(request.body) }
        // Health and metrics: GET only (KMS itself is POST /), unaudited, never authenticated.
        if request.method == "GET", let operations, let outcome = operations.outcome(for: request.uri) { return outcome }
        if operationsOnly { return .respond(OperationsEndpoints.text(.notFound, "not found\n")) }
        var stage = auditStage(request, sourceIP: sourceIP, tls: tls)
        let body = request.body
        do throws(KMSError) {
            guard request.method == "POST" else {
                throw KMSError(.unknownOperation, nil)
            }
            // IAM and STS (form-encoded, no X-Amz-Target): a nil check on the KMS path.
            if request.amzTarget == nil, !queryServices.isEmpty, request.isQueryProtocol {
                return processQuery(request, stage: stage)
            }
            let isLookup = request.amzTarget == CloudTrailLookup.target
            let operation = isLookup ? nil : request.amzTarget.flatMap(Self.operation(target:))
            if isLookup {
                stage.source = .cloudtrail
                stage.eventName = "LookupEvents"
                stage.metricOperation = "LookupEvents"
            } else if let operation {
                stage.eventName = operation.name
                stage.metricOperation = operation.name
            } else if let target = request.amzTarget {
                stage.eventName = Self.eventName(target: target)
            }
            let caller = try authenticator.authenticate(request, sourceIP: sourceIP, cloudTrail: isLookup, connection: connection)
                .overTransport(secure: secureTransport)
            stage.caller = caller
            stage.region = caller.region
            guard isLookup || operation != nil else {
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
            stage.request = json.objectValue
            // Fail closed: while the trail cannot be written, nothing that changes state runs.
            if let audit, !(auditCache?.profile(stage.eventName).readOnly ?? AuditFields.isReadOnly(stage.eventName)),
               !audit.admits(now: stage.context.time) {
                throw KMSError.internalError
            }
            if isLookup {
                try CloudTrailAuthorization.authorizeLookup(caller)
                let audit = self.audit, stage = stage, cluster = clusterAudit
                return .offload(BlockingWork(lane: .writes, account: caller.account, refuse: { stage.respond(nil, $0) }) {
                    do throws(KMSError) {
                        return stage.respond(try CloudTrailLookup.run(json, caller: caller, audit: audit, cluster: cluster), nil)
                    } catch {
                        return stage.respond(nil, error)
                    }
                })
            }
            guard let operation else { throw KMSError.unknownOperation }
            let service = self.service
            if let quotas, !quotas.admit(operation.name, body: json, caller: caller, service: service) {
                throw KMSError.throttled
            }
            if operation.blocking {
                let stage = stage
                return .offload(BlockingWork(lane: Self.lane(operation.name, json), account: caller.account,
                                             refuse: { stage.respond(nil, $0) }) {
                    Self.run(service, operation, json, caller, stage)
                })
            }
            // Served on the event loop; a cache miss there (KMSError.storeReadNeeded) moves
            // the request to the blocking pool, where it reads through to the store.
            do {
                return .respond(stage.respond(try service.handle(operation, body: json, caller: caller), nil, cache: auditCache))
            } catch where error == .storeReadNeeded {
                let stage = stage
                return .offload(BlockingWork(lane: .writes, account: caller.account, refuse: { stage.respond(nil, $0) }) {
                    Self.run(service, operation, json, caller, stage)
                })
            }
        } catch where error == .storeReadNeeded {
            // Authentication or authorization missed on an event loop (a cluster node):
            // the whole request runs again on the blocking pool, where the store may be read.
            return rerunOffEventLoop(request, sourceIP: sourceIP, tls: tls, stage: stage)
        } catch {
            return .respond(stage.respond(nil, error, cache: auditCache))
        }
    }

    /// `process` again on the blocking pool (where nothing throws `storeReadNeeded`), its
    /// answer whole; the first attempt leaves no event (its response is never sent).
    func rerunOffEventLoop(_ request: HTTPRequestMessage, sourceIP: String, tls: AuditTLS?, stage: AuditStage) -> Outcome {
        let pipeline = self
        return .offload(BlockingWork(lane: .writes, account: stage.caller?.account ?? "", refuse: { stage.respond(nil, $0) }) {
            switch pipeline.process(request, sourceIP: sourceIP, tls: tls) {
            case .respond(let response): return response
            case .offload(let work): return work()
            }
        })
    }

    /// A request refused before the pipeline (a body over the size limit) still leaves its event.
    func rejected(_ request: HTTPRequestMessage, sourceIP: String, tls: AuditTLS?, _ error: KMSError) -> Response {
        var stage = auditStage(request, sourceIP: sourceIP, tls: tls)
        if let target = request.amzTarget { stage.eventName = Self.eventName(target: target) }
        return stage.respond(nil, error)
    }

    private func auditStage(_ request: HTTPRequestMessage, sourceIP: String, tls: AuditTLS?) -> AuditStage {
        let (requestID, requestIDValue) = RequestID.nextWithAuditID()
        return AuditStage(metrics: metrics, started: metrics == nil ? 0 : RequestMetrics.now(),
                          enabled: audit != nil, fallbackAccount: audit?.fallbackAccount ?? "",
                          context: AuditRequestContext(requestID: requestID, time: audit == nil ? 0 : AuditRecord.now(),
                                                       sourceIP: sourceIP, userAgent: request.userAgent ?? "", tls: tls,
                                                       requestIDValue: requestIDValue))
    }

    /// The event name of a target that names no operation: its last part, bounded.
    static func eventName(target: String) -> String {
        let name = target.split(separator: ".").last.map(String.init) ?? target
        return name.isEmpty ? "Unknown" : String(name.prefix(64))
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

    static func run(_ service: KMSService, _ operation: OperationSpec, _ json: JSONValue, _ caller: Caller,
                    _ stage: AuditStage) -> Response {
        do {
            return stage.respond(try service.handle(operation, body: json, caller: caller, requestId: stage.context.requestID), nil)
        } catch {
            return stage.respond(nil, error)
        }
    }

    static func error(_ error: KMSError, requestID: String = RequestID.next()) -> Response {
        var o = JSONObject([("__type", .string(error.code.rawValue))])
        if let message = error.message { o["message"] = .string(message) }
        return Response(status: HTTPResponseStatus(statusCode: error.httpStatus), body: JSONWriter.bytes(.object(o)),
                        requestID: requestID)
    }
}

/// What the audit stage gathers about one request as the pipeline runs, and the response
/// it turns into: the answer and its event, built from the same facts.
struct AuditStage: Sendable {
    /// Metrics: where the request's outcome and latency go, when it started, and its
    /// operation label (a model operation name only: never what the client sent).
    let metrics: RequestMetrics?
    let started: UInt64
    var metricOperation = "other"
    let enabled: Bool
    let fallbackAccount: String
    let context: AuditRequestContext
    var source = AuditEventSource.kms
    var eventName = "Unknown"
    var caller: Caller?
    var region = "us-east-1"
    var request: JSONObject?

    func respond(_ result: JSONObject?, _ error: KMSError?, cache: AuditEventCache? = nil) -> RequestPipeline.Response {
        if let metrics {
            metrics.record(operation: metricOperation, outcome: error?.code.rawValue ?? "ok", nanoseconds: RequestMetrics.now() &- started)
        }
        var response: RequestPipeline.Response
        if let error {
            response = RequestPipeline.error(error, requestID: context.requestID)
        } else {
            response = RequestPipeline.Response(status: .ok, body: JSONWriter.bytes(.object(result ?? JSONObject())),
                                                requestID: context.requestID)
        }
        guard enabled else { return response }
        if let sink = cache?.sink {
            // On the connection's event loop: straight into its batcher's buffer.
            sink.appendEvent { out in
                AuditRecord.apiCall(into: &out, context: context, source: source, eventName: eventName,
                                    caller: caller, fallbackAccount: fallbackAccount, region: region,
                                    request: request, response: result, error: error, cache: cache)
            }
            response.eventInBatch = true
            return response
        }
        var event: [UInt8] = []
        event.reserveCapacity(AuditRecord.capacity(context, caller))
        response.entry = AuditRecord.apiCall(into: &event, context: context, source: source, eventName: eventName,
                                             caller: caller, fallbackAccount: fallbackAccount, region: region,
                                             request: request, response: result, error: error, cache: cache)
        response.event = event
        return response
    }
}
