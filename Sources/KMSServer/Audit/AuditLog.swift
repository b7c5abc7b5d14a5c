import COpenSSL
import Crypto
import Foundation
import KMSCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The node's audit trail: append-only segment files `<data-dir>/audit/audit-NNNNNNNN.jsonl`
/// (JSON lines, mode 0600), one hash chain across them, and the in-memory index that
/// LookupEvents reads.
///
/// Each line is a CloudTrail record whose last member, `previousEventHash`, is the SHA-256
/// (hex) of the previous line's bytes (without its newline); the first line of the trail
/// chains to 64 zeros. Event loops hand over one tick's events at once (`append`): they
/// are chained and written with one writev(2) before that tick's responses are flushed.
/// fsync runs every `fsyncInterval` (and writes the chain head, see `AuditChainHead`), or
/// with `.always` before a group's responses leave: one fsync for every group written
/// since the last (group commit across the event loops, `waitDurable`).
public final class AuditLog: Sendable {
    public enum FsyncPolicy: String, Sendable, CaseIterable {
        case interval, always
    }

    public static let genesisHash = String(repeating: "0", count: 64)
    /// A segment is closed and the next begun past this size.
    public static let segmentBytes = 64 * 1024 * 1024
    /// LookupEvents sees at most this many of the newest events (the bound of the index).
    public static let indexCapacity = 100_000
    /// After a failed write, state-changing requests are refused for this long (they
    /// cannot be recorded); then one is let through to find whether the disk recovered.
    static let retryAfterFailure = 1.0

    public let directory: String
    public let policy: FsyncPolicy
    let fallbackAccount: String
    /// Signs the digest records (nil: no digests, for tests and benchmarks).
    let digestSigner: AuditDigestSigner?
    public let digestPolicy: AuditDigestPolicy
    /// Each key's last cryptographic use (GetKeyLastUsage), fed from the written events.
    let keyUsage: KeyUsageTracker?
    /// Retention (`--audit-retention-days`), in seconds: sealed segments whose records are
    /// all older are removed (`prune`); nil keeps the trail forever.
    let retention: Double?
    /// A segment is closed and the next begun past this size (`segmentBytes`; tests use less).
    let segmentLimit: Int
    /// The first segment the cluster shipper has not finished reading: never pruned.
    let pruneFloor = Atomic<Int>(Int.max)
    /// When retention last ran (it runs at the timer's sync, at most every `pruneEvery`).
    private let lastPrune = Mutex<Double>(0)
    static let pruneEvery = 3600.0

    struct State {
        var fd: Int32 = -1
        var segment = 0
        var size = 0
        /// Blocks reserved ahead of the current segment's records.
        var preallocation = AuditPreallocation()
        var previousHash = [UInt8](repeating: 0, count: 32)
        var count = 0
        var dirty = false
        var index: [AuditIndexEntry] = []
        var indexHead = 0  // next slot to overwrite once the ring is full
        var failedAt: Double?
        var writeFailures = 0
        var digests: AuditDigests?
        /// `.interval`: descriptors of segments closed since the timer's last sync, which
        /// fsyncs and closes them (see `rotate`).
        var sealed: [Int32] = []
        /// Each key's newest use written since the tracker last read (`handOverKeyUses`).
        var keyUses: [PendingKeyUse] = []
    }

    /// A key's use kept for the tracker as IDs, not strings: the tracker's KeyLastUsage
    /// (two 36-byte strings, a dictionary update under its lock) is built only when
    /// GetKeyLastUsage reads, or when `pendingKeyUses` keys have collected.
    struct PendingKeyUse {
        let arn: String
        var time: Double
        var operation: String
        var eventID: AuditID
        var requestID: AuditID
    }
    /// Keys whose uses wait for the tracker, at most (a linear search per tracked call).
    static let pendingKeyUses = 32

    private let state: Mutex<State>
    /// One `sync` at a time (the timer's and the one at shutdown).
    private let syncing = Mutex(())
    /// With `.always`: how many records an fsync has made durable. One fsync at a time, out
    /// of the trail's lock: the groups other event loops write while it runs are covered by
    /// the next one, a single fsync for all of them (group commit).
    private let durable = Mutex(0)

    public init(dataDirectory: String, policy: FsyncPolicy, fallbackAccount: String,
                digestSigner: AuditDigestSigner? = nil, digestPolicy: AuditDigestPolicy = AuditDigestPolicy(),
                keyUsage: KeyUsageTracker? = nil, retentionDays: Double? = nil,
                segmentBytes: Int = AuditLog.segmentBytes) throws {
        directory = dataDirectory + "/audit"
        retention = retentionDays.map { $0 * 86_400 }
        segmentLimit = segmentBytes
        self.policy = policy
        self.fallbackAccount = fallbackAccount
        self.digestSigner = digestSigner
        self.digestPolicy = digestPolicy
        self.keyUsage = keyUsage
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw AuditError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        var s = State()
        s.index.reserveCapacity(1024)
        // Recover the chain's end (and the index) from the newest segments, after the prefix
        // retention removed (if any).
        let pruned = try AuditPrunedPrefix.read(directory: directory).get()
        let segments = AuditSegments.kept(try AuditSegments.list(directory), directory: directory, pruned: pruned)
        var recovered = AuditSegments.Recovery()
        if let pruned {
            recovered.count = pruned.records
            recovered.lastHash = pruned.lastHashBytes
        }
        for segment in segments {
            try AuditSegments.recover(directory: directory, segment: segment, into: &recovered,
                                      index: segments.suffix(4).contains(segment))
        }
        for entry in recovered.entries.suffix(Self.indexCapacity) { s.index.append(entry) }
        // Tracking of key use begins with the oldest event read back (or now, for a new trail).
        keyUsage?.startTracking(at: s.index.first?.time ?? Date().timeIntervalSince1970)
        for entry in s.index { Self.track(entry, keyUsage) }
        if s.index.count == Self.indexCapacity { s.indexHead = 0 }
        s.previousHash = recovered.lastHash
        s.count = recovered.count
        s.segment = (segments.last ?? pruned?.segment ?? 0) + (recovered.lastSegmentSize >= segmentLimit || segments.isEmpty ? 1 : 0)
        s.fd = try AuditSegments.open(directory: directory, segment: s.segment)
        s.size = segments.last == s.segment ? recovered.lastSegmentSize : 0
        if digestSigner != nil {
            s.digests = try AuditDigests.open(directory: directory, now: Date().timeIntervalSince1970)
        }
        state = Mutex(s)
        keyUsage?.feed { [weak self] in
            guard let self else { return false }
            self.state.withLock { Self.handOverKeyUses(&$0, self.keyUsage) }
            return true
        }
    }

    deinit {
        state.withLock {
            Self.handOverKeyUses(&$0, keyUsage)
            if $0.fd >= 0 { fsync($0.fd); close($0.fd) }
            for fd in $0.sealed { fsync(fd); close(fd) }
            if let d = $0.digests, d.fd >= 0 { fsync(d.fd); close(d.fd) }
        }
    }

    /// Closed segments the timer's sync has not fsynced and closed yet (`.interval`).
    var unsyncedSealedSegments: Int { state.withLock { $0.sealed.count } }

    /// Events not written since start (the log and the shutdown line say so).
    public var writeFailures: Int { state.withLock { $0.writeFailures } }

    /// False while the trail cannot be written: state-changing requests are refused before
    /// they run, since their events could not be kept.
    func admits(now: Double) -> Bool {
        state.withLock { s in
            guard let failedAt = s.failedAt else { return true }
            return now - failedAt >= Self.retryAfterFailure
        }
    }

    /// Chains and writes one group of records (each without its closing brace, `events`
    /// holds their end offsets in `bytes`), durable first with `.always`. Returns false
    /// when they could not be written: then none of them counts, the chain is as before,
    /// and the caller must fail the requests (with `.always`, a failed fsync leaves the
    /// written records in the file: the calls are refused as unrecorded, the trail may still
    /// name them). The entries are moved into the index: what
    /// `entries` holds afterwards is for the caller to drop.
    func append(_ bytes: [UInt8], ends: [Int], entries: inout [AuditIndexEntry]) -> Bool {
        guard let end = writeGroup(bytes, ends: ends, entries: &entries) else { return false }
        return policy == .interval || waitDurable(end, records: ends.count)
    }

    /// `.always`: returns once records up to `end` are fsynced. The fsync runs outside the
    /// trail's lock, on a duplicate of the descriptor, and covers everything written
    /// before it began: a group that waited for another loop's fsync is often covered by
    /// it already and needs none of its own. False when the fsync failed: the group's
    /// requests are answered with an internal error (their records stay in the file).
    private func waitDurable(_ end: Int, records: Int) -> Bool {
        durable.withLock { durable in
            if durable >= end { return true }
            let (fd, count) = state.withLock { s in (dup(s.fd), s.count) }
            guard fd >= 0 else { return failDurable(records, reason: String(cString: strerror(errno))) }
            defer { close(fd) }
            guard fsync(fd) == 0 else { return failDurable(records, reason: String(cString: strerror(errno))) }
            // Segments closed since `end` was written were fsynced by `rotate`.
            durable = max(durable, count)
            return true
        }
    }

    private func failDurable(_ records: Int, reason: String) -> Bool {
        state.withLock { s in
            s.failedAt = Date().timeIntervalSince1970
            s.writeFailures += records
        }
        Console.error("kms: ERROR: audit fsync in \(directory) failed (\(reason)): "
            + "\(records) request(s) answered with an internal error")
        return false
    }

    /// Chains and writes one group (see `append`); returns the record count after it, nil
    /// when it could not be written.
    ///
    /// Most of each record's SHA-256 is over its own bytes, which do not depend on the
    /// chain: hashed here, before the lock, so that the other event loop's group waits only
    /// for the chain links (the last blocks of each hash) and the write. Records and links
    /// go out with writev from where they are (AuditChainLinks): nothing is copied.
    private func writeGroup(_ bytes: [UInt8], ends: [Int], entries: inout [AuditIndexEntry]) -> Int? {
        let n = ends.count
        guard n > 0 else { return state.withLock { $0.count } }
        // No record is empty (each is a JSON object's start); a group without bytes is a bug, refused.
        guard !bytes.isEmpty, ends.last == bytes.count else { return nil }
        return bytes.withUnsafeBytes { raw in
            withUnsafeTemporaryAllocation(of: SHA256_CTX.self, capacity: n) { states in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n * AuditChainLinks.size + 32) { links in
                    withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2 * n) { buffers in
                        guard let base = raw.baseAddress, let states = states.baseAddress, let links = links.baseAddress,
                              let buffers = buffers.baseAddress else { return nil }
                        AuditChainLinks.hashRecords(raw, ends: ends, into: states)
                        return writeGroupLocked(UnsafeMutableRawPointer(mutating: base), ends: ends, entries: &entries,
                                                states: states, links: links, buffers: buffers)
                    }
                }
            }
        }
    }

    /// `writeGroup` under the trail's lock: links, one writev, then the index.
    private func writeGroupLocked(_ base: UnsafeMutableRawPointer, ends: [Int], entries: inout [AuditIndexEntry],
                                  states: UnsafeMutablePointer<SHA256_CTX>, links: UnsafeMutablePointer<UInt8>,
                                  buffers: UnsafeMutablePointer<iovec>) -> Int? {
        let n = ends.count
        // The chain's running hash, after the links (32 bytes past the last one).
        let previous = links + n * AuditChainLinks.size
        return state.withLock { s in
            // (Always 32 bytes; a malformed pruned-prefix marker must not crash the writer.)
            if s.previousHash.count != 32 { s.previousHash = Array((s.previousHash + [UInt8](repeating: 0, count: 32)).prefix(32)) }
            for j in 0..<32 { previous[j] = s.previousHash[j] }
            var start = 0
            for i in 0..<n {
                let link = links + i * AuditChainLinks.size
                AuditChainLinks.link(link, state: states + i, previous: previous)
                buffers[2 * i] = iovec(iov_base: base + start, iov_len: ends[i] - start)
                buffers[2 * i + 1] = iovec(iov_base: UnsafeMutableRawPointer(link), iov_len: AuditChainLinks.size)
                start = ends[i]
            }
            let written = ends[n - 1] + n * AuditChainLinks.size
            s.preallocation.reserve(s.fd, offset: s.size, count: written)
            guard AuditChainLinks.writeAll(s.fd, buffers, count: 2 * n) else {
                let reason = String(cString: strerror(errno))
                // Nothing of the group may stay: cut back what part of it reached the file.
                // The chain (`previousHash`) was not moved.
                _ = ftruncate(s.fd, off_t(s.size))
                s.failedAt = Date().timeIntervalSince1970
                s.writeFailures += n
                Console.error("kms: ERROR: audit write to \(directory) failed (\(reason)): "
                    + "\(n) request(s) answered with an internal error and not carried out")
                return nil
            }
            for j in 0..<32 { s.previousHash[j] = previous[j] }
            if s.failedAt != nil { s.failedAt = nil }
            if let keyUsage { Self.noteKeyUses(entries, into: &s, keyUsage) }
            start = 0
            var offset = s.size
            for i in entries.indices where i < n {
                let length = ends[i] - start + AuditChainLinks.hashedSize
                entries[i].segment = s.segment
                entries[i].offset = offset
                entries[i].length = length
                entries[i].sequence = s.count + i + 1
                Self.insert(&entries[i], into: &s)
                offset += length + 1
                start = ends[i]
            }
            s.count += n
            s.size += written
            s.dirty = true  // the timer fsyncs (a no-op cost with .always) and records the chain head
            if digestPolicy.everyEvents > 0, let d = s.digests, s.count - d.lastEnd >= digestPolicy.everyEvents {
                writeDigest(&s, now: Date().timeIntervalSince1970)
            }
            if s.size >= segmentLimit { rotate(&s) }
            return s.count
        }
    }

    /// Writes a record the service makes by itself (AwsServiceEvent), synchronously.
    func appendServiceEvent(eventName: String, account: String, region: String, keyArn: String,
                            details: [(String, String)] = []) -> Bool {
        var bytes: [UInt8] = []
        var entries = [AuditRecord.serviceEvent(into: &bytes, eventName: eventName, time: Date().timeIntervalSince1970,
                                                account: account, region: region, keyArn: keyArn, details: details)]
        return append(bytes, ends: [bytes.count], entries: &entries)
    }

    /// The timer's fsync; it also records the chain head (count and last hash), so that
    /// `kms audit verify` notices records cut from the end of the trail.
    ///
    /// The fsync and the head's file run outside the trail's lock, on duplicates of the
    /// descriptors: under the lock they stopped every event loop's writes for as long as
    /// the disk took (milliseconds, every second). The head is taken before the fsync, so
    /// it never counts a record the fsync did not cover.
    func sync(final: Bool = false) {
        syncing.withLock { _ in
            let pending = state.withLock { s -> (fd: Int32, digests: Int32, head: AuditChainHead, sealed: [Int32])? in
                // At a clean stop the open segment gives back its reserve, as a closed one does.
                if final { s.preallocation.trim(s.fd, size: s.size) }
                // A signed digest every digestPolicy.interval, and at shutdown, when records were added.
                if let d = s.digests, s.count > d.lastEnd {
                    let now = Date().timeIntervalSince1970
                    if final || now - d.lastTime >= digestPolicy.interval { writeDigest(&s, now: now) }
                }
                guard s.dirty || !s.sealed.isEmpty else { return nil }
                s.dirty = false
                let sealed = s.sealed
                s.sealed.removeAll()
                let fd = dup(s.fd)
                guard fd >= 0 else {
                    // No descriptor to spare: fsync here, under the lock, as before.
                    for old in sealed {
                        if fsync(old) != 0 { Console.error("kms: ERROR: audit fsync failed: \(String(cString: strerror(errno)))") }
                        close(old)
                    }
                    if fsync(s.fd) != 0 {
                        Console.error("kms: ERROR: audit fsync failed: \(String(cString: strerror(errno)))")
                        return nil
                    }
                    if let d = s.digests { _ = fsync(d.fd) }
                    writeHead(s)
                    return nil
                }
                return (fd, s.digests.map { dup($0.fd) } ?? -1, head(s), sealed)
            }
            guard let pending else { return }
            defer {
                close(pending.fd)
                if pending.digests >= 0 { close(pending.digests) }
            }
            // Closed segments first: the head may name records in them only once they are on disk.
            var sealedSynced = true
            for old in pending.sealed {
                if fsync(old) != 0 {
                    Console.error("kms: ERROR: audit fsync of a closed segment failed: \(String(cString: strerror(errno)))")
                    sealedSynced = false
                } else {
                    AuditPageCache.release(old)
                }
                close(old)
            }
            if !sealedSynced { return }
            if fsync(pending.fd) != 0 {
                Console.error("kms: ERROR: audit fsync failed: \(String(cString: strerror(errno)))")
                return
            }
            if pending.digests >= 0 { _ = fsync(pending.digests) }
            pending.head.write(directory: directory)
            AuditPageCache.release(pending.fd)
        }
        if let retention, !final {
            let now = Date().timeIntervalSince1970
            let due = lastPrune.withLock { last in
                guard now - last >= Self.pruneEvery else { return false }
                last = now
                return true
            }
            if due { prune(olderThan: now - retention) }
        }
    }

    /// Retention: removes, oldest first, the sealed segments whose last record is older
    /// than `cutoff` (never the segment being written, nor one the cluster shipper has not
    /// read), recording the removed prefix first (AuditPrunedPrefix) so the rest of the
    /// chain still verifies. Returns how many segments went.
    @discardableResult
    func prune(olderThan cutoff: Double) -> Int {
        syncing.withLock { _ in
            let current = state.withLock { $0.segment }
            let limit = min(current, pruneFloor.load(ordering: .relaxed))
            guard case .success(var marker) = AuditPrunedPrefix.read(directory: directory),
                  let segments = try? AuditSegments.kept(AuditSegments.list(directory), directory: directory, pruned: marker)
            else { return 0 }
            var removed = 0
            var expected = (marker?.segment ?? 0) + 1
            for segment in segments where segment < limit {
                guard segment == expected,
                      let summary = AuditSegments.summary(directory: directory, segment: segment),
                      summary.lastTime < cutoff else { break }
                let unsigned = AuditPrunedPrefix(records: (marker?.records ?? 0) + summary.records,
                                                 lastHash: Self.hex(summary.lastHash), segment: segment, before: summary.lastTime)
                guard let next = unsigned.signed(by: digestSigner), next.write(directory: directory) else {
                    Console.error("kms: ERROR: audit retention cannot record the pruned prefix in \(directory); nothing removed")
                    break
                }
                marker = next
                unlink(AuditSegments.path(directory: directory, segment: segment))
                removed += 1
                expected += 1
            }
            if removed > 0, let marker {
                Console.line("kms: audit retention: removed \(removed) segment(s); records 1...\(marker.records) are pruned")
            }
            return removed
        }
    }

    /// Signs and writes a digest of the records since the previous one (the lock is held).
    private func writeDigest(_ s: inout State, now: Double) {
        guard let signer = digestSigner, var d = s.digests else { return }
        if d.write(end: s.count, lastHash: s.previousHash, now: now, signer: signer, policy: digestPolicy) {
            s.dirty = true  // the chain head records the digest count at the next fsync
        }
        s.digests = d
    }

    private func head(_ s: State) -> AuditChainHead {
        AuditChainHead(count: s.count, hash: Self.hex(s.previousHash), digests: s.digests?.count ?? 0)
    }

    /// Under the trail's lock (rotation): through a temporary file of its own, since the
    /// timer's `sync` may be writing its head at the same time.
    private func writeHead(_ s: State) {
        head(s).write(directory: directory, temporary: AuditChainHead.fileName + ".locked.tmp")
    }

    /// Closes the segment and begins the next. With `.always` the closed segment is fsynced
    /// here (`waitDurable` counts on it). With `.interval` its fsync, milliseconds of disk
    /// under the lock every event loop's write waits for, is left to the timer's `sync`
    /// within the interval, as for any other record; that sync also writes the chain head.
    private func rotate(_ s: inout State) {
        s.preallocation.trim(s.fd, size: s.size)
        if policy == .always {
            _ = fsync(s.fd)
            writeHead(s)
        }
        do {
            let fd = try AuditSegments.open(directory: directory, segment: s.segment + 1)
            if policy == .always { close(s.fd) } else { s.sealed.append(s.fd) }
            s.fd = fd
            s.segment += 1
            s.size = 0
        } catch {
            Console.error("kms: ERROR: cannot open the next audit segment: \(error); continuing in the current one")
        }
    }

    /// A successful cryptographic call becomes its keys' last use.
    private static func track(_ entry: AuditIndexEntry, _ tracker: KeyUsageTracker?) {
        guard let tracker, entry.succeeded, KeyUsageTracker.operations.contains(entry.eventName) else { return }
        tracker.record(keyArns: entry.resources, KeyLastUsage(operation: entry.eventName, time: entry.time,
                                                              cloudTrailEventId: entry.eventID, kmsRequestId: entry.requestID))
    }

    /// A written group's successful cryptographic calls as their keys' newest use, kept in
    /// the trail's state (under its lock) until the tracker reads: nothing is built for
    /// the tracker per call. The entries are read in place: a copy of each retained (and
    /// released) its strings, which both event loops share.
    /// (No closure over `entries`: through `forEachResource` each tracked entry was copied
    /// whole, a retain and release of each of its Strings.)
    private static func noteKeyUses(_ entries: [AuditIndexEntry], into s: inout State, _ tracker: KeyUsageTracker) {
        for i in entries.indices where entries[i].tracksKeyUsage {
            if let arn = entries[i].firstResource { noteKeyUse(arn, entries, i, into: &s, tracker) }
            for arn in entries[i].otherResources { noteKeyUse(arn, entries, i, into: &s, tracker) }
        }
    }

    private static func noteKeyUse(_ arn: String, _ entries: [AuditIndexEntry], _ i: Int, into s: inout State,
                                   _ tracker: KeyUsageTracker) {
        if let j = s.keyUses.firstIndex(where: { $0.arn == arn }) {
            guard s.keyUses[j].time <= entries[i].time else { return }
            s.keyUses[j].time = entries[i].time
            s.keyUses[j].operation = entries[i].eventName
            s.keyUses[j].eventID = entries[i].eventIDValue
            s.keyUses[j].requestID = entries[i].requestIDValue
            return
        }
        if s.keyUses.count >= pendingKeyUses { handOverKeyUses(&s, tracker) }
        s.keyUses.append(PendingKeyUse(arn: arn, time: entries[i].time, operation: entries[i].eventName,
                                       eventID: entries[i].eventIDValue, requestID: entries[i].requestIDValue))
    }

    /// Records the kept uses in the tracker (under the trail's lock, so that a reader never
    /// misses a use another reader has taken out but not yet recorded).
    private static func handOverKeyUses(_ s: inout State, _ tracker: KeyUsageTracker?) {
        guard let tracker, !s.keyUses.isEmpty else { return }
        for use in s.keyUses {
            tracker.record(keyArns: [use.arn], KeyLastUsage(operation: use.operation, time: use.time,
                                                            cloudTrailEventId: use.eventID.string,
                                                            kmsRequestId: use.requestID.string))
        }
        s.keyUses.removeAll(keepingCapacity: true)
    }

    /// Moves `entry` into the ring (the one it replaces comes back in `entry`): no copy,
    /// so no retain and release of each of its strings.
    private static func insert(_ entry: inout AuditIndexEntry, into s: inout State) {
        if s.index.count < indexCapacity {
            s.index.append(entry)
        } else {
            swap(&s.index[s.indexHead], &entry)
            s.indexHead = (s.indexHead + 1) % indexCapacity
        }
    }

    /// Index entries newest first, while `body` returns true.
    func forEachNewestFirst(_ body: (AuditIndexEntry) -> Bool) {
        state.withLock { s in
            let n = s.index.count
            guard n > 0 else { return }
            let newest = s.index.count < Self.indexCapacity ? n - 1 : (s.indexHead + n - 1) % n
            for i in 0..<n {
                if !body(s.index[(newest - i + n) % n]) { return }
            }
        }
    }

    /// The index entries of records `first...last` (their sequence numbers), oldest first,
    /// or nil unless the index still holds every one of them (the cluster shipper then
    /// parses their lines instead). One lock for the whole range.
    func indexEntries(_ first: Int, through last: Int) -> [AuditIndexEntry]? {
        guard first <= last else { return [] }
        return state.withLock { s -> [AuditIndexEntry]? in
            let n = s.index.count
            guard n > 0 else { return nil }
            let newest = n < Self.indexCapacity ? n - 1 : (s.indexHead + n - 1) % n
            let newestSequence = s.index[newest].sequence
            guard last <= newestSequence, newestSequence - first < n else { return nil }
            var out: [AuditIndexEntry] = []
            out.reserveCapacity(last - first + 1)
            for sequence in first...last {
                let entry = s.index[(newest - (newestSequence - sequence) + n) % n]
                guard entry.sequence == sequence else { return nil }
                out.append(entry)
            }
            return out
        }
    }

    /// How far the trail is written: the current segment, its size and the record count.
    /// Everything before it is whole, chained and handed to the OS (what the cluster
    /// shipper may read); a group being written or cut back after a failure lies beyond.
    func committedHorizon() -> AuditHorizon {
        state.withLock { AuditHorizon(segment: $0.segment, size: $0.size, count: $0.count) }
    }

    /// An event's line, read back from its segment.
    func line(of entry: AuditIndexEntry) -> String? {
        let fd = Glibc.open(AuditSegments.path(directory: directory, segment: entry.segment), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: entry.length)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, entry.length, off_t(entry.offset)) }
        guard n == entry.length else { return nil }
        return String(decoding: buffer, as: UTF8.self)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += n
            }
            return true
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func appendHex(_ bytes: [UInt8], into out: inout [UInt8]) {
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0xF)])
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        appendHex(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

public struct AuditError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The chain's head as of the last fsync: how many records the trail had and the hash of
/// the last one. Records cut from the end of the trail leave it pointing past the end.
struct AuditChainHead {
    let count: Int
    let hash: String
    /// Digest lines in digests.jsonl at that fsync: a digest removed from its end shows.
    var digests = 0

    static let fileName = "chain-head"

    func write(directory: String, temporary name: String = fileName + ".tmp") {
        let temporary = directory + "/" + name
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let ok = AuditLog.writeAll(fd, Array("\(count) \(hash) \(digests)\n".utf8)) && fsync(fd) == 0
        close(fd)
        if ok { rename(temporary, directory + "/" + Self.fileName) }
    }

    static func read(directory: String) -> AuditChainHead? {
        guard let text = try? String(contentsOfFile: directory + "/" + fileName, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2 || parts.count == 3, let count = Int(parts[0]) else { return nil }
        return AuditChainHead(count: count, hash: String(parts[1]), digests: parts.count == 3 ? Int(parts[2]) ?? 0 : 0)
    }
}
