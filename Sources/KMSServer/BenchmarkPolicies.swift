/// The policies of bench/run.sh's Encrypt:policy10 and Encrypt:policy10+identity rows
/// (bench/kmsbench.py fx_policy_key and fx_identity_user), for `kms bench-pipeline --policy10`:
/// the same documents, so the in-process figure and the wrk figure measure the same evaluation.
enum BenchmarkPolicies {
    /// Ten statements with conditions; every one is weighed on each Encrypt.
    static func key(account: String) -> String {
        let root = #"{"AWS":"arn:aws:iam::\#(account):root"}"#
        return #"""
        {"Version":"2012-10-17","Statement":[
        {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":\#(root),"Action":"kms:*","Resource":"*"},
        {"Effect":"Allow","Principal":\#(root),"Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"\#(account)"}}},
        {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}},
        {"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"forbidden"}}},
        {"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionAlgorithm":["SYMMETRIC_DEFAULT","RSAES_OAEP_SHA_256"]}}},
        {"Effect":"Allow","Principal":\#(root),"Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":"tenant*"}}},
        {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/stage":"frozen"}}},
        {"Effect":"Allow","Principal":\#(root),"Action":"kms:GenerateDataKey*","Resource":"*","Condition":{"StringLike":{"kms:RequestAlias":"alias/app*"}}},
        {"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*","Condition":{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"14"}}},
        {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2000-01-01T00:00:00Z"}}}
        ]}
        """#
    }

    /// The IAM user's identity policy: Encrypt under conditions, two denies.
    static let identity = #"""
        {"Version":"2012-10-17","Statement":[
        {"Sid":"EncryptOnly","Effect":"Allow","Action":["kms:Encrypt","kms:DescribeKey"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"},"Bool":{"aws:SecureTransport":["true","false"]}}},
        {"Sid":"NoDecryptOfOthers","Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"bench"}}},
        {"Sid":"NoAdmin","Effect":"Deny","NotAction":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}
        ]}
        """#
}
