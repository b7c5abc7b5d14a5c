/// Builds the SigV4 canonical request into a byte buffer:
///
///     METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n PayloadHash
///
/// Shared by the verifier and the signer so both sides agree byte for byte.
enum CanonicalRequest {
    static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Appends `METHOD\nURI\nQUERY\n`.
    static func appendRequestLine(
        method: some StringProtocol, path: some StringProtocol, query: some StringProtocol, to out: inout [UInt8]
    ) {
        ASCII.append(method, to: &out)
        out.append(0x0A)
        appendURI(path, to: &out)
        out.append(0x0A)
        appendQuery(query, to: &out)
        out.append(0x0A)
    }

    // MARK: - URI

    /// Canonical URI for a path as it came on the wire (already percent-encoded once):
    /// dot segments and empty segments removed, then every byte but unreserved and '/'
    /// encoded again. That double encoding is what AWS (non-S3) and botocore do.
    static func appendURI(_ path: some StringProtocol, to out: inout [UInt8]) {
        let utf8 = path.utf8
        // Fast path: KMS requests are always POST /.
        if utf8.isEmpty || (utf8.count == 1 && utf8.first == 0x2F) {
            out.append(0x2F)
            return
        }
        let bytes = Array(utf8)
        var segments: [ArraySlice<UInt8>] = []
        for segment in bytes.split(separator: 0x2F, omittingEmptySubsequences: true) {
            if segment.elementsEqual([0x2E]) { continue }
            if segment.elementsEqual([0x2E, 0x2E]) {
                if !segments.isEmpty { segments.removeLast() }
                continue
            }
            segments.append(segment)
        }
        if bytes.first == 0x2F { out.append(0x2F) }
        for (index, segment) in segments.enumerated() {
            if index > 0 { out.append(0x2F) }
            appendEncoded(segment, to: &out)
        }
        if bytes.last == 0x2F && !segments.isEmpty { out.append(0x2F) }
    }

    /// Percent-encodes every byte except RFC 3986 unreserved ones (uppercase hex).
    static func appendEncoded(_ bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        for byte in bytes {
            if ASCII.isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(0x25)
                out.append(ASCII.upperHexDigits[Int(byte >> 4)])
                out.append(ASCII.upperHexDigits[Int(byte & 0x0F)])
            }
        }
    }

    // MARK: - Query

    /// Canonical query: each name and value decoded (as form-encoded: '+' is a space) and
    /// re-encoded strictly, pairs sorted by encoded name then value, joined with '&'.
    static func appendQuery(_ query: some StringProtocol, to out: inout [UInt8]) {
        let utf8 = query.utf8
        if utf8.isEmpty { return }
        var pairs: [(key: [UInt8], value: [UInt8])] = []
        for part in utf8.split(separator: 0x26, omittingEmptySubsequences: true) {
            let equals = part.firstIndex(of: 0x3D)
            let rawKey = equals.map { part[part.startIndex..<$0] } ?? part[...]
            let rawValue = equals.map { part[part.index(after: $0)...] } ?? part[part.endIndex...]
            let key = percentDecoded(rawKey)
            var encodedKey = [UInt8]()
            var encodedValue = [UInt8]()
            appendEncoded(key, to: &encodedKey)
            appendEncoded(percentDecoded(rawValue), to: &encodedValue)
            pairs.append((encodedKey, encodedValue))
        }
        pairs.sort { a, b in
            a.key == b.key ? a.value.lexicographicallyPrecedes(b.value) : a.key.lexicographicallyPrecedes(b.key)
        }
        for (index, pair) in pairs.enumerated() {
            if index > 0 { out.append(0x26) }
            out.append(contentsOf: pair.key)
            out.append(0x3D)
            out.append(contentsOf: pair.value)
        }
    }

    /// Decodes %XX escapes and '+'; a malformed escape is kept literally (and so signs as %25).
    static func percentDecoded(_ raw: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        var iterator = Array(raw)[...]
        while let byte = iterator.popFirst() {
            if byte == 0x2B {
                out.append(0x20)
            } else if byte == 0x25, iterator.count >= 2,
                      let high = hexValue(iterator[iterator.startIndex]),
                      let low = hexValue(iterator[iterator.startIndex + 1]) {
                out.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    // MARK: - Headers

    /// Appends one `name:value\n` line per signed header (lowercase names, in the given
    /// order). Values are trimmed with inner whitespace collapsed; repeated headers are
    /// joined with ',' in arrival order. Also returns the first x-amz-content-sha256
    /// value, which decides the payload line. Names are compared by length first, so the
    /// nested scan costs a few integer compares per pair (and no allocation).
    static func appendHeaders(
        _ headers: [(name: String, value: String)], signed: [String], to out: inout [UInt8]
    ) -> String? {
        var contentSHA256: String?
        for (name, value) in headers where name.utf8.count == 20 {
            if ASCII.equalsIgnoringCase(name, lowercased: "x-amz-content-sha256") {
                contentSHA256 = value
                break
            }
        }
        for slot in signed {
            ASCII.append(slot, to: &out)
            out.append(0x3A)
            let length = slot.utf8.count
            var first = true
            for (name, value) in headers where name.utf8.count == length && ASCII.equalsIgnoringCase(name, lowercased: slot) {
                if !first { out.append(0x2C) }
                ASCII.appendTrimmed(value, to: &out)
                first = false
            }
            out.append(0x0A)
        }
        return contentSHA256
    }

    // MARK: - Hashing and string to sign

    static func appendSHA256Hex(of bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        SHA256Hasher.hash(bytes).withUnsafeBytes { ASCII.appendHex($0, to: &out) }
    }

    /// `AWS4-HMAC-SHA256\n<timestamp>\n<date/region/service/terminator>\n<hex sha256(canonical request)>`.
    static func stringToSign(
        canonicalRequest: [UInt8], timestamp: String, date: String, region: String, service: String,
        terminator: String = "aws4_request"
    ) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(128)
        out.append(contentsOf: "AWS4-HMAC-SHA256\n".utf8)
        ASCII.append(timestamp, to: &out)
        out.append(0x0A)
        ASCII.append(date, to: &out)
        out.append(0x2F)
        ASCII.append(region, to: &out)
        out.append(0x2F)
        ASCII.append(service, to: &out)
        out.append(0x2F)
        ASCII.append(terminator, to: &out)
        out.append(0x0A)
        canonicalRequest.withUnsafeBytes { appendSHA256Hex(of: $0, to: &out) }
        return out
    }
}
