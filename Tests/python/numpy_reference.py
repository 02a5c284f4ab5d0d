"""Independent NumPy reference of the formulas in Include/swiftquant.h.

Everything here is written from the header's text, never from the library's code or outputs: it is the
oracle the pytest suite compares SwiftQuant against, bit for bit. It deliberately uses plain, slow,
obvious NumPy (float64 where the header says float64, float32 where it says float32).
"""
import math

import numpy as np

FLT_MIN = np.float32(np.finfo(np.float32).tiny)  # smallest normal float32, 2**-126

DTYPE_RANGES = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int16": (-32768, 32767),
    "uint16": (0, 65535),
    "int4": (-8, 7),
    "uint4": (0, 15),
}

# Header convention 3: one value per element in the dtype's storage type.
STORAGE = {
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int4": np.int8,
    "uint4": np.uint8,
}

SIGNED = {"int8": True, "uint8": False, "int16": True, "uint16": False, "int4": True, "uint4": False}

DETERMINISTIC_ROUNDINGS = ("nearest_even", "half_away", "floor")


# ---------------------------------------------------------------------------------------------------------
# Granularity


def norm_axis(axis, ndim):
    if axis is None:
        return None
    return axis + ndim if axis < 0 else axis


def params_count(shape, axis, block_size):
    """sq_qparams_count: 1 per tensor, shape[k] per axis, prod(shape with dim k = ceil(n_k/b)) per block."""
    if axis is None:
        return 1
    axis = norm_axis(axis, len(shape))
    if not block_size:
        return int(shape[axis])
    return int(np.prod(blocked_shape(shape, axis, block_size), dtype=np.int64))


def blocked_shape(shape, axis, block_size):
    axis = norm_axis(axis, len(shape))
    out = list(shape)
    out[axis] = -(-shape[axis] // block_size)  # ceil
    return tuple(out)


def expand(values, shape, axis, block_size):
    """Broadcast per-group parameters (scale or zero point) to one value per element of `shape`.

    per tensor: a scalar; per axis: values[i_k] for element [..., i_k, ...]; per block (ONNX blocked
    layout): values[..., i_k // b, ...], i.e. np.repeat along the axis then trim to shape[axis].
    """
    values = np.asarray(values)
    shape = tuple(shape)
    if axis is None:
        return np.broadcast_to(values.reshape(()), shape)
    ndim = len(shape)
    axis = norm_axis(axis, ndim)
    if not block_size:
        view = [1] * ndim
        view[axis] = shape[axis]
        return np.broadcast_to(values.reshape(view), shape)
    assert values.shape == blocked_shape(shape, axis, block_size), (values.shape, shape, axis, block_size)
    rep = np.repeat(values, block_size, axis=axis)
    return np.take(rep, np.arange(shape[axis]), axis=axis)


# ---------------------------------------------------------------------------------------------------------
# Rounding


def round_ref(v, rounding):
    """Round float64 values to integers (as float64) by the header's table.

    nearest_even = numpy.rint; floor = numpy.floor; half_away = sign(v) * floor(|v| + 0.5), computed
    without the `|v| + 0.5` addition (which rounds for |v| near 2**52, and in float32 for 0.49999997):
    the fractional part a - floor(a) of a binary float is exact, so compare it with 0.5 instead.
    """
    v = np.asarray(v, dtype=np.float64)
    if rounding == "nearest_even":
        return np.rint(v)
    if rounding == "floor":
        return np.floor(v)
    if rounding == "half_away":
        a = np.abs(v)
        with np.errstate(invalid="ignore"):
            f = np.floor(a)
            frac = a - f  # exact (inf - inf = nan for inf, handled below)
            r = np.where(frac >= 0.5, f + 1.0, f)
        r = np.where(np.isinf(a), a, r)
        return np.copysign(r, v)
    raise ValueError(f"no deterministic reference for rounding {rounding!r}")


# ---------------------------------------------------------------------------------------------------------
# Quantize / dequantize


def quantize_ref(x, scale, zero_point, dtype, axis=None, block_size=None, rounding="nearest_even"):
    """q = saturate(round(float32(x) / float32(scale)) + zero_point), float32 division, +-inf saturate."""
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():
        raise ValueError("NaN in x")
    qmin, qmax = DTYPE_RANGES[dtype]
    s = expand(np.asarray(scale, dtype=np.float32), x.shape, axis, block_size)
    z = expand(np.asarray(zero_point, dtype=np.int64), x.shape, axis, block_size)
    with np.errstate(over="ignore", under="ignore"):
        v = x / s  # float32 / float32 -> correctly rounded float32 quotient
    assert v.dtype == np.float32
    r = round_ref(v.astype(np.float64), rounding)
    q = np.clip(r + z.astype(np.float64), qmin, qmax)
    return q.astype(STORAGE[dtype])


def dequantize_ref(q, scale, zero_point, dtype, axis=None, block_size=None):
    """x = float32(q - zero_point) * float32(scale): the difference is exact, then one float32 multiply."""
    q = np.asarray(q)
    qmin, qmax = DTYPE_RANGES[dtype]
    qi = q.astype(np.int64)
    assert ((qi >= qmin) & (qi <= qmax)).all()
    s = expand(np.asarray(scale, dtype=np.float32), q.shape, axis, block_size)
    z = expand(np.asarray(zero_point, dtype=np.int64), q.shape, axis, block_size)
    d = (qi - z).astype(np.float32)
    with np.errstate(over="ignore", under="ignore"):
        out = d * s  # may overflow to +-inf for huge scales, as float32 does
    assert out.dtype == np.float32
    return out


# ---------------------------------------------------------------------------------------------------------
# Calibration


def minmax_ref(x, axis=None, block_size=None, ignore_nonfinite=False):
    """Per group min and max (float32); a group with no (finite) element gives (+inf, -inf)."""
    x = np.asarray(x, dtype=np.float32)
    finite = np.isfinite(x)
    if not ignore_nonfinite and not finite.all():
        raise ValueError("non-finite value in calibration data")
    lo_src = np.where(finite, x, np.float32(np.inf))
    hi_src = np.where(finite, x, np.float32(-np.inf))
    if axis is None:
        return (np.float32(np.min(lo_src, initial=np.inf)), np.float32(np.max(hi_src, initial=-np.inf)))
    ndim = x.ndim
    axis = norm_axis(axis, ndim)
    others = tuple(i for i in range(ndim) if i != axis)
    if not block_size:
        return (np.min(lo_src, axis=others, initial=np.inf).astype(np.float32),
                np.max(hi_src, axis=others, initial=-np.inf).astype(np.float32))
    n = x.shape[axis]
    nb = -(-n // block_size)
    los, his = [], []
    for j in range(nb):
        sl = [slice(None)] * ndim
        sl[axis] = slice(j * block_size, min((j + 1) * block_size, n))
        los.append(np.min(lo_src[tuple(sl)], axis=axis, initial=np.inf))
        his.append(np.max(hi_src[tuple(sl)], axis=axis, initial=-np.inf))
    shape = blocked_shape(x.shape, axis, block_size)
    if nb == 0:
        return np.full(shape, np.inf, np.float32), np.full(shape, -np.inf, np.float32)
    return (np.stack(los, axis=axis).astype(np.float32).reshape(shape),
            np.stack(his, axis=axis).astype(np.float32).reshape(shape))


def _is_degenerate(s32):
    return (not math.isfinite(float(s32))) or float(s32) < float(FLT_MIN)


def qparams_from_range_ref(mn, mx, dtype, symmetric):
    """sq_qparams_from_range, per entry: float64 maths, scale stored as float32.

    The zero point is computed from the stored (float32) scale, so that zero is exactly representable
    with the parameters the caller actually receives.
    """
    mn = np.asarray(mn, dtype=np.float32)
    mx = np.asarray(mx, dtype=np.float32)
    shape = np.broadcast(mn, mx).shape
    mn = np.broadcast_to(mn, shape).ravel()
    mx = np.broadcast_to(mx, shape).ravel()
    qmin, qmax = DTYPE_RANGES[dtype]
    scales = np.empty(mn.size, np.float32)
    zps = np.empty(mn.size, np.int32)
    for i in range(mn.size):
        lo, hi = float(mn[i]), float(mx[i])
        assert not (math.isnan(lo) or math.isnan(hi))
        if lo == math.inf and hi == -math.inf:  # empty group
            lo, hi = 0.0, 0.0
        rmin = min(lo, 0.0)
        rmax = max(hi, 0.0)
        if symmetric:
            a = max(-rmin, rmax)
            if SIGNED[dtype]:
                qlo, qhi = -qmax, qmax
                zp = 0
            else:
                qlo, qhi = qmin, qmax
                zp = (qmin + qmax + 1) // 2
            s32 = np.float32(2.0 * a / float(qhi - qlo))
            if _is_degenerate(s32):
                s32 = np.float32(1.0)
        else:
            s32 = np.float32((rmax - rmin) / float(qmax - qmin))
            if _is_degenerate(s32):
                s32 = np.float32(1.0)
                zp = min(max(0, qmin), qmax)
            else:
                zp = int(np.rint(qmin - rmin / float(s32)))
                zp = min(max(zp, qmin), qmax)
        scales[i] = s32
        zps[i] = zp
    return scales.reshape(shape), zps.reshape(shape)


def calibrate_ref(x, dtype="int8", symmetric=False, axis=None, block_size=None):
    mn, mx = minmax_ref(x, axis, block_size)
    return qparams_from_range_ref(mn, mx, dtype, symmetric)


# ---------------------------------------------------------------------------------------------------------
# Dynamic quantization (ONNX DynamicQuantizeLinear, float32 arithmetic)


def dynamic_quantize_ref(x):
    x = np.asarray(x, dtype=np.float32).ravel()
    if x.size == 0:
        return np.zeros(0, np.uint8), np.float32(1.0), np.uint8(0)
    f255 = np.float32(255.0)
    mx = np.maximum(np.float32(0.0), x.max())
    mn = np.minimum(np.float32(0.0), x.min())
    scale = np.float32(mx - mn) / f255
    assert scale.dtype == np.float32
    if scale == 0:
        scale = np.float32(1.0)
        zp = np.float32(0.0)
    else:
        zp = np.rint(np.clip(np.float32(-mn) / scale, np.float32(0), f255))
    with np.errstate(over="ignore", under="ignore"):
        v = x / scale
    assert v.dtype == np.float32
    q = np.clip(np.rint(v.astype(np.float64)) + float(zp), 0, 255).astype(np.uint8)
    return q, np.float32(scale), np.uint8(zp)


# ---------------------------------------------------------------------------------------------------------
# Integer matmul and its epilogues


def matmul_ref(a, b, a_zero_point=0, b_zero_point=0):
    """C = (A - za) @ (B - zb[n]) exactly, in int64 (numpy.matmul broadcasting and 1-D rules)."""
    a = np.asarray(a).astype(np.int64) - np.int64(a_zero_point)
    zb = np.asarray(b_zero_point, dtype=np.int64)
    b = np.asarray(b).astype(np.int64) - zb  # per column: broadcasts along the last axis (N)
    return np.matmul(a, b)  # K = 0 gives zeros, as the header says


def overflow_bound(a_dtype, a_zero_point, b_dtype, b_zero_point, k):
    """K * max|A - za| * max|B - zb| over the dtypes' full ranges (per-column zb: the worst column)."""
    alo, ahi = DTYPE_RANGES[a_dtype]
    blo, bhi = DTYPE_RANGES[b_dtype]
    za = int(a_zero_point)
    zbs = np.atleast_1d(np.asarray(b_zero_point, dtype=np.int64)).tolist() or [0]
    amax = max(abs(alo - za), abs(ahi - za))
    bmax = max(max(abs(blo - z), abs(bhi - z)) for z in zbs)
    return int(k) * amax * bmax


def multiplier_ref(sa, sb, sy):
    """M = float32(float32(sa * sb) / sy), elementwise over sb (per column)."""
    sa = np.float32(sa)
    sb = np.asarray(sb, dtype=np.float32)
    sy = np.float32(sy)
    prod = sa * sb
    assert prod.dtype == np.float32
    m = prod / sy
    assert m.dtype == np.float32
    return m


def qlinear_matmul_ref(a, sa, za, b, sb, zb, sy, zy, y_dtype, rounding="nearest_even"):
    """y = saturate(round(double(C) * double(M) + zy)): the zero point is added before rounding."""
    c = matmul_ref(a, b, za, zb)
    m = multiplier_ref(sa, sb, sy).astype(np.float64)
    v = c.astype(np.float64) * m + float(zy)
    qmin, qmax = DTYPE_RANGES[y_dtype]
    return np.clip(round_ref(v, rounding), qmin, qmax).astype(STORAGE[y_dtype])


def matmul_float_ref(a, sa, za, b, sb, zb, bias=None):
    """y = float32(C) * float32(sa * sb[n]) + bias[n], float32 multiply then float32 add."""
    c = matmul_ref(a, b, za, zb)
    s = np.float32(sa) * np.asarray(sb, dtype=np.float32)
    assert s.dtype == np.float32
    y = c.astype(np.float32) * s
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float32)
    assert y.dtype == np.float32
    return y
