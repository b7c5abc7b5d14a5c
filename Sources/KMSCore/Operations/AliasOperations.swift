/// CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
extension KMSService {
    /// AWS's rules beyond the model's pattern: the alias/ prefix, the reserved alias/aws/
    /// namespace, and no colon in the name.
    func checkAliasName(_ name: String) throws(KMSError) {
        guard name.hasPrefix("alias/"), name.count > 6 else {
            throw KMSError(.validation, "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
        }
        if name.hasPrefix("alias/aws/") {
            throw KMSError(.notAuthorized, "Alias names beginning with 'alias/aws/' are reserved for AWS managed keys.")
        }
        if name.contains(":") {
            throw KMSError(.validation, "\(name) contains invalid characters for an alias")
        }
    }

    func createAlias(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let name = try request.required("AliasName")
        try checkAliasName(name)
        try registry.write { () throws(KMSError) in
            // AWS authorizes kms:CreateAlias on the alias (IAM policy) and on the key.
            try authorize(request, on: .alias(ARN.alias(name, region: caller.region, account: caller.account)))
            let key = try authorizedKey(request, member: "TargetKeyId", caller: caller)
            guard key.account == caller.account else {
                throw KMSError(.notFound, "Key '\(key.arn)' does not exist")
            }
            try requireNotPendingDeletion(key)
            if try registry.alias(account: caller.account, region: caller.region, name: name) != nil {
                throw KMSError(.alreadyExists, "An alias with the name \(ARN.alias(name, region: caller.region, account: caller.account)) already exists")
            }
            let now = clock.now()
            let alias = Alias(aliasName: name, account: caller.account, region: caller.region, targetKeyId: key.keyId,
                              creationDate: now, lastUpdatedDate: now)
            return ((), [.putAlias(alias)])
        }
        return JSONObject()
    }

    func updateAlias(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let name = try request.required("AliasName")
        try checkAliasName(name)
        try registry.write { () throws(KMSError) in
            // AWS authorizes kms:UpdateAlias on the alias (IAM policy), on the key it names
            // now and on the key it will name (KMS Developer Guide, "Controlling access to aliases").
            let aliasArn = ARN.alias(name, region: caller.region, account: caller.account)
            try authorize(request, on: .alias(aliasArn))
            guard var alias = try registry.alias(account: caller.account, region: caller.region, name: name) else {
                throw KMSError(.notFound, "Alias \(aliasArn) is not found.")
            }
            let current = try registry.key(account: caller.account, region: caller.region, keyId: alias.targetKeyId)
            if let current { try authorize(request, on: .key(current)) }
            let key = try authorizedKey(request, member: "TargetKeyId", caller: caller)
            guard key.account == caller.account else { throw KMSError(.notFound, "Key '\(key.arn)' does not exist") }
            try requireNotPendingDeletion(key)
            if let current, !current.isSameKind(as: key) {
                throw KMSError(.validation, "\(alias.arn) can only be associated with a key of the same type and usage: \(current.keySpec.rawValue) / \(current.keyUsage.rawValue).")
            }
            alias.targetKeyId = key.keyId
            alias.lastUpdatedDate = clock.now()
            return ((), [.putAlias(alias)])
        }
        return JSONObject()
    }

    func deleteAlias(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let name = try request.required("AliasName")
        try checkAliasName(name)
        try registry.write { () throws(KMSError) in
            // kms:DeleteAlias on the alias (IAM policy) and on its key.
            let aliasArn = ARN.alias(name, region: caller.region, account: caller.account)
            try authorize(request, on: .alias(aliasArn))
            guard let alias = try registry.alias(account: caller.account, region: caller.region, name: name) else {
                throw KMSError(.notFound, "Alias \(aliasArn) is not found.")
            }
            if let key = try registry.key(account: caller.account, region: caller.region, keyId: alias.targetKeyId) {
                try authorize(request, on: .key(key))
            }
            return ((), [.removeAlias(alias)])
        }
        return JSONObject()
    }

    func listAliases(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        // ListAliases is governed by IAM policies only (its resource is "*"), KeyId or not.
        try authorize(request, on: .account)
        var aliases = try registry.aliases(account: caller.account, region: caller.region)
        if let keyParam = request.string("KeyId") {
            let key = try resolveKey(keyParam, caller: caller, allowAlias: false)
            aliases = aliases.filter { $0.targetKeyId == key.keyId }
        }
        // The predefined alias/aws/* aliases are listed even before their key exists, as AWS
        // lists them: name and ARN only, no TargetKeyId or dates (AWSManagedKeys.swift).
        var listed: [(name: String, alias: Alias?)] = aliases.map { ($0.aliasName, $0) }
        if request.string("KeyId") == nil {
            let present = Set(aliases.map(\.aliasName))
            listed += AWSManagedKeys.predefinedAliases.filter { !present.contains($0) }.map { ($0, nil) }
        }
        listed.sort { $0.name < $1.name }
        let page = try Page.of(listed, key: \.name, request: request)
        var out = JSONObject()
        out["Aliases"] = .array(page.items.map { entry in
            guard let a = entry.alias else {
                return .object(JSONObject([
                    ("AliasName", .string(entry.name)),
                    ("AliasArn", .string(ARN.alias(entry.name, region: caller.region, account: caller.account))),
                ]))
            }
            return .object(JSONObject([
                ("AliasName", .string(a.aliasName)),
                ("AliasArn", .string(a.arn)),
                ("TargetKeyId", .string(a.targetKeyId)),
                ("CreationDate", JSONValue(a.creationDate)),
                ("LastUpdatedDate", JSONValue(a.lastUpdatedDate)),
            ]))
        })
        page.add(to: &out)
        return out
    }
}

extension KMSKey {
    /// UpdateAlias may only move an alias between keys of the same kind (symmetric
    /// encryption, HMAC, or asymmetric) and usage.
    func isSameKind(as other: KMSKey) -> Bool {
        keySpec.isAsymmetric == other.keySpec.isAsymmetric && keySpec.isHMAC == other.keySpec.isHMAC && keyUsage == other.keyUsage
    }
}
