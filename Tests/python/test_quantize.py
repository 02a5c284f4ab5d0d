"""quantize / dequantize / dynamic_quantize against the NumPy reference, bit for bit: every dtype,
granularity (tensor, axis, block) and rounding; pinned tie cases; extreme values; stochastic rounding."""
import numpy as np
import pytest

import numpy_reference as ref
import swiftquant as sq
from conftest import assert_same

DTYPES = ("int8", "uint8", "int16", "uint16", "int4", "uint4")
GRANULARITIES = ("tensor", "axis", "block")
SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 0, 4), (4, 6, 5), (1, 1, 9), (5, 33)]


def test_constants():
    assert sq.INT_DTYPES == DTYPES
    assert sq.FLOAT_DTYPES == ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float4_e2m1",
                               "float6_e3m2", "float6_e2m3")
    assert sq.DTYPES == DTYPES + sq.FLOAT_DTYPES
    assert sq.ROUNDINGS == ("nearest_even", "half_away", "floor", "stochastic")
    for dt in DTYPES:
        assert sq.dtype_range(dt) == ref.DTYPE_RANGES[dt], dt


@pytest.mark.parametrize("dtype", DTYPES)
def test_qparams_attributes(dtype):
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    p = sq.QParams(0.5, zero_point=qmin, dtype=dtype)
    assert (p.qmin, p.qmax) == (qmin, qmax)
    assert p.dtype == dtype
    assert p.numpy_dtype == np.dtype(ref.STORAGE[dtype])
    assert p.scale.dtype == np.float32 and p.scale.shape == () and p.scale == np.float32(0.5)
    assert p.zero_point.dtype == np.int32 and p.zero_point.shape == () and p.zero_point == qmin
    assert p.axis is None and p.block_size is None
    pa = sq.QParams([0.5, 0.25, 2.0], zero_point=[qmax, qmin, qmin], dtype=dtype, axis=1)
    assert pa.scale.shape == (3,) and pa.scale.dtype == np.float32
    assert pa.zero_point.shape == (3,) and pa.zero_point.dtype == np.int32
    assert pa.axis == 1
    pb = sq.QParams(np.full((2, 3), 0.5), zero_point=np.full((2, 3), qmin), dtype=dtype, axis=1, block_size=4)
    assert pb.scale.shape == (2, 3) and pb.zero_point.shape == (2, 3) and pb.block_size == 4


# ---------------------------------------------------------------------------------------------------------
# Pinned tie cases (hand-picked, each commented)


@pytest.mark.parametrize(
    "rounding, expected",
    [
        # Half to even: ties go to the even neighbour, -0.5 -> -0 (stored as 0).
        ("nearest_even", [-2, -2, 0, 0, 2, 2, 2, -2]),
        # Half away from zero (C round, TFLite).
        ("half_away", [-3, -2, -1, 1, 2, 3, 2, -2]),
        # Floor (the notes' worked example): towards -inf, so -2.3 -> -3.
        ("floor", [-3, -2, -1, 0, 1, 2, 2, -3]),
    ],
)
@pytest.mark.parametrize("dtype", ["int8", "int16", "int4"])
def test_pinned_ties(rounding, expected, dtype):
    # The header's table, with scale 1 so that x / scale is exactly the table's v.
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.3, -2.3], np.float32)
    q = sq.quantize(x, sq.QParams(1.0, 0, dtype), rounding=rounding)
    assert_same(q, np.array(expected, ref.STORAGE[dtype]), "header rounding table", rounding=rounding, dtype=dtype)


@pytest.mark.parametrize(
    "rounding, expected",
    [
        # v = x / 0.25 = [2.5, 3.5, 0.5, 1.0]; the zero point 1 is added after rounding:
        # round(2.5) + 1 = 3 (not round(3.5) = 4).
        ("nearest_even", [3, 5, 1, 2]),
        ("half_away", [4, 5, 2, 2]),
        ("floor", [3, 4, 1, 2]),
    ],
)
def test_zero_point_added_after_rounding(rounding, expected):
    x = np.array([0.625, 0.875, 0.125, 0.25], np.float32)
    q = sq.quantize(x, sq.QParams(0.25, 1, "uint8"), rounding=rounding)
    assert_same(q, np.array(expected, np.uint8), rounding=rounding)


def test_zero_point_after_rounding_notes_case():
    # x = 0.5, scale 1, zp 1: rint(0.5) + 1 = 1 (adding zp first would give rint(1.5) = 2).
    assert_same(sq.quantize(np.array([0.5], np.float32), sq.QParams(1.0, 1, "int8")), np.array([1], np.int8))
    assert_same(sq.quantize(np.array([-0.5], np.float32), sq.QParams(1.0, -1, "int8")), np.array([-1], np.int8))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rounding", ref.DETERMINISTIC_ROUNDINGS)
def test_every_tie_in_range(dtype, rounding):
    # Every half-integer v in [qmin - 2, qmax + 2] (power-of-two scale: x / s is exact), plus saturation.
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    zp = (qmin + qmax) // 2 if dtype != "uint16" else 1000
    lo, hi = qmin - zp - 2, qmax - zp + 2
    v = np.arange(lo, hi, 1, dtype=np.float64) + 0.5
    if v.size > 4000:
        v = np.concatenate([v[:1500], v[v.size // 2 - 500: v.size // 2 + 500], v[-1500:]])
    s = np.float32(2.0 ** -3)
    x = (v * float(s)).astype(np.float32)
    assert (x / s == v).all()  # the test's premise: exact ties
    p = sq.QParams(s, zp, dtype)
    assert_same(sq.quantize(x, p, rounding=rounding), ref.quantize_ref(x, s, zp, dtype, rounding=rounding),
                "ties", dtype=dtype, rounding=rounding, zp=zp)


def test_division_not_reciprocal():
    # Values where x / s and x * (1 / s) round to different integers; the header requires the division.
    found = []
    k = np.arange(-20000, 20000).astype(np.float32)
    for s in (np.float32(0.1), np.float32(0.3), np.float32(0.007), np.float32(1 / 3)):
        x = ((k + np.float32(0.5)) * s).astype(np.float32)
        x = np.concatenate([x, np.nextafter(x, np.float32(np.inf)), np.nextafter(x, np.float32(-np.inf))])
        div = np.rint(x / s)
        recip = np.rint(x * (np.float32(1) / s))
        sel = x[div != recip]
        assert sel.size > 100  # premise of the test
        found.append((s, sel))
    for s, x in found:
        for rounding in ref.DETERMINISTIC_ROUNDINGS:
            q = sq.quantize(x, sq.QParams(s, 0, "int16"), rounding=rounding)
            assert_same(q, ref.quantize_ref(x, s, 0, "int16", rounding=rounding), "division", scale=s, rounding=rounding)


# ---------------------------------------------------------------------------------------------------------
# Cross-checks against the reference


def _granularity(gran, shape, rng):
    """(axis, block_size) for a granularity over a shape, or None when the shape cannot have it."""
    if gran == "tensor":
        return None, None
    if len(shape) == 0:
        return "skip"
    axis = int(rng.integers(0, len(shape)))
    if rng.random() < 0.3:
        axis -= len(shape)  # negative axes count from the end, as in NumPy
    if gran == "axis":
        return axis, None
    return axis, int(rng.choice([1, 2, 3, 4, 8, 32]))


def _data(shape, rng, magnitude):
    x = rng.standard_normal(shape).astype(np.float32) * np.float32(magnitude)
    if x.size and rng.random() < 0.5:
        x = x + np.float32(magnitude * rng.uniform(-2, 2))  # off-centre data: asymmetric ranges
    return x.astype(np.float32)


def _inject_extremes(x, scale_full, rng):
    """Replace ~15% of the elements by extremes: +-inf, huge, tiny, signed zeros and exact ties."""
    x = x.copy()
    if x.size == 0:
        return x
    flat = x.reshape(-1)
    sflat = np.asarray(scale_full, np.float32).reshape(-1)
    n = max(1, flat.size * 15 // 100)
    idx = rng.choice(flat.size, size=n, replace=False)
    specials = np.array([np.inf, -np.inf, 3.4e38, -3.4e38, 1e-45, -1e-45, 0.0, -0.0, 1e-30], np.float32)
    for i in idx:
        if rng.random() < 0.5:
            flat[i] = specials[rng.integers(0, specials.size)]
        else:  # a tie, k + 0.5 scales (exact when the product is exact)
            flat[i] = np.float32((int(rng.integers(-300, 300)) + 0.5) * float(sflat[i]))
    return x


def _make_params(dtype, scale, zp, axis, block_size):
    if axis is None:
        return sq.QParams(float(scale), int(zp), dtype)
    return sq.QParams(scale, zp, dtype, axis=axis, block_size=block_size)


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("rounding", ref.DETERMINISTIC_ROUNDINGS)
@pytest.mark.parametrize("gran", GRANULARITIES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_quantize_matches_reference(dtype, gran, rounding, symmetric, rng):
    for shape in SHAPES:
        g = _granularity(gran, shape, rng)
        if g == "skip":
            continue
        axis, block = g
        mag = float(rng.choice([1e-3, 1.0, 300.0]))
        calib = _data(shape, rng, mag)
        scale, zp = ref.calibrate_ref(calib, dtype, symmetric, axis, block)
        p = _make_params(dtype, scale, zp, axis, block)
        x = _inject_extremes(calib * np.float32(1.25), ref.expand(scale, shape, axis, block), rng)
        x_copy = x.copy()
        got = sq.quantize(x, p, rounding=rounding)
        exp = ref.quantize_ref(x, scale, zp, dtype, axis, block, rounding)
        assert_same(got, exp, "quantize", dtype=dtype, axis=axis, block_size=block, rounding=rounding,
                    symmetric=symmetric, scale=scale, zero_point=zp)
        assert_same(x, x_copy, "input modified")


@pytest.mark.parametrize("rounding", ref.DETERMINISTIC_ROUNDINGS)
@pytest.mark.parametrize("gran", GRANULARITIES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_quantize_random_params(dtype, gran, rounding, rng):
    # Parameters not derived from the data: random scales over many octaves, random zero points.
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    for shape in SHAPES:
        g = _granularity(gran, shape, rng)
        if g == "skip":
            continue
        axis, block = g
        if axis is None:
            pshape = ()
        elif block is None:
            pshape = (shape[ref.norm_axis(axis, len(shape))],)
        else:
            pshape = ref.blocked_shape(shape, axis, block)
        scale = np.exp(rng.uniform(-12, 6, size=pshape)).astype(np.float32)
        zp = rng.integers(qmin, qmax + 1, size=pshape).astype(np.int32)
        x = (rng.standard_normal(shape) * np.exp(rng.uniform(-10, 8, size=shape))).astype(np.float32)
        x = _inject_extremes(x, ref.expand(scale, shape, axis, block), rng)
        p = _make_params(dtype, scale, zp, axis, block)
        got = sq.quantize(x, p, rounding=rounding)
        exp = ref.quantize_ref(x, scale, zp, dtype, axis, block, rounding)
        assert_same(got, exp, "quantize", dtype=dtype, axis=axis, block_size=block, rounding=rounding,
                    scale=scale, zero_point=zp)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rounding", ref.DETERMINISTIC_ROUNDINGS)
def test_quantize_extreme_values(dtype, rounding):
    fmax = np.finfo(np.float32).max
    x = np.array([np.inf, -np.inf, fmax, -fmax, 1e30, -1e30, 1e-45, -1e-45, 0.0, -0.0,
                  float(ref.FLT_MIN) * 0.75, -float(ref.FLT_MIN) * 0.75, float(ref.FLT_MIN), 2.0**23 + 1,
                  -(2.0**23) - 1, 2.0**24, 0.49999997, -0.49999997, 1.5, -1.5], np.float32)
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    for scale in (1.0, float(ref.FLT_MIN), 1e-3, 1e30, fmax):
        for zp in sorted({qmin, 0 if qmin <= 0 else qmin, qmax}):
            got = sq.quantize(x, sq.QParams(scale, zp, dtype), rounding=rounding)
            exp = ref.quantize_ref(x, scale, zp, dtype, rounding=rounding)
            assert_same(got, exp, "extremes", dtype=dtype, scale=scale, zero_point=zp, rounding=rounding)
    # +-inf saturate whatever the scale and zero point.
    q = sq.quantize(np.array([np.inf, -np.inf], np.float32), sq.QParams(1e-3, qmin, dtype), rounding=rounding)
    assert q.tolist() == [qmax, qmin]


def test_quantize_output_dtypes_and_shapes():
    for dt in DTYPES:
        for shape in [(), (0,), (3,), (2, 0), (2, 3, 4)]:
            q = sq.quantize(np.zeros(shape, np.float32), sq.QParams(1.0, 0 if dt[0] == "i" else 1, dt))
            assert q.dtype == np.dtype(ref.STORAGE[dt]) and q.shape == shape, (dt, shape, q.dtype, q.shape)


def test_quantize_accepts_lists_float64_and_noncontiguous(rng):
    p = sq.QParams(0.1, 3, "int8")
    x64 = rng.standard_normal((6, 8)) * 5
    exp = ref.quantize_ref(x64.astype(np.float32), 0.1, 3, "int8")
    assert_same(sq.quantize(x64, p), exp, "float64 input")
    assert_same(sq.quantize(x64.tolist(), p), exp, "list input")
    x32 = np.asfortranarray(x64.astype(np.float32))
    assert_same(sq.quantize(x32, p), exp, "Fortran-order input")
    big = np.zeros((12, 16), np.float32)
    big[::2, ::2] = x64
    view = big[::2, ::2]
    assert not view.flags.c_contiguous
    assert_same(sq.quantize(view, p), exp, "strided input")
    assert_same(sq.quantize(x32.T, p), exp.T, "transposed view")
    assert_same(sq.quantize(1.04, p), np.array(13, np.int8), "Python scalar")


def test_quantize_out(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    p = sq.QParams(0.05, -3, "int8")
    out = np.full((4, 5), 99, np.int8)
    res = sq.quantize(x, p, out=out)
    assert np.shares_memory(res, out)
    assert_same(out, ref.quantize_ref(x, 0.05, -3, "int8"), "out=")


# ---------------------------------------------------------------------------------------------------------
# Dequantize


@pytest.mark.parametrize("gran", GRANULARITIES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dequantize_matches_reference(dtype, gran, rng):
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    for shape in SHAPES:
        g = _granularity(gran, shape, rng)
        if g == "skip":
            continue
        axis, block = g
        if axis is None:
            pshape = ()
        elif block is None:
            pshape = (shape[ref.norm_axis(axis, len(shape))],)
        else:
            pshape = ref.blocked_shape(shape, axis, block)
        scale = np.exp(rng.uniform(-20, 20, size=pshape)).astype(np.float32)
        zp = rng.integers(qmin, qmax + 1, size=pshape).astype(np.int32)
        q = rng.integers(qmin, qmax + 1, size=shape).astype(ref.STORAGE[dtype])
        if q.size:
            q.reshape(-1)[0] = qmin
            q.reshape(-1)[-1] = qmax
        q_copy = q.copy()
        p = _make_params(dtype, scale, zp, axis, block)
        got = sq.dequantize(q, p)
        assert_same(got, ref.dequantize_ref(q, scale, zp, dtype, axis, block), "dequantize",
                    dtype=dtype, axis=axis, block_size=block, scale=scale, zero_point=zp)
        assert_same(q, q_copy, "input modified")


def test_dequantize_extremes():
    fmax = np.finfo(np.float32).max
    # (q - zp) * scale overflows to +-inf in float32 for a huge scale; tiny scales give subnormals.
    for dtype in ("int16", "uint16"):
        qmin, qmax = ref.DTYPE_RANGES[dtype]
        q = np.array([qmin, qmax, (qmin + qmax) // 2], ref.STORAGE[dtype])
        for scale in (fmax, float(ref.FLT_MIN), 1e-3):
            for zp in (qmin, qmax):
                assert_same(sq.dequantize(q, sq.QParams(scale, zp, dtype)), ref.dequantize_ref(q, scale, zp, dtype),
                            "dequantize extremes", dtype=dtype, scale=scale, zero_point=zp)


def test_dequantize_out_and_lists():
    p = sq.QParams(0.5, 2, "int8")
    exp = np.array([-1.0, 0.0, 0.5, 62.5], np.float32)
    assert_same(sq.dequantize([0, 2, 3, 127], p), exp, "list input")
    out = np.zeros(4, np.float32)
    res = sq.dequantize(np.array([0, 2, 3, 127], np.int8), p, out=out)
    assert np.shares_memory(res, out)
    assert_same(out, exp, "out=")


@pytest.mark.parametrize("dtype", DTYPES)
def test_quantize_dequantize_empty(dtype):
    for shape in [(0,), (3, 0), (0, 2, 5)]:
        x = np.zeros(shape, np.float32)
        p = sq.QParams(1.0, 0, dtype)
        q = sq.quantize(x, p)
        assert q.shape == shape and q.dtype == np.dtype(ref.STORAGE[dtype])
        d = sq.dequantize(q, p)
        assert d.shape == shape and d.dtype == np.float32
        pa = sq.QParams(np.ones(shape[-1], np.float32), 0, dtype, axis=len(shape) - 1)
        assert sq.quantize(x, pa).shape == shape
        for rounding in sq.ROUNDINGS:
            seed = 1 if rounding == "stochastic" else None  # a seed with another rounding is an error
            assert sq.quantize(x, p, rounding=rounding, seed=seed).shape == shape


# ---------------------------------------------------------------------------------------------------------
# Stochastic rounding


def _floor_ceil_bounds(x, scale, zp, dtype, axis=None, block=None):
    """(q_floor, q_floor_plus_one, integral) per element, from the reference."""
    lo = ref.quantize_ref(x, scale, zp, dtype, axis, block, "floor").astype(np.int64)
    s = ref.expand(np.asarray(scale, np.float32), np.shape(x), axis, block)
    z = ref.expand(np.asarray(zp, np.int64), np.shape(x), axis, block)
    with np.errstate(over="ignore"):
        v = (np.asarray(x, np.float32) / s).astype(np.float64)
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    hi = np.clip(np.floor(v) + 1 + z, qmin, qmax).astype(np.int64)
    integral = np.floor(v) == v
    return lo, hi, integral


@pytest.mark.parametrize("gran", GRANULARITIES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_stochastic_is_floor_or_floor_plus_one(dtype, gran, rng):
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    shape = (6, 40)
    axis, block = {"tensor": (None, None), "axis": (1, None), "block": (1, 7)}[gran]
    pshape = {"tensor": (), "axis": (40,), "block": (6, 6)}[gran]
    scale = np.exp(rng.uniform(-3, 1, size=pshape)).astype(np.float32)
    zp = rng.integers(qmin, qmax + 1, size=pshape).astype(np.int32)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    x[0, :5] = [np.inf, -np.inf, 0.0, 3.4e38, -3.4e38]
    p = _make_params(dtype, scale, zp, axis, block)
    lo, hi, integral = _floor_ceil_bounds(x, scale, zp, dtype, axis, block)
    for seed in range(5):
        q = sq.quantize(x, p, rounding="stochastic", seed=seed).astype(np.int64)
        bad = ~((q == lo) | (q == hi))
        assert not bad.any(), f"seed {seed}: at {np.argwhere(bad)[:5].tolist()} got {q[bad][:5]}, " \
                              f"allowed {lo[bad][:5]} or {hi[bad][:5]}"
        assert_same(q[integral], lo[integral], "stochastic must keep exact integers", seed=seed)


def test_stochastic_reproducible_and_seed_dependent(rng):
    x = (rng.integers(-50, 50, size=1000) + 0.5).astype(np.float32)  # every element is a coin flip
    p = sq.QParams(1.0, 0, "int8")
    a = sq.quantize(x, p, rounding="stochastic", seed=12345)
    b = sq.quantize(x, p, rounding="stochastic", seed=12345)
    c = sq.quantize(x, p, rounding="stochastic", seed=12346)
    assert_same(a, b, "same seed must give the same result")
    assert (a != c).any(), "different seeds gave identical results for 1000 coin flips"
    # Both neighbours occur (not a disguised floor or ceil).
    assert (a.astype(np.int64) == np.floor(x)).any() and (a.astype(np.int64) == np.floor(x) + 1).any()


def test_stochastic_keyed_by_flat_index():
    # The random bits depend on (seed, flat element index) only: a prefix of the input quantizes to the
    # prefix of the result, and a reshape does not change anything.
    x = (np.arange(10000, dtype=np.float32) % 200 - 100 + np.float32(0.37)).astype(np.float32)
    p = sq.QParams(1.0, 0, "int8")
    full = sq.quantize(x, p, rounding="stochastic", seed=7)
    for n in (1, 17, 1000, 4099):
        assert_same(sq.quantize(x[:n], p, rounding="stochastic", seed=7), full[:n], "prefix", n=n)
    assert_same(sq.quantize(x.reshape(100, 100), p, rounding="stochastic", seed=7), full.reshape(100, 100), "reshape")


def test_stochastic_unbiased_over_seeds():
    v = np.array([0.1, 0.25, 0.5, 0.75, 0.9, -0.3, -1.7, 2.0, 5.0625, -7.96875], np.float32)
    p = sq.QParams(1.0, 0, "int8")
    n = 2000
    total = np.zeros(v.size, np.float64)
    for seed in range(n):
        total += sq.quantize(v, p, rounding="stochastic", seed=seed)
    mean = total / n
    frac = v.astype(np.float64) - np.floor(v)
    se = np.sqrt(frac * (1 - frac) / n)
    tol = 5 * se + 1e-12
    assert (np.abs(mean - v) <= tol).all(), f"v={v}, mean={mean}, tol={tol}"
    assert mean[7] == 2.0  # an exactly integral v is never rounded away


def test_stochastic_unbiased_over_elements():
    # 200k independent draws of one value per call: the probability of rounding up is v - floor(v).
    p = sq.QParams(1.0, 0, "int16")
    for v in (0.5, 0.001, 0.999, -3.25, 2.0 ** -10):
        x = np.full(200_000, v, np.float32)
        q = sq.quantize(x, p, rounding="stochastic", seed=99).astype(np.float64)
        frac = float(np.float32(v)) - np.floor(v)
        se = np.sqrt(frac * (1 - frac) / x.size)
        assert abs(q.mean() - float(np.float32(v))) <= 5 * se, (v, q.mean(), se)


def test_seed_with_a_deterministic_rounding_is_an_error(rng):
    x = (rng.standard_normal(500) * 10).astype(np.float32)
    p = sq.QParams(0.3, 0, "int8")
    for rounding in ref.DETERMINISTIC_ROUNDINGS:
        for f in (sq.quantize, sq.fake_quantize, sq.error_report):
            with pytest.raises(sq.SwiftQuantError, match="seed applies only to rounding='stochastic'"):
                f(x, p, rounding=rounding, seed=1)
        assert_same(sq.quantize(x, p, rounding=rounding), ref.quantize_ref(x, 0.3, 0, "int8", rounding=rounding))
    with pytest.raises(sq.SwiftQuantError, match="seed does not apply to a Codebook"):
        sq.error_report(x, sq.fit_codebook(x, bits=3), seed=1)


# ---------------------------------------------------------------------------------------------------------
# Dynamic quantization


@pytest.mark.parametrize("case", ["normal", "positive", "negative", "one", "empty", "zeros", "ties", "zp-tie", "wide"])
def test_dynamic_quantize_matches_reference(case, rng):
    x = {
        "normal": lambda: rng.standard_normal((7, 13)).astype(np.float32) * 3,
        "positive": lambda: rng.uniform(0.5, 9, size=100).astype(np.float32),
        "negative": lambda: rng.uniform(-9, -0.5, size=(4, 25)).astype(np.float32),
        "one": lambda: np.array([-2.5], np.float32),
        "empty": lambda: np.zeros((0, 4), np.float32),
        "zeros": lambda: np.zeros(10, np.float32),
        # scale = 510 / 255 = 2 exactly: -min / scale = 0.5 (zero point rounds half to even: 0), and
        # x / scale = 1.5, 2.5, -0.5 are exact ties too.
        "ties": lambda: np.array([-1.0, 509.0, 3.0, 5.0, 0.0, -1.0], np.float32),
        # scale 2 again, -min / scale = 2.5 -> zero point 2 (half away would give 3).
        "zp-tie": lambda: np.array([-5.0, 505.0, 1.0, -3.0, 7.0], np.float32),
        "wide": lambda: (rng.standard_normal(1000) * np.exp(rng.uniform(-20, 20, 1000))).astype(np.float32),
    }[case]()
    x_copy = x.copy()
    q, scale, zp = sq.dynamic_quantize(x)
    eq, escale, ezp = ref.dynamic_quantize_ref(x)
    assert_same(np.float32(scale), escale, "scale", case=case)
    assert int(zp) == int(ezp), (case, zp, ezp)
    assert q.dtype == np.uint8 and q.shape == x.shape
    assert_same(q.reshape(-1), eq, "q", case=case, scale=escale, zero_point=ezp)
    assert_same(x, x_copy, "input modified")
    if case in ("empty", "zeros"):
        assert np.float32(scale) == 1.0 and int(zp) == 0
    if case == "ties":
        assert (np.float32(scale), int(zp)) == (2.0, 0)
    if case == "zp-tie":
        assert (np.float32(scale), int(zp)) == (2.0, 2)
