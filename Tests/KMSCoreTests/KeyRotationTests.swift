import Synchronization
import Testing
@testable import KMSCore

/// Rotation driven by a manual clock: years of automatic rotations in milliseconds.
@Suite struct KeyRotationTests {
    let clock = ManualClock()
    let service: KMSService
    let alice = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAALICE")
    static let day = 86_400.0

    init() throws {
        service = try KMSService(store: InMemoryKeyStore(), clock: clock)
    }

    @discardableResult
    func call(_ op: String, _ body: JSONObject) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(body), caller: alice)
    }

    func id(_ keyId: String) -> JSONObject { JSONObject([("KeyId", .string(keyId))]) }

    func createKey(_ extra: [(String, JSONValue)] = []) throws -> String {
        let out = try call("CreateKey", JSONObject(extra))
        return try #require(out["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
    }

    func encrypt(_ keyId: String, _ text: String) throws(KMSError) -> JSONObject {
        try call("Encrypt", JSONObject([("KeyId", .string(keyId)), ("Plaintext", .string(Base64.encode(Array(text.utf8))))]))
    }

    func decrypt(_ blob: String) throws(KMSError) -> JSONObject {
        try call("Decrypt", JSONObject([("CiphertextBlob", .string(blob))]))
    }

    func currentMaterialId(_ keyId: String) throws -> String {
        try #require(try call("DescribeKey", id(keyId))["KeyMetadata"]?.objectValue?["CurrentKeyMaterialId"]?.stringValue)
    }

    @Test func statusStartsDisabledAndFollowsEnableDisable() throws {
        let keyId = try createKey()
        var status = try call("GetKeyRotationStatus", id(keyId))
        #expect(status["KeyRotationEnabled"] == .bool(false))
        #expect(status["NextRotationDate"] == nil)
        try call("EnableKeyRotation", id(keyId))
        status = try call("GetKeyRotationStatus", id(keyId))
        #expect(status["KeyRotationEnabled"] == .bool(true))
        #expect(status["RotationPeriodInDays"]?.intValue == 365)
        #expect(status["NextRotationDate"]?.doubleValue == clock.now() + 365 * Self.day)
        // A new period moves the next date but keeps the schedule's base.
        let enabledAt = clock.now()
        clock.advance(by: 10 * Self.day)
        var body = id(keyId)
        body["RotationPeriodInDays"] = JSONValue(90)
        try call("EnableKeyRotation", body)
        status = try call("GetKeyRotationStatus", id(keyId))
        #expect(status["RotationPeriodInDays"]?.intValue == 90)
        #expect(status["NextRotationDate"]?.doubleValue == enabledAt + 90 * Self.day)
        try call("DisableKeyRotation", id(keyId))
        status = try call("GetKeyRotationStatus", id(keyId))
        #expect(status["KeyRotationEnabled"] == .bool(false))
        #expect(status["NextRotationDate"] == nil)
    }

    @Test func periodBounds() throws {
        let keyId = try createKey()
        for days in [89, 2561] {
            var body = id(keyId)
            body["RotationPeriodInDays"] = JSONValue(days)
            do { try call("EnableKeyRotation", body); Issue.record("period \(days) accepted") } catch { #expect(error.code == .validation) }
        }
        for days in [90, 2560] {
            var body = id(keyId)
            body["RotationPeriodInDays"] = JSONValue(days)
            try call("EnableKeyRotation", body)
        }
    }

    @Test func onlySymmetricAwsKmsKeysRotate() throws {
        let hmac = try createKey([("KeySpec", .string("HMAC_256")), ("KeyUsage", .string("GENERATE_VERIFY_MAC"))])
        let ecc = try createKey([("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("SIGN_VERIFY"))])
        for keyId in [hmac, ecc] {
            for op in ["EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand", "ListKeyRotations"] {
                do { try call(op, id(keyId)); Issue.record("\(op) accepted \(keyId)") } catch {
                    #expect(error == KMSError(.unsupportedOperation, "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage."))
                }
            }
            #expect(try call("GetKeyRotationStatus", id(keyId))["KeyRotationEnabled"] == .bool(false))
        }
    }

    @Test func keyStateRules() throws {
        let keyId = try createKey()
        try call("DisableKey", id(keyId))
        for op in ["EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand"] {
            do { try call(op, id(keyId)); Issue.record("\(op) on a disabled key") } catch { #expect(error.code == .disabled) }
        }
        try call("EnableKey", id(keyId))
        try call("EnableKeyRotation", id(keyId))
        try call("ScheduleKeyDeletion", JSONObject([("KeyId", .string(keyId)), ("PendingWindowInDays", JSONValue(7))]))
        #expect(try call("GetKeyRotationStatus", id(keyId))["KeyRotationEnabled"] == .bool(false))
        do { try call("RotateKeyOnDemand", id(keyId)); Issue.record("rotated a key pending deletion") } catch { #expect(error.code == .kmsInvalidState) }
        try call("CancelKeyDeletion", id(keyId))
        #expect(try call("GetKeyRotationStatus", id(keyId))["KeyRotationEnabled"] == .bool(true))
    }

    @Test func onDemandRotationKeepsOldCiphertextsAndStopsAtTheLimit() throws {
        let keyId = try createKey()
        let blob = try #require(try encrypt(keyId, "first")["CiphertextBlob"]?.stringValue)
        let firstMaterial = try #require(try decrypt(blob)["KeyMaterialId"]?.stringValue)
        #expect(firstMaterial == (try currentMaterialId(keyId)))
        for _ in 0..<KeyRotation.onDemandLimit {
            let out = try call("RotateKeyOnDemand", id(keyId))
            #expect(out["KeyId"]?.stringValue?.hasSuffix(keyId) == true)
        }
        do { try call("RotateKeyOnDemand", id(keyId)); Issue.record("26th on-demand rotation accepted") } catch { #expect(error.code == .limitExceeded) }
        let current = try currentMaterialId(keyId)
        #expect(current != firstMaterial)
        let opened = try decrypt(blob)
        #expect(opened["Plaintext"]?.stringValue == Base64.encode(Array("first".utf8)))
        #expect(opened["KeyMaterialId"]?.stringValue == firstMaterial)
        // ReEncrypt to the same key moves the ciphertext to the current material.
        let moved = try call("ReEncrypt", JSONObject([("CiphertextBlob", .string(blob)), ("DestinationKeyId", .string(keyId))]))
        #expect(moved["SourceKeyMaterialId"]?.stringValue == firstMaterial)
        #expect(moved["DestinationKeyMaterialId"]?.stringValue == current)
        let reopened = try decrypt(try #require(moved["CiphertextBlob"]?.stringValue))
        #expect(reopened["KeyMaterialId"]?.stringValue == current)
        // An on-demand rotation does not move the automatic schedule.
        let rotations = try call("ListKeyRotations", id(keyId))
        #expect(rotations["Rotations"]?.arrayValue?.count == KeyRotation.onDemandLimit)
        #expect(rotations["Rotations"]?.arrayValue?.allSatisfy { $0.objectValue?["RotationType"]?.stringValue == "ON_DEMAND" } == true)
    }

    @Test func aHundredYearsOfAutomaticRotationsKeepTheFirstCiphertext() throws {
        let keyId = try createKey()
        try call("CreateAlias", JSONObject([("AliasName", .string("alias/rotating")), ("TargetKeyId", .string(keyId))]))
        let policy = try call("GetKeyPolicy", JSONObject([("KeyId", .string(keyId)), ("PolicyName", .string("default"))]))["Policy"]
        let blob = try #require(try encrypt(keyId, "year zero")["CiphertextBlob"]?.stringValue)
        var body = id(keyId)
        body["RotationPeriodInDays"] = JSONValue(365)
        try call("EnableKeyRotation", body)
        var materialIds: Set<String> = [try currentMaterialId(keyId)]
        #expect(try service.rotateDueKeys().isEmpty)
        for year in 1...100 {
            clock.advance(by: 365 * Self.day - 1)
            #expect(try service.rotateDueKeys().isEmpty, "rotated early in year \(year)")
            clock.advance(by: 1)
            #expect(try service.rotateDueKeys().count == 1, "no rotation in year \(year)")
            #expect(try service.rotateDueKeys().isEmpty, "rotated twice in year \(year)")
            materialIds.insert(try currentMaterialId(keyId))
            let status = try call("GetKeyRotationStatus", id(keyId))
            #expect(status["NextRotationDate"]?.doubleValue == clock.now() + 365 * Self.day)
        }
        #expect(materialIds.count == 101)
        let opened = try decrypt(blob)
        #expect(opened["Plaintext"]?.stringValue == Base64.encode(Array("year zero".utf8)))
        // The alias, policy and ARN stay; the alias encrypts under the newest material.
        let viaAlias = try encrypt("alias/rotating", "now")
        #expect(viaAlias["KeyId"]?.stringValue == "arn:aws:kms:us-east-1:111122223333:key/\(keyId)")
        #expect(try decrypt(#require(viaAlias["CiphertextBlob"]?.stringValue))["KeyMaterialId"]?.stringValue == (try currentMaterialId(keyId)))
        #expect(try call("GetKeyPolicy", JSONObject([("KeyId", .string(keyId)), ("PolicyName", .string("default"))]))["Policy"] == policy)
        // Paging through 100 rotations 7 at a time sees each once, oldest first, all AUTOMATIC.
        var seen: [String] = []
        var marker: String?
        repeat {
            var page = id(keyId)
            page["Limit"] = JSONValue(7)
            if let marker { page["Marker"] = .string(marker) }
            let out = try call("ListKeyRotations", page)
            let entries = try #require(out["Rotations"]?.arrayValue)
            #expect(entries.count <= 7)
            for e in entries {
                let o = try #require(e.objectValue)
                #expect(o["RotationType"]?.stringValue == "AUTOMATIC")
                seen.append(try #require(o["KeyMaterialId"]?.stringValue))
            }
            marker = out["NextMarker"]?.stringValue
            #expect(out["Truncated"] == .bool(marker != nil))
        } while marker != nil
        #expect(seen.count == 100 && Set(seen).count == 100)
        #expect(seen.last == (try currentMaterialId(keyId)))
        let all = try call("ListKeyRotations", JSONObject([("KeyId", .string(keyId)), ("IncludeKeyMaterial", .string("ALL_KEY_MATERIAL")), ("Limit", JSONValue(1000))]))
        let entries = try #require(all["Rotations"]?.arrayValue)
        #expect(entries.count == 101)
        #expect(entries.first?.objectValue?["RotationDate"] == nil)
        #expect(entries.filter { $0.objectValue?["KeyMaterialState"]?.stringValue == "CURRENT" }.count == 1)
    }

    @Test func disabledKeysAreNotRotatedUntilEnabledAgain() throws {
        let keyId = try createKey()
        var body = id(keyId)
        body["RotationPeriodInDays"] = JSONValue(90)
        try call("EnableKeyRotation", body)
        try call("DisableKey", id(keyId))
        clock.advance(by: 91 * Self.day)
        #expect(try service.rotateDueKeys().isEmpty)
        try call("EnableKey", id(keyId))
        #expect(try service.rotateDueKeys().count == 1)
        try call("DisableKeyRotation", id(keyId))
        clock.advance(by: 1000 * Self.day)
        #expect(try service.rotateDueKeys().isEmpty)
    }

    /// Each on-demand rotation that stores new material is reported once for the audit trail's
    /// RotateKey service event (rotationType ON_DEMAND, the material IDs before and after); a
    /// refused rotation reports nothing.
    @Test func onDemandRotationsAreReportedForTheRotateKeyEvent() throws {
        let seen = RotationEventLog()
        service.rotationEvents.install { event in seen.events.withLock { $0.append(event) } }
        let keyId = try createKey()
        let before = try currentMaterialId(keyId)
        try call("RotateKeyOnDemand", id(keyId))
        let events = seen.events.withLock { $0 }
        let arn = ARN.key(keyId, region: "us-east-1", account: "111122223333")
        #expect(events == [KeyRotationEvent(account: "111122223333", region: "us-east-1", keyArn: arn, rotationType: "ON_DEMAND",
                                            keyOrigin: "AWS_KMS", previousKeyMaterialId: before,
                                            currentKeyMaterialId: try currentMaterialId(keyId))])
        try call("DisableKey", id(keyId))
        #expect(throws: KMSError.self) { try call("RotateKeyOnDemand", id(keyId)) }
        #expect(seen.events.withLock { $0.count } == 1)
    }
}

/// What the service reported to the rotation event sink (a test's stand-in for the audit trail).
final class RotationEventLog: Sendable {
    let events = Mutex<[KeyRotationEvent]>([])
}
