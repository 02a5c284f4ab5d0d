"""fake_quantize (quantize then dequantize in one pass) against the independent NumPy reference, every
dtype, granularity and deterministic rounding; bit-identical to dequantize(quantize(x)) for stochastic."""
import numpy as np
import pytest

import swiftquant as sq
from numpy_reference import dequantize_ref, quantize_ref

DTYPES = ["int8", "uint8", "int16", "uint16", "int4", "uint4"]
GRANULARITIES = [(None, None), (1, None), (0, None), (1, 4)]


def _params(x, dtype, axis, block):
    p = sq.calibrate(x, dtype=dtype, axis=axis, block_size=block)
    return p, np.asarray(p.scale), np.asarray(p.zero_point)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,block", GRANULARITIES)
@pytest.mark.parametrize("rounding", ["nearest_even", "half_away", "floor"])
def test_matches_reference(dtype, axis, block, rounding):
    rng = np.random.default_rng(abs(hash((dtype, axis, block, rounding))) % 2**32)
    x = (rng.normal(size=(6, 37)) * 3).astype(np.float32)
    x[0, :5] = [np.inf, -np.inf, 1e30, -0.0, 0.5]
    p, s, z = _params(np.clip(x, -5, 5), dtype, axis, block)  # part of x saturates
    q = quantize_ref(x, s, z, dtype, axis=axis, block_size=block, rounding=rounding)
    want = dequantize_ref(q, s, z, dtype, axis=axis, block_size=block)
    got = sq.fake_quantize(x, p, rounding=rounding)
    np.testing.assert_array_equal(got, want, err_msg=f"{dtype} axis={axis} block={block} {rounding}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_stochastic_equals_quantize_then_dequantize(dtype):
    x = np.random.default_rng(3).normal(size=1000).astype(np.float32)
    p = sq.calibrate(x, dtype=dtype)
    want = sq.dequantize(sq.quantize(x, p, rounding="stochastic", seed=11), p)
    np.testing.assert_array_equal(sq.fake_quantize(x, p, rounding="stochastic", seed=11), want)


def test_in_place_and_input_untouched():
    x = np.random.default_rng(4).normal(size=(3, 50)).astype(np.float32)
    p = sq.calibrate(x)
    copy = x.copy()
    want = sq.fake_quantize(x, p)
    np.testing.assert_array_equal(x, copy)  # not in place unless asked
    y = sq.fake_quantize(x, p, out=x)
    assert y is x
    np.testing.assert_array_equal(x, want)


def test_nan_is_an_error():
    p = sq.QParams(0.1, 0, "int8")
    with pytest.raises(sq.SwiftQuantError, match="element 2 is NaN"):
        sq.fake_quantize([0.0, 1.0, np.nan], p)
