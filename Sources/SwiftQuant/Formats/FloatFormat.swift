// The small float formats (FP8, FP6, FP4) as ONNX QuantizeLinear / DequantizeLinear and the OCP MX v1.0
// elements define them: the format parameters, the reference conversion from float32 (round to nearest
// even, ONNX's saturate rule) and the decode tables. The SIMD kernels are tested bit for bit against these.

/// A sign-exponent-mantissa format of at most 8 bits. The raw values are the header's sq_dtype codes.
enum FloatFormat: Int32, CaseIterable {
    case e4m3fn = 6, e4m3fnuz = 7, e5m2 = 8, e5m2fnuz = 9, e2m1 = 10, e3m2 = 11, e2m3 = 12

    var name: String {
        switch self {
        case .e4m3fn: "float8_e4m3fn"
        case .e4m3fnuz: "float8_e4m3fnuz"
        case .e5m2: "float8_e5m2"
        case .e5m2fnuz: "float8_e5m2fnuz"
        case .e2m1: "float4_e2m1"
        case .e3m2: "float6_e3m2"
        case .e2m3: "float6_e2m3"
        }
    }

    var exponentBits: Int {
        switch self {
        case .e4m3fn, .e4m3fnuz: 4
        case .e5m2, .e5m2fnuz: 5
        case .e2m1, .e2m3: 2
        case .e3m2: 3
        }
    }

    var mantissaBits: Int {
        switch self {
        case .e4m3fn, .e4m3fnuz, .e2m3: 3
        case .e5m2, .e5m2fnuz, .e3m2: 2
        case .e2m1: 1
        }
    }

    /// Bits per code, sign included; the sign is the top bit.
    var bits: Int { 1 + exponentBits + mantissaBits }

    /// FNUZ ("finite, no negative zero"): one NaN (the code with only the sign bit set), no infinities,
    /// no -0, and an exponent bias one larger than IEEE's.
    var isFNUZ: Bool { self == .e4m3fnuz || self == .e5m2fnuz }

    var bias: Int { (1 << (exponentBits - 1)) - 1 + (isFNUZ ? 1 : 0) }

    /// Only E5M2 has infinities (IEEE-like: all-ones exponent, zero mantissa).
    var hasInfinity: Bool { self == .e5m2 }

    /// FP4 and FP6 have no NaN: NaN input is an error, as it is for the integer dtypes.
    var hasNaN: Bool { bits == 8 }

    var signBit: UInt8 { UInt8(1 << (bits - 1)) }

    /// The largest finite magnitude's code (sign bit clear).
    var maxCode: UInt8 {
        switch self {
        case .e4m3fn: 0x7E       // S.1111.111 is NaN
        case .e5m2: 0x7B         // exponent 11111 is inf / NaN
        case .e4m3fnuz, .e5m2fnuz, .e2m1, .e3m2, .e2m3: signBit - 1
        }
    }

    /// NaN's code for a NaN input of the given sign (ml_dtypes' and ONNX's choice: the quiet NaN with the
    /// input's sign; FNUZ's only NaN). nil for formats without NaN.
    func nanCode(negative: Bool) -> UInt8? {
        switch self {
        case .e4m3fn: negative ? 0xFF : 0x7F
        case .e5m2: negative ? 0xFE : 0x7E
        case .e4m3fnuz, .e5m2fnuz: 0x80
        case .e2m1, .e3m2, .e2m3: nil
        }
    }

    /// The exponent of the smallest normal number, 1 - bias.
    var minExponent: Int { 1 - bias }

    /// The largest finite value, exactly.
    var maxValue: Float { decode(maxCode) }

    /// OCP MX's emax_elem: the exponent of the largest normal value.
    var maxExponent: Int { Int(maxValue.exponent) }

    /// Whether v (finite or not) rounds beyond the largest finite value before saturation: above the
    /// midpoint between max and the next binade's first value, or on it when the tie goes up (max's
    /// mantissa is odd; only E4M3FN's, 0x7E, is even). The error report's "clipped".
    func roundsBeyondMax(_ v: Float) -> Bool {
        let a = v.magnitude
        let threshold = maxValue + Float(sign: .plus, exponent: maxExponent - mantissaBits - 1, significand: 1)
        return a > threshold || (a == threshold && maxCode & 1 == 1)
    }

    /// The value of a code (bits above `bits` ignored). NaN codes give float32's quiet NaN with the code's
    /// sign (FNUZ's NaN: negative), the bits ml_dtypes gives.
    func decode(_ code: UInt8) -> Float {
        let c = Int(code) & ((1 << bits) - 1)
        let negative = c & Int(signBit) != 0
        let mag = c & (Int(signBit) - 1)
        if isFNUZ && c == Int(signBit) { return Float(bitPattern: 0xFFC0_0000) }
        let e = mag >> mantissaBits, m = mag & ((1 << mantissaBits) - 1)
        if hasNaN && !isFNUZ && mag > Int(maxCode) {
            if hasInfinity && m == 0 { return negative ? -.infinity : .infinity }
            return Float(bitPattern: negative ? 0xFFC0_0000 : 0x7FC0_0000)
        }
        // Subnormal (e = 0): m * 2^(minExponent - M); normal: (2^M + m) * 2^(e - bias - M). Exact in Float.
        let significand = e == 0 ? m : (1 << mantissaBits) | m
        let exponent = (e == 0 ? minExponent : e - bias) - mantissaBits
        let v = Float(sign: .plus, exponent: exponent, significand: Float(significand))
        return negative ? -v : v
    }

    /// All 2^bits values, indexed by code.
    func decodeTable() -> [Float] { (0..<(1 << bits)).map { decode(UInt8($0)) } }

    /// Reference conversion of a float32 to a code: round to nearest even; out-of-range magnitudes (and
    /// ±inf) become ±max when `saturate` (ONNX's saturate = 1, clip then cast), otherwise the format's
    /// overflow value: ±inf (E5M2), NaN (E4M3FN, FNUZ) or ±max (FP4 and FP6, which have neither and so
    /// always saturate). NaN gives nanCode, or nil for formats without NaN. FNUZ has no -0: a negative
    /// value that rounds to zero gives +0.
    func encode(_ v: Float, saturate: Bool) -> UInt8? {
        let negative = v.sign == .minus
        if v.isNaN { return nanCode(negative: negative) }
        let a = v.magnitude
        var mag: Int
        if a.isInfinite {
            mag = Int(maxCode) + 1
        } else if a == 0 {
            mag = 0
        } else {
            // The quantum of a's binade in the format (subnormals share the smallest normal's), then the
            // significand in quanta, rounded half to even: a * 2^-q is exact in Double.
            let e = Swift.max(Int(a.exponent), minExponent)
            let q = e - mantissaBits
            let n = Int((Double(a) * Double(sign: .plus, exponent: -q, significand: 1)).rounded(.toNearestOrEven))
            if e == minExponent && n < (1 << mantissaBits) {
                mag = n                                              // subnormal (or zero)
            } else if n == 1 << (mantissaBits + 1) {
                mag = (e + 1 - minExponent + 1) << mantissaBits      // rounded up into the next binade
            } else {
                mag = ((e - minExponent + 1) << mantissaBits) | (n - (1 << mantissaBits))
            }
        }
        if mag > Int(maxCode) {
            if saturate || !hasNaN {
                mag = Int(maxCode)
            } else if hasInfinity {
                return (negative ? signBit : 0) | 0x7C
            } else {
                return nanCode(negative: negative)
            }
        }
        if mag == 0 && isFNUZ { return 0 }
        return UInt8(mag) | (negative ? signBit : 0)
    }
}

/// Decode tables of every format, built once.
enum FloatFormatTables {
    static let tables: [[Float]] = FloatFormat.allCases.map { $0.decodeTable() }
    static func table(_ f: FloatFormat) -> [Float] { tables[Int(f.rawValue - FloatFormat.e4m3fn.rawValue)] }
}
