// swift-tools-version: 6.2
// libFuzzer targets for swift-kms's parsers (docs/FUZZING.md). A package of its own, so the
// main build and `swift test` never see -sanitize=fuzzer. Build and run with scripts/fuzz.
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "swift-kms-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        // `name:` pins the identity, whatever the checkout directory is called.
        .package(name: "swift-kms", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        .executableTarget(name: "FuzzJSON", dependencies: [
            "CLibFuzzer",
            .product(name: "KMSCore", package: "swift-kms"),
        ], swiftSettings: strict),
        .executableTarget(name: "FuzzBlob", dependencies: [
            "CLibFuzzer",
            .product(name: "KMSCore", package: "swift-kms"),
        ], swiftSettings: strict),
        .executableTarget(name: "FuzzPolicy", dependencies: [
            "CLibFuzzer",
            .product(name: "KMSCore", package: "swift-kms"),
        ], swiftSettings: strict),
        .executableTarget(name: "FuzzSigV4", dependencies: [
            "CLibFuzzer",
            .product(name: "SigV4", package: "swift-kms"),
        ], swiftSettings: strict),
        .executableTarget(name: "FuzzSessionToken", dependencies: [
            "CLibFuzzer",
            .product(name: "STS", package: "swift-kms"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        .executableTarget(name: "FuzzHTTPFramer", dependencies: [
            "CLibFuzzer",
            .product(name: "KMSServer", package: "swift-kms"),
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strict),
    ]
)
