#!/usr/bin/env bash
# The Python distributions as a user meets them:
# - `pip wheel ./python` gives one py3-none-manylinux wheel, tagged as `auditwheel show` reports the library;
# - it installs and works, with no Swift on PATH, on CPython 3.11 and 3.13 (and 3.9, 3.10, 3.12 where pyenv
#   has them);
# - the sdist carries the Swift package; without Swift it stops with a clear message, with Swift it builds.
# PY (default .venv/bin/python) needs pip, build and auditwheel (requirements-dev.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PY:-$root/.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "packaging test: $*" >&2; exit 1; }
pip_q=(-m pip --disable-pip-version-check -q)

# PATH without any directory holding a `swift` executable.
noswift_path=$(tr ':' '\n' <<<"$PATH" | while read -r d; do if [ -n "$d" ] && [ ! -x "$d/swift" ]; then echo "$d"; fi; done | paste -sd:)
if PATH="$noswift_path" command -v swift >/dev/null; then fail "could not hide swift from PATH"; fi

# 1. The wheel and its tag.
"$PY" "${pip_q[@]}" wheel --no-deps "$root/python" -w "$work/wheel"
whl=$(ls "$work"/wheel/swiftquant-*.whl)
tag=$(basename "$whl" .whl | cut -d- -f3-)
[[ "$tag" =~ ^py3-none-manylinux_2_[0-9]+_x86_64$ ]] || fail "wheel tag $tag is not py3-none-manylinux_2_N_x86_64"
"$PY" -m auditwheel show "$whl" > "$work/auditwheel.txt" 2>&1 || { cat "$work/auditwheel.txt"; fail "auditwheel show failed"; }
plat=${tag#py3-none-}
tr -s ' \n' ' ' < "$work/auditwheel.txt" | grep -q "consistent with the following platform tag: \"$plat\"" \
    || { cat "$work/auditwheel.txt"; fail "auditwheel does not report $plat"; }
echo "packaging: $(basename "$whl"): auditwheel reports $plat"

# 2. Installed into fresh virtual environments of several CPythons, used with no Swift on PATH.
smoke='
import os, numpy as np, swiftquant as sq
assert os.path.dirname(sq._native.LIBRARY_PATH) == os.path.dirname(sq.__file__), sq._native.LIBRARY_PATH
x = np.float32([-1.2, 0.3, 0.7, 1.0])
p = sq.calibrate(x, dtype="int8")
q = sq.quantize(x, p)
# scale = (1.0 - (-1.2)) / 255, zero point = round(-128 + 1.2 / scale) = 11; q = round(x / scale) + 11
assert abs(float(p.scale) - 2.2 / 255) < 1e-9 and int(p.zero_point) == 11, p
assert q.tolist() == [-128, 46, 92, 127], q
try:
    sq.quantize(np.float32([np.nan]), p)
    raise SystemExit("NaN was accepted")
except sq.SwiftQuantError:
    pass
print(sq.__version__ if hasattr(sq, "__version__") else "", "ok")
'
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
tested=()
for v in 3.9 3.10 3.11 3.12 3.13; do
    interp=$(ls -d "$pyenv_root"/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$interp" ]; then
        case "$v" in 3.11|3.13) fail "CPython $v not found under $pyenv_root/versions (required)" ;; esac
        echo "packaging: CPython $v not installed here, not tested"
        continue
    fi
    "$interp" -m venv "$work/venv$v"
    PATH="$noswift_path" "$work/venv$v/bin/python" "${pip_q[@]}" install "$whl"
    out=$(cd "$work" && PATH="$noswift_path" env -u SWIFTQUANT_LIBRARY -u PYTHONPATH "$work/venv$v/bin/python" -c "$smoke") \
        || fail "the wheel does not work on $("$interp" --version)"
    tested+=("$("$interp" --version | cut -d' ' -f2)")
done
echo "packaging: the wheel installs and works without Swift on CPython ${tested[*]}"

# 3. The sdist.
"$PY" -m build --sdist --no-isolation --outdir "$work/sdist" "$root/python" > "$work/sdist.log" 2>&1 \
    || { tail -20 "$work/sdist.log"; fail "sdist build failed"; }
sdist=$(ls "$work"/sdist/swiftquant-*.tar.gz)
tar -tzf "$sdist" > "$work/sdist.txt"
for f in Package.swift Include/swiftquant.h Sources/SwiftQuant/CAPI/QuantizeAPI.swift Sources/_SwiftQuantShims/cpu.c \
         scripts/build-dist scripts/exports.map setup.py swiftquant/__init__.py; do
    grep -q "^swiftquant-[0-9.]*/$f\$" "$work/sdist.txt" || fail "the sdist lacks $f"
done
if PATH="$noswift_path" "$PY" "${pip_q[@]}" wheel --no-deps --no-build-isolation "$sdist" -w "$work/fromsdist-noswift" \
        > "$work/noswift.log" 2>&1; then
    fail "building from the sdist without Swift succeeded"
fi
grep -q "the Swift toolchain is required to build libSwiftQuant, but \`swift\` is not on PATH" "$work/noswift.log" \
    || { cat "$work/noswift.log"; fail "no clear message without Swift"; }
"$PY" "${pip_q[@]}" wheel --no-deps --no-build-isolation "$sdist" -w "$work/fromsdist" \
    || fail "building a wheel from the sdist failed"
ls "$work"/fromsdist/swiftquant-*-py3-none-manylinux_2_*_x86_64.whl > /dev/null || fail "no wheel from the sdist"
echo "packaging: the sdist ($(wc -l < "$work/sdist.txt") files) builds a wheel with Swift, and without Swift says why"
