# Sourced by ./run-tests and ./run-demo: a virtual environment in .venv with the project's Python
# requirements and the swiftquant package installed (pip builds the Swift library if needed).
# Sets PY to the environment's python.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$root/.venv/bin/python" ]; then
    # --system-site-packages reuses what the machine already has; pip below adds only what is missing.
    python3 -m venv --system-site-packages "$root/.venv"
fi
PY="$root/.venv/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt"
# --no-build-isolation: the build needs only setuptools (already installed above) and the Swift toolchain.
"$PY" -m pip install --quiet --disable-pip-version-check --no-build-isolation "$root/python"
