/* _SwiftQuantShims: internal, no stable API. Tiny C for what Swift cannot express, nothing algorithmic.
 * - Makes the public header's types (sq_qparams, enums) visible to the Swift core, so the @_cdecl
 *   exports take exactly the C layouts.
 * - Thread-local storage for the last error message (Swift has no portable thread-local storage without
 *   Foundation). */
#ifndef SWIFTQUANT_SHIMS_H
#define SWIFTQUANT_SHIMS_H

#include "../../../Include/swiftquant.h"
#include <stddef.h>

/* Stores a copy of the message (truncated to 1023 bytes) as this thread's last error message. */
void _sq_shim_set_last_error(const char *message, size_t length);

#endif
