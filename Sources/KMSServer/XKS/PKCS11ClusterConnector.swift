import Foundation
import KMSCore
import PKCS11
import Synchronization

/// AWS_CLOUDHSM key stores on PKCS#11 tokens (`--pkcs11-cluster`): ConnectCustomKeyStore
/// loads the cluster's module (once per process), finds its token by label and logs in
/// with the store's KeyStorePassword as the token user's PIN.
final class PKCS11ClusterConnector: CloudHsmConnector {
    private let modules = Mutex<[String: PKCS11Module]>([:])

    func connect(_ cluster: PKCS11Cluster, pin: String) throws(CloudHsmError) -> any CloudHsmSession {
        let module: PKCS11Module
        do { module = try self.module(cluster.modulePath) } catch {
            throw CloudHsmError(.clusterNotFound, "\(error)")
        }
        do {
            return PKCS11ClusterSession(token: try PKCS11Token(module: module, selector: .label(cluster.tokenLabel), pin: pin))
        } catch let error as PKCS11Error {
            if error.isIncorrectPIN { throw CloudHsmError(.invalidCredentials, "The token refused the key store password.") }
            if error.isPINLocked { throw CloudHsmError(.userLockedOut, "The token's user PIN is locked.") }
            // No code: kms found no token with that label (or the module lacks a call).
            throw CloudHsmError(error.code == nil ? .clusterNotFound : .failed, error.description)
        } catch {
            throw CloudHsmError(.failed, "\(error)")
        }
    }

    /// One PKCS11Module per library path: it stays loaded and initialized for the process.
    private func module(_ path: String) throws -> PKCS11Module {
        if let loaded = modules.withLock({ $0[path] }) { return loaded }
        let module = try PKCS11Module(path: path)
        return modules.withLock { m in
            if let loaded = m[path] { return loaded }
            m[path] = module
            return module
        }
    }
}

/// A logged-in token: key objects found by label once and then used by handle (a bounded
/// cache; a key destroyed through this session leaves it).
final class PKCS11ClusterSession: CloudHsmSession {
    let token: PKCS11Token
    private let keys = Mutex<[String: PKCS11SecretKey]>([:])
    static let keyCacheLimit = 10_000

    init(token: PKCS11Token) { self.token = token }

    func generateKey(label: String) throws(CloudHsmError) {
        do {
            // A label is a KMS key ID: never two objects for one key.
            if try token.findAESKey(label: label) != nil {
                throw CloudHsmError(.failed, "The token already holds a key labelled \(label).")
            }
            let key = try token.generateAESKey(label: label)
            remember(key)
        } catch let error as CloudHsmError {
            throw error
        } catch {
            throw CloudHsmError(.failed, "\(error)")
        }
    }

    func seal(label: String, plaintext: [UInt8], aad: [UInt8]) throws(CloudHsmError) -> [UInt8] {
        let key = try find(label)
        do { return try key.sealGCM(plaintext, aad: aad) } catch { throw Self.failure(error, forget: label, in: self) }
    }

    func open(label: String, sealed: [UInt8], aad: [UInt8]) throws(CloudHsmError) -> [UInt8] {
        let key = try find(label)
        do { return try key.openGCM(sealed, aad: aad) } catch let error as PKCS11Error where error.isBadCiphertext || error.code == nil {
            // nil code: kms refused it before the token saw it (too short).
            throw CloudHsmError(.invalidCiphertext, error.description)
        } catch {
            throw Self.failure(error, forget: label, in: self)
        }
    }

    func generateRandom(count: Int) throws(CloudHsmError) -> [UInt8] {
        do { return try token.generateRandom(count: count) } catch { throw CloudHsmError(.failed, "\(error)") }
    }

    func destroyKey(label: String) throws(CloudHsmError) {
        keys.withLock { _ = $0.removeValue(forKey: label) }
        do {
            guard let key = try token.findAESKey(label: label) else { return }
            try token.destroy(key)
        } catch {
            throw CloudHsmError(.failed, "\(error)")
        }
    }

    func close() {
        keys.withLock { $0.removeAll() }
        token.close()
    }

    private func remember(_ key: PKCS11SecretKey) {
        keys.withLock { k in
            if k.count >= Self.keyCacheLimit { k.removeAll() }
            k[key.label] = key
        }
    }

    private func find(_ label: String) throws(CloudHsmError) -> PKCS11SecretKey {
        if let key = keys.withLock({ $0[label] }) { return key }
        let found: PKCS11SecretKey?
        do { found = try token.findAESKey(label: label) } catch { throw CloudHsmError(.failed, "\(error)") }
        guard let found else { throw CloudHsmError(.keyNotFound, "No key labelled \(label) in the token.") }
        remember(found)
        return found
    }

    /// A failed operation may mean a stale handle (the object was deleted behind kms's back):
    /// the next call looks the key up again.
    private static func failure(_ error: any Error, forget label: String, in session: PKCS11ClusterSession) -> CloudHsmError {
        session.keys.withLock { _ = $0.removeValue(forKey: label) }
        return CloudHsmError(.failed, "\(error)")
    }
}

/// `kms pkcs11 list-keys`: the labels of a token's AES keys. For an AWS_CLOUDHSM key store's
/// token these are KMS key IDs; one with no KMS key left is orphaned key material.
public enum PKCS11KeyListing {
    public static func aesKeyLabels(modulePath: String, tokenLabel: String, pinFile: String?,
                                    environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String] {
        let pin: String
        if let pinFile {
            pin = try RootSpec.secretLine(file: pinFile, what: "the PKCS#11 PIN file")
        } else if let env = environment["KMS_PKCS11_PIN"], !env.isEmpty {
            pin = env
        } else {
            throw RootSpec.Invalid("the token's user PIN is needed: --pin-file FILE or KMS_PKCS11_PIN")
        }
        let token = try PKCS11Token(module: try PKCS11Module(path: modulePath), selector: .label(tokenLabel), pin: pin)
        defer { token.close() }
        return try token.aesKeyLabels()
    }
}
