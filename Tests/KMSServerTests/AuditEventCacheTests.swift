import Foundation
import IAMPolicy
import Testing
import KMSCore
@testable import KMSServer

/// A connection's AuditEventCache must never change an event: every byte (but the eventID,
/// unique per event) and every index field is what rendering without it gives, whatever
/// sequence of callers, keys, outcomes and seconds the connection sees.
@Suite struct AuditEventCacheTests {
    static let account = "111122223333"
    static let keyId = "1234abcd-12ab-34cd-56ef-1234567890ab"
    static let keyArn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    static let otherArn = "arn:aws:kms:us-east-1:444455556666:key/0000abcd-12ab-34cd-56ef-1234567890ab"

    static let root = Caller(account: account, region: "us-east-1", accessKeyId: "AKIAROOT000000000001")
    static let rootOtherKey = Caller(account: account, region: "us-east-1", accessKeyId: "AKIAROOT000000000002")
    static let user = Caller(account: account, region: "us-east-1", accessKeyId: "AKIAUSER000000000001",
                             principalArn: "arn:aws:iam::111122223333:user/dev/alice",
                             principal: .user("arn:aws:iam::111122223333:user/dev/alice", userId: "AIDAALICE"))
    /// Same access key and ARN, another user ID (a user deleted and made again).
    static let userRecreated = Caller(account: account, region: "us-east-1", accessKeyId: "AKIAUSER000000000001",
                                      principalArn: "arn:aws:iam::111122223333:user/dev/alice",
                                      principal: .user("arn:aws:iam::111122223333:user/dev/alice", userId: "AIDAALICE2"))
    static let session: Caller = {
        let p = RequestPrincipal.assumedRole(roleArn: "arn:aws:iam::111122223333:role/ops/R", session: "s1", roleId: "AROAR")
        return Caller(account: account, region: "us-east-1", accessKeyId: "ASIASESSION000000001", principalArn: p.arn, principal: p)
    }()
    static let otherSession: Caller = {
        let p = RequestPrincipal.assumedRole(roleArn: "arn:aws:iam::111122223333:role/ops/R", session: "s2", roleId: "AROAR")
        return Caller(account: account, region: "us-east-1", accessKeyId: "ASIASESSION000000001", principalArn: p.arn, principal: p)
    }()
    static let via = root.acting(through: "secretsmanager")
    static let otherAccount = Caller(account: "444455556666", region: "us-east-1", accessKeyId: "AKIAROOT000000000001")

    struct Call {
        var eventName: String
        var caller: Caller?
        var request: JSONObject?
        var response: JSONObject?
        var error: KMSError?
        var time: Double
        var userAgent = "Boto3/1.43 md/Botocore#1.43"
        var tls: AuditTLS?
        var sourceIP = "10.0.0.1"
        var region = "us-east-1"
    }

    static func obj(_ entries: [(String, JSONValue)]) -> JSONObject { JSONObject(entries) }

    /// Calls a connection may see, in an order that changes one input at a time.
    static var calls: [Call] {
        let t = 1_700_000_000.25
        let encryptRequest = obj([("KeyId", .string(keyId)), ("Plaintext", .string("c2VjcmV0"))])
        let encryptAnswer = obj([("CiphertextBlob", .string("AQID")), ("KeyId", .string(keyArn)),
                                 ("EncryptionAlgorithm", .string("SYMMETRIC_DEFAULT"))])
        let otherAnswer = obj([("CiphertextBlob", .string("AQID")), ("KeyId", .string(otherArn)),
                               ("EncryptionAlgorithm", .string("SYMMETRIC_DEFAULT"))])
        let reEncryptAnswer = obj([("CiphertextBlob", .string("AQID")), ("SourceKeyId", .string(otherArn)), ("KeyId", .string(keyArn))])
        let createAnswer = obj([("KeyMetadata", .object(obj([("KeyId", .string(keyId)), ("Arn", .string(keyArn))])))])
        return [
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 0.5),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 1),
            Call(eventName: "Encrypt", caller: rootOtherKey, request: encryptRequest, response: encryptAnswer, time: t + 1),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: otherAnswer, time: t + 1),
            Call(eventName: "Encrypt", caller: otherAccount, request: encryptRequest, response: nil,
                 error: KMSError(.notFound, "Key 'x' does not exist"), time: t + 1),
            Call(eventName: "Encrypt", caller: user, request: encryptRequest, response: encryptAnswer, time: t + 2),
            Call(eventName: "Encrypt", caller: userRecreated, request: encryptRequest, response: encryptAnswer, time: t + 2),
            Call(eventName: "Decrypt", caller: session, request: obj([("CiphertextBlob", .string("AQID"))]), response: encryptAnswer,
                 time: t + 2, tls: AuditTLS(version: "TLSv1.3", host: "kms.local:8443")),
            Call(eventName: "Decrypt", caller: otherSession, request: obj([("CiphertextBlob", .string("AQID"))]), response: encryptAnswer,
                 time: t + 2),
            Call(eventName: "Encrypt", caller: via, request: encryptRequest, response: encryptAnswer, time: t + 3),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 3),
            Call(eventName: "ReEncrypt", caller: root, request: obj([("DestinationKeyId", .string(keyId))]), response: reEncryptAnswer,
                 time: t + 3),
            Call(eventName: "EnableKey", caller: root, request: obj([("KeyId", .string(keyId))]), response: JSONObject(), time: t + 3),
            Call(eventName: "CreateKey", caller: root, request: obj([("Description", .string("a \"quoted\"\n\\ key"))]),
                 response: createAnswer, time: t + 4, userAgent: "agent with \"quotes\" and \u{1}"),
            Call(eventName: "Encrypt", caller: nil, request: nil, response: nil,
                 error: KMSError(.serialization, "bad"), time: t + 4),
            Call(eventName: "Encrypt", caller: root, request: obj([("KeyId", .string("alias/x"))]), response: nil,
                 error: KMSError(.notFound, "Alias not found"), time: -1.5),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 5),
            // The origin's and the tail's inputs, one at a time.
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 5,
                 sourceIP: "10.0.0.2"),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 5,
                 region: "eu-west-1"),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 5,
                 userAgent: "Boto3/1.44"),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 5,
                 tls: AuditTLS(version: "TLSv1.3", host: "kms.local:8443")),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 5,
                 tls: AuditTLS(version: "TLSv1.3", host: "kms.local:9443")),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: encryptAnswer, time: t + 5,
                 tls: AuditTLS(version: "TLSv1.2", host: "kms.local:9443")),
            Call(eventName: "Encrypt", caller: root, request: obj([("KeyId", .string(keyId))]), response: nil,
                 error: KMSError(.disabled, "disabled"), time: t + 5),
            Call(eventName: "DisableKey", caller: root, request: obj([("KeyId", .string(keyId))]), response: JSONObject(), time: t + 5),
            Call(eventName: "GenerateRandom", caller: root, request: JSONObject(), response: obj([("Plaintext", .string("AQID"))]),
                 time: t + 5),
            Call(eventName: "Encrypt", caller: root, request: encryptRequest, response: reEncryptAnswer, time: t + 5),
        ]
    }

    static func render(_ call: Call, cache: AuditEventCache?) -> (bytes: [UInt8], entry: AuditIndexEntry) {
        var out: [UInt8] = []
        let context = AuditRequestContext(requestID: "0123abcd-4567-89ef-8000-00000000002a", time: call.time, sourceIP: call.sourceIP,
                                          userAgent: call.userAgent, tls: call.tls)
        let entry = AuditRecord.apiCall(into: &out, context: context, source: .kms, eventName: call.eventName, caller: call.caller,
                                        fallbackAccount: "000000000000", region: call.region, request: call.request,
                                        response: call.response, error: call.error, cache: cache)
        return (out, entry)
    }

    /// The event with its eventID (36 bytes after `"eventID":"`) blanked.
    static func withoutEventID(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let r = text.range(of: #""eventID":""#) else { return text }
        let start = r.upperBound, end = text.index(start, offsetBy: 36)
        return text.replacingCharacters(in: start..<end, with: String(repeating: "x", count: 36))
    }

    @Test func cachedEventsAreTheUncachedOnes() throws {
        let cache = AuditEventCache()
        // Twice through: every call after a different one (a miss) and after itself (a hit).
        for call in Self.calls + Self.calls + Self.calls.reversed() {
            for _ in 0..<2 {
                let plain = Self.render(call, cache: nil), cached = Self.render(call, cache: cache)
                #expect(Self.withoutEventID(cached.bytes) == Self.withoutEventID(plain.bytes))
                let a = plain.entry, b = cached.entry
                #expect(a.username == b.username && a.accessKeyId == b.accessKeyId && a.account == b.account)
                #expect(a.resources == b.resources && a.eventName == b.eventName && a.readOnly == b.readOnly)
                #expect(a.succeeded == b.succeeded && a.tracksKeyUsage == b.tracksKeyUsage && a.requestID == b.requestID)
                #expect(a.time == b.time && a.source == b.source)
                #expect(b.eventID == Self.eventID(cached.bytes) && a.eventID == Self.eventID(plain.bytes))
                #expect(a.eventID != b.eventID)
                // The event is valid JSON once the chain adds its closing brace.
                _ = try JSONParser.parse(cached.bytes + [UInt8(ascii: "}")])
            }
        }
    }

    static func eventID(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let r = text.range(of: #""eventID":""#) else { return "" }
        return String(text[r.upperBound..<text.index(r.upperBound, offsetBy: 36)])
    }

    /// The exact bytes of a root's Encrypt event, as the trail has always written them.
    @Test func anEncryptEventIsUnchanged() {
        let expected = #"{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333","accessKeyId":"AKIAROOT000000000001"},"eventTime":"2023-11-14T22:13:20Z","eventSource":"kms.amazonaws.com","eventName":"Encrypt","awsRegion":"us-east-1","sourceIPAddress":"10.0.0.1","userAgent":"Boto3/1.43 md/Botocore#1.43","requestParameters":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab"},"responseElements":null,"requestID":"0123abcd-4567-89ef-8000-00000000002a","eventID":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","readOnly":true,"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management""#
        let cache = AuditEventCache()
        for _ in 0..<3 {
            #expect(Self.withoutEventID(Self.render(Self.calls[0], cache: cache).bytes) == expected)
            #expect(Self.withoutEventID(Self.render(Self.calls[0], cache: nil).bytes) == expected)
        }
    }

    /// A user's failed ReEncrypt with strings that need escaping, byte for byte.
    @Test func escapedFieldsAreUnchanged() {
        let call = Call(eventName: "ReEncrypt", caller: Self.user,
                        request: Self.obj([("SourceKeyId", .string("k\"1")), ("DestinationKeyId", .string(Self.otherArn)),
                                           ("SourceEncryptionContext", .object(Self.obj([("a\\b", .string("c\u{7}"))])))]),
                        response: nil, error: KMSError(.notFound, "Key \"k\"1\" does not exist"),
                        time: 1_700_000_000, userAgent: "ua\t\"x\"")
        let expected = #"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAALICE","arn":"arn:aws:iam::111122223333:user/dev/alice","accountId":"111122223333","accessKeyId":"AKIAUSER000000000001","userName":"alice"},"eventTime":"2023-11-14T22:13:20Z","eventSource":"kms.amazonaws.com","eventName":"ReEncrypt","awsRegion":"us-east-1","sourceIPAddress":"10.0.0.1","userAgent":"ua\t\"x\"","errorCode":"NotFoundException","errorMessage":"Key \"k\"1\" does not exist","requestParameters":{"sourceKeyId":"k\"1","destinationKeyId":"arn:aws:kms:us-east-1:444455556666:key/0000abcd-12ab-34cd-56ef-1234567890ab","sourceEncryptionContext":{"a\\b":"c\u0007"}},"responseElements":null,"requestID":"0123abcd-4567-89ef-8000-00000000002a","eventID":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","readOnly":true,"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:111122223333:key/k\"1"},{"accountId":"444455556666","type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:444455556666:key/0000abcd-12ab-34cd-56ef-1234567890ab"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management""#
        let cache = AuditEventCache()
        #expect(Self.withoutEventID(Self.render(call, cache: nil).bytes) == expected)
        #expect(Self.withoutEventID(Self.render(call, cache: cache).bytes) == expected)
        #expect(Self.withoutEventID(Self.render(call, cache: cache).bytes) == expected)
    }

    /// The eight-bytes-at-a-time check agrees with the byte-by-byte one at every length
    /// and position, for every byte value.
    @Test func escapingCheckMatchesBytewise() {
        func bytewise(_ b: [UInt8]) -> Bool { b.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C } }
        for length in 0..<20 {
            for position in 0..<max(length, 1) {
                for value in 0...255 {
                    var b = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    if length > 0 { b[position] = UInt8(value) }
                    let fast = b.withUnsafeBufferPointer { AuditBytes.needsEscaping($0) }
                    #expect(fast == bytewise(b))
                    // Neighbours that might borrow into it: 0x80-0xFF and 0x00-0x1F around.
                    if length > 1 {
                        var c = b
                        c[(position + 1) % length] = 0xFF
                        #expect(c.withUnsafeBufferPointer { AuditBytes.needsEscaping($0) } == bytewise(c))
                        c[(position + 1) % length] = 0x21
                        #expect(c.withUnsafeBufferPointer { AuditBytes.needsEscaping($0) } == bytewise(c))
                    }
                }
            }
        }
        // Strings as JSONWriter writes them, multi-byte UTF-8 included.
        for s in ["", "plain", "é ü 日本 \u{1F600}", "tab\there", "q\"", "back\\slash", String(repeating: "x", count: 100) + "\u{1f}"] {
            var fast: [UInt8] = [], slow: [UInt8] = []
            AuditBytes.string(s, to: &fast)
            JSONWriter.writeString(s, into: &slow)
            #expect(fast == slow, "\(s)")
        }
    }

    /// IDs from a connection's reserved block and from the shared counter never collide.
    @Test func eventIDsFromBlocksAreUnique() {
        let a = AuditEventCache(), b = AuditEventCache()
        var seen = Set<String>()
        for i in 0..<3 * Int(EventID.block) + 10 {
            var out: [UInt8] = []
            let n = i % 3 == 0 ? a.nextEventNumber() : i % 3 == 1 ? b.nextEventNumber() : EventID.next()
            let id = EventID.write(n, into: &out)
            let text = String(decoding: out.dropFirst().dropLast(), as: UTF8.self)
            #expect(out.count == 38 && AuditID(text) == id && id.string == text)
            #expect(seen.insert(text).inserted)
        }
    }
}
