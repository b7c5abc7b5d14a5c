import IAMPolicy
import KMSCore

/// What a connection's previous audit event rendered, reused for the next one: a keep-alive
/// connection nearly always carries one caller using one key, so its userIdentity, its
/// `resources` and (within a second) its eventTime repeat byte for byte.
///
/// Each part is keyed by every input its bytes are rendered from, compared in full on use,
/// so a hit writes exactly what rendering would (a changed credential, key or second is a
/// miss, never stale bytes). Owned by one connection's handler and used only on its event
/// loop: no lock, and no reference count that another thread touches per request.
final class AuditEventCache {
    // userIdentity: the caller fields writeIdentity reads, its bytes and the user name.
    private var kind: RequestPrincipal.Kind?
    private var principalArn = "", principalOwnArn = "", account = "", accessKeyId = ""
    private var userId: String?, roleArn: String?
    private var identity: [UInt8] = []
    private(set) var username = ""

    // The tail, `,"readOnly":...` to the end (resources, recipientAccountId, tlsDetails):
    // readOnly, the one key ARN (or none), the account and the TLS details it was rendered from.
    private var tailReadOnly = false
    private var tailArn: String?
    private var tailAccount = ""
    private var tailTLS: AuditTLS?
    private var tail: [UInt8] = []
    private var hasTail = false

    // The origin, `,"eventSource":...` through `"userAgent":"..."`, and its inputs.
    private var originSource = AuditEventSource.kms
    private var originName = "", originRegion = "", originIP = "", originAgent = ""
    private var origin: [UInt8] = []
    private var hasOrigin = false

    // The operation's audit profile, a copy of this connection's own: the shared one's
    // reference count (and its arrays') would be touched by both event loops every call.
    // Up to `profileCopies` operations, most recent first.
    private var profiles: [(name: String, profile: AuditFields.Profile)] = []
    static let profileCopies = 8

    // eventTime: the whole second and its quoted text.
    private var second = Int64.min
    private var time: [UInt8] = []

    // eventID: counter values reserved for this connection (EventID.reserveBlock), so its
    // events do not add to the counter the event loops share.
    private var nextEvent: UInt64 = 0
    private var blockEnd: UInt64 = 0

    /// The connection's event loop's batcher, when it holds responses for their events:
    /// events answered on the loop are built straight into its buffer (AuditStage.respond).
    var sink: FlushBatcher?

    init() {}

    /// A counter value for the next eventID, unique in this process like EventID.next().
    func nextEventNumber() -> UInt64 {
        if nextEvent == blockEnd {
            nextEvent = EventID.reserveBlock()
            blockEnd = nextEvent &+ EventID.block
        }
        defer { nextEvent &+= 1 }
        return nextEvent
    }

    /// Appends the cached userIdentity when it was rendered from exactly this caller's fields.
    func writeIdentity(_ caller: Caller, to out: inout [UInt8]) -> Bool {
        // Field by field (binding `caller.principal` to a local could copy it, a retain per field).
        guard kind == caller.principal.kind, accessKeyId == caller.accessKeyId, principalArn == caller.principalArn,
              account == caller.account, userId == caller.principal.userId, roleArn == caller.principal.roleArn,
              principalOwnArn == caller.principal.arn
        else { return false }
        out.append(contentsOf: identity)
        return true
    }

    func storeIdentity(_ caller: Caller, _ bytes: ArraySlice<UInt8>, username: String) {
        let p = caller.principal
        kind = p.kind
        accessKeyId = caller.accessKeyId
        principalArn = caller.principalArn
        account = caller.account
        userId = p.userId
        roleArn = p.roleArn
        principalOwnArn = p.arn
        identity.removeAll(keepingCapacity: true)
        identity.append(contentsOf: bytes)
        self.username = username
    }

    /// The access key ID of the identity last stored: equal to the caller's after
    /// `writeIdentity` or `storeIdentity` for it. The index keeps this String, not the one
    /// parsed from each request, which it would otherwise free cold 100,000 calls later.
    var identityAccessKeyId: String { accessKeyId }

    /// Appends the cached tail when it was rendered from exactly these inputs (`arn`: the
    /// event's only key ARN, nil for none).
    func writeTail(readOnly: Bool, arn: String?, account: String, tls: AuditTLS?, to out: inout [UInt8]) -> Bool {
        guard hasTail, tailReadOnly == readOnly, tailArn == arn, tailAccount == account,
              tailTLS?.version == tls?.version, tailTLS?.host == tls?.host else { return false }
        out.append(contentsOf: tail)
        return true
    }

    func storeTail(readOnly: Bool, arn: String?, account: String, tls: AuditTLS?, _ bytes: ArraySlice<UInt8>) {
        tailReadOnly = readOnly
        // A copy of the ARN's bytes: the index keeps this connection's String rather than the
        // key's, whose reference count both event loops would touch with every event.
        tailArn = arn.map { String(decoding: Array($0.utf8), as: UTF8.self) }
        tailAccount = account
        tailTLS = tls
        tail.removeAll(keepingCapacity: true)
        tail.append(contentsOf: bytes)
        hasTail = true
    }

    /// The key ARN of the tail last stored (equal to the event's only one after
    /// `writeTail`/`storeTail` for it), for the index entry.
    var tailResource: String? { tailArn }

    /// Appends the cached origin when it was rendered from exactly these inputs.
    func writeOrigin(source: AuditEventSource, eventName: String, region: String, sourceIP: String, userAgent: String,
                     to out: inout [UInt8]) -> Bool {
        guard hasOrigin, originSource == source, originName == eventName, originRegion == region,
              originIP == sourceIP, originAgent == userAgent else { return false }
        out.append(contentsOf: origin)
        return true
    }

    func storeOrigin(source: AuditEventSource, eventName: String, region: String, sourceIP: String, userAgent: String,
                     _ bytes: ArraySlice<UInt8>) {
        originSource = source
        originName = eventName
        originRegion = region
        originIP = sourceIP
        originAgent = userAgent
        origin.removeAll(keepingCapacity: true)
        origin.append(contentsOf: bytes)
        hasOrigin = true
    }

    /// The audit profile of `operation`, this connection's copy (AuditFields.Profile).
    /// Beyond `profileCopies` operations on one connection, the shared one is used.
    func profile(_ operation: String) -> AuditFields.Profile {
        if let first = profiles.first, first.name == operation { return first.profile }
        if let i = profiles.firstIndex(where: { $0.name == operation }) {
            profiles.swapAt(0, i)
            return profiles[0].profile
        }
        guard profiles.count < Self.profileCopies else { return AuditFields.profile(operation) }
        let profile = AuditFields.Profile(operation)
        profiles.insert((operation, profile), at: 0)
        return profile
    }

    /// The quoted eventTime of `seconds` (whole seconds since the epoch), formatted once a second.
    func writeTime(seconds: Int64, to out: inout [UInt8]) {
        if seconds != second {
            time.removeAll(keepingCapacity: true)
            AuditRecord.writeTime(Double(seconds), into: &time)
            second = seconds
        }
        out.append(contentsOf: time)
    }
}
