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
                           quotas: RequestQuotaRates = RequestQuotaRates()) throws -> (nanosecondsPerRequest: Double, status: UInt) {
        let credential = StoredCredential(accessKeyId: "AKIABENCHMARK0000001", secretAccessKey: "benchmark-secret",
                                          account: "111122223333", principalArn: "arn:aws:iam::111122223333:root")
        let service = try KMSService(store: InMemoryKeyStore(), ciphertextFormat: ciphertextFormat)
        let pipeline = RequestPipeline(service: service, authenticator: Authenticator(
            credentials: CredentialRegistry([credential]), dev: false, devAccount: "000000000000"), quotas: quotas)
        let caller = Caller(account: credential.account, region: "us-east-1", accessKeyId: credential.accessKeyId)
        let keyId = try service.handle(operation: "CreateKey", body: .object(JSONObject()), caller: caller)["KeyMetadata"]?
            .objectValue?["KeyId"]?.stringValue ?? ""
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
        let signer = SigV4Signer(accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey, region: "us-east-1")
        let bytes = Array(body.utf8)
        for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: bytes) {
            headers.add(name: n, value: v)
        }
        let request = HTTPRequestMessage(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers), body: bytes)
        let status = Mutex<UInt>(0)
        let start = DispatchTime.now().uptimeNanoseconds
        // Several threads share one service, as the event loops do: shared reference counts
        // and locks cost more than on one thread.
        DispatchQueue.concurrentPerform(iterations: max(1, threads)) { _ in
            var last: UInt = 0
            for _ in 0..<iterations {
                if case .respond(let r) = pipeline.process(request, sourceIP: "127.0.0.1") { last = r.status.code }
            }
            status.withLock { $0 = last }
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        return (Double(elapsed) / Double(iterations), status.withLock { $0 })
    }
}
