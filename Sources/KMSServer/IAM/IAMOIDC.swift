import AWSQuery
import KMSCore

/// OpenID Connect identity providers, for STS's AssumeRoleWithWebIdentity. Server
/// extension: the tag `kms:jwks-file` names a JWKS file on the server (kept as
/// `IAMOIDCProvider.jwksFile`, not as a tag) so tokens verify without network access.
enum IAMOIDC {
    static let jwksFileTag = "kms:jwks-file"

    /// `https://oidc.example.com/path` → `oidc.example.com/path`, the ARN's resource part.
    static func providerPath(_ url: String) -> String {
        var u = Substring(url)
        if u.hasPrefix("https://") { u = u.dropFirst(8) }
        while u.hasSuffix("/") { u = u.dropLast() }
        return String(u)
    }

    static func notFound(_ arn: String) -> QueryError { IAMService.noSuch("OpenIDConnect Provider not found for arn \(arn)") }

    static func register(into t: inout [String: IAMService.Entry]) {
        let oidc = IAMService.oidcResource

        t["CreateOpenIDConnectProvider"] = .init(resource: oidc) { s, p, c throws(QueryError) in
            let url = IAMService.str(p, "Url")
            guard url.hasPrefix("https://"), providerPath(url).count > 0 else {
                throw IAMService.invalid("Invalid Openid Connect Provider URL: \(url)")
            }
            let clientIds = (p["ClientIDList"]?.arrayValue ?? []).compactMap(\.stringValue)
            let thumbprints = (p["ThumbprintList"]?.arrayValue ?? []).compactMap(\.stringValue)
            var tags = IAMNames.tags(p["Tags"])
            let jwks = tags.first { $0.key == jwksFileTag }?.value
            tags.removeAll { $0.key == jwksFileTag }
            if let jwks, !jwks.hasPrefix("/") { throw IAMService.invalid("The \(jwksFileTag) tag must be an absolute path.") }
            let arn = "arn:aws:iam::\(c.account):oidc-provider/" + providerPath(url)
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.oidcProviders[arn] == nil else { throw IAMService.exists("Provider with url \(url) already exists.") }
                var merged: [IAMTag] = []
                try IAMNames.merge(tags, into: &merged)
                a.oidcProviders[arn] = IAMOIDCProvider(arn: arn, url: url, clientIds: clientIds, thumbprints: thumbprints,
                                                       createDate: s.now(), tags: merged, jwksFile: jwks)
                var out = JSONObject([("OpenIDConnectProviderArn", .string(arn))])
                if !merged.isEmpty { out["Tags"] = IAMNames.json(merged) }
                return out
            }
        }
        t["GetOpenIDConnectProvider"] = .init(resource: oidc) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "OpenIDConnectProviderArn")
            guard let o = s.registry.account(c.account).oidcProviders[arn] else { throw notFound(arn) }
            var out = JSONObject([("Url", .string(providerPath(o.url))), ("ClientIDList", .array(o.clientIds.map(JSONValue.string))),
                                  ("ThumbprintList", .array(o.thumbprints.map(JSONValue.string))), ("CreateDate", JSONValue(o.createDate))])
            if !o.tags.isEmpty { out["Tags"] = IAMNames.json(o.tags) }
            return out
        }
        t["ListOpenIDConnectProviders"] = .init(resource: IAMService.anyResource) { s, _, c throws(QueryError) in
            let arns = s.registry.account(c.account).oidcProviders.keys.sorted()
            return JSONObject([("OpenIDConnectProviderList", .array(arns.map { .object(JSONObject([("Arn", .string($0))])) }))])
        }
        t["DeleteOpenIDConnectProvider"] = .init(resource: oidc) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "OpenIDConnectProviderArn")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.oidcProviders[arn] != nil else { throw notFound(arn) }
                a.oidcProviders[arn] = nil
                return JSONObject()
            }
        }
    }
}
