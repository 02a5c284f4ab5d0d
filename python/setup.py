"""Build hook for the swiftquant wheel: runs `swift build -c release` in the repository root (the parent of
this directory) and copies libSwiftQuant.so (.dylib on macOS) into the built package. Metadata lives in
pyproject.toml."""
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
LIBRARY = "libSwiftQuant.dylib" if sys.platform == "darwin" else "libSwiftQuant.so"


def build_swift_library() -> str:
    """Build the release library and return its path (SystemExit with a clear message on failure)."""
    if not os.path.isfile(os.path.join(REPO_ROOT, "Package.swift")):
        sys.exit(f"swiftquant: {REPO_ROOT} is not the SwiftQuant repository (no Package.swift); build the "
                 "package from python/ inside a SwiftQuant checkout")
    swift = shutil.which("swift")
    if swift is None:
        sys.exit("swiftquant: the Swift toolchain is required to build libSwiftQuant, but `swift` is not on "
                 "PATH. Install Swift 5.9 or newer (https://www.swift.org/install) and retry.")
    print(f"swiftquant: swift build -c release (in {REPO_ROOT})", flush=True)
    result = subprocess.run([swift, "build", "-c", "release"], cwd=REPO_ROOT)
    if result.returncode != 0:
        sys.exit(f"swiftquant: `swift build -c release` failed in {REPO_ROOT} (exit {result.returncode}); "
                 "see the compiler output above")
    path = os.path.join(REPO_ROOT, ".build", "release", LIBRARY)
    if not os.path.isfile(path):
        sys.exit(f"swiftquant: swift build succeeded but {path} does not exist")
    return path


class BuildPyWithSwift(build_py):
    """build_py, plus the Swift library copied into the built package."""

    def run(self):
        super().run()
        library = build_swift_library()
        target_dir = os.path.join(self.build_lib, "swiftquant")
        self.mkpath(target_dir)
        self.copy_file(library, os.path.join(target_dir, LIBRARY), preserve_mode=True)


class BinaryDistribution(Distribution):
    """The wheel carries a native library, so it is platform-specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithSwift}, distclass=BinaryDistribution)
