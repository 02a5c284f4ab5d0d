// Rounding rules of quantization and requantization (sq_rounding in the C header).
//
//   v              -2.5  -1.5  -0.5   0.5   1.5   2.5
//   nearestEven     -2    -2    -0     0     2     2
//   halfAway        -3    -2    -1     1     2     3
//   floor           -3    -2    -1     0     1     2
//   stochastic      floor(v) + 1 with probability v - floor(v)

/// The one rounding enum: public as QuantRounding, Rounding inside the core.
typealias Rounding = QuantRounding

/// Rounding of x / scale (sq_rounding): half to even (ONNX, the default), half away from zero, floor, or
/// stochastic (keyed by a seed and the element index, so results never depend on threads). Table above.
public enum QuantRounding: Int32, CaseIterable, Sendable {
    case nearestEven = 0, halfAway = 1, floor = 2, stochastic = 3

    init(checking raw: Int32) throws(SQError) {
        guard let r = Rounding(rawValue: raw) else {
            throw SQError(.invalidArgument, "rounding: unknown rounding mode \(raw) (expected 0 nearest_even, 1 half_away, 2 floor, 3 stochastic)")
        }
        self = r
    }
}

/// Counter-based random numbers for stochastic rounding: the bits for an element depend only on
/// (seed, flat index), so results never depend on ISA, threads or chunking.
@inline(__always)
func stochasticThreshold(seed: UInt64, index: Int) -> Float {
    // splitmix64 finaliser over a Weyl sequence: a bijective mix with full avalanche.
    var z = seed &+ (UInt64(truncatingIfNeeded: index) &+ 1) &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z >> 31
    // 24 random bits -> u in [0, 1), exactly representable in Float.
    return Float(z >> 40) * 0x1p-24
}

extension Rounding {
    /// Rounds a Float to an integral Float. `index` and `seed` feed stochastic rounding only.
    @inline(__always)
    func round(_ v: Float, seed: UInt64, index: Int) -> Float {
        switch self {
        case .nearestEven: return v.rounded(.toNearestOrEven)
        case .halfAway: return v.rounded(.toNearestOrAwayFromZero)
        case .floor: return v.rounded(.down)
        case .stochastic:
            let f = v.rounded(.down)
            // P(round up) = v - f to within 2^-24; an integral v (f == v) never moves.
            return stochasticThreshold(seed: seed, index: index) < v - f ? f + 1 : f
        }
    }

    /// The same rules on a Double (requantization computes in double precision).
    @inline(__always)
    func round(_ v: Double, seed: UInt64, index: Int) -> Double {
        switch self {
        case .nearestEven: return v.rounded(.toNearestOrEven)
        case .halfAway: return v.rounded(.toNearestOrAwayFromZero)
        case .floor: return v.rounded(.down)
        case .stochastic:
            let f = v.rounded(.down)
            return Double(stochasticThreshold(seed: seed, index: index)) < v - f ? f + 1 : f
        }
    }
}
