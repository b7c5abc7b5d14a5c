/// A parsed JSON document. AWS JSON 1.1 bodies are small objects; a hand-written
/// value type avoids Foundation's reflection-heavy coders on the hot path and is Sendable.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text is kept so integers never lose precision.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public init(_ value: Int) { self = .number(String(value)) }
    public init(_ value: Double) { self = .number(JSONValue.format(value)) }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var intValue: Int? {
        guard case .number(let text) = self else { return nil }
        if let i = Int(text) { return i }
        if let d = Double(text), d == d.rounded(), abs(d) < 9.0e15 { return Int(d) }
        return nil
    }
    public var doubleValue: Double? { if case .number(let t) = self { return Double(t) } else { return nil } }

    /// Epoch seconds with millisecond precision, the way AWS JSON writes timestamps.
    static func format(_ value: Double) -> String {
        let millis = (value * 1000).rounded()
        let whole = Int(millis / 1000)
        let frac = Int(millis) - whole * 1000
        if frac == 0 { return String(whole) }
        var f = String(abs(frac))
        while f.count < 3 { f = "0" + f }
        while f.hasSuffix("0") { f.removeLast() }
        return "\(whole).\(f)"
    }
}

/// A JSON object that keeps insertion order for output and offers keyed lookup.
public struct JSONObject: Sendable, Equatable {
    public private(set) var entries: [(key: String, value: JSONValue)] = []

    public init() {}
    public init(_ entries: [(String, JSONValue)]) {
        self.entries.reserveCapacity(entries.count)  // one allocation, not one per doubling
        for (k, v) in entries { self[k] = v }
    }

    /// Room for `capacity` members without reallocating (the parser's objects are small).
    mutating func reserveCapacity(_ capacity: Int) {
        entries.reserveCapacity(capacity)
    }

    /// Objects up to this size find a repeated name by scanning; larger ones index names.
    static let indexThreshold = 8

    /// The parser's insert, in linear total time per object: a repeated name replaces the
    /// earlier value (the last one wins, as with Jackson, AWS's parser). Small objects, every
    /// KMS request, scan their few entries and allocate nothing more; once an object passes
    /// `indexThreshold` members its names go into `index` (SipHash with a per-process seed,
    /// so chosen names cannot make it degrade). Returns false for a new member that would
    /// make the object larger than `limit`.
    mutating func insertParsed(_ key: __owned String, _ value: __owned JSONValue, index: inout [String: Int]?,
                               limit: Int) -> Bool {
        if index == nil {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                entries[i].value = value
                return true
            }
            guard entries.count < limit else { return false }
            entries.append((key, value))
            if entries.count > Self.indexThreshold {
                var built: [String: Int] = [:]
                built.reserveCapacity(entries.count * 2)
                for (i, e) in entries.enumerated() { built[e.key] = i }
                index = built
            }
            return true
        }
        if let i = index![key] {
            entries[i].value = value
            return true
        }
        guard entries.count < limit else { return false }
        index![key] = entries.count
        entries.append((key, value))
        return true
    }

    public subscript(key: String) -> JSONValue? {
        get {
            for e in entries where e.key == key { return e.value }
            return nil
        }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let v = newValue { entries[i].value = v } else { entries.remove(at: i) }
            } else if let v = newValue {
                entries.append((key, v))
            }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }
    public var keys: [String] { entries.map(\.key) }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.entries.count == rhs.entries.count else { return false }
        for e in lhs.entries where rhs[e.key] != e.value { return false }
        return true
    }
}
