import IAMPolicy
import Synchronization

/// Condition plans of identity and session policies, kept across requests. Those policies
/// come compiled with the caller (cached with its credential), but their plan (which keys,
/// where each is bound) was rebuilt on every request: string matching against every
/// operation's key list, per key, per policy. A plan is keyed by the policy's first compiled
/// statement (a class instance, unique per compiled policy); the entry holds that statement,
/// so its identity cannot be reused by another policy while the entry exists.
final class ConditionPlanCache: Sendable {
    private struct Entry {
        let statement: CompiledStatement
        let plan: ConditionPlan
    }
    private let state = Mutex([ObjectIdentifier: Entry]())
    /// Bounds memory: past this many policies the cache starts over (a plan is cheap to rebuild).
    let capacity: Int

    init(capacity: Int = 10_000) { self.capacity = capacity }

    func plan(for policy: CompiledPolicy) -> ConditionPlan {
        guard let first = policy.statements.first else { return ConditionPlan(policy) }
        let id = ObjectIdentifier(first)
        if let hit = state.withLock({ s -> ConditionPlan? in
            guard let e = s[id], e.statement === first else { return nil }
            return e.plan
        }) { return hit }
        let plan = ConditionPlan(policy)
        state.withLock { s in
            if s.count >= capacity { s.removeAll(keepingCapacity: true) }
            s[id] = Entry(statement: first, plan: plan)
        }
        return plan
    }

    var count: Int { state.withLock { $0.count } }
}
