"""Python conventions (issue 13, item 5): one exception type for bad values, dtype objects, the public
namespace, and zero-copy inputs through DLPack and the buffer protocol."""
import array

import numpy as np
import pytest

import swiftquant as sq


def test_dir_lists_only_the_public_api():
    names = set(dir(sq))
    assert names == set(sq.__all__)
    for leaked in ("annotations", "np", "_native", "_convert", "ctypes"):
        assert leaked not in names
    for name in sq.__all__:
        assert hasattr(sq, name), name


@pytest.mark.parametrize("call", [
    lambda: sq.quantize(np.zeros((2, 3), np.float32), sq.QParams(np.ones(4), 0, "int8", axis=1)),  # shape
    lambda: sq.QParams(1.0, 300, "int8"),                                                         # range
    lambda: sq.QParams(np.ones(2), 0, "int8", axis=0).to_struct((3,)),                            # shape
    lambda: sq.calibrate(np.zeros((2, 3)), axis=5),                                               # axis
    lambda: sq.unpack_int4(np.zeros(3, np.uint8), (10,)),                                         # byte count
    lambda: sq.quantize([[1.0, 2.0], [3.0]], sq.QParams(1.0)),                                   # ragged
    lambda: sq.matmul(np.zeros((2, 3), np.int8), np.zeros((4, 2), np.int8)),                      # K mismatch
])
def test_value_and_shape_errors_are_swiftquant_errors(call):
    with pytest.raises(sq.SwiftQuantError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert info.value.status < 0 and info.value.status_name.startswith("SQ_ERROR_")


def test_wrong_kind_stays_type_error():
    with pytest.raises(TypeError):
        sq.quantize(np.array(["a"]), sq.QParams(1.0))
    with pytest.raises(TypeError):
        sq.quantize(np.zeros(3), "not qparams")


@pytest.mark.parametrize("given, name", [(np.int8, "int8"), (np.dtype("uint8"), "uint8"), ("int16", "int16"),
                                         (np.uint16, "uint16"), (np.dtype(np.int16), "int16")])
def test_dtype_objects(given, name):
    assert sq.QParams(0.5, 0, given).dtype == name
    assert sq.calibrate(np.array([-1.0, 2.0]), dtype=given).dtype == name
    assert sq.dtype_range(given) == sq.dtype_range(name)


def test_dtype_objects_of_ml_dtypes():
    ml = pytest.importorskip("ml_dtypes")
    assert sq.QParams(1.0, 0, ml.float8_e4m3fn).dtype == "float8_e4m3fn"
    assert sq.QParams(1.0, 0, ml.float4_e2m1fn).dtype == "float4_e2m1"
    assert sq.QParams(1.0, 0, ml.int4).dtype == "int4"
    packed = sq.pack_int4(np.array([1, -2, 3], np.int8), dtype=ml.int4)
    assert packed.tolist() == [0x01 | (0xE << 4), 0x03]


@pytest.mark.parametrize("bad", [np.float64, np.dtype("float32"), np.int32, "INT8", None])
def test_unsupported_dtype_objects(bad):
    with pytest.raises(sq.SwiftQuantError, match="dtype"):
        sq.QParams(1.0, 0, bad)


class FakeTensor:
    """The DLPack half of a PyTorch CPU tensor, delegating to a NumPy array (which implements DLPack)."""

    def __init__(self, arr):
        self._arr = arr

    def __dlpack__(self, **kwargs):
        return self._arr.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._arr.__dlpack_device__()


def test_dlpack_input_without_copy():
    from swiftquant._convert import as_float32
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    t = FakeTensor(x)
    assert np.shares_memory(as_float32(t, "x"), x)
    p = sq.QParams(1 / 127, 0, "int8")
    np.testing.assert_array_equal(sq.quantize(t, p), np.clip(np.rint(x / np.float32(1 / 127)), -128, 127))
    assert sq.calibrate(t) == sq.calibrate(x)


def test_buffer_protocol_inputs():
    from swiftquant._convert import as_float32
    x = np.array([0.5, -1.0, 2.0, 4.0], np.float32)
    mv = memoryview(x)
    assert np.shares_memory(as_float32(mv, "x"), x)
    a = array.array("f", [0.5, -1.0, 2.0, 4.0])
    viewed = as_float32(a, "x")
    a[0] = 8.0  # written through: the converted array is a view of the array.array's buffer
    assert viewed[0] == 8.0
    p = sq.QParams(0.5, 0, "int8")
    assert sq.quantize(memoryview(x), p).tolist() == [1, -2, 4, 8]
    assert sq.unpack_int4(bytes([0x21]), (2,), "uint4").tolist() == [1, 2]
    assert sq.unpack_int4(bytearray([0x21]), (2,), "uint4").tolist() == [1, 2]


def test_out_may_be_a_dlpack_tensor_or_a_writable_buffer():
    x = np.array([0.5, -1.0, 2.0, 4.0], np.float32)
    p = sq.QParams(0.5, 0, "int8")
    want = [1, -2, 4, 8]  # x / 0.5
    target = np.zeros(4, np.int8)
    r = sq.quantize(x, p, out=FakeTensor(target))
    assert target.tolist() == want and np.shares_memory(r, target)  # written in place, returned as a view
    buf = bytearray(4)
    sq.quantize(x, p, out=memoryview(buf).cast("b"))
    assert list(np.frombuffer(buf, np.int8)) == want
    floats = array.array("f", [0.0] * 4)
    sq.dequantize(np.array(want, np.int8), p, out=floats)
    assert floats.tolist() == [0.5, -1.0, 2.0, 4.0]
    # The same checks as for an ndarray: dtype, shape, writeable; a list would receive nothing.
    with pytest.raises(TypeError, match="out must have dtype int8, got uint8"):
        sq.quantize(x, p, out=bytearray(4))
    with pytest.raises(sq.SwiftQuantError, match="out must have shape"):
        sq.quantize(x, p, out=memoryview(bytearray(3)).cast("b"))
    with pytest.raises(sq.SwiftQuantError, match="out must be writeable"):
        sq.quantize(x, p, out=memoryview(bytes(4)).cast("b"))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray, a DLPack tensor or a writable buffer, got list"):
        sq.quantize(x, p, out=[0, 0, 0, 0])
    with pytest.raises(sq.SwiftQuantError, match="out must not share memory"):
        sq.fake_quantize(x, p, out=FakeTensor(x))  # the input itself, through DLPack


def test_unexportable_dlpack_is_type_error():
    class OnGPU(FakeTensor):
        def __dlpack_device__(self):
            return (2, 0)  # kDLCUDA

        def __dlpack__(self, **kwargs):
            raise BufferError("tensor is on a CUDA device")

    with pytest.raises(TypeError, match="x"):
        sq.quantize(OnGPU(np.zeros(3, np.float32)), sq.QParams(1.0))


@pytest.mark.parametrize("method, kw", [
    ("minmax", dict(percentile=99.0)), ("minmax", dict(num_bins=1024)), ("minmax", dict(averaging_constant=0.1)),
    ("moving_average", dict(num_bins=512)), ("entropy", dict(percentile=99.0)), ("mse", dict(averaging_constant=0.5)),
    ("percentile", dict(averaging_constant=0.5)),
])
def test_settings_that_do_not_apply_are_errors(method, kw):
    (name,) = kw
    with pytest.raises(sq.SwiftQuantError, match=name):
        sq.Observer(method, **kw)
    if name != "averaging_constant":
        with pytest.raises(sq.SwiftQuantError, match=name):
            sq.calibrate(np.array([1.0, -2.0]), method=method, **kw)


def test_settings_that_apply_are_kept_and_others_report_none():
    ob = sq.Observer("percentile", percentile=99.0, num_bins=512)
    assert (ob.percentile, ob.num_bins, ob.averaging_constant) == (99.0, 512, None)
    ob = sq.Observer("minmax")
    assert (ob.percentile, ob.num_bins, ob.averaging_constant) == (None, None, None)
    assert sq.Observer(**ob.config).config == ob.config
    assert sq.Observer("moving_average").averaging_constant == 0.01


def test_merge_errors_name_the_setting():
    a = sq.Observer("entropy", num_bins=2048).update(np.ones(4))
    b = sq.Observer("entropy", num_bins=1024).update(np.ones(4))
    with pytest.raises(sq.SwiftQuantError, match=r"num_bins 2048 vs 1024"):
        a.merge(b)
    # Observers without native state yet (negative axis, no batch) are compared in Python, same wording.
    c, d = sq.Observer(axis=-1), sq.Observer(axis=-1, symmetric=True)
    with pytest.raises(sq.SwiftQuantError, match=r"symmetric false vs true"):
        c.merge(d)
    with pytest.raises(sq.SwiftQuantError, match=r"K = 4 does not match K = 3"):
        sq.HessianObserver(3).merge(sq.HessianObserver(4))
