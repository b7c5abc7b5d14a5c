import Foundation
import KMSCore

/// A botocore shape of a query-protocol service, reduced to what decoding, validation and
/// XML encoding need. The tables are generated (scripts/gen_query_model.py).
public struct QueryShape: Sendable {
    public enum Kind: Sendable { case string, blob, integer, double, boolean, timestamp, structure, list, map }
    public struct Member: Sendable {
        public let name: String
        public let shape: String
        public let required: Bool
        init(_ name: String, _ shape: String, required: Bool) {
            self.name = name
            self.shape = shape
            self.required = required
        }
    }

    public let kind: Kind
    public let min: Int?
    public let max: Int?
    public let enumValues: [String]?
    public let pattern: String?
    public let sensitive: Bool
    public let members: [Member]
    public let member: String?
    public let key: String?
    public let value: String?

    init(_ kind: Kind, min: Int? = nil, max: Int? = nil, enumValues: [String]? = nil, pattern: String? = nil,
         sensitive: Bool = false, members: [Member] = [], member: String? = nil, key: String? = nil, value: String? = nil) {
        self.kind = kind
        self.min = min
        self.max = max
        self.enumValues = enumValues
        self.pattern = pattern
        self.sensitive = sensitive
        self.members = members
        self.member = member
        self.key = key
        self.value = value
    }
}

public struct QueryOperationModel: Sendable {
    public let input: String?
    public let output: String?
    /// The `<XResult>` element botocore looks for inside `<XResponse>`.
    public let resultWrapper: String?
}

public struct QueryErrorModel: Sendable {
    public let httpStatus: Int
    public let senderFault: Bool
}

/// A shape with its member shapes linked in, resolved once per model so decoding walks
/// references instead of looking names up per member.
public final class ResolvedQueryShape: Sendable {
    public struct Member: Sendable {
        public let name: String
        /// AWS names members in validation messages with a lower-case first letter.
        public let wireLabel: String
        public let required: Bool
        public let shape: ResolvedQueryShape?
    }

    public let name: String
    public let model: QueryShape
    public let members: [Member]
    public let member: ResolvedQueryShape?
    public let key: ResolvedQueryShape?
    public let value: ResolvedQueryShape?

    init(name: String, _ shape: QueryShape, resolve: (String) -> ResolvedQueryShape?) {
        self.name = name
        model = shape
        members = shape.members.map {
            Member(name: $0.name, wireLabel: $0.name.prefix(1).lowercased() + $0.name.dropFirst(),
                   required: $0.required, shape: resolve($0.shape))
        }
        member = shape.member.flatMap(resolve)
        key = shape.key.flatMap(resolve)
        value = shape.value.flatMap(resolve)
    }
}

/// One query-protocol service's model: shapes resolved once, operations, modeled errors.
public final class QueryServiceModel: Sendable {
    public let signingName: String
    public let apiVersion: String
    public let xmlNamespace: String
    /// CloudTrail's eventSource for calls to this service (iam.amazonaws.com, sts.amazonaws.com).
    public let eventSource: String
    public let operations: [String: ResolvedOperation]
    public let errors: [String: QueryErrorModel]

    public struct ResolvedOperation: Sendable {
        public let name: String
        public let input: ResolvedQueryShape?
        public let output: ResolvedQueryShape?
        public let resultWrapper: String?
    }

    init(signingName: String, apiVersion: String, xmlNamespace: String, eventSource: String,
         shapes: [String: QueryShape], operations: [String: QueryOperationModel], errors: [String: QueryErrorModel]) {
        self.signingName = signingName
        self.apiVersion = apiVersion
        self.xmlNamespace = xmlNamespace
        self.eventSource = eventSource
        self.errors = errors
        var done: [String: ResolvedQueryShape] = [:]
        // Query models have no recursive shapes; a cycle would stop at the depth bound.
        func resolve(_ name: String, depth: Int) -> ResolvedQueryShape? {
            if let hit = done[name] { return hit }
            guard depth < 16, let shape = shapes[name] else { return nil }
            let resolved = ResolvedQueryShape(name: name, shape) { resolve($0, depth: depth + 1) }
            done[name] = resolved
            return resolved
        }
        var ops: [String: ResolvedOperation] = [:]
        for (name, op) in operations {
            ops[name] = ResolvedOperation(name: name, input: op.input.flatMap { resolve($0, depth: 0) },
                                          output: op.output.flatMap { resolve($0, depth: 0) }, resultWrapper: op.resultWrapper)
        }
        self.operations = ops
    }
}

/// Compiled model patterns, shared by all threads (NSRegularExpression matching is thread-safe).
final class QueryPatterns: @unchecked Sendable {
    static let shared = QueryPatterns()
    private let lock = NSLock()
    private var compiled: [String: NSRegularExpression] = [:]

    func matches(_ value: String, pattern: String) -> Bool {
        lock.lock()
        var regex = compiled[pattern]
        if regex == nil {
            // Java regexes, matched whole-string as Java's matches() does.
            regex = try? NSRegularExpression(pattern: "^(?:" + pattern + ")$")
            compiled[pattern] = regex
        }
        lock.unlock()
        guard let regex else { return true }
        let range = NSRange(value.startIndex..<value.endIndex, in: value)
        return regex.firstMatch(in: value, options: [], range: range) != nil
    }
}
