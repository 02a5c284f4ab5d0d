"""AWQ-style activation-aware block quantization (``quantize_weight(..., method="awq", activations=x)``),
over the native sq_weight_quantize_awq (swiftquant.h, "Activation-aware weights")."""
from __future__ import annotations

import ctypes

import numpy as np

from . import _native
from ._blockweight import QuantizedWeight, _error
from ._convert import as_float32


def quantize_awq(arr: np.ndarray, bits: int, block_size: int, symmetric: bool, activations) -> QuantizedWeight:
    """The AWQ search on calibration ``activations`` ``[..., K]`` for a float32 weight ``arr`` ``[N, K]``
    (checked by ``quantize_weight``). Up to 512 evenly spread rows are used (``x[i * n // 512]``). The result's
    codes quantize ``w * s``; ``input_scales`` is ``s``; ``report`` holds the chosen ratio and the mean squared
    calibration output errors of plain RTN (before) and of the result (after)."""
    if activations is None:
        raise _error("method='awq' needs activations=x, calibration inputs of the layer [..., K]",
                     "SQ_ERROR_INVALID_ARGUMENT")
    n, k = arr.shape
    x = as_float32(activations, "activations")
    if x.ndim < 1 or x.shape[-1] != k:
        raise _error(f"activations must have shape [..., {k}] (K = in_features of w {arr.shape}), got {x.shape}")
    x = np.ascontiguousarray(x.reshape(-1, k))
    if x.shape[0] == 0:
        raise _error("activations: no rows (AWQ needs at least one calibration row)")
    kb = -(-k // block_size)
    codes = np.empty((n, k), np.uint8)
    scales = np.empty((n, kb), np.float32)
    zps = np.empty((n, kb), np.uint8)
    input_scales = np.empty(k, np.float32)
    report = _native.AWQReportStruct()
    _native.lib.sq_weight_quantize_awq(_native.ptr(arr), n, k, bits, block_size, int(symmetric), _native.ptr(x),
                                       x.shape[0], _native.ptr(codes), _native.ptr(scales), _native.ptr(zps),
                                       _native.ptr(input_scales), ctypes.byref(report))
    info = {"method": "awq", "ratio": report.ratio, "error_before": report.error_before,
            "error_after": report.error_after, "relative_error_before": report.relative_error_before,
            "relative_error_after": report.relative_error_after, "rows_used": int(report.rows_used)}
    return QuantizedWeight(codes, scales, zps, bits=bits, block_size=block_size, symmetric=symmetric,
                           input_scales=input_scales, report=info)
