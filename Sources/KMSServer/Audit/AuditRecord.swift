import Foundation
import KMSCore
import Synchronization

/// What the audit stage knows of a request before it is authenticated: who connected,
/// over what, and the request ID the client will see in `x-amzn-RequestId`.
struct AuditRequestContext: Sendable {
    let requestID: String
    let time: Double
    let sourceIP: String
    let userAgent: String
    /// nil over plain HTTP.
    let tls: AuditTLS?
    /// `requestID` as the index keeps it, when the caller has it (RequestID's counter);
    /// nil: parsed from the text.
    var requestIDValue: AuditID? = nil
}

/// The `tlsDetails` of a call over TLS. NIOSSL exposes the negotiated version but not the
/// cipher suite, so the suite is left out rather than guessed.
struct AuditTLS: Sendable {
    let version: String
    let host: String
}

/// The AWS service an event belongs to.
enum AuditEventSource: String, Sendable {
    case kms = "kms.amazonaws.com"
    case cloudtrail = "cloudtrail.amazonaws.com"
    case iam = "iam.amazonaws.com"
    case sts = "sts.amazonaws.com"
}

/// What LookupEvents filters on, kept for each event of the in-memory index (the line
/// itself stays in its segment file and is read back by offset).
///
/// No String of its own per entry on the hot path: the eventID and requestID are kept as
/// their 128 bits (`AuditID`) and a single key ARN outside an array. Under load the full
/// index overwrites an entry every call; freeing the old entry's strings and array (cold
/// by then) was a cache miss each, and allocating them a malloc each.
struct AuditIndexEntry: Sendable {
    var time: Double
    var eventName: String
    var source: AuditEventSource
    /// recipientAccountId: the account whose trail the event is in.
    var account: String
    var username: String
    var accessKeyId: String
    var readOnly: Bool
    var eventIDValue: AuditID
    /// The key ARNs (`resources`): most events name one, held here without an array.
    var firstResource: String?
    var otherResources: [String] = []
    var isServiceEvent = false
    /// For GetKeyLastUsage: the request ID the client saw, and whether the call succeeded.
    var requestIDValue: AuditID = .text("")
    var succeeded = false
    /// A successful cryptographic call: AuditLog records it as its keys' last use.
    var tracksKeyUsage = false
    // Where the line is: set by AuditLog when it is written.
    var segment = 0
    var offset = 0
    var length = 0
    var sequence = 0

    init(time: Double, eventName: String, source: AuditEventSource, account: String, username: String,
         accessKeyId: String, readOnly: Bool, eventID: String, resources: [String], isServiceEvent: Bool = false,
         requestID: String = "", succeeded: Bool = false, tracksKeyUsage: Bool = false,
         segment: Int = 0, offset: Int = 0, length: Int = 0, sequence: Int = 0) {
        self.init(time: time, eventName: eventName, source: source, account: account, username: username,
                  accessKeyId: accessKeyId, readOnly: readOnly, eventID: AuditID(eventID), resources: resources,
                  isServiceEvent: isServiceEvent, requestID: AuditID(requestID), succeeded: succeeded,
                  tracksKeyUsage: tracksKeyUsage)
        self.segment = segment
        self.offset = offset
        self.length = length
        self.sequence = sequence
    }

    init(time: Double, eventName: String, source: AuditEventSource, account: String, username: String,
         accessKeyId: String, readOnly: Bool, eventID: AuditID, resources: [String], isServiceEvent: Bool,
         requestID: AuditID, succeeded: Bool, tracksKeyUsage: Bool) {
        self.init(time: time, eventName: eventName, source: source, account: account, username: username,
                  accessKeyId: accessKeyId, readOnly: readOnly, eventID: eventID, firstResource: resources.first,
                  otherResources: resources.count > 1 ? Array(resources.dropFirst()) : [], requestID: requestID,
                  succeeded: succeeded, tracksKeyUsage: tracksKeyUsage)
        self.isServiceEvent = isServiceEvent
    }

    /// Every field at once, resources as held: `apiCall` builds its entry with this. Setting
    /// `firstResource`/`otherResources` after an init made the optimizer copy the whole
    /// entry (a retain of each String) and destroy the old one (a release of each), twice.
    /// (One such copy remains, into the return slot; not inlining this keeps it here.)
    @inline(never)
    init(time: Double, eventName: String, source: AuditEventSource, account: String, username: String,
         accessKeyId: String, readOnly: Bool, eventID: AuditID, firstResource: String?, otherResources: [String],
         requestID: AuditID, succeeded: Bool, tracksKeyUsage: Bool) {
        self.time = time
        self.eventName = eventName
        self.source = source
        self.account = account
        self.username = username
        self.accessKeyId = accessKeyId
        self.readOnly = readOnly
        eventIDValue = eventID
        self.firstResource = firstResource
        self.otherResources = otherResources
        requestIDValue = requestID
        self.succeeded = succeeded
        self.tracksKeyUsage = tracksKeyUsage
    }

    var eventID: String { eventIDValue.string }
    var requestID: String { requestIDValue.string }
    /// The key ARNs, as an array (for the readers: lookups, the shipper).
    var resources: [String] {
        guard let firstResource else { return [] }
        return [firstResource] + otherResources
    }

    /// Calls `body` with each key ARN, without building an array.
    func forEachResource(_ body: (String) -> Void) {
        guard let firstResource else { return }
        body(firstResource)
        for arn in otherResources { body(arn) }
    }

    func containsResource(where predicate: (String) -> Bool) -> Bool {
        guard let firstResource else { return false }
        return predicate(firstResource) || otherResources.contains(where: predicate)
    }
}

/// An eventID or requestID in the index. The service's own are UUID-shaped (lowercase
/// hex, 8-4-4-4-12) and kept as their 128 bits; anything else (an edited trail read back,
/// tests) is kept as given. A UUID-shaped text always becomes `.uuid`, so equality of
/// two AuditIDs is equality of their texts.
enum AuditID: Sendable, Equatable {
    case uuid(UInt64, UInt64)
    case text(String)

    init(_ text: String) {
        var copy = text
        self = copy.withUTF8 { Self.parse($0) } ?? .text(text)
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> AuditID? {
        guard b.count == 36 else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0, n = 0
        for i in 0..<36 {
            let c = b[i]
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c &- UInt8(ascii: "a") &+ 10
            default: return nil
            }
            if n < 16 { high = high << 4 | UInt64(v) } else { low = low << 4 | UInt64(v) }
            n += 1
        }
        return .uuid(high, low)
    }

    var string: String {
        switch self {
        case .text(let text):
            return text
        case .uuid(let high, let low):
            var out: [UInt8] = []
            out.reserveCapacity(36)
            for i in 0..<32 {
                if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
                let word = i < 16 ? high : low
                out.append(EventID.digits[Int((word >> UInt64((15 - i % 16) * 4)) & 0xF)])
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}

/// Builds one CloudTrail record (eventVersion 1.08) as JSON bytes, without its closing
/// brace: AuditLog appends the chain field `previousEventHash` and the brace when it
/// orders the record in the chain.
///
/// requestParameters and responseElements come from allow-lists per operation
/// (AuditFields), never from copying the request: plaintexts, ciphertexts, data keys,
/// signatures, MACs, public keys of key agreement and grant tokens are never named there.
enum AuditRecord {
    static let version = "1.08"

    /// The bytes to reserve for a call's event: 992 when it likely fits (an Encrypt
    /// record is ~820), so that the buffer with its 32-byte header stays within malloc's
    /// per-thread cache (up to 1,032 bytes); 1,024 took the slower shared path every call.
    static func capacity(_ context: AuditRequestContext, _ caller: Caller?) -> Int {
        let estimate = 760 + context.userAgent.utf8.count + (caller?.principalArn.utf8.count ?? 0)
        return estimate <= 992 ? 992 : estimate + 256
    }

    /// A record for a call (eventType AwsApiCall). `caller` is nil when authentication
    /// failed; the event then belongs to `fallbackAccount` (the service's root account).
    /// `cache`: the connection's previous renderings, reused where their inputs are equal.
    static func apiCall(into out: inout [UInt8], context: AuditRequestContext, source: AuditEventSource,
                        eventName: String, caller: Caller?, fallbackAccount: String, region: String,
                        request: JSONObject?, response: JSONObject?, error: KMSError?,
                        cache: AuditEventCache? = nil) -> AuditIndexEntry {
        apiCall(into: &out, context: context, source: source, eventName: eventName, caller: caller,
                fallbackAccount: fallbackAccount, region: region, request: request, response: response,
                errorCode: error?.code.rawValue, errorMessage: error?.message, requestParameters: nil, responseElements: nil,
                cache: cache)
    }

    /// A query-protocol call (IAM, STS): requestParameters and responseElements come already
    /// filtered by the service's allow-lists; error codes are the service's own strings.
    static func apiCall(into out: inout [UInt8], context: AuditRequestContext, source: AuditEventSource,
                        eventName: String, caller: Caller?, fallbackAccount: String, region: String,
                        requestParameters: JSONObject?, responseElements: JSONObject?,
                        errorCode: String?, errorMessage: String?) -> AuditIndexEntry {
        apiCall(into: &out, context: context, source: source, eventName: eventName, caller: caller,
                fallbackAccount: fallbackAccount, region: region, request: nil, response: nil,
                errorCode: errorCode, errorMessage: errorMessage,
                requestParameters: .some(requestParameters), responseElements: .some(responseElements), cache: nil)
    }

    /// `requestParameters`/`responseElements` non-nil: written as given (query services);
    /// nil: from `request`/`response` through the KMS allow-lists.
    private static func apiCall(into out: inout [UInt8], context: AuditRequestContext, source: AuditEventSource,
                                eventName: String, caller: Caller?, fallbackAccount: String, region: String,
                                request: JSONObject?, response: JSONObject?, errorCode: String?, errorMessage: String?,
                                requestParameters: JSONObject??, responseElements: JSONObject??,
                                cache: AuditEventCache?) -> AuditIndexEntry {
        let error = errorCode
        let account = caller?.account ?? fallbackAccount
        let profile = cache?.profile(eventName) ?? AuditFields.profile(eventName)
        let readOnly = profile.readOnly
        AuditBytes.append(#"{"eventVersion":"1.08","userIdentity":"#, to: &out)
        let username = writeIdentity(caller, cache: cache, into: &out)
        // A trusted service's call on the user's behalf: CloudTrail names the service in
        // userIdentity.invokedBy, sourceIPAddress and userAgent.
        let invokedBy = caller?.invokedBy
        if let invokedBy { writeInvokedBy(invokedBy, into: &out) }
        AuditBytes.append(#","eventTime":"#, to: &out)
        if let cache {
            cache.writeTime(seconds: wholeSeconds(context.time), to: &out)
        } else {
            writeTime(context.time, into: &out)
        }
        if let cache, invokedBy == nil {
            if !cache.writeOrigin(source: source, eventName: eventName, region: region, sourceIP: context.sourceIP,
                                  userAgent: context.userAgent, to: &out) {
                let start = out.count
                writeOrigin(source: source, eventName: eventName, region: region, sourceIP: context.sourceIP,
                            userAgent: context.userAgent, into: &out)
                cache.storeOrigin(source: source, eventName: eventName, region: region, sourceIP: context.sourceIP,
                                  userAgent: context.userAgent, out[start...])
            }
        } else {
            writeOrigin(source: source, eventName: eventName, region: region, sourceIP: invokedBy ?? context.sourceIP,
                        userAgent: invokedBy ?? context.userAgent, into: &out)
        }
        if let error {
            AuditBytes.append(#","errorCode":"#, to: &out)
            AuditBytes.string(error, to: &out)
            if let message = errorMessage {
                AuditBytes.append(#","errorMessage":"#, to: &out)
                AuditBytes.string(message, to: &out)
            }
        }
        AuditBytes.append(#","requestParameters":"#, to: &out)
        if let requestParameters {
            if let p = requestParameters { JSONWriter.write(.object(p), into: &out) } else { AuditBytes.append("null", to: &out) }
        } else {
            AuditFields.writeRequestParameters(profile, request, into: &out)
        }
        // The key ARNs, found once: `resources`, and responseElements.keyId where AWS logs it.
        let resources = AuditFields.resources(request: request, response: error == nil ? response : nil,
                                              region: region, account: account)
        AuditBytes.append(#","responseElements":"#, to: &out)
        if let responseElements {
            if let r = responseElements, error == nil { JSONWriter.write(.object(r), into: &out) } else { AuditBytes.append("null", to: &out) }
        } else if error == nil, response != nil, profile.response != nil || profile.responseKeyArn {
            let keyArn = profile.responseKeyArn ? resources.first : nil
            AuditFields.writeResponseElements(profile, response, keyArn: keyArn, into: &out)
        } else {
            // No allow-list and no key ARN (reads and cryptographic operations): null, as
            // writeResponseElements writes it.
            AuditBytes.append("null", to: &out)
        }
        AuditBytes.append(#","requestID":"#, to: &out)
        AuditBytes.string(context.requestID, to: &out)
        AuditBytes.append(#","eventID":"#, to: &out)
        let eventID = EventID.write(cache?.nextEventNumber() ?? EventID.next(), into: &out)
        var firstResource = resources.first
        if let cache, resources.others.isEmpty {
            firstResource = cache.tailResource
            if !cache.writeTail(readOnly: readOnly, arn: resources.first, account: account, tls: context.tls, to: &out) {
                let start = out.count
                writeTail(readOnly: readOnly, resources: resources, account: account, tls: context.tls, into: &out)
                cache.storeTail(readOnly: readOnly, arn: resources.first, account: account, tls: context.tls, out[start...])
                firstResource = cache.tailResource
            }
        } else {
            writeTail(readOnly: readOnly, resources: resources, account: account, tls: context.tls, into: &out)
        }
        // With a cache, the access key ID it holds (equal to the caller's, see identityAccessKeyId).
        let accessKeyId = caller == nil ? "" : cache?.identityAccessKeyId ?? caller?.accessKeyId ?? ""
        return AuditIndexEntry(time: context.time, eventName: eventName, source: source, account: account,
                               username: username, accessKeyId: accessKeyId, readOnly: readOnly, eventID: eventID,
                               firstResource: firstResource, otherResources: resources.others,
                               requestID: context.requestIDValue ?? AuditID(context.requestID), succeeded: error == nil,
                               tracksKeyUsage: profile.tracksKeyUsage && error == nil)
    }

    /// What KMS does by itself (eventType AwsServiceEvent): today, deleting a key at the
    /// end of its waiting period, recorded as CloudTrail records it (eventName DeleteKey).
    /// `details`: the event's serviceEventDetails (RotateKey: rotationType, keyOrigin, material IDs).
    static func serviceEvent(into out: inout [UInt8], eventName: String, time: Double, account: String,
                             region: String, keyArn: String, details: [(String, String)] = []) -> AuditIndexEntry {
        out.append(contentsOf: #"{"eventVersion":"1.08","userIdentity":{"accountId":"#.utf8)
        JSONWriter.writeString(account, into: &out)
        out.append(contentsOf: #","invokedBy":"kms.amazonaws.com"},"eventTime":"#.utf8)
        writeTime(time, into: &out)
        out.append(contentsOf: #","eventSource":"kms.amazonaws.com","eventName":"#.utf8)
        JSONWriter.writeString(eventName, into: &out)
        out.append(contentsOf: #","awsRegion":"#.utf8)
        JSONWriter.writeString(region, into: &out)
        out.append(contentsOf: #","sourceIPAddress":"kms.amazonaws.com","userAgent":"kms.amazonaws.com","requestParameters":null,"responseElements":null,"eventID":"#.utf8)
        let eventID = EventID.write(into: &out)
        out.append(contentsOf: #","readOnly":false"#.utf8)
        writeResources([keyArn], account: account, into: &out)
        out.append(contentsOf: #","eventType":"AwsServiceEvent","managementEvent":true,"recipientAccountId":"#.utf8)
        JSONWriter.writeString(account, into: &out)
        if !details.isEmpty {
            out.append(contentsOf: #","serviceEventDetails":{"#.utf8)
            for (i, (name, value)) in details.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(name, into: &out)
                out.append(UInt8(ascii: ":"))
                JSONWriter.writeString(value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #","eventCategory":"Management""#.utf8)
        return AuditIndexEntry(time: time, eventName: eventName, source: .kms, account: account, username: "",
                               accessKeyId: "", readOnly: false, eventID: eventID, resources: [keyArn],
                               isServiceEvent: true, requestID: .text(""), succeeded: false, tracksKeyUsage: false)
    }

    /// userIdentity, copied from `cache` when it rendered this caller's fields before.
    private static func writeIdentity(_ caller: Caller?, cache: AuditEventCache?, into out: inout [UInt8]) -> String {
        guard let cache, let caller else { return writeIdentity(caller, into: &out) }
        if cache.writeIdentity(caller, to: &out) { return cache.username }
        let start = out.count
        let username = writeIdentity(caller, into: &out)
        cache.storeIdentity(caller, out[start...], username: username)
        return username
    }

    /// userIdentity; returns the user name LookupEvents filters on ("root" for the root).
    static func writeIdentity(_ caller: Caller?, into out: inout [UInt8]) -> String {
        guard let caller else {
            AuditBytes.append(#"{"type":"Unknown"}"#, to: &out)
            return ""
        }
        if caller.principal.kind == .assumedRole, let roleArn = caller.principal.roleArn {
            return writeAssumedRoleIdentity(caller, roleArn: roleArn, into: &out)
        }
        let isRoot = isRootArn(caller.principalArn)
        AuditBytes.append(isRoot ? #"{"type":"Root","principalId":"# : #"{"type":"IAMUser","principalId":"#, to: &out)
        // The root's principalId is its account, as in AWS; a user's is its unique ID
        // (AIDA...), or its access key ID when it has none (dev mode).
        AuditBytes.string(isRoot ? caller.account : (caller.principal.userId ?? caller.accessKeyId), to: &out)
        AuditBytes.append(#","arn":"#, to: &out)
        AuditBytes.string(caller.principalArn, to: &out)
        AuditBytes.append(#","accountId":"#, to: &out)
        AuditBytes.string(caller.account, to: &out)
        AuditBytes.append(#","accessKeyId":"#, to: &out)
        AuditBytes.string(caller.accessKeyId, to: &out)
        var username = "root"
        if !isRoot {
            username = lastPathComponent(caller.principalArn)
            AuditBytes.append(#","userName":"#, to: &out)
            AuditBytes.string(username, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return username
    }

    /// What follows the ARN's last `/` (the whole ARN when it has none), by bytes: splitting
    /// built an array of substrings per event. A name of up to 15 bytes needs no allocation.
    static func lastPathComponent(_ arn: String) -> String {
        var arn = arn
        let tail = arn.withUTF8 { b -> String? in
            guard let slash = b.lastIndex(of: UInt8(ascii: "/")) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: b[(slash + 1)...]), as: UTF8.self)
        }
        return tail ?? arn
    }

    /// `,"invokedBy":"NAME.amazonaws.com"` inside the userIdentity object just written (its
    /// closing brace is moved after it).
    private static func writeInvokedBy(_ service: String, into out: inout [UInt8]) {
        guard out.last == UInt8(ascii: "}") else { return }
        out.removeLast()
        out.append(contentsOf: #","invokedBy":"#.utf8)
        JSONWriter.writeString(service, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// `arn:aws:iam::ACCOUNT:root`, by bytes (String.hasSuffix compares grapheme by grapheme).
    static func isRootArn(_ arn: String) -> Bool {
        let suffix = ":root".utf8
        let utf8 = arn.utf8
        return utf8.count >= suffix.count && utf8.suffix(suffix.count).elementsEqual(suffix)
    }

    /// `,"eventSource":...` through `"userAgent":"..."`: the same for every call of a
    /// connection that keeps its operation (AuditEventCache copies it).
    private static func writeOrigin(source: AuditEventSource, eventName: String, region: String, sourceIP: String,
                                    userAgent: String, into out: inout [UInt8]) {
        AuditBytes.append(#","eventSource":"#, to: &out)
        AuditBytes.string(source.rawValue, to: &out)
        AuditBytes.append(#","eventName":"#, to: &out)
        AuditBytes.string(eventName, to: &out)
        AuditBytes.append(#","awsRegion":"#, to: &out)
        AuditBytes.string(region, to: &out)
        AuditBytes.append(#","sourceIPAddress":"#, to: &out)
        AuditBytes.string(sourceIP, to: &out)
        AuditBytes.append(#","userAgent":"#, to: &out)
        AuditBytes.string(userAgent, to: &out)
    }

    /// `,"readOnly":...` to the end of the record (before its chain link): readOnly,
    /// resources, the fixed members, recipientAccountId and tlsDetails.
    private static func writeTail(readOnly: Bool, resources: AuditResources, account: String, tls: AuditTLS?,
                                  into out: inout [UInt8]) {
        AuditBytes.append(readOnly ? #","readOnly":true"# : #","readOnly":false"#, to: &out)
        if !resources.isEmpty { writeResources(resources, account: account, into: &out) }
        AuditBytes.append(#","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"#, to: &out)
        AuditBytes.string(account, to: &out)
        AuditBytes.append(#","eventCategory":"Management""#, to: &out)
        if let tls {
            AuditBytes.append(#","tlsDetails":{"tlsVersion":"#, to: &out)
            AuditBytes.string(tls.version, to: &out)
            AuditBytes.append(#","clientProvidedHostHeader":"#, to: &out)
            AuditBytes.string(tls.host, to: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeResources(_ arns: AuditResources, account: String, into out: inout [UInt8]) {
        AuditBytes.append(#","resources":["#, to: &out)
        var first = true
        arns.forEach { arn in
            writeResource(arn, account: account, first: first, into: &out)
            first = false
        }
        out.append(UInt8(ascii: "]"))
    }

    private static func writeResources(_ arns: [String], account: String, into out: inout [UInt8]) {
        AuditBytes.append(#","resources":["#, to: &out)
        for (i, arn) in arns.enumerated() { writeResource(arn, account: account, first: i == 0, into: &out) }
        out.append(UInt8(ascii: "]"))
    }

    private static func writeResource(_ arn: String, account: String, first: Bool, into out: inout [UInt8]) {
        if !first { out.append(UInt8(ascii: ",")) }
        AuditBytes.append(#"{"accountId":"#, to: &out)
        AuditBytes.string(accountOf(arn: arn) ?? account, to: &out)
        AuditBytes.append(#","type":"AWS::KMS::Key","ARN":"#, to: &out)
        AuditBytes.string(arn, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// The account field of `arn:aws:kms:REGION:ACCOUNT:...`, by bytes: ARN.parse splits
    /// the whole string and was a sixth of the audit stage's cost.
    static func accountOf(arn: String) -> String? {
        var arn = arn
        return arn.withUTF8 { b -> String? in
            var colons = 0, start = 0
            for i in 0..<b.count where b[i] == UInt8(ascii: ":") {
                colons += 1
                if colons == 4 { start = i + 1 }
                if colons == 5 {
                    guard i - start == 12 else { return nil }
                    return String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
                }
            }
            return nil
        }
    }

    /// Seconds since the epoch, for an event's time: clock_gettime (vDSO) directly, which
    /// is what Date() reads, without Foundation's conversions through the 2001 reference date.
    static func now() -> Double {
        var ts = timespec()
        guard clock_gettime(CLOCK_REALTIME, &ts) == 0 else { return Date().timeIntervalSince1970 }
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1_000_000_000
    }

    /// The whole second ISO8601Time.write renders `time` as (the same rounding).
    static func wholeSeconds(_ time: Double) -> Int64 {
        time.isFinite ? Int64(max(min(time, 9.0e15), -9.0e15).rounded(.down)) : 0
    }

    /// `"2026-11-29T12:00:00Z"`, CloudTrail's eventTime, straight into the event's bytes.
    static func writeTime(_ time: Double, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        ISO8601Time.write(time, into: &out)
        out.append(UInt8(ascii: "\""))
    }
}

/// eventIDs in the shape of a version-4 UUID: a random per-process prefix and a counter,
/// unique without a system call for randomness per event.
enum EventID {
    static let prefix: [UInt8] = {
        var g = SystemRandomNumberGenerator()
        return (0..<16).map { _ in digits[Int(g.next() % 16)] }
    }()
    static let counter = Atomic<UInt64>(0)
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)
    /// The counter values a connection's AuditEventCache takes at once, so that its events
    /// do not touch the counter the other event loops share (one atomic add per block).
    static let block: UInt64 = 1 << 16

    /// The ID's first 64 bits: the prefix's 16 digits with the version digit at 12.
    static let high: UInt64 = {
        var value: UInt64 = 0
        for i in 0..<16 {
            let c = i == 12 ? UInt8(ascii: "4") : prefix[i]
            value = value << 4 | UInt64(c <= UInt8(ascii: "9") ? c &- UInt8(ascii: "0") : c &- UInt8(ascii: "a") &+ 10)
        }
        return value
    }()

    /// `"XXXXXXXX-XXXX-4XXX-8`: the quote and the fixed first 20 characters of every ID.
    static let head: [UInt8] = {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for i in 0..<16 {
            if i == 8 || i == 12 { out.append(UInt8(ascii: "-")) }
            out.append(i == 12 ? UInt8(ascii: "4") : prefix[i])  // version 4
        }
        out.append(contentsOf: "-8".utf8)  // RFC 4122 variant
        return out
    }()

    /// The next counter value, unique in this process.
    static func next() -> UInt64 {
        counter.add(1, ordering: .relaxed).newValue
    }

    /// `block` counter values, from the returned one on, reserved for one caller.
    static func reserveBlock() -> UInt64 {
        counter.add(block, ordering: .relaxed).newValue - block + 1
    }

    /// Writes the next ID, quoted, straight into the event's bytes and returns it (for the
    /// index) as its 128 bits: no allocation.
    static func write(into out: inout [UInt8]) -> AuditID {
        write(next(), into: &out)
    }

    /// Writes the ID of counter value `n`, quoted: the prefix, then n's low 60 bits as
    /// 3 + 12 hex digits.
    static func write(_ n: UInt64, into out: inout [UInt8]) -> AuditID {
        out.append(contentsOf: head)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 17) { tail in
            var shift: UInt64 = 56
            for i in 0..<16 {
                if i == 3 { tail[i] = UInt8(ascii: "-"); continue }
                let v = UInt8(truncatingIfNeeded: (n >> shift) & 0xF)
                tail[i] = v < 10 ? v &+ 0x30 : v &+ 0x57
                shift &-= 4
            }
            tail[16] = UInt8(ascii: "\"")
            out.append(contentsOf: UnsafeBufferPointer(tail))
        }
        return .uuid(high, 0x8 << 60 | n & (1 << 60 - 1))
    }
}
