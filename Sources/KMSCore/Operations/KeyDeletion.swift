/// ScheduleKeyDeletion, CancelKeyDeletion, and the sweep that deletes keys whose
/// waiting period has ended (run by the server's background job).
extension KMSService {
    static let secondsPerDay = 86_400.0

    func scheduleKeyDeletion(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let days = request.int("PendingWindowInDays") ?? 30
        guard (7...30).contains(days) else {
            throw KMSError(.validation, "1 validation error detected: Value '\(days)' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value \(days < 7 ? "greater than or equal to 7" : "less than or equal to 30")")
        }
        return try registry.write { () throws(KMSError) -> (JSONObject, [StoreChange]) in
            var key = try authorizedKey(request, caller: caller)
            try requireNotPendingDeletion(key)
            try requireNotInTransition(key)
            // A multi-Region primary with replicas waits for them; its own waiting period
            // starts when the last replica is deleted, so it has no deletion date yet (AWS).
            if let config = key.multiRegion, config.keyType == .primary, !config.replicaRegions.isEmpty {
                key.keyState = .pendingReplicaDeletion
                key.deletionDate = nil
                key.pendingWindowInDays = days
                let out = JSONObject([
                    ("KeyId", .string(key.arn)),
                    ("KeyState", .string(KeyState.pendingReplicaDeletion.rawValue)),
                    ("PendingWindowInDays", JSONValue(days)),
                ])
                return (out, [.putKey(key)])
            }
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
            guard key.keyState == .pendingDeletion || key.keyState == .pendingReplicaDeletion else {
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
        var inTokens: [KMSKey] = []  // AWS_CLOUDHSM keys: their token objects go after the rows
        let (count, events) = try registry.write { () throws(KMSError) -> ((Int, [MultiRegionEvent]), [StoreChange]) in
            inTokens = []
            var changes: [StoreChange] = []
            var events: [MultiRegionEvent] = []
            // One multi-Region replica per family per sweep: two in one batch would both
            // rewrite their primary's row (the next sweep takes the next).
            var families = Set<String>()
            let due = try registry.keysDueForDeletion(at: now).filter { only?.contains($0.arn) ?? true }
                .filter { !$0.isReplicaKey || families.insert($0.account + "/" + $0.keyId).inserted }
            for key in due {
                changes.append(.removeKey(key))
                if key.origin == Self.cloudHsmOrigin { inTokens.append(key) }
                for alias in try registry.aliases(account: key.account, region: key.region) where alias.targetKeyId == key.keyId {
                    changes.append(.removeAlias(alias))
                }
                // A deleted replica leaves its family (its primary may start its own waiting period).
                let routed = try replicaDeletion(of: key, now: now)
                changes += routed.changes
                events += routed.events
            }
            return ((due.count, events), changes)
        }
        multiRegion.record(events)
        discardCloudHsmKeys(inTokens)
        return count
    }

    /// The keys the next sweep would delete: account, region, key ID and ARN of each.
    public func dueDeletions() throws(KMSError) -> [(account: String, region: String, keyId: String, arn: String)] {
        let now = clock.now()
        return try registry.keysDueForDeletion(at: now)
            .map { ($0.account, $0.region, $0.keyId, $0.arn) }
    }
}
