import Foundation

/// The condition operators of the IAM User Guide's "IAM JSON policy elements: Condition
/// operators", without their IfExists suffix or set-operator prefix.
enum ConditionOperator: String, Sendable, CaseIterable {
    case stringEquals = "StringEquals", stringNotEquals = "StringNotEquals"
    case stringEqualsIgnoreCase = "StringEqualsIgnoreCase", stringNotEqualsIgnoreCase = "StringNotEqualsIgnoreCase"
    case stringLike = "StringLike", stringNotLike = "StringNotLike"
    case numericEquals = "NumericEquals", numericNotEquals = "NumericNotEquals"
    case numericLessThan = "NumericLessThan", numericLessThanEquals = "NumericLessThanEquals"
    case numericGreaterThan = "NumericGreaterThan", numericGreaterThanEquals = "NumericGreaterThanEquals"
    case dateEquals = "DateEquals", dateNotEquals = "DateNotEquals"
    case dateLessThan = "DateLessThan", dateLessThanEquals = "DateLessThanEquals"
    case dateGreaterThan = "DateGreaterThan", dateGreaterThanEquals = "DateGreaterThanEquals"
    case bool = "Bool", binaryEquals = "BinaryEquals"
    case ipAddress = "IpAddress", notIpAddress = "NotIpAddress"
    case arnEquals = "ArnEquals", arnLike = "ArnLike", arnNotEquals = "ArnNotEquals", arnNotLike = "ArnNotLike"
    case null = "Null"

    /// Negated operators are true when the key is absent, and true when no policy value matches.
    var isNegated: Bool {
        switch self {
        case .stringNotEquals, .stringNotEqualsIgnoreCase, .stringNotLike, .numericNotEquals, .dateNotEquals,
             .notIpAddress, .arnNotEquals, .arnNotLike: return true
        default: return false
        }
    }

    /// Where AWS substitutes policy variables: the string and ARN operators.
    var allowsVariables: Bool {
        switch self {
        case .stringEquals, .stringNotEquals, .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase,
             .stringLike, .stringNotLike, .arnEquals, .arnLike, .arnNotEquals, .arnNotLike: return true
        default: return false
        }
    }
}

enum SetQualifier: Sendable { case none, forAnyValue, forAllValues }

/// Whether a condition reads the request time (decided once, from its key name), so that
/// Date and Numeric operators compare `AuthorizationContext.requestTime` as a number instead
/// of formatting it and parsing it back on every request.
enum RequestTimeKey: Sendable {
    case none, currentTime, epochTime

    init(_ lowercasedKey: String) {
        switch lowercasedKey {
        case "aws:currenttime": self = .currentTime
        case "aws:epochtime": self = .epochTime
        default: self = .none
        }
    }
}

/// One policy value, in the form its operator compares.
enum ConditionValue: Sendable, Equatable {
    case text(PolicyTemplate)
    case arn(ARNPattern)
    case number(Double)
    case date(Double)
    case bool(Bool)
    case binary([UInt8])
    case cidr(CIDRBlock)
}

/// One operator applied to one key: `values` are ORed; a statement ANDs its conditions.
final class CompiledCondition: Sendable {
    let op: ConditionOperator
    let qualifier: SetQualifier
    let ifExists: Bool
    let key: String  // lowercased
    let values: [ConditionValue]
    let timeKey: RequestTimeKey
    let source: ConditionKeySource

    init(op: ConditionOperator, qualifier: SetQualifier, ifExists: Bool, key: String, values: [ConditionValue]) {
        self.op = op
        self.qualifier = qualifier
        self.ifExists = ifExists
        self.key = key
        self.values = values
        self.timeKey = RequestTimeKey(key)
        self.source = ConditionKeySource(key)
    }

    static func parseOperatorName(_ raw: String) -> (ConditionOperator, SetQualifier, Bool)? {
        var name = Substring(raw)
        var q = SetQualifier.none
        if name.hasPrefix("ForAnyValue:") { q = .forAnyValue; name = name.dropFirst("ForAnyValue:".count) }
        else if name.hasPrefix("ForAllValues:") { q = .forAllValues; name = name.dropFirst("ForAllValues:".count) }
        var ifExists = false
        if name.hasSuffix("IfExists") { ifExists = true; name = name.dropLast("IfExists".count) }
        guard let op = ConditionOperator(rawValue: String(name)) else { return nil }
        if op == .null, ifExists { return nil }  // NullIfExists does not exist
        return (op, q, ifExists)
    }

    static func compileValue(_ text: String, op: ConditionOperator, variables: Bool, key: String) throws(PolicyError) -> ConditionValue {
        func bad() -> PolicyError { PolicyError("Invalid Condition value for key \(key) with operator \(op.rawValue): \(text)") }
        switch op {
        case .stringEquals, .stringNotEquals:
            return .text(try PolicyTemplate(text, wildcards: false, lowercase: false, variables: variables))
        case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase:
            return .text(try PolicyTemplate(text, wildcards: false, lowercase: true, variables: variables))
        case .stringLike, .stringNotLike:
            return .text(try PolicyTemplate(text, wildcards: true, lowercase: false, variables: variables))
        case .arnEquals, .arnLike, .arnNotEquals, .arnNotLike:
            // ArnEquals and ArnLike both take * and ? in each of the six fields.
            return .arn(ARNPattern(try PolicyTemplate(text, wildcards: true, lowercase: false, variables: variables)))
        case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan, .numericGreaterThanEquals:
            guard let n = PolicyNumber.parse(text) else { throw bad() }
            return .number(n)
        case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals:
            guard let d = PolicyDate.parse(text) else { throw bad() }
            return .date(d)
        case .bool, .null:
            switch text.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: throw bad()
            }
        case .binaryEquals:
            guard let data = Data(base64Encoded: text) else { throw bad() }
            return .binary([UInt8](data))
        case .ipAddress, .notIpAddress:
            guard let c = CIDRBlock(text) else { throw bad() }
            return .cidr(c)
        }
    }

    func evaluate(_ context: AuthorizationContext) -> Bool {
        if timeKey != .none, let t = context.timeNumber(timeKey), let positive = numericTime(t) {
            // One value, present: with or without a set qualifier, the result is the
            // operator's positive form, negated for a negated operator.
            return op.isNegated ? !positive : positive
        }
        let present = context.values(forKey: key, source: source)
        if op == .null {
            let absent = present?.isEmpty ?? true
            return values.contains { $0 == .bool(absent) }
        }
        guard let present, !present.isEmpty else {
            if ifExists { return true }
            switch qualifier {
            case .forAllValues: return true   // vacuously: every one of no values matches
            case .forAnyValue: return false
            case .none: return op.isNegated
            }
        }
        switch qualifier {
        case .none:
            let anyPositive = present.contains { positive($0, context) }
            return op.isNegated ? !anyPositive : anyPositive
        case .forAnyValue:
            return present.contains { op.isNegated ? !positive($0, context) : positive($0, context) }
        case .forAllValues:
            return present.allSatisfy { op.isNegated ? !positive($0, context) : positive($0, context) }
        }
    }

    /// `positive` for the request time as a number, as the text form would parse: nil for an
    /// operator that reads text. aws:CurrentTime's text is not a number, so Numeric operators
    /// never match it; aws:EpochTime's digits are both a date and a number.
    private func numericTime(_ t: Double) -> Bool? {
        switch op {
        case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals:
            return values.contains { if case .date(let n) = $0 { return compare(t, n) } else { return false } }
        case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan, .numericGreaterThanEquals:
            guard timeKey == .epochTime else { return false }
            return values.contains { if case .number(let n) = $0 { return compare(t, n) } else { return false } }
        default:
            return nil
        }
    }

    /// Does one request value match one of the policy values under the operator's positive form?
    private func positive(_ v: String, _ context: AuthorizationContext) -> Bool {
        switch op {
        case .stringEquals, .stringNotEquals, .stringLike, .stringNotLike:
            return anyText(matches: v, context)
        case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase:
            return anyText(matches: v.lowercased(), context)
        case .arnEquals, .arnLike, .arnNotEquals, .arnNotLike:
            return values.contains { if case .arn(let a) = $0 { return a.matches(v, context) } else { return false } }
        case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan, .numericGreaterThanEquals:
            guard let x = PolicyNumber.parse(v) else { return false }
            return values.contains { if case .number(let n) = $0 { return compare(x, n) } else { return false } }
        case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals:
            guard let x = PolicyDate.parse(v) else { return false }
            return values.contains { if case .date(let n) = $0 { return compare(x, n) } else { return false } }
        case .bool:
            let lower = v.lowercased()
            guard lower == "true" || lower == "false" else { return false }
            return values.contains { $0 == .bool(lower == "true") }
        case .binaryEquals:
            guard let data = Data(base64Encoded: v) else { return false }
            let bytes = [UInt8](data)
            return values.contains { $0 == .binary(bytes) }
        case .ipAddress, .notIpAddress:
            // The request's address is parsed once, then tested against each block; an IPv4
            // address (the usual case) without allocating.
            if let v4 = CIDRBlock.parseIPv4Value(v) {
                return values.contains { if case .cidr(let c) = $0 { return c.contains(ipv4: v4) } else { return false } }
            }
            let addrText = v.split(separator: "/", maxSplits: 1).first.map(String.init) ?? v
            guard let a = CIDRBlock.parseAddress(addrText) else { return false }
            return values.contains { if case .cidr(let c) = $0 { return c.contains(address: a) } else { return false } }
        case .null:
            return false
        }
    }

    /// Does `v` match one of the text values? Walked in place (the values are not copied out).
    private func anyText(matches v: String, _ context: AuthorizationContext) -> Bool {
        var v = v
        return v.withUTF8 { bytes in
            values.withUnsafeBufferPointer { list -> Bool in
                for i in 0..<list.count {
                    guard case .text(let t) = list[i] else { continue }
                    if t.matches(buffer: bytes, context) { return true }
                }
                return false
            }
        }
    }

    /// request value `x` against policy value `n`: "NumericLessThan" means x < n.
    private func compare(_ x: Double, _ n: Double) -> Bool {
        switch op {
        case .numericEquals, .numericNotEquals, .dateEquals, .dateNotEquals: return x == n
        case .numericLessThan, .dateLessThan: return x < n
        case .numericLessThanEquals, .dateLessThanEquals: return x <= n
        case .numericGreaterThan, .dateGreaterThan: return x > n
        case .numericGreaterThanEquals, .dateGreaterThanEquals: return x >= n
        default: return false
        }
    }
}

/// ARN matching as the Resource element and the Arn* operators do it: each of the six
/// colon-separated fields separately, so a `*` never spans a colon. A pattern without
/// variables is split into its six field patterns once, at compile time.
struct ARNPattern: Sendable, Equatable {
    let template: PolicyTemplate
    let fields: [Wildcard]?
    /// "*" (the usual Resource): matches without looking at the value.
    let matchesAnything: Bool

    init(_ template: PolicyTemplate) {
        self.template = template
        if let c = template.constant, c.kind != .anything { fields = ARNPattern.split(c) } else { fields = nil }
        matchesAnything = template.constant?.kind == .anything
    }

    func matches(_ arn: String, _ context: AuthorizationContext) -> Bool {
        if matchesAnything { return true }
        let f: [Wildcard]
        if let fields {
            f = fields
        } else {
            guard let w = template.resolve(context) else { return false }
            if case .anything = w.kind { return true }
            // Not six fields ("arn:aws:kms:*"): the pattern applies to the whole string.
            guard let s = ARNPattern.split(w) else { return w.matches(arn) }
            f = s
        }
        // Split the value in place (no allocation): fields end at the first five colons.
        var text = arn
        return text.withUTF8 { buf -> Bool in
            var start = 0, field = 0
            for i in 0..<buf.count where buf[i] == UInt8(ascii: ":") && field < 5 {
                guard f[field].matches(buffer: UnsafeBufferPointer(rebasing: buf[start..<i])) else { return false }
                field += 1
                start = i + 1
            }
            return field == 5 && f[5].matches(buffer: UnsafeBufferPointer(rebasing: buf[start...]))
        }
    }

    static func split(_ pattern: Wildcard) -> [Wildcard]? {
        let colon = UInt16(UInt8(ascii: ":"))
        var fields: [Wildcard] = []
        var start = 0
        for (i, u) in pattern.units.enumerated() where u == colon && fields.count < 5 {
            fields.append(Wildcard(units: Array(pattern.units[start..<i])))
            start = i + 1
        }
        fields.append(Wildcard(units: Array(pattern.units[start...])))
        return fields.count == 6 ? fields : nil
    }
}
