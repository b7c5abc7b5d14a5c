import Foundation

/// Checks a request body against the operation's input shape in botocore's model and
/// produces AWS's errors: SerializationException for wrong JSON types or bad base64,
/// ValidationException ("1 validation error detected: ...") for constraint failures.
public enum RequestValidator {
    /// AWS reports at most this many constraint violations in one message.
    static let maxReported = 10

    public static func validate(operation: String, body: JSONValue) throws(KMSError) -> KMSRequest {
        guard let spec = OperationSpec.named(operation) else { throw KMSError.unknownOperation }
        return try validate(spec, body: body)
    }

    static func validate(_ spec: OperationSpec, body: JSONValue) throws(KMSError) -> KMSRequest {
        guard case .object(let object) = body else {
            throw KMSError(.serialization, "Start of structure or map found where not expected.")
        }
        guard let shape = spec.input else { return KMSRequest(operation: spec.name, object: object, blobs: []) }
        var problems: [String] = []
        var blobs: [(name: String, bytes: [UInt8])] = []
        try checkStructure(object, shape: shape, path: { "" }, problems: &problems, blobs: &blobs, recordBlobs: true)
        if !problems.isEmpty {
            let count = problems.count
            let shown = problems.prefix(maxReported).joined(separator: "; ")
            let noun = count == 1 ? "validation error" : "validation errors"
            throw KMSError(.validation, "\(count) \(noun) detected: \(shown)")
        }
        return KMSRequest(operation: spec.name, object: object, blobs: blobs)
    }

    static func label(_ path: String, _ name: String) -> String { path.isEmpty ? name : path + "." + name }

    /// `path` is built only when a problem is reported: member labels cost string work
    /// that valid requests, the common case, should not pay.
    /// With `recordBlobs`, top-level blob members are kept decoded in `blobs`, so the
    /// operation does not decode its plaintext or ciphertext a second time.
    static func checkStructure(_ object: JSONObject, shape: ResolvedShape, path: () -> String, problems: inout [String],
                               blobs: inout [(name: String, bytes: [UInt8])], recordBlobs: Bool) throws(KMSError) {
        for member in shape.members {
            let value = object[member.name]
            guard let value, value != .null else {
                if member.required { problems.append("Value null at '\(label(path(), member.wireLabel))' failed to satisfy constraint: Member must not be null") }
                continue
            }
            guard let memberShape = member.shape else { continue }
            let decoded = try check(value, shape: memberShape, path: { label(path(), member.wireLabel) }, problems: &problems)
            if recordBlobs, let decoded { blobs.append((member.name, decoded)) }
        }
    }

    static func describe(_ value: String, _ shape: ResolvedShape) -> String {
        shape.model.sensitive ? "Value" : "Value '\(value)'"
    }

    /// Returns the decoded bytes of a blob value, nil for other kinds.
    @discardableResult
    static func check(_ value: JSONValue, shape: ResolvedShape, path: () -> String, problems: inout [String]) throws(KMSError) -> [UInt8]? {
        switch shape.model.kind {
        case .string:
            guard case .string(let s) = value else { throw typeError(value, expected: "String") }
            let length = s.utf16.count  // Java String length, as AWS counts
            if let min = shape.model.min, length < min {
                problems.append("\(describe(s, shape)) at '\(path())' failed to satisfy constraint: Member must have length greater than or equal to \(min)")
            }
            if let max = shape.model.max, length > max {
                problems.append("\(describe(s, shape)) at '\(path())' failed to satisfy constraint: Member must have length less than or equal to \(max)")
            }
            if let values = shape.model.enumValues, !values.contains(s) {
                problems.append("\(describe(s, shape)) at '\(path())' failed to satisfy constraint: Member must satisfy enum value set: [\(values.joined(separator: ", "))]")
            }
            if let pattern = shape.model.pattern, !ModelPatterns.shared.matches(s, pattern: pattern) {
                problems.append("\(describe(s, shape)) at '\(path())' failed to satisfy constraint: Member must satisfy regular expression pattern: \(pattern)")
            }
        case .blob:
            guard case .string(let s) = value else { throw typeError(value, expected: "Blob") }
            guard let bytes = Base64.decode(s) else {
                throw KMSError(.serialization, "Base64 encoded value at '\(path())' is not valid.")
            }
            let label = "Value"  // Blob values are never echoed: they may be plaintext or key material.
            if let min = shape.model.min, bytes.count < min {
                problems.append("\(label) at '\(path())' failed to satisfy constraint: Member must have length greater than or equal to \(min)")
            }
            if let max = shape.model.max, bytes.count > max {
                problems.append("\(label) at '\(path())' failed to satisfy constraint: Member must have length less than or equal to \(max)")
            }
            return bytes
        case .integer:
            guard case .number = value, let i = value.intValue else { throw typeError(value, expected: "Integer") }
            if let min = shape.model.min, i < min {
                problems.append("Value '\(i)' at '\(path())' failed to satisfy constraint: Member must have value greater than or equal to \(min)")
            }
            if let max = shape.model.max, i > max {
                problems.append("Value '\(i)' at '\(path())' failed to satisfy constraint: Member must have value less than or equal to \(max)")
            }
        case .boolean:
            guard case .bool = value else { throw typeError(value, expected: "Boolean") }
        case .timestamp:
            guard case .number = value else { throw typeError(value, expected: "Timestamp") }
        case .structure:
            guard case .object(let o) = value else { throw typeError(value, expected: "Structure") }
            var nested: [(name: String, bytes: [UInt8])] = []
            try checkStructure(o, shape: shape, path: path, problems: &problems, blobs: &nested, recordBlobs: false)
        case .list:
            guard case .array(let items) = value else { throw typeError(value, expected: "List") }
            if let min = shape.model.min, items.count < min {
                problems.append("Value at '\(path())' failed to satisfy constraint: Member must have length greater than or equal to \(min)")
            }
            if let max = shape.model.max, items.count > max {
                problems.append("Value at '\(path())' failed to satisfy constraint: Member must have length less than or equal to \(max)")
            }
            guard let memberShape = shape.member else { return nil }
            for (i, item) in items.enumerated() {
                guard item != .null else { continue }
                try check(item, shape: memberShape, path: { "\(path()).\(i + 1).member" }, problems: &problems)
            }
        case .map:
            guard case .object(let o) = value else { throw typeError(value, expected: "Map") }
            if shape === EncryptionContext.modelShape, let violation = EncryptionContext.limitViolation(o) {
                problems.append("Value at '\(path())' failed to satisfy constraint: \(violation)")
            }
            guard let keyShape = shape.key, let valueShape = shape.value else { return nil }
            for e in o.entries {
                try check(.string(e.key), shape: keyShape, path: { "\(path()).\(e.key).key" }, problems: &problems)
                guard e.value != .null else { continue }
                try check(e.value, shape: valueShape, path: { "\(path()).\(e.key).value" }, problems: &problems)
            }
        }
        return nil
    }

    /// Jackson-style wording for a value of the wrong JSON type.
    static func typeError(_ value: JSONValue, expected: String) -> KMSError {
        let found: String
        switch value {
        case .string: found = "STRING_VALUE"
        case .number: found = "NUMBER_VALUE"
        case .bool: found = "BOOLEAN_VALUE"
        case .array: found = "START_ARRAY"
        case .object: found = "START_OBJECT"
        case .null: found = "NULL"
        }
        switch expected {
        case "Structure", "Map": return KMSError(.serialization, "Start of structure or map found where not expected.")
        case "List": return KMSError(.serialization, "Start of list found where not expected")
        default:
            if case .array = value { return KMSError(.serialization, "Start of list found where not expected") }
            if case .object = value { return KMSError(.serialization, "Start of structure or map found where not expected.") }
            return KMSError(.serialization, "\(found) can not be converted to \(expected == "Integer" ? "an Integer" : "a \(expected)")")
        }
    }
}
