extension Caller {
    /// The same caller, its request forwarded by the trusted service `name` (already
    /// verified by the server): authorized as itself, with kms:ViaService
    /// "NAME.REGION.amazonaws.com" and audited with invokedBy "NAME.amazonaws.com".
    public func acting(through name: String) -> Caller {
        Caller(account: account, region: region, accessKeyId: accessKeyId, principalArn: principalArn,
               sourceIP: sourceIP, userAgent: userAgent, principal: principal,
               identityPolicies: identityPolicies, sessionPolicies: sessionPolicies, secureTransport: secureTransport,
               viaService: "\(name).\(region).amazonaws.com", invokedBy: "\(name).amazonaws.com")
    }
}
