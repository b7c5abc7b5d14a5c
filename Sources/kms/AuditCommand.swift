import ArgumentParser
import Foundation
import KMSServer

/// `kms audit`: the audit trail, offline (from the files alone, no server needed).
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Work with the audit trail under <data-dir>/audit.",
        subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the audit hash chain: report the first altered, missing, reordered or truncated record (exit 1), or that all is intact (exit 0).")

        @Option(name: .customLong("data-dir"), help: "Data directory (default ./kms-data).") var dataDir = "./kms-data"
        @Option(help: "Check records from this time (ISO 8601, e.g. 2026-11-29T12:00:00Z, or epoch seconds).") var from: String?
        @Option(help: "Check records up to this time.") var to: String?

        func run() throws {
            let report = AuditVerifier.verify(dataDirectory: dataDir, from: try from.map(Self.time), to: try to.map(Self.time))
            print("kms audit verify: \(report.message)")
            if !report.intact { throw ExitCode(1) }
        }

        static func time(_ text: String) throws -> Double {
            if let seconds = Double(text) { return seconds }
            guard let t = AuditVerifier.parseTime(text) else { throw ValidationError("not a time: \(text)") }
            return t
        }
    }
}
