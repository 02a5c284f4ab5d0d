/* CPUID, XGETBV and arch_prctl for dispatch: see _SwiftQuantShims.h. */
#include "_SwiftQuantShims.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

int _sq_shim_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
    unsigned int a, b, c, d;
    if (__get_cpuid_max(leaf & 0x80000000u, 0) < leaf) return 0;
    __cpuid_count(leaf, subleaf, a, b, c, d);
    regs[0] = a; regs[1] = b; regs[2] = c; regs[3] = d;
    return 1;
}

uint64_t _sq_shim_xgetbv0(void) {
    uint32_t regs[4];
    if (!_sq_shim_cpuid(1, 0, regs) || !(regs[2] & (1u << 27))) return 0; /* OSXSAVE */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#else
int _sq_shim_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
    (void)leaf; (void)subleaf; (void)regs;
    return 0;
}
uint64_t _sq_shim_xgetbv0(void) { return 0; }
#endif

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
int _sq_shim_request_amx(void) {
    /* ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 (asm/prctl.h; spelled out for old headers). */
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}
#else
int _sq_shim_request_amx(void) { return 0; }
#endif
