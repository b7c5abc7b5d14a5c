/// ReplicateKey and UpdatePrimaryRegion, and the synchronization of shared properties from a
/// primary to its replicas (rotation, membership). Every cross-Region effect is a
/// `MultiRegionChange` routed by `multiRegion` (MultiRegionReplication.swift): written in
/// the operation's own batch when this deployment serves the region, queued for a peer else.
extension KMSService {
    func replicateKey(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let replicaRegion = try request.required("ReplicaRegion")
        let now = clock.now()
        let (replica, routed, completion) = try registry.write { () throws(KMSError) -> ((KMSKey, MultiRegionRouter.Routed, MultiRegionChange), [StoreChange]) in
            var primary = try authorizedKey(request, caller: caller)
            guard var config = primary.multiRegion else {
                throw KMSError(.unsupportedOperation, "\(primary.arn) is not a multi-Region key.")
            }
            guard config.keyType == .primary else {
                throw KMSError(.unsupportedOperation, "\(primary.arn) is not a multi-Region primary key. Replicate the primary key \(ARN.key(primary.keyId, region: config.primaryRegion, account: primary.account)).")
            }
            switch primary.keyState {
            case .enabled, .disabled, .pendingImport: break
            default: throw invalidState(primary)
            }
            guard replicaRegion != primary.region else {
                throw KMSError(.validation, "The replica Region \(replicaRegion) must be different from the Region of the primary key (\(primary.region)).")
            }
            // A region nobody serves: as AWS answers a Region where KMS is not available.
            guard multiRegion.reaches(replicaRegion) else {
                throw KMSError(.unsupportedOperation, "The Region \(replicaRegion) is not supported by this server. It serves \(servedRegionsText).")
            }
            let replicaArn = ARN.key(primary.keyId, region: replicaRegion, account: primary.account)
            let existing: KMSKey? = try multiRegion.servesLocally(replicaRegion)
                ? registry.key(account: primary.account, region: replicaRegion, keyId: primary.keyId) : nil
            if config.replicaRegions.contains(replicaRegion) || existing != nil {
                throw KMSError(.alreadyExists, "Key '\(replicaArn)' already exists")
            }
            // The replica's own policy and tags (independent per key); its key policy is
            // checked against the replica, as CreateKey checks a new key's.
            var draft = KMSKey(keyId: primary.keyId, account: primary.account, region: replicaRegion, creationDate: now,
                           description: request.string("Description") ?? "", keyUsage: primary.keyUsage, keySpec: primary.keySpec,
                           origin: primary.origin, keyManager: primary.keyManager, keyState: .creating,
                           policy: KeyPolicy.defaultPolicy(account: primary.account), tags: [], materials: [])
            if let given = request.string("Policy") {
                let compiled = try validateKeyPolicy(given, request: request, key: draft)
                draft.policy = given
                keyPolicies.store(compiled, text: given, keyArn: replicaArn)
            }
            draft.tags = try TagRules.validated(request.object["Tags"], existing: [])
            // The replica is a new key in its Region: kms:CreateKey there (IAM policy), and
            // kms:TagResource when tagged at creation (ReplicateKey API reference).
            try authorize(request, "kms:CreateKey", on: .account)
            if !draft.tags.isEmpty { try authorize(request, "kms:TagResource", on: .account) }

            config.replicaRegions = (config.replicaRegions + [replicaRegion]).sorted()
            config.sequence += 1
            primary.multiRegion = config
            var routed = MultiRegionRouter.Routed()
            let create = MultiRegionChange(kind: .createReplica, from: primary, to: replicaRegion, sequence: config.sequence,
                                           replica: ReplicaProperties(description: draft.description, policy: draft.policy, tags: draft.tags))
            routed.add(try multiRegion.route(create, registry: registry, now: now))
            // The other replicas learn the new member.
            for region in config.replicaRegions where region != replicaRegion {
                routed.add(try multiRegion.route(MultiRegionChange(kind: .synchronize, from: primary, to: region, sequence: config.sequence),
                                                 registry: registry, now: now))
            }
            guard let replica = MultiRegionApplier.apply(create, to: nil, now: now) else { throw KMSError.internalError }
            let completion = MultiRegionChange(kind: .completeReplica, from: primary, to: replicaRegion, sequence: config.sequence)
            return ((replica, routed, completion), [.putKey(primary)] + routed.changes)
        }
        multiRegion.record(routed.events)
        multiRegion.schedule([completion], service: self)
        return JSONObject([
            ("ReplicaKeyMetadata", replica.metadataJSON),
            ("ReplicaPolicy", .string(replica.policy)),
            ("ReplicaTags", .array(replica.tags.map(\.json))),
        ])
    }

    func updatePrimaryRegion(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let newPrimaryRegion = try request.required("PrimaryRegion")
        let now = clock.now()
        let (routed, completions) = try registry.write { () throws(KMSError) -> ((MultiRegionRouter.Routed, [MultiRegionChange]), [StoreChange]) in
            var primary = try authorizedKey(request, caller: caller)
            guard var config = primary.multiRegion else {
                throw KMSError(.unsupportedOperation, "\(primary.arn) is not a multi-Region key.")
            }
            guard config.keyType == .primary else {
                throw KMSError(.unsupportedOperation, "\(primary.arn) is not a multi-Region primary key.")
            }
            guard newPrimaryRegion != primary.region else {
                throw KMSError(.validation, "\(primary.arn) is already the primary key in \(newPrimaryRegion).")
            }
            guard config.replicaRegions.contains(newPrimaryRegion) else {
                throw KMSError(.notFound, "Key '\(ARN.key(primary.keyId, region: newPrimaryRegion, account: primary.account))' does not exist")
            }
            guard primary.keyState == .enabled || primary.keyState == .disabled else {
                throw invalidState(primary)
            }
            // The new primary must be able to take the role, and the caller needs
            // kms:UpdatePrimaryRegion on it too (AWS requires the permission on both keys).
            if multiRegion.servesLocally(newPrimaryRegion) {
                guard let replica = try registry.key(account: primary.account, region: newPrimaryRegion, keyId: primary.keyId) else {
                    throw KMSError(.notFound, "Key '\(ARN.key(primary.keyId, region: newPrimaryRegion, account: primary.account))' does not exist")
                }
                guard replica.keyState == .enabled || replica.keyState == .disabled else {
                    throw invalidState(replica)
                }
                try authorize(request, on: .key(replica))
            }
            config.sequence += 1
            config.stateBeforeUpdate = primary.keyState
            config.pendingPrimaryRegion = newPrimaryRegion
            primary.keyState = .updating
            primary.multiRegion = config
            var routed = MultiRegionRouter.Routed()
            routed.add(try multiRegion.route(MultiRegionChange(kind: .beginPrimaryUpdate, from: primary, to: newPrimaryRegion,
                                                               sequence: config.sequence), registry: registry, now: now))
            // Then, off the request: every related key takes the swapped configuration.
            var swapped = primary
            let next = config.withPrimary(newPrimaryRegion)
            swapped.multiRegion = next
            let completions = next.allRegions.map {
                MultiRegionChange(kind: .completePrimaryUpdate, from: swapped, to: $0, sequence: config.sequence)
            }
            return ((routed, completions), [.putKey(primary)] + routed.changes)
        }
        multiRegion.record(routed.events)
        multiRegion.schedule(completions, service: self)
        return JSONObject()
    }

    /// After a change of the primary's shared properties (material, rotation settings):
    /// the changes that copy them to every replica, in the same batch. Bumps the primary's sequence.
    func synchronizeReplicas(of primary: inout KMSKey, now: Double) throws(KMSError) -> MultiRegionRouter.Routed {
        guard var config = primary.multiRegion, config.keyType == .primary, !config.replicaRegions.isEmpty else {
            return MultiRegionRouter.Routed()
        }
        config.sequence += 1
        primary.multiRegion = config
        var routed = MultiRegionRouter.Routed()
        for region in config.replicaRegions {
            routed.add(try multiRegion.route(MultiRegionChange(kind: .synchronize, from: primary, to: region, sequence: config.sequence),
                                             registry: registry, now: now))
        }
        return routed
    }

    /// A deleted replica leaves its family: the primary and the other replicas forget it.
    func replicaDeletion(of replica: KMSKey, now: Double) throws(KMSError) -> MultiRegionRouter.Routed {
        guard let config = replica.multiRegion, config.keyType == .replica else { return MultiRegionRouter.Routed() }
        var routed = MultiRegionRouter.Routed()
        for region in config.allRegions where region != replica.region {
            routed.add(try multiRegion.route(MultiRegionChange(kind: .replicaDeleted, from: replica, to: region, sequence: config.sequence,
                                                               deletedRegion: replica.region), registry: registry, now: now))
        }
        return routed
    }

    /// Finishes steps a stopped server left half done (run by the background job, on the
    /// lease holder): a replica still Creating, keys still Updating. Each step is idempotent,
    /// so finishing one that is merely in flight changes nothing. Returns the steps scheduled.
    @discardableResult
    public func resumeMultiRegionSteps() throws(KMSError) -> Int {
        var steps: [MultiRegionChange] = []
        for key in try registry.allStoredKeys() where multiRegion.servesLocally(key.region) {
            guard let config = key.multiRegion else { continue }
            if key.keyState == .creating, config.keyType == .replica {
                steps.append(MultiRegionChange(kind: .completeReplica, from: key, to: key.region, sequence: config.sequence))
            }
            if key.keyState == .updating, let target = config.pendingPrimaryRegion {
                var swapped = key
                swapped.multiRegion = config.withPrimary(target)
                for region in config.allRegions {
                    steps.append(MultiRegionChange(kind: .completePrimaryUpdate, from: swapped, to: region, sequence: config.sequence))
                }
            }
        }
        multiRegion.schedule(steps, service: self, now: true)
        return steps.count
    }

    /// Seals a material check a peer sent for `region`'s replica (MultiRegionMaterialCheck).
    public func sealPeerMaterialCheck(_ check: [UInt8], account: String, region: String, keyId: String, version: UInt32) -> String? {
        importTokens.sealPeerCheck(check, account: account, region: region, keyId: keyId, version: version)
    }

    /// Shared rotation settings are changed on the primary only (AWS refuses them on a replica).
    func requireNotReplica(_ key: KMSKey) throws(KMSError) {
        if let config = key.multiRegion, config.keyType == .replica {
            throw KMSError(.unsupportedOperation, "\(key.arn) is a multi-Region replica key. Perform this operation on its primary key \(ARN.key(key.keyId, region: config.primaryRegion, account: key.account)).")
        }
    }

    /// Creating and Updating end on their own (the completion steps); changing the state
    /// meanwhile would be overwritten or lost, so it is refused.
    func requireNotInTransition(_ key: KMSKey) throws(KMSError) {
        if key.keyState == .creating || key.keyState == .updating { throw invalidState(key) }
    }

    /// KMSInvalidStateException in the key state table's words ("<ARN> is pending deletion.").
    func invalidState(_ key: KMSKey) -> KMSError {
        let words: String
        switch key.keyState {
        case .pendingDeletion: words = "pending deletion"
        case .pendingReplicaDeletion: words = "pending replica deletion"
        case .pendingImport: words = "pending import"
        default: words = key.keyState.rawValue
        }
        return KMSError(.kmsInvalidState, "\(key.arn) is \(words).")
    }

    var servedRegionsText: String {
        guard let regions = multiRegion.servedRegions else { return "every Region" }
        return regions.sorted().joined(separator: ", ")
    }
}
