import IAMPolicy
import Synchronization

/// Allowed decisions under conditional policies, remembered with every input the evaluator
/// read, so that the same caller repeating the same request on the same key is answered
/// without weighing every statement again. `PolicyEvaluator.evaluate` is a pure function of
/// its policies, grants and `AuthorizationContext`; a hit requires all of them to be the
/// same: the same compiled key, identity and session policies (by object identity, retained
/// by the entry so an identity cannot be reused), no grants, an equal principal, action,
/// resource and resource account, equal values for every condition key the policies read
/// (computed per request as before: encryption context, source IP, algorithms, tags,
/// aliases...), and the same whole second (the time keys are read in whole seconds). Only
/// allowed decisions are kept: a denial is always evaluated (and re-read on a cluster node).
/// A new policy, a user's changed policies or groups (new compiled policies), a changed tag
/// or request value simply misses.
final class DecisionMemo: Sendable {
    struct Entry: Sendable {
        let resourcePolicy: CompiledStatement?
        let identityPolicies: [CompiledStatement]
        let sessionPolicies: [CompiledStatement]?
        let principal: RequestPrincipal
        let action: String
        let resource: String
        let resourceAccount: String
        let conditions: [ConditionEntry]
        let second: Int64

        /// Compared in place (a copy of the entry would retain every field).
        func matches(resourcePolicy p: CompiledPolicy?, identityPolicies: [CompiledPolicy], sessionPolicies: [CompiledPolicy]?,
                     principal: RequestPrincipal, action: String, resource: String, resourceAccount: String,
                     conditions: [ConditionEntry], second: Int64) -> Bool {
            self.second == second && self.action == action && self.resource == resource
                && self.resourceAccount == resourceAccount && self.principal == principal
                && DecisionMemo.same(self.resourcePolicy, p)
                && DecisionMemo.same(self.identityPolicies, identityPolicies)
                && DecisionMemo.same(self.sessionPolicies, sessionPolicies)
                && DecisionMemo.equal(self.conditions, conditions)
        }
    }

    struct State {
        var entries: [Entry] = []
        /// The slot the next new entry replaces once `entries` is full.
        var next = 0
        var hits = 0
    }

    private let state = Mutex(State())
    /// Bounds memory and the work of a lookup (a linear search): callers and actions per key.
    let capacity: Int

    init(capacity: Int = 8) { self.capacity = max(1, capacity) }

    /// The whole second a request time falls in; nil for a time the memo does not handle.
    static func second(_ time: Double) -> Int64? {
        guard time.isFinite, time >= 0, time < 9.0e15 else { return nil }
        return Int64(time)
    }

    /// Whether an equal evaluation was remembered as allowed.
    func allows(resourcePolicy: CompiledPolicy?, identityPolicies: [CompiledPolicy], sessionPolicies: [CompiledPolicy]?,
                principal: RequestPrincipal, action: String, resource: String, resourceAccount: String,
                conditions: [ConditionEntry], second: Int64) -> Bool {
        state.withLock { s -> Bool in
            for i in s.entries.indices
            where s.entries[i].matches(resourcePolicy: resourcePolicy, identityPolicies: identityPolicies,
                                       sessionPolicies: sessionPolicies, principal: principal, action: action,
                                       resource: resource, resourceAccount: resourceAccount,
                                       conditions: conditions, second: second) {
                s.hits += 1
                return true
            }
            return false
        }
    }

    /// Records an allowed evaluation made from exactly these inputs (without grants).
    func remember(resourcePolicy: CompiledPolicy?, identityPolicies: [CompiledPolicy], sessionPolicies: [CompiledPolicy]?,
                  principal: RequestPrincipal, action: String, resource: String, resourceAccount: String,
                  conditions: [ConditionEntry], second: Int64) {
        // A policy is named by its first statement (every compiled policy has at least one).
        var identity: [CompiledStatement] = []
        identity.reserveCapacity(identityPolicies.count)
        for p in identityPolicies {
            guard let first = p.statements.first else { return }
            identity.append(first)
        }
        var session: [CompiledStatement]? = nil
        if let sessionPolicies {
            var list: [CompiledStatement] = []
            for p in sessionPolicies {
                guard let first = p.statements.first else { return }
                list.append(first)
            }
            session = list
        }
        var resourceFirst: CompiledStatement? = nil
        if let resourcePolicy {
            guard let first = resourcePolicy.statements.first else { return }
            resourceFirst = first
        }
        let entry = Entry(resourcePolicy: resourceFirst, identityPolicies: identity, sessionPolicies: session,
                          principal: principal, action: action, resource: resource, resourceAccount: resourceAccount,
                          conditions: conditions, second: second)
        state.withLock { s in
            // An entry of an earlier second for the same caller and action is replaced in place.
            if let i = s.entries.firstIndex(where: { $0.action == action && $0.principal == principal
                && $0.resource == resource && Self.same($0.identityPolicies, identityPolicies) }) {
                s.entries[i] = entry
            } else if s.entries.count < capacity {
                s.entries.append(entry)
            } else {
                s.entries[s.next] = entry
                s.next = (s.next + 1) % capacity
            }
        }
    }

    /// Lookups answered from the memo (for tests).
    var hits: Int { state.withLock { $0.hits } }
    var count: Int { state.withLock { $0.entries.count } }

    static func same(_ first: CompiledStatement?, _ policy: CompiledPolicy?) -> Bool {
        switch (first, policy) {
        case (nil, nil): return true
        case (let f?, let p?): return p.statements.first === f
        default: return false
        }
    }

    static func same(_ firsts: [CompiledStatement], _ policies: [CompiledPolicy]) -> Bool {
        guard firsts.count == policies.count else { return false }
        for i in 0..<firsts.count where policies[i].statements.first !== firsts[i] { return false }
        return true
    }

    static func same(_ firsts: [CompiledStatement]?, _ policies: [CompiledPolicy]?) -> Bool {
        switch (firsts, policies) {
        case (nil, nil): return true
        case (let f?, let p?): return same(f, p)
        default: return false
        }
    }

    static func equal(_ a: [ConditionEntry], _ b: [ConditionEntry]) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i].key != b[i].key || a[i].values != b[i].values { return false }
        return true
    }
}
