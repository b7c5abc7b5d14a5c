#if canImport(Glibc)
import Glibc
#endif

/// Whether the address the server binds to is reachable only from this machine.
/// Plain HTTP is allowed by default only there; anything else needs TLS or --insecure-http.
public enum ListenAddress {
    /// Plain HTTP off the loopback interface is refused unless the operator says so.
    static func requireSafe(host: String, tls: Bool, insecureHTTP: Bool) throws {
        guard !tls, !isLoopback(host), !insecureHTTP else { return }
        throw StartupRefusal("""
            refusing to listen on \(host) without TLS: anyone on the network could read requests, \
            plaintexts and data keys. Give --tls-cert FILE --tls-key FILE (KMS_TLS_CERT / KMS_TLS_KEY), \
            listen on 127.0.0.1, or, behind a TLS-terminating proxy on a trusted network, pass --insecure-http.
            """)
    }

    /// The host as it appears in a URL: IPv6 literals in brackets.
    static func urlHost(_ host: String) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    }

    /// 127.0.0.0/8, ::1 (also bracketed, and IPv4-mapped ::ffff:127.x) and the name
    /// `localhost`. Any other name counts as non-loopback: it may resolve anywhere.
    public static func isLoopback(_ host: String) -> Bool {
        var h = host
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, h, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, h, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }  // ::1
            let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xff, 0xff]
            return Array(bytes[0..<12]) == mappedPrefix && bytes[12] == 127
        }
        return false
    }
}

/// A reason the server will not start, worded for the operator with the fix.
public struct StartupRefusal: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
