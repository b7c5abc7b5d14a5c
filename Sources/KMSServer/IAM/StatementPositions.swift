/// Where each statement of a policy document starts and ends (line and column, 1-based), for
/// the StartPosition/EndPosition of IAM's simulation MatchedStatements. The document has
/// already been compiled (so it is valid JSON); this only scans it, in one bounded pass.
struct StatementPositions: Sendable, Equatable {
    struct Position: Sendable, Equatable {
        let line: Int
        let column: Int
    }

    struct Span: Sendable, Equatable {
        let start: Position
        let end: Position
    }

    /// The spans in Statement order: one for a single statement object, one per element of a
    /// Statement list. Empty when the document has no top-level Statement.
    static func spans(_ text: String) -> [Span] {
        var scanner = Scanner(bytes: Array(text.utf8))
        return scanner.statements()
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0

        mutating func statements() -> [Span] {
            skipSpace()
            guard peek == UInt8(ascii: "{") else { return [] }
            i += 1
            var out: [Span] = []
            while i < bytes.count {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { return out }
                let key = readString()
                skipSpace()
                guard peek == UInt8(ascii: ":") else { return out }
                i += 1
                skipSpace()
                if key == "Statement" {
                    if peek == UInt8(ascii: "[") {
                        i += 1
                        while i < bytes.count {
                            skipSpace()
                            if peek == UInt8(ascii: "]") { i += 1; break }
                            if peek == UInt8(ascii: ",") { i += 1; continue }
                            let start = i
                            skipValue()
                            if bytes[start] == UInt8(ascii: "{") { out.append(span(start, i - 1)) }
                        }
                    } else {
                        let start = i
                        skipValue()
                        if start < bytes.count, bytes[start] == UInt8(ascii: "{") { out.append(span(start, i - 1)) }
                    }
                } else {
                    skipValue()
                }
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1 } else { break }
            }
            return out
        }

        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { i += 1 }
        }

        /// Reads a string at `i` (on its opening quote); escapes are kept raw (keys compared
        /// here are plain ASCII).
        mutating func readString() -> String {
            i += 1
            let start = i
            while let b = peek, b != UInt8(ascii: "\"") { i += b == UInt8(ascii: "\\") ? 2 : 1 }
            let end = min(i, bytes.count)
            i += 1
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }

        /// Skips one value: a string, a nested object or array, or a literal.
        mutating func skipValue() {
            guard let b = peek else { return }
            if b == UInt8(ascii: "\"") { _ = readString(); return }
            if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                var depth = 0
                while let c = peek {
                    if c == UInt8(ascii: "\"") { _ = readString(); continue }
                    if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
                    if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { depth -= 1 }
                    i += 1
                    if depth == 0 { return }
                }
                return
            }
            while let c = peek, c != UInt8(ascii: ","), c != UInt8(ascii: "}"), c != UInt8(ascii: "]") { i += 1 }
        }

        func span(_ start: Int, _ end: Int) -> Span { Span(start: position(start), end: position(end)) }

        /// Line and column of byte offset `offset` (columns count characters, not bytes).
        func position(_ offset: Int) -> Position {
            var line = 1, column = 1
            var k = 0
            while k < offset && k < bytes.count {
                let b = bytes[k]
                if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
                k += 1
            }
            return Position(line: line, column: column)
        }
    }
}
