/// TagResource, UntagResource, ListResourceTags.
enum TagRules {
    /// AWS allows 50 tags per key.
    static let maxTags = 50

    /// Parses a Tags member and merges it over `existing` (a given key replaces its stored
    /// value). As AWS: a key twice in one request, more than 50 tags, or a key beginning
    /// with `aws:` in any letter case is a TagException.
    static func validated(_ value: JSONValue?, existing: [Tag]) throws(KMSError) -> [Tag] {
        var tags = existing
        let items = value?.arrayValue ?? []
        if items.count > maxTags { throw KMSError(.tag, "Too many tags") }
        var given = Set<String>()
        for item in items {
            guard let o = item.objectValue, let k = o["TagKey"]?.stringValue, let v = o["TagValue"]?.stringValue else { continue }
            if k.utf8.count >= 4, k.prefix(4).lowercased() == "aws:" {
                throw KMSError(.tag, "Tags beginning with aws: are reserved")
            }
            guard given.insert(k).inserted else { throw KMSError(.tag, "Duplicate tag keys") }
            if let i = tags.firstIndex(where: { $0.key == k }) { tags[i].value = v } else { tags.append(Tag(key: k, value: v)) }
        }
        if tags.count > maxTags { throw KMSError(.tag, "Too many tags") }
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
