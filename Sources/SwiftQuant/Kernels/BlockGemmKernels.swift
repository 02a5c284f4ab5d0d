// The block-weight GEMM records of the kernel registry: the adapter from BlockGemmArgs to the ISA module's
// flat arguments. Each record computes whole 32-column panels; the reference reads the BlockWeight itself.

#if arch(x86_64)
import _SwiftQuantAVX2

private func flat(_ a: BlockGemmArgs) -> BlockKernelArgs {
    let p = a.packed!
    return BlockKernelArgs(m: a.m, n: a.n, kBlocks: p.kBlocks, blockSize: p.blockSize, nibbles: p.storedBits == 4,
                           blockBytes: p.blockBytes, codes: UnsafeRawPointer(p.codes), scales: p.scales,
                           zeroPoints: p.zeroPoints.map { UnsafePointer($0) }, uniformZeroPoint: p.uniformZeroPoint,
                           bias: a.bias, y: a.y, qx: a.qx, sx: a.sx, sums: a.sums, x: a.x, xStride: a.xStride)
}

func blockGemmPerBlockAVX2Kernel(_ a: BlockGemmArgs, _ panels: Range<Int>) {
    blockGemmPerBlockAVX2(flat(a), panels: panels)
}

func blockGemmWeightOnlyAVX2Kernel(_ a: BlockGemmArgs, _ panels: Range<Int>) {
    blockGemmWeightOnlyAVX2(flat(a), panels: panels)
}
#endif
