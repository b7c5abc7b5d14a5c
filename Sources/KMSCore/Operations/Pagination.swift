/// Limit/Marker paging as AWS list operations do it: the marker is the sort key of the
/// last item returned, so pages stay stable while items are added.
struct Page<T> {
    let items: [T]
    let nextMarker: String?

    static func of(_ sorted: [T], key: (T) -> String, request: KMSRequest, defaultLimit: Int = 100) -> Page<T> {
        let limit = request.int("Limit") ?? defaultLimit
        var start = 0
        if let marker = request.string("Marker") {
            start = sorted.firstIndex { key($0) > marker } ?? sorted.count
        }
        let end = min(sorted.count, start + limit)
        let items = Array(sorted[start..<end])
        let next = end < sorted.count ? items.last.map(key) : nil
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
