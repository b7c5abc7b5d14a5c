import Foundation
import Testing
@testable import SigV4

/// One request signed by botocore (see Fixtures/make_fixtures.py).
struct FixtureCase: Decodable, Sendable, CustomTestStringConvertible {
    let name: String
    let note: String
    let time: String
    let accessKeyId: String
    let secretAccessKey: String
    let sessionToken: String?
    let region: String
    let service: String
    let method: String
    let path: String
    let query: String
    let headerPairs: [[String]]
    let bodyBase64: String
    let authorization: String
    let signature: String
    let canonicalRequest: String
    let stringToSign: String

    enum CodingKeys: String, CodingKey {
        case name, note, time, accessKeyId, secretAccessKey, sessionToken, region, service, method, path, query
        case headerPairs = "headers"
        case bodyBase64, authorization, signature, canonicalRequest, stringToSign
    }

    var headers: [(name: String, value: String)] {
        headerPairs.map { ($0[0], $0[1]) }
    }

    var body: [UInt8] {
        Data(base64Encoded: bodyBase64).map { Array($0) } ?? []
    }

    /// The instant botocore signed at.
    var now: Date {
        Date(timeIntervalSince1970: TimeInterval(AmzDate(basic: time)?.epochSeconds ?? 0))
    }

    /// Parameterized tests show the fixture's name.
    var testDescription: String { name }
}

struct SigningKeyFixture: Decodable, Sendable {
    let secretAccessKey: String
    let date: String
    let region: String
    let service: String
    let keyHex: String
}

struct FixtureFile: Decodable, Sendable {
    let botocore: String
    let cases: [FixtureCase]
    let signingKeys: [SigningKeyFixture]
}

enum Fixtures {
    static func load() throws -> FixtureFile {
        guard let url = Bundle.module.url(forResource: "botocore_sigv4", withExtension: "json", subdirectory: "Fixtures")
        else { throw CocoaError(.fileNoSuchFile) }
        return try JSONDecoder().decode(FixtureFile.self, from: Data(contentsOf: url))
    }

    /// Empty if loading fails; `FixtureLoadingTests` fails loudly in that case.
    static let file: FixtureFile? = try? load()
    static var cases: [FixtureCase] { file?.cases ?? [] }
    static var signingKeys: [SigningKeyFixture] { file?.signingKeys ?? [] }

    static func named(_ name: String) -> FixtureCase? {
        cases.first { $0.name == name }
    }
}

extension Date {
    /// `20261123T121000Z` as a Date.
    init(amz text: String) {
        self.init(timeIntervalSince1970: TimeInterval(AmzDate(basic: text)?.epochSeconds ?? 0))
    }
}

extension Array where Element == (name: String, value: String) {
    /// A copy with the value of every header called `name` (any case) changed by `change`.
    func changing(_ name: String, _ change: (String) -> String) -> Self {
        map { $0.name.lowercased() == name ? ($0.name, change($0.value)) : $0 }
    }

    func removing(_ name: String) -> Self {
        filter { $0.name.lowercased() != name }
    }
}
