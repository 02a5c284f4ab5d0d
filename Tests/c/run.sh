#!/usr/bin/env bash
# Builds and runs the C test programs of Tests/c against the release library (after swift build -c release).
# SWIFTQUANT_LIBDIR: the folder of libSwiftQuant.so when it is not .build/release (another --scratch-path).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
libdir="${SWIFTQUANT_LIBDIR:-$(pwd)/.build/release}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for src in Tests/c/*.c; do
    name="$(basename "$src" .c)"
    echo "== $name =="
    "${CC:-cc}" -std=c11 -O1 -Wall -Wextra -Werror -I Include "$src" -o "$out/$name" -L "$libdir" -lSwiftQuant \
        -Wl,-rpath,"$libdir" -lm
    "$out/$name"
done
