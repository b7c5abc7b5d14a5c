/// The link between an AWS_CLOUDHSM custom key store and the HSM that stands for its
/// cluster. KMSCore sees only these protocols; the server implements them on a PKCS#11
/// token (`--pkcs11-cluster`), and unit tests on a software stand-in. A key's token
/// object is labelled with its KMS key ID, so nothing but the ID is needed to find it.
public protocol CloudHsmConnector: Sendable {
    /// Opens the cluster's token and logs in as its user with `pin` (the store's KeyStorePassword).
    func connect(_ cluster: PKCS11Cluster, pin: String) throws(CloudHsmError) -> any CloudHsmSession
}

/// A logged-in connection to a cluster's token. Key values never leave it: the token
/// generates them and runs AES-GCM with them.
public protocol CloudHsmSession: Sendable {
    /// Generates a persistent, non-extractable AES-256 key labelled `label`.
    func generateKey(label: String) throws(CloudHsmError)
    /// AES-256-GCM in the token under a fresh random 96-bit nonce: nonce (12) | ciphertext | tag (16).
    func seal(label: String, plaintext: [UInt8], aad: [UInt8]) throws(CloudHsmError) -> [UInt8]
    /// Opens what `seal` made; a wrong tag, AAD or key is `.invalidCiphertext`.
    func open(label: String, sealed: [UInt8], aad: [UInt8]) throws(CloudHsmError) -> [UInt8]
    /// `count` random bytes drawn by the token's generator (GenerateRandom with the store's ID).
    func generateRandom(count: Int) throws(CloudHsmError) -> [UInt8]
    /// Deletes the key object labelled `label` (no error when there is none).
    func destroyKey(label: String) throws(CloudHsmError)
    /// Logs out and closes the connection's sessions; later calls fail.
    func close()
}

/// Why a cluster could not be reached or used. The description names the failing call,
/// never the PIN.
public struct CloudHsmError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The module or the token cannot be found.
        case clusterNotFound
        /// The token refused the PIN.
        case invalidCredentials
        /// The token's user PIN is locked.
        case userLockedOut
        /// No key object with the key's label in the token.
        case keyNotFound
        /// The ciphertext, its AAD or its tag does not open under the key.
        case invalidCiphertext
        case failed
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// AWS's ConnectionErrorCodeType for a Connect that failed this way.
    public var connectionErrorCode: String {
        switch kind {
        case .clusterNotFound: return "CLUSTER_NOT_FOUND"
        case .invalidCredentials: return "INVALID_CREDENTIALS"
        case .userLockedOut: return "USER_LOCKED_OUT"
        case .keyNotFound, .invalidCiphertext, .failed: return "INTERNAL_ERROR"
        }
    }
}

/// Before the server configures a connector (unit tests, the pipeline benchmark): no cluster
/// can be reached.
struct NoCloudHsmConnector: CloudHsmConnector {
    func connect(_ cluster: PKCS11Cluster, pin: String) throws(CloudHsmError) -> any CloudHsmSession {
        throw CloudHsmError(.clusterNotFound, "No PKCS#11 connector is configured.")
    }
}
