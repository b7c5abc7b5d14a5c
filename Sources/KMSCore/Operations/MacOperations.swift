/// GenerateMac and VerifyMac with HMAC keys.
extension KMSService {
    func macRequest(_ request: KMSRequest, key: KMSKey) throws(KMSError) -> (MacAlgorithm, [UInt8]) {
        guard let algorithm = MacAlgorithm(rawValue: try request.required("MacAlgorithm")) else {
            throw KMSError(.validation, "Unknown MacAlgorithm.")
        }
        guard key.keySpec.macAlgorithms.contains(algorithm) else {
            throw KMSError(.invalidKeyUsage, "Algorithm \(algorithm.rawValue) is incompatible with key spec \(key.keySpec.rawValue).")
        }
        guard let material = key.currentMaterial else { throw KMSError.internalError }
        return (algorithm, material.secret)
    }

    func generateMac(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try usableKey(request, caller: caller, usage: .generateVerifyMac, operation: "GenerateMac")
        let (algorithm, secret) = try macRequest(request, key: key)
        try dryRunCheck(request)
        let mac: [UInt8]
        do {
            mac = try HMACKey.mac(spec: key.keySpec, algorithm: algorithm, key: secret, message: request.blob("Message") ?? [])
        } catch {
            throw KMSError(crypto: error)
        }
        return JSONObject([("Mac", .string(Base64.encode(mac))), ("MacAlgorithm", .string(algorithm.rawValue)), ("KeyId", .string(key.arn))])
    }

    func verifyMac(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try usableKey(request, caller: caller, usage: .generateVerifyMac, operation: "VerifyMac")
        let (algorithm, secret) = try macRequest(request, key: key)
        try dryRunCheck(request)
        let valid: Bool
        do {
            valid = try HMACKey.verify(spec: key.keySpec, algorithm: algorithm, key: secret,
                                       message: request.blob("Message") ?? [], mac: request.blob("Mac") ?? [])
        } catch {
            throw KMSError(crypto: error)
        }
        guard valid else { throw KMSError(.kmsInvalidMac, nil) }
        return JSONObject([("KeyId", .string(key.arn)), ("MacValid", .bool(true)), ("MacAlgorithm", .string(algorithm.rawValue))])
    }
}
