import AWSQuery
import Foundation
import KMSCore
import NIOHTTP1

extension HTTPRequestMessage {
    /// An AWS query-protocol request: a form-encoded POST without X-Amz-Target.
    var isQueryProtocol: Bool {
        guard amzTarget == nil, let type = header("content-type") else { return false }
        return type.lowercased().hasPrefix("application/x-www-form-urlencoded")
    }

    /// The service of the SigV4 credential scope (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`),
    /// read without verifying anything: it only picks the service whose verifier then checks all.
    var signingService: String? {
        guard let auth = header("authorization"), let range = auth.range(of: "Credential=") else { return nil }
        let scope = auth[range.upperBound...].prefix { $0 != "," && $0 != " " }
        let parts = scope.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 5 ? String(parts[3]) : nil
    }
}

extension RequestPipeline {
    /// The query-protocol path (IAM, STS): route by the credential scope's service, decode
    /// and validate the form against the service's model, authenticate with that service's
    /// verifier, run the handler, answer XML. One audit event per request, as for KMS.
    func processQuery(_ request: HTTPRequestMessage, stage initial: AuditStage) -> Outcome {
        var stage = QueryAuditStage(base: initial)
        let form = FormBody.parse(request.body)
        let action = form?["Action"]
        if let action { stage.base.eventName = String(action.prefix(64)) }
        guard let service = queryServices.route(signingName: request.signingService, action: action) else {
            // Neither a served signing name nor an action one service owns.
            if request.header("authorization") == nil {
                return .respond(stage.respond(nil, QueryError("MissingAuthenticationToken", "Request is missing Authentication Token", status: 403)))
            }
            return .respond(stage.respond(nil, QueryError("InvalidClientTokenId", "The security token included in the request is invalid.", status: 403)))
        }
        stage.service = service
        stage.base.source = AuditEventSource(rawValue: service.model.eventSource) ?? .kms
        do throws(QueryError) {
            guard let form else { throw QueryError("MalformedQueryString", "The query string is malformed.") }
            // Authentication comes first, as in AWS; only an operation registered as
            // anonymous skips it (an unknown action is authenticated, then refused).
            let registered = action.flatMap { service.operations[$0] }
            var caller: Caller?
            if registered?.authentication != .anonymous {
                do {
                    let c = try authenticator.authenticate(request, sourceIP: stage.base.context.sourceIP, verifier: service.verifier)
                    caller = c
                    stage.base.caller = c
                    stage.base.region = c.region
                } catch where error == .storeReadNeeded {
                    // An access key another cluster node may just have made: read off the loop.
                    return rerunOffEventLoop(request, sourceIP: stage.base.context.sourceIP, tls: stage.base.context.tls,
                                             stage: stage.base)
                } catch {
                    throw Self.queryError(error)
                }
            }
            let decoded = try QueryRequest.decode(form, model: service.model)
            guard let operation = registered else {
                throw QueryError("InvalidAction", "The action \(decoded.action) is not valid for this web service.")
            }
            stage.operation = decoded.operation
            stage.parameters = decoded.parameters
            if let audit, !AuditFields.isReadOnly(decoded.action), !audit.admits(now: stage.base.context.time) {
                throw QueryError.internalFailure
            }
            let call = QueryCall(request: decoded, caller: caller, requestID: stage.base.context.requestID,
                                 sourceIP: stage.base.context.sourceIP)
            let account = caller?.account ?? ""
            let finalStage = stage
            let run: @Sendable () -> Response = {
                do throws(QueryError) {
                    return finalStage.respond(try operation.handler(call), nil)
                } catch {
                    return finalStage.respond(nil, error)
                }
            }
            if operation.blocking {
                return .offload(BlockingWork(lane: .writes, account: account,
                                             refuse: { finalStage.respond(nil, Self.queryError($0)) }, run: run))
            }
            return .respond(run())
        } catch {
            return .respond(stage.respond(nil, error))
        }
    }

    /// Authentication and front-end errors in the query services' words (IAM and STS name
    /// them without the JSON services' "Exception" suffix).
    static func queryError(_ error: KMSError) -> QueryError {
        switch error.code {
        case .unrecognizedClient:
            return QueryError("InvalidClientTokenId", "The security token included in the request is invalid.", status: 403)
        case .invalidSignature:
            return QueryError("SignatureDoesNotMatch", error.message, status: 403)
        case .incompleteSignature:
            return QueryError("IncompleteSignature", error.message, status: 403)
        case .missingAuthenticationToken:
            return QueryError("MissingAuthenticationToken", error.message, status: 403)
        case .accessDenied:
            return QueryError("AccessDenied", error.message, status: 403)
        case .throttling:
            return QueryError("Throttling", error.message, status: 400)
        case .expiredToken:
            // A session token past its expiration, as IAM and STS answer it (issue 9).
            return QueryError("ExpiredToken", error.message, status: 403)
        case .kmsInternal:
            return QueryError("ServiceFailure", error.message, status: 500)
        default:
            var code = error.code.rawValue
            if code.hasSuffix("Exception") { code.removeLast("Exception".count) }
            return QueryError(code, error.message, status: error.httpStatus)
        }
    }
}

/// The audit stage of a query request: the KMS stage's facts plus the service, the
/// operation (for the XML writer) and the decoded parameters (for requestParameters).
struct QueryAuditStage: Sendable {
    var base: AuditStage
    var service: QueryService?
    var operation: QueryServiceModel.ResolvedOperation?
    var parameters: JSONObject?

    func respond(_ result: JSONObject?, _ error: QueryError?) -> RequestPipeline.Response {
        let requestID = base.context.requestID
        var response: RequestPipeline.Response
        if let error {
            response = RequestPipeline.Response(status: HTTPResponseStatus(statusCode: error.httpStatus),
                                                body: QueryXML.error(error, requestID: requestID), requestID: requestID)
        } else if let service, let operation {
            response = RequestPipeline.Response(status: .ok, body: QueryXML.response(result ?? JSONObject(), operation: operation,
                                                                                      model: service.model, requestID: requestID),
                                                requestID: requestID)
        } else {
            response = RequestPipeline.Response(status: .internalServerError,
                                                body: QueryXML.error(.internalFailure, requestID: requestID), requestID: requestID)
        }
        guard base.enabled else { return response }
        var event: [UInt8] = []
        event.reserveCapacity(AuditRecord.capacity(base.context, base.caller))
        let action = base.eventName
        let request = parameters.map { Self.allowed($0, service?.auditRequestMembers[action]) } ?? nil
        let responseElements = result.map { Self.allowed($0, service?.auditResponseMembers[action]) } ?? nil
        response.entry = AuditRecord.apiCall(into: &event, context: base.context, source: base.source, eventName: action,
                                             caller: base.caller, fallbackAccount: base.fallbackAccount, region: base.region,
                                             requestParameters: request, responseElements: responseElements,
                                             errorCode: error?.code, errorMessage: error?.message)
        response.event = event
        return response
    }

    /// Only the allow-listed members, lowerCamelCased as CloudTrail names them; nil when none.
    static func allowed(_ object: JSONObject, _ members: [String]?) -> JSONObject? {
        guard let members else { return nil }
        var out = JSONObject()
        for name in members {
            guard let value = object[name] else { continue }
            out[name.prefix(1).lowercased() + name.dropFirst()] = value
        }
        return out.isEmpty ? nil : out
    }
}
