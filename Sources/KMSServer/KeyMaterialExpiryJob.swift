import KMSCore

/// Expiry of imported key material (ExpirationModel KEY_MATERIAL_EXPIRES), run by the
/// server's background job next to the deletion sweep and rotation, on the node holding the
/// job lease. Requests never wait for it: a key whose material has expired is PendingImport
/// at once (`KMSService.withMaterialExpiry`); this job deletes the material for good.
enum KeyMaterialExpiryJob {
    /// With an audit trail, each key's AwsServiceEvent ("DeleteExpiredKeyMaterial", as
    /// CloudTrail names it) is written first; a key whose event cannot be written keeps its
    /// material until the next run. Blocks on the store and the audit file: off the event loop.
    static func runOnce(service: KMSService, audit: AuditLog?) throws -> Int {
        var recorded: Set<String>?
        if let audit {
            recorded = Set(try service.dueMaterialExpiries().filter {
                audit.appendServiceEvent(eventName: "DeleteExpiredKeyMaterial", account: $0.account, region: $0.region, keyArn: $0.arn)
            }.map(\.arn))
        }
        if recorded?.isEmpty == true { return 0 }
        return try service.expireKeyMaterial(only: recorded).count
    }
}
