extension KeyPolicy {
    /// IAM users and roles, and role sessions: the principals that must exist.
    public static func names(_ arn: String) -> Bool {
        (arn.hasPrefix("arn:aws:iam::") && (arn.contains(":user/") || arn.contains(":role/")))
            || (arn.hasPrefix("arn:aws:sts::") && arn.contains(":assumed-role/"))
    }
}
