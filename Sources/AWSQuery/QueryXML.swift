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
            case .number: ISO8601Time.write(value.doubleValue ?? 0, into: &out)
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
}
