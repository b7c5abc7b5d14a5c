import KMSCore

/// Root credentials added or removed by `kms admin` on a cluster reach running nodes here.
extension CredentialRegistry: FallibleStoreChangeFollower {
    func storeChanged(_ objects: [StoreObject]) { _ = reread(objects) }

    func storeChangedUnknown() { _ = rereadAll() }

    func reread(_ objects: [StoreObject]) -> Bool {
        let touched = objects.contains { if case .identity(_, RootCredentialObject.kind, _) = $0 { true } else { false } }
        return touched ? rereadAll() : true
    }

    func rereadAll() -> Bool { (try? reload()) != nil }
}
