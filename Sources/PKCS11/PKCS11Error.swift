import CPKCS11

/// A PKCS#11 failure: which call failed and its CKR code, never a PIN or key bytes.
public struct PKCS11Error: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    /// The CKR_* code when a module call failed; nil for failures found by kms itself.
    public let code: UInt?

    public init(_ description: String, code: UInt? = nil) {
        self.description = description
        self.code = code
    }

    /// The token refused the PIN (wrong, or not a valid PIN for it).
    public var isIncorrectPIN: Bool { code == CKR_PIN_INCORRECT || code == 0xA1 /* CKR_PIN_INVALID */ || code == 0xA2 /* CKR_PIN_LEN_RANGE */ }
    /// The user's PIN is locked after too many wrong tries.
    public var isPINLocked: Bool { code == CKR_PIN_LOCKED }
    /// A decryption that failed on its input: wrong tag, AAD, key or length (not the token).
    public var isBadCiphertext: Bool {
        code == CKR_ENCRYPTED_DATA_INVALID || code == CKR_ENCRYPTED_DATA_LEN_RANGE || code == 0x35 /* CKR_AEAD_DECRYPT_FAILED */
    }

    static func check(_ rv: CK_RV, _ call: String) throws {
        guard rv != CKR_OK else { return }
        throw PKCS11Error("\(call) failed: \(Self.name(rv))", code: rv)
    }

    /// The names of the codes an operator is likely to meet; others by number.
    static func name(_ rv: CK_RV) -> String {
        switch rv {
        case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT (wrong PIN)"
        case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED"
        case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT"
        case CKR_ENCRYPTED_DATA_INVALID: return "CKR_ENCRYPTED_DATA_INVALID"
        case CKR_ENCRYPTED_DATA_LEN_RANGE: return "CKR_ENCRYPTED_DATA_LEN_RANGE"
        case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL"
        default: return "CKR 0x" + String(rv, radix: 16)
        }
    }
}
