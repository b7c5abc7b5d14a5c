import SwiftASN1

/// Object identifiers of the algorithms whose DER KMSCrypto builds or checks itself.
enum OID {
    static let ecPublicKey: ASN1ObjectIdentifier = [1, 2, 840, 10045, 2, 1]
    static let rsaEncryption: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 1, 1]
    /// RFC 8410.
    static let ed25519: ASN1ObjectIdentifier = [1, 3, 101, 112]
    /// FIPS 204 / RFC 9881 (id-ml-dsa-44/65/87).
    static let mlDSA44: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 3, 17]
    static let mlDSA65: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 3, 18]
    static let mlDSA87: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 3, 19]
}

/// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }.
/// Only the parameter shapes KMS keys use are modelled: absent, NULL, or a curve OID.
struct AlgorithmIdentifier: DERImplicitlyTaggable, Hashable, Sendable {
    enum Parameters: Hashable, Sendable {
        case absent
        case null
        case namedCurve(ASN1ObjectIdentifier)
    }

    static var defaultIdentifier: ASN1Identifier { .sequence }

    var algorithm: ASN1ObjectIdentifier
    var parameters: Parameters

    init(algorithm: ASN1ObjectIdentifier, parameters: Parameters) {
        self.algorithm = algorithm
        self.parameters = parameters
    }

    init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        (algorithm, parameters) = try DER.sequence(node, identifier: identifier) { nodes in
            let algorithm = try ASN1ObjectIdentifier(derEncoded: &nodes)
            guard let next = nodes.next() else { return (algorithm, Parameters.absent) }
            if next.identifier == ASN1Null.defaultIdentifier {
                _ = try ASN1Null(derEncoded: next)
                return (algorithm, .null)
            }
            return (algorithm, .namedCurve(try ASN1ObjectIdentifier(derEncoded: next)))
        }
    }

    func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(algorithm)
            switch parameters {
            case .absent: break
            case .null: try coder.serialize(ASN1Null())
            case .namedCurve(let oid): try coder.serialize(oid)
            }
        }
    }
}

/// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING } (RFC 5280).
struct SubjectPublicKeyInfo: DERImplicitlyTaggable, Sendable {
    static var defaultIdentifier: ASN1Identifier { .sequence }

    var algorithm: AlgorithmIdentifier
    var key: [UInt8]

    init(algorithm: AlgorithmIdentifier, key: [UInt8]) {
        self.algorithm = algorithm
        self.key = key
    }

    init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        (algorithm, key) = try DER.sequence(node, identifier: identifier) { nodes in
            let algorithm = try AlgorithmIdentifier(derEncoded: &nodes)
            let bits = try ASN1BitString(derEncoded: &nodes)
            guard bits.paddingBits == 0 else {
                throw ASN1Error.invalidASN1Object(reason: "public key is not a whole number of bytes")
            }
            return (algorithm, Array(bits.bytes))
        }
    }

    func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(algorithm)
            try coder.serialize(ASN1BitString(bytes: key[...]))
        }
    }

    init(derEncoded bytes: [UInt8]) throws {
        try self.init(derEncoded: DER.parse(bytes))
    }

    func derEncoded() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }
}

/// PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5208, RFC 5958). On parse, version 0 or 1
/// is accepted and trailing attributes / publicKey fields are skipped; on output, version 0
/// with no optional fields, as Python's `cryptography` and OpenSSL write it.
struct PrivateKeyInfo: DERImplicitlyTaggable, Sendable {
    static var defaultIdentifier: ASN1Identifier { .sequence }

    var algorithm: AlgorithmIdentifier
    /// The contents of the privateKey OCTET STRING (itself a DER encoding for most algorithms).
    var privateKey: [UInt8]

    init(algorithm: AlgorithmIdentifier, privateKey: [UInt8]) {
        self.algorithm = algorithm
        self.privateKey = privateKey
    }

    init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        (algorithm, privateKey) = try DER.sequence(node, identifier: identifier) { nodes in
            let version = try Int(derEncoded: &nodes)
            guard version == 0 || version == 1 else {
                throw ASN1Error.invalidASN1Object(reason: "unsupported PKCS#8 version")
            }
            let algorithm = try AlgorithmIdentifier(derEncoded: &nodes)
            let key = try ASN1OctetString(derEncoded: &nodes)
            while nodes.next() != nil {}
            return (algorithm, Array(key.bytes))
        }
    }

    func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(0)
            try coder.serialize(algorithm)
            try coder.serialize(ASN1OctetString(contentBytes: privateKey[...]))
        }
    }

    init(derEncoded bytes: [UInt8]) throws {
        try self.init(derEncoded: DER.parse(bytes))
    }

    func derEncoded() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }
}

/// DER encodings of single primitive values used inside PKCS#8 private keys.
enum DERValue {
    /// OCTET STRING wrapping (RFC 8410 CurvePrivateKey).
    static func octetString(_ bytes: [UInt8]) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(ASN1OctetString(contentBytes: bytes[...]))
        return serializer.serializedBytes
    }

    static func parseOctetString(_ der: [UInt8]) throws -> [UInt8] {
        Array(try ASN1OctetString(derEncoded: DER.parse(der)).bytes)
    }

    /// `[0] IMPLICIT OCTET STRING`: the seed-only ML-DSA private key CHOICE of RFC 9881.
    static let contextTag0 = ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)

    static func seedChoice(_ seed: [UInt8]) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try ASN1OctetString(contentBytes: seed[...]).serialize(into: &serializer, withIdentifier: contextTag0)
        return serializer.serializedBytes
    }

    /// Extracts the seed from an RFC 9881 ML-DSA private key: the `seed` choice, or the
    /// `both` choice (SEQUENCE { seed OCTET STRING, expandedKey OCTET STRING }). The
    /// expanded-only choice carries no seed and is rejected.
    static func parseSeedChoice(_ der: [UInt8]) throws -> [UInt8] {
        let node = try DER.parse(der)
        if node.identifier == contextTag0 {
            return Array(try ASN1OctetString(derEncoded: node, withIdentifier: contextTag0).bytes)
        }
        return try DER.sequence(node, identifier: .sequence) { nodes in
            let seed = try ASN1OctetString(derEncoded: &nodes)
            _ = try ASN1OctetString(derEncoded: &nodes)
            return Array(seed.bytes)
        }
    }
}
