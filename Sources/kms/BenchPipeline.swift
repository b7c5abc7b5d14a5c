import ArgumentParser
import KMSServer

/// `kms bench-pipeline`: nanoseconds per request through the pipeline, no sockets.
struct BenchPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-pipeline", abstract: "Time the request pipeline alone for Encrypt, Decrypt or GenerateDataKey.")

    @Option(help: "Encrypt, Decrypt or GenerateDataKey.") var operation = "Encrypt"
    @Option(help: "Requests to time (per thread).") var iterations = 200_000
    @Option(help: "Threads running the pipeline at once over one shared service.") var threads = 1
    @Option(name: .customLong("ciphertext-format"), help: "Symmetric ciphertext format written: 2, or 1 to compare.") var ciphertextFormat: UInt8 = 2
    @Option(name: .customLong("quota-symmetric"), help: "A symmetric request quota (requests/s) to time the quota check with (default: unlimited, no check).") var quotaSymmetric: Double?

    @Option(help: "Audit directory: build each request's event and write it there (grouped every 32 requests, as a loop tick would), to time the audit stage (default: no audit).") var audit: String?

    @Option(name: .customLong("audit-fsync"), help: "With --audit: interval (default) or always (an fsync before each group is acknowledged; threads share group commits).") var auditFsync = "interval"

    @Flag(name: .customLong("shipper-cost"), help: "With --audit: afterwards, time the cluster shipper's CPU per record (rows from the index vs parsed from the lines).") var shipperCost = false

    @Flag(name: .customLong("iam-user"), help: "Sign with an IAM user's access key instead of the account root's (issue 9).") var iamUser = false
    @Option(help: "Rotate the key this many times first (automatic rotation on a manual clock), to time Encrypt on a rotated key.") var rotations = 0
    @Flag(name: .customLong("temporary-credentials"), help: "Sign with STS temporary credentials (an assumed-role session token) instead of a long-term key, to time session verification.") var temporaryCredentials = false

    @Flag(help: "Encrypt under bench/run.sh's ten-statement conditional key policy (Encrypt:policy10); with --iam-user, the user holds the bench's conditional identity policy (Encrypt:policy10+identity).") var policy10 = false

    @Flag(name: .customLong("via-service"), help: "Each request forwarded by a trusted service (X-Kms-Via-Service countersignature, kms:ViaService), to time the countersignature check.") var viaService = false

    func run() throws {
        let (ns, status) = try PipelineBenchmark.run(operation: operation, iterations: iterations, threads: threads,
                                                     ciphertextFormat: ciphertextFormat,
                                                     quotas: RequestQuotaRates(symmetric: quotaSymmetric),
                                                     auditDirectory: audit, iamUser: iamUser, temporaryCredentials: temporaryCredentials,
                                                     rotations: rotations, policy10: policy10,
                                                     auditFsync: AuditLog.FsyncPolicy(rawValue: auditFsync) ?? .interval,
                                                     viaService: viaService)
        print("\(operation) (format v\(ciphertextFormat)\(audit == nil ? "" : ", audited" + (auditFsync == "always" ? " (fsync always)" : ""))\(policy10 ? ", policy10" : "")\(iamUser ? ", IAM user" : "")\(temporaryCredentials ? ", temporary credentials" : "")\(rotations > 0 ? ", key rotated \(rotations) times" : "")\(viaService ? ", via a trusted service" : "")): \(Int(ns)) ns/request per thread (HTTP status \(status)), \(Int(Double(threads) * 1e9 / ns)) requests/s on \(threads) thread(s)")
        if shipperCost, let audit {
            let cost = try PipelineBenchmark.shipperRowCost(auditDirectory: audit)
            print("shipper rows: \(Int(cost.index)) ns/record from the index, \(Int(cost.parse)) ns/record parsed from the lines (\(cost.records) records, thread CPU)")
        }
    }
}
