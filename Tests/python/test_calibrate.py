"""calibrate (min/max) and Observer against the NumPy reference: range -> (scale, zero point) per tensor,
per axis and per block, symmetric and asymmetric, degenerate ranges, streaming, merge and pickle."""
import pickle

import numpy as np
import pytest

import numpy_reference as ref
import swiftquant as sq
from conftest import assert_same

DTYPES = ("int8", "uint8", "int16", "uint16", "int4", "uint4")


def _check_params(p, scale, zp, what="", **ctx):
    assert_same(np.asarray(p.scale), np.asarray(scale, np.float32), f"{what} scale", **ctx)
    assert_same(np.asarray(p.zero_point), np.asarray(zp, np.int32), f"{what} zero_point", **ctx)


CASES = [
    # (shape, axis, block_size)
    ((), None, None),
    ((0,), None, None),
    ((1,), None, None),
    ((100,), None, None),
    ((3, 0), None, None),
    ((7, 9), None, None),
    ((7, 9), 0, None),
    ((7, 9), 1, None),
    ((7, 9), -1, None),
    ((2, 3, 4), 1, None),
    ((0, 5), 1, None),
    ((0, 5), 0, None),
    ((1,), 0, None),
    ((10,), 0, 3),
    ((10,), 0, 10),
    ((10,), 0, 16),
    ((6, 10), 1, 4),
    ((6, 10), 0, 4),
    ((3, 5, 7), 2, 2),
    ((3, 5, 7), 1, 1),
    ((3, 5, 7), -2, 3),
    ((4, 0), 1, 2),
]


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_calibrate_matches_reference(dtype, symmetric, rng):
    for shape, axis, block in CASES:
        for mag, offset in ((1.0, 0.0), (1e-3, 5e-3), (250.0, -400.0), (1.0, 3.0)):
            x = (rng.standard_normal(shape) * mag + offset).astype(np.float32)
            x_copy = x.copy()
            p = sq.calibrate(x, method="minmax", dtype=dtype, symmetric=symmetric, axis=axis, block_size=block)
            scale, zp = ref.calibrate_ref(x, dtype, symmetric, axis, block)
            _check_params(p, scale, zp, dtype=dtype, symmetric=symmetric, shape=shape, axis=axis, block_size=block,
                          magnitude=mag, offset=offset)
            assert p.dtype == dtype and p.block_size == block
            assert (p.axis is None) == (axis is None)
            if axis is not None:
                assert p.axis % len(shape) == axis % len(shape)
            assert_same(x, x_copy, "input modified")
            # The parameters are usable: quantizing the calibration data matches the reference.
            q = sq.quantize(x, p)
            assert_same(q, ref.quantize_ref(x, scale, zp, dtype, axis, block), "quantize with calibrated params",
                        dtype=dtype, shape=shape, axis=axis, block_size=block)


@pytest.mark.parametrize(
    "dtype, symmetric, lo, hi, scale, zp",
    [
        # Hand-worked cases of the header's formulas.
        ("uint8", False, 0.0, 2.55, 2.55 / 255, 0),      # rmin = 0 -> zp = qmin
        ("uint8", False, -2.55, 0.0, 2.55 / 255, 255),   # rmax = 0 -> zp = qmax
        ("uint8", False, 1.0, 2.55, 2.55 / 255, 0),      # the range is widened to include zero
        ("int8", False, -2.55, -1.0, 2.55 / 255, 127),
        ("int8", True, -3.0, 1.0, 6.0 / 254, 0),          # narrow range [-127, 127]
        ("uint8", True, -3.0, 1.0, 6.0 / 255, 128),       # (qmin + qmax + 1) / 2
        ("uint4", True, 0.0, 1.5, 3.0 / 15, 8),
        ("int4", True, -1.4, 0.5, 2.8 / 14, 0),           # narrow range [-7, 7]
        ("uint16", True, -1.0, 0.0, 2.0 / 65535, 32768),
        ("int16", True, 0.0, 5.0, 10.0 / 65534, 0),
        ("int4", False, -1.0, 2.0, 3.0 / 15, -3),          # round(-8 - (-1) / 0.2) = -3
    ],
)
def test_range_formula_hand_cases(dtype, symmetric, lo, hi, scale, zp):
    x = np.array([lo, hi], np.float32)
    p = sq.calibrate(x, dtype=dtype, symmetric=symmetric)
    es, ez = ref.calibrate_ref(x, dtype, symmetric)
    # The hand values agree with the reference (to float32 rounding of the inputs) ...
    assert abs(float(es) - scale) <= 1e-6 * scale, (es, scale)
    # ... and the library agrees with the reference exactly.
    _check_params(p, es, ez, dtype=dtype, symmetric=symmetric, lo=lo, hi=hi)
    assert int(p.zero_point) == zp, (int(p.zero_point), zp)


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "data",
    [
        np.zeros(5, np.float32),                       # all zero -> scale would be 0
        np.full(4, 3.5, np.float32),                   # constant positive (range [0, 3.5])
        np.full(4, -2.0, np.float32),                  # constant negative
        np.array([1e-42, 0.0], np.float32),            # subnormal range -> scale would be subnormal
        np.array([-1e-40], np.float32),
        np.array([-0.0, 0.0], np.float32),
        np.zeros(0, np.float32),                       # empty
    ],
    ids=["zeros", "const+", "const-", "subnormal", "subnormal-", "signed-zeros", "empty"],
)
def test_degenerate_ranges_give_usable_scale(dtype, symmetric, data):
    p = sq.calibrate(data, dtype=dtype, symmetric=symmetric)
    s = float(p.scale)
    assert np.isfinite(s) and s >= float(ref.FLT_MIN), s
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    assert qmin <= int(p.zero_point) <= qmax
    es, ez = ref.calibrate_ref(data, dtype, symmetric)
    _check_params(p, es, ez, dtype=dtype, symmetric=symmetric, data=data)
    # Zero stays exactly representable: 0.0 quantizes to the zero point and back to 0.0.
    q = sq.quantize(np.zeros(1, np.float32), p)
    assert int(q[0]) == int(p.zero_point)
    assert sq.dequantize(q, p)[0] == 0.0


def test_degenerate_per_axis_and_block():
    x = np.zeros((3, 4), np.float32)
    x[1] = 7.0
    for axis, block in ((0, None), (1, None), (0, 2), (1, 3)):
        for symmetric in (False, True):
            p = sq.calibrate(x, dtype="uint8", symmetric=symmetric, axis=axis, block_size=block)
            es, ez = ref.calibrate_ref(x, "uint8", symmetric, axis, block)
            _check_params(p, es, ez, axis=axis, block_size=block, symmetric=symmetric)
            assert (np.asarray(p.scale) > 0).all()


def test_calibrate_accepts_lists_float64_and_views(rng):
    x = rng.standard_normal((5, 6)) * 2
    es, ez = ref.calibrate_ref(x.astype(np.float32), "int8", False, 1, None)
    for arg in (x, x.tolist(), np.asfortranarray(x.astype(np.float32)), x.astype(np.float32).T.T):
        _check_params(sq.calibrate(arg, dtype="int8", axis=1), es, ez)
    big = np.zeros((10, 12), np.float32)
    big[::2, ::2] = x
    _check_params(sq.calibrate(big[::2, ::2], dtype="int8", axis=1), es, ez, what="strided")
    esT, ezT = ref.calibrate_ref(x.astype(np.float32).T, "int8", False, 0, None)
    _check_params(sq.calibrate(x.astype(np.float32).T, dtype="int8", axis=0), esT, ezT, what="transposed")


@pytest.mark.parametrize("method", ["percentile", "entropy", "mse", "moving_average"])
def test_other_methods_calibrate(method, rng):
    # Every method is implemented (they used to raise NotImplementedError); their values are checked against
    # the observer reference in test_observers.py. Here: valid parameters of the right shape, and for data
    # without outliers a range close to min/max's.
    x = rng.uniform(-2.0, 6.0, (400, 3)).astype(np.float32)
    for axis, shape in ((None, ()), (1, (3,)), (0, (400,))):
        p = sq.calibrate(x, method=method, dtype="uint8", axis=axis)
        s = np.asarray(p.scale)
        assert s.shape == shape and np.isfinite(s).all() and (s >= ref.FLT_MIN).all()
        zp = np.asarray(p.zero_point)
        assert ((zp >= 0) & (zp <= 255)).all()
    p = sq.calibrate(x, method=method, dtype="uint8")
    es, _ = ref.calibrate_ref(x, "uint8")
    assert abs(float(p.scale) - float(es)) <= 0.02 * float(es), (method, p, es)


def test_unknown_method():
    with pytest.raises(ValueError, match="(?i)method"):
        sq.calibrate(np.ones(10, np.float32), method="maxmin")


# ---------------------------------------------------------------------------------------------------------
# Observer


def _observer_check(ob, x_all, dtype, symmetric, axis, block, nbatches):
    mn, mx = ref.minmax_ref(x_all, axis, block)
    assert_same(np.asarray(ob.min, np.float32), mn, "ob.min", axis=axis, block_size=block)
    assert_same(np.asarray(ob.max, np.float32), mx, "ob.max", axis=axis, block_size=block)
    assert ob.num_batches == nbatches
    es, ez = ref.qparams_from_range_ref(mn, mx, dtype, symmetric)
    p = ob.qparams()
    _check_params(p, es, ez, what="ob.qparams()", dtype=dtype, symmetric=symmetric, axis=axis)
    assert p.dtype == dtype
    # One-shot calibrate over all the data gives the same parameters.
    pc = sq.calibrate(x_all, dtype=dtype, symmetric=symmetric, axis=axis, block_size=block)
    _check_params(p, np.asarray(pc.scale), np.asarray(pc.zero_point), what="streaming vs one-shot")


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int4", "uint16"])
def test_observer_streaming_per_tensor(dtype, symmetric, rng):
    batches = [(rng.standard_normal(n) * s + o).astype(np.float32)
               for n, s, o in ((5, 1, 0), (1, 3, 2), (40, 0.5, -1), (7, 2, 0.5))]
    ob = sq.Observer(dtype=dtype, symmetric=symmetric)
    for i, b in enumerate(batches):
        b_copy = b.copy()
        assert ob.update(b) is ob
        assert_same(b, b_copy, "batch modified")
        _observer_check(ob, np.concatenate(batches[: i + 1]), dtype, symmetric, None, None, i + 1)


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
def test_observer_streaming_per_axis(symmetric, rng):
    # Channels on axis 1; batches stack along axis 0.
    batches = [(rng.standard_normal((n, 6)) * rng.uniform(0.1, 5, 6)).astype(np.float32) for n in (3, 1, 8)]
    ob = sq.Observer(dtype="int8", symmetric=symmetric, axis=1)
    for i, b in enumerate(batches):
        ob.update(b)
        _observer_check(ob, np.concatenate(batches[: i + 1], axis=0), "int8", symmetric, 1, None, i + 1)


def test_observer_streaming_per_block(rng):
    # Blocks along axis 1 of equally shaped batches: the running per-block min/max.
    batches = [(rng.standard_normal((4, 10)) * 3).astype(np.float32) for _ in range(3)]
    ob = sq.Observer(dtype="uint8", axis=1, block_size=4)
    for b in batches:
        ob.update(b)
    mins = np.min([ref.minmax_ref(b, 1, 4)[0] for b in batches], axis=0)
    maxs = np.max([ref.minmax_ref(b, 1, 4)[1] for b in batches], axis=0)
    assert_same(np.asarray(ob.min, np.float32), mins, "ob.min per block")
    assert_same(np.asarray(ob.max, np.float32), maxs, "ob.max per block")
    es, ez = ref.qparams_from_range_ref(mins, maxs, "uint8", False)
    _check_params(ob.qparams(), es, ez, what="per block observer")


def test_observer_merge(rng):
    a = [(rng.standard_normal(20) * 2).astype(np.float32) for _ in range(3)]
    b = [(rng.standard_normal(15) + 4).astype(np.float32) for _ in range(2)]
    o1 = sq.Observer(dtype="int8")
    o2 = sq.Observer(dtype="int8")
    both = sq.Observer(dtype="int8")
    for x in a:
        o1.update(x)
        both.update(x)
    for x in b:
        o2.update(x)
        both.update(x)
    assert o1.merge(o2) is o1
    assert np.float32(o1.min) == np.float32(both.min) and np.float32(o1.max) == np.float32(both.max)
    assert o1.num_batches == both.num_batches == 5
    _check_params(o1.qparams(), np.asarray(both.qparams().scale), np.asarray(both.qparams().zero_point))
    _observer_check(o1, np.concatenate(a + b), "int8", False, None, None, 5)
    # The merged-in observer is unchanged.
    _observer_check(o2, np.concatenate(b), "int8", False, None, None, 2)


def test_observer_merge_per_axis(rng):
    a = (rng.standard_normal((5, 4)) * 3).astype(np.float32)
    b = (rng.standard_normal((2, 4)) - 2).astype(np.float32)
    o1 = sq.Observer(dtype="uint8", axis=1).update(a)
    o2 = sq.Observer(dtype="uint8", axis=1).update(b)
    o1.merge(o2)
    _observer_check(o1, np.concatenate([a, b]), "uint8", False, 1, None, 2)


def test_observer_pickle(rng):
    ob = sq.Observer(dtype="uint8", symmetric=True, axis=0, ignore_nonfinite=True)
    x1 = (rng.standard_normal((3, 5)) * 2).astype(np.float32)
    x1[0, 0] = np.nan
    ob.update(x1)
    clone = pickle.loads(pickle.dumps(ob))
    assert clone.num_batches == ob.num_batches == 1
    assert clone.nonfinite_count == ob.nonfinite_count == 1
    assert_same(np.asarray(clone.min, np.float32), np.asarray(ob.min, np.float32), "pickled min")
    assert_same(np.asarray(clone.max, np.float32), np.asarray(ob.max, np.float32), "pickled max")
    _check_params(clone.qparams(), np.asarray(ob.qparams().scale), np.asarray(ob.qparams().zero_point))
    # The clone keeps its settings (dtype, symmetric, axis, ignore_nonfinite) and streams on identically.
    x2 = (rng.standard_normal((3, 5)) * 5).astype(np.float32)
    x2[1, 2] = -np.inf
    ob.update(x2)
    clone.update(x2)
    assert clone.nonfinite_count == ob.nonfinite_count == 2
    p = clone.qparams()
    assert p.dtype == "uint8" and p.axis == 0
    both = np.concatenate([x1, x2], axis=1)  # channels on axis 0: batches extend the other axis
    mn, mx = ref.minmax_ref(both, 0, None, ignore_nonfinite=True)
    es, ez = ref.qparams_from_range_ref(mn, mx, "uint8", True)
    _check_params(p, es, ez, what="pickled observer after update")


def test_observer_ignore_nonfinite_counts():
    ob = sq.Observer(dtype="int8", ignore_nonfinite=True)
    ob.update(np.array([1.0, np.nan, np.inf, -2.0, -np.inf], np.float32))
    assert ob.nonfinite_count == 3
    assert np.float32(ob.min) == -2.0 and np.float32(ob.max) == 1.0
    ob.update(np.array([np.nan, 0.5], np.float32))
    assert ob.nonfinite_count == 4
    es, ez = ref.qparams_from_range_ref(np.float32(-2.0), np.float32(1.0), "int8", False)
    _check_params(ob.qparams(), es, ez)


def test_observer_all_nonfinite_batch_gives_usable_params():
    ob = sq.Observer(dtype="int8", ignore_nonfinite=True)
    ob.update(np.array([np.nan, np.inf], np.float32))
    assert ob.nonfinite_count == 2
    p = ob.qparams()
    assert float(p.scale) == 1.0 and int(p.zero_point) == 0


def test_observer_nonfinite_is_error_by_default():
    ob = sq.Observer(dtype="int8")
    ob.update(np.array([1.0, 2.0], np.float32))
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(sq.SwiftQuantError, match="(?i)nan|finite|inf") as ei:
            ob.update(np.array([0.0, bad], np.float32))
        assert ei.value.status_name == "SQ_ERROR_NONFINITE"
    # A failed update leaves the observer as it was.
    assert ob.num_batches == 1
    assert np.float32(ob.min) == 1.0 and np.float32(ob.max) == 2.0


@pytest.mark.parametrize(
    "dtype, lo, hi",
    [
        # Ranges (found by a NumPy search) where round(qmin - rmin / scale) differs between the float64 scale
        # and the stored float32 scale: the zero point must come from the scale the caller receives, so that
        # zero stays exactly representable with the returned parameters.
        ("int8", -4.2499113, 2.338097),
        ("int8", -8.072004, 4.51736),
        ("int16", -4.5321393, 2.2325482),
        ("int16", -5.2585154, 0.15067486),
    ],
)
def test_zero_point_from_stored_float32_scale(dtype, lo, hi):
    x = np.array([lo, hi], np.float32)
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    rmin, rmax = float(x[0]), float(x[1])
    s64 = (rmax - rmin) / (qmax - qmin)
    s32 = float(np.float32(s64))
    assert np.rint(qmin - rmin / s32) != np.rint(qmin - rmin / s64)  # premise: the two differ here
    p = sq.calibrate(x, dtype=dtype)
    es, ez = ref.calibrate_ref(x, dtype)
    assert int(ez) == int(np.rint(qmin - rmin / s32))
    _check_params(p, es, ez, dtype=dtype, lo=lo, hi=hi)
