extension Caller {
    /// The same caller, marked with how its request arrived (aws:SecureTransport). The
    /// server knows the transport, the authenticator does not.
    public func overTransport(secure: Bool) -> Caller {
        guard secure != secureTransport else { return self }
        return Caller(account: account, region: region, accessKeyId: accessKeyId, principalArn: principalArn,
                      sourceIP: sourceIP, userAgent: userAgent, principal: principal,
                      identityPolicies: identityPolicies, sessionPolicies: sessionPolicies, secureTransport: secure,
                      viaService: viaService, invokedBy: invokedBy)
    }
}
