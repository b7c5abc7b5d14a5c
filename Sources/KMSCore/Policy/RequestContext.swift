import IAMPolicy
import Synchronization

/// One call as authorization (and audit) sees it: who asked for which operation, the
/// actions it is authorized as, the resources it resolved to, and what was decided.
/// `KMSService.handle` builds it; every operation authorizes through it, and `handle`
/// refuses an answer for which a declared action never passed the evaluator.
/// Condition values are not built up front: `conditionValues` computes only the keys the
/// policies being evaluated read.
public final class RequestContext: Sendable {
    public let requestId: String?
    public let caller: Caller
    public let operation: String
    /// The actions the dispatch table declares for the operation (`OperationActions`).
    public let actions: [String]
    public let grantTokens: [String]
    /// The validated request: condition values (encryption context, algorithms, tags...) are
    /// read from it when a policy asks for them.
    public let request: KMSRequest
    /// When the request arrived, for aws:CurrentTime and aws:EpochTime.
    public let time: Double
    /// kms:ViaService: "NAME.REGION.amazonaws.com" when a trusted service forwarded the call.
    public var viaService: String? { caller.viaService }

    /// One evaluation: which action on which resource, and how it was decided.
    public struct Decision: Sendable, Equatable {
        public let action: String
        public let resource: String
        public let allowed: Bool
        /// AccessDeniedException's message for a refusal; nil when allowed.
        public let message: String?
        /// The grant that allowed it, when a grant did (CreateGrant by a grantee is then
        /// limited to what that grant holds: GrantDelegation).
        public var grant: GrantRule? = nil
    }

    struct State {
        var decisions: [Decision] = []
        /// Values an operation supplies itself (CreateGrant's kms:GrantOperations,
        /// kms:GranteePrincipal...), by lowercased key.
        var extraConditions: [String: [String]] = [:]
        /// ReEncrypt: the source key's ARN once resolved (kms:ReEncryptOnSameKey).
        var sourceKeyArn: String?
    }
    private let state = Mutex(State())

    public init(requestId: String? = nil, caller: Caller, operation: String, actions: [String],
                request: KMSRequest, time: Double) {
        self.requestId = requestId
        self.caller = caller
        self.operation = operation
        self.actions = actions
        self.request = request
        self.time = time
        self.grantTokens = request.stringList("GrantTokens") ?? []
    }

    /// The resources resolved and judged so far (key ARNs, alias ARNs, "*"), in order.
    public var resources: [String] {
        var out: [String] = []
        for d in decisions where !out.contains(d.resource) { out.append(d.resource) }
        return out
    }
    /// Every evaluation made for this request, in order.
    public var decisions: [Decision] { state.withLock { $0.decisions } }

    /// Supplies a condition key's values for the rest of the request, e.g. CreateGrant's
    /// kms:GrantOperations, which only the grant operations know how to read.
    public func setConditionValues(_ key: String, _ values: [String]) {
        state.withLock { $0.extraConditions[key.lowercased()] = values }
    }

    func record(_ decision: Decision) {
        state.withLock { $0.decisions.append(decision) }
    }

    func noteSourceKey(_ arn: String) { state.withLock { $0.sourceKeyArn = arn } }

    /// Whether each declared action was evaluated and allowed at least once.
    func authorizedAllDeclaredActions() -> Bool {
        state.withLock { s in
            actions.allSatisfy { action in s.decisions.contains { $0.action == action && $0.allowed } }
        }
    }

    func extraCondition(_ key: String) -> [String]? { state.withLock { $0.extraConditions[key] } }
    var sourceKeyArn: String? { state.withLock { $0.sourceKeyArn } }

    /// The encryption context an action is judged with: ReEncrypt's source context for
    /// ReEncryptFrom and its destination context for ReEncryptTo.
    public func encryptionContext(for action: String) -> [String: String] {
        switch action {
        case "kms:ReEncryptFrom": return request.stringMap("SourceEncryptionContext") ?? [:]
        case "kms:ReEncryptTo": return request.stringMap("DestinationEncryptionContext") ?? [:]
        default: return request.stringMap("EncryptionContext") ?? [:]
        }
    }
}
