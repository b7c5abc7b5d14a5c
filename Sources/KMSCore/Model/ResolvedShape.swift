/// A model shape with its member shapes linked in, built once per process from
/// `KMSModel.shapes`. Validation walks these references instead of looking each member's
/// shape up by name (a string hash per member per request).
final class ResolvedShape: Sendable {
    struct Member: Sendable {
        let name: String
        /// The member's name as AWS writes it in validation messages (lower-case first letter).
        let wireLabel: String
        let required: Bool
        /// nil only if the model names a shape it does not define.
        let shape: ResolvedShape?
    }

    /// The model's own description: kind and constraints.
    let model: ModelShape
    let members: [Member]
    let member: ResolvedShape?
    let key: ResolvedShape?
    let value: ResolvedShape?

    private init(_ shape: ModelShape, resolve: (String) -> ResolvedShape?) {
        model = shape
        members = shape.members.map { Member(name: $0.name, wireLabel: $0.wireLabel, required: $0.required, shape: resolve($0.shape)) }
        member = shape.member.flatMap(resolve)
        key = shape.key.flatMap(resolve)
        value = shape.value.flatMap(resolve)
    }

    /// Every shape of the model, resolved. The KMS model has no recursive input shapes;
    /// a cycle would stop at `maxDepth` with the deeper reference left unresolved.
    static let all: [String: ResolvedShape] = {
        var done: [String: ResolvedShape] = [:]
        let maxDepth = 16
        func resolve(_ name: String, depth: Int) -> ResolvedShape? {
            if let hit = done[name] { return hit }
            guard depth < maxDepth, let shape = KMSModel.shapes[name] else { return nil }
            let resolved = ResolvedShape(shape) { resolve($0, depth: depth + 1) }
            done[name] = resolved
            return resolved
        }
        for name in KMSModel.shapes.keys { _ = resolve(name, depth: 0) }
        return done
    }()
}

/// What the pipeline needs to know about an operation name, found with one lookup: its
/// input shape and, when this server implements it, its handler.
public struct OperationSpec: Sendable {
    public let name: String
    let input: ResolvedShape?
    let entry: KMSService.Operation?

    /// Whether the server must run it off the event loop (disk writes, key-pair generation).
    public var blocking: Bool { entry?.blocking ?? false }

    /// Every operation of the model; nil for a name the model does not have.
    public static func named(_ name: String) -> OperationSpec? { table[name] }

    static let table: [String: OperationSpec] = {
        var table: [String: OperationSpec] = [:]
        for (name, input) in KMSModel.operationInputs {
            table[name] = OperationSpec(name: name, input: input.flatMap { ResolvedShape.all[$0] }, entry: KMSService.operations[name])
        }
        return table
    }()
}
