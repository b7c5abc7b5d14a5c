import AWSQuery
import KMSCore
import SigV4

/// One call of a query-protocol operation, as its handler sees it.
public struct QueryCall: Sendable {
    public let request: QueryRequest
    /// nil only for an operation registered as `.anonymous` (AssumeRoleWithWebIdentity).
    public let caller: Caller?
    public let requestID: String
    public let sourceIP: String

    public var parameters: JSONObject { request.parameters }
}

/// A query-protocol operation the server implements.
public struct QueryOperation: Sendable {
    public enum Authentication: Sendable {
        /// SigV4 for the service's signing name, as every IAM call and most STS calls.
        case signed
        /// No signature (STS's AssumeRoleWithWebIdentity: the token is the credential).
        case anonymous
    }

    public let authentication: Authentication
    /// Run off the event loop (store writes, network, expensive verification).
    public let blocking: Bool
    public let handler: @Sendable (QueryCall) throws(QueryError) -> JSONObject

    public init(authentication: Authentication = .signed, blocking: Bool = true,
                _ handler: @escaping @Sendable (QueryCall) throws(QueryError) -> JSONObject) {
        self.authentication = authentication
        self.blocking = blocking
        self.handler = handler
    }
}

/// A query-protocol service served on the KMS endpoint: botocore's model, the SigV4
/// verifier for its signing name, its dispatch table, and what its audit events may name.
public struct QueryService: Sendable {
    public let model: QueryServiceModel
    var verifier: SigV4Verifier
    public let operations: [String: QueryOperation]
    /// Request members an audit event names per action (an allow-list, as AuditFields:
    /// a member not listed never reaches the trail, so no secret or token can).
    public let auditRequestMembers: [String: [String]]
    /// Response members an audit event names per action (never a secret).
    public let auditResponseMembers: [String: [String]]

    /// `signingRegion`: the only region the credential scope may name (IAM's global
    /// endpoint signs for us-east-1); nil accepts any well-formed region.
    public init(model: QueryServiceModel, signingRegion: String?, operations: [String: QueryOperation],
                auditRequestMembers: [String: [String]] = [:], auditResponseMembers: [String: [String]] = [:]) {
        self.model = model
        self.verifier = SigV4Verifier(allowedClockSkew: 300, service: model.signingName, region: signingRegion,
                                      allowUnsignedPayload: false)
        self.operations = operations
        self.auditRequestMembers = auditRequestMembers
        self.auditResponseMembers = auditResponseMembers
    }
}

/// The query services of the endpoint, by SigV4 signing name (`iam`, `sts`). The server
/// registers IAM; STS registers its own table the same way.
public struct QueryServices: Sendable {
    public private(set) var bySigningName: [String: QueryService] = [:]

    public init() {}

    public mutating func register(_ service: QueryService) {
        bySigningName[service.model.signingName] = service
    }

    public var isEmpty: Bool { bySigningName.isEmpty }

    /// The service a request is for: the credential scope's service when it is signed,
    /// otherwise (an anonymous call) the only service whose model has the action.
    func route(signingName: String?, action: String?) -> QueryService? {
        if let signingName { return bySigningName[signingName] }
        guard let action else { return nil }
        let candidates = bySigningName.values.filter { $0.model.operations[action] != nil }
        return candidates.count == 1 ? candidates.first : nil
    }
}
