import ArgumentParser
import Foundation
import KMSCore
import KMSStorage

/// The options every store command shares with `kms server`.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data directory holding root.key (and kms.sqlite by default) (default ./kms-data).") var dataDir = "./kms-data"
    @Option(help: "Storage: sqlite:PATH (default <data-dir>/kms.sqlite) or postgresql://...") var storage: String?
    @Option(name: .customLong("root-key-file"), help: "Root key file (default <data-dir>/root.key); must exist.") var rootKeyFile: String?

    var rootKeyPath: String { rootKeyFile ?? dataDir + "/root.key" }

    func rootKey() throws -> RootKey {
        guard FileManager.default.fileExists(atPath: rootKeyPath) else {
            throw ValidationError("no root key at \(rootKeyPath): give the one the store was sealed under (--root-key-file)")
        }
        return try RootKey.loadOrCreate(path: rootKeyPath)
    }

    func open(_ location: String? = nil) throws -> any SnapshotStore {
        let store = try StorageLocation(location ?? storage ?? ProcessInfo.processInfo.environment["KMS_STORAGE"], dataDirectory: dataDir)
            .open(rootKey: try rootKey())
        guard let snapshots = store as? any SnapshotStore else { throw ValidationError("this store cannot be backed up") }
        return snapshots
    }
}

enum SnapshotFile {
    static func write(_ snapshot: StoreSnapshot, to path: String) throws {
        let data = try JSONEncoder().encode(snapshot)
        // Sealed, but still the whole keyring's metadata: private to the user, never overwritten.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(path): \(String(cString: strerror(errno))) (it must not exist yet)") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        try handle.write(contentsOf: data)
        try handle.synchronize()
    }

    static func read(_ path: String) throws -> StoreSnapshot {
        do {
            return try StoreSnapshot.decode(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as StoreSnapshot.Unreadable {
            throw ValidationError("\(path): \(error.description)")
        }
    }
}

/// `kms backup --output FILE`: a consistent snapshot of the store, secrets still sealed.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a consistent, still-sealed snapshot of the store (SQLite or PostgreSQL) to a file.")
    @OptionGroup var store: StoreOptions
    @Option(help: "The snapshot file to create (mode 0600; must not exist).") var output: String

    func run() throws {
        let snapshot = try store.open().snapshot()
        try SnapshotFile.write(snapshot, to: output)
        print("kms: backup: \(snapshot.summary) written to \(output)")
    }
}

/// `kms restore --input FILE`: the snapshot into an empty store, under the same root key.
struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restore a snapshot from `kms backup` into an empty store (same root key).")
    @OptionGroup var store: StoreOptions
    @Option(help: "The snapshot file written by kms backup.") var input: String

    func run() throws {
        let snapshot = try SnapshotFile.read(input)
        do { try snapshot.verifySealed(under: try store.rootKey()) }
        catch { throw ValidationError("the snapshot's secrets do not open under \(store.rootKeyPath): it was made under another root key") }
        try store.open().restore(snapshot)
        print("kms: restore: \(snapshot.summary) restored")
    }
}

/// `kms migrate --from sqlite:PATH --to postgresql://...`: a single node's store into a
/// cluster's (empty) one, row for row, sealed under the same root key.
struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Copy every key, alias and credential from one store into an empty one (e.g. SQLite to PostgreSQL).")
    @Option(help: "Source store: sqlite:PATH or postgresql://...") var from: String
    @Option(help: "Target store (must be empty): postgresql://... or sqlite:PATH") var to: String
    @Option(name: .customLong("data-dir"), help: "Data directory holding root.key (default ./kms-data).") var dataDir = "./kms-data"
    @Option(name: .customLong("root-key-file"), help: "Root key file (default <data-dir>/root.key).") var rootKeyFile: String?

    func run() throws {
        var options = StoreOptions()
        options.dataDir = dataDir
        options.rootKeyFile = rootKeyFile
        let snapshot = try options.open(from).snapshot()
        try snapshot.verifySealed(under: try options.rootKey())
        try options.open(to).restore(snapshot)
        print("kms: migrate: \(snapshot.summary) copied from \(try StorageLocation(from, dataDirectory: dataDir)) to \(try StorageLocation(to, dataDirectory: dataDir))")
    }
}
