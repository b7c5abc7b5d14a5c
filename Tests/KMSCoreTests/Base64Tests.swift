import Foundation
import Testing
@testable import KMSCore

@Suite struct Base64Tests {
    @Test func matchesFoundationForEveryLengthUpTo100() {
        var bytes: [UInt8] = []
        for n in 0...100 {
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString())
            #expect(Base64.decode(encoded) == bytes)
            bytes.append(UInt8(truncatingIfNeeded: n &* 37 &+ 11))
        }
    }

    @Test(arguments: ["a", "ab", "abc", "ab=c", "a===", "====", "ab\u{00e9}d", "YQ", "YR==", "YWJ=", "!!!!", "YW Jj"])
    func rejectsMalformed(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func knownVectors() {
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.decode("Zm9vYg==") == Array("foob".utf8))
        #expect(Base64.decode("Zm9vYmE=") == Array("fooba".utf8))
        #expect(Base64.decode("") == [])
    }
}
