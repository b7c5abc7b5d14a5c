import ArgumentParser
import Foundation
import KMSServer
import KMSStorage

/// `kms audit`: the audit trail, offline (from the files alone, no server needed).
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Work with the audit trail under <data-dir>/audit.",
        subcommands: [Verify.self, Export.self, Tail.self, PublicKey.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the audit hash chain: report the first altered, missing, reordered or truncated record (exit 1), or that all is intact (exit 0).")

        @Option(name: .customLong("data-dir"), help: "Data directory (default ./kms-data).") var dataDir = "./kms-data"
        @Option(help: "Check records from this time (ISO 8601, e.g. 2026-11-29T12:00:00Z, or epoch seconds).") var from: String?
        @Option(help: "Check records up to this time.") var to: String?
        @Option(name: .customLong("public-key"), help: "File with the digest public key (from `kms audit public-key`); default: derived from <data-dir>/root.key.") var publicKey: String?

        func run() throws {
            let key = try publicKey.map { path -> AuditDigestPublicKey in
                guard let text = try? String(contentsOfFile: path, encoding: .utf8), let key = AuditDigestPublicKey(text: text) else {
                    throw ValidationError("\(path) is not an Ed25519 public key (PEM or base64)")
                }
                return key
            }
            let report = AuditVerifier.verify(dataDirectory: dataDir, from: try from.map(Self.time), to: try to.map(Self.time),
                                              publicKey: key)
            print("kms audit verify: \(report.message)")
            if !report.intact { throw ExitCode(1) }
        }

        static func time(_ text: String) throws -> Double {
            if let seconds = Double(text) { return seconds }
            guard let t = AuditVerifier.parseTime(text) else { throw ValidationError("not a time: \(text)") }
            return t
        }
    }

    /// Filters shared by export and tail.
    struct Filters: ParsableArguments {
        @Option(name: .customLong("data-dir"), help: "Data directory (default ./kms-data).") var dataDir = "./kms-data"
        @Option(help: "Records from this time (ISO 8601 or epoch seconds).") var from: String?
        @Option(help: "Records up to this time.") var to: String?
        @Option(help: "Records naming this key (key ID or ARN).") var key: String?
        @Option(help: "Records of this principal (principal ARN, access key ID, or user name such as root).") var principal: String?
        @Option(name: .customLong("event-name"), help: "Records of this event name (Encrypt, CreateKey, ...).") var eventName: String?

        func filter() throws -> AuditExport.Filter {
            AuditExport.Filter(from: try from.map(Verify.time), to: try to.map(Verify.time), key: key,
                               principal: principal, eventName: eventName)
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the audit records as JSON lines (one CloudTrail event a line, oldest first) to standard output.")
        @OptionGroup var filters: Filters

        func run() throws {
            try AuditExport.run(dataDirectory: filters.dataDir, filter: try filters.filter()) { print($0) }
        }
    }

    struct Tail: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the newest audit records as JSON lines, then follow the trail as it grows (until interrupted).")
        @OptionGroup var filters: Filters
        @Option(name: [.customShort("n"), .long], help: "How many existing records to show first (default 10).") var lines = 10
        @Flag(name: .customLong("no-follow"), help: "Stop after the existing records.") var noFollow = false

        func run() throws {
            // Unbuffered, a line at a time, for pipes into a log shipper.
            try AuditExport.run(dataDirectory: filters.dataDir, filter: try filters.filter(), last: max(0, lines),
                                follow: !noFollow) { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
        }
    }
}

extension AuditCommand {
    /// The public key of the signed digests, for auditors who verify elsewhere.
    struct PublicKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "public-key",
            abstract: "Print the Ed25519 public key (PEM) that verifies the audit trail's signed digests (derived from the root key).")
        @Option(name: .customLong("data-dir"), help: "Data directory (default ./kms-data).") var dataDir = "./kms-data"
        @Option(name: .customLong("root-key-file"), help: "Root key file (default <data-dir>/root.key).") var rootKeyFile: String?

        func run() throws {
            let path = rootKeyFile ?? dataDir + "/root.key"
            guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no root key at \(path)") }
            print(try AuditDigestSigner(rootKey: RootKey.loadOrCreate(path: path)).publicKey.pem, terminator: "")
        }
    }
}
