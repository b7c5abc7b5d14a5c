import Foundation
import KMSStorage

/// Which root of trust a start (or `kms admin rewrap`) uses, as given on the command line:
/// paths and names only. `resolve` reads the secrets (PIN, passphrase, AWS credentials).
public enum RootSpec: Sendable, Equatable {
    case file(path: String?)
    case pkcs11(module: String, slot: UInt?, token: String?, pinFile: String?, keyLabel: String)
    /// nil: the passphrase is read from stdin.
    case passphrase(file: String?)
    case kms(keyId: String, endpoint: String, region: String)

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    /// The form `kms admin rewrap --from/--to` takes:
    /// `file[:PATH]`,
    /// `pkcs11:token=LABEL|slot-id=N[;object=KEY-LABEL]?module-path=LIB[&pin-source=FILE]` (RFC 7512's names),
    /// `passphrase[:FILE]` (stdin without FILE), `kms:KEY-ARN?endpoint=URL&region=R`.
    public static func parse(_ text: String) throws -> RootSpec {
        let (scheme, rest) = text.firstIndex(of: ":").map { (String(text[..<$0]), String(text[text.index(after: $0)...])) } ?? (text, "")
        switch scheme {
        case "file": return .file(path: rest.isEmpty ? nil : rest)
        case "passphrase": return .passphrase(file: rest.isEmpty || rest == "-" ? nil : rest)
        case "pkcs11":
            let (pathPart, queryPart) = split(rest, at: "?")
            let attributes = pairs(pathPart, separator: ";")
            let query = pairs(queryPart, separator: "&")
            guard let module = query["module-path"] else { throw Invalid("a pkcs11: root needs ?module-path=LIB") }
            var slot: UInt?
            if let text = attributes["slot-id"] {
                guard let number = UInt(text) else { throw Invalid("slot-id must be a number") }
                slot = number
            }
            guard (slot == nil) != (attributes["token"] == nil) else { throw Invalid("a pkcs11: root needs exactly one of token=LABEL and slot-id=N") }
            return .pkcs11(module: module, slot: slot, token: attributes["token"], pinFile: query["pin-source"],
                           keyLabel: attributes["object"] ?? RootOfTrust.PKCS11Root.defaultKeyLabel)
        case "kms":
            let (keyId, queryPart) = split(rest, at: "?")
            let query = pairs(queryPart, separator: "&")
            guard !keyId.isEmpty, let endpoint = query["endpoint"], let region = query["region"] else {
                throw Invalid("a kms: root is kms:KEY-ARN?endpoint=URL&region=REGION")
            }
            return .kms(keyId: keyId, endpoint: endpoint, region: region)
        default:
            throw Invalid("a root is file[:PATH], pkcs11:..., passphrase[:FILE] or kms:KEY-ARN?endpoint=URL&region=R (not \(scheme))")
        }
    }

    private static func split(_ s: String, at c: Character) -> (String, String) {
        guard let i = s.firstIndex(of: c) else { return (s, "") }
        return (String(s[..<i]), String(s[s.index(after: i)...]))
    }

    private static func pairs(_ s: String, separator: Character) -> [String: String] {
        var out: [String: String] = [:]
        for part in s.split(separator: separator) {
            let (k, v) = split(String(part), at: "=")
            out[k] = v.removingPercentEncoding ?? v
        }
        return out
    }

    /// The root, with its secrets read: the PIN from its file or KMS_PKCS11_PIN, the passphrase
    /// from its file or one line of stdin, AWS credentials from the environment or ~/.aws.
    public func resolve(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RootOfTrust {
        switch self {
        case .file(let path):
            return .file(path: path ?? dataDirectory + "/root.key")
        case .pkcs11(let module, let slot, let token, let pinFile, let keyLabel):
            let pin: String
            if let pinFile {
                pin = try Self.secretLine(file: pinFile, what: "the PKCS#11 PIN file")
            } else if let env = environment["KMS_PKCS11_PIN"], !env.isEmpty {
                pin = env
            } else {
                throw Invalid("a PKCS#11 root needs its PIN: --root-pkcs11-pin-file FILE or KMS_PKCS11_PIN")
            }
            return .pkcs11(try RootOfTrust.PKCS11Root(modulePath: module, slot: slot, tokenLabel: token, pin: pin, keyLabel: keyLabel))
        case .passphrase(let file):
            let text: String
            if let file {
                text = try Self.secretLine(file: file, what: "the root passphrase file")
            } else {
                guard let line = readLine(strippingNewline: true) else { throw Invalid("no root passphrase on stdin") }
                text = line
            }
            return .passphrase(try RootOfTrust.Passphrase(Array(text.utf8)))
        case .kms(let keyId, let endpoint, let region):
            let client = try KMSUnsealClient(endpoint: endpoint, region: region, keyId: keyId, environment: environment)
            return .kms(RootOfTrust.KMSUnseal(keyId: keyId, endpoint: endpoint,
                                              decrypt: { try client.decrypt($0) }, encrypt: { try client.encrypt($0) }))
        }
    }

    /// A secret file's first line; it must be private to the server's user, like the root key file.
    static func secretLine(file: String, what: String) throws -> String {
        try PrivateFile.check(path: file, what: what)
        guard let data = FileManager.default.contents(atPath: file) else { throw Invalid("cannot read \(what) \(file)") }
        let text = String(decoding: data, as: UTF8.self)
        return String(text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).first ?? "")
    }
}
