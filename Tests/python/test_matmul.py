"""Integer matmul (ONNX MatMulInteger), requantized (QLinearMatMul) and float outputs, and prepacked B,
against NumPy int64 matmul and the reference epilogues: dtype pairs, zero points, numpy.matmul
broadcasting (1-D, batched), empty dimensions, tile-edge sizes, deep K and the int32 overflow limit."""
import numpy as np
import pytest

import numpy_reference as ref
import swiftquant as sq
from conftest import assert_same

PAIRS = [("int8", "int8"), ("int8", "uint8"), ("uint8", "int8"), ("uint8", "uint8")]
NP = {"int8": np.int8, "uint8": np.uint8}

BROADCAST_SHAPES = [
    ((3, 4), (4, 5)),
    ((1, 1), (1, 1)),
    ((4,), (4, 5)),          # 1-D A: [1, K], M dropped
    ((3, 4), (4,)),          # 1-D B: [K, 1], N dropped
    ((4,), (4,)),            # both 1-D: a 0-d result
    ((2, 1, 3, 4), (5, 4, 6)),
    ((5, 3, 4), (4, 6)),
    ((3, 4), (2, 4, 6)),
    ((2, 3, 4), (1, 4, 6)),
    ((1, 3, 4), (7, 4, 2)),
    ((6,), (3, 6, 2)),
    ((3, 3, 6), (6,)),
    ((0, 4), (4, 3)),        # M = 0
    ((3, 4), (4, 0)),        # N = 0
    ((3, 0), (0, 5)),        # K = 0: zeros
    ((0,), (0,)),            # K = 0, both 1-D
    ((0, 3, 4), (4, 5)),     # empty batch
    ((2, 3, 0), (1, 0, 2)),
]


def _rand(rng, dtype, shape):
    lo, hi = ref.DTYPE_RANGES[dtype]
    return rng.integers(lo, hi + 1, size=shape).astype(NP[dtype])


def _rand_zp(rng, dtype, size=None):
    lo, hi = ref.DTYPE_RANGES[dtype]
    return rng.integers(lo, hi + 1, size=size).astype(np.int32) if size is not None else int(rng.integers(lo, hi + 1))


def _mm(a, b, za, zb):
    return ref.matmul_ref(a, b, za, zb)


def _expected_i32(a, b, za, zb):
    c = _mm(a, b, za, zb)
    assert np.abs(c).max(initial=0) <= 2**31 - 1  # premise: the exact result fits int32
    return c.astype(np.int32)


@pytest.mark.parametrize("per_column", [False, True], ids=["zb-scalar", "zb-per-column"])
@pytest.mark.parametrize("a_dtype, b_dtype", PAIRS)
def test_matmul_broadcasting(a_dtype, b_dtype, per_column, rng):
    for a_shape, b_shape in BROADCAST_SHAPES:
        if per_column and len(b_shape) == 1:
            continue  # a 1-D B has no column axis to index zero points by
        a = _rand(rng, a_dtype, a_shape)
        b = _rand(rng, b_dtype, b_shape)
        za = _rand_zp(rng, a_dtype)
        zb = _rand_zp(rng, b_dtype, b_shape[-1]) if per_column else _rand_zp(rng, b_dtype)
        a_copy, b_copy = a.copy(), b.copy()
        c = sq.matmul(a, b, a_zero_point=za, b_zero_point=zb)
        assert_same(c, _expected_i32(a, b, za, zb), "matmul", a_shape=a_shape, b_shape=b_shape,
                    a_dtype=a_dtype, b_dtype=b_dtype, za=za, zb=zb)
        assert_same(a, a_copy, "a modified")
        assert_same(b, b_copy, "b modified")


def test_matmul_k_zero_gives_zeros():
    c = sq.matmul(np.zeros((3, 0), np.int8), np.zeros((0, 5), np.uint8), a_zero_point=7, b_zero_point=200)
    assert_same(c, np.zeros((3, 5), np.int32), "K = 0")


@pytest.mark.parametrize("a_dtype, b_dtype", PAIRS)
def test_matmul_small_size_sweep(a_dtype, b_dtype, rng):
    # Every M, N, K in 0..10 (odd shapes, sub-tiles), random zero points, per-column half the time.
    for m in range(11):
        for n in range(11):
            for k in (0, 1, 2, 3, 4, 5, 7, 8, 9, 10):
                a = _rand(rng, a_dtype, (m, k))
                b = _rand(rng, b_dtype, (k, n))
                za = _rand_zp(rng, a_dtype)
                zb = _rand_zp(rng, b_dtype, n) if (m + n + k) % 2 else _rand_zp(rng, b_dtype)
                assert_same(sq.matmul(a, b, za, zb), _expected_i32(a, b, za, zb), "sweep",
                            m=m, n=n, k=k, za=za, zb=zb)


@pytest.mark.parametrize("a_dtype, b_dtype", PAIRS)
def test_matmul_tile_edges_and_deep_k(a_dtype, b_dtype, rng):
    # Sizes around typical tile and vector widths (16, 32, 64) +- 1, and a deep K.
    for m, n, k in [(15, 17, 31), (16, 16, 32), (17, 15, 33), (33, 63, 65), (64, 64, 64), (65, 1, 129),
                    (1, 65, 63), (2, 3, 4096), (5, 130, 257)]:
        a = _rand(rng, a_dtype, (m, k))
        b = _rand(rng, b_dtype, (k, n))
        za = _rand_zp(rng, a_dtype)
        zb = _rand_zp(rng, b_dtype, n)
        assert_same(sq.matmul(a, b, za, zb), _expected_i32(a, b, za, zb), "tile edges", m=m, n=n, k=k)


@pytest.mark.parametrize("a_dtype, b_dtype", PAIRS)
def test_matmul_saturating_extremes(a_dtype, b_dtype):
    # All elements at the dtype extremes with zero points at the opposite extreme: the largest |products|.
    alo, ahi = ref.DTYPE_RANGES[a_dtype]
    blo, bhi = ref.DTYPE_RANGES[b_dtype]
    k = 1000
    for av, za in ((alo, ahi), (ahi, alo), (alo, 0)):
        for bv, zb in ((blo, bhi), (bhi, blo), (bhi, 0)):
            a = np.full((3, k), av, NP[a_dtype])
            b = np.full((k, 4), bv, NP[b_dtype])
            assert_same(sq.matmul(a, b, za, zb), _expected_i32(a, b, za, zb), "extremes", av=av, bv=bv, za=za, zb=zb)


def test_matmul_largest_k_below_the_overflow_limit():
    # int8 x int8 with zero points 0: the bound is 128 * 128 * K; K = 131071 is the largest allowed, and
    # all -128 gives 131071 * 16384 = 2147467264, just below INT32_MAX: exact, not wrapped.
    k = 131071
    assert ref.overflow_bound("int8", 0, "int8", 0, k) <= 2**31 - 1 < ref.overflow_bound("int8", 0, "int8", 0, k + 1)
    a = np.full((1, k), -128, np.int8)
    b = np.full((k, 2), -128, np.int8)
    b[:, 1] = 127
    c = sq.matmul(a, b)
    assert_same(c, np.array([[2147467264, -128 * 127 * k]], np.int32), "deepest K")
    # With zero points: int8 A, za = -128 (|A - za| <= 255) and uint8 B, zb = 0 (<= 255): K <= 33025.
    k = 33025
    assert ref.overflow_bound("int8", -128, "uint8", 0, k) <= 2**31 - 1 < ref.overflow_bound("int8", -128, "uint8", 0, k + 1)
    a = np.full((1, k), 127, np.int8)
    b = np.full((k, 1), 255, np.uint8)
    assert_same(sq.matmul(a, b, a_zero_point=-128), np.array([[255 * 255 * k]], np.int32), "deepest K with zp")


def test_matmul_out(rng):
    a = _rand(rng, "int8", (3, 5))
    b = _rand(rng, "uint8", (5, 4))
    out = np.full((3, 4), -1, np.int32)
    res = sq.matmul(a, b, 1, 2, out=out)
    assert np.shares_memory(res, out)
    assert_same(out, _expected_i32(a, b, 1, 2), "out=")


def test_matmul_noncontiguous_inputs(rng):
    a = _rand(rng, "int8", (6, 10))
    b = _rand(rng, "uint8", (8, 12))
    av = a[::2, ::2]          # (3, 5), strided
    bv = b[:5, ::3]           # (5, 4), strided
    bt = np.asfortranarray(b[:5, :4])
    exp = _expected_i32(av, bv, 3, 100)
    assert_same(sq.matmul(av, bv, 3, 100), exp, "strided")
    assert_same(sq.matmul(av, bt, 3, 100), _expected_i32(av, bt, 3, 100), "Fortran order")
    assert_same(sq.matmul(np.ascontiguousarray(av.T).T, bv, 3, 100), exp, "transposed view")


# ---------------------------------------------------------------------------------------------------------
# QLinearMatMul


def _qparams_per_tensor(rng, dtype):
    return float(np.exp(rng.uniform(-6, 0))), _rand_zp(rng, dtype)


@pytest.mark.parametrize("rounding", ref.DETERMINISTIC_ROUNDINGS)
@pytest.mark.parametrize("y_dtype", ["int8", "uint8"])
@pytest.mark.parametrize("a_dtype, b_dtype", PAIRS)
def test_qlinear_matmul_matches_reference(a_dtype, b_dtype, y_dtype, rounding, rng):
    for a_shape, b_shape in [((3, 7), (7, 5)), ((2, 1, 4, 9), (3, 9, 6)), ((9,), (9, 4)), ((0, 3), (3, 2)),
                             ((4, 0), (0, 3)), ((17, 33), (33, 19)), ((1, 300), (300, 2))]:
        for per_column in (False, True):
            a = _rand(rng, a_dtype, a_shape)
            b = _rand(rng, b_dtype, b_shape)
            sa, za = _qparams_per_tensor(rng, a_dtype)
            n = b_shape[-1]
            if per_column:
                sb = np.exp(rng.uniform(-6, 0, n)).astype(np.float32)
                zb = _rand_zp(rng, b_dtype, n)
                bp = sq.QParams(sb, zb, b_dtype, axis=-1 if rng.random() < 0.5 else len(b_shape) - 1)
            else:
                sb, zb = _qparams_per_tensor(rng, b_dtype)
                bp = sq.QParams(sb, zb, b_dtype)
            # y's scale chosen so that the outputs spread over the range, with some saturation.
            c = _mm(a, b, za, zb)
            spread = float(np.abs(c).max(initial=1)) * float(sa) * float(np.max(sb)) / 100.0
            sy = max(spread, 1e-6)
            if rng.random() < 0.5:
                # Tie-rich: power-of-two scales make M = 2**-e exact, so many C * M + zy are exact halves
                # (these pin the zero point being added before rounding).
                sa = 2.0 ** -int(rng.integers(0, 4))
                sb = (np.float32(2.0 ** -int(rng.integers(0, 4))) * np.ones(n, np.float32)) if per_column \
                    else 2.0 ** -int(rng.integers(0, 4))
                bp = sq.QParams(sb, zb, b_dtype, axis=-1) if per_column else sq.QParams(sb, zb, b_dtype)
                m = float(np.max(np.abs(c), initial=1)) / 150.0
                sy = float(sa) * float(np.max(sb)) * 2.0 ** int(np.ceil(np.log2(max(m, 1.0))))
            zy = _rand_zp(rng, y_dtype)
            y = sq.qlinear_matmul(a, sq.QParams(sa, za, a_dtype), b, bp, sq.QParams(sy, zy, y_dtype), rounding=rounding)
            exp = ref.qlinear_matmul_ref(a, sa, za, b, sb, zb, sy, zy, y_dtype, rounding)
            assert_same(y, exp, "qlinear_matmul", a_shape=a_shape, b_shape=b_shape, sa=sa, za=za, sb=sb, zb=zb,
                        sy=sy, zy=zy, rounding=rounding)


@pytest.mark.parametrize(
    "c, zy, expected",
    [
        # M = float32(1 * 1 / 2) = 0.5 exactly, so C = 2k + 1 gives exact ties v = k + 0.5 (+ zy).
        # Columns: nearest_even, half_away, floor.
        (3, 0, (2, 2, 1)),        # 1.5
        (5, 0, (2, 3, 2)),        # 2.5
        (-5, 0, (-2, -3, -3)),    # -2.5
        (-1, 0, (0, -1, -1)),     # -0.5
        (5, 1, (4, 4, 3)),        # 2.5 + 1 = 3.5: the zero point is added before rounding (not 2 + 1 = 3)
        (3, -1, (0, 1, 0)),       # 1.5 - 1 = 0.5
        (255, 0, (127, 127, 127)),  # 127.5 saturates
        (-257, 0, (-128, -128, -128)),
    ],
)
def test_qlinear_pinned_ties(c, zy, expected):
    # C = sum of |c| products (+-1) * 1.
    k = abs(c)
    a = np.full((1, k), 1 if c > 0 else -1, np.int8)
    b = np.ones((k, 1), np.int8)
    for rounding, e in zip(ref.DETERMINISTIC_ROUNDINGS, expected):
        y = sq.qlinear_matmul(a, sq.QParams(1.0, 0, "int8"), b, sq.QParams(1.0, 0, "int8"),
                              sq.QParams(2.0, zy, "int8"), rounding=rounding)
        assert_same(y, np.array([[e]], np.int8), "qlinear tie", c=c, zy=zy, rounding=rounding)


def test_qlinear_multiplier_is_float32_of_float32_product():
    # M = float32(float32(sa * sb) / sy): sa * sb is rounded to float32 before the division. These scales
    # (found by a NumPy search) make that M differ by one ulp from float32(double(sa) * sb / sy), and the
    # difference decides the rounding of C = +-12556 = +-146 * 86, which the outer product below contains.
    sa, sb, sy = np.float32(0.2975557), np.float32(0.1696177), np.float32(12.070672)
    a = np.arange(0, 256, dtype=np.uint8).reshape(-1, 1)
    b = np.arange(-128, 128, dtype=np.int8).reshape(1, -1)
    exp = ref.qlinear_matmul_ref(a, sa, 0, b, sb, 0, sy, 0, "int8")
    m64 = np.float32(float(sa) * float(sb) / float(sy))
    c = ref.matmul_ref(a, b).astype(np.float64)
    other = np.clip(np.rint(c * float(m64)), -128, 127).astype(np.int8)
    assert (other != exp).any()  # premise: the test distinguishes the two multipliers
    for rounding in ref.DETERMINISTIC_ROUNDINGS:
        y = sq.qlinear_matmul(a, sq.QParams(sa, 0, "uint8"), b, sq.QParams(sb, 0, "int8"),
                              sq.QParams(sy, 0, "int8"), rounding=rounding)
        assert_same(y, ref.qlinear_matmul_ref(a, sa, 0, b, sb, 0, sy, 0, "int8", rounding), "M", rounding=rounding)


def test_qlinear_stochastic(rng):
    a = _rand(rng, "int8", (8, 16))
    b = _rand(rng, "int8", (16, 12))
    ap, bp, yp = sq.QParams(0.02, 1, "int8"), sq.QParams(0.03, -2, "int8"), sq.QParams(0.05, 4, "int8")
    lo = ref.qlinear_matmul_ref(a, 0.02, 1, b, 0.03, -2, 0.05, 4, "int8", "floor").astype(np.int64)
    c = _mm(a, b, 1, -2).astype(np.float64)
    v = c * float(ref.multiplier_ref(0.02, 0.03, 0.05)) + 4
    hi = np.clip(np.floor(v) + 1, -128, 127)
    y1 = sq.qlinear_matmul(a, ap, b, bp, yp, rounding="stochastic", seed=3)
    y2 = sq.qlinear_matmul(a, ap, b, bp, yp, rounding="stochastic", seed=3)
    assert_same(y1, y2, "same seed")
    y1 = y1.astype(np.int64)
    assert ((y1 == lo) | (y1 == hi)).all(), (y1, lo, hi)
    integral = np.floor(v) == v
    assert_same(y1[integral], lo[integral], "exact integers kept")


# ---------------------------------------------------------------------------------------------------------
# Float output


@pytest.mark.parametrize("a_dtype, b_dtype", PAIRS)
def test_matmul_float_matches_reference(a_dtype, b_dtype, rng):
    for a_shape, b_shape in [((3, 7), (7, 5)), ((2, 1, 4, 9), (3, 9, 6)), ((9,), (9, 4)), ((0, 3), (3, 2)),
                             ((4, 0), (0, 3)), ((17, 33), (33, 19))]:
        for per_column in (False, True):
            for with_bias in (False, True):
                a = _rand(rng, a_dtype, a_shape)
                b = _rand(rng, b_dtype, b_shape)
                sa, za = _qparams_per_tensor(rng, a_dtype)
                n = b_shape[-1]
                if per_column:
                    sb = np.exp(rng.uniform(-6, 0, n)).astype(np.float32)
                    zb = _rand_zp(rng, b_dtype, n)
                    bp = sq.QParams(sb, zb, b_dtype, axis=-1)
                else:
                    sb, zb = _qparams_per_tensor(rng, b_dtype)
                    bp = sq.QParams(sb, zb, b_dtype)
                bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
                y = sq.matmul_float(a, sq.QParams(sa, za, a_dtype), b, bp, bias=bias)
                exp = ref.matmul_float_ref(a, sa, za, b, sb, zb, bias)
                assert_same(y, exp, "matmul_float", a_shape=a_shape, b_shape=b_shape, sa=sa, za=za, sb=sb, zb=zb,
                            bias=bias)


def test_matmul_float_notes_example():
    # 0.3 * 0.5 through int8: C = 2030, S1 * S2 = 0.008627451^2 -> 0.151098...
    p1 = sq.calibrate(np.array([-1.2, 1.0], np.float32))
    p2 = sq.calibrate(np.array([-1.0, 1.2], np.float32))
    y = sq.matmul_float(np.array([[46]], np.int8), p1, np.array([[46]], np.int8), p2)
    exp = np.array([[np.float32(2030) * np.float32(p1.scale * p2.scale)]], np.float32)
    assert_same(y, exp, "float output")
    assert abs(float(y[0, 0]) - 0.15) < 0.002


# ---------------------------------------------------------------------------------------------------------
# Prepacked B


@pytest.mark.parametrize("a_dtype, b_dtype", PAIRS)
def test_packed_equals_unpacked_i32(a_dtype, b_dtype, rng):
    for k, n in [(7, 5), (0, 3), (3, 0), (33, 17), (64, 64), (1, 1), (130, 9)]:
        b = _rand(rng, b_dtype, (k, n))
        b_copy = b.copy()
        for per_column in (False, True):
            zb = _rand_zp(rng, b_dtype, n) if per_column else _rand_zp(rng, b_dtype)
            w = sq.pack(b, b_zero_point=zb)
            assert tuple(w.shape) == (k, n)
            assert w.dtype == b_dtype
            assert not w.has_scale
            for a_shape in [(4, k), (k,), (2, 3, k), (0, k), (1, k)]:
                a = _rand(rng, a_dtype, a_shape)
                za = _rand_zp(rng, a_dtype)
                got = sq.matmul(a, w, a_zero_point=za)
                assert_same(got, _expected_i32(a, b, za, zb), "packed i32", a_shape=a_shape, k=k, n=n, za=za, zb=zb)
                assert_same(got, sq.matmul(a, b, za, zb), "packed vs unpacked", a_shape=a_shape)
        assert_same(b, b_copy, "b modified by pack")
        # The packed matrix is independent of the caller's buffer.
        w = sq.pack(b, b_zero_point=1)
        b2 = b.copy()
        b[...] = 0
        a = _rand(rng, a_dtype, (3, k))
        assert_same(sq.matmul(a, w, 0), _expected_i32(a, b2, 0, 1), "pack keeps no pointer")


@pytest.mark.parametrize("a_dtype, b_dtype", PAIRS)
def test_packed_equals_unpacked_qlinear_and_float(a_dtype, b_dtype, rng):
    for k, n in [(7, 5), (33, 17), (0, 4)]:
        b = _rand(rng, b_dtype, (k, n))
        for per_column in (False, True):
            if per_column:
                sb = np.exp(rng.uniform(-6, 0, n)).astype(np.float32)
                zb = _rand_zp(rng, b_dtype, n)
                bp = sq.QParams(sb, zb, b_dtype, axis=1)
            else:
                sb, zb = _qparams_per_tensor(rng, b_dtype)
                bp = sq.QParams(sb, zb, b_dtype)
            w = sq.pack(b, b_params=bp)
            assert w.has_scale and tuple(w.shape) == (k, n) and w.dtype == b_dtype
            for a_shape in [(4, k), (k,), (2, 3, k)]:
                a = _rand(rng, a_dtype, a_shape)
                sa, za = _qparams_per_tensor(rng, a_dtype)
                ap = sq.QParams(sa, za, a_dtype)
                yp = sq.QParams(0.5, 3, "uint8")
                for rounding in ref.DETERMINISTIC_ROUNDINGS:
                    got = sq.qlinear_matmul(a, ap, w, None, yp, rounding=rounding)
                    assert_same(got, ref.qlinear_matmul_ref(a, sa, za, b, sb, zb, 0.5, 3, "uint8", rounding),
                                "packed qlinear", a_shape=a_shape, rounding=rounding)
                    assert_same(got, sq.qlinear_matmul(a, ap, b, bp, yp, rounding=rounding), "packed vs unpacked")
                bias = rng.standard_normal(n).astype(np.float32)
                got = sq.matmul_float(a, ap, w, None, bias=bias)
                assert_same(got, ref.matmul_float_ref(a, sa, za, b, sb, zb, bias), "packed float", a_shape=a_shape)
                # The packed zero points serve the integer product too.
                assert_same(sq.matmul(a, w, za), _expected_i32(a, b, za, zb), "packed with params, i32")


def test_matmul_float_large_c_is_rounded_to_float32_first(rng):
    # |C| > 2**24: float32(C) loses low bits before the multiply, as the header's formula says
    # (y = float32(C) * float32(sa * sb[n]) + bias[n]); a float64 product would round differently.
    k = 2000
    a = rng.integers(100, 128, (6, k)).astype(np.int8)
    b = rng.integers(200, 256, (k, 9)).astype(np.uint8)
    sb = np.exp(rng.uniform(-6, 0, 9)).astype(np.float32)
    zb = rng.integers(0, 20, 9).astype(np.int32)
    bias = rng.standard_normal(9).astype(np.float32)
    c = ref.matmul_ref(a, b, -128, zb)
    assert np.abs(c).min() > 2**24
    y = sq.matmul_float(a, sq.QParams(0.013, -128, "int8"), b, sq.QParams(sb, zb, "uint8", axis=1), bias=bias)
    exp = ref.matmul_float_ref(a, 0.013, -128, b, sb, zb, bias)
    s = np.float32(0.013) * sb
    other = (c.astype(np.float64) * s.astype(np.float64)).astype(np.float32) + bias
    assert (other != exp).any()  # premise: the test distinguishes the two orders of rounding
    assert_same(y, exp, "float output, large C")
    # The same through a packed B.
    w = sq.pack(b, sq.QParams(sb, zb, "uint8", axis=1))
    assert_same(sq.matmul_float(a, sq.QParams(0.013, -128, "int8"), w, None, bias=bias), exp, "packed, large C")
