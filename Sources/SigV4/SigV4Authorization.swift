/// What an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`
/// header (plus X-Amz-Date or Date, and X-Amz-Security-Token) says. Parsing needs no
/// secret: the server reads `accessKeyId`, looks up its secret, then verifies.
public struct SigV4Authorization: Sendable, Equatable {
    public let accessKeyId: String
    /// Credential scope date, `yyyyMMdd` (checked against `requestDate` by verify).
    public let date: String
    public let region: String
    public let service: String
    /// Credential scope terminator; verify requires `aws4_request`.
    public let terminator: String
    /// Lowercased, in the order the client listed them.
    public let signedHeaders: [String]
    public let signature: String
    /// The request time in basic format, `20261123T120000Z`, from X-Amz-Date or else Date.
    public let requestDate: String
    /// X-Amz-Security-Token, for temporary credentials; the server decides what it accepts.
    public let securityToken: String?

    let timestamp: AmzDate
    /// `date/region/service/terminator`, as it goes in the string to sign.
    let credentialScope: Substring
    let signedHeadersLine: String

    static let algorithm = "AWS4-HMAC-SHA256"

    /// Parses the SigV4 Authorization header out of `headers` (names compared case-insensitively).
    public static func parse<Headers: Sequence>(headers: Headers) throws(SigV4Error) -> SigV4Authorization
    where Headers.Element == (name: String, value: String) {
        var authorization: String?
        var amzDate: String?
        var httpDate: String?
        var securityToken: String?
        for (name, value) in headers {
            switch name.utf8.count {
            case 4 where httpDate == nil && ASCII.equalsIgnoringCase(name, lowercased: "date"):
                httpDate = value
            case 10 where amzDate == nil && ASCII.equalsIgnoringCase(name, lowercased: "x-amz-date"):
                amzDate = value
            case 13 where authorization == nil && ASCII.equalsIgnoringCase(name, lowercased: "authorization"):
                authorization = value
            case 20 where securityToken == nil && ASCII.equalsIgnoringCase(name, lowercased: "x-amz-security-token"):
                securityToken = value
            default:
                break
            }
        }
        guard let authorization else { throw .missingAuthenticationToken }
        return try parse(authorization: authorization, amzDate: amzDate, httpDate: httpDate, securityToken: securityToken)
    }

    static func parse(
        authorization header: String, amzDate: String?, httpDate: String?, securityToken: String?
    ) throws(SigV4Error) -> SigV4Authorization {
        // "<algorithm> <k=v>[, <k=v>]..."; AWS splits the parameters on commas and whitespace.
        let trimmed = header.drop(while: { $0 == " " || $0 == "\t" })
        let algorithm = trimmed.prefix(while: { $0 != " " && $0 != "\t" })
        var credential: Substring?
        var signedHeaders: Substring?
        var signature: Substring?
        if algorithm == algorithmName {
            let parameters = trimmed.dropFirst(algorithm.count)
                .split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
            for parameter in parameters {
                guard let equals = parameter.firstIndex(of: "=") else {
                    throw .incomplete(
                        "'\(parameter)' not a valid key=value pair (missing equal-sign) in Authorization header: '\(header)'.")
                }
                let value = parameter[parameter.index(after: equals)...]
                switch parameter[..<equals] {
                case "Credential": credential = credential ?? value
                case "SignedHeaders": signedHeaders = signedHeaders ?? value
                case "Signature": signature = signature ?? value
                default: break
                }
            }
        } else if algorithm.hasPrefix("AWS4-") {
            throw .incomplete("Unsupported AWS 'algorithm': '\(algorithm)'.")
        }
        // Anything else (e.g. "Bearer ...") reads as a header missing every parameter.

        var missing = ""
        if credential == nil { missing += "Authorization header requires 'Credential' parameter. " }
        if signature == nil { missing += "Authorization header requires 'Signature' parameter. " }
        if signedHeaders == nil { missing += "Authorization header requires 'SignedHeaders' parameter. " }
        if amzDate == nil && httpDate == nil {
            missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        }
        guard missing.isEmpty, let credential, let signedHeaders, let signature else {
            throw .incomplete(missing + "Authorization=" + header)
        }

        let parts = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5 else {
            throw .incomplete(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '\(credential)'")
        }

        let timestamp: AmzDate
        if let amzDate {
            guard let parsed = AmzDate(basic: amzDate) else { throw badDate(amzDate) }
            timestamp = parsed
        } else if let httpDate {
            guard let parsed = AmzDate(httpDate: httpDate) else { throw badDate(httpDate) }
            timestamp = parsed
        } else {
            throw .incomplete("Authorization=" + header)  // unreachable: checked above
        }

        let names = signedHeaders.split(separator: ";", omittingEmptySubsequences: true).map(ASCII.lowercased)
        let credentialString = String(credential)
        let scopeStart = credentialString.index(after: credentialString.firstIndex(of: "/") ?? credentialString.startIndex)
        return SigV4Authorization(
            accessKeyId: String(parts[0]),
            date: String(parts[1]),
            region: String(parts[2]),
            service: String(parts[3]),
            terminator: String(parts[4]),
            signedHeaders: names,
            signature: ASCII.lowercased(signature),
            requestDate: timestamp.basic,
            securityToken: securityToken,
            timestamp: timestamp,
            credentialScope: credentialString[scopeStart...],
            signedHeadersLine: names.joined(separator: ";"))
    }

    private static var algorithmName: Substring { "AWS4-HMAC-SHA256" }

    private static func badDate(_ value: String) -> SigV4Error {
        .incomplete("Date must be in ISO-8601 'basic format'. Got '\(value)'. See http://en.wikipedia.org/wiki/ISO_8601")
    }
}
