import NIOHTTP1

/// One whole HTTP/1.1 request as the server handles it: head and body together, since a
/// KMS request is a small JSON document that is useless until complete.
struct HTTPRequestMessage: Sendable {
    var method: String
    /// The request target as received ("/" for every AWS SDK).
    var uri: String
    /// In arrival order, names as sent (compare them case-insensitively).
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    var keepAlive: Bool
    /// The body was over the limit and was not kept: answer 413 and close.
    var tooLarge: Bool = false
    /// X-Amz-Target and User-Agent, picked out while the head is parsed (every request
    /// needs them; scanning the header list again for each cost more than the parse).
    var amzTarget: String?
    var userAgent: String?
    /// A header named X-Kms-Via-Service* is present (a trusted service forwarding the
    /// request, or an attempt at one): spotted while parsing, so other requests pay nothing.
    var viaServiceHeaders = false

    /// The first value of a header; `lowercasedName` must be lower-case.
    func header(_ lowercasedName: String) -> String? {
        for (name, value) in headers where name.utf8.count == lowercasedName.utf8.count {
            if name.utf8.elementsEqual(lowercasedName.utf8, by: { $0 | ($0 >= 0x41 && $0 <= 0x5A ? 0x20 : 0) == $1 }) {
                return value
            }
        }
        return nil
    }
}

extension HTTPRequestMessage {
    /// From NIO's types (tests and the pipeline benchmark build requests this way).
    init(head: HTTPRequestHead, body: [UInt8]) {
        self.init(method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                  body: body, keepAlive: head.isKeepAlive)
        amzTarget = header("x-amz-target")
        userAgent = header("user-agent")
        viaServiceHeaders = headers.contains { $0.name.utf8.count >= 17 && $0.name.lowercased().hasPrefix("x-kms-via-service") }
    }
}
