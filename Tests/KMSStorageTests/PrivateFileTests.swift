import Foundation
import Testing
@testable import KMSStorage

/// The root key file: created O_EXCL|O_NOFOLLOW 0600, refused when others may read it.
@Suite struct PrivateFileTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "kms-private-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func rootKeyIsCreatedPrivateAndReadBack() throws {
        let path = dir + "/root.key"
        let first = try RootKey.loadOrCreate(path: path)
        #expect(try mode(path) == 0o600)
        let again = try RootKey.loadOrCreate(path: path)
        let sealed = try first.seal([1, 2, 3], context: "c")
        #expect(try again.open(sealed, context: "c") == [1, 2, 3])
    }

    @Test func looseRootKeyIsRefusedWithTheFix() throws {
        let path = dir + "/root.key"
        _ = try RootKey.loadOrCreate(path: path)
        for loose in [0o644, 0o640, 0o604, 0o660] {
            try FileManager.default.setAttributes([.posixPermissions: loose], ofItemAtPath: path)
            let error = #expect(throws: StorageError.self) { try RootKey.loadOrCreate(path: path) }
            #expect(error?.description.contains("chmod 600 \(path)") == true)
            #expect(error?.description.contains("mode 0\(String(loose, radix: 8))") == true)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        _ = try RootKey.loadOrCreate(path: path)  // stricter than 0600 is fine
    }

    @Test func rootKeyIsNeverWrittenThroughASymlink() throws {
        let target = dir + "/target"
        try FileManager.default.createSymbolicLink(atPath: dir + "/root.key", withDestinationPath: target)
        #expect(throws: StorageError.self) { try RootKey.loadOrCreate(path: dir + "/root.key") }
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test func looseDirectoryIsRefusedWithChmod700() throws {
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir)
        let error = #expect(throws: StorageError.self) {
            try PrivateFile.check(path: dir, what: "the data directory", isDirectory: true)
        }
        #expect(error?.description.contains("chmod 700 \(dir)") == true)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dir)
        try PrivateFile.check(path: dir, what: "the data directory", isDirectory: true)
    }

    @Test func missingFileIsNotAnError() throws {
        try PrivateFile.check(path: dir + "/absent", what: "the credentials file")
    }

    @Test func secureFileWriteReplacesButNeverFollowsSymlinks() throws {
        let path = dir + "/credentials"
        try SecureFile.write("one", to: path)
        try SecureFile.write("two", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
        #expect(try mode(path) == 0o600)
        #expect(throws: StorageError.self) { try SecureFile.write("three", to: path, exclusive: true) }
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: dir + "/elsewhere")
        #expect(throws: StorageError.self) { try SecureFile.write("x", to: dir + "/link") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/elsewhere"))
    }
}
