import Foundation
import KMSCore

/// A grant's row: the columns lookups filter on, plus the whole grant as JSON (so new grant
/// fields need no column migration). Grants carry no secret: nothing is sealed.
enum StoredGrant {
    static func encode(_ grant: KMSGrant) throws -> String {
        var g = grant
        g.storeVersion = 0  // the row's version column is the truth
        return String(decoding: try JSONEncoder().encode(g), as: UTF8.self)
    }

    static func decode(_ json: String, version: Int64) throws -> KMSGrant {
        var g = try JSONDecoder().decode(KMSGrant.self, from: Data(json.utf8))
        g.storeVersion = version
        return g
    }
}
