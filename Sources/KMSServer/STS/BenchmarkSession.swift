import AWSQuery
import Foundation
import IAMPolicy
import KMSCore
import KMSStorage
import STS

/// An assumed-role session for `kms bench-pipeline --temporary-credentials`: the same token
/// verification the server does (a fresh root key, the system clock), and the role's identity
/// policy (kms:*) read from an IAM store per request through IAMSTSDirectory, as the server does.
struct BenchmarkSession {
    let sessions: SessionCredentialVerifier
    let credentials: STSCredentials

    static func make(account: String, identities: IdentityRegistry, credentials: CredentialRegistry) throws -> BenchmarkSession {
        try identities.write(account: account) { (a: inout AccountIdentities) throws(QueryError) in
            a.roles["Bench"] = IAMRole(name: "Bench", path: "/", roleId: "AROABENCH", arn: "arn:aws:iam::\(account):role/Bench",
                                       createDate: 0, assumeRolePolicyDocument: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"\#(account)"},"Action":"sts:AssumeRole"}]}"#,
                                       maxSessionDuration: 43_200,
                                       inlinePolicies: ["kms": #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#])
        }
        let directory = IAMSTSDirectory(registry: identities, credentials: credentials, jwksFiles: [:])
        let root = try RootKey(bytes: Array(SystemRandom.bytes(32)))
        let sts = STSWiring(rootKey: root, clock: SystemClock(), directory: directory, identity: directory)
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
