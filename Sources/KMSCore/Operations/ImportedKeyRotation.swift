/// On-demand rotation of symmetric keys with imported material: ImportKeyMaterial with
/// ImportType NEW_KEY_MATERIAL stores new material as PENDING_ROTATION, and
/// RotateKeyOnDemand makes it current. Earlier material stays for decryption while it is
/// imported. ListKeyRotations lists every material with its ImportState and expiry.
extension KMSService {
    /// Makes the material pending rotation current and records an ON_DEMAND rotation.
    static func rotateToImportedMaterial(_ key: inout KMSKey, at now: Double) throws(KMSError) {
        var records = key.importRecords
        guard var pending = records.records.first(where: \.pendingRotation) else {
            throw KMSError(.kmsInvalidState, "\(key.arn) has no key material pending rotation. Import new key material with ImportType NEW_KEY_MATERIAL before rotating this key.")
        }
        guard pending.imported, key.material(version: pending.version) != nil else {
            throw KMSError(.kmsInvalidState, "The key material pending rotation of \(key.arn) is not imported.")
        }
        pending.pendingRotation = false
        records.update(pending)
        records.currentVersion = pending.version
        key.imports = records
        key.rotation.records.append(.init(version: pending.version, materialId: pending.materialId, date: now, type: "ON_DEMAND"))
    }

    /// ListKeyRotations for an EXTERNAL key: from the import records, so deleted or expired
    /// material (PENDING_IMPORT) is listed too. ROTATIONS_ONLY lists the materials rotations
    /// made current; ALL_KEY_MATERIAL adds the first material and material pending rotation.
    func listImportedKeyRotations(_ key: KMSKey, _ request: KMSRequest) throws(KMSError) -> JSONObject {
        let includeAll = request.string("IncludeKeyMaterial") == "ALL_KEY_MATERIAL"
        let records = key.importRecords
        let current = records.currentVersion ?? key.currentMaterial?.version
        let rotated = Dictionary(key.rotation.records.map { ($0.version, $0) }, uniquingKeysWith: { a, _ in a })
        let listed = records.records.filter { includeAll || rotated[$0.version] != nil }
        let page = try Page.of(listed, key: { Self.versionSortKey($0.version) }, request: request)
        var out = JSONObject()
        out["Rotations"] = .array(page.items.map { r in
            var e = JSONObject()
            e["KeyId"] = .string(key.keyId)
            e["KeyMaterialId"] = .string(r.materialId)
            if let description = r.description { e["KeyMaterialDescription"] = .string(description) }
            e["ImportState"] = .string(r.imported ? "IMPORTED" : "PENDING_IMPORT")
            e["KeyMaterialState"] = .string(r.pendingRotation ? "PENDING_ROTATION" : r.version == current ? "CURRENT" : "NON_CURRENT")
            e["ExpirationModel"] = .string(r.expirationModel)
            if let validTo = r.validTo { e["ValidTo"] = JSONValue(validTo) }
            if let rotation = rotated[r.version] {
                e["RotationDate"] = JSONValue(rotation.date)
                e["RotationType"] = .string(rotation.type)
            }
            return .object(e)
        })
        page.add(to: &out)
        return out
    }
}
