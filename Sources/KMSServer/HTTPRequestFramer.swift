#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Splits the inbound byte stream into whole `HTTPRequestMessage`s (RFC 9112 message
/// framing), strictly: anything ambiguous is refused with `HTTPRequestFramingError`, which
/// the handler answers with 400 and a closed connection.
///
/// Why not NIO's `HTTPRequestDecoder`: it hands over head, body parts and end as three
/// pipeline events, with the head's headers in a structure the server then re-reads
/// several times; that machinery was ~14% of the server's CPU per Encrypt, more than
/// AES-GCM and SigV4 together. KMS requests are small, so one pass over one buffer
/// yields the whole request. What is accepted:
///
/// - `METHOD SP target SP HTTP/1.1|HTTP/1.0 CRLF`, leading empty lines ignored;
/// - header lines `name: value` (token names, no space before the colon, no obs-fold,
///   no control characters but HTAB in values), at most 100 and 16 KiB in all;
/// - a body framed by one Content-Length (repeats must agree) or by
///   `Transfer-Encoding: chunked` (never both: that is how requests are smuggled);
/// - keep-alive by default on HTTP/1.1, `Connection: close` honoured, HTTP/1.0 closes
///   unless it asks for keep-alive. Pipelined requests come out one by one, in order.
///
/// Work and memory per request are bounded before authentication: a chunked body has at
/// most `maxChunks` data chunks (one-byte chunks would otherwise cost a chunk-line parse
/// per body byte), no body buffer is reserved before its bytes arrive, and a request that
/// has begun must be whole within `requestTimeout` (slowloris), or the connection closes.
struct HTTPRequestFramer: ByteToMessageDecoder {
    typealias InboundOut = HTTPRequestMessage

    static let maxHeadBytes = 16 * 1024
    static let maxHeaders = 100
    /// A chunk-size line longer than this is refused (8 hex digits plus extensions).
    static let maxChunkLineBytes = 1024
    /// Data chunks per body. boto3 and the AWS CLI never send chunked KMS requests; SDKs
    /// that stream write buffers of 1 KiB or more, and 256 such chunks already carry the
    /// largest body accepted (256 KiB). Each chunk costs a line parse and an append, so
    /// this caps the framing work per request at a few hundred steps.
    static let maxChunks = 256

    let maxBodyBytes: Int
    /// How long a request may take to arrive, from its first byte to its last; nil: no limit.
    let requestTimeout: TimeAmount?
    /// Closes the connection when the request being received misses its deadline.
    private var deadline: Scheduled<Void>?

    private enum State {
        case head
        /// A Content-Length body still arriving.
        case body(HTTPRequestMessage, remaining: Int)
        /// Chunked body: reading a chunk-size line, chunk data, the CRLF after data, or
        /// trailers; `chunks` counts the data chunks read so far.
        case chunkSize(HTTPRequestMessage, chunks: Int)
        case chunkData(HTTPRequestMessage, remaining: Int, chunks: Int)
        case chunkDataEnd(HTTPRequestMessage, chunks: Int)
        case trailers(HTTPRequestMessage, count: Int, bytes: Int)
        /// After a refused (too large) body: the connection is being closed; drop input.
        case discarding
    }

    private var state = State.head

    init(maxBodyBytes: Int, requestTimeout: TimeAmount? = nil) {
        self.maxBodyBytes = maxBodyBytes
        self.requestTimeout = requestTimeout
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch try step(&buffer) {
        case .message(let message):
            // Only requests that arrive in pieces ever had a deadline scheduled: the common
            // case (a whole request per read) pays no timer.
            if let deadline {
                deadline.cancel()
                self.deadline = nil
            }
            context.fireChannelRead(NIOAny(message))
            return .continue
        case .progressed:
            return .continue
        case .needMoreData:
            if deadline == nil, let requestTimeout, isReceiving(buffer) {
                let channel = context.channel
                deadline = context.eventLoop.scheduleTask(in: requestTimeout) { channel.close(promise: nil) }
            }
            return .needMoreData
        }
    }

    mutating func decoderRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    /// Whether part of a request has arrived (the rest has not).
    func isReceiving(_ buffer: ByteBuffer) -> Bool {
        switch state {
        case .head: return buffer.readableBytes > 0
        case .discarding: return false
        default: return true
        }
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // Complete requests still buffered are answered; a partial one at EOF is dropped.
        try decode(context: context, buffer: &buffer)
    }

    enum Step {
        case message(HTTPRequestMessage)
        case progressed
        case needMoreData
    }

    /// One step of the state machine over `buffer`; separate from `decode` so tests can
    /// drive it without a channel.
    mutating func step(_ buffer: inout ByteBuffer) throws(HTTPRequestFramingError) -> Step {
        switch state {
        case .head:
            guard let message = try readHead(&buffer) else { return .needMoreData }
            return finishHead(message)
        case .body(var message, let remaining):
            guard buffer.readableBytes >= remaining else { return .needMoreData }
            state = .head  // drop the state's copy first, so the append below does not copy the body
            message.body += buffer.readableBytesView.prefix(remaining)
            buffer.moveReaderIndex(forwardBy: remaining)
            return .message(message)
        case .chunkSize(let message, let chunks):
            guard let line = try readLine(&buffer, limit: Self.maxChunkLineBytes) else { return .needMoreData }
            let size = try Self.chunkSize(line)
            guard message.body.count + size <= maxBodyBytes else { return refuseTooLarge(message) }
            if size == 0 {
                state = .trailers(message, count: 0, bytes: 0)
            } else {
                guard chunks < Self.maxChunks else { throw .malformed("too many chunks") }
                state = .chunkData(message, remaining: size, chunks: chunks + 1)
            }
            return .progressed
        case .chunkData(var message, let remaining, let chunks):
            guard buffer.readableBytes > 0 else { return .needMoreData }
            let take = min(remaining, buffer.readableBytes)
            state = .discarding  // as above: the body must be uniquely referenced when appended to
            message.body += buffer.readableBytesView.prefix(take)
            buffer.moveReaderIndex(forwardBy: take)
            state = take == remaining ? .chunkDataEnd(message, chunks: chunks)
                : .chunkData(message, remaining: remaining - take, chunks: chunks)
            return .progressed
        case .chunkDataEnd(let message, let chunks):
            guard buffer.readableBytes >= 2 else { return .needMoreData }
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw .malformed("chunk data not followed by CRLF") }
            state = .chunkSize(message, chunks: chunks)
            return .progressed
        case .trailers(let message, let count, let bytes):
            // Trailer fields are read and ignored (KMS signs none); an empty line ends them.
            // Together they get the budget of a head: at most 100 fields in 16 KiB.
            guard let line = try readLine(&buffer, limit: max(1, Self.maxHeadBytes - bytes)) else { return .needMoreData }
            if line.isEmpty {
                state = .head
                return .message(message)
            }
            guard count < Self.maxHeaders else { throw .malformed("too many trailer fields") }
            state = .trailers(message, count: count + 1, bytes: bytes + line.count + 2)
            return .progressed
        case .discarding:
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
    }

    // MARK: - Head

    /// Decides how the body is framed once the head is read.
    private mutating func finishHead(_ parsed: ParsedHead) -> Step {
        let message = parsed.message
        switch parsed.framing {
        case .none:
            return .message(message)
        case .contentLength(let length):
            guard length <= maxBodyBytes else { return refuseTooLarge(message) }
            // Nothing is reserved for the body here: a head that announces 256 KiB and sends
            // nothing must not hold 256 KiB (the bytes wait in the channel's buffer as they come).
            state = .body(message, remaining: length)
            return .progressed
        case .chunked:
            state = .chunkSize(message, chunks: 0)
            return .progressed
        }
    }

    /// The request is handed on marked too large (the handler answers 413 and closes);
    /// whatever follows on this connection is dropped.
    private mutating func refuseTooLarge(_ message: HTTPRequestMessage) -> Step {
        var refused = message
        refused.body = []
        refused.tooLarge = true
        refused.keepAlive = false
        state = .discarding
        return .message(refused)
    }

    enum Framing {
        case none
        case contentLength(Int)
        case chunked
    }

    struct ParsedHead {
        var message: HTTPRequestMessage
        var framing: Framing
    }

    /// Reads a whole head (through the empty line) or nothing, when it has not all arrived.
    private func readHead(_ buffer: inout ByteBuffer) throws(HTTPRequestFramingError) -> ParsedHead? {
        // Leading empty lines before the request line are ignored (RFC 9112 section 2.2).
        while buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
            buffer.moveReaderIndex(forwardBy: 2)
        }
        let result = buffer.withUnsafeReadableBytes { bytes -> Result<(ParsedHead, Int)?, HTTPRequestFramingError> in
            guard let end = Self.endOfHead(bytes) else {
                // Up to 3 bytes past the limit may be the start of the CRLFCRLF of a head
                // exactly at it: refusing them would make the verdict depend on segmentation.
                return bytes.count > Self.maxHeadBytes + 3 ? .failure(.headTooLarge) : .success(nil)
            }
            guard end <= Self.maxHeadBytes else { return .failure(.headTooLarge) }
            do throws(HTTPRequestFramingError) {
                return .success((try Self.parseHead(UnsafeRawBufferPointer(rebasing: bytes[..<end])), end + 4))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .failure(let error): throw error
        case .success(nil): return nil
        case .success(let (head, consumed)?):
            buffer.moveReaderIndex(forwardBy: consumed)
            return head
        }
    }

    /// Index of the CRLFCRLF that ends the head, if present: memchr (vectorized) finds
    /// each LF, and the three bytes before it are checked.
    static func endOfHead(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4, let base = bytes.baseAddress else { return nil }
        var i = 3
        while i < bytes.count, let lf = memchr(base + i, 0x0A, bytes.count - i) {
            let at = base.distance(to: UnsafeRawPointer(lf))
            if bytes[at - 1] == 0x0D, bytes[at - 2] == 0x0A, bytes[at - 3] == 0x0D { return at - 3 }
            i = at + 2  // the next candidate LF is at least two bytes on
        }
        return nil
    }

    /// Parses request line and header lines (the head without its final CRLFCRLF).
    static func parseHead(_ head: UnsafeRawBufferPointer) throws(HTTPRequestFramingError) -> ParsedHead {
        var lines = LineCursor(bytes: head)
        guard let requestLine = lines.next() else { throw .malformed("empty request") }
        let (method, uri, http10) = try parseRequestLine(requestLine)

        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(12)
        var contentLength: Int?
        var chunked = false
        var sawTransferEncoding = false
        var close = false
        var keepAlive = false
        var amzTarget: String?
        var userAgent: String?
        var viaServiceHeaders = false
        while let line = lines.next() {
            guard headers.count < maxHeaders else { throw .malformed("too many header fields") }
            let (name, value) = try parseHeaderLine(line)
            let nameBytes = UnsafeRawBufferPointer(rebasing: line[..<name])
            let valueBytes = UnsafeRawBufferPointer(rebasing: line[value])
            if equalsIgnoringCase(nameBytes, "content-length") {
                guard let length = decimal(valueBytes) else { throw .malformed("invalid Content-Length") }
                if let contentLength, contentLength != length { throw .malformed("conflicting Content-Length values") }
                contentLength = length
            } else if equalsIgnoringCase(nameBytes, "transfer-encoding") {
                // Only "chunked" is understood; a coding the server cannot undo is refused.
                guard !sawTransferEncoding, equalsIgnoringCase(valueBytes, "chunked") else {
                    throw .malformed("unsupported Transfer-Encoding")
                }
                sawTransferEncoding = true
                chunked = true
            } else if equalsIgnoringCase(nameBytes, "connection") {
                for token in valueBytes.split(separator: 0x2C) {
                    let trimmed = trim(UnsafeRawBufferPointer(rebasing: token))
                    if equalsIgnoringCase(trimmed, "close") { close = true }
                    if equalsIgnoringCase(trimmed, "keep-alive") { keepAlive = true }
                }
            }
            let valueString = String(decoding: valueBytes, as: UTF8.self)
            if amzTarget == nil, equalsIgnoringCase(nameBytes, "x-amz-target") {
                amzTarget = valueString
            } else if userAgent == nil, equalsIgnoringCase(nameBytes, "user-agent") {
                userAgent = valueString
            } else if nameBytes.count >= 17, startsIgnoringCase(nameBytes, "x-kms-via-service") {
                viaServiceHeaders = true
            }
            headers.append((String(decoding: nameBytes, as: UTF8.self), valueString))
        }
        if chunked && contentLength != nil { throw .malformed("both Content-Length and Transfer-Encoding") }
        var message = HTTPRequestMessage(method: method, uri: uri, headers: headers, body: [],
                                         keepAlive: !close && (!http10 || keepAlive))
        message.amzTarget = amzTarget
        message.userAgent = userAgent
        message.viaServiceHeaders = viaServiceHeaders
        let framing: Framing = chunked ? .chunked : (contentLength ?? 0) > 0 ? .contentLength(contentLength!) : .none
        return ParsedHead(message: message, framing: framing)
    }

    static func parseRequestLine(_ line: UnsafeRawBufferPointer) throws(HTTPRequestFramingError) -> (String, String, Bool) {
        let parts = line.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte),
              !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw .malformed("invalid request line")
        }
        let version = UnsafeRawBufferPointer(rebasing: parts[2])
        let http10: Bool
        if version.elementsEqual("HTTP/1.1".utf8) {
            http10 = false
        } else if version.elementsEqual("HTTP/1.0".utf8) {
            http10 = true
        } else {
            throw .malformed("unsupported HTTP version")
        }
        return (String(decoding: UnsafeRawBufferPointer(rebasing: parts[0]), as: UTF8.self),
                String(decoding: UnsafeRawBufferPointer(rebasing: parts[1]), as: UTF8.self), http10)
    }

    /// The end of the name and the range of the trimmed value, as indexes into `line`.
    static func parseHeaderLine(_ line: UnsafeRawBufferPointer) throws(HTTPRequestFramingError) -> (Int, Range<Int>) {
        // The name runs to the first byte that is not a token character, which must be
        // the colon: this also refuses obs-fold (a line starting with whitespace) and "name :".
        var colon = 0
        tokenTable.withUnsafeBufferPointer { table in  // one lazy-global check, not one per byte
            while colon < line.count, table[Int(line[colon])] { colon += 1 }
        }
        guard colon > 0, colon < line.count, line[colon] == 0x3A else { throw .malformed("invalid header field") }
        var start = colon + 1, end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        if containsControlCharacter(UnsafeRawBufferPointer(rebasing: line[start..<end])) {
            throw .malformed("invalid character in header value")
        }
        return (colon, start..<end)
    }

    /// Bytes a header value must not hold: controls other than HTAB, and DEL. Checked 16
    /// bytes at a time (values such as Authorization and User-Agent run to hundreds).
    static func containsControlCharacter(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        // Eight bytes at a time with word arithmetic: a byte is below 0x20 or is 0x7F
        // exactly when these classic SWAR tests set its high bit (HTAB rechecked bytewise).
        while i + 8 <= bytes.count {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let high: UInt64 = 0x8080_8080_8080_8080, ones: UInt64 = 0x0101_0101_0101_0101
            let below20 = (w &- ones &* 0x20) & ~w & high
            let x = w ^ (ones &* 0x7F)
            let is7F = (x &- ones) & ~x & high
            if below20 | is7F != 0 { break }  // something to look at: let the byte loop decide
            i += 8
        }
        while i < bytes.count {
            let b = bytes[i]
            if (b < 0x20 && b != 0x09) || b == 0x7F { return true }
            i += 1
        }
        return false
    }

    /// `tokenTable[b]`: whether byte `b` may appear in a method or header name (RFC 9110 tchar).
    static let tokenTable: [Bool] = (0..<256).map { isTokenByte(UInt8($0)) }

    // MARK: - Chunked bodies

    /// Reads one CRLF-terminated line (without the CRLF), or nil if it has not all arrived.
    private func readLine(_ buffer: inout ByteBuffer, limit: Int) throws(HTTPRequestFramingError) -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let lf = view.firstIndex(of: 0x0A) else {
            if view.count > limit { throw .malformed("line too long") }
            return nil
        }
        let length = lf - view.startIndex
        guard length >= 1, length <= limit, view[lf - 1] == 0x0D else { throw .malformed("invalid line ending") }
        let line = buffer.readBytes(length: length - 1) ?? []
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    /// `chunk-size [; extensions]` in hex.
    static func chunkSize(_ line: [UInt8]) throws(HTTPRequestFramingError) -> Int {
        let digits = line.prefix { $0 != 0x3B && $0 != 0x20 && $0 != 0x09 }
        guard !digits.isEmpty, digits.count <= 8 else { throw .malformed("invalid chunk size") }
        var size = 0
        for byte in digits {
            guard let value = hexValue(byte) else { throw .malformed("invalid chunk size") }
            size = size << 4 | value
        }
        return size
    }

    // MARK: - Bytes

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): return true
        default: return false
        }
    }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
        guard bytes.count == lowercased.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount)
        for i in 0..<bytes.count where bytes[i] | (bytes[i] >= 0x41 && bytes[i] <= 0x5A ? 0x20 : 0) != expected[i] {
            return false
        }
        return true
    }

    /// Whether `bytes` begins with `lowercased`, ASCII case-insensitively.
    static func startsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
        guard bytes.count >= lowercased.utf8CodeUnitCount else { return false }
        return equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[0..<lowercased.utf8CodeUnitCount]), lowercased)
    }

    static func trim(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// 1*DIGIT, at most 15 digits (no overflow).
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 15 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte - 0x30)
        case 0x41...0x46: return Int(byte - 0x41 + 10)
        case 0x61...0x66: return Int(byte - 0x61 + 10)
        default: return nil
        }
    }
}

/// CRLF-separated lines of a head; a bare LF or CR inside a line is refused by the callers'
/// character checks (header values) or the request-line grammar.
private struct LineCursor {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    mutating func next() -> UnsafeRawBufferPointer? {
        guard position < bytes.count, let base = bytes.baseAddress else { return nil }
        var i = position
        var end = bytes.count
        // memchr finds each CR with vector instructions; a CR not followed by LF stays in
        // the line (and is refused there as a control character).
        while i < bytes.count, let cr = memchr(base + i, 0x0D, bytes.count - i) {
            let at = base.distance(to: UnsafeRawPointer(cr))
            if at + 1 < bytes.count, bytes[at + 1] == 0x0A {
                end = at
                break
            }
            i = at + 1
        }
        let line = UnsafeRawBufferPointer(rebasing: bytes[position..<end])
        position = end + 2
        return line
    }
}

/// Why a request could not be framed; the handler answers 400 and closes the connection.
enum HTTPRequestFramingError: Error, Equatable {
    case malformed(String)
    case headTooLarge
}
