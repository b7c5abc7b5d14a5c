/// Which condition keys a compiled document reads, so a request needs to supply only those
/// (the hot path then builds no condition map at all for a policy without conditions).
enum ConditionKeyReferences {
    static func collect(_ statements: [CompiledStatement]) -> Set<String> {
        var keys = Set<String>()
        func add(_ t: PolicyTemplate) {
            for case .variable(let key, _) in t.parts { keys.insert(key) }
        }
        for s in statements {
            for r in s.resources { add(r.template) }
            for c in s.conditions {
                keys.insert(c.key)
                for v in c.values {
                    switch v {
                    case .text(let t): add(t)
                    case .arn(let a): add(a.template)
                    default: break
                    }
                }
            }
        }
        return keys
    }
}
