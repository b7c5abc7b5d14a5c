import Foundation
import KMSCore
import Logging
import PostgresNIO

/// One audit record as the cluster trail holds it: the LookupEvents attributes, the
/// CloudTrail JSON line itself (which never holds a secret: AuditRecord logs allow-listed
/// fields only), and its place in its node's chain.
public struct ClusterAuditEvent: Sendable, Equatable {
    public var node: String
    /// The record's 1-based position in its node's chain (AuditIndexEntry.sequence).
    public var sequence: Int64
    public var time: Double
    /// recipientAccountId: whose trail the event is in.
    public var account: String
    public var eventName: String
    public var eventSource: String
    public var username: String
    public var accessKeyId: String
    public var readOnly: Bool
    public var eventID: String
    public var requestID: String
    /// Key ARNs named in `resources`.
    public var resources: [String]
    public var succeeded: Bool
    public var isServiceEvent: Bool
    /// The record's JSON line, as written in its segment file (chain link included).
    public var event: String

    public init(node: String, sequence: Int64, time: Double, account: String, eventName: String, eventSource: String,
                username: String, accessKeyId: String, readOnly: Bool, eventID: String, requestID: String,
                resources: [String], succeeded: Bool, isServiceEvent: Bool, event: String) {
        self.node = node; self.sequence = sequence; self.time = time; self.account = account
        self.eventName = eventName; self.eventSource = eventSource; self.username = username
        self.accessKeyId = accessKeyId; self.readOnly = readOnly; self.eventID = eventID; self.requestID = requestID
        self.resources = resources; self.succeeded = succeeded; self.isServiceEvent = isServiceEvent; self.event = event
    }

    /// Where paging resumes: results come newest first by (time, node, sequence).
    public var position: ClusterAuditPosition { ClusterAuditPosition(time: time, node: node, sequence: sequence) }
}

public struct ClusterAuditPosition: Sendable, Equatable {
    public var time: Double
    public var node: String
    public var sequence: Int64

    public init(time: Double, node: String, sequence: Int64) {
        self.time = time; self.node = node; self.sequence = sequence
    }
}

/// A LookupEvents search of the cluster trail (already validated by the caller).
public struct ClusterAuditQuery: Sendable {
    public var account: String
    /// One lookup attribute (CloudTrail allows at most one): its key and value.
    public var attributeKey: String?
    public var attributeValue: String?
    public var start: Double?
    public var end: Double?
    /// Only events strictly older than this (the NextToken).
    public var before: ClusterAuditPosition?
    public var limit: Int

    public init(account: String, attributeKey: String? = nil, attributeValue: String? = nil, start: Double? = nil,
                end: Double? = nil, before: ClusterAuditPosition? = nil, limit: Int) {
        self.account = account; self.attributeKey = attributeKey; self.attributeValue = attributeValue
        self.start = start; self.end = end; self.before = before; self.limit = limit
    }
}

/// A key's last cryptographic use as the cluster trail has it, with when the row changed
/// (PostgreSQL's clock, so every node's cursor is on one clock).
public struct ClusterKeyUsage: Sendable, Equatable {
    public var keyArn: String
    public var usage: KeyLastUsage
    public var updatedAt: Double
}

/// The cluster audit trail in PostgreSQL (migration 6): `audit_events`, one row per record
/// of every node's chain, and `audit_key_last_usage`. Each node ships only its own
/// records (AuditClusterShipper), idempotently on (node, sequence); any node reads all.
public final class PostgresAuditTrail: Sendable {
    let store: PostgresKeyStore

    public init(store: PostgresKeyStore) { self.store = store }

    /// The highest sequence of `node` already in the table (0: none).
    public func lastSequence(node: String) throws -> Int64 {
        try store.wait { [store] in
            try await store.client.query("SELECT COALESCE(MAX(sequence), 0)::int8 FROM audit_events WHERE node = \(node)",
                                         logger: store.logger).collect().first?.decode(Int64.self) ?? 0
        }
    }

    /// Retention: deletes rows older than `cutoff` (epoch seconds), `batch` at a time (no
    /// long lock on the table), except each node's newest row, which a restarted shipper
    /// resumes from. Returns how many went.
    @discardableResult
    public func prune(olderThan cutoff: Double, batch: Int = 10_000) throws -> Int {
        var total = 0
        while true {
            let deleted = try store.wait { [store] in
                try await store.client.query("""
                    WITH doomed AS (
                        SELECT a.node, a.sequence FROM audit_events a
                        WHERE a.event_time < \(cutoff)
                          AND a.sequence < (SELECT MAX(b.sequence) FROM audit_events b WHERE b.node = a.node)
                        LIMIT \(batch))
                    DELETE FROM audit_events e USING doomed d WHERE e.node = d.node AND e.sequence = d.sequence
                    RETURNING 1
                    """, logger: store.logger).collect().count
            }
            total += deleted
            if deleted < batch { return total }
        }
    }

    /// The oldest event time in the whole trail (GetKeyLastUsage's tracking start), if any.
    public func oldestEventTime() throws -> Double? {
        try store.wait { [store] in
            try await store.client.query("SELECT MIN(event_time) FROM audit_events", logger: store.logger)
                .collect().first?.decode(Double?.self) ?? nil
        }
    }

    /// Inserts `events` (rows already there are left as they are) and moves each key's last
    /// use forward, in one transaction: a batch counts whole or not at all.
    public func ship(_ events: [ClusterAuditEvent], keyUsage: [String: KeyLastUsage]) throws {
        guard !events.isEmpty else { return }
        var nodes: [String] = [], sequences: [Int64] = [], times: [Double] = [], accounts: [String] = []
        var names: [String] = [], sources: [String] = [], usernames: [String] = [], accessKeys: [String] = []
        var readOnly: [Bool] = [], eventIds: [String] = [], requestIds: [String] = [], resources: [String] = []
        var succeeded: [Bool] = [], service: [Bool] = [], lines: [String] = []
        for e in events {
            nodes.append(e.node); sequences.append(e.sequence); times.append(e.time); accounts.append(e.account)
            names.append(e.eventName); sources.append(e.eventSource); usernames.append(e.username)
            accessKeys.append(e.accessKeyId); readOnly.append(e.readOnly); eventIds.append(e.eventID)
            requestIds.append(e.requestID); resources.append(e.resources.joined(separator: "\n"))
            succeeded.append(e.succeeded); service.append(e.isServiceEvent); lines.append(e.event)
        }
        var arns: [String] = [], operations: [String] = [], usageTimes: [Double] = [], usageEvents: [String] = []
        var usageRequests: [String] = []
        for (arn, u) in keyUsage {
            arns.append(arn); operations.append(u.operation); usageTimes.append(u.time)
            usageEvents.append(u.cloudTrailEventId); usageRequests.append(u.kmsRequestId)
        }
        try store.wait { [store, nodes, sequences, times, accounts, names, sources, usernames, accessKeys, readOnly,
                          eventIds, requestIds, resources, succeeded, service, lines,
                          arns, operations, usageTimes, usageEvents, usageRequests] in
            try await store.client.withTransaction(logger: store.logger) { conn in
                try await conn.query("""
                    INSERT INTO audit_events (node, sequence, event_time, account, event_name, event_source, username,
                                              access_key_id, read_only, event_id, request_id, resources, succeeded,
                                              service_event, event)
                    SELECT * FROM UNNEST(\(nodes)::text[], \(sequences)::int8[], \(times)::float8[], \(accounts)::text[],
                                         \(names)::text[], \(sources)::text[], \(usernames)::text[], \(accessKeys)::text[],
                                         \(readOnly)::bool[], \(eventIds)::text[], \(requestIds)::text[], \(resources)::text[],
                                         \(succeeded)::bool[], \(service)::bool[], \(lines)::text[])
                    ON CONFLICT (node, sequence) DO NOTHING
                    """, logger: store.logger)
                guard !arns.isEmpty else { return }
                // A later use wins; two in the same second: the one shipped last.
                try await conn.query("""
                    INSERT INTO audit_key_last_usage AS u (key_arn, operation, event_time, event_id, request_id)
                    SELECT * FROM UNNEST(\(arns)::text[], \(operations)::text[], \(usageTimes)::float8[],
                                         \(usageEvents)::text[], \(usageRequests)::text[])
                    ON CONFLICT (key_arn) DO UPDATE SET operation = EXCLUDED.operation, event_time = EXCLUDED.event_time,
                        event_id = EXCLUDED.event_id, request_id = EXCLUDED.request_id, updated_at = clock_timestamp()
                    WHERE u.event_time <= EXCLUDED.event_time
                    """, logger: store.logger)
            }
        }
    }

    /// Last uses changed after `since` (PostgreSQL epoch seconds), less `overlap` seconds:
    /// a row's updated_at is taken before its transaction commits, so a poll may run
    /// between the two; re-reading a few seconds is harmless (a use never moves back).
    public func keyUsage(changedAfter since: Double, overlap: Double = 5) throws -> [ClusterKeyUsage] {
        let from = since - overlap
        return try store.wait { [store] in
            try await store.client.query("""
                SELECT key_arn, operation, event_time, event_id, request_id, EXTRACT(EPOCH FROM updated_at)::float8
                FROM audit_key_last_usage WHERE updated_at > to_timestamp(\(from))
                """, logger: store.logger).collect().map { row in
                let (arn, op, time, eventId, requestId, updated) = try row.decode((String, String, Double, String, String, Double).self)
                return ClusterKeyUsage(keyArn: arn, usage: KeyLastUsage(operation: op, time: time, cloudTrailEventId: eventId,
                                                                        kmsRequestId: requestId),
                                       updatedAt: updated)
            }
        }
    }

    /// Newest first, at most `query.limit` events (the caller asks one more to know
    /// whether there is a next page).
    public func lookup(_ query: ClusterAuditQuery) throws -> [ClusterAuditEvent] {
        var binds = PostgresBindings()
        binds.append(query.account)
        var conditions = ["account = $1"]
        func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let start = query.start { conditions.append("event_time >= \(bind(start.rounded(.down)))") }
        if let end = query.end { conditions.append("event_time <= \(bind(end))") }
        if let before = query.before {
            conditions.append("(event_time, node, sequence) < (\(bind(before.time)), \(bind(before.node)), \(bind(before.sequence)))")
        }
        if let key = query.attributeKey, let value = query.attributeValue {
            switch key {
            case "EventId": conditions.append("event_id = \(bind(value))")
            case "EventName": conditions.append("event_name = \(bind(value))")
            case "ReadOnly":
                conditions.append(value == "true" ? "read_only" : value == "false" ? "NOT read_only" : "FALSE")
            case "Username": conditions.append("username = \(bind(value))")
            case "AccessKeyId": conditions.append("access_key_id = \(bind(value))")
            case "EventSource": conditions.append("event_source = \(bind(value))")
            case "ResourceType": conditions.append(value == "AWS::KMS::Key" ? "resources <> ''" : "FALSE")
            case "ResourceName":
                // A key's ARN, or its key ID (the ARN's last part), as the file index matches.
                let v = bind(value)
                conditions.append("""
                    EXISTS (SELECT 1 FROM UNNEST(string_to_array(resources, E'\\n')) AS r(arn)
                            WHERE r.arn = \(v) OR right(r.arn, length(\(v)) + 1) = '/' || \(v))
                    """)
            default: conditions.append("FALSE")
            }
        }
        let limit = bind(Int64(max(0, query.limit)))
        let sql = """
            SELECT node, sequence, event_time, account, event_name, event_source, username, access_key_id, read_only,
                   event_id, request_id, resources, succeeded, service_event, event
            FROM audit_events WHERE \(conditions.joined(separator: " AND "))
            ORDER BY event_time DESC, node DESC, sequence DESC LIMIT \(limit)
            """
        let finalBinds = binds
        return try store.wait { [store] in
            try await store.client.query(PostgresQuery(unsafeSQL: sql, binds: finalBinds), logger: store.logger).collect().map { row in
                let r = row.makeRandomAccess()
                let resources = try r[11].decode(String.self)
                return ClusterAuditEvent(
                    node: try r[0].decode(String.self), sequence: try r[1].decode(Int64.self), time: try r[2].decode(Double.self),
                    account: try r[3].decode(String.self), eventName: try r[4].decode(String.self),
                    eventSource: try r[5].decode(String.self), username: try r[6].decode(String.self),
                    accessKeyId: try r[7].decode(String.self), readOnly: try r[8].decode(Bool.self),
                    eventID: try r[9].decode(String.self), requestID: try r[10].decode(String.self),
                    resources: resources.isEmpty ? [] : resources.split(separator: "\n").map(String.init),
                    succeeded: try r[12].decode(Bool.self), isServiceEvent: try r[13].decode(Bool.self),
                    event: try r[14].decode(String.self))
            }
        }
    }
}
