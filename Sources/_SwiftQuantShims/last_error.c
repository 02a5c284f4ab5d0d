/* The thread-local buffer behind sq_last_error_message(). Swift writes it through
 * _sq_shim_set_last_error; a buffer per thread keeps concurrent callers from seeing each other's messages. */
#include "_SwiftQuantShims.h"
#include <string.h>

enum { SQ_MESSAGE_CAPACITY = 1024 };
static _Thread_local char last_error[SQ_MESSAGE_CAPACITY];

void _sq_shim_set_last_error(const char *message, size_t length) {
    if (length >= SQ_MESSAGE_CAPACITY) length = SQ_MESSAGE_CAPACITY - 1;
    memcpy(last_error, message, length);
    last_error[length] = '\0';
}

SQ_API const char *sq_last_error_message(void) { return last_error; }
