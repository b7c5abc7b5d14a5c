import IAMPolicy
import Synchronization

/// Compiled key policies, kept with the key they belong to: a policy is parsed and compiled
/// once, when its key is first used after loading or when the policy is stored, never per
/// request. An entry is keyed by key ARN and valid while the key's policy text is the one
/// it was compiled from (a text comparison; the registry hands out the same string storage,
/// so it is usually a pointer check).
public final class KeyPolicyCache: Sendable {
    public struct Entry: Sendable {
        let text: String
        let policy: CompiledPolicy?
        /// Its condition keys, parsed and bound (empty for a policy without conditions).
        let plan: ConditionPlan?
        /// Allowed decisions under this policy (DecisionMemo.swift); a new entry starts empty.
        let memo = DecisionMemo()
    }
    struct State {
        var keys: [String: Entry] = [:]
        var accounts: [String: CompiledPolicy] = [:]
    }
    private let state = Mutex(State())
    /// Bounds memory: past this many keys the cache starts over (recompiling is cheap and rare).
    let capacity: Int

    /// Identity and session policies' condition plans (ConditionPlanCache).
    let identityPlans = ConditionPlanCache()

    public init(capacity: Int = 100_000) { self.capacity = capacity }

    /// The key's compiled policy; nil when the stored text does not compile, which then
    /// allows nothing.
    public func compiled(for key: KMSKey) -> CompiledPolicy? { entry(for: key).policy }

    func entry(for key: KMSKey) -> Entry {
        if let hit = state.withLock({ s -> Entry? in
            guard let e = s.keys[key.arn], e.text == key.policy else { return nil }
            return e
        }) { return hit }
        let policy = try? CompiledPolicy(key.policy, kind: .resourceBased, name: "key policy")
        return store(policy, text: key.policy, keyArn: key.arn)
    }

    /// Records a policy compiled when it was validated (CreateKey, PutKeyPolicy).
    @discardableResult
    public func store(_ policy: CompiledPolicy?, text: String, keyArn: String) -> Entry {
        let entry = Entry(text: text, policy: policy,
                          plan: policy.flatMap { $0.conditionKeys.isEmpty ? nil : ConditionPlan($0) })
        state.withLock { s in
            if s.keys.count >= capacity { s.keys.removeAll(keepingCapacity: true) }
            s.keys[keyArn] = entry
        }
        return entry
    }

    /// The stand-in resource policy for account-level actions and aliases: it names the
    /// account's root, so the account root is allowed and anyone else needs an identity
    /// policy (AWS: these actions are controlled by IAM policies only).
    public func accountPolicy(_ account: String) -> CompiledPolicy? {
        if let p = state.withLock({ $0.accounts[account] }) { return p }
        guard account.count == 12, account.allSatisfy(\.isASCIIDigit) else { return nil }
        let text = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::\#(account):root"},"Action":"*","Resource":"*"}]}"#
        let policy = try? CompiledPolicy(text, kind: .resourceBased, name: "account \(account)")
        state.withLock { s in
            if s.accounts.count >= capacity { s.accounts.removeAll(keepingCapacity: true) }
            s.accounts[account] = policy
        }
        return policy
    }
}
