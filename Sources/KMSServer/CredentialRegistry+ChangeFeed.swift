import KMSCore

/// Root credentials added or removed by `kms admin` on a cluster reach running nodes here.
extension CredentialRegistry: StoreChangeFollower {
    func storeChanged(_ objects: [StoreObject]) {
        let touched = objects.contains { if case .identity(_, RootCredentialObject.kind, _) = $0 { true } else { false } }
        if touched { try? reload() }
    }

    func storeChangedUnknown() { try? reload() }
}
