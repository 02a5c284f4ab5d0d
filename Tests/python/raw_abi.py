"""The C ABI opened a second time with plain void* prototypes: no ndpointer conversion and no errcheck,
so tests can pass NULL pointers and impossible sizes straight to the native checks and read the status
codes and sq_last_error_message() themselves."""
import ctypes
from ctypes import POINTER, c_char_p, c_float, c_int32, c_int64, c_uint64, c_void_p

import numpy as np

from swiftquant import _native

raw = ctypes.CDLL(_native.LIBRARY_PATH)
_P = c_void_p
_PROTOS = {
    "sq_version": (c_char_p, []),
    "sq_version_number": (c_int32, []),
    "sq_status_string": (c_char_p, [c_int32]),
    "sq_last_error_message": (c_char_p, []),
    "sq_dtype_range": (c_int32, [c_int32, _P, _P]),
    "sq_qparams_count": (c_int32, [_P, c_int32, c_int32, c_int64, _P]),
    "sq_minmax": (c_int32, [_P, _P, c_int32, c_int32, c_int64, c_int32, _P, _P, c_int64, _P]),
    "sq_qparams_from_range": (c_int32, [_P, _P, c_int64, c_int32, c_int32, _P, _P]),
    "sq_calibrate_minmax": (c_int32, [_P, _P, c_int32, c_int32, c_int32, c_int32, c_int64, _P, _P, c_int64]),
    "sq_quantize": (c_int32, [_P, _P, c_int32, _P, c_int32, c_uint64, _P]),
    "sq_dequantize": (c_int32, [_P, _P, c_int32, _P, _P]),
    "sq_dynamic_quantize": (c_int32, [_P, c_int64, _P, _P, _P]),
    "sq_matmul_shape": (c_int32, [_P, c_int32, _P, c_int32, _P, _P]),
    "sq_matmul_i32": (c_int32, [_P, c_int32, _P, c_int32, c_int32, _P, c_int32, _P, c_int32, _P, c_int64, _P,
                                c_int64]),
    "sq_qlinear_matmul": (c_int32, [_P, _P, c_int32, _P, _P, _P, c_int32, _P, _P, c_int32, c_uint64, _P, c_int64]),
    "sq_matmul_f32": (c_int32, [_P, _P, c_int32, _P, _P, _P, c_int32, _P, _P, c_int64, _P, c_int64]),
    "sq_pack": (c_int32, [_P, _P, c_int32, _P, _P]),
    "sq_packed_destroy": (None, [_P]),
    "sq_packed_info": (c_int32, [_P, _P, _P, _P, _P]),
    "sq_matmul_i32_packed": (c_int32, [_P, c_int32, _P, c_int32, c_int32, _P, _P, c_int64]),
    "sq_qlinear_matmul_packed": (c_int32, [_P, _P, c_int32, _P, _P, _P, c_int32, c_uint64, _P, c_int64]),
    "sq_matmul_f32_packed": (c_int32, [_P, _P, c_int32, _P, _P, _P, c_int64, _P, c_int64]),
    "sq_fake_quantize": (c_int32, [_P, _P, c_int32, _P, c_int32, c_uint64, _P]),
    "sq_error_report": (c_int32, [_P, _P, c_int32, _P, c_int32, c_uint64, _P, c_int64, _P]),
    "sq_codebook_fit": (c_int32, [_P, _P, c_int32, c_int32, c_int32, c_int32, c_int32, ctypes.c_double, _P,
                                  c_int64]),
    "sq_codebook_quantize": (c_int32, [_P, _P, c_int32, c_int32, _P, c_int64, c_int64, _P]),
    "sq_observer_create": (c_int32, [_P, _P]),
    "sq_observer_destroy": (None, [_P]),
    "sq_observer_update": (c_int32, [_P, _P, _P, c_int32]),
    "sq_observer_merge": (c_int32, [_P, _P]),
    "sq_observer_stats": (c_int32, [_P, _P, _P, _P, _P]),
    "sq_observer_qparams": (c_int32, [_P, _P, _P, c_int64]),
    "sq_observer_range": (c_int32, [_P, _P, _P, c_int64]),
    "sq_observer_serialize": (c_int32, [_P, _P, c_int64, _P]),
    "sq_observer_deserialize": (c_int32, [_P, c_int64, _P]),
}
for _name, (_res, _args) in _PROTOS.items():
    _fn = getattr(raw, _name)
    _fn.restype, _fn.argtypes = _res, _args


def ptr(arr):
    """A void* argument for arr (None -> NULL). Returns arr.ctypes, which keeps the array alive for the call
    even when arr is a temporary (a bare integer address would dangle once the temporary is freed)."""
    return None if arr is None else arr.ctypes


def shape_of(*dims):
    arr = np.array(dims if dims else [0], dtype=np.int64)
    return arr


def qp(scale=(1.0,), zero_point=None, count=None, dtype=_native.SQ_INT8, axis=-1, block_size=0):
    """A QParamsStruct plus the arrays it points into (keep the tuple alive during the call)."""
    s = None if scale is None else np.ascontiguousarray(scale, dtype=np.float32)
    z = None if zero_point is None else np.ascontiguousarray(zero_point, dtype=np.int32)
    st = _native.QParamsStruct(
        None if s is None else s.ctypes.data_as(POINTER(c_float)),
        None if z is None else z.ctypes.data_as(POINTER(c_int32)),
        (0 if s is None else s.size) if count is None else count, dtype, axis, block_size)
    return st, (s, z)


