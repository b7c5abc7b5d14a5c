/// ScheduleKeyDeletion, CancelKeyDeletion, and the sweep that deletes keys whose
/// waiting period has ended (run by the server's background job).
extension KMSService {
    static let secondsPerDay = 86_400.0

    func scheduleKeyDeletion(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let days = request.int("PendingWindowInDays") ?? 30
        guard (7...30).contains(days) else {
            throw KMSError(.validation, "1 validation error detected: Value '\(days)' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value \(days < 7 ? "greater than or equal to 7" : "less than or equal to 30")")
        }
        return try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, caller: caller)
            try requireNotPendingDeletion(key)
            let deletionDate = clock.now() + Double(days) * Self.secondsPerDay
            key.keyState = .pendingDeletion
            key.deletionDate = deletionDate
            key.pendingWindowInDays = days
            let out = JSONObject([
                ("KeyId", .string(key.arn)),
                ("DeletionDate", JSONValue(deletionDate)),
                ("KeyState", .string(KeyState.pendingDeletion.rawValue)),
                ("PendingWindowInDays", JSONValue(days)),
            ])
            return (out, [.putKey(key)])
        }
    }

    func cancelKeyDeletion(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, caller: caller)
            guard key.keyState == .pendingDeletion else {
                throw KMSError(.kmsInvalidState, "\(key.arn) is not pending deletion.")
            }
            // AWS leaves a key whose deletion was cancelled disabled; one whose imported
            // material is missing (deleted or expired meanwhile) is PendingImport.
            key.keyState = key.origin == "EXTERNAL" && (key.materials.isEmpty || !key.importRecords.allAssociatedImported) ? .pendingImport : .disabled
            key.deletionDate = nil
            key.pendingWindowInDays = nil
            return (JSONObject([("KeyId", .string(key.arn))]), [.putKey(key)])
        }
    }

    /// Deletes every key whose deletion date has passed, with its aliases. Returns how many.
    /// `only`: the key ARNs to delete (the audit stage records them first); nil deletes all due.
    @discardableResult
    public func sweepDeletions(only: Set<String>? = nil) throws(KMSError) -> Int {
        let now = clock.now()
        return try registry.write { () throws(KMSError) in
            var changes: [StoreChange] = []
            let due = try registry.keysDueForDeletion(at: now).filter { only?.contains($0.arn) ?? true }
            for key in due {
                changes.append(.removeKey(key))
                for alias in try registry.aliases(account: key.account, region: key.region) where alias.targetKeyId == key.keyId {
                    changes.append(.removeAlias(alias))
                }
            }
            return (due.count, changes)
        }
    }

    /// The keys the next sweep would delete: account, region, key ID and ARN of each.
    public func dueDeletions() throws(KMSError) -> [(account: String, region: String, keyId: String, arn: String)] {
        let now = clock.now()
        return try registry.keysDueForDeletion(at: now)
            .map { ($0.account, $0.region, $0.keyId, $0.arn) }
    }
}
