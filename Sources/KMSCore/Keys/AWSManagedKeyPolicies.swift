/// The key policies and descriptions AWS gives its managed keys, per service. AWS writes one
/// policy per service (its Id, the service's display name in the Sid, which actions the service
/// may use); the texts below are those AWS published or returned, where a public source showed them:
/// - dynamodb: DynamoDB Developer Guide, "How Amazon DynamoDB uses AWS KMS" (auto-dynamodb-1);
/// - elasticfilesystem: Amazon EFS User Guide, "AWS managed key for Amazon EFS KMS policy";
/// - ebs, s3, ssm, es, lambda, rds, secretsmanager: GetKeyPolicy output of real accounts
///   (imported into Terraform; descriptions from the same DescribeKey output), which agrees with
///   the Secrets Manager and WorkMail guides' examples in shape and wording;
/// - redshift: AWS Lake Formation Developer Guide, "Prerequisites for managing Amazon Redshift
///   namespaces in the AWS Glue Data Catalog", step 7, whose key policy is aws/redshift's
///   (Id auto-redshift-3, one statement for Redshift and one for Redshift Serverless) with a
///   statement of the user's own appended; its description was not shown.
/// The other predefined services (acm, glue, kinesisvideo, xray) were not found in any
/// public source: they get the common shape (`generic`), which may differ from AWS in its Id,
/// Sid wording and action list.
struct AWSManagedKeyPolicy: Sendable {
    /// The policy's Id ("auto-ebs-2").
    let id: String
    /// The service's name as the Sid words it ("Allow access through EBS for all principals ...").
    let displayName: String
    /// "through" for nearly every service; EFS's Sid says "Allow access to EFS ...".
    var preposition = "through"
    /// What principals of the account may do through the service.
    let actions: [String]
    /// The account's direct access to metadata (some services add kms:RevokeGrant).
    let metadataActions: [String]
    /// Secrets Manager allows GenerateDataKey* through any region's endpoint, in a second statement
    /// (which AWS gives the first statement's Sid again; here it has none, see `text`).
    var generateDataKeyAnyRegion = false
    /// A statement letting the service principal describe the key (DynamoDB, OpenSearch): Sid and principal.
    var servicePrincipal: (sid: String, principal: String)? = nil
    /// DescribeKey's Description; nil where no source showed it.
    var description: String? = nil
    /// Where AWS names its via-service statements itself (Redshift: one per service endpoint):
    /// each statement's Sid and kms:ViaService prefix, in place of the one "Allow access through" statement.
    var viaServiceStatements: [(sid: String, service: String)]? = nil
    /// The Sid of the account's direct metadata access.
    var metadataSid = "Allow direct access to key metadata to the account"

    static let use = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    static let useAndGrant = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"]
    static let metadata = ["kms:Describe*", "kms:Get*", "kms:List*"]
    static let metadataAndRevoke = ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"]

    static let byService: [String: AWSManagedKeyPolicy] = [
        "dynamodb": .init(id: "auto-dynamodb-1", displayName: "Amazon DynamoDB", actions: useAndGrant, metadataActions: metadataAndRevoke,
                          servicePrincipal: ("Allow DynamoDB Service with service principal name dynamodb.amazonaws.com to describe the key directly",
                                             "dynamodb.amazonaws.com")),
        "ebs": .init(id: "auto-ebs-2", displayName: "EBS", actions: useAndGrant, metadataActions: metadataAndRevoke,
                     description: "Default key that protects my EBS volumes when no other key is defined"),
        "elasticfilesystem": .init(id: "auto-elasticfilesystem-1", displayName: "EFS", preposition: "to", actions: useAndGrant,
                                   metadataActions: metadataAndRevoke,
                                   description: "Default key that protects my EFS filesystems when no other key is defined"),
        "es": .init(id: "auto-es-2", displayName: "OpenSearch Service", actions: useAndGrant, metadataActions: metadataAndRevoke,
                    servicePrincipal: ("Allow OpenSearch service principals to describe the key directly", "es.amazonaws.com"),
                    description: "Default key that protects my Amazon OpenSearch Service (successor to Amazon Elasticsearch Service) data when no other key is defined"),
        "lambda": .init(id: "auto-awslambda", displayName: "AWS Lambda", actions: useAndGrant, metadataActions: metadataAndRevoke,
                        description: "Default key that protects my Lambda functions when no other key is defined"),
        "rds": .init(id: "auto-rds-2", displayName: "RDS",
                     actions: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:ListGrants", "kms:DescribeKey"],
                     metadataActions: metadataAndRevoke,
                     description: "Default key that protects my RDS database volumes when no other key is defined"),
        "redshift": .init(id: "auto-redshift-3", displayName: "Redshift", actions: useAndGrant, metadataActions: metadataAndRevoke,
                          viaServiceStatements: [("RedshiftAllowAccessPolicy", "redshift"),
                                                 ("RedshiftServerlessAllowAccessPolicy", "redshift-serverless")],
                          metadataSid: "DirectMetadataAccess"),
        "s3": .init(id: "auto-s3-2", displayName: "S3", actions: use, metadataActions: metadata,
                    description: "Default key that protects my S3 objects when no other key is defined"),
        "secretsmanager": .init(id: "auto-secretsmanager-2", displayName: "AWS Secrets Manager",
                                actions: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant", "kms:DescribeKey"],
                                metadataActions: metadataAndRevoke, generateDataKeyAnyRegion: true,
                                description: "Default key that protects my Secrets Manager data when no other key is defined"),
        "ssm": .init(id: "auto-ssm-1", displayName: "SSM", actions: use, metadataActions: metadata,
                     description: "Default key that protects my SSM parameters when no other key is defined"),
    ]

    /// The common shape, for services no public source showed.
    static func generic(_ service: String) -> AWSManagedKeyPolicy {
        .init(id: "auto-\(service)-2", displayName: service, actions: useAndGrant, metadataActions: metadataAndRevoke)
    }

    static func forService(_ service: String) -> AWSManagedKeyPolicy { byService[service] ?? generic(service) }

    /// The description AWS gives the key, or the common wording where none was found.
    func keyDescription(service: String) -> String {
        description ?? "Default key that protects my \(service) resources when no other key is defined"
    }

    /// The policy text, laid out as GetKeyPolicy returns AWS's own policies (" : " separators,
    /// two-space indent, kms:CallerAccount before kms:ViaService).
    func text(viaService: String, account: String, region: String) -> String {
        func list(_ items: [String]) -> String { "[ " + items.map { "\"\($0)\"" }.joined(separator: ", ") + " ]" }
        let sid = "Allow access \(preposition) \(displayName) for all principals in the account that are authorized to use \(displayName)"
        var statements = (viaServiceStatements ?? [(sid, viaService)]).map { sid, service in
            """
              {
                "Sid" : "\(sid)",
                "Effect" : "Allow",
                "Principal" : {
                  "AWS" : "*"
                },
                "Action" : \(list(actions)),
                "Resource" : "*",
                "Condition" : {
                  "StringEquals" : {
                    "kms:CallerAccount" : "\(account)",
                    "kms:ViaService" : "\(service).\(region).amazonaws.com"
                  }
                }
              }
            """
        }
        if generateDataKeyAnyRegion {
            // AWS repeats the first statement's Sid here; the policy engine (like IAM) refuses
            // a repeated Sid, so this statement has none: the one place the text differs from AWS's.
            statements.append("""
                  {
                    "Effect" : "Allow",
                    "Principal" : {
                      "AWS" : "*"
                    },
                    "Action" : "kms:GenerateDataKey*",
                    "Resource" : "*",
                    "Condition" : {
                      "StringEquals" : {
                        "kms:CallerAccount" : "\(account)"
                      },
                      "StringLike" : {
                        "kms:ViaService" : "\(viaService).*.amazonaws.com"
                      }
                    }
                  }
                """)
        }
        statements.append("""
              {
                "Sid" : "\(metadataSid)",
                "Effect" : "Allow",
                "Principal" : {
                  "AWS" : "arn:aws:iam::\(account):root"
                },
                "Action" : \(list(metadataActions)),
                "Resource" : "*"
              }
            """)
        if let servicePrincipal {
            statements.append("""
                  {
                    "Sid" : "\(servicePrincipal.sid)",
                    "Effect" : "Allow",
                    "Principal" : {
                      "Service" : "\(servicePrincipal.principal)"
                    },
                    "Action" : \(list(Self.metadata)),
                    "Resource" : "*"
                  }
                """)
        }
        return """
            {
              "Version" : "2012-10-17",
              "Id" : "\(id)",
              "Statement" : [
            \(statements.joined(separator: ",\n"))
              ]
            }
            """
    }
}
