import Foundation
import KMSCore
import KMSStorage

/// `kms admin`: what the API cannot do, done on the store directly (the data dir's root
/// key opens it): create an account with its root credential, rotate or deactivate a root
/// credential, list accounts. A running server reads root credentials at start: restart
/// it (every node) for a change to take effect.
public enum RootCredentialAdmin {
    public struct Created: Sendable {
        public let credential: StoredCredential
        /// Where the secret was written (0600); it is never printed.
        public let file: String
    }

    static func open(dataDirectory: String, storage: String?, root: RootSpec?) throws
        -> any KeyStore & CredentialStore & IdentityStore & CredentialAdministration {
        // Opened as the server opens it: a data dir recorded under a PKCS#11, passphrase or
        // auto-unseal root is refused with the file root (never a new root.key made beside it).
        let rootKey = try (root ?? .file(path: nil)).resolve(dataDirectory: dataDirectory).open(dataDirectory: dataDirectory)
        return try StorageLocation(storage, dataDirectory: dataDirectory).open(rootKey: rootKey)
    }

    /// A new account with one root credential; refused if the account has one already.
    public static func createAccount(_ account: String, dataDirectory: String, storage: String?, root: RootSpec?,
                                     output: String?) throws -> Created {
        guard account.utf8.count == 12, account.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw StorageError("the account ID must be 12 digits")
        }
        let store = try open(dataDirectory: dataDirectory, storage: storage, root: root)
        if try store.loadCredentials().contains(where: { $0.account == account }) {
            throw StorageError("account \(account) already has root credentials (use `kms admin rotate-root-credential`)")
        }
        return try issue(account: account, store: store, dataDirectory: dataDirectory, output: output)
    }

    /// A new root credential for the account of `accessKeyId`; the old one is removed
    /// unless `keepOld` (so clients can move over before `deactivate-root-credential`).
    public static func rotate(accessKeyId: String, keepOld: Bool, dataDirectory: String, storage: String?,
                              root: RootSpec?, output: String?) throws -> Created {
        let store = try open(dataDirectory: dataDirectory, storage: storage, root: root)
        guard let old = try store.loadCredentials().first(where: { $0.accessKeyId == accessKeyId }) else {
            throw StorageError("no root credential with access key id \(accessKeyId)")
        }
        let created = try issue(account: old.account, store: store, dataDirectory: dataDirectory, output: output)
        if !keepOld { _ = try store.deleteCredential(accessKeyId: accessKeyId) }
        return created
    }

    /// Removes a root credential; the account's last one is kept unless `force`.
    public static func deactivate(accessKeyId: String, force: Bool, dataDirectory: String, storage: String?,
                                  root: RootSpec?) throws {
        let store = try open(dataDirectory: dataDirectory, storage: storage, root: root)
        let all = try store.loadCredentials()
        guard let c = all.first(where: { $0.accessKeyId == accessKeyId }) else {
            throw StorageError("no root credential with access key id \(accessKeyId)")
        }
        if !force, all.filter({ $0.account == c.account }).count == 1 {
            throw StorageError("\(accessKeyId) is the last root credential of account \(c.account); rotate it instead, or pass --force")
        }
        _ = try store.deleteCredential(accessKeyId: accessKeyId)
    }

    public struct AccountSummary: Sendable {
        public let account: String
        public let rootAccessKeyIds: [String]
        public let users: Int
        public let roles: Int
    }

    public static func listAccounts(dataDirectory: String, storage: String?, root: RootSpec?) throws -> [AccountSummary] {
        let store = try open(dataDirectory: dataDirectory, storage: storage, root: root)
        let credentials = try store.loadCredentials()
        let identities = try store.loadIdentities()
        let accounts = Set(credentials.map(\.account)).union(identities.map(\.account)).sorted()
        return accounts.map { a in
            AccountSummary(account: a, rootAccessKeyIds: credentials.filter { $0.account == a }.map(\.accessKeyId).sorted(),
                           users: identities.filter { $0.account == a && $0.kind == .user }.count,
                           roles: identities.filter { $0.account == a && $0.kind == .role }.count)
        }
    }

    static func issue(account: String, store: any CredentialStore, dataDirectory: String, output: String?) throws -> Created {
        let credential = StoredCredential(accessKeyId: CredentialRegistry.newAccessKeyId(), secretAccessKey: CredentialRegistry.newSecret(),
                                          account: account, principalArn: "arn:aws:iam::\(account):root")
        try store.saveCredential(credential)
        let file = output ?? dataDirectory + "/credentials-\(account)-\(credential.accessKeyId)"
        try SecureFile.write("""
            [default]
            aws_access_key_id = \(credential.accessKeyId)
            aws_secret_access_key = \(credential.secretAccessKey)
            aws_account_id = \(credential.account)

            """, to: file, exclusive: true)
        return Created(credential: credential, file: file)
    }
}
