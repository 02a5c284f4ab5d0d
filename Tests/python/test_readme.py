"""Every ```python block of README.md runs as written: each block is a complete program (imports, data), run
in a fresh interpreter from a scratch directory. The C blocks are built and run by Tests/install/run.sh
against an installed tree; the one ```swift block must appear verbatim in the Swift example app, which
./run-tests builds and runs."""
import os
import re
import subprocess
import sys

import pytest

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def python_blocks():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    blocks = []
    for m in re.finditer(r"^```python\n(.*?)^```$", text, flags=re.S | re.M):
        line = text.count("\n", 0, m.start()) + 1
        blocks.append(pytest.param(m.group(1), id=f"README.md:{line}"))
    return blocks


BLOCKS = python_blocks()


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("code", BLOCKS)
def test_readme_python_block_runs(code, tmp_path):
    if "import matplotlib" in code or "plot_" in code:
        pytest.importorskip("matplotlib", reason="the block draws plots; matplotlib is the optional extra")
    env = dict(os.environ, MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, f"block failed:\n{code}\n--- stderr ---\n{r.stderr[-3000:]}"


APP_MAIN = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "swift-app", "Sources", "SwiftApp",
                        "main.swift")


def test_readme_swift_block_is_the_swift_app():
    """The README's one ```swift block appears verbatim in the example app, which ./run-tests builds and runs
    ("Swift example"), so the block is compiled and cannot drift into a fragment."""
    with open(README, encoding="utf-8") as f:
        blocks = re.findall(r"^```swift\n(.*?)^```$", f.read(), flags=re.S | re.M)
    assert len(blocks) == 1, f"expected one ```swift block in README.md, found {len(blocks)}"
    with open(APP_MAIN, encoding="utf-8") as f:
        main = f.read()
    assert blocks[0] in main, "README.md's ```swift block is not verbatim in examples/swift-app/Sources/SwiftApp/main.swift"
