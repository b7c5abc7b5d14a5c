/// TagResource, UntagResource, ListResourceTags.
enum TagRules {
    /// AWS allows 50 tags per key.
    static let maxTags = 50

    /// Parses a Tags member and merges it over `existing`; a later value for a key wins.
    static func validated(_ value: JSONValue?, existing: [Tag]) throws(KMSError) -> [Tag] {
        var tags = existing
        for item in value?.arrayValue ?? [] {
            guard let o = item.objectValue, let k = o["TagKey"]?.stringValue, let v = o["TagValue"]?.stringValue else { continue }
            if k.hasPrefix("aws:") {
                throw KMSError(.tag, "Tags beginning with aws: are reserved")
            }
            if let i = tags.firstIndex(where: { $0.key == k }) { tags[i].value = v } else { tags.append(Tag(key: k, value: v)) }
        }
        if tags.count > maxTags {
            throw KMSError(.limitExceeded, "The request was rejected because the number of tags exceeds the limit of \(maxTags).")
        }
        return tags
    }
}

extension KMSService {
    func tagResource(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, caller: caller)
            try requireNotPendingDeletion(key)
            key.tags = try TagRules.validated(request.object["Tags"], existing: key.tags)
            return ((), [.putKey(key)])
        }
        return JSONObject()
    }

    func untagResource(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let remove = Set(request.stringList("TagKeys") ?? [])
        try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, caller: caller)
            try requireNotPendingDeletion(key)
            key.tags.removeAll { remove.contains($0.key) }
            return ((), [.putKey(key)])
        }
        return JSONObject()
    }

    func listResourceTags(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try authorizedKey(request, caller: caller)
        let tags = key.tags.sorted { $0.key < $1.key }
        let page = try Page.of(tags, key: \.key, request: request, defaultLimit: 50)
        var out = JSONObject()
        out["Tags"] = .array(page.items.map(\.json))
        page.add(to: &out)
        return out
    }
}
