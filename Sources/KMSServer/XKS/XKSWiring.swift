import KMSCore

/// Gives the service its XKS proxy client (HTTPS, the configured CAs and deadline) and the
/// PKCS#11 tokens that stand for CloudHSM clusters.
enum XKSWiring {
    static func configure(_ service: KMSService, _ config: ServerConfiguration) throws {
        var connectTo: [String: (host: String, port: Int)] = [:]
        for (name, target) in config.xksProxyConnectTo {
            guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]) else {
                throw TLSSetupError("--xks-proxy-connect-to takes NAME=HOST:PORT")
            }
            connectTo[name.lowercased()] = (String(target[..<colon]), port)
        }
        guard (config.xksProxyClientCertificate == nil) == (config.xksProxyClientKey == nil) else {
            throw TLSSetupError("--xks-proxy-client-cert and --xks-proxy-client-key go together")
        }
        let transport = try XKSHTTPSTransport(caFile: config.xksProxyCAFile, connectTo: connectTo,
                                              clientCertificate: config.xksProxyClientCertificate, clientKey: config.xksProxyClientKey)
        service.customKeyStores.configure(client: XKSProxyClient(transport: transport,
                                                                 timeout: .milliseconds(config.xksProxyTimeoutMilliseconds)))
        service.customKeyStores.configure(clusters: config.pkcs11Clusters)
        service.customKeyStores.configure(connector: PKCS11ClusterConnector())
    }
}
