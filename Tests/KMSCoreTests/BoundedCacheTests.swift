import Testing
@testable import KMSCore

/// The registry's cache: never more than its capacity, oldest insertion out first,
/// removals and re-insertions do not let the bookkeeping grow without bound.
@Suite struct BoundedCacheTests {
    static func ref(_ i: Int) -> KeyRegistry.Ref { KeyRegistry.Ref(account: "a", region: "r", name: String(i)) }

    @Test func staysWithinCapacityAndEvictsTheOldest() {
        var cache = BoundedCache<Int>()
        for i in 0..<1_000 { cache.put(Self.ref(i), i, capacity: 10) }
        #expect(cache.count == 10)
        #expect((990..<1_000).allSatisfy { cache.get(Self.ref($0)) == $0 })
        #expect(cache.get(Self.ref(989)) == nil)
        // An update in place is not a new insertion.
        cache.put(Self.ref(995), -1, capacity: 10)
        #expect(cache.count == 10 && cache.get(Self.ref(995)) == -1)
    }

    @Test func churnOfRemovalsAndReinsertionsStaysCorrect() {
        var cache = BoundedCache<Int>()
        for round in 0..<5_000 {
            let i = round % 37
            if round % 3 == 0 { cache.remove(Self.ref(i)) } else { cache.put(Self.ref(i), round, capacity: 16) }
            #expect(cache.count <= 16)
        }
        cache.put(Self.ref(1_000), 7, capacity: 16)
        #expect(cache.get(Self.ref(1_000)) == 7)
    }
}
