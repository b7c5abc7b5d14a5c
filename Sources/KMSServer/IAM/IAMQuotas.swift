import AWSQuery
import IAMPolicy
import KMSCore

/// IAM's default quotas (AWS "IAM and AWS STS quotas") and its policy-document checks.
enum IAMQuotas {
    static let accessKeysPerUser = 2
    static let versionsPerManagedPolicy = 5
    static let groupsPerUser = 10
    static let managedPoliciesPerEntity = 10
    static let tagsPerEntity = 50
    /// Characters of inline policies (all of an entity's together), whitespace not counted.
    static let userInlineChars = 2048
    static let groupInlineChars = 5120
    static let roleInlineChars = 10240
    static let managedPolicyChars = 6144
    static let trustPolicyChars = 2048
    static let maxSessionDuration = 3600...43200

    /// The parser's own bound: above every IAM quota, so the quotas above decide.
    static let parseLimits = PolicyLimits(maxDocumentBytes: 131_072)

    /// IAM counts policy size without whitespace.
    static func size(_ document: String) -> Int {
        document.unicodeScalars.reduce(0) { $0 + ($1.properties.isWhitespace ? 0 : 1) }
    }

    /// An identity-based policy (inline or managed) as IAM validates it.
    static func checkIdentityPolicy(_ document: String) throws(QueryError) {
        do {
            _ = try CompiledPolicy(document, kind: .identityBased, limits: parseLimits)
        } catch {
            throw QueryError("MalformedPolicyDocument", iamWording(error.message), model: .iam)
        }
    }

    /// The policy engine words its errors as KMS does; IAM's API says some differently.
    static func iamWording(_ message: String) -> String {
        switch message {
        case "Policy document should not specify a principal.": "Has prohibited field Principal"
        case "Policy contains a statement with no principal.": "Missing required field Principal"
        case "Policy contains a statement with no Action.": "Missing required field Action"
        case "Policy contains a statement with an invalid or missing Effect.": "Missing required field Effect"
        case "Policy contains a statement with no Resource.": "Policy statement must contain resources."
        case "The policy document contains an invalid Version.": "The policy failed legacy parsing"
        default: message
        }
    }

    /// A role's trust policy: a resource-based policy (Principal required).
    static func checkTrustPolicy(_ document: String) throws(QueryError) {
        if size(document) > trustPolicyChars {
            throw QueryError("LimitExceeded", "Cannot exceed quota for ACLSizePerRole: \(trustPolicyChars)", model: .iam)
        }
        _ = try compileTrustPolicy(document)
    }

    /// Compiles a trust policy for evaluation (STS's AssumeRole* evaluate it with the role's
    /// ARN as the resource). A trust policy names no Resource (IAM refuses one: "Has
    /// prohibited field Resource"); the engine's resource-based form wants one, so each
    /// statement gets `"Resource": "*"` before compiling.
    static func compileTrustPolicy(_ document: String, name: String = "trust policy") throws(QueryError) -> CompiledPolicy {
        guard let parsed = try? JSONParser.parse(document), case .object(var root) = parsed else {
            throw QueryError("MalformedPolicyDocument", "Syntax errors in policy.", model: .iam)
        }
        func withResource(_ statement: JSONValue) throws(QueryError) -> JSONValue {
            guard case .object(var o) = statement else { return statement }
            if o["Resource"] != nil || o["NotResource"] != nil {
                throw QueryError("MalformedPolicyDocument", "Has prohibited field Resource", model: .iam)
            }
            o["Resource"] = .string("*")
            return .object(o)
        }
        switch root["Statement"] {
        case .array(let list)?:
            var out: [JSONValue] = []
            for st in list { out.append(try withResource(st)) }
            root["Statement"] = .array(out)
        case let st?:
            root["Statement"] = try withResource(st)
        case nil:
            break
        }
        do {
            return try CompiledPolicy(JSONWriter.string(.object(root)), kind: .resourceBased, name: name, limits: parseLimits)
        } catch {
            throw QueryError("MalformedPolicyDocument", iamWording(error.message), model: .iam)
        }
    }
}

/// IAM's unique IDs and ARNs, formed as AWS forms them.
enum IAMNames {
    /// AWS's unique IDs: a 4-letter type prefix and 17 characters of [A-Z2-7] (21 in all).
    static func uniqueId(_ prefix: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return prefix + String(SystemRandom.bytes(17).map { alphabet[Int($0 & 31)] })
    }

    static func arn(_ account: String, _ type: String, path: String, name: String) -> String {
        "arn:aws:iam::\(account):\(type)\(path)\(name)"
    }

    static func tags(_ value: JSONValue?) -> [IAMTag] {
        (value?.arrayValue ?? []).compactMap { t in
            guard let o = t.objectValue, let k = o["Key"]?.stringValue else { return nil }
            return IAMTag(key: k, value: o["Value"]?.stringValue ?? "")
        }
    }

    static func json(_ tags: [IAMTag]) -> JSONValue {
        .array(tags.map { .object(JSONObject([("Key", .string($0.key)), ("Value", .string($0.value))])) })
    }

    /// Adds or replaces tags by key (keys compare case-insensitively in IAM), within the quota.
    static func merge(_ tags: [IAMTag], into existing: inout [IAMTag]) throws(QueryError) {
        var seen = Set<String>()
        for t in tags where !seen.insert(t.key.lowercased()).inserted {
            throw QueryError("InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.", model: .iam)
        }
        for t in tags {
            if let i = existing.firstIndex(where: { $0.key.lowercased() == t.key.lowercased() }) {
                existing[i] = t
            } else {
                existing.append(t)
            }
        }
        if existing.count > IAMQuotas.tagsPerEntity {
            throw QueryError("LimitExceeded", "Cannot exceed quota for TagsPerEntity: \(IAMQuotas.tagsPerEntity)", model: .iam)
        }
    }
}
