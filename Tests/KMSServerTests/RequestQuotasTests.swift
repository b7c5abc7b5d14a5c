import Foundation
import NIOCore
import NIOHTTP1
import Testing
import KMSCore
import KMSStorage
import SigV4
@testable import KMSServer

/// Request quotas: token buckets per (account, region, quota), the quota each operation
/// counts against, and ThrottlingException from the pipeline.
@Suite struct RequestQuotasTests {
    let caller = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAQUOTATEST0000001")

    @Test func bucketsHoldOneSecondAndRefillAtTheRate() {
        let quotas = RequestQuotas(rates: RequestQuotaRates(symmetric: 5))
        let key = RequestQuotas.BucketKey(account: "a", region: "r", quota: "symmetric")
        let t0: UInt64 = 1_000_000_000
        #expect((0..<5).allSatisfy { _ in quotas.take(key, rate: 5, now: t0) })
        #expect(!quotas.take(key, rate: 5, now: t0))
        #expect(!quotas.take(key, rate: 5, now: t0 + 100_000_000))  // 0.5 token after 100 ms
        #expect(quotas.take(key, rate: 5, now: t0 + 200_000_000))   // one token after 200 ms
        #expect(!quotas.take(key, rate: 5, now: t0 + 200_000_000))
        // Other accounts and regions have their own buckets.
        #expect(quotas.take(.init(account: "b", region: "r", quota: "symmetric"), rate: 5, now: t0))
        #expect(quotas.take(.init(account: "a", region: "s", quota: "symmetric"), rate: 5, now: t0))
        // A rate under one per second still admits one request, then one per 1/rate seconds.
        let slow = RequestQuotas.BucketKey(account: "a", region: "r", quota: "CreateKey")
        #expect(quotas.take(slow, rate: 0.5, now: t0))
        #expect(!quotas.take(slow, rate: 0.5, now: t0 + 1_000_000_000))
        #expect(quotas.take(slow, rate: 0.5, now: t0 + 2_000_000_000))
    }

    @Test func operationsCountAgainstAWSsQuotas() throws {
        let service = try KMSService(store: InMemoryKeyStore())
        func create(_ spec: String, _ usage: String) throws -> String {
            try #require(service.handle(operation: "CreateKey", body: .object(JSONObject([("KeySpec", .string(spec)), ("KeyUsage", .string(usage))])),
                                        caller: caller)["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
        }
        let symmetric = try create("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
        let rsa = try create("RSA_2048", "SIGN_VERIFY")
        let ecc = try create("ECC_NIST_P256", "SIGN_VERIFY")
        let quotas = RequestQuotas(rates: RequestQuotaRates(symmetric: 1, rsa: 2, ecc: 3, management: 4))
        func quota(_ op: String, _ body: [(String, JSONValue)] = []) -> String? {
            quotas.quota(for: op, body: .object(JSONObject(body)), caller: caller, service: service)?.0
        }
        #expect(quota("Encrypt", [("KeyId", .string(symmetric))]) == "symmetric")
        #expect(quota("Decrypt") == "symmetric")
        #expect(quota("GenerateDataKey", [("KeyId", .string(symmetric))]) == "symmetric")
        #expect(quota("GenerateRandom") == "symmetric")
        #expect(quota("Sign", [("KeyId", .string(rsa))]) == "rsa")
        #expect(quota("Encrypt", [("KeyId", .string("arn:aws:kms:us-east-1:111122223333:key/" + rsa))]) == "rsa")
        #expect(quota("Verify", [("KeyId", .string(ecc))]) == "ecc")
        #expect(quota("DeriveSharedSecret", [("KeyId", .string("alias/none"))]) == "ecc")
        #expect(quota("ReEncrypt", [("DestinationKeyId", .string(rsa))]) == "rsa")
        #expect(quota("CreateKey") == "CreateKey")
        #expect(quota("DescribeKey") == "DescribeKey")
        #expect(quota("GenerateDataKeyPair", [("KeyPairSpec", .string("RSA_4096"))]) == "GenerateDataKeyPair (RSA_4096)")
        // An unlimited quota is no quota: nothing is looked up or counted.
        let onlyManagement = RequestQuotas(rates: RequestQuotaRates(management: 1))
        #expect(onlyManagement.quota(for: "Encrypt", body: .object(JSONObject([("KeyId", .string(rsa))])), caller: caller, service: service) == nil)
    }

    @Test func pipelineThrottlesOverQuotaWithAWSsError() throws {
        let credential = StoredCredential(accessKeyId: "AKIAQUOTATEST0000001", secretAccessKey: "quota-secret",
                                          account: "111122223333", principalArn: "arn:aws:iam::111122223333:root")
        let service = try KMSService(store: InMemoryKeyStore())
        let pipeline = RequestPipeline(service: service, authenticator: Authenticator(
            credentials: CredentialRegistry([credential]), dev: false, devAccount: "000000000000"),
            quotas: RequestQuotaRates(symmetric: 2))
        func call(_ op: String, _ body: String) throws -> (UInt, JSONObject) {
            var headers = HTTPHeaders([("Host", "localhost"), ("Content-Type", "application/x-amz-json-1.1"),
                                       ("X-Amz-Target", "TrentService.\(op)")])
            let signer = SigV4Signer(accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey, region: "us-east-1")
            for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: Array(body.utf8)) {
                headers.add(name: n, value: v)
            }
            let response: RequestPipeline.Response
            switch pipeline.process(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers),
                                    body: Array(body.utf8), sourceIP: "127.0.0.1") {
            case .respond(let r): response = r
            case .offload(let work): response = work()
            }
            return (response.status.code, try JSONParser.parse(response.body).objectValue ?? JSONObject())
        }
        #expect(try call("GenerateRandom", #"{"NumberOfBytes":8}"#).0 == 200)
        #expect(try call("GenerateRandom", #"{"NumberOfBytes":8}"#).0 == 200)
        let (status, error) = try call("GenerateRandom", #"{"NumberOfBytes":8}"#)
        #expect(status == 400)
        #expect(error["__type"]?.stringValue == "ThrottlingException")
        #expect(error["message"]?.stringValue == "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")
        // Management operations are not in the symmetric quota.
        #expect(try call("ListKeys", "{}").0 == 200)
        #expect(pipeline.quotas?.throttled.load(ordering: .relaxed) == 1)
    }
}
