#if canImport(Glibc)
import Glibc
#endif

/// Files and directories that hold secrets must belong to the server's user and be closed
/// to group and others. As ssh does with private keys, the server refuses to start on one
/// that is not, and says how to fix it, rather than use a secret others may have read.
public enum PrivateFile {
    /// Checks an open file or directory: owner is the effective user, no group/other bits.
    public static func check(fd: Int32, path: String, what: String, isDirectory: Bool = false) throws {
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw StorageError("Cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        try check(st, path: path, what: what, isDirectory: isDirectory)
    }

    /// Checks a path (following symlinks, as the server will use the target). A missing
    /// path passes: the server creates it with the right mode.
    public static func check(path: String, what: String, isDirectory: Bool = false) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw StorageError("Cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        try check(st, path: path, what: what, isDirectory: isDirectory)
    }

    static func check(_ st: stat, path: String, what: String, isDirectory: Bool) throws {
        let me = geteuid()
        if st.st_uid != me {
            throw StorageError("""
                refusing to start: \(what) \(path) is owned by uid \(st.st_uid), not by the server's user (uid \(me)). \
                Fix: chown \(me) \(path) (or run the server as uid \(st.st_uid)).
                """)
        }
        let mode = st.st_mode & 0o7777
        if mode & 0o077 != 0 {
            let octal = String(mode, radix: 8)
            throw StorageError("""
                refusing to start: \(what) \(path) is accessible by group or others (mode 0\(octal)); \
                it holds secrets and must be private to the server's user. Fix: chmod \(isDirectory ? "700" : "600") \(path)
                """)
        }
    }
}
