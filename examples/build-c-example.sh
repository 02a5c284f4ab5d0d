#!/usr/bin/env bash
# Builds examples/c_example against Include/swiftquant.h and the release library, and checks that the
# public header compiles on its own as C99 and as C++11 without warnings.
# Run from anywhere; needs `swift build -c release` first (./run-tests does that).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CC="${CC:-cc}"
CXX="${CXX:-c++}"
libdir="$(pwd)/.build/release"

case "$(uname -s)" in
    Darwin) lib="$libdir/libSwiftQuant.dylib" ;;
    *) lib="$libdir/libSwiftQuant.so" ;;
esac
if [ ! -f "$lib" ]; then
    echo "error: $lib not found; build the library first: swift build -c release" >&2
    exit 1
fi

# The header alone, as C99 and as C++11 (included twice to exercise the include guard).
header_tu='#include "swiftquant.h"
#include "swiftquant.h"
typedef sq_qparams header_check_qparams;'
echo "header: C99"
printf '%s\n' "$header_tu" |
    "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -Wstrict-prototypes -I Include -x c -fsyntax-only -
echo "header: C++11"
printf '%s\n' "$header_tu" |
    "$CXX" -std=c++11 -Wall -Wextra -Werror -pedantic -I Include -x c++ -fsyntax-only -

echo "compile: examples/c_example.c -> examples/c_example"
"$CC" -std=c99 -Wall -Wextra -Werror -pedantic -I Include examples/c_example.c -o examples/c_example \
    -L "$libdir" -lSwiftQuant -Wl,-rpath,"$libdir" -lm
echo "built examples/c_example"
