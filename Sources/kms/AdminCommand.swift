import ArgumentParser
import Foundation
import KMSServer

/// `kms admin`: only what the IAM API cannot do (accounts and their root credentials).
/// Works on the store directly; restart the server(s) for root credential changes.
struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Accounts and root credentials (what the IAM API cannot manage).",
        subcommands: [CreateAccount.self, RotateRootCredential.self, DeactivateRootCredential.self, ListAccounts.self,
                      PeerKeyCommand.self, PeersCommand.self, RewrapRoot.self])

    struct StoreOptions: ParsableArguments {
        @Option(name: .customLong("data-dir"), help: "Data directory (default ./kms-data).") var dataDir = "./kms-data"
        @Option(help: "Storage, as for `kms server` (default sqlite in the data dir).") var storage: String?
        @Option(name: .customLong("root-key-file"), help: "Root key file (default <data-dir>/root.key).") var rootKeyFile: String?
        @Option(help: "The data dir's root of trust when it is not the key file, as `kms admin rewrap` names roots (pkcs11:token=LABEL?module-path=LIB&pin-source=FILE, passphrase:FILE, kms:ARN?endpoint=URL&region=R).") var root: String?

        /// The root the data dir was sealed under; the file root by default.
        func rootSpec() throws -> RootSpec {
            guard let root else { return .file(path: rootKeyFile) }
            guard rootKeyFile == nil else { throw ValidationError("give --root or --root-key-file, not both") }
            do { return try RootSpec.parse(root) } catch { throw ValidationError("--root: \(error)") }
        }
    }

    struct CreateAccount: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-account",
            abstract: "Create an account with a root credential (written to a 0600 file, never printed).")
        @OptionGroup var store: StoreOptions
        @Option(help: "The 12-digit account ID.") var account: String
        @Option(help: "Where to write the credentials file (default <data-dir>/credentials-ACCOUNT-KEYID).") var output: String?

        func run() throws {
            let c = try RootCredentialAdmin.createAccount(account, dataDirectory: store.dataDir, storage: store.storage,
                                                          root: try store.rootSpec(), output: output)
            print("kms admin: account \(c.credential.account): root access key id \(c.credential.accessKeyId); secret in \(c.file) (mode 0600)")
        }
    }

    struct RotateRootCredential: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate-root-credential",
            abstract: "Issue a new root credential for the account of ACCESS_KEY_ID and remove the old one (unless --keep-old).")
        @OptionGroup var store: StoreOptions
        @Argument var accessKeyId: String
        @Flag(name: .customLong("keep-old"), help: "Keep the old credential until `deactivate-root-credential`.") var keepOld = false
        @Option(help: "Where to write the credentials file.") var output: String?

        func run() throws {
            let c = try RootCredentialAdmin.rotate(accessKeyId: accessKeyId, keepOld: keepOld, dataDirectory: store.dataDir,
                                                   storage: store.storage, root: try store.rootSpec(), output: output)
            print("kms admin: account \(c.credential.account): new root access key id \(c.credential.accessKeyId); secret in \(c.file) (mode 0600)"
                  + (keepOld ? "; \(accessKeyId) still works" : "; \(accessKeyId) removed") + ". Cluster nodes on PostgreSQL apply it at once; a SQLite server on restart.")
        }
    }

    struct DeactivateRootCredential: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "deactivate-root-credential",
            abstract: "Remove a root credential (not an account's last one, unless --force).")
        @OptionGroup var store: StoreOptions
        @Argument var accessKeyId: String
        @Flag(help: "Allow removing an account's last root credential.") var force = false

        func run() throws {
            try RootCredentialAdmin.deactivate(accessKeyId: accessKeyId, force: force, dataDirectory: store.dataDir,
                                               storage: store.storage, root: try store.rootSpec())
            print("kms admin: root credential \(accessKeyId) removed. Cluster nodes on PostgreSQL apply it at once; a SQLite server on restart.")
        }
    }

    struct ListAccounts: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list-accounts", abstract: "List accounts, their root access key IDs and IAM counts.")
        @OptionGroup var store: StoreOptions

        func run() throws {
            for a in try RootCredentialAdmin.listAccounts(dataDirectory: store.dataDir, storage: store.storage, root: try store.rootSpec()) {
                print("\(a.account)\troot=\(a.rootAccessKeyIds.joined(separator: ","))\tusers=\(a.users)\troles=\(a.roles)")
            }
        }
    }
}
