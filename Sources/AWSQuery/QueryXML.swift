import Foundation
import KMSCore

/// XML responses as botocore's query parser reads them:
/// `<XResponse xmlns=".."><XResult>..</XResult><ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></XResponse>`,
/// members in the output shape's order, lists as `<member>` items, maps as
/// `<entry><key/><value/></entry>`, timestamps in ISO 8601, booleans `true`/`false`.
public enum QueryXML {
    public static func response(_ result: JSONObject, operation: QueryServiceModel.ResolvedOperation,
                                model: QueryServiceModel, requestID: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out.append(contentsOf: "<\(operation.name)Response xmlns=\"\(model.xmlNamespace)\">".utf8)
        if let wrapper = operation.resultWrapper {
            out.append(contentsOf: "<\(wrapper)>".utf8)
            if let shape = operation.output { writeMembers(result, shape: shape, into: &out) }
            out.append(contentsOf: "</\(wrapper)>".utf8)
        }
        out.append(contentsOf: "<ResponseMetadata><RequestId>".utf8)
        escape(requestID, into: &out)
        out.append(contentsOf: "</RequestId></ResponseMetadata></\(operation.name)Response>".utf8)
        return out
    }

    public static func error(_ error: QueryError, requestID: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(contentsOf: "<ErrorResponse><Error><Type>".utf8)
        out.append(contentsOf: (error.senderFault ? "Sender" : "Receiver").utf8)
        out.append(contentsOf: "</Type><Code>".utf8)
        escape(error.code, into: &out)
        out.append(contentsOf: "</Code>".utf8)
        if let message = error.message {
            out.append(contentsOf: "<Message>".utf8)
            escape(message, into: &out)
            out.append(contentsOf: "</Message>".utf8)
        }
        out.append(contentsOf: "</Error><RequestId>".utf8)
        escape(requestID, into: &out)
        out.append(contentsOf: "</RequestId></ErrorResponse>".utf8)
        return out
    }

    static func writeMembers(_ object: JSONObject, shape: ResolvedQueryShape, into out: inout [UInt8]) {
        for member in shape.members {
            guard let value = object[member.name], value != .null, let memberShape = member.shape else { continue }
            element(member.name, value, memberShape, into: &out)
        }
    }

    static func element(_ name: String, _ value: JSONValue, _ shape: ResolvedQueryShape, into out: inout [UInt8]) {
        out.append(contentsOf: "<\(name)>".utf8)
        switch shape.model.kind {
        case .structure:
            if let o = value.objectValue { writeMembers(o, shape: shape, into: &out) }
        case .list:
            if let items = value.arrayValue, let memberShape = shape.member {
                for item in items { element("member", item, memberShape, into: &out) }
            }
        case .map:
            if let o = value.objectValue, let k = shape.key, let v = shape.value {
                for e in o.entries {
                    out.append(contentsOf: "<entry>".utf8)
                    element("key", .string(e.key), k, into: &out)
                    element("value", e.value, v, into: &out)
                    out.append(contentsOf: "</entry>".utf8)
                }
            }
        case .timestamp:
            switch value {
            case .number: escape(iso8601(value.doubleValue ?? 0), into: &out)
            case .string(let s): escape(s, into: &out)
            default: break
            }
        case .boolean:
            out.append(contentsOf: (value.boolValue == true ? "true" : "false").utf8)
        case .string, .blob, .integer, .double:
            switch value {
            case .string(let s): escape(s, into: &out)
            case .number(let n): out.append(contentsOf: n.utf8)
            case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
            default: break
            }
        }
        out.append(contentsOf: "</\(name)>".utf8)
    }

    public static func escape(_ s: String, into out: inout [UInt8]) {
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&apos;".utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: "&#13;".utf8)
            default: out.append(b)
            }
        }
    }

    /// `2026-11-29T12:00:00Z` (whole seconds, as IAM writes them).
    public static func iso8601(_ time: Double) -> String {
        let seconds = Int(time.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))Z"
    }
}
