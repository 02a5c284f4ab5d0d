# Sourced by ./run-tests and ./run-demo: a virtual environment in .venv with the project's Python
# requirements and the swiftquant package installed. Sets PY to the environment's python.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$root/.venv/bin/python" ]; then
    # --system-site-packages reuses what the machine already has; pip below adds only what is missing.
    python3 -m venv --system-site-packages "$root/.venv"
fi
PY="$root/.venv/bin/python"
echo "swiftquant: installing the Python requirements (requirements-dev.txt)"
"$PY" -m pip install --quiet --disable-pip-version-check -r "$root/requirements-dev.txt"
# The library first, in the open: pip hides a build's output, and the first Swift build takes about a minute.
"$root/scripts/build-dist" > /dev/null
# --no-build-isolation: the build needs only setuptools (installed above); build-dist is now a no-op.
"$PY" -m pip install --quiet --disable-pip-version-check --no-build-isolation "$root/python"
