/// A string from a policy that may hold policy variables (`${aws:username}`), compiled once.
/// A template without variables is resolved to its `Wildcard` at compile time; one with
/// variables is resolved per request from the context, and fails to match when a variable
/// has no value and no default (as AWS: the statement then does not match).
struct PolicyTemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case units([UInt16])
        /// `key` is lowercased (condition key names are case-insensitive).
        case variable(key: String, defaultValue: String?)
    }

    let parts: [Part]
    let constant: Wildcard?
    let lowercase: Bool

    /// `variables`: only Version 2012-10-17 documents have them; in 2008-10-17 `${...}` is text.
    init(_ text: String, wildcards: Bool, lowercase: Bool, variables: Bool) throws(PolicyError) {
        self.lowercase = lowercase
        let source = lowercase ? text.lowercased() : text
        func unit(_ b: UInt8) -> UInt16 {
            if wildcards, b == UInt8(ascii: "*") { return Wildcard.star }
            if wildcards, b == UInt8(ascii: "?") { return Wildcard.question }
            return UInt16(b)
        }
        guard variables, source.contains("${") else {
            let w = Wildcard(units: source.utf8.map(unit))
            parts = [.units(w.units)]
            constant = w
            return
        }
        var parts: [Part] = []
        var current: [UInt16] = []
        var raw: [UInt8] = []
        // Literal runs are folded as whole strings, so multi-byte characters lowercase correctly.
        func flushRaw() {
            guard !raw.isEmpty else { return }
            let run = String(decoding: raw, as: UTF8.self)
            current.append(contentsOf: (lowercase ? run.lowercased() : run).utf8.map(unit))
            raw = []
        }
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "$"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "{") {
                guard let close = bytes[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw PolicyError("The policy contains an invalid policy variable: \(text)")
                }
                flushRaw()
                let inner = String(decoding: bytes[(i + 2)..<close], as: UTF8.self)
                switch inner {
                case "*": current.append(UInt16(UInt8(ascii: "*")))
                case "?": current.append(UInt16(UInt8(ascii: "?")))
                case "$": current.append(UInt16(UInt8(ascii: "$")))
                default:
                    var name = inner
                    var defaultValue: String? = nil
                    if let comma = inner.firstIndex(of: ",") {
                        name = String(inner[..<comma])
                        var d = inner[inner.index(after: comma)...].drop(while: { $0 == " " })
                        while d.last == " " { d = d.dropLast() }
                        guard d.count >= 2, d.first == "'", d.last == "'" else {
                            throw PolicyError("The policy contains an invalid policy variable: \(text)")
                        }
                        defaultValue = String(d.dropFirst().dropLast())
                        if lowercase { defaultValue = defaultValue?.lowercased() }
                    }
                    // Condition key names are case-insensitive, so the variable's key is lowercased.
                    let key = name.trimmingSpaces.lowercased()
                    guard !key.isEmpty, key.contains(":"), !key.contains("$"), !key.contains("{") else {
                        throw PolicyError("The policy contains an invalid policy variable: \(text)")
                    }
                    if !current.isEmpty { parts.append(.units(current)); current = [] }
                    parts.append(.variable(key: key, defaultValue: defaultValue))
                }
                i = close + 1
            } else {
                raw.append(bytes[i])
                i += 1
            }
        }
        flushRaw()
        if !current.isEmpty { parts.append(.units(current)) }
        self.parts = parts
        if parts.allSatisfy({ if case .units = $0 { return true } else { return false } }) {
            constant = Wildcard(units: parts.flatMap { if case .units(let u) = $0 { return u } else { return [] } })
        } else {
            constant = nil
        }
    }

    /// `resolve(context)?.matches(...)`, without copying a constant pattern out first.
    func matches(buffer text: UnsafeBufferPointer<UInt8>, _ context: AuthorizationContext) -> Bool {
        if constant != nil { return constant.unsafelyUnwrapped.matches(buffer: text) }
        return resolve(context)?.matches(buffer: text) ?? false
    }

    /// The pattern for this request; nil when a variable has no value (no match).
    /// Substituted values are literal: a `*` in a user name is not a wildcard.
    func resolve(_ context: AuthorizationContext) -> Wildcard? {
        if let constant { return constant }
        var units: [UInt16] = []
        for part in parts {
            switch part {
            case .units(let u): units.append(contentsOf: u)
            case .variable(let key, let defaultValue):
                let value: String
                if let values = context.values(forKey: key), values.count == 1 {
                    value = lowercase ? values[0].lowercased() : values[0]
                } else if let defaultValue {
                    value = defaultValue
                } else {
                    return nil
                }
                units.append(contentsOf: value.utf8.map { UInt16($0) })
            }
        }
        return Wildcard(units: units)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
