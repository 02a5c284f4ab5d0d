/* The floating-point environment of every entry point and pool worker: see _SwiftQuantShims.h. */
#include "_SwiftQuantShims.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>

/* Round to nearest (bits 13-14 = 0), FTZ (bit 15) and DAZ (bit 6) off, exceptions masked (bits 7-12). */
#define SQ_MXCSR_DEFAULT 0x1F80u

uint32_t _sq_shim_fpenv_enter(void) {
    uint32_t saved = _mm_getcsr();
    /* Only the control bits matter for results; skip the (serialising) write when they are the default. */
    if ((saved & ~0x3Fu) != SQ_MXCSR_DEFAULT) _mm_setcsr(SQ_MXCSR_DEFAULT | (saved & 0x3Fu));
    return saved;
}

void _sq_shim_fpenv_leave(uint32_t saved) {
    _mm_setcsr(saved);
}
#else
/* Not handled yet on other architectures (AArch64's FPCR would go here). */
uint32_t _sq_shim_fpenv_enter(void) { return 0; }
void _sq_shim_fpenv_leave(uint32_t saved) { (void)saved; }
#endif
