/// AWS managed keys: the keys behind the predefined `alias/aws/<service>` aliases. AWS
/// creates one per account and region on first use; KeyManager is AWS, the key policy is
/// AWS's managed-key policy, rotation is yearly and cannot be turned off, and the key
/// cannot be deleted, re-policied or re-aliased.
public enum AWSManagedKeys {
    /// The predefined aliases ListAliases shows in every account and region, with no
    /// TargetKeyId until their key exists (AWS's list as a new account sees it).
    public static let predefinedAliases: [String] = [
        "alias/aws/acm", "alias/aws/dynamodb", "alias/aws/ebs", "alias/aws/elasticfilesystem", "alias/aws/es",
        "alias/aws/glue", "alias/aws/kinesisvideo", "alias/aws/lambda", "alias/aws/rds", "alias/aws/redshift",
        "alias/aws/s3", "alias/aws/secretsmanager", "alias/aws/ssm", "alias/aws/xray",
    ]
    static let predefinedSet = Set(predefinedAliases)

    public static func isPredefined(_ aliasName: String) -> Bool { predefinedSet.contains(aliasName) }

    /// The service whose endpoint uses the key (kms:ViaService): EBS volumes are encrypted
    /// by EC2, Elasticsearch is "es", the rest are named as their alias.
    static func viaServicePrefix(_ service: String) -> String {
        service == "ebs" ? "ec2" : service
    }

    /// AWS's key policy for the service's AWS managed key (AWSManagedKeyPolicies.swift):
    /// principals of the account may use the key only through the service (kms:ViaService
    /// and kms:CallerAccount); the account may read its metadata directly. Nothing allows
    /// ScheduleKeyDeletion, PutKeyPolicy, DisableKeyRotation, CreateAlias or the other
    /// management actions, so the authorization funnel refuses them with
    /// AccessDeniedException, as AWS does.
    public static func policy(service: String, account: String, region: String) -> String {
        AWSManagedKeyPolicy.forService(service).text(viaService: viaServicePrefix(service), account: account, region: region)
    }

    /// DescribeKey's Description of the service's AWS managed key.
    public static func description(service: String) -> String {
        AWSManagedKeyPolicy.forService(service).keyDescription(service: service)
    }

    /// The alias name an identifier names when it is a predefined AWS alias in the
    /// caller's account and region (alias name or alias ARN), else nil.
    static func predefinedAlias(_ identifier: String, caller: Caller) -> String? {
        if isPredefined(identifier) { return identifier }
        guard identifier.hasPrefix("arn:"), let arn = ARN.parse(identifier), arn.account == caller.account,
              arn.region == caller.region, isPredefined(arn.resource) else { return nil }
        return arn.resource
    }
}

extension KMSService {
    /// The AWS managed key behind a predefined alias, created on first use. The candidate
    /// key is authorized under its own (AWS's) policy before anything is stored, so a
    /// caller the policy refuses creates nothing. Two nodes racing: the alias is written
    /// with version 0 (insert only), so exactly one insert wins; the loser's write conflicts,
    /// is re-run, and finds the winner's alias and key.
    func awsManagedKey(alias name: String, request: KMSRequest, action: String?, caller: Caller) throws(KMSError) -> KMSKey {
        if let alias = try registry.alias(account: caller.account, region: caller.region, name: name),
           let key = try registry.key(account: caller.account, region: caller.region, keyId: alias.targetKeyId) {
            try authorize(request, action, on: .key(key))
            return key
        }
        let service = String(name.dropFirst("alias/aws/".count))
        let now = clock.now()
        var candidate = KMSKey(keyId: KeyIdentifier.newKeyId(), account: caller.account, region: caller.region,
                               creationDate: now, description: AWSManagedKeys.description(service: service),
                               keyUsage: .encryptDecrypt, keySpec: .symmetricDefault, origin: "AWS_KMS", keyManager: "AWS",
                               keyState: .enabled, policy: AWSManagedKeys.policy(service: service, account: caller.account, region: caller.region),
                               tags: [], materials: [])
        // Yearly rotation, on from creation, that DisableKeyRotation cannot turn off (policy).
        candidate.rotation.enabled = true
        candidate.rotation.periodInDays = KeyRotation.defaultPeriodInDays
        candidate.rotation.scheduleBase = now
        try authorize(request, action, on: .key(candidate))
        candidate.materials = [try KeyGeneration.material(for: .symmetricDefault, version: 1, createdAt: now)]
        let stored = try registry.write { () throws(KMSError) -> (KMSKey, [StoreChange]) in
            if let alias = try registry.alias(account: caller.account, region: caller.region, name: name),
               let key = try registry.key(account: caller.account, region: caller.region, keyId: alias.targetKeyId) {
                return (key, [])
            }
            let alias = Alias(aliasName: name, account: caller.account, region: caller.region, targetKeyId: candidate.keyId,
                              creationDate: now, lastUpdatedDate: now)
            return (candidate, [.putKey(candidate), .putAlias(alias)])
        }
        if stored.keyId != candidate.keyId { try authorize(request, action, on: .key(stored)) }
        return stored
    }
}
