/// The authorization stage: may `caller` perform `action` (e.g. "kms:Encrypt") on `key`?
/// Key policies, IAM policies and grants plug in here; the pipeline calls it for every
/// operation before any state is read or changed.
public protocol Authorizer: Sendable {
    func authorize(action: String, caller: Caller, key: KMSKey?) throws(KMSError)
}

/// Until policy evaluation lands: a principal may use the keys of its own account (what
/// the default key policy grants) and nothing else, so cross-account use is denied.
public struct AccountAuthorizer: Authorizer {
    public init() {}

    public func authorize(action: String, caller: Caller, key: KMSKey?) throws(KMSError) {
        guard let key else { return }
        guard key.account == caller.account else {
            throw KMSError(.accessDenied, "User: \(caller.principalArn) is not authorized to perform: \(action) on resource: \(key.arn) because no resource-based policy allows the \(action) action")
        }
    }
}
