import Testing
@testable import KMSCore

@Suite struct HexTests {
    /// Two lowercase digits a byte, leading zeros kept: identifiers made from it have a fixed length.
    @Test func lowercaseTwoDigitsPerByte() {
        #expect(Hex.lower([0x00, 0x0f, 0xa0, 0xff, 0x5c]) == "000fa0ff5c")
        #expect(Hex.lower([UInt8]()) == "")
        let all = Hex.lower((0...255).map { UInt8($0) })
        #expect(all.count == 512 && all.hasPrefix("000102") && all.hasSuffix("fdfeff"))
    }
}
