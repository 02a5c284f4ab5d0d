// Hostile shapes and counts in the Swift API: every output the Swift side allocates from a caller's shape or
// count is checked first (overflow, the input it must match, or physical memory), so these calls throw an
// error naming the argument instead of trapping or allocating terabytes. Each case allocates a few MB at most.
import XCTest
@testable import SwiftQuant

final class HostileSizesSwiftAPITests: XCTestCase {
    /// body must throw a SwiftQuantError of `kind` whose message contains every string of `names`.
    func assertRefused<T>(_ body: @autoclosure () throws -> T, _ kind: SwiftQuantError.Kind, _ names: String...,
                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            guard let e = e as? SwiftQuantError else { return XCTFail("not a SwiftQuantError: \(e)", file: file, line: line) }
            XCTAssertEqual(e.kind, kind, e.message, file: file, line: line)
            for n in names { XCTAssertTrue(e.message.contains(n), "'\(n)' not in: \(e.message)", file: file, line: line) }
        }
    }

    static let big = 1 << 40  // elements: 4 TiB as Float, beyond any test machine's memory

    func testCodebookFitOfAnEmptyTensorWithAHugeAxis() {
        // x is empty, but one codebook per index along axis 1 would be 2^40 x 16 levels.
        assertRefused(try fitCodebook([], shape: [0, Self.big], bits: 4, axis: 1), .outOfMemory, "shape", "axis 1", "codebook")
        // A small one still gives one (all-zero) codebook per index.
        XCTAssertEqual(try fitCodebook([], shape: [0, 3], bits: 1, axis: 1).levels, [[0, 0], [0, 0], [0, 0]])
    }

    func testCalibrateOfAnEmptyTensorWithAHugeAxis() {
        assertRefused(try calibrate([], shape: [0, Self.big], axis: 1), .outOfMemory, "shape", "axis 1", "scales")
        XCTAssertEqual(try calibrate([], shape: [0, 2], axis: 1).scale, [1, 1])
    }

    func testMatmulResultsLargerThanMemory() {
        let none: [Int8] = []
        // K = 0: no input data, a 2^60-element result (within SQ_MAX_EXTENT, so only memory refuses it).
        assertRefused(try matmul(none, shape: [1 << 30, 0], none, shape: [0, 1 << 30]), .outOfMemory, "a shape", "b shape")
        assertRefused(try matmulFloat(none, shape: [1 << 30, 0], params: QuantParams(scale: 1), none, shape: [0, 1 << 30],
                                      params: QuantParams(scale: 1)), .outOfMemory, "a shape")
        assertRefused(try qlinearMatmul(none, shape: [1 << 30, 0], params: QuantParams(scale: 1), none, shape: [0, 1 << 30],
                                        params: QuantParams(scale: 1), output: QuantParams(scale: 1)) as [Int8], .outOfMemory, "a shape")
        // Beyond SQ_MAX_EXTENT: the C shape query refuses it.
        assertRefused(try matmul(none, shape: [1 << 31, 0], none, shape: [0, 1 << 31]), .shape)
        // A real outer product: 1 MiB of A and of B, 4 TiB of result.
        let a = [Int8](repeating: 1, count: 1 << 20)
        assertRefused(try matmul(a, shape: [1 << 20, 1], a, shape: [1, 1 << 20]), .outOfMemory, "result")
    }

    func testPackedWeightsResults() throws {
        // An empty B packs in O(1) whatever N; the result count comes from a's shape, so K = 0 gives zeros.
        let empty = try PackedWeights([Int8](), k: 0, n: 2, params: QuantParams(scale: 0.5))
        XCTAssertEqual(try empty.matmul([Int8](), shape: [3, 0]), [Int32](repeating: 0, count: 6))
        XCTAssertEqual(try empty.matmulFloat([Int8](), shape: [3, 0], params: QuantParams(scale: 1)), [Float](repeating: 0, count: 6))
        XCTAssertEqual(try empty.qlinearMatmul([Int8](), shape: [3, 0], params: QuantParams(scale: 1),
                                               output: QuantParams(scale: 1)) as [Int8], [Int8](repeating: 0, count: 6))
        let wide = try PackedWeights([Int8](), k: 0, n: 1 << 20, params: QuantParams(scale: 1))
        assertRefused(try wide.matmul([Int8](), shape: [1 << 40, 0]), .outOfMemory, "a shape")
        assertRefused(try wide.matmulFloat([Int8](), shape: [1 << 40, 0], params: QuantParams(scale: 1)), .outOfMemory, "a shape")
        assertRefused(try wide.qlinearMatmul([Int8](), shape: [1 << 40, 0], params: QuantParams(scale: 1),
                                             output: QuantParams(scale: 1)) as [Int8], .outOfMemory, "a shape")
    }

    func testUnpackInt4CountMustMatchThePackedBytes() {
        assertRefused(try unpackInt4([0x21], count: 1 << 50) as [Int8], .shape, "count")
        assertRefused(try unpackInt4([0x21], count: Int.max) as [Int8], .shape, "count")
        assertRefused(try unpackInt4([0x21], count: -1) as [Int8], .shape, "count")
        XCTAssertEqual(try unpackInt4([0x21], count: 2) as [Int8], [1, 2])
    }

    func testBlockWeightsWithHugeDimensions() {
        // n x k overflows Int: an error, not an overflow trap.
        assertRefused(try QuantizedWeight(quantizing: [], n: Self.big, k: Self.big), .shape, "w")
        assertRefused(try QuantizedWeight.gptq(quantizing: [], n: Self.big, k: Self.big, hessian: [Double]()), .shape, "w")
        assertRefused(try QuantizedWeight.gptq(quantizing: [], n: 0, k: Self.big, hessian: [Double]()), .shape, "hessian")
        assertRefused(try QuantizedWeight.awq(weight: [], rows: Self.big, columns: Self.big, activations: []), .shape, "weight")
        assertRefused(try smoothQuantScales(weight: [], rows: Self.big, columns: Self.big), .shape, "weight")
        let forged = QuantizedWeight(n: Self.big, k: Self.big, bits: 4, blockSize: 32, codes: [], scales: [])
        assertRefused(try forged.dequantize(), .shape, "weight")
        assertRefused(try forged.matMulNBits(), .shape, "weight")
        assertRefused(try BlockQuantizedLinear(forged), .shape, "weight")
        // A block size near Int.max: ceil(k / blockSize) without overflow, then the C check names it.
        XCTAssertEqual(QuantizedWeight(n: 1, k: 5, bits: 4, blockSize: .max, codes: [], scales: []).kBlocks, 1)
        assertRefused(try QuantizedWeight(quantizing: [Float](repeating: 1, count: 32), n: 1, k: 32, blockSize: .max),
                      .invalidArgument, "block")
        // GGUF: n * (k / 32) * block bytes overflows.
        assertRefused(try QuantizedWeight(gguf: [], type: .q4_0, n: 1 << 62, k: 64), .shape, "data")
        assertRefused(try QuantizedWeight(gguf: [], type: .q8_0, n: Self.big, k: 32 << 30), .shape, "data")
    }

    func testMatMulNBitsOfShortRowsInHugeBlocks() throws {
        // k = 1 in blocks of 65536 at 8 bits: B stores 65536 bytes per row, 2^16 times the codes.
        let n = 1 << 22
        let bBytes = n << 16
        try XCTSkipIf(physicalMemoryBytes == 0 || bBytes <= physicalMemoryBytes, "this machine could hold \(bBytes) bytes")
        let w = QuantizedWeight(n: n, k: 1, bits: 8, blockSize: 65536, codes: [UInt8](repeating: 3, count: n),
                                scales: [Float](repeating: 1, count: n))
        assertRefused(try w.matMulNBits(), .outOfMemory, "blockSize 65536")
        // The same layout at a size that fits.
        let small = QuantizedWeight(n: 2, k: 1, bits: 8, blockSize: 65536, codes: [3, 4], scales: [1, 1])
        XCTAssertEqual(try small.matMulNBits().b.count, 2 * 65536)
    }

    func testLinearLayersWithResultsLargerThanMemory() throws {
        // Wide layers on many rows: 4 MiB of weights, 4 MiB of input, 4 TiB of output.
        let wide = 1 << 20
        let layer = try QuantizedLinearLayer(weight: [Float](repeating: 0.5, count: wide), outFeatures: wide, inFeatures: 1)
        let x = [Float](repeating: 1, count: wide)
        assertRefused(try layer(x), .outOfMemory, "x", "result")
        XCTAssertEqual(try layer([2]).count, wide)
        let w = QuantizedWeight(n: wide, k: 1, bits: 4, blockSize: 16, codes: [UInt8](repeating: 9, count: wide),
                                scales: [Float](repeating: 1, count: wide))
        let block = try BlockQuantizedLinear(w, activation: .none)
        assertRefused(try block(x), .outOfMemory, "x", "result")
        XCTAssertEqual(try block([2]).count, wide)
    }
}
