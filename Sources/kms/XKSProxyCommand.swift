import ArgumentParser
import Foundation
import KMSServer

/// `kms xks-proxy`: an external key store proxy of our own (issue 14 §3), and the commands
/// that manage its keys file.
struct XKSProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xks-proxy",
        abstract: "Serve the AWS KMS external key store (XKS) proxy API, backed by AES-256 keys in a data dir.",
        subcommands: [Serve.self, CreateKey.self, DisableKey.self, EnableKey.self, ListKeys.self],
        defaultSubcommand: Serve.self)

    struct DataDir: ParsableArguments {
        @Option(name: .customLong("data-dir"), help: "The proxy's directory: root.key, xks-keys.json, xks-audit.log.") var dataDir: String = "./xks-data"
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the XKS proxy API over HTTPS.")
        @OptionGroup var data: DataDir
        @Option(help: "HOST:PORT to listen on (default 127.0.0.1:8443).") var listen: String = "127.0.0.1:8443"
        @Option(name: .customLong("uri-path-prefix"), help: "The XksProxyUriPath this proxy serves (default /kms/xks/v1).") var uriPathPrefix = "/kms/xks/v1"
        @Option(name: .customLong("access-key-id"), help: "The SigV4 access key ID KMS signs with (XksProxyAuthenticationCredential.AccessKeyId). Repeatable, paired with --secret-access-key-file.") var accessKeyId: [String] = []
        @Option(name: .customLong("secret-access-key-file"), help: "A file holding the matching raw secret access key. Repeatable.") var secretAccessKeyFile: [String] = []
        @Option(name: .customLong("tls-cert"), help: "The proxy's certificate chain (PEM).") var tlsCert: String?
        @Option(name: .customLong("tls-key"), help: "The proxy's private key (PEM).") var tlsKey: String?
        @Option(name: .customLong("client-ca-file"), help: "Mutual TLS: require client certificates chained to these CAs (PEM).") var clientCAFile: String?

        func run() async throws {
            var c = XKSProxyConfiguration(dataDirectory: data.dataDir)
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
                throw ValidationError("--listen takes HOST:PORT")
            }
            c.host = String(listen[..<colon])
            c.port = port
            c.uriPathPrefix = uriPathPrefix
            var ids = accessKeyId, files = secretAccessKeyFile
            if ids.isEmpty, let id = ProcessInfo.processInfo.environment["KMS_XKS_ACCESS_KEY_ID"],
               let secret = ProcessInfo.processInfo.environment["KMS_XKS_SECRET_ACCESS_KEY"] {
                c.credentials[id] = secret
                ids = []; files = []
            }
            guard ids.count == files.count else { throw ValidationError("give one --secret-access-key-file per --access-key-id") }
            for (id, file) in zip(ids, files) {
                let secret = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                guard !secret.isEmpty else { throw ValidationError("\(file) is empty") }
                c.credentials[id] = secret
            }
            guard !c.credentials.isEmpty else {
                throw ValidationError("kms xks-proxy needs a credential: --access-key-id with --secret-access-key-file (or KMS_XKS_ACCESS_KEY_ID and KMS_XKS_SECRET_ACCESS_KEY)")
            }
            c.tlsCertificate = tlsCert
            c.tlsKey = tlsKey
            c.clientCAFile = clientCAFile
            let server = try XKSProxyServer(configuration: c)
            let host = c.host, prefix = c.uriPathPrefix
            try await server.run { port in
                FileHandle.standardError.write(Data("kms xks-proxy: listening on \(host):\(port)\(prefix)\n".utf8))
            }
        }
    }

    struct CreateKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-key", abstract: "Create an AES-256 external key; prints its ID.")
        @OptionGroup var data: DataDir
        @Option(help: "The external key ID (default: a new UUID).") var id: String?
        @Option(name: .customLong("allow-key-arn"), help: "A KMS key ARN allowed to use the key (a trailing * matches any suffix). Repeatable; none: any.") var allowKeyArn: [String] = []

        func run() throws {
            let keys = try XKSProxyKeyFile(directory: data.dataDir)
            let key = try keys.create(id: id ?? UUID().uuidString.lowercased(), allowedKeyArns: allowKeyArn)
            print(key.id)
        }
    }

    struct DisableKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "disable-key", abstract: "Disable an external key: its ciphertexts stop decrypting.")
        @OptionGroup var data: DataDir
        @Option(help: "The external key ID.") var id: String
        func run() throws { try XKSProxyKeyFile(directory: data.dataDir).update(id: id) { $0.status = "DISABLED" } }
    }

    struct EnableKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "enable-key", abstract: "Enable an external key again.")
        @OptionGroup var data: DataDir
        @Option(help: "The external key ID.") var id: String
        func run() throws { try XKSProxyKeyFile(directory: data.dataDir).update(id: id) { $0.status = "ENABLED" } }
    }

    struct ListKeys: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list-keys", abstract: "List the external keys (never their material).")
        @OptionGroup var data: DataDir
        func run() throws {
            for key in try XKSProxyKeyFile(directory: data.dataDir).keys().values.sorted(by: { $0.id < $1.id }) {
                print("\(key.id)\t\(key.status)\t\(key.allowedKeyArns.isEmpty ? "*" : key.allowedKeyArns.joined(separator: ","))")
            }
        }
    }
}
