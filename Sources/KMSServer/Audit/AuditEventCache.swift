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

    // resources: one key ARN and the fallback account, and `,"resources":[...]`.
    private var resourceArn: String?
    private var resourceAccount = ""
    private var resources: [UInt8] = []

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

    /// Appends the cached `resources` when it named exactly this one ARN for this account.
    func writeResources(_ arn: String, account: String, to out: inout [UInt8]) -> Bool {
        guard let resourceArn, resourceArn == arn, resourceAccount == account else { return false }
        out.append(contentsOf: resources)
        return true
    }

    func storeResources(_ arn: String, account: String, _ bytes: ArraySlice<UInt8>) {
        resourceArn = arn
        resourceAccount = account
        resources.removeAll(keepingCapacity: true)
        resources.append(contentsOf: bytes)
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
