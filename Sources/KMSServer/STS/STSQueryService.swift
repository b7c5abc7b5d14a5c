import AWSQuery
import Foundation
import IAMPolicy
import KMSCore
import STS

/// STS on the query-protocol layer: its operations over STSService, the caller as the
/// authenticator established it, and the audit allow-lists (never a secret, token or JWT).
enum STSQueryService {
    static func make(model: QueryServiceModel, sts: STSWiring) -> QueryService {
        let service = sts.service, clock = sts.clock, sessions = sts.sessions
        @Sendable func caller(_ call: QueryCall) throws(QueryError) -> STSCaller {
            try Self.caller(call, sessions: sessions)
        }
        let operations: [String: QueryOperation] = [
            "GetCallerIdentity": QueryOperation(blocking: false) { call throws(QueryError) in
                let id = service.getCallerIdentity(try caller(call))
                return JSONObject([("UserId", .string(id.userId)), ("Account", .string(id.account)), ("Arn", .string(id.arn))])
            },
            "GetAccessKeyInfo": QueryOperation(blocking: false) { call throws(QueryError) in
                let id = call.parameters["AccessKeyId"]?.stringValue ?? ""
                guard let account = service.getAccessKeyInfo(id) else {
                    throw QueryError("InvalidClientTokenId", SessionTokenError.invalidMessage, status: 403)
                }
                return JSONObject([("Account", .string(account))])
            },
            "GetSessionToken": QueryOperation(blocking: false) { call throws(QueryError) in
                let p = call.parameters
                let c = try caller(call)
                let creds = try mapped { () throws(STSError) in
                    try service.getSessionToken(c, durationSeconds: p["DurationSeconds"]?.intValue, now: clock.now())
                }
                return JSONObject([("Credentials", .object(credentials(creds)))])
            },
            // Off the event loop: a cluster node reads the role from the store (read-your-writes).
            "AssumeRole": QueryOperation(blocking: true) { call throws(QueryError) in
                let p = call.parameters
                var r = AssumeRoleRequest(roleArn: p["RoleArn"]?.stringValue ?? "",
                                          roleSessionName: p["RoleSessionName"]?.stringValue ?? "",
                                          durationSeconds: p["DurationSeconds"]?.intValue,
                                          externalId: p["ExternalId"]?.stringValue, policy: p["Policy"]?.stringValue,
                                          policyArns: policyArns(p), sourceIdentity: p["SourceIdentity"]?.stringValue)
                r.tags = (p["Tags"]?.arrayValue ?? []).compactMap { t in
                    guard let o = t.objectValue, let k = o["Key"]?.stringValue else { return nil }
                    return (k, o["Value"]?.stringValue ?? "")
                }
                let c = try caller(call)
                let result = try mapped { () throws(STSError) in try service.assumeRole(c, r, now: clock.now()) }
                return assumed(result, webIdentity: false)
            },
            "AssumeRoleWithWebIdentity": QueryOperation(authentication: .anonymous, blocking: true) { call throws(QueryError) in
                let p = call.parameters
                let r = AssumeRoleWithWebIdentityRequest(roleArn: p["RoleArn"]?.stringValue ?? "",
                                                         roleSessionName: p["RoleSessionName"]?.stringValue ?? "",
                                                         webIdentityToken: p["WebIdentityToken"]?.stringValue ?? "",
                                                         durationSeconds: p["DurationSeconds"]?.intValue,
                                                         policy: p["Policy"]?.stringValue, policyArns: policyArns(p))
                let now = clock.now()
                // The handler runs on a blocking-queue thread: waiting there for the JWT
                // library's actor is safe (it is not an event loop nor the concurrency pool).
                let result = try mapped { () throws(STSError) in
                    try BlockingAwait.run { () async throws(STSError) in try await service.assumeRoleWithWebIdentity(r, now: now) }
                }
                return assumed(result, webIdentity: true)
            },
        ]
        return QueryService(model: model, signingRegion: nil, operations: operations,
                            auditRequestMembers: [
                                "AssumeRole": ["RoleArn", "RoleSessionName", "DurationSeconds", "ExternalId", "SourceIdentity", "PolicyArns"],
                                "AssumeRoleWithWebIdentity": ["RoleArn", "RoleSessionName", "DurationSeconds", "PolicyArns"],
                                "GetSessionToken": ["DurationSeconds"],
                                "GetAccessKeyInfo": ["AccessKeyId"],
                            ],
                            auditResponseMembers: [
                                "AssumeRole": ["AssumedRoleUser", "PackedPolicySize", "SourceIdentity"],
                                "AssumeRoleWithWebIdentity": ["AssumedRoleUser", "SubjectFromWebIdentityToken", "Provider", "Audience"],
                                "GetCallerIdentity": ["UserId", "Account", "Arn"],
                                "GetAccessKeyInfo": ["Account"],
                            ])
    }

    static func caller(_ call: QueryCall, sessions: SessionCredentialVerifier) throws(QueryError) -> STSCaller {
        guard let c = call.caller else { throw QueryError.internalFailure }
        return STSCaller(principal: c.principal, accessKeyId: c.accessKeyId, identityPolicies: c.identityPolicies,
                         sessionPolicies: c.sessionPolicies, session: sessions.session(of: c), sourceIP: call.sourceIP)
    }

    static func policyArns(_ p: JSONObject) -> [String]? {
        guard let list = p["PolicyArns"]?.arrayValue else { return nil }
        return list.compactMap { $0.objectValue?["arn"]?.stringValue }
    }

    static func credentials(_ c: STSCredentials) -> JSONObject {
        JSONObject([("AccessKeyId", .string(c.accessKeyId)), ("SecretAccessKey", .string(c.secretAccessKey)),
                    ("SessionToken", .string(c.sessionToken)), ("Expiration", JSONValue(c.expiration))])
    }

    static func assumed(_ r: AssumedRoleResult, webIdentity: Bool) -> JSONObject {
        var o = JSONObject([
            ("Credentials", .object(credentials(r.credentials))),
            ("AssumedRoleUser", .object(JSONObject([("AssumedRoleId", .string(r.assumedRoleId)), ("Arn", .string(r.arn))]))),
        ])
        if let size = r.packedPolicySize { o["PackedPolicySize"] = JSONValue(size) }
        if let s = r.sourceIdentity { o["SourceIdentity"] = .string(s) }
        if webIdentity {
            if let s = r.subjectFromWebIdentityToken { o["SubjectFromWebIdentityToken"] = .string(s) }
            if let s = r.provider { o["Provider"] = .string(s) }
            if let s = r.audience { o["Audience"] = .string(s) }
        }
        return o
    }

    static func mapped<T>(_ body: () throws(STSError) -> T) throws(QueryError) -> T {
        do { return try body() } catch { throw QueryError(error.code, error.message, status: error.httpStatus) }
    }
}
