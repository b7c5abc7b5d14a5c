import KMSCore

extension AuditRecord {
    /// An assumed-role session's userIdentity as CloudTrail records it: the session's ARN and
    /// principal ID (AROA...:session), its temporary access key ID, and the role that issued
    /// it (sessionContext.sessionIssuer). Never the secret or the session token. Returns the
    /// session name, the event's user name for LookupEvents.
    static func writeAssumedRoleIdentity(_ caller: Caller, roleArn: String, into out: inout [UInt8]) -> String {
        let p = caller.principal
        let session = p.arn.split(separator: "/").last.map(String.init) ?? p.arn
        let roleName = roleArn.split(separator: "/").last.map(String.init) ?? roleArn
        let roleId = p.userId?.split(separator: ":").first.map(String.init) ?? ""
        out.append(contentsOf: #"{"type":"AssumedRole","principalId":"#.utf8)
        JSONWriter.writeString(p.userId ?? caller.accessKeyId, into: &out)
        out.append(contentsOf: #","arn":"#.utf8)
        JSONWriter.writeString(caller.principalArn, into: &out)
        out.append(contentsOf: #","accountId":"#.utf8)
        JSONWriter.writeString(caller.account, into: &out)
        out.append(contentsOf: #","accessKeyId":"#.utf8)
        JSONWriter.writeString(caller.accessKeyId, into: &out)
        out.append(contentsOf: #","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"#.utf8)
        JSONWriter.writeString(roleId, into: &out)
        out.append(contentsOf: #","arn":"#.utf8)
        JSONWriter.writeString(roleArn, into: &out)
        out.append(contentsOf: #","accountId":"#.utf8)
        JSONWriter.writeString(caller.account, into: &out)
        out.append(contentsOf: #","userName":"#.utf8)
        JSONWriter.writeString(roleName, into: &out)
        out.append(contentsOf: #"},"attributes":{"mfaAuthenticated":"false"}}}"#.utf8)
        return session
    }
}
