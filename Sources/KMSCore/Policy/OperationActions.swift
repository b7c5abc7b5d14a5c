/// The IAM actions each operation of the dispatch table is authorized as (KMS Developer
/// Guide, "AWS KMS permissions"). `KMSService.handle` refuses an operation that declares
/// none, and refuses an answer unless each declared action passed the evaluator.
public enum OperationActions {
    public static let table: [String: [String]] = [
        "CreateKey": ["kms:CreateKey"],
        "DescribeKey": ["kms:DescribeKey"],
        "ListKeys": ["kms:ListKeys"],
        "EnableKey": ["kms:EnableKey"],
        "DisableKey": ["kms:DisableKey"],
        "UpdateKeyDescription": ["kms:UpdateKeyDescription"],
        "ScheduleKeyDeletion": ["kms:ScheduleKeyDeletion"],
        "CancelKeyDeletion": ["kms:CancelKeyDeletion"],
        "CreateAlias": ["kms:CreateAlias"],
        "UpdateAlias": ["kms:UpdateAlias"],
        "DeleteAlias": ["kms:DeleteAlias"],
        "ListAliases": ["kms:ListAliases"],
        "TagResource": ["kms:TagResource"],
        "UntagResource": ["kms:UntagResource"],
        "ListResourceTags": ["kms:ListResourceTags"],
        "GetKeyPolicy": ["kms:GetKeyPolicy"],
        "PutKeyPolicy": ["kms:PutKeyPolicy"],
        "ListKeyPolicies": ["kms:ListKeyPolicies"],
        "Encrypt": ["kms:Encrypt"],
        "Decrypt": ["kms:Decrypt"],
        "ReEncrypt": ["kms:ReEncryptFrom", "kms:ReEncryptTo"],
        "GenerateDataKey": ["kms:GenerateDataKey"],
        "GenerateDataKeyWithoutPlaintext": ["kms:GenerateDataKeyWithoutPlaintext"],
        "GenerateRandom": ["kms:GenerateRandom"],
        "GenerateDataKeyPair": ["kms:GenerateDataKeyPair"],
        "GenerateDataKeyPairWithoutPlaintext": ["kms:GenerateDataKeyPairWithoutPlaintext"],
        "Sign": ["kms:Sign"],
        "Verify": ["kms:Verify"],
        "GetPublicKey": ["kms:GetPublicKey"],
        "GenerateMac": ["kms:GenerateMac"],
        "VerifyMac": ["kms:VerifyMac"],
        "DeriveSharedSecret": ["kms:DeriveSharedSecret"],
        // Grants (issue 10 section 6) are authorized on the key like the others.
        "CreateGrant": ["kms:CreateGrant"],
        "ListGrants": ["kms:ListGrants"],
        "ListRetirableGrants": ["kms:ListRetirableGrants"],
        "RetireGrant": ["kms:RetireGrant"],
        "RevokeGrant": ["kms:RevokeGrant"],
        // Rotation and imported key material (issue 12).
        "EnableKeyRotation": ["kms:EnableKeyRotation"],
        "DisableKeyRotation": ["kms:DisableKeyRotation"],
        "GetKeyRotationStatus": ["kms:GetKeyRotationStatus"],
        "RotateKeyOnDemand": ["kms:RotateKeyOnDemand"],
        "ListKeyRotations": ["kms:ListKeyRotations"],
        "GetParametersForImport": ["kms:GetParametersForImport"],
        "ImportKeyMaterial": ["kms:ImportKeyMaterial"],
        "DeleteImportedKeyMaterial": ["kms:DeleteImportedKeyMaterial"],
        // Answered from the audit trail (issue 11).
        "GetKeyLastUsage": ["kms:GetKeyLastUsage"],
        // Multi-Region keys (issue 13).
        "ReplicateKey": ["kms:ReplicateKey"],
        "UpdatePrimaryRegion": ["kms:UpdatePrimaryRegion"],
        // Custom key stores (issue 14): IAM policy only, on the account.
        "CreateCustomKeyStore": ["kms:CreateCustomKeyStore"],
        "DescribeCustomKeyStores": ["kms:DescribeCustomKeyStores"],
        "UpdateCustomKeyStore": ["kms:UpdateCustomKeyStore"],
        "ConnectCustomKeyStore": ["kms:ConnectCustomKeyStore"],
        "DisconnectCustomKeyStore": ["kms:DisconnectCustomKeyStore"],
        "DeleteCustomKeyStore": ["kms:DeleteCustomKeyStore"],
    ]

    /// Actions an operation needs only for some requests, beyond its declared ones: CreateKey
    /// with Tags also needs kms:TagResource (CreateKey API reference, "Required permissions").
    public static let conditional: [String: [String]] = [
        "CreateKey": ["kms:TagResource"],
        // The replica is a new key in its Region (ReplicateKey API reference, "Required permissions").
        "ReplicateKey": ["kms:CreateKey", "kms:TagResource"],
    ]

    /// The operations AWS lets a principal of another account call on a key ("Cross-account
    /// use: Yes" in the permissions reference); the others refuse another account's key.
    public static let crossAccount: Set<String> = [
        "CreateGrant", "Decrypt", "DescribeKey", "DeriveSharedSecret", "Encrypt", "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
        "GenerateMac", "GetKeyRotationStatus", "GetPublicKey", "ListGrants", "ReEncrypt", "RetireGrant",
        "RevokeGrant", "Sign", "Verify", "VerifyMac",
    ]
}
