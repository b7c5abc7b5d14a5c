// The edwards25519 group -x^2 + y^2 = 1 + d x^2 y^2 in extended coordinates
// (Hisil-Wong-Carter-Dawson 2008), with RFC 8032 point encoding.

/// A point (X:Y:Z:T) with x = X/Z, y = Y/Z, xy = T/Z.
struct EdwardsPoint: Sendable {
    var x: FieldElement
    var y: FieldElement
    var z: FieldElement
    var t: FieldElement

    static let identity = EdwardsPoint(x: .zero, y: .one, z: .one, t: .zero)

    /// The RFC 8032 base point B (y = 4/5, x even).
    static let base: EdwardsPoint = {
        let x = FieldElement(bytes: hexBytes("1ad5258f602d56c9b2a7259560c72c695cdcd6fd31e2a4c0fe536ecdd3366921"))
        let y = FieldElement(bytes: hexBytes("5866666666666666666666666666666666666666666666666666666666666666"))
        return EdwardsPoint(x: x, y: y, z: .one, t: x * y)
    }()

    /// RFC 8032 5.1.3 decoding. Rejects non-canonical y (>= p), x = 0 with the sign bit set,
    /// and y values with no x on the curve.
    init?(encoded bytes: [UInt8]) {
        guard bytes.count == 32, FieldElement.isCanonicalEncoding(bytes) else { return nil }
        let y = FieldElement(bytes: bytes)
        let signBit = bytes[31] >> 7
        // x^2 = u/v with u = y^2 - 1, v = d y^2 + 1; candidate x = u v^3 (u v^7)^((p-5)/8).
        let yy = y.squared()
        let u = yy - .one
        let v = FieldElement.d * yy + .one
        let v3 = v.squared() * v
        let v7 = v3.squared() * v
        var x = u * v3 * (u * v7).powP58()
        let check = v * x.squared()
        if check.isEqual(to: u) {
            // x is a square root already.
        } else if check.isEqual(to: -u) {
            x = x * FieldElement.sqrtMinusOne
        } else {
            return nil
        }
        if x.isZero && signBit == 1 { return nil }
        if (x.isNegative ? 1 : 0) != signBit { x = -x }
        self.init(x: x, y: y, z: .one, t: x * y)
    }

    init(x: FieldElement, y: FieldElement, z: FieldElement, t: FieldElement) {
        (self.x, self.y, self.z, self.t) = (x, y, z, t)
    }

    /// RFC 8032 5.1.2 encoding: y with the low bit of x in the top bit.
    func encoded() -> [UInt8] {
        let zInverse = z.inverted()
        let affineX = x * zInverse
        var bytes = (y * zInverse).encoded()
        bytes[31] |= affineX.isNegative ? 0x80 : 0
        return bytes
    }

    var negated: EdwardsPoint { EdwardsPoint(x: -x, y: y, z: z, t: -t) }

    /// dbl-2008-hwcd for a = -1, in ref10's sign convention.
    func doubled() -> EdwardsPoint {
        let xx = x.squared()
        let yy = y.squared()
        let zz = z.squared()
        let e = (x + y).squared() - (yy + xx)
        let h = yy + xx
        let g = yy - xx
        let f = (zz + zz) - g
        return EdwardsPoint(x: e * f, y: h * g, z: g * f, t: e * h)
    }

    /// add-2008-hwcd-3: a complete addition law on this curve, so no special cases.
    static func + (p: EdwardsPoint, q: CachedPoint) -> EdwardsPoint {
        let a = (p.y - p.x) * q.yMinusX
        let b = (p.y + p.x) * q.yPlusX
        let c = p.t * q.t2d
        let zz = p.z * q.z
        let d = zz + zz
        return completed(a: a, b: b, c: c, d: d)
    }

    /// Mixed addition with an affine point (Z = 1), saving a multiplication.
    static func + (p: EdwardsPoint, q: AffineNielsPoint) -> EdwardsPoint {
        let a = (p.y - p.x) * q.yMinusX
        let b = (p.y + p.x) * q.yPlusX
        let c = p.t * q.xy2d
        let d = p.z + p.z
        return completed(a: a, b: b, c: c, d: d)
    }

    @inline(__always)
    private static func completed(a: FieldElement, b: FieldElement, c: FieldElement, d: FieldElement) -> EdwardsPoint {
        let e = b - a
        let f = d - c
        let g = d + c
        let h = b + a
        return EdwardsPoint(x: e * f, y: g * h, z: f * g, t: e * h)
    }

    var cached: CachedPoint {
        CachedPoint(yPlusX: y + x, yMinusX: y - x, z: z, t2d: t * FieldElement.d2)
    }

    var affineNiels: AffineNielsPoint {
        let zInverse = z.inverted()
        let ax = x * zInverse
        let ay = y * zInverse
        return AffineNielsPoint(yPlusX: ay + ax, yMinusX: ay - ax, xy2d: ax * ay * FieldElement.d2)
    }
}

/// A point prepared as an addend: (Y+X, Y-X, Z, 2dT).
struct CachedPoint: Sendable {
    var yPlusX: FieldElement
    var yMinusX: FieldElement
    var z: FieldElement
    var t2d: FieldElement
}

/// An affine point prepared as an addend: (y+x, y-x, 2dxy).
struct AffineNielsPoint: Sendable {
    var yPlusX: FieldElement
    var yMinusX: FieldElement
    var xy2d: FieldElement

    static let identity = AffineNielsPoint(yPlusX: .one, yMinusX: .one, xy2d: .zero)

    /// -P swaps y+x with y-x and negates 2dxy.
    var negated: AffineNielsPoint { AffineNielsPoint(yPlusX: yMinusX, yMinusX: yPlusX, xy2d: -xy2d) }

    @inline(__always)
    static func select(_ a: AffineNielsPoint, _ b: AffineNielsPoint, choice: UInt64) -> AffineNielsPoint {
        AffineNielsPoint(
            yPlusX: .select(a.yPlusX, b.yPlusX, choice: choice),
            yMinusX: .select(a.yMinusX, b.yMinusX, choice: choice),
            xy2d: .select(a.xy2d, b.xy2d, choice: choice))
    }
}
