/// The audit trail's lines of /metrics: records written and refused on this node and, on
/// PostgreSQL, how far the cluster trail lags behind this node's files (issue 11 §2: any
/// node finds the whole trail within 5 s; this is what tells an operator it does not).
enum AuditMetrics {
    static func exposition(audit: AuditLog?, shipper: AuditClusterShipper?) -> [UInt8] {
        guard let audit else { return [] }
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        let horizon = audit.committedHorizon()
        metric("kms_audit_records", "gauge", "Records in this node's audit chain (written and handed to the OS).", "\(horizon.count)")
        metric("kms_audit_write_failures_total", "counter",
               "Audit events that could not be written (their requests were answered with an internal error).",
               "\(audit.writeFailures)")
        if let shipper {
            let lag = shipper.lag()
            let shipping = shipper.shipping
            metric("kms_audit_shipper_lag_records", "gauge",
                   "Records of this node's trail not yet in the cluster trail (PostgreSQL).", "\(lag.records)")
            metric("kms_audit_shipper_lag_seconds", "gauge",
                   "Upper bound on how long the oldest record not yet in the cluster trail has waited (0: none waits).",
                   "\(lag.seconds)")
            metric("kms_audit_shipper_records_total", "counter", "Records this process shipped to the cluster trail.",
                   "\(shipping.records)")
            metric("kms_audit_shipper_encode_cpu_seconds_total", "counter",
                   "CPU time of the shipper's thread turning records into rows (PostgreSQL's wire work is not counted).",
                   "\(shipping.encodeSeconds)")
        }
        return Array(text.utf8)
    }
}
