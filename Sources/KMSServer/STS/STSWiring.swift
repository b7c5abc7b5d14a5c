import Foundation
import IAMPolicy
import KMSCore
import KMSStorage
import STS

/// STS as the server runs it: the token key derived from the root key, the session verifier
/// the authenticator uses, and the operations.
struct STSWiring: Sendable {
    let service: STSService
    let sessions: SessionCredentialVerifier
    let clock: any KMSClock

    init(rootKey: RootKey, clock: any KMSClock, directory: any STSDirectory,
         identity: any SessionIdentityPolicies = NoSessionIdentityPolicies()) {
        let sealer = SessionTokenSealer(key: rootKey.derivedKey(label: SessionCredentialVerifier.keyLabel))
        service = STSService(sealer: sealer, directory: directory)
        sessions = SessionCredentialVerifier(sealer: sealer, clock: clock, service: service, identity: identity)
        self.clock = clock
    }
}
