import Foundation
import Testing
@testable import KMSServer
import KMSStorage

/// What decides whether the server may start: listen address, data dir mode, root credentials.
@Suite struct ExposureTests {
    @Test func loopbackAddresses() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.1"] {
            #expect(ListenAddress.isLoopback(host), "\(host)")
        }
        for host in ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "192.168.1.1", "kms.example.com", "::2", "::ffff:10.0.0.1", ""] {
            #expect(!ListenAddress.isLoopback(host), "\(host)")
        }
    }

    @Test func urlHosts() {
        #expect(ListenAddress.urlHost("127.0.0.1") == "127.0.0.1")
        #expect(ListenAddress.urlHost("::1") == "[::1]")
        #expect(ListenAddress.urlHost("[::1]") == "[::1]")
    }

    @Test func plainHTTPOffLoopbackNeedsTheFlag() throws {
        #expect(throws: StartupRefusal.self) { try ListenAddress.requireSafe(host: "0.0.0.0", tls: false, insecureHTTP: false) }
        try ListenAddress.requireSafe(host: "0.0.0.0", tls: true, insecureHTTP: false)
        try ListenAddress.requireSafe(host: "0.0.0.0", tls: false, insecureHTTP: true)
        try ListenAddress.requireSafe(host: "127.0.0.1", tls: false, insecureHTTP: false)
    }

    @Test func rootCredentialSeedShapes() throws {
        _ = try RootCredentialSeed(accessKeyId: "AKIAABCDEFGHIJKLMNOP", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        _ = try RootCredentialSeed(accessKeyId: String(repeating: "A", count: 128), secretAccessKey: String(repeating: "s", count: 16))
        let bad: [(String, String)] = [
            ("AKIASHORT", String(repeating: "s", count: 40)),                 // access key < 16
            (String(repeating: "A", count: 129), String(repeating: "s", count: 40)),
            ("AKIA_UNDERSCORE_0001", String(repeating: "s", count: 40)),      // not alphanumeric
            ("AKIAABCDEFGHIJKLMNOP", "short-secret"),                        // secret < 16
            ("AKIAABCDEFGHIJKLMNOP", String(repeating: "s", count: 20) + " x"),  // whitespace
            ("AKIAABCDEFGHIJKLMNOP", String(repeating: "s", count: 20) + "%"),   // breaks config parsers
        ]
        for (id, secret) in bad {
            let error = #expect(throws: RootCredentialError.self) { try RootCredentialSeed(accessKeyId: id, secretAccessKey: secret) }
            #expect(error?.description.contains(secret) == false, "a refusal must not echo the secret")
        }
    }

    @Test func seedMatchesOnlyItsOwnCredential() throws {
        let seed = try RootCredentialSeed(accessKeyId: "AKIAABCDEFGHIJKLMNOP", secretAccessKey: String(repeating: "s", count: 40))
        let same = StoredCredential(accessKeyId: seed.accessKeyId, secretAccessKey: seed.secretAccessKey, account: "000000000000", principalArn: "p")
        let otherSecret = StoredCredential(accessKeyId: seed.accessKeyId, secretAccessKey: String(repeating: "t", count: 40), account: "000000000000", principalArn: "p")
        let otherId = StoredCredential(accessKeyId: "AKIAZZZZZZZZZZZZZZZZ", secretAccessKey: seed.secretAccessKey, account: "000000000000", principalArn: "p")
        #expect(seed.matches(same))
        #expect(!seed.matches(otherSecret))
        #expect(!seed.matches(otherId))
    }

    @Test func dataDirModeIsRecordedAndEnforced() throws {
        let dir = NSTemporaryDirectory() + "kms-mode-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try DataDirectory.prepare(path: dir, mode: .dev) == nil)
        #expect(try String(contentsOfFile: dir + "/mode", encoding: .utf8) == "dev\n")
        let attrs = try FileManager.default.attributesOfItem(atPath: dir)
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        let refusal = #expect(throws: (any Error).self) { try DataDirectory.prepare(path: dir, mode: .production) }
        #expect(String(describing: refusal).contains("--dev"))
        #expect(try DataDirectory.prepare(path: dir, mode: .dev) == nil)

        // An earlier version's data dir (a database, no mode record) is adopted once.
        try FileManager.default.removeItem(atPath: dir + "/mode")
        let adopted = try DataDirectory.prepare(path: dir, mode: .production)
        #expect(adopted?.contains("adopted") == true)
        #expect(try String(contentsOfFile: dir + "/mode", encoding: .utf8) == "production\n")
        #expect(throws: (any Error).self) { try DataDirectory.prepare(path: dir, mode: .dev) }
    }
}
