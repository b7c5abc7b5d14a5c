import ArgumentParser
import KMSServer

/// `kms bench-pipeline`: nanoseconds per request through the pipeline, no sockets.
struct BenchPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-pipeline", abstract: "Time the request pipeline alone for Encrypt, Decrypt or GenerateDataKey.")

    @Option(help: "Encrypt, Decrypt or GenerateDataKey.") var operation = "Encrypt"
    @Option(help: "Requests to time.") var iterations = 200_000

    func run() throws {
        let (ns, status) = try PipelineBenchmark.run(operation: operation, iterations: iterations)
        print("\(operation): \(Int(ns)) ns/request (HTTP status \(status)), \(Int(1e9 / ns)) requests/s on one core")
    }
}
