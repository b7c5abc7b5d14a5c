import Foundation

/// botocore's KMS model, reduced to what request validation needs. The tables live in
/// the generated `KMSModel+Shapes.swift` (scripts/gen_model.py).
public enum KMSModel {}

struct ModelMember: Sendable {
    let name: String
    let shape: String
    let required: Bool
    init(_ name: String, _ shape: String, required: Bool) {
        self.name = name
        self.shape = shape
        self.required = required
    }

    /// AWS names members in validation messages with a lower-case first letter.
    var wireLabel: String { name.prefix(1).lowercased() + name.dropFirst() }
}

struct ModelShape: Sendable {
    enum Kind: Sendable { case string, blob, integer, boolean, timestamp, structure, list, map }
    let kind: Kind
    let min: Int?
    let max: Int?
    let enumValues: [String]?
    let pattern: String?
    let sensitive: Bool
    let members: [ModelMember]
    let member: String?
    let key: String?
    let value: String?

    init(_ kind: Kind, min: Int? = nil, max: Int? = nil, enumValues: [String]? = nil, pattern: String? = nil,
         sensitive: Bool = false, members: [ModelMember] = [], member: String? = nil, key: String? = nil, value: String? = nil) {
        self.kind = kind
        self.min = min
        self.max = max
        self.enumValues = enumValues
        self.pattern = pattern
        self.sensitive = sensitive
        self.members = members
        self.member = member
        self.key = key
        self.value = value
    }
}

/// Compiled model patterns, shared by all threads (NSRegularExpression matching is thread-safe).
final class ModelPatterns: @unchecked Sendable {
    static let shared = ModelPatterns()
    private let lock = NSLock()
    private var compiled: [String: NSRegularExpression] = [:]

    func matches(_ value: String, pattern: String) -> Bool {
        lock.lock()
        var regex = compiled[pattern]
        if regex == nil {
            // The model's patterns are Java regexes; anchor them, since Java's matches() is whole-string.
            var p = pattern
            if !p.hasPrefix("^") { p = "^(?:" + p + ")" }
            if !p.hasSuffix("$") { p += "$" }
            regex = try? NSRegularExpression(pattern: p)
            compiled[pattern] = regex
        }
        lock.unlock()
        guard let regex else { return true }
        let range = NSRange(value.startIndex..<value.endIndex, in: value)
        return regex.firstMatch(in: value, options: [], range: range) != nil
    }
}
