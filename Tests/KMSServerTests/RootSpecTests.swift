import Foundation
@testable import KMSServer
import KMSStorage
import Testing

/// `kms admin rewrap --from/--to` root forms, and where auto-unseal finds AWS credentials.
@Suite struct RootSpecTests {
    @Test func parsesEveryRootForm() throws {
        #expect(try RootSpec.parse("file") == .file(path: nil))
        #expect(try RootSpec.parse("file:/d/root.key") == .file(path: "/d/root.key"))
        #expect(try RootSpec.parse("passphrase") == .passphrase(file: nil))
        #expect(try RootSpec.parse("passphrase:-") == .passphrase(file: nil))
        #expect(try RootSpec.parse("passphrase:/p") == .passphrase(file: "/p"))
        #expect(try RootSpec.parse("pkcs11:token=kms;object=r?module-path=/lib/x.so&pin-source=/pin")
            == .pkcs11(module: "/lib/x.so", slot: nil, token: "kms", pinFile: "/pin", keyLabel: "r"))
        #expect(try RootSpec.parse("pkcs11:slot-id=7?module-path=/lib/x.so")
            == .pkcs11(module: "/lib/x.so", slot: 7, token: nil, pinFile: nil, keyLabel: "swift-kms-root"))
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        #expect(try RootSpec.parse("kms:\(arn)?endpoint=http://127.0.0.1:8080&region=us-east-1")
            == .kms(keyId: arn, endpoint: "http://127.0.0.1:8080", region: "us-east-1"))
    }

    @Test func refusesIncompleteRoots() {
        for bad in ["hsm:x", "pkcs11:token=a", "pkcs11:token=a;slot-id=1?module-path=/m", "pkcs11:?module-path=/m",
                    "pkcs11:slot-id=x?module-path=/m", "kms:arn?endpoint=http://x", "kms:?endpoint=http://x&region=r"] {
            #expect(throws: RootSpec.Invalid.self, "\(bad)") { try RootSpec.parse(bad) }
        }
    }

    @Test func pkcs11PinComesFromFileOrEnvironmentNeverNowhere() throws {
        let spec = RootSpec.pkcs11(module: "/m.so", slot: 1, token: nil, pinFile: nil, keyLabel: "k")
        #expect(throws: RootSpec.Invalid.self) { try spec.resolve(dataDirectory: "/tmp", environment: [:]) }
        guard case .pkcs11(let root) = try spec.resolve(dataDirectory: "/tmp", environment: ["KMS_PKCS11_PIN": "4321"]) else {
            Issue.record("not a PKCS#11 root")
            return
        }
        #expect(root.pin == "4321" && root.keyLabel == "k")
    }

    @Test func credentialsFromEnvironmentThenSharedFile() throws {
        let env = try AWSCredentials.load(environment: ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"])
        #expect(env.accessKeyId == "AKID" && env.secretAccessKey == "s" && env.sessionToken == "t")
        let file = NSTemporaryDirectory() + "kms-creds-\(UUID().uuidString)"
        try """
            [default]
            aws_access_key_id = DEF
            aws_secret_access_key = defsecret
            # a comment
            [unseal]
            aws_access_key_id=UNS
            aws_secret_access_key=unssecret
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let d = try AWSCredentials.load(environment: ["AWS_SHARED_CREDENTIALS_FILE": file])
        #expect(d.accessKeyId == "DEF" && d.secretAccessKey == "defsecret" && d.sessionToken == nil)
        let p = try AWSCredentials.load(environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "unseal"])
        #expect(p.accessKeyId == "UNS" && p.secretAccessKey == "unssecret")
        #expect(throws: KMSUnsealClient.Failure.self) {
            try AWSCredentials.load(environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "none"])
        }
    }
}
