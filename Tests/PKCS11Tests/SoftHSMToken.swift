import Foundation
import PKCS11

/// A throwaway SoftHSM2 token in a temp dir (SOFTHSM2_CONF points at its own conf), or nil
/// when SoftHSM2 is not installed; CI installs it (.ci/run), so there the tests always run.
struct SoftHSMToken {
    static let modulePaths = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                              "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"]
    static var modulePath: String? { modulePaths.first { FileManager.default.fileExists(atPath: $0) } }
    static var required: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

    let directory: String
    let label: String
    let pin = "1234"

    /// SoftHSM2 reads SOFTHSM2_CONF once, when the module initializes: all tokens of one test
    /// process share one conf and token dir; each test uses its own token label.
    static let sharedDirectory: String = {
        let dir = NSTemporaryDirectory() + "kms-softhsm-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir + "/tokens", withIntermediateDirectories: true)
        try? "directories.tokendir = \(dir)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
            .write(toFile: dir + "/softhsm2.conf", atomically: true, encoding: .utf8)
        setenv("SOFTHSM2_CONF", dir + "/softhsm2.conf", 1)
        // SoftHSM2 sees only the tokens that exist when the module initializes: make them all now.
        for label in allLabels { try? initToken(label) }
        return dir
    }()

    static let allLabels = ["t-gcm", "t-pin", "t-slot", "t-conc", "t-close", "t-relogin", "t-random"]

    init?(label: String) throws {
        guard Self.modulePath != nil else { return nil }
        directory = Self.sharedDirectory
        self.label = label
        guard Self.allLabels.contains(label) else { throw PKCS11Error("add \(label) to SoftHSMToken.allLabels") }
    }

    static func initToken(_ label: String) throws {
        let pin = "1234"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/softhsm2-util")
        p.arguments = ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "5678"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw PKCS11Error("softhsm2-util --init-token failed") }
    }
}
