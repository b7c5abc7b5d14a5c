import Foundation
import IAMPolicy
import KMSCore
import KMSStorage
import NIOHTTP1
import SigV4
import STS
import Synchronization
import Testing
@testable import KMSServer

/// A keep-alive connection's last verified session (ConnectionSession): a hit skips the
/// shared cache, and still checks everything a shared hit checks (the same token in constant
/// time, the same key ID, expiry, the signature, IAM changes through the generation).
@Suite struct ConnectionSessionTests {
    struct Roles: STSDirectory {
        func role(arn: String) -> STSRole? { nil }
        func oidcProvider(account: String, issuerHostPath: String) -> OIDCProviderConfig? { nil }
        func managedPolicy(arn: String) -> CompiledPolicy? { nil }
        func account(ofAccessKey accessKeyId: String) -> String? { nil }
    }

    /// The role's policies as IAM holds them now, with a generation every change moves
    /// (as IAMSTSDirectory's, from the IdentityRegistry).
    final class MutableRolePolicies: SessionIdentityPolicies, Sendable {
        struct State { var allowed = true; var generation: UInt64 = 1; var reads = 0 }
        let state = Mutex(State())
        static let allowAll = try! CompiledPolicy(#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
                                                  kind: .identityBased, name: "kms")

        func rolePolicies(roleArn: String, roleId: String) -> [CompiledPolicy] {
            state.withLock { s in
                s.reads += 1
                return s.allowed ? [Self.allowAll] : []
            }
        }
        func userPolicies(userArn: String) -> [CompiledPolicy] { [] }
        var generation: UInt64? { state.withLock { $0.generation } }

        /// Detaches the role's only policy, as DeleteRolePolicy would; `bump` false leaves
        /// the generation where it was (a change nobody has announced yet).
        func revoke(bump: Bool = true) {
            state.withLock { s in
                s.allowed = false
                if bump { s.generation += 1 }
            }
        }
        var reads: Int { state.withLock { $0.reads } }
    }

    let clock = ManualClock(1_700_000_000)
    let identity = MutableRolePolicies()
    let pipeline: RequestPipeline
    let sts: STSWiring
    let credentials: STSCredentials

    init() throws {
        let root = try RootKey(bytes: Array(repeating: 7, count: 32))
        sts = STSWiring(rootKey: root, clock: clock, directory: Roles(), identity: identity)
        var authenticator = Authenticator(credentials: CredentialRegistry([]), dev: false, devAccount: "000000000000")
        authenticator.sessions = sts.sessions
        pipeline = RequestPipeline(service: try KMSService(store: InMemoryKeyStore(), clock: clock), authenticator: authenticator)
        credentials = try Self.credentials(sts, clock: clock, name: "s1", kind: .assumedRole)
    }

    static func credentials(_ sts: STSWiring, clock: ManualClock, name: String, kind: STSSession.Kind) throws -> STSCredentials {
        let session = kind == .assumedRole
            ? STSSession(kind: .assumedRole, accessKeyId: AccessKeyID.make(prefix: "ASIA", account: "111122223333"),
                         secretAccessKey: AccessKeyID.newSecret(), account: "111122223333",
                         arn: "arn:aws:sts::111122223333:assumed-role/R/\(name)", userId: "AROAR:\(name)",
                         roleArn: "arn:aws:iam::111122223333:role/R", roleId: "AROAR", sessionName: name,
                         issuedFor: "arn:aws:iam::111122223333:user/bob", issued: clock.now(), expires: clock.now() + 900)
            : STSSession(kind: .sessionToken, accessKeyId: AccessKeyID.make(prefix: "ASIA", account: "111122223333"),
                         secretAccessKey: AccessKeyID.newSecret(), account: "111122223333",
                         arn: "arn:aws:iam::111122223333:root", userId: "111122223333",
                         issuedFor: "arn:aws:iam::111122223333:root", issued: clock.now(), expires: clock.now() + 900)
        return session.credentials(token: try sts.service.sealer.seal(session))
    }

    func request(_ op: String, _ c: STSCredentials, token: String? = nil, secret: String? = nil,
                 accessKey: String? = nil) throws -> HTTPRequestMessage {
        var headers = HTTPHeaders([("Host", "localhost:8080"), ("Content-Type", "application/x-amz-json-1.1"),
                                   ("X-Amz-Target", "TrentService.\(op)")])
        let signer = SigV4Signer(accessKeyId: accessKey ?? c.accessKeyId, secretAccessKey: secret ?? c.secretAccessKey,
                                 sessionToken: token ?? c.sessionToken, region: "us-east-1")
        let body = Array("{}".utf8)
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: body) {
            headers.add(name: n, value: v)
        }
        return HTTPRequestMessage(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers), body: body)
    }

    /// A request on `connection`: the status and the error type, if any.
    func call(_ op: String = "ListKeys", on connection: ConnectionSession, _ c: STSCredentials? = nil,
              token: String? = nil, secret: String? = nil, accessKey: String? = nil) throws -> (Int, String?) {
        let response: RequestPipeline.Response
        switch pipeline.process(try request(op, c ?? credentials, token: token, secret: secret, accessKey: accessKey), sourceIP: "127.0.0.1",
                                connection: connection) {
        case .respond(let r): response = r
        case .offload(let work): response = work()
        }
        let body = try JSONParser.parse(response.body).objectValue
        return (Int(response.status.code), body?["__type"]?.stringValue)
    }

    func tampered(_ token: String, at index: Int) -> String {
        var t = Array(token.utf8)
        t[index] = t[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        return String(decoding: t, as: UTF8.self)
    }

    @Test func aHitSkipsTheSharedCacheAndBuildsTheSameCaller() throws {
        let connection = ConnectionSession()
        #expect(try call(on: connection).0 == 200)  // verified through the shared cache, remembered
        #expect(connection.hits == 0)
        #expect(sts.sessions.cache.count == 1)
        sts.sessions.cache.removeAll()
        #expect(try call(on: connection).0 == 200)
        #expect(try call(on: connection).0 == 200)
        #expect(connection.hits == 2)
        #expect(sts.sessions.cache.count == 0)  // the shared cache was not asked
        // The Caller a hit builds is the one the shared path builds.
        let r = try request("ListKeys", credentials)
        let hit = try pipeline.authenticator.authenticate(r, sourceIP: "10.0.0.1", connection: connection)
        let shared = try pipeline.authenticator.authenticate(r, sourceIP: "10.0.0.1")
        #expect(connection.hits == 3)
        for c in [hit, shared] {
            #expect(c.principalArn == "arn:aws:sts::111122223333:assumed-role/R/s1")
            #expect(c.account == "111122223333" && c.region == "us-east-1" && c.sourceIP == "10.0.0.1")
            #expect(c.accessKeyId == credentials.accessKeyId)
            #expect(c.identityPolicies.count == 1 && c.sessionPolicies == nil)
        }
        #expect(hit.principal == shared.principal)
        #expect(hit.principal.kind == .assumedRole && hit.principal.roleArn == "arn:aws:iam::111122223333:role/R")
    }

    @Test func anotherTokenForTheSameKeyIdIsNotAHit() throws {
        let connection = ConnectionSession()
        #expect(try call(on: connection).0 == 200)
        let token = credentials.sessionToken
        // A token that differs in one byte anywhere, or in length, goes to the shared path,
        // which refuses it (it does not open), and the good one is still remembered.
        for bad in [tampered(token, at: 0), tampered(token, at: token.utf8.count / 2), tampered(token, at: token.utf8.count - 1),
                    String(token.dropLast()), token + "A"] {
            let (status, type) = try call(on: connection, token: bad)
            #expect(status == 400 && type == "UnrecognizedClientException")
        }
        #expect(connection.hits == 0)
        #expect(try call(on: connection).0 == 200)
        #expect(connection.hits == 1)
        // The right token with a wrong secret: the signature is checked on a hit too.
        let (status, type) = try call(on: connection, secret: "wrong-secret")
        #expect(status == 400 && type == "InvalidSignatureException")
        // The token under another key ID (signed with that ID): a miss, refused by the binding.
        let (s2, t2) = try call(on: connection, accessKey: AccessKeyID.make(prefix: "ASIA", account: "111122223333"))
        #expect(s2 == 400 && t2 == "UnrecognizedClientException")
        #expect(connection.hits == 1)  // a bad signature builds no Caller
    }

    @Test func expiryIsCheckedOnEveryHit() throws {
        let connection = ConnectionSession()
        #expect(try call(on: connection).0 == 200)
        clock.advance(by: 899)
        #expect(try call(on: connection).0 == 200)
        #expect(connection.hits == 1)
        clock.advance(by: 1)
        let (status, type) = try call(on: connection)
        #expect(status == 400 && type == "ExpiredTokenException")
        #expect(connection.hits == 1)
        #expect(connection.verified == nil)  // forgotten
        #expect(try call(on: connection).1 == "ExpiredTokenException")
    }

    @Test func anIAMChangeIsSeenByTheNextHit() throws {
        let connection = ConnectionSession()
        #expect(try call(on: connection).0 == 200)
        #expect(try call(on: connection).0 == 200)
        let reads = identity.reads
        #expect(try call(on: connection).0 == 200)
        #expect(identity.reads == reads)  // unchanged IAM: the connection's copy is used
        identity.revoke()
        let (status, type) = try call(on: connection)
        #expect(status == 400 && type == "AccessDeniedException")
        #expect(connection.hits == 3)
        #expect(identity.reads == reads + 1)
    }

    @Test func aNewSessionOnTheConnectionReplacesTheLast() throws {
        let connection = ConnectionSession()
        #expect(try call(on: connection).0 == 200)
        let root = try Self.credentials(sts, clock: clock, name: "", kind: .sessionToken)
        #expect(try call(on: connection, root).0 == 200)
        #expect(try call(on: connection, root).0 == 200)
        #expect(connection.hits == 1)
        let caller = try pipeline.authenticator.authenticate(try request("ListKeys", root), sourceIP: "", connection: connection)
        #expect(caller.principal.kind == .root && caller.principalArn == "arn:aws:iam::111122223333:root")
        #expect(caller.identityPolicies.isEmpty)
        // An account root's session reads no IAM: a change there does not concern it.
        let reads = identity.reads
        identity.revoke()
        #expect(try call(on: connection, root).0 == 200)
        #expect(identity.reads == reads)
        // The first session again: a miss that re-verifies it, now without its policy.
        #expect(try call(on: connection).1 == "AccessDeniedException")
    }

    @Test func ownedCopiesAreEqual() {
        for s in ["", "short", String(repeating: "arn:aws:sts::111122223333:assumed-role/R/", count: 3), "ünïcödé-ünïcödé-ünïcödé"] {
            #expect(ConnectionSession.own(s) == s)
        }
        #expect(ConnectionSession.own([MutableRolePolicies.allowAll]).count == 1)
    }
}
