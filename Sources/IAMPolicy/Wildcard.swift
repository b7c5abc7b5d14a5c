/// A compiled `*`/`?` pattern. Units 0...255 are literal bytes; `star` and `question` are the
/// wildcards, so a `*` that came from the `${*}` escape stays a literal byte.
/// Matching is the greedy two-pointer glob algorithm: O(pattern × text) worst case, never
/// exponential, however many stars a hostile policy holds.
struct Wildcard: Sendable, Equatable {
    static let star: UInt16 = 0x100
    static let question: UInt16 = 0x101

    let units: [UInt16]
    /// Fast paths decided once at compile time.
    let kind: Kind
    /// The literal text (`literal`) or the text before the final star (`prefix`); empty
    /// otherwise. Kept beside `kind`, not as its payload, so a match reads it in place
    /// instead of copying it out of an enum (a reference count on every decision).
    let bytes: [UInt8]

    enum Kind: Sendable, Equatable { case anything, literal, prefix, general }

    init(units: [UInt16]) {
        self.units = units
        if units == [Wildcard.star] {
            kind = .anything
            bytes = []
        } else if !units.contains(where: { $0 > 0xFF }) {
            kind = .literal
            bytes = units.map { UInt8($0) }
        } else if units.last == Wildcard.star, !units.dropLast().contains(where: { $0 > 0xFF }) {
            kind = .prefix
            bytes = units.dropLast().map { UInt8($0) }
        } else {
            kind = .general
            bytes = []
        }
    }

    /// Parses the `*` and `?` of `text` as wildcards (when `wildcards` is true) and folds to
    /// lower case when `lowercase` is true (actions are case-insensitive).
    init(_ text: String, wildcards: Bool = true, lowercase: Bool = false) {
        var u: [UInt16] = []
        u.reserveCapacity(text.utf8.count)
        for b in (lowercase ? text.lowercased() : text).utf8 {
            if wildcards, b == UInt8(ascii: "*") { u.append(Wildcard.star) }
            else if wildcards, b == UInt8(ascii: "?") { u.append(Wildcard.question) }
            else { u.append(UInt16(b)) }
        }
        self.init(units: u)
    }

    func matches(_ text: String) -> Bool {
        if case .anything = kind { return true }
        var s = text
        return s.withUTF8 { matches(buffer: $0) }
    }

    func matches(_ text: Substring) -> Bool {
        if case .anything = kind { return true }
        var s = text
        return s.withUTF8 { matches(buffer: $0) }
    }

    /// Non-generic, on contiguous UTF-8: the hot path of every decision.
    func matches(buffer t: UnsafeBufferPointer<UInt8>) -> Bool {
        switch kind {
        case .anything: return true
        case .literal:
            guard t.count == bytes.count else { return false }
            return bytes.withUnsafeBufferPointer { p in
                for i in 0..<p.count where p[i] != t[i] { return false }
                return true
            }
        case .prefix:
            guard t.count >= bytes.count else { return false }
            return bytes.withUnsafeBufferPointer { p in
                for i in 0..<p.count where p[i] != t[i] { return false }
                return true
            }
        case .general: return Wildcard.glob(units, t)
        }
    }

    /// `?` consumes one whole UTF-8 sequence, so it matches one character, not one byte.
    static func glob(_ p: [UInt16], _ t: UnsafeBufferPointer<UInt8>) -> Bool {
        var pi = 0, ti = t.startIndex
        var starP = -1, starT = 0
        func next(_ i: Int) -> Int {
            var j = i + 1
            while j < t.endIndex, t[j] & 0xC0 == 0x80 { j += 1 }
            return j
        }
        while ti < t.endIndex {
            if pi < p.count, p[pi] == question {
                pi += 1; ti = next(ti)
            } else if pi < p.count, p[pi] == star {
                starP = pi; starT = ti; pi += 1
            } else if pi < p.count, p[pi] == UInt16(t[ti]) {
                pi += 1; ti += 1
            } else if starP >= 0 {
                pi = starP + 1; starT += 1; ti = starT
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == star { pi += 1 }
        return pi == p.count
    }
}
