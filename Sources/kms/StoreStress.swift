import ArgumentParser
import Foundation
import KMSCore
import KMSStorage

/// `kms store-stress` (hidden): N conditional read-modify-writes of one key, straight on the
/// store, retrying each on conflict. Run by several processes at once against one store,
/// it proves no write is lost or applied over newer state: the key's counter (its
/// description) ends at the sum of all increments, and its material versions are exactly
/// the ones added, each once. Used by the store contract tests.
struct StoreStress: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store-stress", abstract: "Concurrent conditional writes against a store.",
                                                    shouldDisplay: false)

    @Option(help: "sqlite:PATH or postgresql://...") var storage: String
    @Option(name: .customLong("root-key-file"), help: "Root key file (must exist).") var rootKeyFile: String
    @Option(name: .customLong("key-id")) var keyId: String
    @Option var account = "111122223333"
    @Option var region = "us-east-1"
    @Option var increments = 100
    @Option(name: .customLong("material-every"), help: "Also add a material version every Nth increment (0: never).") var materialEvery = 5

    func run() throws {
        guard FileManager.default.fileExists(atPath: rootKeyFile) else { throw ValidationError("no root key at \(rootKeyFile)") }
        let store = try StorageLocation(storage, dataDirectory: ".").open(rootKey: try RootKey.loadOrCreate(path: rootKeyFile))
        var conflicts = 0
        for i in 1...max(1, increments) {
            while true {
                guard var key = try store.key(account: account, region: region, keyId: keyId) else {
                    throw ValidationError("key \(keyId) does not exist")
                }
                guard let count = Int(key.description) else { throw ValidationError("key description is not a counter") }
                key.description = String(count + 1)
                if materialEvery > 0, i % materialEvery == 0 {
                    let next = (key.materials.map(\.version).max() ?? 0) + 1
                    key.materials.append(try KeyMaterial(keySpec: key.keySpec, version: next, secret: SystemRandom.bytes(32),
                                                         materialId: SystemRandom.bytes(16).map { String(format: "%02x", $0) }.joined(),
                                                         createdAt: Date().timeIntervalSince1970))
                }
                do {
                    try store.apply([.putKey(key)])
                    break
                } catch is StoreConflict {
                    conflicts += 1
                }
            }
        }
        print("increments=\(increments) conflicts=\(conflicts)")
    }
}
