// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "swift-kms",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kms", targets: ["kms"]),
        .library(name: "KMSCore", targets: ["KMSCore"]),
        .library(name: "SigV4", targets: ["SigV4"]),
        // For the fuzz package (Fuzz/), which frames requests with the server's HTTPRequestFramer.
        .library(name: "KMSServer", targets: ["KMSServer"]),
        // For the fuzz package's session-token target.
        .library(name: "STS", targets: ["STS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // OIDC JWT verification for STS AssumeRoleWithWebIdentity (issue 9).
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        // X.509 parsing (CloudHSM trust anchors); already built for jwt-kit.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.15.0"),
        // Seed files (`--seed`, issue 12): YAML.
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // System OpenSSL 3 (libcrypto) for the algorithms swift-crypto lacks: secp256k1, SM2.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Algorithms no library on the machine has, written from their standards (FIPS 204, RFC 8032).
        .target(name: "PureCrypto", dependencies: [], swiftSettings: strict),
        // Asymmetric and HMAC primitives per key family, behind a narrow API.
        .target(name: "KMSCrypto", dependencies: [
            "COpenSSL", "PureCrypto",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ], swiftSettings: strict),
        // AWS Signature Version 4 verification (and signing, for clients and tests).
        .target(name: "SigV4", dependencies: [
            "COpenSSL",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        .target(name: "KMSCore", dependencies: [
            "KMSCrypto", "IAMPolicy", .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        .target(name: "KMSStorage", dependencies: [
            "KMSCore", "PKCS11", "COpenSSL",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // prctl(2) for the process hardening (no core dumps); Swift cannot call variadic C.
        .target(name: "CProcessControl"),
        .target(name: "KMSServer", dependencies: [
            "KMSCore", "KMSStorage", "SigV4", "STS", "PKCS11",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            "CProcessControl",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            "AWSQuery", "IAMPolicy",
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: strict),
        .executableTarget(name: "kms", dependencies: [
            "KMSServer", "KMSStorage", "STS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "SystemPackage", package: "swift-system"),
        ], swiftSettings: strict),
        .testTarget(name: "KMSCoreTests", dependencies: ["KMSCore"], swiftSettings: strict),
        .testTarget(name: "SigV4Tests", dependencies: ["SigV4"], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "KMSCryptoTests", dependencies: ["KMSCrypto"], exclude: ["make_fixtures.py"], swiftSettings: strict),
        .testTarget(name: "PureCryptoTests", dependencies: ["PureCrypto"], resources: [.copy("Vectors")], swiftSettings: strict),
        .testTarget(name: "KMSStorageTests", dependencies: [
            "KMSStorage", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),
        .testTarget(name: "KMSServerTests", dependencies: ["KMSServer", .product(name: "NIOCore", package: "swift-nio")], swiftSettings: strict),
        // The IAM policy language and KMS authorization decision, pure (issue 10).
        .target(name: "IAMPolicy", dependencies: [], swiftSettings: strict),
        // The AWS query protocol (IAM, STS): form decoding, model validation, XML (issue 9).
        .target(name: "AWSQuery", dependencies: ["KMSCore"], swiftSettings: strict),
        .testTarget(name: "AWSQueryTests", dependencies: ["AWSQuery", "KMSCore"], swiftSettings: strict),
        .testTarget(name: "IAMPolicyTests", dependencies: ["IAMPolicy"], exclude: ["make_corpus.py"], resources: [.copy("Corpus")], swiftSettings: strict),
        // STS (issue 9): sealed session tokens, OIDC web-identity tokens, trust-policy decisions; pure.
        .target(name: "STS", dependencies: [
            "IAMPolicy",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "JWTKit", package: "jwt-kit"),
        ], swiftSettings: strict),
        .testTarget(name: "STSTests", dependencies: [
            "STS", .product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
        ], swiftSettings: strict),
        // PKCS#11 (issue 14): a hand-written header subset and dlopen, no pkcs11 package needed.
        .target(name: "CPKCS11", linkerSettings: [.linkedLibrary("dl")]),
        // HSM tokens over PKCS#11: sessions, login, AES keys kept in the token, AES-GCM in the token.
        .target(name: "PKCS11", dependencies: ["CPKCS11", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .testTarget(name: "PKCS11Tests", dependencies: ["PKCS11"], swiftSettings: strict),
    ]
)
