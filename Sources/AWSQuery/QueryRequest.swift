import KMSCore

/// A decoded query-protocol request: the action, and its parameters rebuilt into a value
/// tree by the operation's input shape (lists from `Name.member.N`, maps from
/// `Name.entry.N.key/value`, nested structures from `Name.Member`), validated against
/// botocore's constraints. Handlers read `parameters` like a KMS handler reads its JSON.
public struct QueryRequest: Sendable {
    public let action: String
    public let operation: QueryServiceModel.ResolvedOperation
    public let parameters: JSONObject

    /// Decodes and validates a form body for `model`. Throws AWS's errors: MissingAction,
    /// InvalidAction, ValidationError ("1 validation error detected: ...").
    public static func decode(_ form: [String: String], model: QueryServiceModel) throws(QueryError) -> QueryRequest {
        guard let action = form["Action"], !action.isEmpty else { throw QueryError.missingAction }
        guard let operation = model.operations[action] else {
            throw QueryError.invalidAction(String(action.prefix(128)), version: form["Version"] ?? model.apiVersion)
        }
        if let version = form["Version"], version != model.apiVersion {
            throw QueryError.invalidAction(action, version: String(version.prefix(64)))
        }
        var problems: [String] = []
        var parameters = JSONObject()
        if let input = operation.input {
            parameters = try decodeStructure(form, prefix: "", shape: input, path: "", problems: &problems)
        }
        if !problems.isEmpty {
            let shown = problems.prefix(10).joined(separator: "; ")
            throw QueryError.validation("\(problems.count) validation error\(problems.count == 1 ? "" : "s") detected: \(shown)")
        }
        return QueryRequest(action: action, operation: operation, parameters: parameters)
    }

    static func label(_ path: String, _ name: String) -> String { path.isEmpty ? name : path + "." + name }

    /// Bounds lists and maps: a query list longer than this is refused, not walked.
    static let maxItems = 1000

    static func decodeStructure(_ form: [String: String], prefix: String, shape: ResolvedQueryShape, path: String,
                                problems: inout [String]) throws(QueryError) -> JSONObject {
        var out = JSONObject()
        for member in shape.members {
            let key = prefix + member.name
            let memberPath = label(path, member.wireLabel)
            guard let memberShape = member.shape else { continue }
            if let value = try decodeValue(form, key: key, shape: memberShape, path: memberPath, problems: &problems) {
                out[member.name] = value
            } else if member.required {
                problems.append("Value null at '\(memberPath)' failed to satisfy constraint: Member must not be null")
            }
        }
        return out
    }

    static func hasPrefix(_ form: [String: String], _ prefix: String) -> Bool {
        form.keys.contains { $0.hasPrefix(prefix) }
    }

    static func decodeValue(_ form: [String: String], key: String, shape: ResolvedQueryShape, path: String,
                            problems: inout [String]) throws(QueryError) -> JSONValue? {
        switch shape.model.kind {
        case .structure:
            guard hasPrefix(form, key + ".") else { return nil }
            return .object(try decodeStructure(form, prefix: key + ".", shape: shape, path: path, problems: &problems))
        case .list:
            // botocore sends an empty list as `Name=`.
            if let whole = form[key], whole.isEmpty, !hasPrefix(form, key + ".") { return checkList([], shape, path, &problems) }
            guard hasPrefix(form, key + ".member.") else { return nil }
            guard let memberShape = shape.member else { return nil }
            var items: [JSONValue] = []
            var i = 1
            while i <= maxItems + 1 {
                let itemKey = key + ".member.\(i)"
                guard form[itemKey] != nil || hasPrefix(form, itemKey + ".") else { break }
                guard i <= maxItems else { throw QueryError.validation("1 validation error detected: Value at '\(path)' failed to satisfy constraint: Member must have length less than or equal to \(maxItems)") }
                if let v = try decodeValue(form, key: itemKey, shape: memberShape, path: "\(path).\(i).member", problems: &problems) {
                    items.append(v)
                }
                i += 1
            }
            return checkList(items, shape, path, &problems)
        case .map:
            guard hasPrefix(form, key + ".entry."), let keyShape = shape.key, let valueShape = shape.value else { return nil }
            var object = JSONObject()
            var i = 1
            while i <= maxItems, let k = form[key + ".entry.\(i).key"] {
                check(k, keyShape, "\(path).\(k).key", &problems)
                if let v = try decodeValue(form, key: key + ".entry.\(i).value", shape: valueShape, path: "\(path).\(k).value", problems: &problems) {
                    object[k] = v
                }
                i += 1
            }
            if let min = shape.model.min, object.count < min {
                problems.append("Value at '\(path)' failed to satisfy constraint: Member must have length greater than or equal to \(min)")
            }
            if let max = shape.model.max, object.count > max {
                problems.append("Value at '\(path)' failed to satisfy constraint: Member must have length less than or equal to \(max)")
            }
            return .object(object)
        case .string:
            guard let s = form[key] else { return nil }
            check(s, shape, path, &problems)
            return .string(s)
        case .blob:
            guard let s = form[key] else { return nil }
            return .string(s)  // base64 text; the handler decodes it
        case .integer:
            guard let s = form[key] else { return nil }
            guard let i = Int(s) else {
                throw QueryError("MalformedInput", "Invalid value for parameter \(path): \(String(s.prefix(64)))")
            }
            if let min = shape.model.min, i < min {
                problems.append("Value '\(i)' at '\(path)' failed to satisfy constraint: Member must have value greater than or equal to \(min)")
            }
            if let max = shape.model.max, i > max {
                problems.append("Value '\(i)' at '\(path)' failed to satisfy constraint: Member must have value less than or equal to \(max)")
            }
            return JSONValue(i)
        case .double:
            guard let s = form[key] else { return nil }
            guard let d = Double(s) else { throw QueryError("MalformedInput", "Invalid value for parameter \(path): \(String(s.prefix(64)))") }
            return JSONValue(d)
        case .boolean:
            guard let s = form[key] else { return nil }
            switch s.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: throw QueryError("MalformedInput", "Invalid value for parameter \(path): \(String(s.prefix(64)))")
            }
        case .timestamp:
            guard let s = form[key] else { return nil }
            return .string(s)
        }
    }

    static func checkList(_ items: [JSONValue], _ shape: ResolvedQueryShape, _ path: String, _ problems: inout [String]) -> JSONValue {
        if let min = shape.model.min, items.count < min {
            problems.append("Value '[\(items.compactMap(\.stringValue).joined(separator: ", "))]' at '\(path)' failed to satisfy constraint: Member must have length greater than or equal to \(min)")
        }
        if let max = shape.model.max, items.count > max {
            problems.append("Value at '\(path)' failed to satisfy constraint: Member must have length less than or equal to \(max)")
        }
        return .array(items)
    }

    static func check(_ s: String, _ shape: ResolvedQueryShape, _ path: String, _ problems: inout [String]) {
        let shown = shape.model.sensitive ? "Value" : "Value '\(s)'"
        let length = s.utf16.count  // Java String length, as AWS counts
        if let min = shape.model.min, length < min {
            problems.append("\(shown) at '\(path)' failed to satisfy constraint: Member must have length greater than or equal to \(min)")
        }
        if let max = shape.model.max, length > max {
            problems.append("\(shown) at '\(path)' failed to satisfy constraint: Member must have length less than or equal to \(max)")
        }
        if let values = shape.model.enumValues, !values.contains(s) {
            problems.append("\(shown) at '\(path)' failed to satisfy constraint: Member must satisfy enum value set: [\(values.joined(separator: ", "))]")
        }
        if let pattern = shape.model.pattern, !QueryPatterns.shared.matches(s, pattern: pattern) {
            problems.append("\(shown) at '\(path)' failed to satisfy constraint: Member must satisfy regular expression pattern: \(pattern)")
        }
    }
}
