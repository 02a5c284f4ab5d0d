// CPU features that decide which kernels may run: CPUID says the CPU has them, XCR0 says the OS saves
// their registers, and for AMX Linux must also grant the tile state (arch_prctl).

import _SwiftQuantShims

struct CPUFeatures {
    var avx2 = false, fma = false
    var avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false
    var amxInt8 = false
    var amxPermitted = false

    var avx512: Bool { avx512f && avx512bw && avx512vl && avx512dq }
    /// x86-64-v3's vector part: AVX2 with FMA (the OS saving YMM state).
    var avx2fma: Bool { avx2 && fma }

    static func detect() -> CPUFeatures {
        var f = CPUFeatures()
        var r: [UInt32] = [0, 0, 0, 0]
        let xcr0 = _sq_shim_xgetbv0()
        // XMM and YMM state (XCR0 bits 1, 2): the OS must save both for AVX.
        let osAVX = xcr0 & 0x6 == 0x6
        if _sq_shim_cpuid(1, 0, &r) != 0 { f.fma = osAVX && r[2] & (1 << 12) != 0 && r[2] & (1 << 28) != 0 }
        guard _sq_shim_cpuid(7, 0, &r) != 0 else { return f }
        let (ebx, ecx, edx) = (r[1], r[2], r[3])
        f.avx2 = osAVX && ebx & (1 << 5) != 0
        // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM: the OS must save all five for AVX-512.
        let osAVX512 = xcr0 & 0xE6 == 0xE6
        f.avx512f = osAVX512 && ebx & (1 << 16) != 0
        f.avx512dq = osAVX512 && ebx & (1 << 17) != 0
        f.avx512bw = osAVX512 && ebx & (1 << 30) != 0
        f.avx512vl = osAVX512 && ebx & (1 << 31) != 0
        f.avx512vnni = osAVX512 && ecx & (1 << 11) != 0
        // AMX-TILE (edx 24) and AMX-INT8 (edx 25); XTILECFG/XTILEDATA are XCR0 bits 17 and 18.
        f.amxInt8 = edx & (1 << 24) != 0 && edx & (1 << 25) != 0 && xcr0 & (3 << 17) == 3 << 17
        if f.amxInt8 { f.amxPermitted = _sq_shim_request_amx() != 0 }
        return f
    }
}
