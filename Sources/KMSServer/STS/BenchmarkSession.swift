import Foundation
import IAMPolicy
import KMSCore
import KMSStorage
import STS

/// An assumed-role session for `kms bench-pipeline --temporary-credentials`: the same token
/// verification the server does (a fresh root key, the system clock, no IAM store).
struct BenchmarkSession {
    let sessions: SessionCredentialVerifier
    let credentials: STSCredentials

    static func make(account: String) throws -> BenchmarkSession {
        struct NoRoles: STSDirectory {
            func role(arn: String) -> STSRole? { nil }
            func oidcProvider(account: String, issuerHostPath: String) -> OIDCProviderConfig? { nil }
            func managedPolicy(arn: String) -> CompiledPolicy? { nil }
            func account(ofAccessKey accessKeyId: String) -> String? { nil }
        }
        let root = try RootKey(bytes: Array(SystemRandom.bytes(32)))
        let sts = STSWiring(rootKey: root, clock: SystemClock(), directory: NoRoles())
        let now = Date().timeIntervalSince1970
        let session = STSSession(kind: .assumedRole, accessKeyId: AccessKeyID.make(prefix: "ASIA", account: account),
                                 secretAccessKey: AccessKeyID.newSecret(), account: account,
                                 arn: "arn:aws:sts::\(account):assumed-role/Bench/bench", userId: "AROABENCH:bench",
                                 roleArn: "arn:aws:iam::\(account):role/Bench", roleId: "AROABENCH", sessionName: "bench",
                                 issuedFor: "arn:aws:iam::\(account):root", issued: now, expires: now + 43_200)
        return BenchmarkSession(sessions: sts.sessions,
                                credentials: session.credentials(token: try sts.service.sealer.seal(session)))
    }
}
