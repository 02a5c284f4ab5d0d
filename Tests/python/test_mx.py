"""OCP MX block formats (sq.mx_quantize / sq.mx_dequantize) against an independent NumPy implementation of
OCP MX v1.0 section 6.3, bit for bit: the shared exponent from np.frexp, the elements by ml_dtypes casts of
the exact (float64) quotient, MXINT8 by np.rint. Every random case is seeded; failures print the seed,
format, shape, axis, the first differing index, expected and got."""
import ml_dtypes
import numpy as np
import pytest

import swiftquant as sq
from swiftquant import _native

# name -> (ml_dtypes element type or None for int8, emax_elem, largest element value)
FORMATS = {
    "mxfp8_e4m3": (ml_dtypes.float8_e4m3fn, 8, 448.0),
    "mxfp8_e5m2": (ml_dtypes.float8_e5m2, 15, 57344.0),
    "mxfp6_e3m2": (ml_dtypes.float6_e3m2fn, 4, 28.0),
    "mxfp6_e2m3": (ml_dtypes.float6_e2m3fn, 2, 7.5),
    "mxfp4": (ml_dtypes.float4_e2m1fn, 2, 6.0),
    "mxint8": (None, 0, 127 / 64),
}
NAMES = list(FORMATS)


def ref_quantize(x, fmt, axis=-1):
    """The oracle: OCP MX v1.0 6.3 written directly in NumPy (float64 for the exact quotient)."""
    etype, emax, vmax = FORMATS[fmt]
    x = np.asarray(x, dtype=np.float32)
    xm = np.moveaxis(x, axis, -1)
    n = xm.shape[-1]
    nb = -(-n // 32)
    pad = np.zeros(xm.shape[:-1] + (nb * 32,), dtype=np.float32)
    pad[..., :n] = xm
    blocks = pad.reshape(xm.shape[:-1] + (nb, 32))
    with np.errstate(invalid="ignore"):
        amax = np.abs(blocks).max(axis=-1)
    bad = ~np.isfinite(amax)
    safe = np.where(bad | (amax == 0), np.float32(1), amax)
    _, ex = np.frexp(safe)                    # safe = m * 2^ex, m in [0.5, 1): floor(log2) = ex - 1
    X = np.clip(ex.astype(np.int64) - 1 - emax, -127, 127)
    X = np.where(amax == 0, -127, X)
    scales = (X + 127).astype(np.uint8)
    scales[bad] = 255
    with np.errstate(invalid="ignore", over="ignore"):
        v = blocks.astype(np.float64) * np.ldexp(1.0, -X)[..., None]   # exact in float64
    v = np.where(bad[..., None], 0.0, v)
    if etype is None:
        codes = np.clip(np.rint(v * 64), -127, 127).astype(np.int8)
    else:
        codes = np.clip(v, -vmax, vmax).astype(etype).view(np.uint8)
    codes = codes.reshape(xm.shape[:-1] + (nb * 32,))[..., :n]
    return np.moveaxis(codes, -1, axis), np.moveaxis(scales, -1, axis)


def ref_dequantize(e, s, fmt, axis=-1):
    etype = FORMATS[fmt][0]
    e = np.asarray(e)
    em = np.moveaxis(e, axis, -1)
    sm = np.moveaxis(np.asarray(s, dtype=np.uint8), axis, -1)
    n = em.shape[-1]
    vals = (em.astype(np.float64) / 64) if etype is None else em.astype(np.uint8).view(etype).astype(np.float64)
    sc = np.repeat(sm, 32, axis=-1)[..., :n].astype(np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        y = (vals * np.ldexp(1.0, sc - 127)).astype(np.float32)   # exact in float64, one rounding
    y = np.where(sc == 255, np.float32(np.nan), y)
    return np.moveaxis(y, -1, axis)


def assert_same(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    if got.dtype.kind == "f":
        same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
    else:
        same = got == want
    if not same.all():
        i = tuple(int(k) for k in np.argwhere(~same)[0])
        pytest.fail(f"{what}: {int((~same).sum())} differ; first at {i}: expected {want[i]!r}, got {got[i]!r}")


def check(x, fmt, axis=-1, what=""):
    x = np.asarray(x, dtype=np.float32)
    e, s = sq.mx_quantize(x, fmt, axis=axis)
    we, ws = ref_quantize(x, fmt, axis)
    tag = f"{fmt} shape {x.shape} axis {axis} {what}"
    assert_same(e, we, "elements " + tag)
    assert_same(s, ws, "scales " + tag)
    assert_same(sq.mx_dequantize(e, s, fmt, axis=axis), ref_dequantize(e, s, fmt, axis), "dequantize " + tag)
    return e, s


def many_magnitudes(rng, shape):
    return (rng.standard_normal(shape) * np.exp2(rng.integers(-40, 40, size=shape))).astype(np.float32)


@pytest.mark.parametrize("fmt", NAMES)
@pytest.mark.parametrize("seed", range(4))
def test_random_many_magnitudes(fmt, seed):
    rng = np.random.default_rng(seed)
    check(many_magnitudes(rng, (7, 96)), fmt, what=f"seed {seed}")
    # per-block magnitudes: each block its own scale range
    x = rng.standard_normal((5, 8, 32)).astype(np.float32) * np.exp2(rng.integers(-140, 120, size=(5, 8, 1))).astype(np.float32)
    check(x.reshape(5, 256), fmt, what=f"seed {seed} per-block magnitudes")


@pytest.mark.parametrize("fmt", NAMES)
def test_random_bit_patterns(fmt):
    """Any float32 bits (NaN, inf, subnormals, every exponent), with NaN/inf rarer so most blocks are finite."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, size=(200, 64), dtype=np.uint64).astype(np.uint32)
    special = (bits >> 23) & 0xFF == 0xFF
    bits[special & (rng.random(bits.shape) < 0.97)] &= 0xBFFFFFFF   # mostly turn them into finite values
    check(bits.view(np.float32), fmt, what="bit patterns")
    check(bits.view(np.float32)[:, :50], fmt, axis=0, what="bit patterns axis 0")


@pytest.mark.parametrize("fmt", NAMES)
def test_every_element_value_and_ties(fmt):
    """Blocks whose scale is 2^0 (amax pinned to 2^emax): every element value, the midpoints between
    neighbours (ties to even) and one float32 ulp either side, saturation just above max."""
    etype, emax, vmax = FORMATS[fmt]
    if etype is None:
        vals = np.arange(-127, 128, dtype=np.float64) / 64
    else:
        codes = np.arange(256 if np.dtype(etype).itemsize * 8 == 8 and fmt.startswith("mxfp8") else (64 if "fp6" in fmt else 16),
                          dtype=np.uint8)
        vals = codes.view(etype).astype(np.float64)
        vals = np.unique(vals[np.isfinite(vals)])
    mids = (vals[1:] + vals[:-1]) / 2
    cands = np.concatenate([vals, mids, np.nextafter(mids.astype(np.float32), np.inf), np.nextafter(mids.astype(np.float32), -np.inf),
                            [vmax * 1.01, -vmax * 1.01, vmax * 1.2, -vmax * 1.2, np.exp2(emax + 1) * 0.999]]).astype(np.float32)
    cands = cands[np.abs(cands) < np.exp2(emax + 1)]
    cnt = -(-cands.size // 31)
    x = np.zeros((cnt, 32), dtype=np.float32)
    x[:, 0] = np.float32(np.exp2(emax))            # amax exactly 2^emax: X = 0
    flat = np.zeros(cnt * 31, dtype=np.float32)
    flat[:cands.size] = cands
    x[:, 1:] = flat.reshape(cnt, 31)
    e, s = check(x, fmt, what="values and ties")
    assert (s == 127).all()


@pytest.mark.parametrize("fmt", NAMES)
def test_scaled_ties_at_many_exponents(fmt):
    rng = np.random.default_rng(11)
    etype, emax, _ = FORMATS[fmt]
    base = rng.integers(-8, 9, size=(64, 32)).astype(np.float32) / 4 + 0.125   # halfway values at fine steps
    for X in (-127, -126, -100, -20, 0, 5, 100, 127 - emax - 1):
        x = (base * np.float32(np.exp2(X))).astype(np.float32)
        check(x, fmt, what=f"ties at 2^{X}")


@pytest.mark.parametrize("fmt", NAMES)
def test_subnormal_tiny_and_huge_blocks(fmt):
    sub = np.float32(np.finfo(np.float32).smallest_subnormal)
    x = np.zeros((6, 32), dtype=np.float32)
    x[0] = np.arange(32, dtype=np.float32) * sub                     # subnormal amax: X clamps to -127
    x[1] = -np.arange(32, dtype=np.float32) * np.float32(2.0**-140)
    x[2, 3] = sub                                                    # single smallest subnormal
    x[3] = np.linspace(-1, 1, 32, dtype=np.float32) * np.float32(2.0**-120)
    x[4] = np.linspace(-1, 1, 32, dtype=np.float32) * np.finfo(np.float32).max   # amax FLT_MAX
    x[5] = np.float32(1e-30)
    x[5, 0] = np.float32(3e38)                                       # huge amax with tiny elements
    e, s = check(x, fmt, what="subnormal / huge")
    assert s[0, 0] == 0 and s[1, 0] == 0
    y = sq.mx_dequantize(e, s, fmt)
    assert np.isfinite(y).all()


@pytest.mark.parametrize("fmt", NAMES)
def test_zero_nan_inf_blocks(fmt):
    x = np.ones((5, 40), dtype=np.float32)
    x[0, :32] = 0
    x[1, :32] = -0.0
    x[2, 5] = np.nan
    x[3, 33] = np.inf
    x[4, 7] = -np.inf
    x[4, 35] = np.nan
    e, s = check(x, fmt, what="zero / NaN / inf")
    assert s[0, 0] == 0 and s[1, 0] == 0
    assert s[2, 0] == 255 and s[3, 1] == 255 and s[4, 0] == 255 and s[4, 1] == 255
    assert (e[2, :32] == 0).all()
    y = sq.mx_dequantize(e, s, fmt)
    assert np.isnan(y[2, :32]).all() and np.isfinite(y[2, 32:]).all()
    assert (y[0, :32] == 0).all()


@pytest.mark.parametrize("fmt", NAMES)
@pytest.mark.parametrize("shape,axis", [((5, 70), -1), ((70, 5), 0), ((3, 33, 4), 1), ((2, 3, 65), 2), ((1,), 0),
                                        ((31,), 0), ((33,), -1), ((4, 1, 3), 1), ((2, 64, 2, 3), 1), ((2, 100, 3), -2)])
def test_axes_and_partial_blocks(fmt, shape, axis):
    rng = np.random.default_rng(hash((fmt, shape, axis)) % 2**32)
    check(many_magnitudes(rng, shape), fmt, axis=axis)


@pytest.mark.parametrize("fmt", NAMES)
@pytest.mark.parametrize("seed", range(3))
def test_strided_axis_special_columns(fmt, seed):
    """Blocks down a strided axis (8 columns per vector step, the rest one by one): each column its own
    magnitude, with NaN, inf, zero, subnormal and tie columns among them."""
    rng = np.random.default_rng(100 + seed)
    rows, cols = 45, 29
    x = rng.standard_normal((rows, cols)) * np.exp2(rng.integers(-150, 127, size=(1, cols)))
    x = x.astype(np.float32)
    x[:, 0] = 0
    x[3, 1] = np.nan
    x[40, 2] = -np.inf
    x[:, 3] = np.arange(rows) * np.float32(np.finfo(np.float32).smallest_subnormal)
    x[:, 4] = (rng.integers(-8, 9, size=rows) / 4 + 0.125).astype(np.float32)
    x[:, 5] = -0.0
    x[:, 9] = np.finfo(np.float32).max * np.linspace(-1, 1, rows, dtype=np.float32)
    check(x, fmt, axis=0, what=f"seed {seed}")
    with np.errstate(over="ignore"):
        x3 = x * 3   # the FLT_MAX column becomes +-inf blocks
    check(np.stack([x, -x, x3]), fmt, axis=1, what=f"seed {seed} middle axis")


@pytest.mark.parametrize("fmt", ["mxfp8_e4m3", "mxfp4", "mxint8"])
@pytest.mark.parametrize("shape,axis", [((0,), 0), ((0, 5), 1), ((5, 0), 1), ((5, 0), 0), ((3, 0, 40), 2), ((2, 0, 3), 1)])
def test_zero_size(fmt, shape, axis):
    x = np.zeros(shape, dtype=np.float32)
    e, s = check(x, fmt, axis=axis)
    assert e.size == 0


@pytest.mark.parametrize("fmt", NAMES)
def test_large_threaded_matches_oracle(fmt):
    rng = np.random.default_rng(5)
    x = many_magnitudes(rng, (300, 1000))    # 300k elements: several thread-pool tasks, partial last blocks
    check(x, fmt, what="large")
    check(x, fmt, axis=0, what="large axis 0")


@pytest.mark.parametrize("fmt", NAMES)
def test_round_trip_is_stable(fmt):
    rng = np.random.default_rng(2)
    x = many_magnitudes(rng, (16, 64))
    e, s = sq.mx_quantize(x, fmt)
    y = sq.mx_dequantize(e, s, fmt)
    e2, s2 = sq.mx_quantize(y, fmt)
    y2 = sq.mx_dequantize(e2, s2, fmt)
    assert_same(y2, y, f"{fmt}: dequantize(quantize(dequantize(quantize(x)))) is not stable")
    # relative error per block bounded by the element precision (one half step at the block's scale)
    _, emax, vmax = FORMATS[fmt]
    scale = np.repeat(np.ldexp(1.0, s.astype(np.int64) - 127), 32, axis=-1)[:, :64]
    step = {"mxfp8_e4m3": 2.0**-3, "mxfp8_e5m2": 2.0**-2, "mxfp6_e3m2": 2.0**-2, "mxfp6_e2m3": 2.0**-3,
            "mxfp4": 2.0**-1, "mxint8": 2.0**-6}[fmt]
    # values near the block max: error at most half a step of the top binade, plus saturation
    assert np.all(np.abs(y - x) <= np.maximum(scale * np.exp2(emax) * step, np.abs(x) * step) + 1e-45)


def test_dequantize_accepts_ml_dtypes_and_decodes_int8_minus_128():
    x = np.linspace(-3, 3, 32, dtype=np.float32)[None]
    e, s = sq.mx_quantize(x, "mxfp8_e4m3")
    assert_same(sq.mx_dequantize(e.view(ml_dtypes.float8_e4m3fn), s, "mxfp8_e4m3"), sq.mx_dequantize(e, s, "mxfp8_e4m3"), "ml_dtypes")
    e8 = np.full((1, 32), -128, dtype=np.int8)
    y = sq.mx_dequantize(e8, np.array([[128]], dtype=np.uint8), "mxint8")
    assert (y == -4.0).all()   # -128 / 64 * 2^1


def test_fp8_nan_and_inf_codes_decode():
    e = np.zeros((1, 32), dtype=np.uint8)
    e[0, :4] = [0x7F, 0xFF, 0x7C, 0xFC]
    y = sq.mx_dequantize(e, np.array([[127]], dtype=np.uint8), "mxfp8_e5m2")
    assert np.isnan(y[0, 0]) and np.isnan(y[0, 1]) and y[0, 2] == np.inf and y[0, 3] == -np.inf
    y = sq.mx_dequantize(e, np.array([[127]], dtype=np.uint8), "mxfp8_e4m3")
    assert np.isnan(y[0, 0]) and np.isnan(y[0, 1]) and y[0, 2] == 384   # 0.1111.100 = 1.5 * 2^8


def test_scale_codes_pinned():
    """Hand-computed: amax 1.0 -> floor(log2) 0; E4M3 X = -8 (code 119), FP4 X = -2 (code 125), INT8 X = 0."""
    x = np.zeros((1, 32), dtype=np.float32)
    x[0, 0] = 1.0
    x[0, 1] = 0.75
    assert sq.mx_quantize(x, "mxfp8_e4m3")[1][0, 0] == 119
    e, s = sq.mx_quantize(x, "mxfp4")
    assert s[0, 0] == 125 and e[0, 0] == 0x6 and e[0, 1] == 0x5   # 4.0 and 3.0 in E2M1
    e, s = sq.mx_quantize(x, "mxint8")
    assert s[0, 0] == 127 and e[0, 0] == 64 and e[0, 1] == 48
    # 1.999 * 2^k saturates: E2M1 1.999 * 4 = 7.99 -> 6
    x[0, 0] = 1.999
    assert sq.mx_quantize(x, "mxfp4")[0][0, 0] == 0x7


def test_kernel_name():
    assert _native.lib.sq_kernel_name(_native.SQ_OP_MX_QUANTIZE).decode().startswith("f32-mx-quantize-x32-")
    assert _native.lib.sq_kernel_name(_native.SQ_OP_MX_DEQUANTIZE).decode().startswith("mx-f32-dequantize-x32-")


# ---- argument errors -------------------------------------------------------------------------------------

def test_errors():
    x = np.ones((2, 40), dtype=np.float32)
    with pytest.raises(ValueError, match="fmt must be one of"):
        sq.mx_quantize(x, "mxfp5")
    with pytest.raises(TypeError, match="fmt"):
        sq.mx_quantize(x, 3)
    with pytest.raises(TypeError, match="axis"):
        sq.mx_quantize(x, "mxfp4", axis=1.0)
    with pytest.raises(TypeError, match="x must be"):
        sq.mx_quantize(np.array(["a"]), "mxfp4")
    with pytest.raises(sq.SwiftQuantError, match="axis = 2 is outside") as ei:
        sq.mx_quantize(x, "mxfp4", axis=2)
    assert ei.value.status == _native.SQ_ERROR_INVALID_ARGUMENT
    with pytest.raises(sq.SwiftQuantError, match="axis"):
        sq.mx_quantize(x, "mxfp4", axis=-3)
    with pytest.raises(sq.SwiftQuantError, match="0-dimensional"):
        sq.mx_quantize(np.float32(1), "mxfp4")
    e, s = sq.mx_quantize(x, "mxfp4")
    with pytest.raises(ValueError, match="scales must have shape"):
        sq.mx_dequantize(e, s[:, :1], "mxfp4")
    with pytest.raises(TypeError, match="elements"):
        sq.mx_dequantize(e.astype(np.float32), s, "mxfp4")
    with pytest.raises(ValueError, match="elements"):
        sq.mx_dequantize(e.astype(np.int32) + 300, s, "mxfp4")
    bad = e.copy()
    bad[1, 7] = 16
    with pytest.raises(sq.SwiftQuantError, match=r"element 47 \(flat index\) is code 16") as ei:
        sq.mx_dequantize(bad, s, "mxfp4")
    assert ei.value.status == _native.SQ_ERROR_OUT_OF_RANGE
    e6, s6 = sq.mx_quantize(x, "mxfp6_e2m3", axis=0)
    e6[1, 39] = 64
    with pytest.raises(sq.SwiftQuantError, match=r"element 79 \(flat index\) is code 64"):
        sq.mx_dequantize(e6, s6, "mxfp6_e2m3", axis=0)
    e6[1, 39] = 63
    sq.mx_dequantize(e6, s6, "mxfp6_e2m3", axis=0)


def test_native_scale_count_and_null_errors():
    x = np.ones((2, 40), dtype=np.float32)
    e = np.empty((2, 40), dtype=np.uint8)
    s = np.empty((2, 2), dtype=np.uint8)
    shape = _native.shape_arg(x.shape)
    with pytest.raises(sq.SwiftQuantError, match="scale_count is 3") as ei:
        _native.lib.sq_mx_quantize(_native.ptr(x), shape, 2, 1, 4, _native.ptr(e), _native.ptr(s), 3)
    assert ei.value.status == _native.SQ_ERROR_SHAPE
    with pytest.raises(sq.SwiftQuantError, match="format: unknown MX format 6"):
        _native.lib.sq_mx_quantize(_native.ptr(x), shape, 2, 1, 6, _native.ptr(e), _native.ptr(s), 4)
    with pytest.raises(sq.SwiftQuantError, match="scales_out is NULL"):
        _native.lib.sq_mx_quantize(_native.ptr(x), shape, 2, 1, 4, _native.ptr(e), None, 4)
    with pytest.raises(sq.SwiftQuantError, match="x_out is NULL"):
        _native.lib.sq_mx_dequantize(_native.ptr(e), _native.ptr(s), 4, shape, 2, 1, 4, None)
