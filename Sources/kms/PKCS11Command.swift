import ArgumentParser
import KMSServer

/// `kms pkcs11`: looks into a PKCS#11 token that stands for a CloudHSM cluster
/// (`--pkcs11-cluster`), as an operator would with CloudHSM's own tools.
struct PKCS11Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pkcs11", abstract: "Inspect a PKCS#11 token used by AWS_CLOUDHSM key stores.",
        subcommands: [ListKeys.self])

    struct ListKeys: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list-keys",
            abstract: "Print the labels of the token's AES keys, one per line: the KMS key IDs whose material it holds.")
        @Option(name: .customLong("module"), help: "The PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so).") var module: String
        @Option(name: .customLong("token"), help: "The token's label.") var token: String
        @Option(name: .customLong("pin-file"), help: "A file (0600) holding the token's user PIN (or KMS_PKCS11_PIN).") var pinFile: String?

        func run() throws {
            for label in try PKCS11KeyListing.aesKeyLabels(modulePath: module, tokenLabel: token, pinFile: pinFile) {
                print(label)
            }
        }
    }
}
