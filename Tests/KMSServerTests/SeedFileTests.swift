import Foundation
import Testing
import KMSCore
@testable import KMSServer

/// `--seed`: fixed key IDs, known material, aliases, policies and tags; idempotent; two
/// servers seeded alike are interchangeable; local-kms's seed.yaml; secrets need dev or 0600.
@Suite struct SeedFileTests {
    static let account = "111122223333"
    static let symmetricId = "11111111-2222-4333-8444-555555555555"
    static let hmacId = "22222222-2222-4333-8444-555555555555"
    static let ecId = "33333333-2222-4333-8444-555555555555"
    static let pem = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgY6HhfLn20/s2Fh6y
        OhHhmyQJ6k5EqdT6o/LolfPyfvKhRANCAARiWB0JnGC8szDsftK7ph3IWpctAblD
        AkTdnmIJKjaMNmNId2fNhMcPUJu2ujIeT8j6YzSuY39O3weociURvkTp
        -----END PRIVATE KEY-----
        """
    static let yaml = """
        Account: "\(account)"
        Keys:
          - KeyId: \(symmetricId)
            Description: test suite key
            KeyMaterial: hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
            Tags: {Team: payments}
            Aliases: [alias/test-suite]
            RotationPeriodInDays: 180
          - KeyId: \(hmacId)
            KeySpec: HMAC_256
            KeyUsage: GENERATE_VERIFY_MAC
            KeyMaterial: base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
          - KeyId: \(ecId)
            KeySpec: ECC_NIST_P256
            KeyUsage: SIGN_VERIFY
            PrivateKeyPem: |
        \(pem.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n"))
        """
    let caller = Caller(account: account, region: "eu-west-1", accessKeyId: "AKIASEED")

    func service(_ seed: Seed) throws -> KMSService {
        let s = try KMSService(store: InMemoryKeyStore())
        try s.applySeed(seed)
        return s
    }

    func call(_ s: KMSService, _ op: String, _ body: [(String, JSONValue)]) throws -> JSONObject {
        try s.handle(operation: op, body: .object(JSONObject(body)), caller: caller)
    }

    @Test func seedsKeysAliasesTagsAndRotationIdempotently() throws {
        let seed = try SeedFile.parse(Self.yaml, defaultAccount: "000000000000", defaultRegion: "eu-west-1")
        #expect(seed.account == Self.account && seed.region == "eu-west-1")
        let s = try service(seed)
        #expect(try s.applySeed(seed) == 0)  // the second start creates nothing
        let meta = try #require(try call(s, "DescribeKey", [("KeyId", .string("alias/test-suite"))])["KeyMetadata"]?.objectValue)
        #expect(meta["KeyId"]?.stringValue == Self.symmetricId)
        #expect(meta["Description"]?.stringValue == "test suite key")
        let tags = try call(s, "ListResourceTags", [("KeyId", .string(Self.symmetricId))])["Tags"]?.arrayValue
        #expect(tags?.first?.objectValue?["TagKey"]?.stringValue == "Team")
        #expect(try call(s, "GetKeyRotationStatus", [("KeyId", .string(Self.symmetricId))])["RotationPeriodInDays"]?.intValue == 180)
        let ec = try #require(try call(s, "DescribeKey", [("KeyId", .string(Self.ecId))])["KeyMetadata"]?.objectValue)
        #expect(ec["KeySpec"]?.stringValue == "ECC_NIST_P256")
    }

    @Test func twoServersSeededAlikeAreInterchangeable() throws {
        let seed = try SeedFile.parse(Self.yaml, defaultAccount: "000000000000", defaultRegion: "eu-west-1")
        let a = try service(seed), b = try service(seed)
        let blob = try #require(try call(a, "Encrypt", [("KeyId", .string("alias/test-suite")), ("Plaintext", .string(Base64.encode(Array("hello".utf8))))])["CiphertextBlob"])
        let plain = try call(b, "Decrypt", [("CiphertextBlob", blob)])["Plaintext"]?.stringValue
        #expect(plain == Base64.encode(Array("hello".utf8)))
        let mac = try #require(try call(a, "GenerateMac", [("KeyId", .string(Self.hmacId)), ("Message", .string("bXNn")), ("MacAlgorithm", .string("HMAC_SHA_256"))])["Mac"])
        #expect(try call(b, "VerifyMac", [("KeyId", .string(Self.hmacId)), ("Message", .string("bXNn")), ("MacAlgorithm", .string("HMAC_SHA_256")), ("Mac", mac)])["MacValid"] == .bool(true))
        let pa = try call(a, "GetPublicKey", [("KeyId", .string(Self.ecId))])["PublicKey"]
        let pb = try call(b, "GetPublicKey", [("KeyId", .string(Self.ecId))])["PublicKey"]
        #expect(pa != nil && pa == pb)
        let ma = try call(a, "DescribeKey", [("KeyId", .string(Self.symmetricId))])["KeyMetadata"]?.objectValue?["CurrentKeyMaterialId"]
        let mb = try call(b, "DescribeKey", [("KeyId", .string(Self.symmetricId))])["KeyMetadata"]?.objectValue?["CurrentKeyMaterialId"]
        #expect(ma != nil && ma == mb)
    }

    @Test func readsLocalKMSSeedFormat() throws {
        let yaml = """
            Keys:
              Symmetric:
                Aes:
                  - Metadata:
                      KeyId: bc436485-5092-42b8-92a3-0aa8b93536dc
                      Description: local-kms key
                    NextKeyRotation: "2030-09-12T15:19:21+00:00"
                    BackingKeys:
                      - 34743777217A25432A46294A404E635266556A586E3272357538782F413F4428
                      - 614E645267556B58703273357638792F423F4528472B4B6250655368566D5971
            Aliases:
              - AliasName: alias/testing
                TargetKeyId: bc436485-5092-42b8-92a3-0aa8b93536dc
            """
        let seed = try SeedFile.parse(yaml, defaultAccount: Self.account, defaultRegion: "eu-west-1")
        #expect(seed.keys.first?.materials.count == 2)
        let s = try service(seed)
        let meta = try #require(try call(s, "DescribeKey", [("KeyId", .string("alias/testing"))])["KeyMetadata"]?.objectValue)
        #expect(meta["KeyId"]?.stringValue == "bc436485-5092-42b8-92a3-0aa8b93536dc")
        let status = try call(s, "GetKeyRotationStatus", [("KeyId", .string("bc436485-5092-42b8-92a3-0aa8b93536dc"))])
        #expect(status["KeyRotationEnabled"] == .bool(true))
        #expect(status["NextRotationDate"]?.doubleValue == 1_915_456_761)
        // Two backing keys: a key rotated once; new ciphertexts use the second version.
        let rotations = try call(s, "ListKeyRotations", [("KeyId", .string("bc436485-5092-42b8-92a3-0aa8b93536dc"))])
        #expect(rotations["Rotations"]?.arrayValue?.count == 1)
    }

    @Test func secretsNeedDevModeOrA0600File() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("seed-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.yaml.utf8), attributes: [.posixPermissions: 0o644]))
        #expect(throws: SeedFile.Failure.self) { try SeedFile.load(path: path, defaultAccount: Self.account, defaultRegion: "us-east-1", dev: false) }
        _ = try SeedFile.load(path: path, defaultAccount: Self.account, defaultRegion: "us-east-1", dev: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        _ = try SeedFile.load(path: path, defaultAccount: Self.account, defaultRegion: "us-east-1", dev: false)
    }

    @Test func badInputIsRefusedWithTheKeyNamed() throws {
        for bad in ["Keys:\n  - KeyId: 11111111-2222-4333-8444-555555555555\n    KeyMaterial: hex:abc",
                    "Keys:\n  - KeyId: 11111111-2222-4333-8444-555555555555\n    KeySpec: NOPE",
                    "Account: 12\n"] {
            #expect(throws: SeedFile.Failure.self) { try SeedFile.parse(bad, defaultAccount: Self.account, defaultRegion: "us-east-1") }
        }
        // Short symmetric material is refused when applied.
        let seed = try SeedFile.parse("Keys:\n  - KeyId: 11111111-2222-4333-8444-555555555555\n    KeyMaterial: hex:0011",
                                      defaultAccount: Self.account, defaultRegion: "us-east-1")
        #expect(throws: KMSError.self) { try KMSService(store: InMemoryKeyStore()).applySeed(seed) }
    }
}
