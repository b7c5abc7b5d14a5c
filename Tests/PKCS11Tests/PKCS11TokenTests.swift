import Foundation
import PKCS11
import Testing

@Suite(.serialized) struct PKCS11TokenTests {
    static let available = SoftHSMToken.modulePath != nil || SoftHSMToken.required

    @Test(.enabled(if: available, "SoftHSM2 is not installed (apt-get install softhsm2)"))
    func generatesNonExtractableKeyAndRunsGCMInToken() throws {
        let hsm = try #require(try SoftHSMToken(label: "t-gcm"))
        let module = try PKCS11Module(path: try #require(SoftHSMToken.modulePath))
        let token = try PKCS11Token(module: module, selector: .label(hsm.label), pin: hsm.pin)
        #expect(try token.findAESKey(label: "root") == nil)
        let key = try token.generateAESKey(label: "root")
        let sealed = try key.sealGCM(Array("secret material".utf8), aad: Array("row 1".utf8))
        #expect(sealed.count == 12 + 15 + 16)
        #expect(try key.openGCM(sealed, aad: Array("row 1".utf8)) == Array("secret material".utf8))
        // The AAD binds the value to its row; a flipped byte is refused.
        #expect(throws: PKCS11Error.self) { try key.openGCM(sealed, aad: Array("row 2".utf8)) }
        var tampered = sealed
        tampered[13] ^= 1
        #expect(throws: PKCS11Error.self) { try key.openGCM(tampered, aad: Array("row 1".utf8)) }
        // Found again by label from a fresh login (a restart), and still opens what it sealed.
        let again = try #require(try PKCS11Token(module: module, selector: .label(hsm.label), pin: hsm.pin).findAESKey(label: "root"))
        #expect(try again.openGCM(sealed, aad: Array("row 1".utf8)) == Array("secret material".utf8))
        #expect(try again.openGCM(try key.sealGCM([], aad: []), aad: []) == [])
    }

    @Test(.enabled(if: available, "SoftHSM2 is not installed (apt-get install softhsm2)"))
    func generateRandomComesFromTheToken() throws {
        let hsm = try #require(try SoftHSMToken(label: "t-random"))
        let module = try PKCS11Module(path: try #require(SoftHSMToken.modulePath))
        let token = try PKCS11Token(module: module, selector: .label(hsm.label), pin: hsm.pin)
        defer { token.close() }
        let a = try token.generateRandom(count: 1024), b = try token.generateRandom(count: 1024)
        #expect(a.count == 1024 && b.count == 1024)
        #expect(a != b)
        #expect(Set(a).count > 200, "1024 random bytes take most of the 256 values")
        #expect(try token.generateRandom(count: 0) == [])
    }

    @Test(.enabled(if: available, "SoftHSM2 is not installed (apt-get install softhsm2)"))
    func wrongPinAndMissingTokenFailClearly() throws {
        let hsm = try #require(try SoftHSMToken(label: "t-pin"))
        let module = try PKCS11Module(path: try #require(SoftHSMToken.modulePath))
        let wrong = #expect(throws: PKCS11Error.self) { try PKCS11Token(module: module, selector: .label(hsm.label), pin: "0000") }
        #expect(wrong?.description.contains("CKR_PIN_INCORRECT") == true)
        let missing = #expect(throws: PKCS11Error.self) { try PKCS11Token(module: module, selector: .label("no-such-token"), pin: hsm.pin) }
        #expect(missing?.description.contains("no-such-token") == true)
        #expect(throws: PKCS11Error.self) { try PKCS11Module(path: "/nonexistent/libpkcs11.so") }
    }

    /// Once the process is logged in, the token answers CKR_USER_ALREADY_LOGGED_IN to any PIN:
    /// a second login (another key store on the same token) must still need the right one.
    @Test(.enabled(if: available, "SoftHSM2 is not installed (apt-get install softhsm2)"))
    func aSecondLoginWhileLoggedInStillChecksThePin() throws {
        let hsm = try #require(try SoftHSMToken(label: "t-relogin"))
        let module = try PKCS11Module(path: try #require(SoftHSMToken.modulePath))
        let first = try PKCS11Token(module: module, selector: .label(hsm.label), pin: hsm.pin)
        let refused = #expect(throws: PKCS11Error.self) { try PKCS11Token(module: module, selector: .label(hsm.label), pin: "0000") }
        #expect(refused?.isIncorrectPIN == true)
        // A module loaded again (another PKCS11Module for the same library) shares the login.
        let other = try PKCS11Module(path: try #require(SoftHSMToken.modulePath))
        #expect(throws: PKCS11Error.self) { try PKCS11Token(module: other, selector: .label(hsm.label), pin: hsm.pin + "x") }
        let second = try PKCS11Token(module: other, selector: .label(hsm.label), pin: hsm.pin)
        let key = try first.generateAESKey(label: "k")
        #expect(try #require(try second.findAESKey(label: "k")).openGCM(try key.sealGCM([5], aad: []), aad: []) == [5])
        second.close()
        first.close()
    }

    @Test(.enabled(if: available, "SoftHSM2 is not installed (apt-get install softhsm2)"))
    func slotIdSelectsTheSameToken() throws {
        let hsm = try #require(try SoftHSMToken(label: "t-slot"))
        let module = try PKCS11Module(path: try #require(SoftHSMToken.modulePath))
        let slot = try module.slot(tokenLabel: hsm.label)
        let byLabel = try PKCS11Token(module: module, selector: .label(hsm.label), pin: hsm.pin)
        let key = try byLabel.generateAESKey(label: "k")
        let bySlot = try PKCS11Token(module: module, selector: .slot(slot), pin: hsm.pin)
        let found = try #require(try bySlot.findAESKey(label: "k"))
        #expect(try found.openGCM(try key.sealGCM([1, 2, 3], aad: [9]), aad: [9]) == [1, 2, 3])
    }

    @Test(.enabled(if: available, "SoftHSM2 is not installed (apt-get install softhsm2)"))
    func concurrentUseTakesSeparateSessions() async throws {
        let hsm = try #require(try SoftHSMToken(label: "t-conc"))
        let module = try PKCS11Module(path: try #require(SoftHSMToken.modulePath))
        let token = try PKCS11Token(module: module, selector: .label(hsm.label), pin: hsm.pin)
        let key = try token.generateAESKey(label: "k")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    for j in 0..<25 {
                        let msg = Array("\(i)-\(j)".utf8)
                        let out = try key.openGCM(try key.sealGCM(msg, aad: [UInt8(i)]), aad: [UInt8(i)])
                        guard out == msg else { throw PKCS11Error("mismatch") }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test(.enabled(if: available, "SoftHSM2 is not installed (apt-get install softhsm2)"))
    func closeEndsTheLoginAndLaterUseFails() throws {
        let hsm = try #require(try SoftHSMToken(label: "t-close"))
        let module = try PKCS11Module(path: try #require(SoftHSMToken.modulePath))
        let token = try PKCS11Token(module: module, selector: .label(hsm.label), pin: hsm.pin)
        let key = try token.generateAESKey(label: "k")
        let sealed = try key.sealGCM([7], aad: [])
        token.close()
        #expect(throws: PKCS11Error.self) { try key.sealGCM([7], aad: []) }
        // Logged out: a new login needs the right PIN again (an open login would accept any).
        let refused = #expect(throws: PKCS11Error.self) { try PKCS11Token(module: module, selector: .label(hsm.label), pin: "0000") }
        #expect(refused?.isIncorrectPIN == true)
        let again = try PKCS11Token(module: module, selector: .label(hsm.label), pin: hsm.pin)
        let found = try #require(try again.findAESKey(label: "k"))
        #expect(try found.openGCM(sealed, aad: []) == [7])
        _ = try again.generateAESKey(label: "1234abcd-12ab-34cd-56ef-1234567890ab")
        #expect(try again.aesKeyLabels() == ["1234abcd-12ab-34cd-56ef-1234567890ab", "k"])
        // A wrong AAD is a bad ciphertext, not a token failure.
        let bad = #expect(throws: PKCS11Error.self) { try found.openGCM(sealed, aad: [1]) }
        #expect(bad?.isBadCiphertext == true, "\(String(describing: bad))")
        again.close()
    }
}
