import KMSCore

/// Automatic key rotation, run by the server's background job next to the deletion sweep
/// (in a cluster it belongs under the same one-node lock as that sweep).
enum KeyRotationJob {
    /// Rotates every key whose automatic rotation is due at the service's lifecycle clock.
    /// With an audit trail, each rotation's AwsServiceEvent ("RotateKey", as CloudTrail names
    /// it) is written first; a key whose event cannot be written is not rotated (the next
    /// run tries again). Blocks on the store and the audit file: call it off the event loop.
    static func runOnce(service: KMSService, audit: AuditLog?) throws -> Int {
        var recorded: Set<String>?
        if let audit {
            recorded = Set(try service.dueRotations().filter {
                // Only symmetric AWS_KMS keys rotate automatically (KMSService.rotationDue).
                audit.appendServiceEvent(eventName: "RotateKey", account: $0.account, region: $0.region, keyArn: $0.arn,
                                         details: [("rotationType", "AUTOMATIC"), ("keyOrigin", "AWS_KMS")])
            }.map(\.arn))
        }
        if recorded?.isEmpty == true { return 0 }
        return try service.rotateDueKeys(only: recorded).count
    }
}
