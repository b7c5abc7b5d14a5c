import Foundation
import KMSCore
import KMSStorage

/// The access keys the server accepts, held in memory for the hot path.
final class CredentialRegistry: Sendable {
    let byAccessKey: [String: StoredCredential]

    init(_ credentials: [StoredCredential]) {
        var map: [String: StoredCredential] = [:]
        for c in credentials { map[c.accessKeyId] = c }
        byAccessKey = map
    }

    /// Creates the account's root credentials on first start and writes them, in AWS
    /// shared-credentials format, to <data-dir>/credentials (0600).
    static func bootstrap(store: CredentialStore, account: String, dataDirectory: String) throws -> (CredentialRegistry, StoredCredential?) {
        var existing = try store.loadCredentials()
        var created: StoredCredential?
        if existing.isEmpty {
            let credential = StoredCredential(accessKeyId: newAccessKeyId(), secretAccessKey: newSecret(),
                                              account: account, principalArn: "arn:aws:iam::\(account):root")
            try store.saveCredential(credential)
            try SecureFile.write("""
                [default]
                aws_access_key_id = \(credential.accessKeyId)
                aws_secret_access_key = \(credential.secretAccessKey)
                aws_account_id = \(credential.account)

                """, to: dataDirectory + "/credentials")
            existing = [credential]
            created = credential
        }
        return (CredentialRegistry(existing), created)
    }

    static func newAccessKeyId() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return "AKIA" + String(SystemRandom.bytes(16).map { alphabet[Int($0 & 31)] })
    }

    static func newSecret() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        return String(SystemRandom.bytes(40).map { alphabet[Int($0 & 63)] })
    }
}
