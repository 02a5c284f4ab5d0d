"""pytest setup for the SwiftQuant Python suite: import path for numpy_reference, hypothesis profile, and
small assertion helpers whose failure messages name the index, expected, got, shape and parameters."""
import os
import sys
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Modest and deterministic: the whole suite must stay well under two minutes on two cores.
settings.register_profile(
    "swiftquant",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("swiftquant")

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Include", "swiftquant.h")


def assert_same(got, expected, what="", **params):
    """Bit-exact comparison (values, dtype and shape); on failure, shows the first differing indices."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    ctx = f"{what} shape={expected.shape} params={params}"
    assert got.shape == expected.shape, f"shape: expected {expected.shape}, got {got.shape}; {ctx}"
    assert got.dtype == expected.dtype, f"dtype: expected {expected.dtype}, got {got.dtype}; {ctx}"
    if got.dtype.kind == "f":
        # Compare bit patterns (distinguishes nothing more than value equality for our outputs, except
        # that NaN never equals NaN); -0.0 == 0.0 is accepted as equal.
        diff = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
    else:
        diff = got != expected
    if diff.any():
        idx = np.argwhere(diff)[:8]
        rows = [f"  index {tuple(int(i) for i in ix)}: expected {expected[tuple(ix)]!r}, got {got[tuple(ix)]!r}"
                for ix in idx]
        raise AssertionError(f"{int(diff.sum())} of {diff.size} elements differ; {ctx}\n" + "\n".join(rows))


@pytest.fixture
def rng(request):
    # A per-test deterministic generator: reruns reproduce failures exactly.
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)
