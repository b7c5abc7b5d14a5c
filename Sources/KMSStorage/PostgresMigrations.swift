import Logging
import PostgresNIO

/// Versioned schema migrations for PostgreSQL. `kms_schema_migrations` records each applied
/// version; nodes starting at once serialize on a transaction-scoped advisory lock, so each
/// migration runs exactly once, in order, in the same transaction as its record.
/// Migrations are append-only: a released one is never edited, a change is a new version.
enum PostgresMigrations {
    struct Migration {
        let version: Int32
        let name: String
        let sql: [String]
    }

    /// Chosen once; any constant works as long as every node uses the same one.
    static let advisoryLockId: Int64 = 0x6B6D_735F_6D69_6772 // "kms_migr"

    static let all: [Migration] = [
        Migration(version: 1, name: "keys, materials, aliases, credentials with row versions", sql: [
            """
            CREATE TABLE keys (
                account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL,
                metadata TEXT NOT NULL, version BIGINT NOT NULL,
                PRIMARY KEY (account, region, key_id))
            """,
            """
            CREATE TABLE key_materials (
                account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, version BIGINT NOT NULL,
                material_id TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, sealed BYTEA NOT NULL,
                PRIMARY KEY (account, region, key_id, version))
            """,
            """
            CREATE TABLE aliases (
                account TEXT NOT NULL, region TEXT NOT NULL, alias_name TEXT NOT NULL,
                target_key_id TEXT NOT NULL, creation_date DOUBLE PRECISION NOT NULL,
                last_updated_date DOUBLE PRECISION NOT NULL, version BIGINT NOT NULL,
                PRIMARY KEY (account, region, alias_name))
            """,
            """
            CREATE TABLE credentials (
                access_key_id TEXT PRIMARY KEY, account TEXT NOT NULL, principal_arn TEXT NOT NULL,
                sealed_secret BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL)
            """,
        ]),
        // Every committed UPDATE or DELETE of a key or alias is logged and notified, so each
        // node evicts its cached copy (PostgresChangeFeed). Inserts need neither: a node
        // never caches an object it did not find. The log is the poll's fallback when a
        // notification is lost; the background job prunes it.
        Migration(version: 2, name: "change log and notifications for cache invalidation", sql: [
            """
            CREATE TABLE kms_changes (
                seq BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,
                name TEXT NOT NULL, changed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())
            """,
            "CREATE INDEX kms_changes_changed_at ON kms_changes (changed_at)",
            """
            CREATE FUNCTION kms_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE s BIGINT;
            BEGIN
                INSERT INTO kms_changes (kind, account, region, name) VALUES ('k', OLD.account, OLD.region, OLD.key_id) RETURNING seq INTO s;
                PERFORM pg_notify('kms_changes', s || '|k|' || OLD.account || '|' || OLD.region || '|' || OLD.key_id);
                RETURN NULL;
            END $$
            """,
            """
            CREATE FUNCTION kms_alias_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE s BIGINT;
            BEGIN
                INSERT INTO kms_changes (kind, account, region, name) VALUES ('a', OLD.account, OLD.region, OLD.alias_name) RETURNING seq INTO s;
                PERFORM pg_notify('kms_changes', s || '|a|' || OLD.account || '|' || OLD.region || '|' || OLD.alias_name);
                RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER keys_changed AFTER UPDATE OR DELETE ON keys FOR EACH ROW EXECUTE FUNCTION kms_key_changed()",
            "CREATE TRIGGER aliases_changed AFTER UPDATE OR DELETE ON aliases FOR EACH ROW EXECUTE FUNCTION kms_alias_changed()",
        ]),
        Migration(version: 3, name: "grants with row versions", sql: [
            """
            CREATE TABLE grants (
                account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, grant_id TEXT NOT NULL,
                grantee_principal TEXT NOT NULL, retiring_principal TEXT,
                grant_data TEXT NOT NULL, version BIGINT NOT NULL,
                PRIMARY KEY (account, region, key_id, grant_id))
            """,
            "CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal)",
        ]),
        // IAM identities (issue 9): one row per entity, see IdentityStore.
        Migration(version: 4, name: "iam identities", sql: [
            """
            CREATE TABLE iam_identities (
                account TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, unique_id TEXT NOT NULL,
                document TEXT NOT NULL, sealed_secret BYTEA, version BIGINT NOT NULL,
                PRIMARY KEY (account, kind, name))
            """,
            "CREATE UNIQUE INDEX iam_identities_unique_id ON iam_identities (unique_id)",
        ]),
        // Grants, IAM identities and root credentials are held whole in each node's memory
        // (GrantRegistry, IdentityRegistry, CredentialRegistry), so unlike keys their inserts
        // are logged too: a grant or access key made on one node must count on every node.
        // 'g': region and key, name = KEY_ID/GRANT_ID. 'i': IAM is global, so the region
        // column carries the entity kind (IdentityKind's raw value). 'c': a root credential
        // (`kms admin`), name = its access key ID. PostgresChangeFeed dispatches each kind.
        Migration(version: 5, name: "change log for grants, iam identities and root credentials", sql: [
            """
            CREATE FUNCTION kms_grant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE s BIGINT; r RECORD;
            BEGIN
                IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
                INSERT INTO kms_changes (kind, account, region, name) VALUES ('g', r.account, r.region, r.key_id || '/' || r.grant_id) RETURNING seq INTO s;
                PERFORM pg_notify('kms_changes', s || '|g|' || r.account || '|' || r.region || '|' || r.key_id || '/' || r.grant_id);
                RETURN NULL;
            END $$
            """,
            """
            CREATE FUNCTION kms_identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE s BIGINT; r RECORD;
            BEGIN
                IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
                INSERT INTO kms_changes (kind, account, region, name) VALUES ('i', r.account, r.kind, r.name) RETURNING seq INTO s;
                PERFORM pg_notify('kms_changes', s || '|i|' || r.account || '|' || r.kind || '|' || r.name);
                RETURN NULL;
            END $$
            """,
            """
            CREATE FUNCTION kms_credential_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE s BIGINT; r RECORD;
            BEGIN
                IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
                INSERT INTO kms_changes (kind, account, region, name) VALUES ('c', r.account, '', r.access_key_id) RETURNING seq INTO s;
                PERFORM pg_notify('kms_changes', s || '|c|' || r.account || '||' || r.access_key_id);
                RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER grants_changed AFTER INSERT OR UPDATE OR DELETE ON grants FOR EACH ROW EXECUTE FUNCTION kms_grant_changed()",
            "CREATE TRIGGER iam_identities_changed AFTER INSERT OR UPDATE OR DELETE ON iam_identities FOR EACH ROW EXECUTE FUNCTION kms_identity_changed()",
            "CREATE TRIGGER credentials_changed AFTER INSERT OR UPDATE OR DELETE ON credentials FOR EACH ROW EXECUTE FUNCTION kms_credential_changed()",
        ]),
        // The cluster audit trail (issue 11): every node ships its own chain's records here
        // (PostgresAuditTrail), so that LookupEvents on any node sees the whole cluster.
        // (node, sequence) is the record's place in its node's chain: re-shipping after a
        // restart inserts nothing twice. Each key's last cryptographic use, for
        // GetKeyLastUsage, is kept beside it; updated_at lets the other nodes poll it.
        Migration(version: 6, name: "cluster audit trail and key last usage", sql: [
            """
            CREATE TABLE audit_events (
                node TEXT NOT NULL, sequence BIGINT NOT NULL, event_time DOUBLE PRECISION NOT NULL,
                account TEXT NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL,
                username TEXT NOT NULL, access_key_id TEXT NOT NULL, read_only BOOLEAN NOT NULL,
                event_id TEXT NOT NULL, request_id TEXT NOT NULL, resources TEXT NOT NULL,
                succeeded BOOLEAN NOT NULL, service_event BOOLEAN NOT NULL, event TEXT NOT NULL,
                shipped_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (node, sequence))
            """,
            "CREATE INDEX audit_events_by_account_time ON audit_events (account, event_time DESC, node DESC, sequence DESC)",
            "CREATE INDEX audit_events_by_time ON audit_events (event_time)",
            """
            CREATE TABLE audit_key_last_usage (
                key_arn TEXT PRIMARY KEY, operation TEXT NOT NULL, event_time DOUBLE PRECISION NOT NULL,
                event_id TEXT NOT NULL, request_id TEXT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())
            """,
            "CREATE INDEX audit_key_last_usage_by_update ON audit_key_last_usage (updated_at)",
        ]),
        // The peer link between deployments (issue 13 §3): one row per link with both
        // directions' sequences (versioned), and the outbox of unacknowledged messages
        // (secrets sealed under the root key). PostgresKeyStore+PeerLink.
        Migration(version: 8, name: "peer link sequences and outbox", sql: [
            """
            CREATE TABLE peer_links (
                local_region TEXT NOT NULL, peer_region TEXT NOT NULL,
                last_sent_sequence BIGINT NOT NULL DEFAULT 0, last_received_sequence BIGINT NOT NULL DEFAULT 0,
                last_received_at DOUBLE PRECISION, last_success_at DOUBLE PRECISION, last_error TEXT,
                last_error_at DOUBLE PRECISION, version BIGINT NOT NULL DEFAULT 1,
                PRIMARY KEY (local_region, peer_region))
            """,
            """
            CREATE TABLE peer_outbox (
                local_region TEXT NOT NULL, peer_region TEXT NOT NULL, sequence BIGINT NOT NULL,
                kind TEXT NOT NULL, body TEXT NOT NULL, sealed_secrets TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (local_region, peer_region, sequence))
            """,
        ]),
        // Custom key stores (issue 14): the XKS proxy secret or token PIN sealed under the
        // root key like key material; a name is unique per account and Region.
        Migration(version: 9, name: "custom key stores", sql: [
            """
            CREATE TABLE custom_key_stores (
                account TEXT NOT NULL, region TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
                document TEXT NOT NULL, sealed_secret BYTEA NOT NULL, version BIGINT NOT NULL,
                PRIMARY KEY (account, region, id))
            """,
            "CREATE UNIQUE INDEX custom_key_stores_name ON custom_key_stores (account, region, name)",
        ]),
        // Peer link dead letters (issue 13 §3): a message the peer refused for good stays in
        // the outbox, marked, out of the queue. PostgresKeyStore+PeerLink.
        Migration(version: 10, name: "peer link dead letters", sql: [
            "ALTER TABLE peer_outbox ADD COLUMN refused_at DOUBLE PRECISION",
            "ALTER TABLE peer_outbox ADD COLUMN refusal TEXT",
        ]),
    ]

    /// The newest version this build knows; a database ahead of it is refused (an older
    /// node must not write into a schema it does not understand).
    static var latest: Int32 { all.last?.version ?? 0 }

    struct TooNew: Error, CustomStringConvertible {
        let found: Int32
        var description: String { "the database schema is at version \(found), newer than this kms (\(latest)); upgrade kms" }
    }

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(\(advisoryLockId))", logger: logger)
            try await conn.query("""
                CREATE TABLE IF NOT EXISTS kms_schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<Int32>()
            for row in try await conn.query("SELECT version FROM kms_schema_migrations", logger: logger).collect() {
                applied.insert(try row.decode(Int32.self))
            }
            if let newest = applied.max(), newest > latest { throw TooNew(found: newest) }
            for m in all where !applied.contains(m.version) {
                for statement in m.sql {
                    try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await conn.query("INSERT INTO kms_schema_migrations (version, name) VALUES (\(m.version), \(m.name))", logger: logger)
                logger.info("applied schema migration", metadata: ["version": "\(m.version)"])
            }
        }
    }

    /// The applied versions, for tests and readiness checks.
    static func appliedVersions(_ client: PostgresClient, logger: Logger) async throws -> [Int32] {
        try await client.query("SELECT version FROM kms_schema_migrations ORDER BY version", logger: logger).collect().map {
            try $0.decode(Int32.self)
        }
    }
}
