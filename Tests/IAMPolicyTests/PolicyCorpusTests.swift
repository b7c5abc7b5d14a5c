import Foundation
import Testing
@testable import IAMPolicy

/// The table-driven corpus (Corpus/evaluation_cases.json, written by make_corpus.py): every
/// case carries its expected decision and the AWS documentation page that sets it.
@Suite struct PolicyCorpusTests {
    static func loadCorpus() throws -> [(key: String, value: PolicyJSON)] {
        guard let url = Bundle.module.url(forResource: "evaluation_cases", withExtension: "json", subdirectory: "Corpus") else {
            throw CorpusError("corpus file missing")
        }
        let text = try String(contentsOf: url, encoding: .utf8)
        // The corpus is read with the module's own parser, so numbers and booleans in
        // policies reach the compiler exactly as written.
        guard let root = try? PolicyJSON.parse(text), let members = root.objectEntries else { throw CorpusError("corpus is not JSON") }
        return members
    }

    @Test func evaluationCases() throws {
        let root = try Self.loadCorpus()
        guard case .array(let cases)? = root.first(where: { $0.key == "cases" })?.value else { throw CorpusError("no cases") }
        #expect(cases.count >= 300, "issue 10 asks for at least 300 evaluation cases")
        var failures: [String] = []
        var names = Set<String>()
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            #expect(names.insert(name).inserted, "duplicate case name \(name)")
            #expect(c["doc"]?.stringValue?.hasPrefix("https://docs.aws.amazon.com/") == true, "\(name): no AWS documentation page")
            do {
                let (evaluator, context) = try Self.build(c)
                let result = evaluator.evaluate(context)
                let expected = c["expect"]?.stringValue ?? ""
                if result.decision.rawValue != expected {
                    failures.append("\(name): expected \(expected), got \(result.decision.rawValue) (\(result.reason.rawValue))")
                    continue
                }
                if let reason = c["reason"]?.stringValue, reason != result.reason.rawValue {
                    failures.append("\(name): expected reason \(reason), got \(result.reason.rawValue)")
                }
                if case .array(let sids)? = c["matchedSids"] {
                    let want = sids.map { $0.stringValue }
                    let got = result.matchedStatements.map(\.sid)
                    if want != got { failures.append("\(name): expected matched Sids \(want), got \(got)") }
                }
                // Every denial has an AWS-worded message; an allow has none.
                let message = result.accessDeniedMessage(for: context)
                if (message == nil) != result.isAllowed { failures.append("\(name): message/decision mismatch") }
            } catch {
                failures.append("\(name): \(error)")
            }
        }
        for f in failures { Issue.record(Comment(rawValue: f)) }
        print("IAMPolicy corpus: \(cases.count) evaluation cases, \(failures.count) failures")
    }

    @Test func malformedDocuments() throws {
        let root = try Self.loadCorpus()
        guard case .array(let cases)? = root.first(where: { $0.key == "malformed" })?.value else { throw CorpusError("no malformed cases") }
        #expect(cases.count >= 20)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let kind: PolicyKind = c["kind"]?.stringValue == "identityBased" ? .identityBased : .resourceBased
            do {
                _ = try CompiledPolicy(c["policy"]?.stringValue ?? "", kind: kind)
                Issue.record("\(name): accepted a malformed policy")
            } catch {
                #expect(error.message == c["message"]?.stringValue, "\(name)")
            }
        }
        print("IAMPolicy corpus: \(cases.count) malformed documents")
    }

    // MARK: - building a case

    static func build(_ c: PolicyJSON) throws -> (PolicyEvaluator, AuthorizationContext) {
        var keyPolicy: CompiledPolicy? = nil
        if let kp = c["keyPolicy"] { keyPolicy = try CompiledPolicy(write(kp), kind: .resourceBased, name: "key policy") }
        var identity: [CompiledPolicy] = []
        if case .array(let list)? = c["identityPolicies"] {
            for (i, p) in list.enumerated() { identity.append(try CompiledPolicy(write(p), kind: .identityBased, name: "identity-\(i)")) }
        }
        var session: [CompiledPolicy]? = nil
        if case .array(let list)? = c["sessionPolicies"] {
            session = try list.map { try CompiledPolicy(write($0), kind: .identityBased, name: "session") }
        }
        var grants: [GrantRule] = []
        if case .array(let list)? = c["grants"] {
            for g in list {
                var constraint: GrantRule.Constraint? = nil
                if let k = g["constraint"] {
                    let ctx = stringMap(k["context"])
                    constraint = k["type"]?.stringValue == "EncryptionContextEquals" ? .encryptionContextEquals(ctx) : .encryptionContextSubset(ctx)
                }
                let ops = Set((g["operations"]?.arrayValue ?? []).compactMap(\.stringValue))
                grants.append(GrantRule(grantId: g["grantId"]?.stringValue ?? "", granteePrincipal: g["grantee"]?.stringValue ?? "",
                                        operations: ops, constraint: constraint))
            }
        }
        guard let p = c["principal"] else { throw CorpusError("no principal") }
        let tags = stringMap(p["tags"])
        let principal: RequestPrincipal
        switch p["type"]?.stringValue {
        case "user": principal = .user(p["arn"]?.stringValue ?? "", userId: p["userId"]?.stringValue, tags: tags)
        case "root": principal = .root(p["account"]?.stringValue ?? "")
        case "assumedRole":
            principal = .assumedRole(roleArn: p["roleArn"]?.stringValue ?? "", session: p["session"]?.stringValue ?? "",
                                     roleId: p["roleId"]?.stringValue, tags: tags)
        case "service": principal = .service(p["name"]?.stringValue ?? "")
        default: throw CorpusError("unknown principal type")
        }
        var conditions: [String: [String]] = [:]
        for (k, v) in c["context"]?.objectEntries ?? [] { conditions[k] = (v.arrayValue ?? []).compactMap(\.stringValue) }
        let context = AuthorizationContext(principal: principal, action: c["action"]?.stringValue ?? "",
                                           resource: c["resource"]?.stringValue ?? "",
                                           encryptionContext: stringMap(c["encryptionContext"]), conditions: conditions)
        return (PolicyEvaluator(resourcePolicy: keyPolicy, identityPolicies: identity, sessionPolicies: session, grants: grants), context)
    }

    static func stringMap(_ v: PolicyJSON?) -> [String: String] {
        var out: [String: String] = [:]
        for (k, x) in v?.objectEntries ?? [] { out[k] = x.stringValue }
        return out
    }

    /// Serialises a corpus policy back to the text a client would send.
    static func write(_ v: PolicyJSON) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return quote(s)
        case .array(let a): return "[" + a.map(write).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.map { quote($0.key) + ":" + write($0.value) }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

struct CorpusError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

extension PolicyJSON {
    subscript(_ key: String) -> PolicyJSON? { objectEntries?.first(where: { $0.key == key })?.value }
    var arrayValue: [PolicyJSON]? { if case .array(let a) = self { return a } else { return nil } }
}
