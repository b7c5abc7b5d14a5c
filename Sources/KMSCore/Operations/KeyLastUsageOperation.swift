/// GetKeyLastUsage, answered from the audit trail through `KMSService.keyUsage`.
extension KMSService {
    func getKeyLastUsage(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        // Key ID or key ARN only: AWS refuses alias names here; not cross-account.
        let key = try authorizedKey(request, action: "kms:GetKeyLastUsage", caller: caller)
        var out = JSONObject()
        out["KeyId"] = .string(key.keyId)
        if let usage = keyUsage.lastUsage(keyArn: key.arn) {
            out["KeyLastUsage"] = .object(JSONObject([
                ("Operation", .string(usage.operation)),
                ("Timestamp", JSONValue(usage.time)),
                ("CloudTrailEventId", .string(usage.cloudTrailEventId)),
                ("KmsRequestId", .string(usage.kmsRequestId)),
            ]))
        }
        // "The date from which KMS began recording cryptographic activity for this key, or the
        // date the KMS key was created, whichever is later."
        out["TrackingStartDate"] = JSONValue(max(keyUsage.trackingStart ?? key.creationDate, key.creationDate))
        out["KeyCreationDate"] = JSONValue(key.creationDate)
        return out
    }
}
