import Foundation
import Testing
@testable import IAMPolicy

/// The request path's shortcuts must not change a decision: evaluating without collecting
/// MatchedStatements, computing only the keys of statements that admit the action, and
/// comparing the request time as a number instead of its text.
@Suite struct FastPathEquivalenceTests {
    /// Every corpus case: the same decision and reason with `reportMatches: false`, and with
    /// the context cut down to the keys `conditionKeys(forAction:)` names (what KMS computes).
    @Test func corpusDecisionsAreUnchanged() throws {
        let root = try PolicyCorpusTests.loadCorpus()
        guard case .array(let cases)? = root.first(where: { $0.key == "cases" })?.value else { throw CorpusError("no cases") }
        var checked = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            guard let (evaluator, context) = try? PolicyCorpusTests.build(c) else { continue }
            let full = evaluator.evaluate(context)
            let lean = evaluator.evaluate(context, reportMatches: false)
            #expect(lean.decision == full.decision && lean.reason == full.reason && lean.grantId == full.grantId, "\(name)")
            #expect(lean.matchedStatements.isEmpty, "\(name)")

            // Only the keys read by statements that admit the action.
            let action = c["action"]?.stringValue ?? ""
            var reached = Set<String>()
            for p in [evaluator.resourcePolicy].compactMap({ $0 }) + evaluator.identityPolicies + (evaluator.sessionPolicies ?? []) {
                let keys = p.conditionKeys(forAction: action)
                #expect(keys.isSubset(of: p.conditionKeys), "\(name)")
                reached.formUnion(keys)
            }
            var conditions: [String: [String]] = [:]
            for (k, v) in c["context"]?.objectEntries ?? [] where reached.contains(k.lowercased()) {
                conditions[k] = (v.arrayValue ?? []).compactMap(\.stringValue)
            }
            let cut = AuthorizationContext(principal: context.principal, action: context.action, resource: context.resource,
                                           encryptionContext: context.encryptionContext, conditions: conditions)
            let narrowed = evaluator.evaluate(cut, reportMatches: false)
            #expect(narrowed.decision == full.decision && narrowed.reason == full.reason, "\(name): keys of statements that do not admit \(action) changed the decision")
            checked += 1
        }
        #expect(checked >= 300)
    }

    /// aws:CurrentTime and aws:EpochTime as `requestTime` decide exactly as their text does,
    /// for every operator that can read them, with and without IfExists and set qualifiers.
    @Test func requestTimeAsNumberMatchesText() throws {
        let operators = ["DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
                         "DateGreaterThanEquals", "NumericEquals", "NumericNotEquals", "NumericLessThan",
                         "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
                         "StringEquals", "StringLike", "StringNotEquals", "Null", "Bool"]
        let times: [Double] = [1_700_000_000, 1_700_000_000.75, 946_684_799.5, 4_102_444_800]
        let principal = RequestPrincipal.root("111122223333")
        var compared = 0
        for key in ["aws:CurrentTime", "aws:EpochTime"] {
            for base in operators {
                for prefix in ["", "ForAnyValue:", "ForAllValues:"] {
                    for suffix in base == "Null" ? [""] : ["", "IfExists"] {
                        let op = prefix + base + suffix
                        for t in times {
                            let text = PolicyDate.iso8601(t)
                            let epoch = String(Int64(t))
                            let values: [String]
                            switch base {
                            case "Null", "Bool": values = ["true", "false"]
                            case _ where base.hasPrefix("String"): values = [text, epoch, "2023-*"]
                            default: values = [text, epoch, "1700000000", "2023-11-14T22:13:20Z", "2000-01-01"]
                            }
                            for v in values {
                                let doc = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"\#(op)":{"\#(key)":"\#(v)"}}}]}"#
                                guard let policy = try? CompiledPolicy(doc, kind: .identityBased) else { continue }
                                let evaluator = PolicyEvaluator(resourcePolicy: nil, identityPolicies: [policy])
                                let asText = AuthorizationContext(principal: principal, action: "kms:Encrypt", resource: "*",
                                                                  conditions: ["aws:currenttime": [text], "aws:epochtime": [epoch]])
                                var asNumber = AuthorizationContext(principal: principal, action: "kms:Encrypt", resource: "*")
                                asNumber.requestTime = t
                                let a = evaluator.evaluate(asText), b = evaluator.evaluate(asNumber)
                                #expect(a.decision == b.decision && a.reason == b.reason, "\(op) \(key) \(v) at \(t)")
                                compared += 1
                            }
                        }
                    }
                }
            }
        }
        #expect(compared > 500)
    }

    /// The text form of the request time, for the operators that read text.
    @Test func requestTimeTextForm() {
        var c = AuthorizationContext(principal: .root("111122223333"), action: "kms:Encrypt", resource: "*")
        #expect(c.values(forKey: "aws:currenttime") == nil)
        c.requestTime = 1_700_000_000.9
        #expect(c.values(forKey: "aws:currenttime") == ["2023-11-14T22:13:20Z"])
        #expect(c.values(forKey: "aws:epochtime") == ["1700000000"])
    }

    /// The request path's list form of the condition values (and its dictionary form past
    /// `listLimit` keys) decides every corpus case as the dictionary form does.
    @Test func conditionListDecidesAsTheMap() throws {
        let root = try PolicyCorpusTests.loadCorpus()
        guard case .array(let cases)? = root.first(where: { $0.key == "cases" })?.value else { throw CorpusError("no cases") }
        var checked = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            guard let (evaluator, context) = try? PolicyCorpusTests.build(c) else { continue }
            let full = evaluator.evaluate(context, reportMatches: false)
            var entries: [ConditionEntry] = []
            for (k, v) in c["context"]?.objectEntries ?? [] {
                // As PolicyCorpusTests.build reads them (a later spelling of the same key wins).
                let key = k.lowercased()
                entries.removeAll { $0.key == key }
                entries.append(ConditionEntry(key: key, values: (v.arrayValue ?? []).compactMap(\.stringValue)))
            }
            for padding in [0, AuthorizationContext.listLimit + 1] {
                var list = entries
                for i in 0..<padding { list.append(ConditionEntry(key: "test:padding\(i)", values: ["x"])) }
                let lean = AuthorizationContext(principal: context.principal, action: context.action, resource: context.resource,
                                                resourceAccount: context.resourceAccount,
                                                encryptionContext: context.encryptionContext, conditionList: list)
                let r = evaluator.evaluate(lean, reportMatches: false)
                #expect(r.decision == full.decision && r.reason == full.reason && r.grantId == full.grantId, "\(name) (padding \(padding))")
            }
            checked += 1
        }
        #expect(checked >= 300)
    }

    /// The allocation-free IPv4 parse agrees with inet_pton (through `contains(_:)`'s split)
    /// wherever it answers, and the numeric block test with the byte-wise one.
    @Test func ipv4FastPathMatchesInetPton() {
        var samples = ["127.0.0.1", "0.0.0.0", "255.255.255.255", "256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.02.3.4",
                       "1.2.3.04", "1.2.3.0", "10.0.0.1/8", "/10.0.0.1", "//10.0.0.1/8/9", "/", "", "1..2.3", ".1.2.3",
                       "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4\u{0}", "::1", "::ffff:1.2.3.4", "1.2.3.a", "1.2.3.-4",
                       "999.1.1.1", "1.2.3.255", "1.2.3.256", "0.0.0.00", "192.168.001.1", "1.2.3.4/", "١.2.3.4"]
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789./:a0122559")
        for _ in 0..<20_000 {
            let n = Int.random(in: 0...18, using: &rng)
            samples.append(String((0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }))
        }
        // Dotted quads, some out of range or with a leading zero, some with a prefix length.
        for _ in 0..<5_000 {
            let octets = (0..<4).map { _ in Int.random(in: 0...9, using: &rng) == 0 ? "0\(Int.random(in: 0...9, using: &rng))" : "\(Int.random(in: 0...300, using: &rng))" }
            samples.append(octets.joined(separator: ".") + (Bool.random(using: &rng) ? "/\(Int.random(in: 0...32, using: &rng))" : ""))
        }
        let blocks = ["127.0.0.0/8", "10.1.0.0/16", "0.0.0.0/0", "192.0.2.7", "1.2.3.0/24", "::1/128", "255.255.255.254/31"].compactMap(CIDRBlock.init)
        var answered = 0
        for s in samples {
            let addrText = s.split(separator: "/", maxSplits: 1).first.map(String.init) ?? s
            let slow = CIDRBlock.parseAddress(addrText)
            guard let fast = CIDRBlock.parseIPv4Value(s) else { continue }
            answered += 1
            #expect(slow?.count == 4, "\(s.debugDescription): fast parsed, inet_pton did not")
            guard let slow, slow.count == 4 else { continue }
            #expect(CIDRBlock.ipv4Value(slow) == fast, "\(s.debugDescription)")
            for b in blocks { #expect(b.contains(ipv4: fast) == b.contains(address: slow), "\(s) in \(b)") }
        }
        #expect(answered > 100)
        // And it answers for the ordinary forms.
        for s in ["127.0.0.1", "10.0.0.1/8", "255.255.255.255", "0.0.0.0"] { #expect(CIDRBlock.parseIPv4Value(s) != nil, "\(s)") }
    }

    /// IpAddress parses the request's address once; the verdicts stay those of CIDRBlock.contains.
    @Test func addressParsedOnceMatchesPerBlock() {
        let blocks = ["127.0.0.0/8", "10.1.0.0/16", "::1/128", "2001:db8::/32", "0.0.0.0/0", "192.0.2.7"].compactMap(CIDRBlock.init)
        for ip in ["127.0.0.1", "10.1.200.3", "10.2.0.1", "::1", "2001:db8:1::5", "192.0.2.7", "192.0.2.8", "bogus"] {
            for b in blocks {
                let parsed = CIDRBlock.parseAddress(ip)
                #expect((parsed.map { b.contains(address: $0) } ?? false) == b.contains(ip), "\(ip) in \(b)")
            }
        }
    }
}
