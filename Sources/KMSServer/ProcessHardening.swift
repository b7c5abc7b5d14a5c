import CProcessControl
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the server's memory (unsealed keys, the root key, credential secrets) out of core
/// files: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0. Not dumpable also means other processes of
/// the same user cannot ptrace it or read /proc/PID/mem. Files it creates are private
/// (umask 077), so nothing it writes is ever readable by group or others, even briefly.
enum ProcessHardening {
    static func apply(allowCoreDumps: Bool) throws {
        umask(0o077)
        guard !allowCoreDumps else { return }
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        guard setrlimit(Int32(RLIMIT_CORE.rawValue), &none) == 0 else {
            throw HardeningError("cannot turn core dumps off (setrlimit RLIMIT_CORE): \(String(cString: strerror(errno)))")
        }
        guard kms_set_dumpable(0) == 0 else {
            throw HardeningError("cannot turn core dumps off (prctl PR_SET_DUMPABLE): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether the kernel would write a core file for this process (for tests and startup notes).
    static var isDumpable: Bool { kms_get_dumpable() == 1 }
}

struct HardeningError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
