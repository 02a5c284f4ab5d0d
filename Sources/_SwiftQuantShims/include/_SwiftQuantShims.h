/* _SwiftQuantShims: internal, no stable API. Tiny C for what Swift cannot express, nothing algorithmic.
 * - Makes the public header's types (sq_qparams, enums) visible to the Swift core, so the @_cdecl
 *   exports take exactly the C layouts.
 * - Thread-local storage for the last error message (Swift has no portable thread-local storage without
 *   Foundation).
 * - CPUID, XGETBV and the Linux arch_prctl request for AMX tile state: instructions and a syscall that
 *   Swift cannot issue. Dispatch (Sources/SwiftQuant/Kernels/Dispatch.swift) interprets the bits.
 * - MXCSR save/set/restore (STMXCSR/LDMXCSR), so results never depend on the caller's rounding mode or
 *   flush-to-zero / denormals-are-zero bits. */
#ifndef SWIFTQUANT_SHIMS_H
#define SWIFTQUANT_SHIMS_H

#include "../../../Include/swiftquant.h"
#include <stddef.h>
#include <stdint.h>

/* Stores a copy of the message (truncated to 1023 bytes) as this thread's last error message. */
void _sq_shim_set_last_error(const char *message, size_t length);

/* CPUID leaf/subleaf into regs[0..3] = eax, ebx, ecx, edx; returns 0 when CPUID (or the leaf) is not
 * available (any non-x86 build). */
int _sq_shim_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);

/* XCR0 (the state components the OS saves); 0 when XGETBV is unavailable. */
uint64_t _sq_shim_xgetbv0(void);

/* Asks Linux for permission to use AMX tile data (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); 1 granted,
 * 0 refused or not Linux x86-64. */
int _sq_shim_request_amx(void);

/* Saves the SSE control/status register and sets the IEEE default (round to nearest even, no FTZ, no DAZ,
 * all exceptions masked); returns the saved value for _sq_shim_fpenv_leave. Elsewhere a no-op (0). */
uint32_t _sq_shim_fpenv_enter(void);

/* Restores a value saved by _sq_shim_fpenv_enter: the caller's modes and sticky flags, as they were. */
void _sq_shim_fpenv_leave(uint32_t saved);

#endif
