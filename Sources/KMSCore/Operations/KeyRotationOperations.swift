/// EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
/// ListKeyRotations, and the job that rotates keys whose automatic rotation fell due.
/// A rotation appends a material version and makes it current; the key ID, ARN, aliases,
/// policy and grants stay, and earlier versions stay for decryption.
extension KMSService {
    /// AWS rotates only symmetric encryption keys whose material it generated; imported
    /// material (`onDemandImported`: RotateKeyOnDemand, ListKeyRotations) rotates on demand
    /// with new material imported as NEW_KEY_MATERIAL.
    func requireRotatable(_ key: KMSKey, onDemandImported: Bool = false) throws(KMSError) {
        guard key.keySpec == .symmetricDefault, key.keyUsage == .encryptDecrypt else {
            throw KMSError(.unsupportedOperation, "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.")
        }
        guard key.origin == "AWS_KMS" || (onDemandImported && key.origin == "EXTERNAL") else {
            // The key states table's wording for rotation operations on an EXTERNAL key.
            throw KMSError(.unsupportedOperation, "\(key.arn) origin is \(key.origin) which is not valid for this operation.")
        }
    }

    /// Rotation settings change only on an enabled key; AWS answers a disabled one with DisabledException.
    func requireRotationChangeAllowed(_ key: KMSKey) throws(KMSError) {
        switch key.keyState {
        case .enabled: return
        case .disabled: throw KMSError(.disabled, "\(key.arn) is disabled.")
        default: try requireUsable(key)
        }
    }

    func enableKeyRotation(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let period = request.int("RotationPeriodInDays") ?? KeyRotation.defaultPeriodInDays
        let events = try registry.write { () throws(KMSError) -> ([MultiRegionEvent], [StoreChange]) in
            var key = try authorizedKey(request, action: "kms:EnableKeyRotation", caller: caller)
            try requireRotatable(key)
            try requireNotReplica(key)
            try requireRotationChangeAllowed(key)
            // Enabling again only changes the period; the schedule keeps its base.
            if !key.rotation.enabled || key.rotation.scheduleBase == nil { key.rotation.scheduleBase = clock.now() }
            key.rotation.enabled = true
            key.rotation.periodInDays = period
            // Rotation settings are shared by related multi-Region keys.
            let routed = try synchronizeReplicas(of: &key, now: clock.now())
            return (routed.events, [.putKey(key)] + routed.changes)
        }
        multiRegion.record(events)
        return JSONObject()
    }

    func disableKeyRotation(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let events = try registry.write { () throws(KMSError) -> ([MultiRegionEvent], [StoreChange]) in
            var key = try authorizedKey(request, action: "kms:DisableKeyRotation", caller: caller)
            try requireRotatable(key)
            try requireNotReplica(key)
            try requireRotationChangeAllowed(key)
            guard key.rotation.enabled else { return ([], []) }
            key.rotation.enabled = false
            key.rotation.scheduleBase = nil
            let routed = try synchronizeReplicas(of: &key, now: clock.now())
            return (routed.events, [.putKey(key)] + routed.changes)
        }
        multiRegion.record(events)
        return JSONObject()
    }

    func getKeyRotationStatus(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try authorizedKey(request, action: "kms:GetKeyRotationStatus", caller: caller)
        var out = JSONObject()
        out["KeyId"] = .string(key.arn)
        // Keys AWS cannot rotate report false, as AWS now answers (no longer an error).
        // A key pending deletion reports false; cancelling the deletion restores its status.
        let enabled = key.rotation.enabled && key.keyState != .pendingDeletion
        out["KeyRotationEnabled"] = .bool(enabled)
        if enabled {
            out["RotationPeriodInDays"] = JSONValue(key.rotation.periodInDays ?? KeyRotation.defaultPeriodInDays)
            if let next = key.rotation.nextRotationDate { out["NextRotationDate"] = JSONValue(next) }
        }
        // On-demand rotations complete within the request here, so none is ever in progress
        // and OnDemandRotationStartDate (present on AWS only while one runs) never appears.
        return out
    }

    func rotateKeyOnDemand(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let now = clock.now()
        let (arn, event, synced) = try registry.write { () throws(KMSError) -> ((String, KeyRotationEvent, [MultiRegionEvent]), [StoreChange]) in
            var key = try authorizedKey(request, action: "kms:RotateKeyOnDemand", caller: caller)
            try requireRotatable(key, onDemandImported: true)
            try requireNotReplica(key)
            try requireRotationChangeAllowed(key)
            guard key.rotation.onDemandCount < KeyRotation.onDemandLimit else {
                throw KMSError(.limitExceeded, "The on-demand rotation limit of \(KeyRotation.onDemandLimit) has been reached for \(key.arn).")
            }
            // On-demand rotations leave the automatic schedule as it is (AWS documents this).
            let previous = key.currentMaterial?.materialId
            if key.origin == "EXTERNAL" {
                try Self.rotateToImportedMaterial(&key, at: now)
            } else {
                try Self.rotate(&key, type: "ON_DEMAND", at: now)
            }
            let event = KeyRotationEvent(account: key.account, region: key.region, keyArn: key.arn, rotationType: "ON_DEMAND",
                                         keyOrigin: key.origin, previousKeyMaterialId: previous,
                                         currentKeyMaterialId: key.currentMaterial?.materialId ?? "")
            // The new material reaches every replica of a multi-Region primary.
            let routed = try synchronizeReplicas(of: &key, now: now)
            return ((key.arn, event, routed.events), [.putKey(key)] + routed.changes)
        }
        // The material is stored: CloudTrail's RotateKey service event follows, as for automatic rotations.
        rotationEvents.emit(event)
        multiRegion.record(synced)
        return JSONObject([("KeyId", .string(arn))])
    }

    func listKeyRotations(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try authorizedKey(request, action: "kms:ListKeyRotations", caller: caller)
        try requireRotatable(key, onDemandImported: true)
        if key.origin == "EXTERNAL" { return try listImportedKeyRotations(key, request) }
        let includeAll = request.string("IncludeKeyMaterial") == "ALL_KEY_MATERIAL"
        let currentVersion = key.currentMaterial?.version
        let rotated = Dictionary(key.rotation.records.map { ($0.version, $0) }, uniquingKeysWith: { a, _ in a })
        // ROTATIONS_ONLY (the default) lists the materials rotations made; ALL_KEY_MATERIAL adds the first.
        let materials = key.materials.filter { includeAll || rotated[$0.version] != nil }
        let page = try Page.of(materials, key: { Self.versionSortKey($0.version) }, request: request)
        var out = JSONObject()
        out["Rotations"] = .array(page.items.map { m in
            var e = JSONObject()
            e["KeyId"] = .string(key.keyId)
            e["KeyMaterialId"] = .string(m.materialId)
            e["KeyMaterialState"] = .string(m.version == currentVersion ? "CURRENT" : "NON_CURRENT")
            if let r = rotated[m.version] {
                e["RotationDate"] = JSONValue(r.date)
                e["RotationType"] = .string(r.type)
            }
            return .object(e)
        })
        page.add(to: &out)
        return out
    }

    /// Markers sort as strings: fixed width keeps version 10 after version 9.
    static func versionSortKey(_ version: UInt32) -> String { String(version).leftPadded(10) }

    /// Appends fresh material as the current version and records the rotation.
    static func rotate(_ key: inout KMSKey, type: String, at now: Double) throws(KMSError) {
        let version = (key.materials.map(\.version).max() ?? 0) + 1
        let material = try KeyGeneration.material(for: key.keySpec, version: version, createdAt: now)
        key.materials.append(material)
        key.rotation.records.append(.init(version: version, materialId: material.materialId, date: now, type: type))
    }

    /// Whether automatic rotation of `key` has fallen due at `now`. Disabled keys and keys
    /// pending deletion are not rotated (AWS rotates them once they are enabled again).
    static func rotationDue(_ key: KMSKey, now: Double) -> Bool {
        key.keyState == .enabled && key.keySpec == .symmetricDefault && key.keyUsage == .encryptDecrypt
            && key.origin == "AWS_KMS" && (key.rotation.nextRotationDate ?? .infinity) <= now
            && !key.isReplicaKey  // replicas receive their primary's rotation
    }

    /// The keys the next rotation run would rotate: account, region, key ID and ARN of each.
    public func dueRotations() throws(KMSError) -> [(account: String, region: String, keyId: String, arn: String)] {
        let now = clock.now()
        return try registry.allStoredKeys().filter { Self.rotationDue($0, now: now) }.map { ($0.account, $0.region, $0.keyId, $0.arn) }
    }

    /// Rotates every key whose automatic rotation has fallen due at the clock's `now`, once
    /// each; the next date counts from this rotation. Returns the ARNs rotated.
    /// `only`: the key ARNs to rotate (the audit stage records them first); nil rotates all due.
    @discardableResult
    public func rotateDueKeys(only: Set<String>? = nil) throws(KMSError) -> [String] {
        let now = clock.now()
        let (rotated, events) = try registry.write { () throws(KMSError) -> (([String], [MultiRegionEvent]), [StoreChange]) in
            var changes: [StoreChange] = []
            var rotated: [String] = []
            var events: [MultiRegionEvent] = []
            for var key in try registry.allStoredKeys() where Self.rotationDue(key, now: now) && (only?.contains(key.arn) ?? true) {
                try Self.rotate(&key, type: "AUTOMATIC", at: now)
                key.rotation.scheduleBase = now
                let routed = try synchronizeReplicas(of: &key, now: now)
                changes.append(.putKey(key))
                changes += routed.changes
                events += routed.events
                rotated.append(key.arn)
            }
            return ((rotated, events), changes)
        }
        multiRegion.record(events)
        return rotated
    }
}
