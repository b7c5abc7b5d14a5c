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
struct AuditIndexEntry: Sendable {
    var time: Double
    var eventName: String
    var source: AuditEventSource
    /// recipientAccountId: the account whose trail the event is in.
    var account: String
    var username: String
    var accessKeyId: String
    var readOnly: Bool
    var eventID: String
    var resources: [String]
    var isServiceEvent = false
    /// For GetKeyLastUsage: the request ID the client saw, and whether the call succeeded.
    var requestID = ""
    var succeeded = false
    /// A successful cryptographic call: AuditLog records it as its keys' last use.
    var tracksKeyUsage = false
    // Where the line is: set by AuditLog when it is written.
    var segment = 0
    var offset = 0
    var length = 0
    var sequence = 0
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

    /// A record for a call (eventType AwsApiCall). `caller` is nil when authentication
    /// failed; the event then belongs to `fallbackAccount` (the service's root account).
    static func apiCall(into out: inout [UInt8], context: AuditRequestContext, source: AuditEventSource,
                        eventName: String, caller: Caller?, fallbackAccount: String, region: String,
                        request: JSONObject?, response: JSONObject?, error: KMSError?) -> AuditIndexEntry {
        apiCall(into: &out, context: context, source: source, eventName: eventName, caller: caller,
                fallbackAccount: fallbackAccount, region: region, request: request, response: response,
                errorCode: error?.code.rawValue, errorMessage: error?.message, requestParameters: nil, responseElements: nil)
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
                requestParameters: .some(requestParameters), responseElements: .some(responseElements))
    }

    /// `requestParameters`/`responseElements` non-nil: written as given (query services);
    /// nil: from `request`/`response` through the KMS allow-lists.
    private static func apiCall(into out: inout [UInt8], context: AuditRequestContext, source: AuditEventSource,
                                eventName: String, caller: Caller?, fallbackAccount: String, region: String,
                                request: JSONObject?, response: JSONObject?, errorCode: String?, errorMessage: String?,
                                requestParameters: JSONObject??, responseElements: JSONObject??) -> AuditIndexEntry {
        let error = errorCode
        let account = caller?.account ?? fallbackAccount
        let profile = AuditFields.profile(eventName)
        let readOnly = profile.readOnly
        out.append(contentsOf: #"{"eventVersion":"1.08","userIdentity":"#.utf8)
        let username = writeIdentity(caller, into: &out)
        // A trusted service's call on the user's behalf: CloudTrail names the service in
        // userIdentity.invokedBy, sourceIPAddress and userAgent.
        let invokedBy = caller?.invokedBy
        if let invokedBy { writeInvokedBy(invokedBy, into: &out) }
        out.append(contentsOf: #","eventTime":"#.utf8)
        writeTime(context.time, into: &out)
        out.append(contentsOf: #","eventSource":"#.utf8)
        JSONWriter.writeString(source.rawValue, into: &out)
        out.append(contentsOf: #","eventName":"#.utf8)
        JSONWriter.writeString(eventName, into: &out)
        out.append(contentsOf: #","awsRegion":"#.utf8)
        JSONWriter.writeString(region, into: &out)
        out.append(contentsOf: #","sourceIPAddress":"#.utf8)
        JSONWriter.writeString(invokedBy ?? context.sourceIP, into: &out)
        out.append(contentsOf: #","userAgent":"#.utf8)
        JSONWriter.writeString(invokedBy ?? context.userAgent, into: &out)
        if let error {
            out.append(contentsOf: #","errorCode":"#.utf8)
            JSONWriter.writeString(error, into: &out)
            if let message = errorMessage {
                out.append(contentsOf: #","errorMessage":"#.utf8)
                JSONWriter.writeString(message, into: &out)
            }
        }
        out.append(contentsOf: #","requestParameters":"#.utf8)
        if let requestParameters {
            if let p = requestParameters { JSONWriter.write(.object(p), into: &out) } else { out.append(contentsOf: "null".utf8) }
        } else {
            AuditFields.writeRequestParameters(profile, request, into: &out)
        }
        // The key ARNs, found once: `resources`, and responseElements.keyId where AWS logs it.
        let resources = AuditFields.resources(request: request, response: error == nil ? response : nil,
                                              region: region, account: account)
        out.append(contentsOf: #","responseElements":"#.utf8)
        if let responseElements {
            if let r = responseElements, error == nil { JSONWriter.write(.object(r), into: &out) } else { out.append(contentsOf: "null".utf8) }
        } else {
            let keyArn = error == nil && profile.responseKeyArn ? resources.first : nil
            AuditFields.writeResponseElements(profile, error == nil ? response : nil, keyArn: keyArn, into: &out)
        }
        out.append(contentsOf: #","requestID":"#.utf8)
        JSONWriter.writeString(context.requestID, into: &out)
        out.append(contentsOf: #","eventID":"#.utf8)
        let eventID = EventID.write(into: &out)
        out.append(contentsOf: (readOnly ? #","readOnly":true"# : #","readOnly":false"#).utf8)
        if !resources.isEmpty { writeResources(resources, account: account, into: &out) }
        out.append(contentsOf: #","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"#.utf8)
        JSONWriter.writeString(account, into: &out)
        out.append(contentsOf: #","eventCategory":"Management""#.utf8)
        if let tls = context.tls {
            out.append(contentsOf: #","tlsDetails":{"tlsVersion":"#.utf8)
            JSONWriter.writeString(tls.version, into: &out)
            out.append(contentsOf: #","clientProvidedHostHeader":"#.utf8)
            JSONWriter.writeString(tls.host, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        return AuditIndexEntry(time: context.time, eventName: eventName, source: source, account: account,
                               username: username, accessKeyId: caller?.accessKeyId ?? "", readOnly: readOnly,
                               eventID: eventID, resources: resources, requestID: context.requestID, succeeded: error == nil,
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
                               isServiceEvent: true)
    }

    /// userIdentity; returns the user name LookupEvents filters on ("root" for the root).
    private static func writeIdentity(_ caller: Caller?, into out: inout [UInt8]) -> String {
        guard let caller else {
            out.append(contentsOf: #"{"type":"Unknown"}"#.utf8)
            return ""
        }
        if caller.principal.kind == .assumedRole, let roleArn = caller.principal.roleArn {
            return writeAssumedRoleIdentity(caller, roleArn: roleArn, into: &out)
        }
        let isRoot = isRootArn(caller.principalArn)
        out.append(contentsOf: (isRoot ? #"{"type":"Root","principalId":"# : #"{"type":"IAMUser","principalId":"#).utf8)
        // The root's principalId is its account, as in AWS; a user's is its unique ID
        // (AIDA...), or its access key ID when it has none (dev mode).
        JSONWriter.writeString(isRoot ? caller.account : (caller.principal.userId ?? caller.accessKeyId), into: &out)
        out.append(contentsOf: #","arn":"#.utf8)
        JSONWriter.writeString(caller.principalArn, into: &out)
        out.append(contentsOf: #","accountId":"#.utf8)
        JSONWriter.writeString(caller.account, into: &out)
        out.append(contentsOf: #","accessKeyId":"#.utf8)
        JSONWriter.writeString(caller.accessKeyId, into: &out)
        var username = "root"
        if !isRoot {
            username = caller.principalArn.split(separator: "/").last.map(String.init) ?? caller.principalArn
            out.append(contentsOf: #","userName":"#.utf8)
            JSONWriter.writeString(username, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return username
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

    private static func writeResources(_ arns: [String], account: String, into out: inout [UInt8]) {
        out.append(contentsOf: #","resources":["#.utf8)
        for (i, arn) in arns.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"accountId":"#.utf8)
            JSONWriter.writeString(accountOf(arn: arn) ?? account, into: &out)
            out.append(contentsOf: #","type":"AWS::KMS::Key","ARN":"#.utf8)
            JSONWriter.writeString(arn, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
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

    /// Writes the next ID, quoted, straight into the event's bytes and returns it (for the
    /// index): one allocation, for the String.
    static func write(into out: inout [UInt8]) -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        out.append(UInt8(ascii: "\""))
        let start = out.count
        for i in 0..<32 {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            if i == 12 { out.append(UInt8(ascii: "4")); continue }  // version 4
            if i == 16 { out.append(UInt8(ascii: "8")); continue }  // RFC 4122 variant
            out.append(i < 16 ? prefix[i] : digits[Int((n >> UInt64((31 - i) * 4)) & 0xF)])
        }
        let id = String(decoding: out[start...], as: UTF8.self)
        out.append(UInt8(ascii: "\""))
        return id
    }
}
