"""Hostile callers (issue 9): shapes whose other dimensions are huge next to a zero one, block sizes near
INT64_MAX, crafted observer bytes with a valid checksum, scales whose product overflows, tiny inputs that
asked for huge state, NaN in whole SIMD blocks, and one observer shared by many threads. Each case was a
trap, a memory error, a hang or a silently wrong answer before; each must now be a clear status code or
the right result."""
import ctypes
import resource
import struct
import threading
from ctypes import byref, c_int64, c_void_p

import numpy as np
import pytest

import swiftquant as sq
from conftest import assert_same
from raw_abi import ptr, qp, raw, shape_of
from swiftquant import _native
from test_errors import expect_status

INT64_MAX = 2**63 - 1
HUGE_ZERO_SHAPES = [(1 << 62, 0), (0, 1 << 59, 1 << 59), (1 << 61, 1 << 61, 0), (INT64_MAX, 0)]


def _ocfg(method=_native.SQ_METHOD_MINMAX, dtype=_native.SQ_INT8, symmetric=0, axis=-1, block_size=0,
          num_bins=2048, ignore_nonfinite=0, percentile=99.9, averaging_constant=0.01):
    return _native.ObserverConfigStruct(method, dtype, symmetric, axis, block_size, num_bins, ignore_nonfinite,
                                        percentile, averaging_constant)


def _observer(**cfg):
    h = c_void_p()
    c = _ocfg(**cfg)
    assert raw.sq_observer_create(byref(c), byref(h)) == 0, raw.sq_last_error_message()
    return h


def _update(h, x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    return raw.sq_observer_update(h, ptr(x), ptr(np.array(x.shape, dtype=np.int64)), x.ndim)


def _stats(h):
    out = [c_int64() for _ in range(4)]
    assert raw.sq_observer_stats(h, *(byref(v) for v in out)) == 0
    return tuple(v.value for v in out)


def _qparams(h, count):
    s = np.zeros(count, np.float32)
    z = np.zeros(count, np.int32)
    return raw.sq_observer_qparams(h, ptr(s), ptr(z), count), s, z


# ---------------------------------------------------------------------------------------------------------
# 1-2. Zero-element shapes with huge other dimensions; block sizes near INT64_MAX.

@pytest.mark.parametrize("dims", HUGE_ZERO_SHAPES)
def test_huge_zero_element_shapes_are_shape_errors(dims):
    shape = shape_of(*dims)
    nd = len(dims)
    count = c_int64()
    expect_status(raw.sq_qparams_count(ptr(shape), nd, 0, 0, byref(count)), "SQ_ERROR_SHAPE", "2\\^60")
    buf = np.zeros(64, np.float32)
    zp = np.zeros(64, np.int32)
    # The case that wrote past a 32-byte heap buffer: count * 4 bytes wrapped.
    expect_status(raw.sq_calibrate_minmax(None, ptr(shape), nd, _native.SQ_INT8, 0, 0, 0, ptr(buf), ptr(zp), dims[0]),
                  "SQ_ERROR_SHAPE")
    expect_status(raw.sq_minmax(None, ptr(shape), nd, -1, 0, 0, ptr(buf), ptr(buf), 1, None), "SQ_ERROR_SHAPE")
    st, keep = qp(scale=[1.0])
    expect_status(raw.sq_quantize(None, ptr(shape), nd, byref(st), 0, 0, None), "SQ_ERROR_SHAPE")
    expect_status(raw.sq_dequantize(None, ptr(shape), nd, byref(st), None), "SQ_ERROR_SHAPE")
    expect_status(raw.sq_fake_quantize(None, ptr(shape), nd, byref(st), 0, 0, None), "SQ_ERROR_SHAPE")
    expect_status(raw.sq_codebook_fit(None, ptr(shape), nd, -1, 2, 0, 10, 0.0, ptr(buf), 4), "SQ_ERROR_SHAPE")
    expect_status(raw.sq_codebook_quantize(None, ptr(shape), nd, -1, ptr(buf), 4, 4, None), "SQ_ERROR_SHAPE")
    out = np.zeros(32, np.int64)
    ndim = ctypes.c_int32()
    expect_status(raw.sq_matmul_shape(ptr(shape), nd, ptr(shape_of(0, 4)), 2, ptr(out), byref(ndim)),
                  "SQ_ERROR_SHAPE")
    h = c_void_p()
    if nd == 2:
        expect_status(raw.sq_pack(None, ptr(shape), nd, byref(st), byref(h)), "SQ_ERROR_SHAPE")
    ob = _observer(axis=0)
    try:
        expect_status(raw.sq_observer_update(ob, None, ptr(shape), nd), "SQ_ERROR_SHAPE")
        assert _stats(ob)[0] == 0
    finally:
        raw.sq_observer_destroy(ob)


def test_matmul_broadcast_beyond_the_limit_is_a_shape_error():
    out = np.zeros(32, np.int64)
    ndim = ctypes.c_int32()
    a, b = shape_of(1 << 40, 1, 0, 4), shape_of(1, 1 << 40, 4, 0)
    expect_status(raw.sq_matmul_shape(ptr(a), 4, ptr(b), 4, ptr(out), byref(ndim)), "SQ_ERROR_SHAPE", "result")


def test_zero_element_tensor_with_many_groups_calibrates_in_the_output_buffers():
    # 2^20 groups of nothing: every group gets scale 1.0 (README: constant data), zero point 0 for
    # asymmetric int8 ranges [0, 0]; nothing is allocated beyond the caller's buffers.
    n = 1 << 20
    s = np.full(n, np.nan, np.float32)
    z = np.full(n, -1, np.int32)
    assert raw.sq_calibrate_minmax(None, ptr(shape_of(n, 0)), 2, _native.SQ_INT8, 0, 0, 0, ptr(s), ptr(z), n) == 0
    assert (s == 1.0).all() and (z == 0).all()


def test_python_observer_of_a_huge_empty_batch_is_an_error_not_a_crash():
    x = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape=(2**40, 0), strides=(0, 0))
    ob = sq.Observer(axis=0)
    with pytest.raises(sq.SwiftQuantError, match="limit"):
        ob.update(x)
    ob.update(np.ones((3, 2), np.float32))  # still usable
    assert ob.qparams().scale.shape == (3,)


def test_block_size_int64_max_is_one_block():
    count = c_int64()
    assert raw.sq_qparams_count(ptr(shape_of(4)), 1, 0, INT64_MAX, byref(count)) == 0 and count.value == 1
    assert raw.sq_qparams_count(ptr(shape_of(0)), 1, 0, INT64_MAX, byref(count)) == 0 and count.value == 0
    x = np.array([[0.5, -1.0, 2.0, 3.5]], np.float32).T  # [4, 1]: one block of 4 along axis 0
    huge = sq.QParams(np.array([[0.25]], np.float32), 0, "int8", axis=0, block_size=INT64_MAX)
    ref = sq.QParams(np.array([[0.25]], np.float32), 0, "int8", axis=0, block_size=4)
    q = sq.quantize(x, huge)
    assert_same(q, np.array([[2], [-4], [8], [14]], np.int8))
    assert_same(sq.dequantize(q, huge), sq.dequantize(q, ref))
    assert_same(sq.fake_quantize(x, huge), sq.fake_quantize(x, ref))
    p = sq.calibrate(x, axis=0, block_size=INT64_MAX)
    p4 = sq.calibrate(x, axis=0, block_size=4)
    assert_same(p.scale, p4.scale)
    assert_same(p.zero_point, p4.zero_point)
    ob = sq.Observer(axis=0, block_size=INT64_MAX).update(x)
    assert_same(ob.qparams().scale, p4.scale)
    r = sq.error_report(x, huge)
    assert r.count == 4
    lo = np.zeros(1, np.float32)
    hi = np.zeros(1, np.float32)
    xs = np.ascontiguousarray(x)
    assert raw.sq_minmax(ptr(xs), ptr(shape_of(4, 1)), 2, 0, INT64_MAX, 0, ptr(lo), ptr(hi), 1, None) == 0
    assert lo[0] == -1.0 and hi[0] == 3.5


# ---------------------------------------------------------------------------------------------------------
# 3. Observer bytes: the checksum is recomputable, so every field is validated.

def _fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _reseal(body: bytes) -> bytes:
    return body + struct.pack("<Q", _fnv1a(body))


CONFIG_END = 8 + 48  # magic, version, then sq_observer_config's fields as written


def _fields(data: bytes):
    """(ndim offset, ndim, offset of batches) of serialized observer data."""
    ndim = struct.unpack_from("<i", data, CONFIG_END)[0]
    return CONFIG_END, ndim, CONFIG_END + 4 + 8 * max(ndim, 0)


def _deserialize(data: bytes):
    h = c_void_p()
    buf = np.frombuffer(data, np.uint8).copy()
    return raw.sq_observer_deserialize(ptr(buf), buf.size, byref(h)), h


def _serialized(ob: sq.Observer) -> bytes:
    data = ob.to_bytes()
    assert _deserialize(data)[0] == 0  # the untouched bytes are fine
    return data


def test_crafted_shape_in_observer_bytes_is_rejected():
    data = _serialized(sq.Observer(axis=1).update(np.ones((2, 3), np.float32)))
    at, ndim, _ = _fields(data)
    assert ndim == 2
    body = data[:-8]
    # [0, 2^59, 2^59]: ndim 3 needs one more dimension field.
    crafted = body[:at] + struct.pack("<iqqq", 3, 0, 1 << 59, 1 << 59) + body[at + 4 + 16:]
    status, h = _deserialize(_reseal(crafted))
    expect_status(status, "SQ_ERROR_SHAPE")
    assert not h.value


def test_crafted_batches_int64_max_then_update_is_an_overflow_error():
    ob = sq.Observer("percentile", symmetric=True).update(np.arange(10, dtype=np.float32))
    data = _serialized(ob)
    _, _, at = _fields(data)
    body = bytearray(data[:-8])
    struct.pack_into("<q", body, at, INT64_MAX)
    status, h = _deserialize(_reseal(bytes(body)))
    assert status == 0, raw.sq_last_error_message()
    try:
        expect_status(_update(h, np.ones(4, np.float32)), "SQ_ERROR_OVERFLOW", "batches")
        assert _stats(h)[:2] == (INT64_MAX, 10)  # the failed update changed nothing
        status, other = _deserialize(data)  # the same configuration, one batch
        assert status == 0
        expect_status(raw.sq_observer_merge(h, other), "SQ_ERROR_OVERFLOW")
        raw.sq_observer_destroy(other)
    finally:
        raw.sq_observer_destroy(h)


def _read_blocks(data: bytes, at: int, bins: int):
    """One group's histogram in format 2 at offset `at`: (dense counts, [(index, width, offset of its
    counts)], offset after it). Per group: uint32 block count, a uint32 (index << 4 | width) per block,
    then 64 counts per block, little-endian at the block's width (1, 2, 4 or 8 bytes)."""
    (n,) = struct.unpack_from("<I", data, at)
    words = struct.unpack_from(f"<{n}I", data, at + 4)
    at += 4 + 4 * n
    dense = np.zeros((bins + 63) // 64 * 64, np.int64)
    blocks = []
    for w in words:
        k, width = w >> 4, w & 15
        dense[64 * k:64 * k + 64] = np.frombuffer(data, f"<u{width}", 64, at)
        blocks.append((k, width, at))
        at += 64 * width
    return dense[:bins], blocks, at


def _histogram_layout(data: bytes, bins: int):
    """A one-group histogram observer's bytes (format 2, as written) re-encoded in format 1, every bin an
    int64, still read: (body without its checksum, offset of the values counter, offset of the first count)."""
    _, _, at = _fields(data)
    hist_at = at + 24 + 8 + 4  # batches, values, nonfinite; min, max; exponent
    assert struct.unpack_from("<I", data, 4)[0] == 2
    dense, _, end = _read_blocks(data, hist_at, bins)
    assert end == len(data) - 8
    body = bytearray(data[:hist_at]) + dense.astype("<i8").tobytes()
    struct.pack_into("<I", body, 4, 1)
    return body, at + 8, hist_at


def test_histogram_counts_must_sum_to_the_value_count():
    x = np.array([0.5, -1.0, 2.0, 3.0], np.float32)
    data = _serialized(sq.Observer("percentile", symmetric=True, num_bins=16).update(x))
    v1, values_at, counts_at = _histogram_layout(data, 8 * 16)
    assert sq.Observer.from_bytes(_reseal(bytes(v1))).to_bytes() == data  # format 1 loads as the same state
    counts = np.frombuffer(v1, np.int64, count=8 * 16, offset=counts_at)
    nz = np.flatnonzero(counts)
    assert counts.sum() == 4 and len(nz) == 4
    body = v1
    # One count of INT64_MAX (then a merge used to trap): no longer the sum of the counts.
    struct.pack_into("<q", body, counts_at + 8 * int(nz[0]), INT64_MAX)
    expect_status(_deserialize(_reseal(bytes(body)))[0], "SQ_ERROR_INVALID_ARGUMENT", "histogram counts overflow")
    # Counts of 2^62 + 2^62 sum to more than `values` can hold.
    struct.pack_into("<q", body, counts_at + 8 * int(nz[0]), 1 << 62)
    struct.pack_into("<q", body, counts_at + 8 * int(nz[1]), 1 << 62)
    expect_status(_deserialize(_reseal(bytes(body)))[0], "SQ_ERROR_INVALID_ARGUMENT", "histogram counts overflow")
    # A plausible count that does not match the number of values observed.
    struct.pack_into("<q", body, counts_at + 8 * int(nz[0]), 2)
    struct.pack_into("<q", body, counts_at + 8 * int(nz[1]), 1)
    expect_status(_deserialize(_reseal(bytes(body)))[0], "SQ_ERROR_INVALID_ARGUMENT", "hold 5 value.*counted 4")


def test_consistent_huge_counts_survive_a_wider_batch():
    # Valid state with counts near 2^62: a batch with larger |x| merges bins pairwise; sums stay exact.
    x = np.array([0.5, -1.0, 2.0, 3.0], np.float32)
    data = _serialized(sq.Observer("percentile", symmetric=True, num_bins=16).update(x))
    body, values_at, counts_at = _histogram_layout(data, 8 * 16)
    counts = np.frombuffer(body, np.int64, count=8 * 16, offset=counts_at)
    nz = np.flatnonzero(counts)
    big = 1 << 61
    struct.pack_into("<q", body, counts_at + 8 * int(nz[0]), big)
    struct.pack_into("<q", body, counts_at + 8 * int(nz[1]), big)
    struct.pack_into("<q", body, values_at, 2 * big + 2)
    status, h = _deserialize(_reseal(bytes(body)))
    assert status == 0, raw.sq_last_error_message()
    try:
        assert _update(h, np.array([1000.0], np.float32)) == 0
        assert _stats(h)[1] == 2 * big + 3
        out = np.zeros(1 << 16, np.uint8)
        size = c_int64()
        assert raw.sq_observer_serialize(h, ptr(out), out.size, byref(size)) == 0
        counts, blocks, _ = _read_blocks(out[:size.value].tobytes(), counts_at, 8 * 16)
        assert counts.sum() == 2 * big + 3 and all(w == 8 for _, w, _ in blocks)
    finally:
        raw.sq_observer_destroy(h)


def _blocks_observer():
    # num_bins 17: 136 streaming bins over [-4, 4), in 3 blocks of 64, the last holding only 8 real bins.
    # -3 -> bin 17 (block 0), 0.5 and 1 -> 76, 85 (block 1), 3.9 -> 134 (block 2); 300 x 1.0 -> two bytes.
    x = np.array([-3.0, 0.5, 3.9] + [1.0] * 300, np.float32)
    data = _serialized(sq.Observer("percentile", num_bins=17).update(x))
    _, _, at = _fields(data)
    hist_at = at + 24 + 8 + 4
    dense, blocks, end = _read_blocks(data, hist_at, 136)
    assert end == len(data) - 8
    assert [(k, w) for k, w, _ in blocks] == [(0, 1), (1, 2), (2, 1)]
    assert np.flatnonzero(dense).tolist() == [17, 76, 85, 134] and dense[85] == 300
    return data, hist_at, blocks


@pytest.mark.parametrize("case, message", [
    ("too many blocks", "stores 4 histogram block"),
    ("out of order", "block 0 is out of order"),
    ("beyond the group", "block 3 is out of order or beyond its 3 blocks"),
    ("width 3", "count width 3"),
    ("too wide", "stored 2 bytes wide for a largest count of 1"),
    ("empty block", "stored but empty"),
    ("beyond the last bin", "bin 140, beyond its 136 bins"),
    ("truncated", "truncated"),
    ("version 3", "version 3 is not supported"),
])
def test_histogram_blocks_are_validated(case, message):
    data, at, blocks = _blocks_observer()
    body = bytearray(data[:-8])
    words = at + 4
    if case == "too many blocks":
        struct.pack_into("<I", body, at, 4)
    elif case == "out of order":
        struct.pack_into("<I", body, words + 4, 0 << 4 | 2)
    elif case == "beyond the group":
        struct.pack_into("<I", body, words + 8, 3 << 4 | 1)
    elif case == "width 3":
        struct.pack_into("<I", body, words + 8, 2 << 4 | 3)
    elif case == "too wide":  # block 0 (one count of 1) re-encoded two bytes wide: valid counts, not canonical
        counts = np.frombuffer(data, np.uint8, 64, blocks[0][2]).astype("<u2").tobytes()
        struct.pack_into("<I", body, words, 0 << 4 | 2)
        body[blocks[0][2]:blocks[0][2] + 64] = counts
    elif case == "empty block":
        body[blocks[0][2] + 17] = 0
    elif case == "beyond the last bin":
        body[blocks[2][2] + 140 - 128] = 1
    elif case == "truncated":
        del body[blocks[2][2] + 10:]
    else:
        struct.pack_into("<I", body, 4, 3)
    status, h = _deserialize(_reseal(bytes(body)))
    expect_status(status, "SQ_ERROR_INVALID_ARGUMENT", message)
    assert not h.value


def test_histogram_blocks_round_trip_and_format_1_still_loads():
    data, at, _ = _blocks_observer()
    back = sq.Observer.from_bytes(data)
    assert back.to_bytes() == data
    ob = sq.Observer("percentile", num_bins=17).update(np.array([-3.0, 0.5, 3.9] + [1.0] * 300, np.float32))
    assert np.array_equal(back.range(), ob.range()) and back.state_bytes == ob.state_bytes
    # The same state as format 1 (dense int64 bins, 8 x 136 bytes) loads as the same observer.
    dense, _, _ = _read_blocks(data, at, 136)
    v1 = bytearray(data[:at]) + dense.astype("<i8").tobytes()
    struct.pack_into("<I", v1, 4, 1)
    old = sq.Observer.from_bytes(_reseal(bytes(v1)))
    assert old.to_bytes() == data and np.array_equal(old.range(), ob.range())
    # Format 2 stores 3 blocks (widths 1 + 2 + 1: 256 bytes) and 16 bytes of block words where format 1 stored
    # 1088 bytes of bins.
    assert len(data) == len(v1) + 8 - 8 * 136 + 4 + 4 * 3 + 64 * 4


@pytest.mark.parametrize("field", ["exponent", "min", "nonfinite", "batches_without_shape"])
def test_other_inconsistent_observer_fields_are_rejected(field):
    x = np.array([0.5, -1.0, 2.0, 3.0], np.float32)
    data = _serialized(sq.Observer("mse", num_bins=16).update(x))
    _, _, at = _fields(data)
    body = bytearray(data[:-8])
    if field == "exponent":
        struct.pack_into("<i", body, at + 32, 40)  # the range [-1, 3] has exponent 2
    elif field == "min":
        struct.pack_into("<f", body, at + 24, 5.0)  # min > max
    elif field == "nonfinite":
        struct.pack_into("<q", body, at + 16, 3)  # the observer does not ignore non-finite values
    else:
        body = bytearray(_serialized(sq.Observer("mse", num_bins=16))[:-8])  # no batch: ndim -1
        _, ndim, at = _fields(bytes(body))
        assert ndim == -1
        struct.pack_into("<q", body, at, 1)  # one batch, but no shape and no state
    expect_status(_deserialize(_reseal(bytes(body)))[0], "SQ_ERROR_INVALID_ARGUMENT")


def test_percentile_observer_state_is_bounded_before_allocation():
    ob = _observer(method=_native.SQ_METHOD_PERCENTILE, num_bins=65536, axis=0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        empty = np.zeros((4096, 0), np.float32)
        expect_status(_update(ob, empty), "SQ_ERROR_OUT_OF_MEMORY", "limit", "num_bins")
        assert _stats(ob)[0] == 0
    finally:
        raw.sq_observer_destroy(ob)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 256 * 1024  # KiB


# ---------------------------------------------------------------------------------------------------------
# 4. Scales whose product overflows; K = 0.

def _qlinear(a, b, sa, sb, sy, zy=0, k=None):
    ast, ka = qp(scale=[sa], dtype=_native.SQ_INT8)
    bst, kb = qp(scale=[sb], dtype=_native.SQ_INT8)
    yst, ky = qp(scale=[sy], zero_point=[zy], dtype=_native.SQ_INT8)
    y = np.full(a.shape[0] * b.shape[1], 99, np.int8)
    status = raw.sq_qlinear_matmul(ptr(a), ptr(np.array(a.shape, np.int64)), 2, byref(ast), ptr(b),
                                   ptr(np.array(b.shape, np.int64)), 2, byref(bst), byref(yst), 0, 0, ptr(y), y.size)
    return status, y


@pytest.mark.parametrize("m,k,n", [(1, 8, 8), (7, 64, 130)])
def test_scale_product_overflow_is_an_error_on_every_path(m, k, n):
    rng = np.random.default_rng(4)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    expect_status(_qlinear(a, b, 1e30, 1e30, 1.0)[0], "SQ_ERROR_INVALID_SCALE", "multiplier", "overflow")
    with pytest.raises(sq.SwiftQuantError, match="overflow"):
        sq.matmul_float(a, sq.QParams(1e30, 0, "int8"), b, sq.QParams(1e30, 0, "int8"))
    # Finite products still work, and a tiny multiplier (1e-30 * 1e-30 / 1 = 0 in float32) gives zy.
    status, y = _qlinear(a, b, 1e-30, 1e-30, 1.0, zy=5)
    assert status == 0 and (y == 5).all()


def test_k_zero_gives_zeros_on_every_path():
    a = np.zeros((5, 0), np.int8)
    b = np.zeros((0, 70), np.int8)
    assert_same(sq.matmul(a, b), np.zeros((5, 70), np.int32))
    packed = sq.pack(b, sq.QParams(0.5, 3, "int8"))
    assert_same(sq.matmul(a, packed), np.zeros((5, 70), np.int32))
    status, y = _qlinear(a, b, 0.5, 0.5, 0.25, zy=-7)
    assert status == 0 and (y == -7).all()
    bias = np.arange(70, dtype=np.float32)
    y = sq.matmul_float(a, sq.QParams(0.5, 0, "int8"), b, sq.QParams(0.5, 0, "int8"), bias=bias)
    assert_same(y, np.broadcast_to(bias, (5, 70)).copy())


# ---------------------------------------------------------------------------------------------------------
# 5. Tiny inputs never cost huge time or memory.

def test_pack_of_an_empty_matrix_allocates_nothing_big():
    st, keep = qp(scale=[1.0], dtype=_native.SQ_INT8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for dims in [(0, 1 << 31), (1 << 60, 0), (0, 0)]:
        h = c_void_p()
        assert raw.sq_pack(None, ptr(shape_of(*dims)), 2, byref(st), byref(h)) == 0, raw.sq_last_error_message()
        k, n = c_int64(), c_int64()
        assert raw.sq_packed_info(h, byref(k), byref(n), None, None) == 0
        assert (k.value, n.value) == dims
        if max(dims) < 1 << 20:
            c = np.full(3 * dims[1], 7, np.int32)
            a = np.zeros((3, dims[0]), np.int8)
            assert raw.sq_matmul_i32_packed(ptr(a), _native.SQ_INT8, ptr(shape_of(3, dims[0])), 2, 0, h, ptr(c),
                                            c.size) == 0
            assert (c == 0).all()
        raw.sq_packed_destroy(h)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 256 * 1024  # KiB


# ---------------------------------------------------------------------------------------------------------
# 7. NaN anywhere, including whole SIMD blocks, is reported.

@pytest.mark.parametrize("n", [16, 17, 32, 48, 100])
@pytest.mark.parametrize("where", ["all", "first_block", "last_block", "one"])
def test_nan_in_any_block_is_reported(n, where):
    x = np.ones(n, np.float32)
    if where == "all":
        x[:] = np.nan
    elif where == "first_block":
        x[:16] = np.nan
    elif where == "last_block":
        x[(n // 16 - 1) * 16:(n // 16) * 16] = np.nan
    else:
        x[n // 2] = np.nan
    lo = np.zeros(1, np.float32)
    hi = np.zeros(1, np.float32)
    nonfinite = c_int64()
    expect_status(raw.sq_minmax(ptr(x), ptr(shape_of(n)), 1, -1, 0, 0, ptr(lo), ptr(hi), 1, None),
                  "SQ_ERROR_NONFINITE")
    assert raw.sq_minmax(ptr(x), ptr(shape_of(n)), 1, -1, 0, 1, ptr(lo), ptr(hi), 1, byref(nonfinite)) == 0
    assert nonfinite.value == int(np.isnan(x).sum())
    with pytest.raises(sq.SwiftQuantError, match="NaN"):
        sq.calibrate(x)


@pytest.mark.parametrize("method", ["minmax", "entropy", "mse", "percentile", "moving_average"])
def test_all_nan_channel_is_rejected_by_per_channel_observers(method):
    x = np.ones((3, 32), np.float32)
    x[1] = np.nan
    with pytest.raises(sq.SwiftQuantError, match="NaN"):
        sq.Observer(method, axis=0).update(x)
    ob = sq.Observer(method, axis=0, ignore_nonfinite=True).update(x)
    assert ob.nonfinite_count == 32


# ---------------------------------------------------------------------------------------------------------
# 10. One observer handle shared by several threads: calls serialize, the result is the sequential one.

@pytest.mark.parametrize("method", [_native.SQ_METHOD_MINMAX, _native.SQ_METHOD_PERCENTILE])
def test_one_observer_shared_by_threads(method):
    rng = np.random.default_rng(10)
    # Many small batches: the threads contend for the handle all the time.
    batches = [rng.standard_normal((4, 33)).astype(np.float32) * (1 + i % 50) for i in range(2000)]
    handles = [_observer(method=method, axis=0, num_bins=64) for _ in range(4)]
    shared, alone, x, y = handles
    try:
        for b in batches:
            assert _update(alone, b) == 0
        assert _update(x, batches[0]) == 0 and _update(y, batches[1]) == 0
        failures = []

        def work(i, part):
            for b in part:
                if _update(shared, b) != 0:
                    failures.append(raw.sq_last_error_message())
                _qparams(shared, 4)  # a reader meanwhile
                # Merges in opposite directions at once must not deadlock; counts double each time until
                # they overflow, which must be an error, not a trap.
                status = raw.sq_observer_merge(x, y) if i % 2 else raw.sq_observer_merge(y, x)
                assert status in (0, _native.SQ_ERROR_OVERFLOW)

        threads = [threading.Thread(target=work, args=(i, batches[i::8])) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
        assert _stats(shared)[:2] == _stats(alone)[:2]
        s1, s2 = _qparams(shared, 4), _qparams(alone, 4)
        assert s1[0] == 0 and s2[0] == 0
        assert_same(s1[1], s2[1])
        assert_same(s1[2], s2[2])
    finally:
        for h in handles:
            raw.sq_observer_destroy(h)


# ---------------------------------------------------------------------------------------------------------
# Found by the fuzzers (Tests/fuzz/regressions): each is also replayed there under AddressSanitizer.

def test_pack_rejects_null_b_and_unbacked_per_column_params_before_allocating():
    n = 1550319976874563
    st, keep = qp(scale=None, count=n, axis=1, dtype=_native.SQ_INT8)
    h = c_void_p()
    expect_status(raw.sq_pack(None, ptr(shape_of(1, n)), 2, byref(st), byref(h)), "SQ_ERROR_NULL_POINTER", "b is NULL")
    b = np.zeros((2, 3), np.int8)
    st, keep = qp(scale=None, count=3, axis=1, dtype=_native.SQ_INT8)
    expect_status(raw.sq_pack(ptr(b), ptr(shape_of(2, 3)), 2, byref(st), byref(h)), "SQ_ERROR_NULL_POINTER",
                  "scale and zero_point are both NULL")


def test_codebook_level_count_overflow_is_a_shape_error():
    buf = np.zeros(16, np.float32)
    expect_status(raw.sq_codebook_quantize(None, ptr(shape_of(1 << 59)), 1, 0, ptr(buf), 256, 16, None),
                  "SQ_ERROR_SHAPE", "overflows")


def test_settings_a_method_ignores_do_not_stop_a_merge_and_differences_are_named():
    a = _observer(method=_native.SQ_METHOD_MINMAX, percentile=float("nan"), averaging_constant=float("nan"))
    b = _observer(method=_native.SQ_METHOD_MINMAX, percentile=12.0, averaging_constant=0.5, num_bins=77)
    c = _observer(method=_native.SQ_METHOD_PERCENTILE, percentile=99.0, symmetric=1)
    d = _observer(method=_native.SQ_METHOD_PERCENTILE, percentile=99.5, symmetric=1)
    try:
        for h in (a, b, c, d):
            assert _update(h, np.arange(5, dtype=np.float32)) == 0
        assert raw.sq_observer_merge(a, b) == 0
        expect_status(raw.sq_observer_merge(c, d), "SQ_ERROR_INVALID_ARGUMENT", r"percentile 99\.0 vs 99\.5")
        expect_status(raw.sq_observer_merge(a, c), "SQ_ERROR_INVALID_ARGUMENT", "method minmax vs percentile",
                      "symmetric false vs true")
    finally:
        for h in (a, b, c, d):
            raw.sq_observer_destroy(h)


def test_serialized_size_query_matches_the_bytes():
    for ob in [sq.Observer("entropy", axis=1, num_bins=64).update(np.ones((2, 5, 3), np.float32)),
               sq.Observer("minmax"), sq.Observer("moving_average", axis=0).update(np.ones((4, 2), np.float32))]:
        size = c_int64()
        h = ob._handle
        assert raw.sq_observer_serialize(h, None, 0, byref(size)) == 0
        assert size.value == len(ob.to_bytes())


def test_moving_average_of_huge_values_stays_finite():
    # Float32 weighted sums overflowed to inf: the merged range was [inf, inf], and its bytes unreadable.
    big = np.float32(3e38)
    a = sq.Observer("moving_average").update(np.array([big], np.float32))
    a.merge(sq.Observer.from_bytes(a.to_bytes()))
    assert a.min[()] == big and a.max[()] == big
    b = sq.Observer("moving_average").update(np.array([-big, big], np.float32))
    b.update(np.array([big], np.float32))  # batch_min - min = 6e38 overflows float32
    lo, hi = float(b.min), float(b.max)
    assert np.isfinite(lo) and lo <= hi == float(big), (lo, hi)
    sq.Observer.from_bytes(b.to_bytes())
