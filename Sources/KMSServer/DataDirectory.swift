import Foundation
import KMSStorage
#if canImport(Glibc)
import Glibc
#endif

/// The mode a data dir was created in, recorded in <data-dir>/mode. Dev mode checks no
/// signatures, so anyone may have written a dev data dir, and a dev server would hand a
/// production data dir to anyone: each mode serves only its own data dir.
public enum DataDirMode: String, Sendable {
    case dev
    case production
}

/// Opens the data directory before anything in it is read: checks that it and the
/// credentials file are private to the server's user, checks or records its mode, and
/// makes the SQLite files 0600 (SQLite gives its -wal and -shm files the database's mode).
enum DataDirectory {
    static let modeFile = "mode"
    static let databaseFile = "kms.sqlite"

    /// Returns a line to print when an earlier version's data dir was adopted.
    static func prepare(path: String, mode: DataDirMode) throws -> String? {
        try openDirectory(path)
        try PrivateFile.check(path: path + "/credentials", what: "the credentials file")
        let adopted = try checkMode(path: path, mode: mode)
        try makeDatabaseFilesPrivate(path)
        return adopted
    }

    /// Creates the directory 0700, tightens an empty one (nothing secret has been in it yet),
    /// and refuses a used one that others may enter or that another user owns.
    static func openDirectory(_ path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StorageError("Cannot open the data directory \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        var st = stat()
        if entries.isEmpty, fstat(fd, &st) == 0, st.st_uid == geteuid() {
            guard fchmod(fd, 0o700) == 0 else { throw StorageError("Cannot chmod 700 the data directory \(path).") }
        }
        try PrivateFile.check(fd: fd, path: path, what: "the data directory", isDirectory: true)
    }

    static func checkMode(path: String, mode: DataDirMode) throws -> String? {
        let file = path + "/" + modeFile
        let fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            guard errno == ENOENT else {
                throw StorageError("Cannot open \(file): \(String(cString: strerror(errno)))")
            }
            // No record: a new data dir, or one made before modes were recorded (adopted as is).
            let legacy = FileManager.default.fileExists(atPath: path + "/" + databaseFile)
            try SecureFile.write(mode.rawValue + "\n", to: file, exclusive: true)
            return legacy ? "kms: adopted \(path) (made by an earlier version) as a \(mode.rawValue) data dir; recorded in \(file)" : nil
        }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        close(fd)
        let text = String(decoding: buffer[0..<max(0, n)], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let recorded = DataDirMode(rawValue: text) else {
            throw StorageError("refusing to start: \(file) should say `dev` or `production`; it was not written by kms or was altered.")
        }
        switch (recorded, mode) {
        case (.dev, .production):
            throw StorageError("""
                refusing to start: \(path) is a dev-mode data dir. Dev mode checks no signatures, so anyone \
                who reached that server may have written its keys and credentials; it cannot be served with \
                signature checks. Start with --dev (KMS_DEV=1) to keep using it as a dev data dir, or give the \
                production server a new --data-dir.
                """)
        case (.production, .dev):
            throw StorageError("""
                refusing to start: \(path) is a production data dir, and dev mode (--dev, KMS_DEV, "dev": true) \
                would serve its keys without checking signatures. Start without dev mode, or give the dev \
                server a data dir of its own (e.g. --data-dir ./kms-dev-data).
                """)
        default:
            return nil
        }
    }

    /// Precreates the database 0600 (O_EXCL|O_NOFOLLOW) and tightens files an earlier
    /// version left at SQLite's default 0644.
    static func makeDatabaseFilesPrivate(_ path: String) throws {
        let db = path + "/" + databaseFile
        let fd = open(db, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 {
            close(fd)
        } else if errno != EEXIST {
            throw StorageError("Cannot create \(db): \(String(cString: strerror(errno)))")
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let file = db + suffix
            var st = stat()
            guard lstat(file, &st) == 0 else { continue }
            guard st.st_mode & 0o170000 == 0o100000 else {  // S_IFREG
                throw StorageError("refusing to start: \(file) is not a regular file (a symlink?). Move it away.")
            }
            guard st.st_uid == geteuid() else {
                try PrivateFile.check(path: file, what: "the database file")  // throws the owner message
                continue
            }
            if st.st_mode & 0o077 != 0, chmod(file, 0o600) != 0 {
                throw StorageError("Cannot chmod 600 \(file): \(String(cString: strerror(errno)))")
            }
        }
    }
}
