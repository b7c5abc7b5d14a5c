import AWSQuery
import Foundation
import KMSCore
import KMSStorage
import NIOHTTP1
import SigV4
import Synchronization

/// Times the request pipeline alone (SigV4, JSON, validation, the operation, encoding) on
/// one thread, without sockets: `kms bench-pipeline`. It separates the service's own cost
/// from HTTP and the kernel when profiling the hot path.
public enum PipelineBenchmark {
    public static func run(operation: String, iterations: Int, threads: Int = 1,
                           ciphertextFormat: UInt8 = 2,
                           quotas: RequestQuotaRates = RequestQuotaRates(),
                           auditDirectory: String? = nil, iamUser: Bool = false,
                           temporaryCredentials: Bool = false, rotations: Int = 0,
                           policy10: Bool = false, auditFsync: AuditLog.FsyncPolicy = .interval,
                           viaService: Bool = false) throws -> (nanosecondsPerRequest: Double, status: UInt) {
        let root = StoredCredential(accessKeyId: "AKIABENCHMARK0000001", secretAccessKey: "benchmark-secret",
                                    account: "111122223333", principalArn: "arn:aws:iam::111122223333:root")
        // With `iamUser`, requests are signed with an IAM user's access key (issue 9): the
        // root lookup misses, the identity registry's cached principal answers.
        let identities = try IdentityRegistry(store: InMemoryIdentityStore())
        var credential = root
        if iamUser {
            let (id, secret) = try identities.write(account: root.account) { (a: inout AccountIdentities) throws(QueryError) in
                a.users["bench"] = IAMUser(name: "bench", path: "/", userId: IAMNames.uniqueId("AIDA"),
                                           arn: "arn:aws:iam::\(root.account):user/bench", createDate: 0,
                                           inlinePolicies: ["kms": policy10 ? BenchmarkPolicies.identity
                                                            : #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#])
                a.accessKeys["AKIABENCHUSER0000001"] = IAMAccessKey(accessKeyId: "AKIABENCHUSER0000001", userName: "bench",
                                                                    status: "Active", createDate: 0)
                a.secrets["AKIABENCHUSER0000001"] = "benchmark-user-secret"
                return ("AKIABENCHUSER0000001", "benchmark-user-secret")
            }
            credential = StoredCredential(accessKeyId: id, secretAccessKey: secret, account: root.account,
                                          principalArn: "arn:aws:iam::\(root.account):user/bench")
        }
        // With `rotations`, the key's automatic rotation runs that many times on a manual clock
        // (a year of 90-day periods per four rotations) before timing: Encrypt on a rotated key.
        let manual = rotations > 0 ? ManualClock(Date().timeIntervalSince1970 - Double(rotations) * 91 * 86_400) : nil
        let clock: any KMSClock
        if let manual { clock = manual } else { clock = SystemClock() }
        let service = try KMSService(store: InMemoryKeyStore(), clock: clock, ciphertextFormat: ciphertextFormat)
        // As the server has it: the trail also feeds each key's last use (GetKeyLastUsage).
        let audit = try auditDirectory.map {
            try AuditLog(dataDirectory: $0, policy: auditFsync, fallbackAccount: "000000000000", keyUsage: service.keyUsage)
        }
        // With `viaService`: each request is forwarded by a trusted service (kms:ViaService),
        // countersigned with this credential, to time the countersignature check.
        let forwarder = StoredCredential(accessKeyId: "AKIABENCHSERVICE0001", secretAccessKey: "benchmark-service-secret",
                                         account: "999988887777", principalArn: "arn:aws:iam::999988887777:root")
        let credentials = CredentialRegistry(viaService ? [root, forwarder] : [root])
        var authenticator = Authenticator(credentials: credentials, dev: false, devAccount: "000000000000",
                                          identities: identities)
        if viaService { try authenticator.trustedServices.add("secretsmanager=\(forwarder.accessKeyId)") }
        // With `temporaryCredentials`: an assumed-role session's token, verified (and cached) per request.
        let session = temporaryCredentials
            ? try BenchmarkSession.make(account: root.account, identities: identities, credentials: credentials) : nil
        authenticator.sessions = session?.sessions
        let pipeline = RequestPipeline(service: service, authenticator: authenticator, quotas: quotas, audit: audit)
        // From the address the timed requests come from: policy10 denies any other (aws:SourceIp).
        let caller = Caller(account: credential.account, region: "us-east-1", accessKeyId: credential.accessKeyId,
                            sourceIP: "127.0.0.1")
        // With `policy10`: bench/run.sh's Encrypt:policy10 key (ten conditional statements, a tag).
        let createBody: JSONValue = policy10
            ? .object(JSONObject([("Policy", .string(BenchmarkPolicies.key(account: root.account))),
                                  ("Tags", .array([.object(JSONObject([("TagKey", .string("stage")), ("TagValue", .string("bench"))]))]))]))
            : .object(JSONObject())
        let keyId = try service.handle(operation: "CreateKey", body: createBody, caller: caller)["KeyMetadata"]?
            .objectValue?["KeyId"]?.stringValue ?? ""
        if let manual {
            _ = try service.handle(operation: "EnableKeyRotation", body: .object(JSONObject([("KeyId", .string(keyId)), ("RotationPeriodInDays", JSONValue(90))])),
                                   caller: caller)
            for _ in 0..<rotations {
                manual.advance(by: 91 * 86_400)
                try service.rotateDueKeys()
            }
            let listed = try service.handle(operation: "ListKeyRotations", body: .object(JSONObject([("KeyId", .string(keyId)), ("Limit", JSONValue(1000))])),
                                            caller: caller)["Rotations"]?.arrayValue?.count
            guard listed == rotations else { throw KMSError(.kmsInternal, "the key has \(listed ?? 0) rotations, not \(rotations)") }
        }
        let plaintext = Base64.encode(Array(repeating: UInt8(0x42), count: 64))
        let body: String
        switch operation {
        case "Decrypt":
            let blob = try service.handle(operation: "Encrypt", body: .object(JSONObject([("KeyId", .string(keyId)), ("Plaintext", .string(plaintext))])),
                                          caller: caller)["CiphertextBlob"]?.stringValue ?? ""
            body = #"{"CiphertextBlob":"\#(blob)"}"#
        case "GenerateDataKey": body = #"{"KeyId":"\#(keyId)","KeySpec":"AES_256"}"#
        default: body = #"{"KeyId":"\#(keyId)","Plaintext":"\#(plaintext)"}"#
        }
        var headers = HTTPHeaders([("Host", "127.0.0.1:8080"), ("Content-Type", "application/x-amz-json-1.1"),
                                   ("X-Amz-Target", "TrentService.\(operation)"), ("User-Agent", "bench")])
        let signer = session.map {
            SigV4Signer(accessKeyId: $0.credentials.accessKeyId, secretAccessKey: $0.credentials.secretAccessKey,
                        sessionToken: $0.credentials.sessionToken, region: "us-east-1")
        } ?? SigV4Signer(accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey, region: "us-east-1")
        let bytes = Array(body.utf8)
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: bytes) {
            headers.add(name: n, value: v)
        }
        if viaService {
            let signed = try SigV4Authorization.parse(headers: headers.map { ($0.name, $0.value) })
            headers.add(name: "X-Kms-Via-Service", value: "secretsmanager")
            headers.add(name: "X-Kms-Via-Service-Authorization", value: ViaServiceSignature.sign(
                serviceName: "secretsmanager", user: signed, accessKeyId: forwarder.accessKeyId,
                secretAccessKey: forwarder.secretAccessKey))
        }
        let request = HTTPRequestMessage(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers), body: bytes)
        let status = Mutex<UInt>(0)
        let start = DispatchTime.now().uptimeNanoseconds
        // Several threads share one service, as the event loops do: shared reference counts
        // and locks cost more than on one thread.
        DispatchQueue.concurrentPerform(iterations: max(1, threads)) { _ in
            var last: UInt = 0
            // Each thread is one keep-alive connection, with its own last session (ConnectionSession).
            let connection = ConnectionSession()
            // With auditing, events are grouped 32 at a time and written as a loop's tick would.
            var events: [UInt8] = [], ends: [Int] = [], entries: [AuditIndexEntry] = []
            // As a server connection has it: one caller, one key, events rendered from its cache.
            let auditCache = audit == nil ? nil : AuditEventCache()
            for _ in 0..<iterations {
                if case .respond(let r) = pipeline.process(request, sourceIP: "127.0.0.1", connection: connection,
                                                           auditCache: auditCache) {
                    last = r.status.code
                    if let audit, let entry = r.entry {
                        events.append(contentsOf: r.event)
                        ends.append(events.count)
                        entries.append(entry)
                        if ends.count == 32 {
                            if !audit.append(events, ends: ends, entries: &entries) { last = 500 }
                            events.removeAll(keepingCapacity: true); ends.removeAll(keepingCapacity: true)
                            entries.removeAll(keepingCapacity: true)
                        }
                    }
                }
            }
            status.withLock { $0 = last }
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        return (Double(elapsed) / Double(iterations), status.withLock { $0 })
    }

    /// The cluster shipper's own CPU per record (turning written records into rows), from
    /// the trail's index and by parsing the lines, over the newest `limit` records of the
    /// trail in `auditDirectory` (as bench-pipeline --audit left it): thread CPU ns/record.
    public static func shipperRowCost(auditDirectory: String, limit: Int = 20_000) throws -> (index: Double, parse: Double, records: Int) {
        let audit = try AuditLog(dataDirectory: auditDirectory, policy: .interval, fallbackAccount: "000000000000")
        let horizon = audit.committedHorizon()
        let from = max(0, horizon.count - min(limit, AuditLog.indexCapacity))
        var position = try AuditClusterShipper.locate(sequence: from, directory: audit.directory, horizon: horizon)
        var records: [(line: ArraySlice<UInt8>, sequence: Int)] = []
        while true {
            let batch = AuditClusterShipper.read(from: &position, directory: audit.directory, horizon: horizon,
                                                 limit: AuditClusterShipper.batchLimit)
            if batch.isEmpty { break }
            records += batch
        }
        guard !records.isEmpty else { return (0, 0, 0) }
        func time(_ body: () -> Int) -> Double {
            let t0 = AuditClusterShipper.threadCPUNanoseconds()
            let n = body()
            return Double(AuditClusterShipper.threadCPUNanoseconds() - t0) / Double(max(1, n))
        }
        let chunks = stride(from: 0, to: records.count, by: AuditClusterShipper.batchLimit).map {
            Array(records[$0..<min($0 + AuditClusterShipper.batchLimit, records.count)])
        }
        let index = time { chunks.reduce(0) { $0 + AuditClusterShipper.events($1, node: "bench", audit: audit).count } }
        let parse = time { records.reduce(0) { n, r in n + (AuditClusterShipper.event(r.line, node: "bench", sequence: r.sequence).sequence > 0 ? 1 : 0) } }
        return (index, parse, records.count)
    }
}
