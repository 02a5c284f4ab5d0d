// The dense float products (Kernels/FloatGemm.swift), generated from the registry's gemmF32 / gemmF64
// tables: every record the CPU runs against the reference record bit for bit (the contract fixes the order
// of operations), over sizes around the tiles and kc, odd leading dimensions and alpha = ±1 and 0.5; and the
// reference against a float64 (resp. exact integer) sum computed here. Records this CPU cannot run are skipped.
import XCTest
@testable import SwiftQuant

final class FloatGemmTests: XCTestCase {
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (5, 7, 3), (6, 16, 256), (7, 17, 257), (12, 8, 255), (13, 33, 513),
                                            (1, 100, 40), (100, 1, 40), (121, 515, 31), (70, 40, 520), (0, 5, 5), (5, 5, 0)]

    func sweep<T: BinaryFloatingPoint>(_ records: [FloatGemmKernel<T>], _: T.Type) throws where T.RawSignificand: FixedWidthInteger {
        let fast = records.filter { $0.isa != .reference && Dispatch.supported($0.isa, dispatch.features) }
        guard !fast.isEmpty else { throw XCTSkip("no optimized record of \(records.map(\.name)) can run on this CPU") }
        var rng = SplitMix64(state: 20261202)
        for (m, n, k) in Self.shapes {
            for alpha: T in [1, -1, 0.5] {
                let lda = m + 3, ldb = n + 1, ldc = n + 5
                let a = (0..<Swift.max(k * lda, 1)).map { _ in T(Float.random(in: -2...2, using: &rng)) }
                let b = (0..<Swift.max(k * ldb, 1)).map { _ in T(Float.random(in: -2...2, using: &rng)) }
                let c0 = (0..<Swift.max(m * ldc, 1)).map { _ in T(Float.random(in: -1...1, using: &rng)) }
                func run(_ r: FloatGemmKernel<T>) -> [T] {
                    var c = c0
                    a.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer { cp in
                                floatGemm(r, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                                          c: cp.baseAddress!, ldc: ldc)
                            }
                        }
                    }
                    return c
                }
                let want = run(records[0])
                for r in fast {
                    let got = run(r)
                    if let i = got.indices.first(where: { got[$0] != want[$0] }) {
                        XCTFail("\(r.name) m=\(m) n=\(n) k=\(k) alpha=\(alpha): element \(i) got \(got[i]), reference \(want[i])")
                    }
                }
                // The reference against a float64 sum computed here (relative to the sum of |terms|).
                for i in 0..<m {
                    for j in 0..<n {
                        var s = 0.0, mag = 0.0
                        for p in 0..<k {
                            s += Double(a[p * lda + i]) * Double(b[p * ldb + j])
                            mag += abs(Double(a[p * lda + i]) * Double(b[p * ldb + j]))
                        }
                        let exp = Double(c0[i * ldc + j]) + Double(alpha) * s
                        let tol = (Double(T.ulpOfOne) * Double(k + 2)) * (mag + 1)
                        XCTAssertEqual(Double(want[i * ldc + j]), exp, accuracy: tol, "m=\(m) n=\(n) k=\(k) (\(i),\(j))")
                    }
                }
                // Outside the m x n window (the leading-dimension padding) nothing changed.
                for i in 0..<m { for j in n..<ldc where i * ldc + j < want.count { XCTAssertEqual(want[i * ldc + j], c0[i * ldc + j]) } }
            }
        }
    }

    func testFloat32RecordsMatchReference() throws { try sweep(Registry.gemmF32, Float.self) }
    func testFloat64RecordsMatchReference() throws { try sweep(Registry.gemmF64, Double.self) }

    /// Integer-valued inputs: every product and partial sum is exact, so the result is exact for every record.
    func testIntegerValuedProductsAreExact() {
        let m = 37, n = 29, k = 700
        let a = (0..<(k * m)).map { Double(($0 * 7919) % 17) - 8 }
        let b = (0..<(k * n)).map { Double(($0 * 104729) % 13) - 6 }
        var c = [Double](repeating: 1, count: m * n)
        gemmAtB(m: m, n: n, k: k, alpha: -1, a: a, lda: m, b: b, ldb: n, c: &c, ldc: n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += a[p * m + i] * b[p * n + j] }
                XCTAssertEqual(c[i * n + j], 1 - s)
            }
        }
    }
}
