import Synchronization

/// Verified session tokens, so that a temporary credential costs no more than a long-term
/// key on the hot path: a hit replaces AES-GCM, JSON decoding and compiling the session
/// policies with one hash of the token and a dictionary lookup.
///
/// Keyed by the token itself: the dictionary hashes it with Swift's per-process seeded
/// SipHash and compares the whole token on a hit, so no second SHA-256 pass over the token
/// is paid per request (SigV4 already hashes it once in the canonical request). Holds only
/// tokens that opened, so a forged token never enters. The binding and expiry are still
/// checked on every use (SessionTokenSealer.check). Bounded: least recently used go first.
public final class SessionTokenCache<Value: Sendable>: Sendable {
    public struct Key: Hashable, Sendable {
        let token: String

        public init(token: String) {
            self.token = token
        }
    }

    struct Node: Sendable {
        var key: Key
        var value: Value
        var prev: Int
        var next: Int
    }

    /// A doubly linked list in an array (index -1 is none), newest at `head`.
    struct State: Sendable {
        var index: [Key: Int] = [:]
        var nodes: [Node] = []
        var head = -1
        var tail = -1

        mutating func unlink(_ i: Int) {
            let p = nodes[i].prev, n = nodes[i].next
            if p >= 0 { nodes[p].next = n } else { head = n }
            if n >= 0 { nodes[n].prev = p } else { tail = p }
        }

        mutating func pushFront(_ i: Int) {
            nodes[i].prev = -1
            nodes[i].next = head
            if head >= 0 { nodes[head].prev = i }
            head = i
            if tail < 0 { tail = i }
        }
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { state.withLock { $0.index.count } }

    public func value(for key: Key) -> Value? {
        state.withLock { s in
            guard let i = s.index[key] else { return nil }
            if s.head != i {
                s.unlink(i)
                s.pushFront(i)
            }
            return s.nodes[i].value
        }
    }

    public func insert(_ value: Value, for key: Key) {
        let capacity = self.capacity
        state.withLock { s in
            if let i = s.index[key] {
                s.nodes[i].value = value
                s.unlink(i)
                s.pushFront(i)
                return
            }
            let i: Int
            if s.nodes.count < capacity {
                i = s.nodes.count
                s.nodes.append(Node(key: key, value: value, prev: -1, next: -1))
            } else {
                // Full: the least recently used slot is reused.
                i = s.tail
                s.unlink(i)
                s.index[s.nodes[i].key] = nil
                s.nodes[i] = Node(key: key, value: value, prev: -1, next: -1)
            }
            s.index[key] = i
            s.pushFront(i)
        }
    }

    public func removeAll() {
        state.withLock { $0 = State() }
    }
}
