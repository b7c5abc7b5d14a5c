import KMSCore

/// CloudTrail's LookupEvents on the KMS endpoint (AWS JSON 1.1, SigV4 service
/// `cloudtrail`), answered from the audit log's in-memory index: the newest
/// `AuditLog.indexCapacity` events. A caller sees only its own account's events (policy
/// evaluation of `cloudtrail:LookupEvents` comes with the policy engine).
enum CloudTrailLookup {
    static let target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
    static let attributeKeys: Set<String> = ["EventId", "EventName", "ReadOnly", "Username", "ResourceType",
                                             "ResourceName", "EventSource", "AccessKeyId"]

    static func run(_ json: JSONValue, caller: Caller, audit: AuditLog?,
                    cluster: AuditClusterShipper? = nil) throws(KMSError) -> JSONObject {
        guard let body = json.objectValue else { throw KMSError(.serialization, "Start of structure or map found where not expected.") }
        var filter: (key: String, value: String)?
        if let attributes = body["LookupAttributes"] {
            guard let list = attributes.arrayValue else { throw KMSError(.serialization, "Unexpected value for LookupAttributes.") }
            guard list.count <= 1 else {
                throw KMSError(.invalidLookupAttributes, "You cannot specify more than one lookup attribute.")
            }
            if let item = list.first?.objectValue {
                guard let key = item["AttributeKey"]?.stringValue, attributeKeys.contains(key) else {
                    throw KMSError(.invalidLookupAttributes, "Invalid attribute key.")
                }
                guard let value = item["AttributeValue"]?.stringValue, !value.isEmpty, value.utf8.count <= 2000 else {
                    throw KMSError(.invalidLookupAttributes, "Attribute value cannot be empty.")
                }
                filter = (key, value)
            }
        }
        let start = body["StartTime"]?.doubleValue
        let end = body["EndTime"]?.doubleValue
        if let start, let end, start > end {
            throw KMSError(.invalidTimeRange, "Start time cannot be after end time.")
        }
        let maxResults = body["MaxResults"]?.intValue ?? 50
        guard (1...50).contains(maxResults) else {
            throw KMSError(.invalidMaxResults, "Value for MaxResults is invalid. Valid values are between 1 and 50.")
        }
        // On PostgreSQL: the whole cluster's trail (CloudTrailLookup+Cluster).
        if let cluster {
            return try runOnCluster(cluster, body: body, caller: caller, filter: filter, start: start, end: end,
                                    maxResults: maxResults)
        }
        var before = Int.max
        if let token = body["NextToken"]?.stringValue {
            guard token.hasPrefix("kms-"), let n = Int(token.dropFirst(4)), n > 0 else {
                throw KMSError(.invalidNextToken, "Invalid NextToken.")
            }
            before = n
        }
        var found: [AuditIndexEntry] = []
        var more = false
        audit?.forEachNewestFirst { entry in
            guard entry.sequence < before, entry.account == caller.account else { return true }
            if let start, entry.time < start.rounded(.down) { return true }
            if let end, entry.time > end { return true }
            if let filter, !matches(entry, filter) { return true }
            if found.count == maxResults { more = true; return false }
            found.append(entry)
            return true
        }
        var events: [JSONValue] = []
        events.reserveCapacity(found.count)
        for entry in found {
            guard let line = audit?.line(of: entry) else { continue }
            var event = JSONObject([
                ("EventId", .string(entry.eventID)),
                ("EventName", .string(entry.eventName)),
                ("ReadOnly", .string(entry.readOnly ? "true" : "false")),
                ("EventTime", JSONValue(entry.time)),
                ("EventSource", .string(entry.source.rawValue)),
            ])
            if !entry.accessKeyId.isEmpty { event["AccessKeyId"] = .string(entry.accessKeyId) }
            if !entry.username.isEmpty { event["Username"] = .string(entry.username) }
            event["Resources"] = .array(entry.resources.map {
                .object(JSONObject([("ResourceType", .string("AWS::KMS::Key")), ("ResourceName", .string($0))]))
            })
            event["CloudTrailEvent"] = .string(line)
            events.append(.object(event))
        }
        var out = JSONObject([("Events", .array(events))])
        if more, let last = found.last { out["NextToken"] = .string("kms-\(last.sequence)") }
        return out
    }

    static func matches(_ entry: AuditIndexEntry, _ filter: (key: String, value: String)) -> Bool {
        switch filter.key {
        case "EventId": return entry.eventIDValue == AuditID(filter.value)
        case "EventName": return entry.eventName == filter.value
        case "ReadOnly": return (entry.readOnly ? "true" : "false") == filter.value
        case "Username": return entry.username == filter.value
        case "AccessKeyId": return entry.accessKeyId == filter.value
        case "EventSource": return entry.source.rawValue == filter.value
        case "ResourceType": return filter.value == "AWS::KMS::Key" && entry.firstResource != nil
        case "ResourceName":
            return entry.containsResource { $0 == filter.value || $0.hasSuffix("/" + filter.value) }
        default: return false
        }
    }
}
