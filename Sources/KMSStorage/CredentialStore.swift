/// Access keys the server authenticates with SigV4. Secrets are stored sealed.
public protocol CredentialStore: Sendable {
    func loadCredentials() throws -> [StoredCredential]
    func saveCredential(_ credential: StoredCredential) throws
}

public struct StoredCredential: Sendable, Equatable {
    public let accessKeyId: String
    public let secretAccessKey: String
    public let account: String
    public let principalArn: String

    public init(accessKeyId: String, secretAccessKey: String, account: String, principalArn: String) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.account = account
        self.principalArn = principalArn
    }
}
