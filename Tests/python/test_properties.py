"""Hypothesis properties: the quantize -> dequantize round trip stays within half a step, stochastic
rounding is unbiased, matmul equals NumPy's int64 matmul, and results do not depend on memory layout
(and inputs are never modified)."""
import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import numpy_reference as ref
import swiftquant as sq
from conftest import assert_same

DTYPES = ("int8", "uint8", "int16", "uint16", "int4", "uint4")

finite_f32 = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def calibration_case(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=9))
    x = draw(arrays(np.float32, shape, elements=finite_f32))
    gran = draw(st.sampled_from(["tensor", "axis", "block"]))
    axis = block = None
    if gran != "tensor":
        axis = draw(st.integers(0, len(shape) - 1))
    if gran == "block":
        block = draw(st.integers(1, 5))
    return x, draw(st.sampled_from(DTYPES)), draw(st.booleans()), axis, block


@given(calibration_case())
def test_round_trip_within_half_step(case):
    x, dtype, symmetric, axis, block = case
    p = sq.calibrate(x, dtype=dtype, symmetric=symmetric, axis=axis, block_size=block)
    d = sq.dequantize(sq.quantize(x, p), p)
    s = ref.expand(np.asarray(p.scale, np.float32), x.shape, axis, block).astype(np.float64)
    err = np.abs(d.astype(np.float64) - x.astype(np.float64))
    # Half a step, plus float32 rounding of x / S, of S itself (up to 65535 steps) and of (q - z) * S.
    tol = s * 0.51 + np.abs(x.astype(np.float64)) * 2.0**-21
    bad = err > tol
    assert not bad.any(), (f"dtype={dtype} symmetric={symmetric} axis={axis} block={block} "
                           f"x={x[bad][:5]} got={d[bad][:5]} err={err[bad][:5]} tol={tol[bad][:5]}")


@given(
    v=st.floats(min_value=-100, max_value=100, allow_nan=False, width=32),
    seed=st.integers(0, 2**64 - 1),
)
def test_stochastic_unbiased(v, seed):
    x = np.full(20000, v, np.float32)
    q = sq.quantize(x, sq.QParams(1.0, 0, "int16"), rounding="stochastic", seed=seed).astype(np.float64)
    fl = np.floor(float(v))
    assert set(np.unique(q)).issubset({fl, fl + 1}), (v, np.unique(q))
    frac = float(v) - fl
    se = np.sqrt(frac * (1 - frac) / x.size)
    assert abs(q.mean() - float(v)) <= 6 * se + 1e-12, (v, seed, q.mean(), se)


@st.composite
def matmul_case(draw):
    a_dtype = draw(st.sampled_from(["int8", "uint8"]))
    b_dtype = draw(st.sampled_from(["int8", "uint8"]))
    m, k, n = draw(st.integers(0, 12)), draw(st.integers(0, 40)), draw(st.integers(0, 12))
    batch_a = draw(st.lists(st.integers(1, 3), max_size=2))
    batch_b = list(batch_a[len(batch_a) - draw(st.integers(0, len(batch_a))):])
    batch_b = [1 if draw(st.booleans()) else d for d in batch_b]  # size-1 dims broadcast
    if draw(st.booleans()):
        batch_a, batch_b = batch_b, batch_a
    a_1d = draw(st.booleans()) and not batch_a
    b_1d = draw(st.booleans()) and not batch_b
    a_shape = (k,) if a_1d else tuple(batch_a) + (m, k)
    b_shape = (k,) if b_1d else tuple(batch_b) + (k, n)
    alo, ahi = ref.DTYPE_RANGES[a_dtype]
    blo, bhi = ref.DTYPE_RANGES[b_dtype]
    a = draw(arrays(np.dtype(a_dtype), a_shape, elements=st.integers(alo, ahi)))
    b = draw(arrays(np.dtype(b_dtype), b_shape, elements=st.integers(blo, bhi)))
    za = draw(st.integers(alo, ahi))
    if not b_1d and draw(st.booleans()):
        zb = np.array(draw(st.lists(st.integers(blo, bhi), min_size=n, max_size=n)), np.int32)
    else:
        zb = draw(st.integers(blo, bhi))
    return a, b, za, zb


@given(matmul_case())
def test_matmul_equals_numpy_int64(case):
    a, b, za, zb = case
    exp = ref.matmul_ref(a, b, za, zb)
    got = sq.matmul(a, b, a_zero_point=za, b_zero_point=zb)
    assert_same(got, exp.astype(np.int32), "matmul", a_shape=a.shape, b_shape=b.shape, za=za, zb=zb)
    assert (exp == got.astype(np.int64)).all()


LAYOUTS = ["fortran", "strided", "transposed", "reversed"]


def _relayout(x, how):
    """A view of x with the same values but another memory layout."""
    if how == "fortran":
        return np.asfortranarray(x)
    if how == "strided":
        big = np.zeros(tuple(2 * d + 1 for d in x.shape), x.dtype)
        view = big[tuple(slice(1, None, 2) for _ in x.shape)]
        view[...] = x
        return view
    if how == "transposed":
        return np.ascontiguousarray(x.T).T
    if how == "reversed":
        return np.ascontiguousarray(x[::-1])[::-1] if x.ndim else x
    raise AssertionError(how)


@given(
    x=arrays(np.float32, array_shapes(min_dims=1, max_dims=3, max_side=7),
             elements=st.floats(-300, 300, allow_nan=False, width=32)),
    how=st.sampled_from(LAYOUTS),
    dtype=st.sampled_from(DTYPES),
    rounding=st.sampled_from(["nearest_even", "half_away", "floor", "stochastic"]),
)
def test_quantize_independent_of_layout(x, how, dtype, rounding):
    v = _relayout(x, how)
    v_before = v.copy()
    axis = x.ndim - 1
    p_axis = sq.calibrate(v, dtype=dtype, axis=axis)
    p_axis_c = sq.calibrate(x, dtype=dtype, axis=axis)
    assert_same(np.asarray(p_axis.scale), np.asarray(p_axis_c.scale), "calibrate scale vs layout", how=how)
    assert_same(np.asarray(p_axis.zero_point), np.asarray(p_axis_c.zero_point), "calibrate zp vs layout", how=how)
    for p in (sq.calibrate(x, dtype=dtype), p_axis):
        seed = 11 if rounding == "stochastic" else None
        got = sq.quantize(v, p, rounding=rounding, seed=seed)
        exp = sq.quantize(x, p, rounding=rounding, seed=seed)
        assert_same(got, exp, "quantize vs layout", how=how, rounding=rounding)
        if rounding != "stochastic":
            assert_same(got, ref.quantize_ref(x, p.scale, p.zero_point, dtype, p.axis, None, rounding), "reference")
        q_view = _relayout(exp, how)
        assert_same(sq.dequantize(q_view, p), sq.dequantize(exp, p), "dequantize vs layout", how=how)
        assert_same(q_view, exp, "q modified")
    assert_same(v, v_before, "input modified", how=how)


@given(case=matmul_case(), how_a=st.sampled_from(LAYOUTS), how_b=st.sampled_from(LAYOUTS))
def test_matmul_independent_of_layout(case, how_a, how_b):
    a, b, za, zb = case
    av, bv = _relayout(a, how_a), _relayout(b, how_b)
    got = sq.matmul(av, bv, za, zb)
    assert_same(got, sq.matmul(a, b, za, zb), "matmul vs layout", how_a=how_a, how_b=how_b)
    assert_same(av, a, "a modified")
    assert_same(bv, b, "b modified")
