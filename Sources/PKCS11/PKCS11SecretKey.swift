import CPKCS11
import Foundation

/// An AES key that lives in a token: kms holds only its handle. AES-GCM runs in the token;
/// the output is laid out as swift-crypto's AES.GCM combined form (12-byte nonce, ciphertext,
/// 16-byte tag), so a value sealed here has the same shape as one sealed in software.
public struct PKCS11SecretKey: Sendable {
    public let token: PKCS11Token
    let handle: CK_OBJECT_HANDLE
    public let label: String

    static let nonceSize = 12
    static let tagSize = 16

    func requireNonExtractable() throws {
        let (extractable, sensitive): (UInt8, UInt8) = try token.withSession { session in
            var extractable: CK_BBOOL = 1
            var sensitive: CK_BBOOL = 0
            var attrs = [CK_ATTRIBUTE(type: CKA_EXTRACTABLE, pValue: nil, ulValueLen: 1),
                         CK_ATTRIBUTE(type: CKA_SENSITIVE, pValue: nil, ulValueLen: 1)]
            guard let get = token.f.C_GetAttributeValue else { throw PKCS11Error("the module lacks C_GetAttributeValue") }
            try withUnsafeMutablePointer(to: &extractable) { e in
                try withUnsafeMutablePointer(to: &sensitive) { s in
                    attrs[0].pValue = UnsafeMutableRawPointer(e)
                    attrs[1].pValue = UnsafeMutableRawPointer(s)
                    try PKCS11Error.check(get(session, handle, &attrs, 2), "C_GetAttributeValue")
                }
            }
            return (extractable, sensitive)
        }
        // Fail closed: a root whose value could be exported is not a root kept in an HSM.
        guard extractable == 0, sensitive != 0 else {
            throw PKCS11Error("The token key \"\(label)\" is extractable or not sensitive; kms only uses keys whose value cannot leave the token.")
        }
    }

    /// AES-GCM encryption in the token under a fresh random 96-bit nonce.
    public func sealGCM(_ plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: Self.nonceSize)
        var rng = SystemRandomNumberGenerator()
        for i in nonce.indices { nonce[i] = UInt8.random(in: .min ... .max, using: &rng) }
        let body = try gcm(encrypt: true, input: plaintext, nonce: nonce, aad: aad)
        return nonce + body
    }

    /// Opens a value made by sealGCM (or by AES.GCM under the same key value).
    public func openGCM(_ sealed: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= Self.nonceSize + Self.tagSize else { throw PKCS11Error("The sealed value is too short.") }
        return try gcm(encrypt: false, input: Array(sealed[Self.nonceSize...]), nonce: Array(sealed[..<Self.nonceSize]), aad: aad)
    }

    private func gcm(encrypt: Bool, input: [UInt8], nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        try token.withSession { session in
            var nonce = nonce
            var aad = aad
            var input = input
            return try nonce.withUnsafeMutableBufferPointer { iv in
                try aad.withUnsafeMutableBufferPointer { a in
                    var params = CK_GCM_PARAMS(pIv: iv.baseAddress, ulIvLen: CK_ULONG(iv.count), ulIvBits: CK_ULONG(iv.count * 8),
                                               pAAD: a.count > 0 ? a.baseAddress : nil, ulAADLen: CK_ULONG(a.count),
                                               ulTagBits: CK_ULONG(Self.tagSize * 8))
                    return try withUnsafeMutablePointer(to: &params) { p in
                        var mechanism = CK_MECHANISM(mechanism: CKM_AES_GCM, pParameter: UnsafeMutableRawPointer(p),
                                                     ulParameterLen: CK_ULONG(MemoryLayout<CK_GCM_PARAMS>.size))
                        let f = token.f
                        if encrypt {
                            guard let initE = f.C_EncryptInit, let run = f.C_Encrypt else { throw PKCS11Error("the module lacks C_Encrypt") }
                            try PKCS11Error.check(initE(session, &mechanism, handle), "C_EncryptInit")
                            var outLen = CK_ULONG(input.count + Self.tagSize)
                            var out = [UInt8](repeating: 0, count: Int(outLen))
                            try PKCS11Error.check(run(session, &input, CK_ULONG(input.count), &out, &outLen), "C_Encrypt")
                            return Array(out.prefix(Int(outLen)))
                        } else {
                            guard let initD = f.C_DecryptInit, let run = f.C_Decrypt else { throw PKCS11Error("the module lacks C_Decrypt") }
                            try PKCS11Error.check(initD(session, &mechanism, handle), "C_DecryptInit")
                            // Some modules want room for the whole input before they strip the tag.
                            var outLen = CK_ULONG(input.count)
                            var out = [UInt8](repeating: 0, count: max(input.count, 1))
                            let rv = run(session, &input, CK_ULONG(input.count), &out, &outLen)
                            // The init took the key and nonce, so C_Decrypt failing means the input: SoftHSM2
                            // answers a GCM tag mismatch with CKR_GENERAL_ERROR, others with DATA_INVALID.
                            if rv == 0x05 /* CKR_GENERAL_ERROR */ || rv == 0x35 /* CKR_AEAD_DECRYPT_FAILED */ {
                                throw PKCS11Error("C_Decrypt failed: the ciphertext, tag or AAD does not verify (\(PKCS11Error.name(rv)))",
                                                  code: CKR_ENCRYPTED_DATA_INVALID)
                            }
                            try PKCS11Error.check(rv, "C_Decrypt")
                            return Array(out.prefix(Int(outLen)))
                        }
                    }
                }
            }
        }
    }
}
