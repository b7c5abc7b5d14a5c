import IAMPolicy
import Testing
@testable import KMSCore

/// Identity policies' condition plans are built once per compiled policy, not per request,
/// and never mixed up between policies.
extension AuthorizationTests {
    @Test func identityPolicyConditionPlansAreCachedPerPolicy() throws {
        let key = try createKey()
        let app = try user("app", policies: [Self.policy(
            #"{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"x"}}}"#)])
        let algo = try user("algo", policies: [Self.policy(
            #"{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}}"#)])
        func encrypt(_ caller: Caller, _ context: String) throws(KMSError) {
            try call("Encrypt", JSONObject([("KeyId", .string(key)), ("Plaintext", .string("AAAA")),
                                            ("EncryptionContext", .object(JSONObject([("app", .string(context))])))]), as: caller)
        }
        #expect(service.keyPolicies.identityPlans.count == 0)
        for _ in 0..<3 {
            try encrypt(app, "x")
            #expect(deniedMessage { () throws(KMSError) in try encrypt(app, "y") } != nil)
            try encrypt(algo, "y")  // its own plan (kms:EncryptionAlgorithm), not app's
        }
        #expect(service.keyPolicies.identityPlans.count == 2)
    }
}
