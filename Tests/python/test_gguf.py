"""gguf_quantize / gguf_dequantize against gguf-py (gguf.quants, the NumPy transcription of llama.cpp's
ggml-quants.c) bit for bit, and against an independent NumPy transcription of the C reference written here
(the sequential scans, element by element across blocks): random data, ties, zero blocks, negative maxima,
tiny and huge magnitudes, float16 rounding of d, shapes, and errors."""
import ctypes
import warnings

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize as gguf_dequantize
from gguf.quants import quantize as gguf_quantize

import swiftquant as sq
from swiftquant import _native

TYPES = [T.Q4_0, T.Q4_1, T.Q8_0]
BLOCK_BYTES = {T.Q4_0: 18, T.Q4_1: 20, T.Q8_0: 34}
F32 = np.float32


# --- the independent reference: ggml-quants.c, scan by scan, vectorized only across blocks ---------------
def _half_bytes(v):
    return v.astype(np.float16).view(np.uint8).reshape(-1, 2)  # little-endian, round to nearest even


def _codes_4bit(t, id_):
    """C's MIN(15, (int8_t)t); 0 where 1/d overflowed (t is inf or NaN: undefined in C, 0 on x86)."""
    with np.errstate(invalid="ignore"):
        c = np.minimum(np.trunc(np.where(np.isfinite(t), t, 0)), 15)
    return np.where(np.isfinite(id_)[:, None], c, 0).astype(np.uint8)


def ref_quantize(x, qtype):
    x = np.asarray(x, F32)
    blocks = x.reshape(-1, 32)
    nb = blocks.shape[0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if qtype == T.Q4_0:
            amax, mx = np.zeros(nb, F32), np.zeros(nb, F32)
            for j in range(32):  # if (amax < fabsf(v)) { amax = fabsf(v); max = v; }
                v = blocks[:, j]
                upd = amax < np.abs(v)
                amax, mx = np.where(upd, np.abs(v), amax), np.where(upd, v, mx)
            d = mx / F32(-8)
            id_ = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
            q = _codes_4bit(blocks * id_[:, None] + F32(8.5), id_)
            out = np.concatenate([_half_bytes(d), q[:, :16] | (q[:, 16:] << 4)], axis=1)
        elif qtype == T.Q4_1:
            mn, mx = np.full(nb, np.finfo(F32).max, F32), np.full(nb, -np.finfo(F32).max, F32)
            for j in range(32):  # if (v < min) min = v; if (v > max) max = v;
                v = blocks[:, j]
                mn, mx = np.where(v < mn, v, mn), np.where(v > mx, v, mx)
            d = (mx - mn) / F32(15)
            id_ = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
            q = _codes_4bit((blocks - mn[:, None]) * id_[:, None] + F32(0.5), id_)
            out = np.concatenate([_half_bytes(d), _half_bytes(mn), q[:, :16] | (q[:, 16:] << 4)], axis=1)
        else:
            amax = np.zeros(nb, F32)
            for j in range(32):  # amax = MAX(amax, fabsf(v)), MAX(a, b) = a > b ? a : b
                a = np.abs(blocks[:, j])
                amax = np.where(amax > a, amax, a)
            d = amax / F32(127)
            id_ = np.where(d != 0, F32(1) / d, F32(0)).astype(F32)
            v = (blocks * id_[:, None]).astype(np.float64)  # the float32 product, exactly
            r = np.sign(v) * np.floor(np.abs(v) + 0.5)  # roundf, exact in float64
            r = np.where(np.isfinite(id_)[:, None], np.nan_to_num(r), 0)
            out = np.concatenate([_half_bytes(d), r.astype(np.int8).view(np.uint8)], axis=1)
    return out.reshape(x.shape[:-1] + (x.shape[-1] // 32 * BLOCK_BYTES[qtype],))


def ref_dequantize(data, qtype, shape):
    b = np.asarray(data, np.uint8).reshape(-1, BLOCK_BYTES[qtype])
    d = b[:, 0:2].copy().view(np.float16).astype(F32)
    if qtype == T.Q8_0:
        y = b[:, 2:].view(np.int8).astype(F32) * d
    else:
        nib = b[:, 4:] if qtype == T.Q4_1 else b[:, 2:]
        q = np.concatenate([nib & 15, nib >> 4], axis=1).astype(F32)
        if qtype == T.Q4_0:
            y = (q - F32(8)) * d
        else:
            y = q * d + b[:, 2:4].copy().view(np.float16).astype(F32)
    return y.astype(F32).reshape(shape)


# --- helpers ------------------------------------------------------------------------------------------------
def oracle_quantize(x, qtype):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return gguf_quantize(np.asarray(x, F32), qtype)


def assert_bytes(got, want, qtype, x, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, f"{what}: {got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    if not np.array_equal(got, want):
        g, w = got.reshape(-1, BLOCK_BYTES[qtype]), want.reshape(-1, BLOCK_BYTES[qtype])
        bad = np.flatnonzero((g != w).any(axis=1))
        b = bad[0]
        raise AssertionError(f"{what} {qtype.name}: {bad.size} of {g.shape[0]} blocks differ; block {b}:\n"
                             f"  values   {np.asarray(x, F32).reshape(-1, 32)[b].tolist()}\n"
                             f"  expected {w[b].tobytes().hex()}\n  got      {g[b].tobytes().hex()}")


def assert_floats(got, want, what):
    assert got.shape == want.shape and got.dtype == want.dtype == F32, what
    bad = np.flatnonzero(got.view(np.uint32).ravel() != want.view(np.uint32).ravel())
    assert bad.size == 0, (f"{what}: {bad.size} floats differ in their bits; first at flat index {bad[0]}: "
                           f"expected {want.ravel()[bad[0]]!r}, got {got.ravel()[bad[0]]!r}")


def check_all(x, qtype, what, oracle=True):
    """Ours against the NumPy reference and (oracle) gguf-py, quantized bytes and dequantized floats."""
    x = np.asarray(x, F32)
    ours = sq.gguf_quantize(x, qtype.name)
    assert_bytes(ours, ref_quantize(x, qtype), qtype, x, f"{what} vs NumPy reference")
    if oracle:
        assert_bytes(ours, oracle_quantize(x, qtype), qtype, x, f"{what} vs gguf-py")
    y = sq.gguf_dequantize(ours, qtype.name)
    assert_floats(y, ref_dequantize(ours, qtype, x.shape), f"{what} dequantize vs NumPy reference")
    if oracle:
        assert_floats(y, gguf_dequantize(ours, qtype), f"{what} dequantize vs gguf-py")
    return ours


# --- bit-exact against gguf-py ------------------------------------------------------------------------------
@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("shape", [(32,), (4096,), (7, 64), (2, 3, 96), (300, 1024)])
def test_random_data_matches_gguf_py(qtype, shape, rng):
    # Row scales spread over 10 decades so d covers float16's subnormal and normal ranges.
    scale = np.exp(rng.uniform(-16, 6, shape[:-1] + (1,)))
    x = (rng.standard_normal(shape) * scale).astype(F32)
    out = check_all(x, qtype, f"shape {shape}")
    assert out.shape == shape[:-1] + (shape[-1] // 32 * BLOCK_BYTES[qtype],) and out.dtype == np.uint8


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
def test_many_blocks_across_threads(qtype, rng):
    x = rng.laplace(size=(1024, 4096)).astype(F32)  # 131072 blocks: many thread-pool tasks
    check_all(x, qtype, "1024x4096")


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
def test_ties_land_exactly_on_halves(qtype, rng):
    """Values whose scaled value s = x * id is exactly k + 0.5: Q4_0 and Q4_1 round those up, Q8_0 away
    from zero; scaled by powers of two so d stays exact and every tie survives."""
    rows = []
    for e in range(-12, 12, 3):
        p = F32(2.0 ** e)
        if qtype == T.Q4_0:
            # max = -8p: d = p, id = 1/p, s = x / p.
            v = np.concatenate([[-8], np.arange(-7.5, 8, 1.0), np.arange(-7, 8)[:15]]) * p
        elif qtype == T.Q4_1:
            v = np.concatenate([[0, 15], np.arange(0.5, 15, 1.0), np.arange(1, 16)]) * p  # d = p, min 0
        else:
            v = np.concatenate([[127, -127], np.arange(-14.5, 15, 1.0)]) * p  # d = p
        rows.append(v[:32])
        rows.append(-v[:32])
        rows.append(rng.permutation(v[:32]))
    check_all(np.array(rows, F32), qtype, "ties")


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
def test_negative_maxima_and_equal_magnitudes(qtype, rng):
    rows = []
    for _ in range(64):
        v = rng.uniform(-1, 1, 32).astype(F32)
        i, j = rng.choice(32, 2, replace=False)
        a = F32(rng.uniform(1, 3))
        v[i], v[j] = -a, a  # equal magnitudes: Q4_0 takes the first one, with its sign
        rows.append(v)
        rows.append(-np.abs(v))  # all negative
    check_all(np.array(rows), qtype, "negative maxima")


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
def test_float16_rounding_of_d(qtype, rng):
    # Block maxima chosen so d lands on, just beside and halfway between float16 values: the stored d is
    # float16(d), rounded to nearest even, from the float32 d.
    h = rng.integers(1, 0x7BFF, 4000).astype(np.uint16)
    lo = h.view(np.float16).astype(F32)
    hi = (h + 1).view(np.float16).astype(F32)
    d = np.concatenate([lo, (lo + (hi - lo) / 2).astype(F32), np.nextafter(lo, hi)]).astype(F32)
    factor = {T.Q4_0: -8, T.Q4_1: 15, T.Q8_0: 127}[qtype]
    base = rng.uniform(0, 1, (d.size, 32)).astype(F32) * np.abs(d[:, None] * factor)
    base[:, 7] = d * factor  # the block's extreme; Q4_1: min 0 at column 3
    base[:, 3] = 0
    keep = np.isfinite(base).all(axis=1) & (np.abs(d * factor) < {T.Q4_0: 524000, T.Q4_1: 982000, T.Q8_0: 8.3e6}[qtype])
    check_all(base[keep], qtype, "float16 rounding of d")


# --- zeros, tiny and huge -------------------------------------------------------------------------------------
@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
def test_all_zero_blocks(qtype):
    x = np.zeros((4, 64), F32)
    out = check_all(x, qtype, "zeros")
    if qtype == T.Q4_0:
        # max stays +0, d = +0 / -8 = -0 (float16 0x8000), id = 0, every code 8.
        assert out[0, :18].tobytes().hex() == "0080" + "88" * 16
    else:
        assert not out.any()


def test_signed_zero_blocks_follow_the_c_scans():
    """The documented difference from gguf-py: an all-zero block starting with -0.0. C's Q4_0 scan keeps
    max = +0 (d = -0, 0x8000); gguf-py takes max = x[0] = -0 (d = +0, 0x0000). Q4_1's m is the first zero
    in C; NumPy's min may return either zero. Only the sign bit of a zero d or m can differ."""
    x = np.zeros((3, 32), F32)
    x[0, 0] = -0.0
    x[1, 5] = -0.0
    x[2, :] = -0.0
    for qtype in TYPES:
        ours = sq.gguf_quantize(x, qtype.name)
        assert_bytes(ours, ref_quantize(x, qtype), qtype, x, "signed zeros vs NumPy reference")
        theirs = oracle_quantize(x, qtype)
        sign_bits = np.zeros(BLOCK_BYTES[qtype], np.uint8)
        sign_bits[1] = 0x80
        if qtype == T.Q4_1:
            sign_bits[3] = 0x80
        assert np.array_equal(ours & ~sign_bits, theirs & ~sign_bits), qtype.name
    q40 = sq.gguf_quantize(x, "Q4_0")
    assert [bytes(q40[i, :2]).hex() for i in range(3)] == ["0080", "0080", "0080"]
    q41 = sq.gguf_quantize(x, "Q4_1")
    assert [bytes(q41[i, 2:4]).hex() for i in range(3)] == ["0080", "0000", "0080"], "m = the first zero"


def _x86_casts_give_zero():
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = np.array([np.inf, -np.inf, np.nan] * 8, F32)
        return not v.astype(np.uint8).any() and not v.astype(np.int8).any()


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
def test_tiny_magnitudes_where_1_over_d_overflows(qtype, rng):
    """0 < |d| < 2^-128: id = inf, codes from inf/NaN (undefined in C; 0 on x86 and in NumPy's casts here)."""
    x = (rng.uniform(-1, 1, (40, 32)) * np.logspace(-45, -36, 40)[:, None]).astype(F32)
    x[::3, 0] = 0
    out = sq.gguf_quantize(x, qtype.name)
    assert_bytes(out, ref_quantize(x, qtype), qtype, x, "tiny vs NumPy reference")
    if _x86_casts_give_zero():
        assert_bytes(out, oracle_quantize(x, qtype), qtype, x, "tiny vs gguf-py")
    y = sq.gguf_dequantize(out, qtype)
    assert_floats(y, gguf_dequantize(out, qtype), "tiny dequantize vs gguf-py")
    assert np.all(y == 0) or qtype == T.Q4_1  # d is 0 in float16; Q4_1 decodes to m (also ~0)


# Largest block magnitude that still fits (d rounds to 65504) and the smallest that overflows float16.
LIMITS = {T.Q4_0: (524159.97, 524160.0), T.Q8_0: (8321039.0, 8321040.0)}


@pytest.mark.parametrize("qtype", [T.Q4_0, T.Q8_0], ids=lambda t: t.name)
def test_float16_overflow_of_d_is_refused(qtype):
    fits, over = LIMITS[qtype]
    x = np.linspace(-1, 1, 64, dtype=F32)
    x[3] = fits
    x[40] = -fits
    check_all(x, qtype, "largest storable d")
    x[40] = -over
    theirs = oracle_quantize(x, qtype)
    d = theirs.reshape(-1, BLOCK_BYTES[qtype])[1, :2].copy().view(np.float16)[0]
    assert np.isinf(d), "gguf-py (like llama.cpp) stores an infinite d there"
    with pytest.raises(sq.SwiftQuantError, match=r"x: block 1 \(elements 32 \.\.< 64\).*65504") as e:
        sq.gguf_quantize(x, qtype)
    assert e.value.status_name == "SQ_ERROR_OUT_OF_RANGE"


def test_q4_1_overflow_of_d_or_m_is_refused():
    x = np.zeros(32, F32)
    x[1] = 982799.9  # (max - min) / 15 rounds to 65504 in float16
    check_all(x, T.Q4_1, "largest storable Q4_1 d")
    x[1] = 982800  # d = 65520: inf
    with pytest.raises(sq.SwiftQuantError, match=r"d = \(max - min\) / 15") as e:
        sq.gguf_quantize(x, "Q4_1")
    assert e.value.status_name == "SQ_ERROR_OUT_OF_RANGE"
    y = np.full(32, -65519.0, F32)
    y[0] = -65500
    check_all(y, T.Q4_1, "largest storable Q4_1 m")
    y[0] = -65520  # m = min rounds to -inf; d = 20 / 15 is fine
    assert np.isinf(oracle_quantize(y, T.Q4_1)[2:4].copy().view(np.float16)[0])
    with pytest.raises(sq.SwiftQuantError, match=r"minimum m = -65520"):
        sq.gguf_quantize(y, "Q4_1")


# --- shapes, types, the Python API ------------------------------------------------------------------------------
def test_block_info_and_type_spellings():
    assert sq.gguf_block_info("Q4_0") == (32, 18)
    assert sq.gguf_block_info("q4_1") == (32, 20)
    assert sq.gguf_block_info(T.Q8_0) == (32, 34)
    assert sq.gguf_block_info(8) == (32, 34)
    assert sq.gguf_block_info(np.int32(2)) == (32, 18)
    assert sq.GGUF_TYPES == {"Q4_0": int(T.Q4_0), "Q4_1": int(T.Q4_1), "Q8_0": int(T.Q8_0)}
    for t in TYPES:
        assert sq.gguf_block_info(t) == gguf.GGML_QUANT_SIZES[t]


def test_empty_and_float64_inputs(rng):
    for qtype in TYPES:
        out = sq.gguf_quantize(np.zeros((3, 0), F32), qtype)
        assert out.shape == (3, 0) and out.dtype == np.uint8
        y = sq.gguf_dequantize(out, qtype, (3, 0))
        assert y.shape == (3, 0) and y.dtype == F32
        x64 = rng.standard_normal((5, 64))  # float64: rounded to float32 first, as gguf-py does
        assert np.array_equal(sq.gguf_quantize(x64, qtype), oracle_quantize(x64.astype(F32), qtype))
        assert np.array_equal(sq.gguf_quantize(x64.tolist(), qtype), sq.gguf_quantize(x64, qtype))
        assert np.array_equal(sq.gguf_quantize(x64[:, ::-1], qtype), oracle_quantize(x64[:, ::-1].astype(F32), qtype))


def test_dequantize_shape_argument_and_out(rng):
    x = rng.standard_normal((2, 3, 64)).astype(F32)
    q = sq.gguf_quantize(x, "Q4_1")
    want = gguf_dequantize(q, T.Q4_1)
    assert_floats(sq.gguf_dequantize(q, "Q4_1"), want, "shape inferred")
    assert_floats(sq.gguf_dequantize(q.ravel(), "Q4_1", (2, 3, 64)), want, "shape given")
    assert_floats(sq.gguf_dequantize(q.ravel(), "Q4_1", [6, 64]), want.reshape(6, 64), "another shape")
    assert_floats(sq.gguf_dequantize(q.ravel().tolist(), "Q4_1", 384), want.ravel(), "list data, int shape")
    out = np.full((2, 3, 64), np.nan, F32)
    assert sq.gguf_dequantize(q, "Q4_1", out=out) is out
    assert_floats(out, want, "out=")
    with pytest.raises(ValueError, match="out must have shape"):
        sq.gguf_dequantize(q, "Q4_1", out=np.empty((6, 64), F32))
    with pytest.raises(TypeError, match="out must have dtype float32"):
        sq.gguf_dequantize(q, "Q4_1", out=np.empty((2, 3, 64), np.float64))


# --- errors -------------------------------------------------------------------------------------------------------
def test_errors_name_the_argument():
    x = np.ones((4, 64), F32)
    with pytest.raises(sq.SwiftQuantError, match=r"w: the last dimension \(48\) is not a multiple of 32") as e:
        sq.gguf_quantize(np.ones((4, 48), F32), "Q4_0")
    assert e.value.status_name == "SQ_ERROR_SHAPE"
    with pytest.raises(sq.SwiftQuantError, match="0-d"):
        sq.gguf_quantize(np.float32(1), "Q4_0")
    with pytest.raises(sq.SwiftQuantError, match="unknown GGUF type 'Q5_0'") as e:
        sq.gguf_quantize(x, "Q5_0")
    assert e.value.status_name == "SQ_ERROR_INVALID_ARGUMENT"
    with pytest.raises(sq.SwiftQuantError, match="unknown GGUF type 7") as e:  # checked natively
        sq.gguf_quantize(x, 7)
    assert e.value.status_name == "SQ_ERROR_INVALID_ARGUMENT"
    with pytest.raises(sq.SwiftQuantError, match="unknown GGUF type"):
        sq.gguf_block_info(2**40)
    for bad_type in (1.5, None, True, [2]):
        with pytest.raises(TypeError, match="type must be"):
            sq.gguf_quantize(x, bad_type)
    for bad_w in (np.array(["a"] * 32), np.ones(32, complex), np.ones(32, bool), object()):
        with pytest.raises(TypeError, match="w must be"):
            sq.gguf_quantize(bad_w, "Q8_0")
    for bad, value in ((5, np.nan), (77, np.inf), (100, -np.inf)):
        y = x.copy()
        y.flat[bad] = value
        with pytest.raises(sq.SwiftQuantError, match=rf"x: element {bad} is {'nan' if np.isnan(value) else str(value)}") as e:
            sq.gguf_quantize(y, "Q4_1")
        assert e.value.status_name == "SQ_ERROR_NONFINITE"
    with pytest.raises(sq.SwiftQuantError, match="x: element 3 is nan"):
        sq.gguf_quantize(np.array([0, 0, 0, np.nan] + [1e7] * 28, F32), "Q4_0")  # NaN wins over overflow

    q = sq.gguf_quantize(x, "Q4_0")
    with pytest.raises(sq.SwiftQuantError, match=r"data_bytes is 144 but 320 value\(s\) of Q4_0 take 10 block") as e:
        sq.gguf_dequantize(q, "Q4_0", (5, 64))
    assert e.value.status_name == "SQ_ERROR_SHAPE"
    with pytest.raises(sq.SwiftQuantError, match="not a whole number of 18-byte blocks"):
        sq.gguf_dequantize(q[:, :-1], "Q4_0")
    with pytest.raises(sq.SwiftQuantError, match="shape: the last dimension"):
        sq.gguf_dequantize(q, "Q4_0", (8, 36))
    with pytest.raises(sq.SwiftQuantError, match="negative"):
        sq.gguf_dequantize(q, "Q4_0", (-4, -64))
    with pytest.raises(TypeError, match="data must be an array of integers"):
        sq.gguf_dequantize(q.astype(F32), "Q4_0")
    with pytest.raises(ValueError, match="outside the range of uint8"):
        sq.gguf_dequantize(q.astype(np.int32) + 200, "Q4_0")
    bad = q.copy()
    bad[2, 18:20] = np.frombuffer(np.float16(np.inf).tobytes(), np.uint8)  # row 2, block 1: d = +inf
    with pytest.raises(sq.SwiftQuantError, match=r"data: block 5 \(bytes 90 \.\.< 108\) stores Q4_0 d = inf") as e:
        sq.gguf_dequantize(bad, "Q4_0")
    assert e.value.status_name == "SQ_ERROR_NONFINITE"
    q1 = sq.gguf_quantize(x, "Q4_1")
    q1[0, 2:4] = [0x00, 0x7E]  # block 0: m = NaN
    with pytest.raises(sq.SwiftQuantError, match=r"block 0 .* m = nan \(float16 bits 0x7e00\)"):
        sq.gguf_dequantize(q1, "Q4_1")


def test_raw_abi_empty_and_sizes():
    lib = _native.lib
    assert lib.sq_gguf_quantize(2, None, 0, None, 0) == 0  # empty: NULL allowed
    assert lib.sq_gguf_dequantize(8, None, 0, None, 0) == 0
    x = np.ones(64, F32)
    out = np.empty(36, np.uint8)
    with pytest.raises(sq.SwiftQuantError, match="x is NULL"):
        lib.sq_gguf_quantize(2, None, 64, _native.ptr(out), 36)
    with pytest.raises(sq.SwiftQuantError, match="count is negative"):
        lib.sq_gguf_quantize(2, _native.ptr(x), -32, _native.ptr(out), 36)
    with pytest.raises(sq.SwiftQuantError, match="overflows"):
        lib.sq_gguf_quantize(8, _native.ptr(x), 2**63 - 32, _native.ptr(out), 36)
    with pytest.raises(sq.SwiftQuantError, match="unknown GGUF type"):
        lib.sq_gguf_block_info(0, None, None)
    e, b = ctypes.c_int64(), ctypes.c_int64()
    assert lib.sq_gguf_block_info(3, ctypes.byref(e), None) == 0 and e.value == 32
    assert lib.sq_gguf_block_info(3, None, ctypes.byref(b)) == 0 and b.value == 20
