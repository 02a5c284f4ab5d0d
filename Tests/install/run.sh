#!/usr/bin/env bash
# The C install (scripts/install-c) as a user meets it: install into a scratch prefix, check the tree, the
# SONAME and the export list, then build the README's C blocks and examples/c_example.c outside the
# repository with pkg-config and with CMake, and run them from another directory.
# Needs cmake (requirements-dev.txt puts it in .venv); CMAKE overrides.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CC="${CC:-cc}"
CMAKE="${CMAKE:-$root/.venv/bin/cmake}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
fail() { echo "install test: $*" >&2; exit 1; }

"$root/scripts/install-c" --prefix "$prefix"
v() { sed -n "s/^#define SQ_VERSION_$1 \([0-9][0-9]*\)\$/\1/p" "$root/Include/swiftquant.h"; }
version="$(v MAJOR).$(v MINOR).$(v PATCH)"
lib="$prefix/lib"
for f in include/swiftquant.h "lib/libSwiftQuant.so.$version" lib/pkgconfig/swiftquant.pc \
         lib/cmake/SwiftQuant/SwiftQuantConfig.cmake lib/cmake/SwiftQuant/SwiftQuantConfigVersion.cmake; do
    [ -f "$prefix/$f" ] || fail "missing $f"
done
[ "$(readlink "$lib/libSwiftQuant.so")" = "libSwiftQuant.so.$(v MAJOR)" ] || fail "libSwiftQuant.so link"
[ "$(readlink "$lib/libSwiftQuant.so.$(v MAJOR)")" = "libSwiftQuant.so.$version" ] || fail "SONAME link"
soname=$(readelf -d "$lib/libSwiftQuant.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libSwiftQuant.so.$(v MAJOR)" ] || fail "SONAME is '$soname'"
# Exports: exactly the functions the header declares.
nm -D --defined-only "$lib/libSwiftQuant.so.$version" | awk '{print $3}' | sort > "$work/exported"
grep -oE '\bsq_[a-z0-9_]+\(' "$root/Include/swiftquant.h" | tr -d '(' | sort -u > "$work/declared"
if ! diff "$work/declared" "$work/exported" > "$work/diff"; then
    head -20 "$work/diff" >&2; fail "exported symbols differ from the header's functions (< header, > .so)"
fi
echo "install: $prefix: SONAME $soname, $(wc -l < "$work/exported") symbols exported, all sq_* from the header"

# The programs: the README's C blocks and the C example, each built in its own folder outside the repo.
mkdir -p "$work/src" "$work/elsewhere"
python3 - "$root/README.md" "$work/src" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"^```c\n(.*?)^```$", text, flags=re.S | re.M)
assert blocks, "README.md has no ```c block"
for i, b in enumerate(blocks):
    open(f"{sys.argv[2]}/readme{i}.c", "w").write(b)
PY
cp "$root/examples/c_example.c" "$work/src/c_example.c"
export PKG_CONFIG_PATH="$lib/pkgconfig"
for src in "$work/src"/*.c; do
    name=$(basename "$src" .c)
    # pkg-config, as the README shows it.
    (cd "$work/src" && "$CC" -std=c99 -Wall -Wextra -Werror "$name.c" -o "$work/$name-pc" \
        $(pkg-config --cflags --libs swiftquant) -lm -Wl,-rpath,"$(pkg-config --variable=libdir swiftquant)")
    # CMake, find_package against the installed tree.
    mkdir -p "$work/cm-$name"
    cat > "$work/cm-$name/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(prog C)
find_package(SwiftQuant 0.1 REQUIRED)
add_executable(prog "$src")
target_link_libraries(prog PRIVATE SwiftQuant::SwiftQuant m)
CM
    "$CMAKE" -S "$work/cm-$name" -B "$work/cm-$name/build" -DCMAKE_PREFIX_PATH="$prefix" > "$work/cmake.log" \
        || { cat "$work/cmake.log" >&2; fail "cmake configure ($name)"; }
    "$CMAKE" --build "$work/cm-$name/build" > "$work/cmake.log" || { cat "$work/cmake.log" >&2; fail "cmake build ($name)"; }
    for exe in "$work/$name-pc" "$work/cm-$name/build/prog"; do
        (cd "$work/elsewhere" && env -u LD_LIBRARY_PATH "$exe" > "$work/out.txt") || { cat "$work/out.txt"; fail "$exe failed"; }
        ldd "$exe" | grep -q "$lib/libSwiftQuant.so.$(v MAJOR)" || fail "$exe does not load the installed library"
    done
    echo "install: $name built with pkg-config and with CMake, ran from another directory: $(tail -n 1 "$work/out.txt")"
done
# The README block's printed line, worked out in its comment.
"$work/readme0-pc" | grep -qx "scale 0.008627 zero point 11: -128 46 92 127" || fail "README C block output"
