import KMSCore
import SigV4

/// The regions a deployment serves (`--regions`, KMS_REGIONS, the config file's kms.regions).
/// A request signed for any other region is refused at authentication, before its body is
/// read, with the answer AWS gives a credential scoped to a region the endpoint does not
/// serve (InvalidSignatureException, "Credential should be scoped to a valid region"): a
/// client cannot reach an AWS Region that does not exist, and an endpoint of one Region
/// refuses a request signed for another this way.
public enum ServedRegions {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// "us-east-1,eu-west-1" → the set; every name must be a valid region name.
    public static func parse(_ list: String) throws(Invalid) -> Set<String> {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw Invalid(description: "--regions names no region") }
        for name in names where !RegionName.isValid(name) {
            throw Invalid(description: "--regions: '\(name)' is not a region name (e.g. us-east-1)")
        }
        return Set(names)
    }
}

extension Authenticator {
    /// KMS and CloudTrail requests signed for a region outside `regions` are refused (nil: any valid region).
    mutating func serve(regions: Set<String>?) {
        verifier.regions = regions
        cloudTrailVerifier.regions = regions
    }
}

extension QueryService {
    /// A regional query service (STS) refuses the regions this deployment does not serve.
    /// IAM is global (signed for us-east-1 whatever the deployment serves) and keeps its check.
    func serving(regions: Set<String>?) -> QueryService {
        var copy = self
        if copy.verifier.region == nil { copy.verifier.regions = regions }
        return copy
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
