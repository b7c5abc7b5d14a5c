import KMSCrypto

extension Array where Element == UInt8 {
    /// Decodes a hex string; traps on malformed test data (fixtures are generated).
    init(hex: String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8? = nil
        for c in hex.utf8 {
            let nibble: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = c - UInt8(ascii: "A") + 10
            default: preconditionFailure("bad hex in test fixture")
            }
            if let h = high { bytes.append(h << 4 | nibble); high = nil } else { high = nibble }
        }
        precondition(high == nil, "odd-length hex in test fixture")
        self = bytes
    }

    var hex: String { map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    /// A copy with one bit of byte `index` flipped.
    func flippingBit(at index: Int) -> [UInt8] {
        var copy = self
        copy[index] ^= 0x01
        return copy
    }
}

/// One generated key pair per asymmetric spec, shared by all tests (RSA-4096 generation is slow).
let generatedKeys: [KeySpec: AsymmetricKeyPair] = {
    var keys: [KeySpec: AsymmetricKeyPair] = [:]
    for spec in KeySpec.allCases where spec.isAsymmetric {
        do { keys[spec] = try AsymmetricKeyPair.generate(spec) } catch { preconditionFailure("keygen \(spec): \(error)") }
    }
    return keys
}()

/// A second key per spec (skipping the slow RSA_3072/4096) for wrong-key checks.
let secondKeys: [KeySpec: AsymmetricPrivateKey] = {
    var keys: [KeySpec: AsymmetricPrivateKey] = [:]
    for spec in KeySpec.allCases where spec.isAsymmetric && spec != .rsa3072 && spec != .rsa4096 {
        do { keys[spec] = try AsymmetricKeyPair.generate(spec).privateKey } catch { preconditionFailure("keygen \(spec): \(error)") }
    }
    return keys
}()

func generatedKey(_ spec: KeySpec) throws -> AsymmetricPrivateKey {
    guard let pair = generatedKeys[spec] else { throw KMSCryptoError.unsupportedKeySpec(spec) }
    return pair.privateKey
}

/// (spec, algorithm, messageType) for every valid signing combination.
struct SigningCase: Sendable, CustomTestStringConvertible {
    let spec: KeySpec
    let algorithm: SigningAlgorithm
    let messageType: MessageType
    var testDescription: String { "\(spec.rawValue) \(algorithm.rawValue) \(messageType.rawValue)" }

    static let all: [SigningCase] = KeySpec.allCases.flatMap { spec in
        spec.signingAlgorithms(for: .signVerify).flatMap { algorithm in
            algorithm.supportedMessageTypes.map { SigningCase(spec: spec, algorithm: algorithm, messageType: $0) }
        }
    }
}

import Testing
