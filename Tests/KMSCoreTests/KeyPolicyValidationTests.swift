import Testing
@testable import KMSCore

/// PutKeyPolicy/CreateKey validation goes through the IAM policy compiler: the whole
/// grammar with AWS's messages, and the 32 KB limit; the lockout check is unchanged.
@Suite struct KeyPolicyValidationTests {
    let caller = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIDEXAMPLE")

    func policy(_ statement: String) -> String { #"{"Version":"2012-10-17","Statement":[\#(statement)]}"# }

    @Test func defaultPolicyIsValid() throws {
        try KeyPolicy.validate(KeyPolicy.defaultPolicy(account: "111122223333"), lockoutCheckFor: caller)
    }

    @Test func grammarErrorsCarryAWSMessages() {
        let cases: [(String, String)] = [
            (policy(#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}"#),
             "Invalid Condition type : StringEqualz"),
            (policy(#"{"Effect":"Allow","Principal":"*","Action":"Decrypt","Resource":"*"}"#),
             "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
            (policy(#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:*","Resource":"*"}"#),
             "Policy contains a statement with one or more invalid principals."),
            (policy(#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/40"}}}"#),
             "Invalid Condition value for key aws:SourceIp with operator IpAddress: 10.0.0.0/40"),
            ("{not json", "Syntax errors in policy."),
        ]
        for (text, message) in cases {
            #expect(throws: KMSError(.malformedPolicyDocument, message)) { try KeyPolicy.validate(text, lockoutCheckFor: nil) }
        }
    }

    @Test func documentsOver32KBAreRefused() {
        let big = policy(#"{"Sid":"\#(String(repeating: "x", count: 32_800))","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}"#)
        #expect(throws: KMSError(.limitExceeded, "The policy document exceeds the maximum size of 32768 bytes.")) {
            try KeyPolicy.validate(big, lockoutCheckFor: nil)
        }
    }

    @Test func lockoutCheckStillApplies() throws {
        let encryptOnly = policy(#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:Encrypt","Resource":"*"}"#)
        #expect(throws: KMSError(.malformedPolicyDocument, "The new key policy will not allow you to update the key policy in the future.")) {
            try KeyPolicy.validate(encryptOnly, lockoutCheckFor: caller)
        }
        try KeyPolicy.validate(encryptOnly, lockoutCheckFor: nil)
    }
}
