import KMSCore
import KMSStorage

/// LookupEvents on a PostgreSQL-backed node: the cluster trail (`audit_events`, every
/// node's records), with the same attributes, time range and paging as the node's own
/// index. Results are newest first by (event time, node, sequence); the NextToken is the
/// last result's place in that order, `kmsc-<time>-<sequence>-<node>`.
extension CloudTrailLookup {
    static let clusterTokenPrefix = "kmsc-"

    static func runOnCluster(_ cluster: AuditClusterShipper, body: JSONObject, caller: Caller,
                             filter: (key: String, value: String)?, start: Double?, end: Double?,
                             maxResults: Int) throws(KMSError) -> JSONObject {
        var before: ClusterAuditPosition?
        if let token = body["NextToken"]?.stringValue {
            guard let position = clusterPosition(token) else { throw KMSError(.invalidNextToken, "Invalid NextToken.") }
            before = position
        }
        // This node's own calls are in the table before it is read: a caller always finds them.
        cluster.shipPending()
        let found: [ClusterAuditEvent]
        do {
            found = try cluster.trail.lookup(ClusterAuditQuery(account: caller.account, attributeKey: filter?.key,
                                                               attributeValue: filter?.value, start: start, end: end,
                                                               before: before, limit: maxResults + 1))
        } catch {
            Console.error("kms: ERROR: LookupEvents could not read the cluster audit trail: \(error)")
            throw KMSError.internalError
        }
        let page = found.prefix(maxResults)
        var events: [JSONValue] = []
        events.reserveCapacity(page.count)
        for e in page {
            var event = JSONObject([
                ("EventId", .string(e.eventID)),
                ("EventName", .string(e.eventName)),
                ("ReadOnly", .string(e.readOnly ? "true" : "false")),
                ("EventTime", JSONValue(e.time)),
                ("EventSource", .string(e.eventSource)),
            ])
            if !e.accessKeyId.isEmpty { event["AccessKeyId"] = .string(e.accessKeyId) }
            if !e.username.isEmpty { event["Username"] = .string(e.username) }
            event["Resources"] = .array(e.resources.map {
                .object(JSONObject([("ResourceType", .string("AWS::KMS::Key")), ("ResourceName", .string($0))]))
            })
            event["CloudTrailEvent"] = .string(e.event)
            events.append(.object(event))
        }
        var out = JSONObject([("Events", .array(events))])
        if found.count > maxResults, let last = page.last {
            out["NextToken"] = .string(clusterToken(last.position))
        }
        return out
    }

    static func clusterToken(_ p: ClusterAuditPosition) -> String {
        "\(clusterTokenPrefix)\(Int64(p.time))-\(p.sequence)-\(p.node)"
    }

    /// A token this node (or another) handed out; nil for anything else.
    static func clusterPosition(_ token: String) -> ClusterAuditPosition? {
        guard token.hasPrefix(clusterTokenPrefix), token.utf8.count <= 128 else { return nil }
        let parts = token.dropFirst(clusterTokenPrefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let time = Int64(parts[0]), time >= 0, let sequence = Int64(parts[1]), sequence > 0,
              AuditNodeID.valid(String(parts[2])) else { return nil }
        return ClusterAuditPosition(time: Double(time), node: String(parts[2]), sequence: sequence)
    }
}
