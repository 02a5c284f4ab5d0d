"""The one place that knows the C ABI (Include/swiftquant.h): loads libSwiftQuant and declares every
native signature, the status/dtype/rounding/method constants and the sq_qparams and sq_observer_config
structs. Nothing else in the
package touches ctypes signatures; the NumPy-facing modules call ``lib.sq_*`` through these declarations.

Every function returning ``sq_status`` has ``check`` as its ctypes ``errcheck``, so a failing call raises
``SwiftQuantError`` right after it returns, on the same thread (the native message is thread-local).
ctypes releases the GIL for the duration of each call.
"""
from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (POINTER, Structure, byref, c_char_p, c_double, c_float, c_int32, c_int64, c_uint8, c_uint64,
                    c_void_p)
from typing import Optional

import numpy as np

from ._errors import SwiftQuantError

# The native version this wrapper was written against (SQ_VERSION_NUMBER = 10000*major + 100*minor + patch).
EXPECTED_VERSION = (0, 1, 0)
EXPECTED_VERSION_NUMBER = EXPECTED_VERSION[0] * 10000 + EXPECTED_VERSION[1] * 100 + EXPECTED_VERSION[2]

# --- constants (pinned values from the header) ------------------------------------------------------------
SQ_OK = 0
SQ_ERROR_NULL_POINTER = -1
SQ_ERROR_INVALID_ARGUMENT = -2
SQ_ERROR_SHAPE = -3
SQ_ERROR_INVALID_SCALE = -4
SQ_ERROR_INVALID_ZERO_POINT = -5
SQ_ERROR_NONFINITE = -6
SQ_ERROR_OUT_OF_RANGE = -7
SQ_ERROR_OVERFLOW = -8
SQ_ERROR_OUT_OF_MEMORY = -9
SQ_ERROR_UNSUPPORTED = -10
SQ_ERROR_INTERNAL = -100

SQ_INT8, SQ_UINT8, SQ_INT16, SQ_UINT16, SQ_INT4, SQ_UINT4 = range(6)
(SQ_FLOAT8E4M3FN, SQ_FLOAT8E4M3FNUZ, SQ_FLOAT8E5M2, SQ_FLOAT8E5M2FNUZ, SQ_FLOAT4E2M1, SQ_FLOAT6E3M2,
 SQ_FLOAT6E2M3) = range(6, 13)
SQ_ROUND_NEAREST_EVEN, SQ_ROUND_HALF_AWAY, SQ_ROUND_FLOOR, SQ_ROUND_STOCHASTIC = range(4)
SQ_PER_TENSOR = -1
SQ_MAX_NDIM = 32
SQ_METHOD_MINMAX = 0
SQ_METHOD_MOVING_AVERAGE = 1
SQ_METHOD_PERCENTILE = 2
SQ_METHOD_ENTROPY = 3
SQ_METHOD_MSE = 4
SQ_METHOD_ENTROPY_ORT = 5

# Python names -> native codes, and the C storage type of each dtype (header convention 3).
FLOAT_DTYPE_CODES = {"float8_e4m3fn": SQ_FLOAT8E4M3FN, "float8_e4m3fnuz": SQ_FLOAT8E4M3FNUZ,
                     "float8_e5m2": SQ_FLOAT8E5M2, "float8_e5m2fnuz": SQ_FLOAT8E5M2FNUZ,
                     "float4_e2m1": SQ_FLOAT4E2M1, "float6_e3m2": SQ_FLOAT6E3M2, "float6_e2m3": SQ_FLOAT6E2M3}
DTYPE_CODES = {"int8": SQ_INT8, "uint8": SQ_UINT8, "int16": SQ_INT16, "uint16": SQ_UINT16,
               "int4": SQ_INT4, "uint4": SQ_UINT4, **FLOAT_DTYPE_CODES}
DTYPE_NAMES = {code: name for name, code in DTYPE_CODES.items()}
STORAGE_DTYPES = {"int8": np.dtype(np.int8), "uint8": np.dtype(np.uint8), "int16": np.dtype(np.int16),
                  "uint16": np.dtype(np.uint16), "int4": np.dtype(np.int8), "uint4": np.dtype(np.uint8),
                  **{name: np.dtype(np.uint8) for name in FLOAT_DTYPE_CODES}}
ROUNDING_CODES = {"nearest_even": SQ_ROUND_NEAREST_EVEN, "half_away": SQ_ROUND_HALF_AWAY,
                  "floor": SQ_ROUND_FLOOR, "stochastic": SQ_ROUND_STOCHASTIC}
METHOD_CODES = {"minmax": SQ_METHOD_MINMAX, "moving_average": SQ_METHOD_MOVING_AVERAGE,
                "percentile": SQ_METHOD_PERCENTILE, "entropy": SQ_METHOD_ENTROPY, "mse": SQ_METHOD_MSE,
                "entropy_ort": SQ_METHOD_ENTROPY_ORT}
METHOD_NAMES = {code: name for name, code in METHOD_CODES.items()}
SQ_CODEBOOK_LLOYD = 0
SQ_CODEBOOK_LOG2 = 1
SQ_CODEBOOK_LLOYD_QUANTILE = 2
CODEBOOK_KIND_CODES = {"lloyd": SQ_CODEBOOK_LLOYD, "log2": SQ_CODEBOOK_LOG2,
                       "lloyd_quantile": SQ_CODEBOOK_LLOYD_QUANTILE}


class QParamsStruct(Structure):
    """Mirror of ``sq_qparams``. The pointers borrow NumPy buffers: keep the arrays alive during the call."""

    _fields_ = [
        ("scale", POINTER(c_float)),
        ("zero_point", POINTER(c_int32)),
        ("count", c_int64),
        ("dtype", c_int32),
        ("axis", c_int32),
        ("block_size", c_int64),
    ]


class ObserverConfigStruct(Structure):
    """Mirror of ``sq_observer_config``. ctypes applies natural C alignment, giving the C layout: offsets
    method 0, dtype 4, symmetric 8, axis 12, block_size 16, num_bins 24, ignore_nonfinite 28, percentile 32,
    averaging_constant 40; 48 bytes, no padding (checked below)."""

    _fields_ = [
        ("method", c_int32),
        ("dtype", c_int32),
        ("symmetric", c_int32),
        ("axis", c_int32),
        ("block_size", c_int64),
        ("num_bins", c_int32),
        ("ignore_nonfinite", c_int32),
        ("percentile", c_double),
        ("averaging_constant", c_double),
    ]


assert ctypes.sizeof(ObserverConfigStruct) == 48 and ObserverConfigStruct.percentile.offset == 32, \
    "sq_observer_config layout"


class GPTQReportStruct(Structure):
    """Mirror of ``sq_gptq_report``: double, int64, double, double, int64 (40 bytes)."""

    _fields_ = [("damp", c_double), ("dead_inputs", c_int64), ("relative_error_before", c_double),
                ("relative_error_after", c_double), ("rows_measured", c_int64)]


assert ctypes.sizeof(GPTQReportStruct) == 40, "sq_gptq_report layout"


class ErrorStatsStruct(Structure):
    """Mirror of ``sq_error_stats``: five doubles then three int64 (64 bytes, no padding)."""

    _fields_ = [(name, c_double) for name in (
        "sum_sq_error", "sum_sq_signal", "max_abs_error", "sum_sq_error_rounding", "sum_sq_error_clipping")] + [
        (name, c_int64) for name in ("count", "clipped", "infinite")]


assert ctypes.sizeof(ErrorStatsStruct) == 64, "sq_error_stats layout"


class AWQReportStruct(Structure):
    """Mirror of ``sq_awq_report``: five doubles then an int64 (48 bytes, no padding)."""

    _fields_ = [(name, c_double) for name in (
        "ratio", "error_before", "error_after", "relative_error_before", "relative_error_after")] + [
        ("rows_used", c_int64)]


class SmoothReportStruct(Structure):
    """Mirror of ``sq_smooth_report``: three doubles."""

    _fields_ = [(name, c_double) for name in ("alpha", "error", "error_unsmoothed")]


assert ctypes.sizeof(AWQReportStruct) == 48 and ctypes.sizeof(SmoothReportStruct) == 24, "report layouts"
SQ_SMOOTH_ALPHA_AUTO = -1.0


# --- loading ------------------------------------------------------------------------------------------------
_LIB_NAMES = ("libSwiftQuant.dylib", "libSwiftQuant.so") if sys.platform == "darwin" else ("libSwiftQuant.so",)
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_BUILD_HINT = ("build it with `swift build -c release` in the SwiftQuant repository and reinstall the package "
               "(`pip install --no-build-isolation ./python`), or set SWIFTQUANT_LIBRARY to the library's path")


def _candidates():
    """Library paths in lookup order: $SWIFTQUANT_LIBRARY alone if set; else the package copy, then the
    repository's release build (development mode: the package imported from python/swiftquant)."""
    env = os.environ.get("SWIFTQUANT_LIBRARY")
    if env:
        return [("SWIFTQUANT_LIBRARY", env)]
    found = [("package", os.path.join(_PACKAGE_DIR, n)) for n in _LIB_NAMES]
    repo_build = os.path.join(_PACKAGE_DIR, os.pardir, os.pardir, ".build", "release")
    found += [("repository build", os.path.normpath(os.path.join(repo_build, n))) for n in _LIB_NAMES]
    return found


def _load() -> ctypes.CDLL:
    candidates = _candidates()
    for origin, path in candidates:
        if origin != "SWIFTQUANT_LIBRARY" and not os.path.isfile(path):
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            raise ImportError(f"swiftquant: cannot load the native library {path} ({origin}): {exc}; "
                              + _BUILD_HINT) from exc
    tried = ", ".join(p for _, p in candidates)
    raise ImportError(f"swiftquant: native library libSwiftQuant not found (looked for: {tried}); " + _BUILD_HINT)


lib = _load()
LIBRARY_PATH: Optional[str] = getattr(lib, "_name", None)


# --- errors ---------------------------------------------------------------------------------------------------
def status_name(status: int) -> str:
    """Name of a status code, e.g. ``"SQ_ERROR_SHAPE"`` (native ``sq_status_string``)."""
    return lib.sq_status_string(int(status)).decode("utf-8", "replace")


def check(status: int) -> int:
    """Raise ``SwiftQuantError`` with the native message if ``status`` is not SQ_OK; else return it.

    Must run on the thread that made the failing call, before any other native call there: the message
    is thread-local and only valid until the next failure.
    """
    status = int(status)
    if status != SQ_OK:
        message = lib.sq_last_error_message().decode("utf-8", "replace")
        name = status_name(status)
        raise SwiftQuantError(f"{message} [{name}]" if message else name, status, name)
    return status


def _errcheck(result, func, args):
    check(result)
    return result


# --- signatures -----------------------------------------------------------------------------------------------
def _array(dtype=None, nullable=False):
    """A C-contiguous NumPy array argument (``ndpointer``); ``nullable`` also accepts None (NULL)."""
    base = np.ctypeslib.ndpointer(dtype=dtype, flags="C_CONTIGUOUS")
    if not nullable:
        return base

    class _Nullable(base):
        @classmethod
        def from_param(cls, obj):
            return None if obj is None else base.from_param(obj)

    return _Nullable


_f32 = _array(np.float32)
_f32_or_null = _array(np.float32, nullable=True)
_i32 = _array(np.int32)
_i32_or_null = _array(np.int32, nullable=True)
_u8 = _array(np.uint8)
_any = _array()  # void *: a quantized buffer of any storage type
_shape = POINTER(c_int64)
_qp = POINTER(QParamsStruct)
_ocfg = POINTER(ObserverConfigStruct)
_i64_or_null = POINTER(c_int64)  # a ctypes pointer argument also accepts None (NULL)
_i32p = POINTER(c_int32)
_u8_or_null = _array(np.uint8, nullable=True)
_status = "sq_status"  # marker: c_int32 result checked by check()

class CPUInfoStruct(Structure):
    """Mirror of ``sq_cpu_info``."""

    _fields_ = [(name, c_int32) for name in (
        "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512vnni", "amx_int8", "amx_permitted", "isa",
        "isa_forced", "avx2", "fma")]


(SQ_OP_QUANTIZE, SQ_OP_DEQUANTIZE, SQ_OP_MINMAX, SQ_OP_GEMM, SQ_OP_CODEBOOK_QUANTIZE, SQ_OP_FAKE_QUANTIZE,
 SQ_OP_BLOCK_GEMM_PER_BLOCK, SQ_OP_BLOCK_GEMM_WEIGHT_ONLY, SQ_OP_GGUF_QUANTIZE, SQ_OP_GGUF_DEQUANTIZE,
 SQ_OP_FLOAT_QUANTIZE, SQ_OP_FLOAT_DEQUANTIZE, SQ_OP_FLOAT_FAKE_QUANTIZE, SQ_OP_MX_QUANTIZE,
 SQ_OP_MX_DEQUANTIZE) = range(15)

_SIGNATURES = {
    # name: (restype, argtypes)
    # Not checked: it fills the struct even when SWIFTQUANT_ISA cannot be honoured (status UNSUPPORTED).
    "sq_get_cpu_info": (c_int32, [POINTER(CPUInfoStruct)]),
    "sq_linear_create": (_status, [_f32, c_int64, c_int64, _f32_or_null, c_int32, POINTER(c_void_p)]),
    "sq_linear_destroy": (None, [c_void_p]),
    "sq_linear_info": (_status, [c_void_p, POINTER(c_int64), POINTER(c_int64), POINTER(c_int32), _f32_or_null]),
    "sq_linear_forward": (_status, [c_void_p, c_void_p, _shape, c_int32, c_void_p, c_int64]),
    # Block-quantized weights (_blockweight.py): buffers as raw addresses from ptr().
    "sq_weight_quantize_gptq": (_status, [c_void_p, c_int64, c_int64, c_int32, c_int64, c_int32, c_void_p, c_int32,
                                          c_double, c_void_p, c_void_p, c_void_p, c_void_p, POINTER(GPTQReportStruct)]),
    "sq_weight_quantize": (_status, [c_void_p, c_int64, c_int64, c_int32, c_int64, c_int32, c_void_p, c_void_p,
                                     c_void_p]),
    "sq_weight_dequantize": (_status, [c_void_p, c_void_p, c_void_p, c_int64, c_int64, c_int32, c_int64, c_void_p]),
    "sq_matmul_nbits_sizes": (_status, [c_int64, c_int64, c_int32, c_int64, POINTER(c_int64), POINTER(c_int64)]),
    "sq_matmul_nbits_pack": (_status, [c_void_p, c_void_p, c_void_p, c_int64, c_int64, c_int32, c_int64, c_void_p,
                                       c_void_p]),
    "sq_matmul_nbits_unpack": (_status, [c_void_p, c_void_p, c_void_p, c_int64, c_int64, c_int32, c_int64, c_void_p,
                                         c_void_p]),
    "sq_block_linear_create": (_status, [c_void_p, c_void_p, c_void_p, c_int64, c_int64, c_int32, c_int64, c_void_p,
                                         c_int32, POINTER(c_void_p)]),
    "sq_block_linear_create_scaled": (_status, [c_void_p, c_void_p, c_void_p, c_int64, c_int64, c_int32, c_int64,
                                                c_void_p, c_void_p, c_int32, POINTER(c_void_p)]),
    "sq_block_linear_destroy": (None, [c_void_p]),
    "sq_block_linear_forward": (_status, [c_void_p, c_void_p, _shape, c_int32, c_void_p, c_int64]),
    # Activation-aware weights (_awq.py, _smoothquant.py); buffers as raw addresses from ptr().
    "sq_weight_quantize_awq": (_status, [c_void_p, c_int64, c_int64, c_int32, c_int64, c_int32, c_void_p, c_int64,
                                         c_void_p, c_void_p, c_void_p, c_void_p, POINTER(AWQReportStruct)]),
    "sq_smooth_quant_scales": (_status, [c_void_p, c_void_p, c_int64, c_int64, c_double, c_void_p, c_int64,
                                         c_void_p, POINTER(SmoothReportStruct)]),
    "sq_isa_name": (c_char_p, [c_int32]),
    "sq_kernel_name": (c_char_p, [c_int32]),
    "sq_version": (c_char_p, []),
    "sq_version_number": (c_int32, []),
    "sq_status_string": (c_char_p, [c_int32]),
    "sq_last_error_message": (c_char_p, []),
    "sq_dtype_range": (_status, [c_int32, POINTER(c_int32), POINTER(c_int32)]),
    "sq_dtype_max_value": (_status, [c_int32, POINTER(c_float)]),
    "sq_qparams_count": (_status, [_shape, c_int32, c_int32, c_int64, POINTER(c_int64)]),
    "sq_minmax": (_status, [_f32, _shape, c_int32, c_int32, c_int64, c_int32, _f32, _f32, c_int64,
                            POINTER(c_int64)]),
    "sq_qparams_from_range": (_status, [_f32, _f32, c_int64, c_int32, c_int32, _f32, _i32]),
    "sq_calibrate_minmax": (_status, [_f32, _shape, c_int32, c_int32, c_int32, c_int32, c_int64, _f32, _i32,
                                      c_int64]),
    "sq_observer_create": (_status, [_ocfg, POINTER(c_void_p)]),
    "sq_observer_destroy": (None, [c_void_p]),
    "sq_observer_config_get": (_status, [c_void_p, _ocfg]),
    "sq_observer_update": (_status, [c_void_p, _f32, _shape, c_int32]),
    "sq_observer_groups": (_status, [c_void_p, _i64_or_null, _i64_or_null, _i32p]),
    "sq_observer_range": (_status, [c_void_p, _f32, _f32, c_int64]),
    "sq_observer_qparams": (_status, [c_void_p, _f32, _i32, c_int64]),
    "sq_observer_stats": (_status, [c_void_p, _i64_or_null, _i64_or_null, _i64_or_null, _i64_or_null]),
    "sq_observer_merge": (_status, [c_void_p, c_void_p]),
    "sq_observer_serialize": (_status, [c_void_p, _u8_or_null, c_int64, POINTER(c_int64)]),
    "sq_observer_deserialize": (_status, [_u8, c_int64, POINTER(c_void_p)]),
    # Hessian observers (_hessian.py); matrices as raw addresses from ptr().
    "sq_hessian_create": (_status, [c_int64, POINTER(c_void_p)]),
    "sq_hessian_destroy": (None, [c_void_p]),
    "sq_hessian_update": (_status, [c_void_p, c_void_p, _shape, c_int32]),
    "sq_hessian_merge": (_status, [c_void_p, c_void_p]),
    "sq_hessian_count": (_status, [c_void_p, POINTER(c_int64)]),
    "sq_hessian_k": (_status, [c_void_p, POINTER(c_int64)]),
    "sq_hessian_get": (_status, [c_void_p, c_void_p]),
    "sq_hessian_sum": (_status, [c_void_p, c_void_p]),
    "sq_hessian_serialize": (_status, [c_void_p, _u8_or_null, c_int64, POINTER(c_int64)]),
    "sq_hessian_deserialize": (_status, [_u8, c_int64, POINTER(c_void_p)]),
    # Element-wise calls are often tiny, so their buffers go as raw addresses from ptr() (about 1 us less
    # per buffer than ndpointer's checks); callers pass C-contiguous arrays of the right dtype.
    "sq_quantize": (_status, [c_void_p, _shape, c_int32, _qp, c_int32, c_uint64, c_void_p]),
    "sq_quantize_float": (_status, [c_void_p, _shape, c_int32, _qp, c_int32, c_void_p]),
    "sq_fake_quantize": (_status, [c_void_p, _shape, c_int32, _qp, c_int32, c_uint64, c_void_p]),
    "sq_dequantize": (_status, [c_void_p, _shape, c_int32, _qp, c_void_p]),
    "sq_error_report": (_status, [c_void_p, _shape, c_int32, _qp, c_int32, c_uint64, c_void_p, c_int64,
                                  POINTER(ErrorStatsStruct)]),
    "sq_dynamic_quantize": (_status, [_f32, c_int64, _u8, POINTER(c_float), POINTER(c_uint8)]),
    "sq_pack_int4": (_status, [c_void_p, c_int64, c_int32, c_void_p, c_int64]),
    "sq_unpack_int4": (_status, [c_void_p, c_int64, c_int32, c_void_p, c_int64]),
    # Codebook (non-uniform) quantization; buffers as raw addresses from ptr(), as the element-wise calls.
    "sq_codebook_fit": (_status, [c_void_p, _shape, c_int32, c_int32, c_int32, c_int32, c_int32, c_double,
                                  c_void_p, c_int64]),
    "sq_codebook_quantize": (_status, [c_void_p, _shape, c_int32, c_int32, c_void_p, c_int64, c_int64,
                                       c_void_p]),
    "sq_codebook_dequantize": (_status, [c_void_p, _shape, c_int32, c_int32, c_void_p, c_int64, c_int64,
                                         c_void_p]),
    "sq_codebook_error_report": (_status, [c_void_p, _shape, c_int32, c_int32, c_void_p, c_int64, c_int64,
                                           c_void_p, c_int64, POINTER(ErrorStatsStruct)]),
    "sq_matmul_shape": (_status, [_shape, c_int32, _shape, c_int32, _shape, POINTER(c_int32)]),
    "sq_matmul_i32": (_status, [_any, c_int32, _shape, c_int32, c_int32, _any, c_int32, _shape, c_int32,
                                _i32_or_null, c_int64, _i32, c_int64]),
    "sq_qlinear_matmul": (_status, [_any, _shape, c_int32, _qp, _any, _shape, c_int32, _qp, _qp, c_int32,
                                    c_uint64, _any, c_int64]),
    "sq_matmul_f32": (_status, [_any, _shape, c_int32, _qp, _any, _shape, c_int32, _qp, _f32_or_null, c_int64,
                                _f32, c_int64]),
    "sq_pack": (_status, [_any, _shape, c_int32, _qp, POINTER(c_void_p)]),
    "sq_packed_destroy": (None, [c_void_p]),
    "sq_packed_info": (_status, [c_void_p, POINTER(c_int64), POINTER(c_int64), POINTER(c_int32),
                                 POINTER(c_int32)]),
    "sq_matmul_i32_packed": (_status, [_any, c_int32, _shape, c_int32, c_int32, c_void_p, _i32, c_int64]),
    "sq_qlinear_matmul_packed": (_status, [_any, _shape, c_int32, _qp, c_void_p, _qp, c_int32, c_uint64, _any,
                                           c_int64]),
    "sq_matmul_f32_packed": (_status, [_any, _shape, c_int32, _qp, c_void_p, _f32_or_null, c_int64, _f32,
                                       c_int64]),
    # GGUF block formats (_gguf.py); buffers as raw addresses from ptr(), as the element-wise calls.
    "sq_gguf_block_info": (_status, [c_int32, POINTER(c_int64), POINTER(c_int64)]),
    "sq_gguf_quantize": (_status, [c_int32, c_void_p, c_int64, c_void_p, c_int64]),
    "sq_gguf_dequantize": (_status, [c_int32, c_void_p, c_int64, c_void_p, c_int64]),
    # OCP MX block formats (_mx.py); buffers as raw addresses from ptr(), as the element-wise calls.
    "sq_mx_quantize": (_status, [c_void_p, _shape, c_int32, c_int32, c_int32, c_void_p, c_void_p, c_int64]),
    "sq_mx_dequantize": (_status, [c_void_p, c_void_p, c_int64, _shape, c_int32, c_int32, c_int32, c_void_p]),
}


def _declare() -> None:
    missing = []
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.argtypes = argtypes
        if restype == _status:
            fn.restype = c_int32
            fn.errcheck = _errcheck
        else:
            fn.restype = restype
    if missing:
        raise ImportError(f"swiftquant: the native library {LIBRARY_PATH} lacks {', '.join(missing)}; "
                          "it is older or newer than this wrapper. " + _BUILD_HINT)


def _check_version() -> None:
    number = int(lib.sq_version_number())
    major, minor = number // 10000, (number // 100) % 100
    if (major, minor) != EXPECTED_VERSION[:2]:
        raise ImportError(f"swiftquant: the native library {LIBRARY_PATH} is version "
                          f"{lib.sq_version().decode()} (number {number}), but this wrapper needs "
                          f"{EXPECTED_VERSION[0]}.{EXPECTED_VERSION[1]}.x (number {EXPECTED_VERSION_NUMBER}). "
                          + _BUILD_HINT)


_declare()


def ptr(arr: np.ndarray) -> int:
    """The address of a C-contiguous array's data (``c_char.from_buffer`` is the fast way for writable
    arrays; read-only and empty ones take ``arr.ctypes.data``). The caller keeps ``arr`` alive."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(arr))
    except (TypeError, ValueError, BufferError):
        return arr.ctypes.data


def cpu_info() -> dict:
    """CPU features, the kernel path in force and the kernel each operation uses (``sq_get_cpu_info``)."""
    info = CPUInfoStruct()
    status = lib.sq_get_cpu_info(byref(info))
    features = {name: bool(getattr(info, name)) for name, _ in CPUInfoStruct._fields_ if name not in ("isa", "isa_forced")}
    return {
        "features": features,
        "isa": lib.sq_isa_name(info.isa).decode(),
        "isa_forced": bool(info.isa_forced),
        "kernels": {op: lib.sq_kernel_name(code).decode() for op, code in (
            ("quantize", SQ_OP_QUANTIZE), ("dequantize", SQ_OP_DEQUANTIZE), ("minmax", SQ_OP_MINMAX),
            ("gemm", SQ_OP_GEMM), ("codebook_quantize", SQ_OP_CODEBOOK_QUANTIZE),
            ("fake_quantize", SQ_OP_FAKE_QUANTIZE), ("block_gemm_per_block", SQ_OP_BLOCK_GEMM_PER_BLOCK),
            ("block_gemm_weight_only", SQ_OP_BLOCK_GEMM_WEIGHT_ONLY), ("gguf_quantize", SQ_OP_GGUF_QUANTIZE),
            ("gguf_dequantize", SQ_OP_GGUF_DEQUANTIZE), ("float_quantize", SQ_OP_FLOAT_QUANTIZE),
            ("float_dequantize", SQ_OP_FLOAT_DEQUANTIZE), ("float_fake_quantize", SQ_OP_FLOAT_FAKE_QUANTIZE),
            ("mx_quantize", SQ_OP_MX_QUANTIZE), ("mx_dequantize", SQ_OP_MX_DEQUANTIZE))},
        "error": lib.sq_last_error_message().decode() if status != SQ_OK else None,
    }


def _check_dispatch() -> None:
    """A SWIFTQUANT_ISA override the machine cannot honour fails every native call: say so at import."""
    error = cpu_info()["error"]
    if error:
        raise ImportError(f"swiftquant: {error}")
_check_version()
_check_dispatch()


# --- small call helpers shared by the API modules ------------------------------------------------------------------
def shape_arg(shape) -> ctypes.Array:
    """``(const int64_t *shape, ...)`` for a shape tuple; never NULL, even for ndim 0."""
    return (c_int64 * max(len(shape), 1))(*shape)


def qparams_count(shape, axis: int, block_size: int) -> int:
    """Number of scale entries for a granularity over ``shape`` (native ``sq_qparams_count``)."""
    count = c_int64()
    lib.sq_qparams_count(shape_arg(shape), len(shape), axis, block_size, byref(count))
    return count.value


def matmul_shape(a_shape, b_shape) -> tuple:
    """The numpy.matmul result shape (native ``sq_matmul_shape``)."""
    out = (c_int64 * SQ_MAX_NDIM)()
    ndim = c_int32()
    lib.sq_matmul_shape(shape_arg(a_shape), len(a_shape), shape_arg(b_shape), len(b_shape), out, byref(ndim))
    return tuple(out[i] for i in range(ndim.value))
