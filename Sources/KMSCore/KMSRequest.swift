/// A request body that passed model validation, with typed accessors for members.
/// Type errors were already raised by the validator, so accessors return nil only
/// for absent members.
public struct KMSRequest: Sendable {
    public let operation: String
    public let object: JSONObject
    /// Top-level blob members, already decoded by the validator (a few at most: a list
    /// searched by name beats hashing).
    let blobs: [(name: String, bytes: [UInt8])]
    /// The call's authorization context, set by `KMSService.handle`.
    public internal(set) var context: RequestContext? = nil

    public func string(_ name: String) -> String? { object[name]?.stringValue }
    public func int(_ name: String) -> Int? { object[name]?.intValue }
    public func bool(_ name: String) -> Bool? { object[name]?.boolValue }
    public func blob(_ name: String) -> [UInt8]? {
        if let decoded = blobs.first(where: { $0.name == name }) { return decoded.bytes }
        return object[name]?.stringValue.flatMap(Base64.decode)
    }
    public func stringList(_ name: String) -> [String]? { object[name]?.arrayValue?.compactMap(\.stringValue) }
    public func has(_ name: String) -> Bool { if let v = object[name], v != .null { return true } else { return false } }

    /// A string-to-string map member such as EncryptionContext.
    public func stringMap(_ name: String) -> [String: String]? {
        guard let o = object[name]?.objectValue else { return nil }
        var m: [String: String] = [:]
        for e in o.entries { if let s = e.value.stringValue { m[e.key] = s } }
        return m
    }

    /// A required member; the validator has already ensured presence.
    public func required(_ name: String) throws(KMSError) -> String {
        guard let s = string(name) else {
            throw KMSError(.validation, "1 validation error detected: Value null at '\(name.prefix(1).lowercased() + name.dropFirst())' failed to satisfy constraint: Member must not be null")
        }
        return s
    }

    public var dryRun: Bool { bool("DryRun") ?? false }
}
