import Foundation
import KMSCore

/// A custom key store's row: the non-secret fields as JSON, the secret (token PIN or XKS
/// proxy secret access key) sealed under the root key, bound to the store's identity.
struct StoredCustomKeyStore: Codable {
    var id, account, region, name: String
    var type: CustomKeyStore.StoreType
    var creationDate: Double
    var connectionState: CustomKeyStore.ConnectionState
    var connectionErrorCode: String?
    var cloudHsmClusterId: String?
    var trustAnchorCertificate: String?
    var xks: CustomKeyStore.XksProxy?

    init(_ s: CustomKeyStore) {
        id = s.id; account = s.account; region = s.region; name = s.name; type = s.type; creationDate = s.creationDate
        connectionState = s.connectionState; connectionErrorCode = s.connectionErrorCode
        cloudHsmClusterId = s.cloudHsmClusterId; trustAnchorCertificate = s.trustAnchorCertificate; xks = s.xks
    }

    static func sealingContext(_ account: String, _ region: String, _ id: String) -> String {
        "custom-key-store|\(account)|\(region)|\(id)"
    }

    static func encode(_ s: CustomKeyStore, rootKey: RootKey) throws -> (document: String, sealed: [UInt8]) {
        let document = String(decoding: try JSONEncoder().encode(StoredCustomKeyStore(s)), as: UTF8.self)
        let sealed = try rootKey.seal(Array(s.secret.utf8), context: sealingContext(s.account, s.region, s.id))
        return (document, sealed)
    }

    static func decode(_ document: String, sealed: [UInt8], version: Int64, rootKey: RootKey) throws -> CustomKeyStore {
        let d = try JSONDecoder().decode(StoredCustomKeyStore.self, from: Data(document.utf8))
        let secret = try rootKey.open(sealed, context: sealingContext(d.account, d.region, d.id))
        return CustomKeyStore(id: d.id, account: d.account, region: d.region, name: d.name, type: d.type, creationDate: d.creationDate,
                              connectionState: d.connectionState, connectionErrorCode: d.connectionErrorCode,
                              cloudHsmClusterId: d.cloudHsmClusterId, trustAnchorCertificate: d.trustAnchorCertificate, xks: d.xks,
                              secret: String(decoding: secret, as: UTF8.self), storeVersion: version)
    }
}

