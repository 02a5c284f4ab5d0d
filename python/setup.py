"""Build hook for the swiftquant wheel and sdist. The wheel: scripts/build-dist builds libSwiftQuant in the
Swift package (the parent of this directory in a checkout, this directory in an sdist) and the library is
copied into the package; the tag is py3-none-manylinux_2_N (ctypes only, so one wheel serves every CPython
3). The sdist also carries the Swift package, so it builds wherever Swift is on PATH. Metadata lives in
pyproject.toml."""
import os
import platform
import re
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
# In a checkout the Swift package is the parent of python/; in an sdist it sits beside this file.
SWIFT_ROOT = HERE if os.path.isfile(os.path.join(HERE, "Package.swift")) else os.path.dirname(HERE)
LIBRARY = "libSwiftQuant.dylib" if sys.platform == "darwin" else "libSwiftQuant.so"
# What an sdist needs to build the library (copied in from the checkout by SdistWithSwift); the manifest
# names the Swift test target, so its sources come too.
SWIFT_SOURCES = ["Package.swift", "Sources", "Include", "Tests/SwiftQuantTests", "scripts/build-dist",
                 "scripts/exports.map"]


def build_swift_library() -> str:
    """Build the release library with scripts/build-dist and return its path (SystemExit with a clear
    message on failure). The compiler's progress goes to stderr; `pip install -v` shows it."""
    script = os.path.join(SWIFT_ROOT, "scripts", "build-dist")
    if not os.path.isfile(os.path.join(SWIFT_ROOT, "Package.swift")) or not os.path.isfile(script):
        sys.exit(f"swiftquant: {SWIFT_ROOT} holds no Swift package (Package.swift, scripts/build-dist); build "
                 "from python/ inside a SwiftQuant checkout or from the swiftquant sdist")
    if shutil.which("swift") is None:
        sys.exit("swiftquant: the Swift toolchain is required to build libSwiftQuant, but `swift` is not on "
                 "PATH. Install Swift 5.9 or newer (https://www.swift.org/install) and retry.")
    print("swiftquant: building libSwiftQuant with Swift (about a minute the first time)", file=sys.stderr,
          flush=True)
    result = subprocess.run(["bash", script], cwd=SWIFT_ROOT, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"swiftquant: {script} failed (exit {result.returncode}); see the compiler output above")
    path = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if not os.path.isfile(path):
        sys.exit(f"swiftquant: the Swift build succeeded but the library {path!r} does not exist")
    return path


def manylinux_tag(library: str) -> str:
    """manylinux_2_N_<arch> for the newest glibc symbol version the library needs (PEP 600). The library
    is C ABI only, loaded by ctypes, so the wheel is py3-none: one wheel for every CPython."""
    with open(library, "rb") as f:
        data = f.read()
    minors = [int(m) for m in re.findall(rb"GLIBC_2\.([0-9]+)(?![0-9.])", data)]
    if not minors:
        sys.exit(f"swiftquant: {library} names no glibc symbol version; cannot tag the wheel")
    return f"manylinux_2_{max(minors)}_{platform.machine()}"


class BuildPyWithSwift(build_py):
    """build_py, plus the Swift library copied into the built package."""

    def run(self):
        super().run()
        library = build_swift_library()
        target_dir = os.path.join(self.build_lib, "swiftquant")
        self.mkpath(target_dir)
        self.copy_file(library, os.path.join(target_dir, LIBRARY), preserve_mode=True)


class WheelPy3None(bdist_wheel):
    """Tag the wheel py3-none-<platform>: pure ctypes over a C-ABI library, so any CPython 3 loads it."""

    def get_tag(self):
        _, _, plat = super().get_tag()
        if sys.platform.startswith("linux"):
            library = os.path.join(self.bdist_dir or "", "swiftquant", LIBRARY)
            if not os.path.isfile(library):
                library = build_swift_library()
            plat = manylinux_tag(library)
        return "py3", "none", plat


class SdistWithSwift(sdist):
    """The sdist carries the Swift package, so it builds wherever Swift is installed."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        if SWIFT_ROOT == HERE:
            return  # building an sdist from an sdist: the sources are already listed
        for rel in SWIFT_SOURCES:
            src, dst = os.path.join(SWIFT_ROOT, rel), os.path.join(base_dir, rel)
            if os.path.isdir(src):
                shutil.copytree(src, dst)
            else:
                os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
                shutil.copy2(src, dst)


class BinaryDistribution(Distribution):
    """The wheel carries a native library, so it is platform-specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithSwift, "bdist_wheel": WheelPy3None, "sdist": SdistWithSwift},
      distclass=BinaryDistribution)
