import ArgumentParser
import Foundation
import KMSServer
import KMSStorage

/// `kms admin rewrap --from ROOT --to ROOT` (issue 14): moves a stopped server's data dir
/// from one root of trust to another, re-sealing every sealed column in one transaction.
struct RewrapRoot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rewrap",
        abstract: "Move a data dir (SQLite store; server stopped) from one root of trust to another.",
        discussion: """
            ROOT is file[:PATH] (default <data-dir>/root.key), \
            pkcs11:token=LABEL|slot-id=N[;object=KEY-LABEL]?module-path=LIB[&pin-source=PIN-FILE] (PIN from KMS_PKCS11_PIN \
            without pin-source), passphrase[:FILE] (from stdin without FILE), or kms:KEY-ARN?endpoint=URL&region=REGION \
            (AWS credentials from the environment or ~/.aws/credentials). Nothing is decrypted to disk; the old root is \
            left as it was (a root key file stays: remove it once no backup needs it).
            """)
    @Option(name: .customLong("data-dir"), help: "Data directory (default ./kms-data).") var dataDir = "./kms-data"
    @Option(help: "Storage, as for `kms server` (default sqlite in the data dir); only SQLite stores are moved.") var storage: String?
    @Option(help: "The root the data dir is sealed under now.") var from: String
    @Option(help: "The root to move it to.") var to: String

    func run() throws {
        let fromSpec: RootSpec
        let toSpec: RootSpec
        do {
            fromSpec = try RootSpec.parse(from)
            toSpec = try RootSpec.parse(to)
        } catch { throw ValidationError(String(describing: error)) }
        guard case .sqlite(let path) = try StorageLocation(storage, dataDirectory: dataDir) else {
            throw ValidationError("kms admin rewrap moves SQLite stores only; a PostgreSQL store is not supported yet")
        }
        let summary: RootRewrap.Summary
        do {
            let fromRoot = try fromSpec.resolve(dataDirectory: dataDir)
            let toRoot = try toSpec.resolve(dataDirectory: dataDir)
            summary = try RootRewrap.run(dataDirectory: dataDir, sqlitePath: path, from: fromRoot, to: toRoot)
            print("kms admin rewrap: \(dataDir) moved from \(fromRoot.description) to \(toRoot.description): "
                  + "\(summary.keyMaterials) key materials, \(summary.credentials) credentials, \(summary.identitySecrets) IAM secrets re-sealed")
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("rewrap failed, nothing changed unless said otherwise: \(error)")
        }
    }
}
