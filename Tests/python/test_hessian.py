"""HessianObserver (Include/swiftquant.h, "Hessian observers") against an independent NumPy reference,
S = X^T X and H = S / n in float64.

Exact where the header promises exactness: integer-valued inputs (every product and partial sum is an
integer below 2^53, so the sums, the merges and the division by n are exact); otherwise within
1e-12 of the sum of |x_i x_j| (float64 summation error for these row counts is ~1e-13 of it). Also:
batching and sharding invariance, multiprocessing shards, the serialized layout read independently here,
hostile bytes, bad arguments, threads, and results independent of the thread count.
"""
import copy
import multiprocessing
import os
import pickle
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import swiftquant as sq

RTOL = 1e-12


def ref_sums(x):
    """S = X^T X in float64 over the rows of x (any leading dims), from the float32 values."""
    x = np.asarray(x, dtype=np.float32)
    x64 = x.reshape(-1, x.shape[-1]).astype(np.float64)
    return x64.T @ x64


def assert_close(got, x, what=""):
    """|got - X^T X| <= RTOL * (|X|^T |X|), elementwise (the float64 summation error bound)."""
    x64 = np.asarray(x, dtype=np.float32).reshape(-1, np.shape(x)[-1]).astype(np.float64)
    want = x64.T @ x64
    mag = np.abs(x64).T @ np.abs(x64)
    bad = np.abs(got - want) > RTOL * mag
    assert not bad.any(), f"{what}: {int(bad.sum())} element(s) off, e.g. {np.argwhere(bad)[:3].tolist()}"


def integer_data(rng, shape, lo=-16, hi=16):
    return rng.integers(lo, hi + 1, size=shape).astype(np.float32)


def observe(k, *batches):
    h = sq.HessianObserver(k)
    for b in batches:
        assert h.update(b) is h
    return h


def fnv1a(data):
    h = 0xCBF29CE484222325
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def craft(k, count, upper, version=1, magic=b"SQHS", fix_checksum=True, tail=b""):
    """Hessian bytes in the header's format, built here (upper: the K(K+1)/2 doubles, row by row)."""
    body = magic + struct.pack("<Iqq", version, k, count) + struct.pack(f"<{len(upper)}d", *upper) + tail
    return body + struct.pack("<Q", fnv1a(body) if fix_checksum else 0)


def upper_of(s):
    return [s[i, j] for i in range(s.shape[0]) for j in range(i, s.shape[0])]


# ---------------------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (300, 7), (2, 50, 37), (4, 2, 3, 16)])
def test_integer_data_is_exact(shape, rng):
    x = integer_data(rng, shape)
    h = observe(shape[-1], x)
    n = int(np.prod(shape[:-1]))
    s = ref_sums(x)
    assert h.count == n and h.in_features == shape[-1]
    np.testing.assert_array_equal(h.sums(), s)
    np.testing.assert_array_equal(h.hessian(), s / n)  # each element divided by n, as NumPy does


@pytest.mark.parametrize("k", [1, 2, 5, 6, 7, 8, 9, 13, 48, 97, 257])
@pytest.mark.parametrize("rows", [1, 255, 256, 257, 700])
def test_random_data_matches_numpy(k, rows, rng):
    x = (rng.standard_normal((rows, k)) * rng.uniform(0.01, 100, k)).astype(np.float32)
    h = observe(k, x)
    s = h.sums()
    assert_close(s, x, f"k={k} rows={rows}")
    hh = h.hessian()
    np.testing.assert_array_equal(hh, s / rows)
    np.testing.assert_array_equal(hh, hh.T)  # full symmetric, bit for bit
    assert hh.dtype == np.float64 and hh.flags.c_contiguous and hh.shape == (k, k)
    assert np.all(np.diag(hh) >= 0)


def test_large_k_uses_the_pool_and_matches(rng):
    # 256 x 300^2 products per chunk: over the threshold where the update runs on the thread pool.
    x = rng.standard_normal((600, 300)).astype(np.float32)
    assert_close(observe(300, x).sums(), x, "k=300")
    xi = integer_data(rng, (600, 300))
    np.testing.assert_array_equal(observe(300, xi).sums(), ref_sums(xi))


def test_inputs_converted_like_the_observers(rng):
    x64 = rng.standard_normal((40, 6))  # float64: rounded to float32, as every float input
    h = observe(6, x64)
    np.testing.assert_array_equal(h.sums(), ref_sums(x64.astype(np.float32)))
    xi = rng.integers(-100, 100, (9, 4))  # integer dtype
    np.testing.assert_array_equal(observe(4, xi).sums(), ref_sums(xi))
    np.testing.assert_array_equal(observe(3, [[1, 2, 3], [4, 5, 6]]).sums(), ref_sums([[1, 2, 3], [4, 5, 6]]))
    # Non-contiguous input, never modified.
    base = rng.standard_normal((8, 30)).astype(np.float32)
    view = base.T[::2]  # (15, 8), strided
    before = base.copy()
    np.testing.assert_array_equal(observe(8, view).sums(), ref_sums(np.ascontiguousarray(view)))
    np.testing.assert_array_equal(base, before)


def test_empty_batches_and_initial_state():
    h = sq.HessianObserver(4)
    assert h.count == 0
    np.testing.assert_array_equal(h.sums(), np.zeros((4, 4)))
    with pytest.raises(sq.SwiftQuantError, match="no data observed"):
        h.hessian()
    h.update(np.zeros((0, 4), np.float32)).update(np.zeros((3, 0, 4), np.float32))
    assert h.count == 0
    h.update(np.ones(4, np.float32))  # a 1-D x is one row
    assert h.count == 1
    np.testing.assert_array_equal(h.hessian(), np.ones((4, 4)))
    assert repr(h) == "HessianObserver(in_features=4; count=1)"


def test_extreme_values_stay_finite():
    big = np.float32(np.finfo(np.float32).max)
    x = np.full((1000, 3), big, np.float32)
    x[:, 1] = -big
    h = observe(3, x)
    s = h.sums()
    assert np.all(np.isfinite(s)) and s[0, 1] < 0
    np.testing.assert_allclose(s, ref_sums(x), rtol=RTOL)
    tiny = np.full((10, 2), 1e-45, np.float32)  # subnormal float32: its square is exact in float64
    np.testing.assert_array_equal(observe(2, tiny).sums(), ref_sums(tiny))
    assert observe(2, tiny).sums()[0, 0] > 0


# ---------------------------------------------------------------------------------------------------------
# Streaming, merging, threads


def test_batching_invariance(rng):
    x = (rng.standard_normal((2000, 21)) * 3).astype(np.float32)
    one = observe(21, x)
    cuts = np.sort(rng.choice(np.arange(1, 2000), 40, replace=False))
    many = observe(21, *np.split(x, cuts))
    assert many.count == one.count == 2000
    assert_close(many.sums(), x, "many batches")
    np.testing.assert_allclose(many.sums(), one.sums(), rtol=RTOL, atol=RTOL * np.abs(x).max() ** 2 * 2000)
    # Integer data: identical bits however it is batched.
    xi = integer_data(rng, (2000, 21))
    np.testing.assert_array_equal(observe(21, *np.split(xi, cuts)).sums(), observe(21, xi).sums())
    np.testing.assert_array_equal(observe(21, *np.split(xi, cuts)).hessian(), observe(21, xi).hessian())


def test_merge_of_shards_is_exact_for_integer_data(rng):
    x = integer_data(rng, (3000, 19))
    shards = np.array_split(x, 5)
    parts = [observe(19, *np.array_split(s, 3)) for s in shards]
    merged = parts[0]
    for p in parts[1:]:
        before = p.to_bytes()
        assert merged.merge(p) is merged
        assert p.to_bytes() == before  # the merged-in observer is unchanged
    whole = observe(19, x)
    assert merged.count == whole.count == 3000
    np.testing.assert_array_equal(merged.sums(), whole.sums())
    np.testing.assert_array_equal(merged.hessian(), whole.hessian())
    assert merged.to_bytes() == whole.to_bytes()


def test_merge_random_data_and_edge_cases(rng):
    x = rng.standard_normal((900, 10)).astype(np.float32)
    a, b = observe(10, x[:400]), observe(10, x[400:])
    assert_close(a.merge(b).sums(), x, "merge")
    # An empty observer merges as a no-op either way.
    e = sq.HessianObserver(10)
    before = a.to_bytes()
    a.merge(sq.HessianObserver(10))
    assert a.to_bytes() == before
    e.merge(a)
    assert e.to_bytes() == before
    # Merging with itself counts its rows twice.
    xi = integer_data(rng, (50, 10))
    d = observe(10, xi)
    d.merge(d)
    assert d.count == 100
    np.testing.assert_array_equal(d.sums(), 2 * ref_sums(xi))


def test_merge_k_mismatch():
    a, b = observe(4, np.ones((2, 4))), observe(5, np.ones((2, 5)))
    with pytest.raises(sq.SwiftQuantError, match="K = 5 does not match K = 4") as e:
        a.merge(b)
    assert e.value.status_name == "SQ_ERROR_SHAPE"
    assert a.count == 2
    with pytest.raises(TypeError, match="HessianObserver"):
        a.merge(sq.Observer())
    with pytest.raises(TypeError):
        a.merge(np.ones((4, 4)))


def test_threads_share_one_observer(rng):
    xs = [integer_data(rng, (300, 33)) for _ in range(8)]
    h = sq.HessianObserver(33)
    threads = [threading.Thread(target=h.update, args=(x,)) for x in xs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(h.sums(), ref_sums(np.concatenate(xs)))
    assert h.count == 2400


_THREADS_CODE = """
import sys, numpy as np, swiftquant as sq
x = (np.random.default_rng(5).standard_normal((1100, 203)) * 7).astype(np.float32)
h = sq.HessianObserver(203)
h.update(x[:900]).update(x[900:])
sys.stdout.write(h.to_bytes().hex())
"""


def test_result_does_not_depend_on_the_thread_count():
    out = {}
    for n in ("1", "2", "3"):
        env = dict(os.environ, SWIFTQUANT_NUM_THREADS=n)
        out[n] = subprocess.run([sys.executable, "-c", _THREADS_CODE], env=env, check=True,
                                capture_output=True, text=True).stdout
    assert out["1"] == out["2"] == out["3"] and len(out["1"]) > 1000


# ---------------------------------------------------------------------------------------------------------
# Serialization


def test_bytes_layout_read_independently(rng):
    x = rng.standard_normal((77, 5)).astype(np.float32)
    h = observe(5, x)
    b = h.to_bytes()
    assert len(b) == 32 + 4 * 5 * 6
    assert b[:4] == b"SQHS"
    version, k, count = struct.unpack_from("<Iqq", b, 4)
    assert (version, k, count) == (1, 5, 77)
    upper = struct.unpack_from("<15d", b, 24)
    assert list(upper) == upper_of(h.sums())
    assert struct.unpack_from("<Q", b, len(b) - 8)[0] == fnv1a(b[:-8])
    # And the other way: bytes built here load, with exactly these values.
    s = ref_sums(integer_data(rng, (10, 3)))
    back = sq.HessianObserver.from_bytes(craft(3, 10, upper_of(s)))
    assert back.count == 10 and back.in_features == 3
    np.testing.assert_array_equal(back.sums(), s)


def test_round_trips_are_exact(rng):
    x = (rng.standard_normal((513, 11)) * 1e3).astype(np.float32)
    h = observe(11, x)
    b = h.to_bytes()
    for other in (sq.HessianObserver.from_bytes(b), sq.HessianObserver.from_bytes(bytearray(b)),
                  sq.HessianObserver.from_bytes(memoryview(b)), pickle.loads(pickle.dumps(h)), copy.copy(h),
                  copy.deepcopy(h)):
        assert isinstance(other, sq.HessianObserver)
        assert other.to_bytes() == b and other.count == 513 and other.in_features == 11
        np.testing.assert_array_equal(other.sums(), h.sums())
        np.testing.assert_array_equal(other.hessian(), h.hessian())
    # A restored observer resumes: the same as one that never stopped (integer data: exact).
    xi = integer_data(rng, (600, 11))
    resumed = pickle.loads(pickle.dumps(observe(11, xi[:250]))).update(xi[250:])
    np.testing.assert_array_equal(resumed.sums(), observe(11, xi).sums())
    empty = pickle.loads(pickle.dumps(sq.HessianObserver(7)))
    assert empty.count == 0 and empty.in_features == 7


def _status(fn):
    with pytest.raises(sq.SwiftQuantError) as e:
        fn()
    return e.value.status_name, str(e.value)


def test_hostile_bytes_are_errors(rng):
    h = observe(4, integer_data(rng, (20, 4)))
    good = h.to_bytes()
    load = sq.HessianObserver.from_bytes
    s = h.sums()
    # Every truncation and every flipped byte.
    for n in range(len(good)):
        assert _status(lambda: load(good[:n]))[0] == "SQ_ERROR_INVALID_ARGUMENT"
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x40
        assert _status(lambda: load(bytes(bad)))[0] == "SQ_ERROR_INVALID_ARGUMENT"
    cases = {
        "bad magic": craft(4, 20, upper_of(s), magic=b"SQOB"),
        "checksum": craft(4, 20, upper_of(s), fix_checksum=False),
        "version 2 is not supported": craft(4, 20, upper_of(s), version=2),
        "version 0 is not supported": craft(4, 20, upper_of(s), version=0),
        "needs exactly": craft(5, 20, upper_of(s)),  # K mismatch: 10 sums where 15 are needed
        "needs exactly ": craft(3, 20, upper_of(s)),
        "trailing": craft(4, 20, upper_of(s), tail=b"\0" * 8),
        "K 0 is outside": craft(0, 0, []),
        "K -4 is outside": craft(-4, 20, upper_of(s)),
        "K 1048577 is outside": craft(2 ** 20 + 1, 20, upper_of(s)),
        "K 9223372036854775807 is outside": craft(2 ** 63 - 1, 20, upper_of(s)),
        "count -1 is negative": craft(4, -1, upper_of(s)),
        "is not finite": craft(4, 20, [np.nan] + upper_of(s)[1:]),
        "is not finite ": craft(4, 20, upper_of(s)[:5] + [np.inf] + upper_of(s)[6:]),
        "is not finite  ": craft(4, 20, upper_of(s)[:-1] + [-np.inf]),
        "is negative": craft(4, 20, [-1.0] + upper_of(s)[1:]),
        "count is 0 but": craft(4, 0, upper_of(s)),
        "too short": b"SQHS\x01\x00\x00",
    }
    for what, data in cases.items():
        name, msg = _status(lambda: load(data))
        assert name == "SQ_ERROR_INVALID_ARGUMENT", (what, name, msg)
        assert what.strip() in msg, (what, msg)
    # K above the create limit but within the format: refused as sq_hessian_create refuses it (the bytes
    # are checked first, so claiming it with few bytes is "needs exactly").
    assert "needs exactly" in _status(lambda: load(craft(2 ** 16 + 1, 1, [0.0])))[1]
    # Not a bytes-like object.
    for bad in (None, 123, "SQHS", [1, 2]):
        with pytest.raises(TypeError, match="bytes-like"):
            load(bad)
    # Off-diagonal negatives, zeros and count 0 with all-zero sums are valid.
    ok = load(craft(2, 3, [1.0, -5.0, 2.0]))
    np.testing.assert_array_equal(ok.hessian(), np.array([[1.0, -5.0], [-5.0, 2.0]]) / 3)
    assert load(craft(2, 0, [0.0, 0.0, 0.0])).count == 0


def test_crafted_huge_sums_cannot_overflow():
    # Valid bytes no real data can produce (sums near the float64 maximum): loading works, but a merge or
    # update that could round to infinity is refused, and the observer is unchanged.
    h = sq.HessianObserver.from_bytes(craft(2, 1, [1e308, 0.0, 1.0]))
    before = h.to_bytes()
    with pytest.raises(sq.SwiftQuantError, match="overflow") as e:
        h.merge(h)
    assert e.value.status_name == "SQ_ERROR_OVERFLOW"
    with pytest.raises(sq.SwiftQuantError, match="overflow"):
        h.update(np.ones((10, 2)))
    assert h.to_bytes() == before
    # A count near int64's limit: adding rows overflows the counter.
    c = sq.HessianObserver.from_bytes(craft(1, 2 ** 63 - 2, [4.0]))
    with pytest.raises(sq.SwiftQuantError) as e:
        c.update(np.ones((2, 1)))
    assert e.value.status_name == "SQ_ERROR_OVERFLOW"
    with pytest.raises(sq.SwiftQuantError, match="overflow"):
        c.merge(c)
    assert c.count == 2 ** 63 - 2


# ---------------------------------------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_input_is_refused_and_changes_nothing(bad, rng):
    h = observe(5, integer_data(rng, (10, 5)))
    before = h.to_bytes()
    x = np.ones((3, 7, 5), np.float32)
    x[2, 4, 3] = bad
    name, msg = _status(lambda: h.update(x))
    assert name == "SQ_ERROR_NONFINITE"
    assert "element [18, 3]" in msg and "flat index 93" in msg, msg
    assert h.to_bytes() == before
    # A float64 value beyond float32's range becomes inf in the conversion: refused the same way.
    with pytest.raises(sq.SwiftQuantError, match="element \\[0, 1\\]"):
        h.update(np.array([[1.0, 1e300, 0, 0, 0]]))


def test_bad_shapes_and_types():
    h = sq.HessianObserver(6)
    name, msg = _status(lambda: h.update(np.ones((4, 5), np.float32)))
    assert name == "SQ_ERROR_SHAPE" and "last dimension 5 is not in_features K = 6" in msg
    name, msg = _status(lambda: h.update(np.float32(1.0)))
    assert name == "SQ_ERROR_SHAPE" and "scalar" in msg
    assert _status(lambda: h.update(np.ones((6, 1), np.float32)))[0] == "SQ_ERROR_SHAPE"
    for bad in ("abc", np.ones((2, 6), dtype=bool), np.ones((2, 6), dtype=complex), [[None] * 6]):
        with pytest.raises(TypeError, match="x must be"):
            h.update(bad)
    assert h.count == 0


@pytest.mark.parametrize("k", [0, -1, 2 ** 16 + 1, 2 ** 40, 2 ** 70, -(2 ** 70)])
def test_bad_in_features(k):
    name, msg = _status(lambda: sq.HessianObserver(k))
    assert name == "SQ_ERROR_SHAPE" and "outside [1, 65536]" in msg


@pytest.mark.parametrize("k", [1.0, "4", None, True, np.float64(3)])
def test_in_features_type(k):
    with pytest.raises(TypeError, match="in_features"):
        sq.HessianObserver(k)


def test_numpy_integer_in_features():
    assert sq.HessianObserver(np.int16(3)).in_features == 3
    assert "HessianObserver" in sq.__all__


# ---------------------------------------------------------------------------------------------------------
# Properties


@given(k=st.integers(1, 9), data=st.data())
def test_property_integer_rows_any_split(k, data):
    rows = data.draw(st.integers(0, 40))
    vals = data.draw(st.lists(st.integers(-300, 300), min_size=rows * k, max_size=rows * k))
    x = np.array(vals, dtype=np.float32).reshape(rows, k)
    cuts = sorted(data.draw(st.lists(st.integers(0, rows), max_size=4)))
    shards = np.split(x, cuts)
    parts = [observe(k, s) for s in shards]
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    xi = x.astype(np.int64)
    want = (xi.T @ xi).astype(np.float64)
    np.testing.assert_array_equal(merged.sums(), want)
    np.testing.assert_array_equal(observe(k, *shards).sums(), want)
    assert merged.count == rows
    back = sq.HessianObserver.from_bytes(merged.to_bytes())
    assert back.to_bytes() == merged.to_bytes()


@given(k=st.integers(1, 12), rows=st.integers(1, 30), seed=st.integers(0, 2 ** 32 - 1),
       scale=st.sampled_from([1e-30, 1e-3, 1.0, 1e5, 1e30]))
def test_property_float_rows(k, rows, seed, scale):
    x = (np.random.default_rng(seed).standard_normal((rows, k)) * scale).astype(np.float32)
    h = observe(k, x)
    assert_close(h.sums(), x)
    hh = h.hessian()
    np.testing.assert_array_equal(hh, hh.T)
    np.testing.assert_array_equal(hh, h.sums() / rows)


# ---------------------------------------------------------------------------------------------------------
# Multiprocessing


def _shard_worker(args):
    """Worker: a Hessian over one shard in batches, returned as bytes or as the pickled observer."""
    k, shard, as_bytes = args
    h = sq.HessianObserver(k)
    for b in np.array_split(shard, 4):
        h.update(b)
    return h.to_bytes() if as_bytes else h


@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "pickle"])
def test_multiprocessing_shards_merge(as_bytes, rng):
    x = integer_data(rng, (3000, 45), -50, 50)
    shards = np.array_split(x, 3)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold native threads
    with ctx.Pool(3) as pool:
        parts = pool.map(_shard_worker, [(45, s, as_bytes) for s in shards])
    if as_bytes:
        parts = [sq.HessianObserver.from_bytes(p) for p in parts]
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    whole = observe(45, x)
    assert merged.count == 3000
    np.testing.assert_array_equal(merged.sums(), whole.sums())
    np.testing.assert_array_equal(merged.sums(), ref_sums(x))
    np.testing.assert_array_equal(merged.hessian(), whole.hessian())
