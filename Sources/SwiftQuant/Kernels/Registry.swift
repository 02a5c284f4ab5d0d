// The kernel registry: every kernel of every operation, one record per (operation, ISA), and the one place
// that picks which record runs. A record is eligible when its ISA is at or below the dispatch level
// (Dispatch.swift: built, supported by the CPU, permitted by the OS, allowed by SWIFTQUANT_ISA); the
// operation's active record is the highest eligible one, resolved once per process. Tests sweep every
// record of every table against the table's reference (Tests/SwiftQuantTests/KernelSweepTests.swift).
//
// Names follow one grammar (after XNNPACK's microkernel naming), reported by sq_kernel_name:
//     <input>[-<output>]-<op>-<tile>-<isa>
//   input/output  f32, qfp (FP8 / FP6 / FP4 codes, one per byte), mx (OCP MX element and scale codes), qint (any integer dtype of the op: int4 .. uint16), qx8 (int8 or uint8), u8 (indices),
//                 qu8s8 (u8 A times s8 B after the VNNI shift), qbs8 (block-quantized weight codes of 2 to
//                 8 bits times per-block int8 activations), qbf32 (block-quantized weights times float32),
//                 gguf (llama.cpp Q4_0 / Q4_1 / Q8_0 blocks)
//   op            quantize, dequantize, fakequantize, fpfakequantize, minmax, codebook, gemm, blockgemm
//   tile          xN: N elements per step (element-wise); MRxNR[cKR] rows x columns of the register tile
//                 and the K elements per multiply-add (GEMM)
//   isa           reference (portable Swift), simd (portable Swift SIMD types), avx2 (AVX2 + FMA), avx512 (F+BW+VL+DQ),
//                 avx512vnni

#if arch(x86_64)
import _SwiftQuantAVX2
import _SwiftQuantAVX512Codebook
#endif

/// Operations whose kernel sq_kernel_name reports (the values are the header's sq_op).
public enum KernelOp: Int32, CaseIterable, Sendable {
    case quantize = 0, dequantize = 1, minmax = 2, gemm = 3, codebookQuantize = 4, fakeQuantize = 5
    case blockGemmPerBlock = 6, blockGemmWeightOnly = 7, ggufQuantize = 8, ggufDequantize = 9
    case floatQuantize = 10, floatDequantize = 11, floatFakeQuantize = 12, mxQuantize = 13, mxDequantize = 14
}

protocol KernelRecord {
    var name: String { get }
    var isa: ISA { get }
}

extension Array where Element: KernelRecord {
    /// The highest record the dispatch level allows (records are listed reference first).
    var resolved: Element { last(where: { $0.isa <= dispatch.isa }) ?? self[0] }
}

/// An element-wise kernel: `run` does whole blocks of `block` elements (the reference: everything).
struct ElementwiseKernel: KernelRecord {
    let op: ElementwiseOp
    let name: String
    let isa: ISA
    let block: Int
    let run: SegmentKernel
}

struct ElementwiseTable {
    /// Reference first, then faster records in ascending ISA.
    let records: [ElementwiseKernel]
    let active: ElementwiseKernel
    var reference: ElementwiseKernel { records[0] }

    init(_ records: [ElementwiseKernel]) {
        self.records = records
        active = records.resolved
    }
}

/// The nearest-level codebook search (Codebook/Codebook.swift drives it). A fast record searches runs
/// that share one codebook, with per-codebook tables of `tableStride` floats that `buildTables` fills (nil
/// when it cannot take the codebook: repeated levels); the reference record has no tables.
struct CodebookKernel: KernelRecord {
    let name: String
    let isa: ISA
    let block: Int
    let tableStride: Int
    /// Fills tables for ascending levels[0..<L]; returns the search depth, or nil.
    let buildTables: (_ levels: UnsafePointer<Float>, _ L: Int, _ tables: UnsafeMutablePointer<Float>) -> Int?
    /// Indices for whole blocks of x[0..<n]: (elements done, offset of a NaN that stopped it).
    let run: (_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt8>, _ n: Int, _ tables: UnsafePointer<Float>,
              _ depth: Int) -> (done: Int, nanAt: Int?)
}

/// A record without a function pointer of its own: min/max runs one portable-SIMD kernel everywhere
/// (Kernels/SIMD/MinMaxSIMD.swift), listed so that it is named and swept like the others.
struct NamedKernel: KernelRecord {
    let name: String
    let isa: ISA
}

enum Registry {
    static let quantize = ElementwiseTable(
        [ElementwiseKernel(op: .quantize, name: "f32-qint-quantize-x1-reference", isa: .reference, block: 1,
                           run: quantizeReferenceKernel)] + quantizeFast)
    static let dequantize = ElementwiseTable(
        [ElementwiseKernel(op: .dequantize, name: "qint-f32-dequantize-x1-reference", isa: .reference, block: 1,
                           run: dequantizeReferenceKernel)] + dequantizeFast)
    static let fakeQuantize = ElementwiseTable(
        [ElementwiseKernel(op: .fakeQuantize, name: "f32-f32-fakequantize-x1-reference", isa: .reference, block: 1,
                           run: fakeQuantizeReferenceKernel)] + fakeQuantizeFast)

    /// The float formats (FP8, FP6, FP4; Formats/FloatFormat.swift).
    static let floatQuantize = ElementwiseTable(
        [ElementwiseKernel(op: .floatQuantize, name: "f32-qfp-quantize-x1-reference", isa: .reference, block: 1,
                           run: floatQuantizeReferenceKernel)] + floatQuantizeFast)
    static let floatDequantize = ElementwiseTable(
        [ElementwiseKernel(op: .floatDequantize, name: "qfp-f32-dequantize-x1-reference", isa: .reference, block: 1,
                           run: floatDequantizeReferenceKernel)] + floatDequantizeFast)
    static let floatFakeQuantize = ElementwiseTable(
        [ElementwiseKernel(op: .floatFakeQuantize, name: "f32-f32-fpfakequantize-x1-reference", isa: .reference, block: 1,
                           run: floatFakeQuantizeReferenceKernel)] + floatFakeQuantizeFast)

    static func table(_ op: ElementwiseOp) -> ElementwiseTable {
        switch op {
        case .quantize: quantize
        case .dequantize: dequantize
        case .fakeQuantize: fakeQuantize
        case .floatQuantize: floatQuantize
        case .floatDequantize: floatDequantize
        case .floatFakeQuantize: floatFakeQuantize
        }
    }

    static let codebook: [CodebookKernel] = [
        CodebookKernel(name: "f32-u8-codebook-x1-reference", isa: .reference, block: 1, tableStride: 0,
                       buildTables: { _, _, _ in nil }, run: { _, _, _, _, _ in (0, nil) })] + codebookFast
    static let activeCodebook = codebook.resolved

    static let minmax = [NamedKernel(name: "f32-minmax-x16-simd", isa: .reference)]

    /// llama.cpp's block formats (Weights/GGUF.swift): one portable record per direction, 32-element blocks
    /// in loops the compiler vectorizes, the same on every CPU; swept against GGUF.reference* (GGUFTests).
    static let ggufQuantize = [NamedKernel(name: "f32-gguf-quantize-x32-simd", isa: .reference)]
    static let ggufDequantize = [NamedKernel(name: "gguf-f32-dequantize-x32-simd", isa: .reference)]

    /// GEMM records bind packing, kernel and tiles (GemmConfig.swift).
    static let gemm = GemmConfig.built
    static let activeGemm = gemm.resolved

    /// Block-weight linear layers (Weights/BlockLinear.swift), one table per activation mode.
    static let blockGemmPerBlock = [BlockGemmKernel(name: "qbs8-f32-blockgemm-1x1-reference", isa: .reference, activation: .perBlock,
                                                    needsPacking: false, run: blockGemmPerBlockReference)] + blockPerBlockFast
    static let blockGemmWeightOnly = [BlockGemmKernel(name: "qbf32-f32-blockgemm-1x1-reference", isa: .reference, activation: .none,
                                                      needsPacking: false, run: blockGemmWeightOnlyReference)] + blockWeightOnlyFast
    static let activeBlockGemmPerBlock = blockGemmPerBlock.resolved
    static let activeBlockGemmWeightOnly = blockGemmWeightOnly.resolved
    static func blockGemm(_ a: BlockActivation) -> BlockGemmKernel {
        a == .perBlock ? activeBlockGemmPerBlock : activeBlockGemmWeightOnly
    }

    /// The active record's name for sq_kernel_name.
    static func activeName(_ op: KernelOp) -> String {
        switch op {
        case .quantize: quantize.active.name
        case .dequantize: dequantize.active.name
        case .fakeQuantize: fakeQuantize.active.name
        case .minmax: minmax.resolved.name
        case .gemm: activeGemm.name
        case .codebookQuantize: activeCodebook.name
        case .blockGemmPerBlock: activeBlockGemmPerBlock.name
        case .blockGemmWeightOnly: activeBlockGemmWeightOnly.name
        case .ggufQuantize: ggufQuantize.resolved.name
        case .ggufDequantize: ggufDequantize.resolved.name
        case .floatQuantize: floatQuantize.active.name
        case .floatDequantize: floatDequantize.active.name
        case .floatFakeQuantize: floatFakeQuantize.active.name
        case .mxQuantize: mxQuantize.resolved.name
        case .mxDequantize: mxDequantize.resolved.name
        }
    }

    /// OCP MX block formats (Formats/MX.swift): records take runs of whole contiguous 32-element blocks; partial
    /// and strided blocks always take the reference block kernel, which every record matches bit for bit.
    static let mxQuantize: [MXQuantizeKernel] = [
        MXQuantizeKernel(name: "f32-mx-quantize-x32-reference", isa: .reference, run: mxQuantizeReferenceKernel)]
        + {
            #if arch(x86_64)
            [MXQuantizeKernel(name: "f32-mx-quantize-x32-avx2", isa: .avx2, run: mxQuantizeAVX2Kernel,
                              columns: mxQuantizeColumnsAVX2Kernel)]
            #else
            []
            #endif
        }()
    static let mxDequantize: [MXDequantizeKernel] = [
        MXDequantizeKernel(name: "mx-f32-dequantize-x32-reference", isa: .reference, run: mxDequantizeReferenceKernel)]
        + {
            #if arch(x86_64)
            [MXDequantizeKernel(name: "mx-f32-dequantize-x32-avx2", isa: .avx2, run: mxDequantizeAVX2Kernel)]
            #else
            []
            #endif
        }()
    static let activeMXQuantize = mxQuantize.resolved
    static let activeMXDequantize = mxDequantize.resolved

    #if arch(x86_64)
    private static let floatQuantizeFast = [
        ElementwiseKernel(op: .floatQuantize, name: "f32-qfp-quantize-x8-avx2", isa: .avx2, block: 8, run: floatQuantizeAVX2Kernel)]
    private static let floatDequantizeFast = [
        ElementwiseKernel(op: .floatDequantize, name: "qfp-f32-dequantize-x8-avx2", isa: .avx2, block: 8,
                          run: floatDequantizeAVX2Kernel)]
    private static let floatFakeQuantizeFast = [
        ElementwiseKernel(op: .floatFakeQuantize, name: "f32-f32-fpfakequantize-x8-avx2", isa: .avx2, block: 8,
                          run: floatFakeQuantizeAVX2Kernel)]
    private static let quantizeFast = [
        ElementwiseKernel(op: .quantize, name: "f32-qint-quantize-x8-avx2", isa: .avx2, block: 8, run: quantizeAVX2Kernel),
        ElementwiseKernel(op: .quantize, name: "f32-qint-quantize-x16-avx512", isa: .avx512, block: 16, run: quantizeAVX512Kernel)]
    private static let dequantizeFast = [
        ElementwiseKernel(op: .dequantize, name: "qint-f32-dequantize-x8-avx2", isa: .avx2, block: 8, run: dequantizeAVX2Kernel),
        ElementwiseKernel(op: .dequantize, name: "qint-f32-dequantize-x16-avx512", isa: .avx512, block: 16,
                          run: dequantizeAVX512Kernel)]
    private static let fakeQuantizeFast = [
        ElementwiseKernel(op: .fakeQuantize, name: "f32-f32-fakequantize-x8-avx2", isa: .avx2, block: 8,
                          run: fakeQuantizeAVX2Kernel),
        ElementwiseKernel(op: .fakeQuantize, name: "f32-f32-fakequantize-x16-avx512", isa: .avx512, block: 16,
                          run: fakeQuantizeAVX512Kernel)]
    private static let codebookFast = [CodebookKernel(
        name: "f32-u8-codebook-x16-avx512", isa: .avx512, block: 16, tableStride: codebookSearchTableStride,
        buildTables: codebookTablesAVX512, run: codebookQuantizeAVX512)]
    private static let blockPerBlockFast = [BlockGemmKernel(
        name: "qbs8-f32-blockgemm-4x16c8-avx2", isa: .avx2, activation: .perBlock, needsPacking: true,
        rowQuantizer: quantizeActivationsRowAVX2, run: blockGemmPerBlockAVX2Kernel)]
    private static let blockWeightOnlyFast = [BlockGemmKernel(
        name: "qbf32-f32-blockgemm-4x16-avx2", isa: .avx2, activation: .none, needsPacking: true,
        run: blockGemmWeightOnlyAVX2Kernel)]
    #else
    private static let floatQuantizeFast: [ElementwiseKernel] = []
    private static let floatDequantizeFast: [ElementwiseKernel] = []
    private static let floatFakeQuantizeFast: [ElementwiseKernel] = []
    private static let blockPerBlockFast: [BlockGemmKernel] = []
    private static let blockWeightOnlyFast: [BlockGemmKernel] = []
    private static let quantizeFast: [ElementwiseKernel] = []
    private static let dequantizeFast: [ElementwiseKernel] = []
    private static let fakeQuantizeFast: [ElementwiseKernel] = []
    private static let codebookFast: [CodebookKernel] = []
    #endif
}

#if arch(x86_64)
/// The AVX-512 search's tables for one codebook (L ascending levels), or nil when it cannot take it:
/// repeated levels (ties must go to the first of a run, which the reference does). Threshold j is the
/// smallest float32 above the float64 midpoint m of levels j and j + 1, so that for any float32 x,
/// `m < x` exactly when `x >= threshold`: the reference's decision, made in float32.
private func codebookTablesAVX512(_ levels: UnsafePointer<Float>, _ L: Int, _ tables: UnsafeMutablePointer<Float>) -> Int? {
    var t = [Float](repeating: 0, count: Swift.max(L - 1, 1))
    for j in 0..<(L - 1) {
        guard levels[j] < levels[j + 1] else { return nil }
        let m = (Double(levels[j]) + Double(levels[j + 1])) * 0.5
        let f = Float(m)
        t[j] = Double(f) > m ? f : f.nextUp
    }
    return t.withUnsafeBufferPointer { codebookSearchTables(thresholds: $0.baseAddress!, count: L - 1, into: tables) }
}
#endif
