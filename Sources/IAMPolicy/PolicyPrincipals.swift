extension CompiledPolicy {
    /// The AWS principals the document names, as ARNs (an account ID as its root ARN), for
    /// the check that each exists; "*" and service principals are not listed.
    public var namedAWSPrincipals: [String] {
        var out: [String] = []
        for s in statements {
            for entry in s.principals ?? [] {
                switch entry {
                case .account(let a): out.append("arn:aws:iam::\(a):root")
                case .arn(let a): out.append(a)
                default: break
                }
            }
        }
        return out
    }
}
