"""GPTQ on block-quantized weights (``quantize_weight(..., method="gptq")``) over sq_weight_quantize_gptq."""
from __future__ import annotations

import ctypes
import numbers

import numpy as np

from . import _native
from ._convert import as_array, as_float32


def _error(message: str, status_name: str = "SQ_ERROR_INVALID_ARGUMENT"):
    from ._blockweight import _error as make
    return make(message, status_name)


def _hessian_matrix(hessian, k: int) -> np.ndarray:
    if hessian is None:
        raise _error("method='gptq' needs hessian=: a HessianObserver of the layer's inputs or a float64 [K, K] array")
    if type(hessian).__name__ == "HessianObserver" and hasattr(hessian, "hessian"):
        if hessian.in_features != k:
            raise _error(f"hessian: the observer has in_features {hessian.in_features}, the weight K = {k}", "SQ_ERROR_SHAPE")
        return hessian.hessian()
    h = None if isinstance(hessian, (str, bytes, dict)) else as_array(hessian, "hessian")
    if h is None or h.dtype.kind not in "fiub":
        raise TypeError(f"hessian must be a HessianObserver or a real [K, K] array, got {type(hessian).__name__}")
    if h.ndim != 2 or h.shape[0] != h.shape[1]:
        raise _error(f"hessian must be a square [K, K] array, got shape {h.shape}", "SQ_ERROR_SHAPE")
    if h.shape[0] != k:
        raise _error(f"hessian is [{h.shape[0]}, {h.shape[1]}] but the weight has K = {k} inputs", "SQ_ERROR_SHAPE")
    return np.ascontiguousarray(h, dtype=np.float64)


def quantize_gptq(arr: np.ndarray, bits: int, block_size: int, symmetric: bool, hessian, act_order, damp, input_scales):
    from ._blockweight import QuantizedWeight
    if not isinstance(act_order, (bool, np.bool_)):
        raise TypeError(f"act_order must be a bool, got {type(act_order).__name__}")
    if isinstance(damp, (bool, np.bool_)) or not isinstance(damp, numbers.Real):
        raise TypeError(f"damp must be a real number, got {type(damp).__name__}")
    n, k = arr.shape
    h = _hessian_matrix(hessian, k)
    s = None
    if input_scales is not None:
        s = np.ascontiguousarray(as_float32(input_scales, "input_scales"))
        if s.shape != (k,):
            raise _error(f"input_scales must have shape ({k},), got {s.shape}", "SQ_ERROR_SHAPE")
    kb = -(-k // block_size)
    codes = np.empty((n, k), np.uint8)
    scales = np.empty((n, kb), np.float32)
    zps = np.empty((n, kb), np.uint8)
    rep = _native.GPTQReportStruct()
    _native.lib.sq_weight_quantize_gptq(_native.ptr(arr), n, k, bits, block_size, int(bool(symmetric)), _native.ptr(h),
                                        int(bool(act_order)), float(damp), None if s is None else _native.ptr(s),
                                        _native.ptr(codes), _native.ptr(scales), _native.ptr(zps), ctypes.byref(rep))
    report = {"method": "gptq", "act_order": bool(act_order), "damp_requested": float(damp), "damp": rep.damp,
              "dead_inputs": rep.dead_inputs, "relative_error_before": rep.relative_error_before,
              "relative_error_after": rep.relative_error_after, "rows_measured": rep.rows_measured}
    return QuantizedWeight(codes, scales, zps, bits=bits, block_size=block_size, symmetric=symmetric, input_scales=s,
                           report=report)
