/// A resource tag. Tag keys are unique per key; order is kept for listing.
public struct Tag: Sendable, Equatable, Codable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    var json: JSONValue { .object(JSONObject([("TagKey", .string(key)), ("TagValue", .string(value))])) }
}
