import CPKCS11
import Foundation

/// A PKCS#11 library (e.g. SoftHSM2's libsofthsm2.so, CloudHSM's libcloudhsm_pkcs11.so),
/// loaded with dlopen and initialized for OS locking. It stays loaded for the life of the
/// process: C_Finalize would pull the tokens out from under any other user in the process.
public final class PKCS11Module: @unchecked Sendable {
    // Immutable after init; the function list is the module's own static table.
    let functions: UnsafeMutablePointer<CK_FUNCTION_LIST>
    public let path: String

    public init(path: String) throws {
        var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
        var err = [CChar](repeating: 0, count: 512)
        let handle = err.withUnsafeMutableBufferPointer { cpkcs11_load(path, &list, $0.baseAddress, UInt($0.count)) }
        guard handle != nil, let list else {
            let why = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw PKCS11Error("Cannot load the PKCS#11 module \(path): \(why)")
        }
        functions = list
        self.path = path
        var args = CK_C_INITIALIZE_ARGS(CreateMutex: nil, DestroyMutex: nil, LockMutex: nil, UnlockMutex: nil,
                                        flags: CKF_OS_LOCKING_OK, pReserved: nil)
        guard let initialize = list.pointee.C_Initialize else { throw PKCS11Error("\(path) has no C_Initialize") }
        let rv = initialize(&args)
        // Loaded twice in one process (a root and a key store on the same module): same library.
        if rv != CKR_CRYPTOKI_ALREADY_INITIALIZED { try PKCS11Error.check(rv, "C_Initialize") }
    }

    /// The slots that hold an initialized token, with their labels.
    public func tokens() throws -> [(slot: UInt, label: String)] {
        guard let getSlots = functions.pointee.C_GetSlotList, let getInfo = functions.pointee.C_GetTokenInfo else {
            throw PKCS11Error("\(path) lacks C_GetSlotList/C_GetTokenInfo")
        }
        var count: CK_ULONG = 0
        try PKCS11Error.check(getSlots(1, nil, &count), "C_GetSlotList")
        var slots = [CK_SLOT_ID](repeating: 0, count: Int(count))
        try PKCS11Error.check(getSlots(1, &slots, &count), "C_GetSlotList")
        var out: [(UInt, String)] = []
        for slot in slots.prefix(Int(count)) {
            var info = CK_TOKEN_INFO()
            guard getInfo(slot, &info) == CKR_OK, info.flags & CKF_TOKEN_INITIALIZED != 0 else { continue }
            let label = withUnsafeBytes(of: info.label) { String(decoding: $0, as: UTF8.self) }
                .trimmingCharacters(in: .whitespaces)
            out.append((slot, label))
        }
        return out
    }

    /// The slot holding the token labelled `label`; exactly one must match.
    public func slot(tokenLabel label: String) throws -> UInt {
        let matches = try tokens().filter { $0.label == label }
        guard let first = matches.first else { throw PKCS11Error("No initialized PKCS#11 token labelled \"\(label)\" in \(path).") }
        guard matches.count == 1 else { throw PKCS11Error("\(matches.count) tokens are labelled \"\(label)\" in \(path): name the slot instead.") }
        return first.slot
    }
}
