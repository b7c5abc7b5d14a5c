/// Limit/Marker paging as AWS list operations do it: the marker is the sort key of the
/// last item returned, so pages stay stable while items are added.
struct Page<T> {
    let items: [T]
    let nextMarker: String?

    /// Markers are opaque to clients, as AWS's are; one the server did not issue is refused.
    static var markerPrefix: String { "kms1:" }

    /// The sort key a request's Marker names, nil without one; refused when not ours.
    static func markerValue(_ request: KMSRequest) throws(KMSError) -> String? {
        guard let marker = request.string("Marker") else { return nil }
        guard marker.hasPrefix(markerPrefix), let bytes = Base64.decode(String(marker.dropFirst(markerPrefix.count))),
              let last = String(validating: bytes, as: UTF8.self) else {
            throw KMSError(.invalidMarker, "The marker \(marker) is not valid.")
        }
        return last
    }

    static func of(_ sorted: [T], key: (T) -> String, request: KMSRequest, defaultLimit: Int = 100,
                   maxLimit: Int = Int.max) throws(KMSError) -> Page<T> {
        let limit = min(request.int("Limit") ?? defaultLimit, maxLimit)
        var start = 0
        if let marker = request.string("Marker") {
            guard marker.hasPrefix(markerPrefix), let bytes = Base64.decode(String(marker.dropFirst(markerPrefix.count))),
                  let last = String(validating: bytes, as: UTF8.self) else {
                throw KMSError(.invalidMarker, "The marker \(marker) is not valid.")
            }
            start = sorted.firstIndex { key($0) > last } ?? sorted.count
        }
        let end = min(sorted.count, start + limit)
        let items = Array(sorted[start..<end])
        let next = end < sorted.count ? items.last.map { markerPrefix + Base64.encode(Array(key($0).utf8)) } : nil
        return Page(items: items, nextMarker: next)
    }

    func add(to object: inout JSONObject) {
        if let nextMarker {
            object["NextMarker"] = .string(nextMarker)
            object["Truncated"] = .bool(true)
        } else {
            object["Truncated"] = .bool(false)
        }
    }
}
