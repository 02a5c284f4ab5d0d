"""sq.QuantizedLinear: an int8 linear layer over the native sq_linear_* functions."""
from __future__ import annotations

import ctypes
from typing import Optional

import numpy as np

from . import _native
from ._convert import as_float32, output

__all__ = ["QuantizedLinear"]

_ACTIVATIONS = {"per_tensor": 0, "per_row": 1}


class QuantizedLinear:
    """``y = x @ weight.T + bias`` computed in int8, float32 in and out, one native call per forward.

    ``weight`` is ``[out_features, in_features]`` (PyTorch's ``nn.Linear`` layout). It is quantized once,
    per output channel, symmetric int8 (``scale[n] = max|weight[n]| / 127``), and packed for the GEMM.
    Each call quantizes ``x`` (shape ``[..., in_features]``) to uint8 as ONNX DynamicQuantizeLinear does —
    over the whole tensor (``activation="per_tensor"``) or over each row (``"per_row"``, per token, which
    keeps transformer activations with outlier tokens much closer to float32) — multiplies exactly in
    int32 and returns ``float32(C) * float32(sx[m] * sw[n]) + bias[n]`` with shape ``[..., out_features]``.

    Raises SwiftQuantError for NaN or inf in the weights, bias or input, and ValueError for shapes that do
    not fit.
    """

    def __init__(self, weight, bias=None, activation: str = "per_tensor"):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
        w = as_float32(weight, "weight")
        if w.ndim != 2:
            raise ValueError(f"weight must be 2-D [out_features, in_features], got shape {w.shape}")
        out_features, in_features = w.shape
        b = None
        if bias is not None:
            b = as_float32(bias, "bias")
            if b.shape != (out_features,):
                raise ValueError(f"bias must have shape ({out_features},), got {b.shape}")
        self._handle = None
        handle = ctypes.c_void_p()
        _native.lib.sq_linear_create(w, out_features, in_features, b, _ACTIVATIONS[activation], ctypes.byref(handle))
        self._handle = handle
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.activation = activation
        scales = np.empty(out_features, np.float32)
        _native.lib.sq_linear_info(handle, None, None, None, scales)
        scales.flags.writeable = False
        self.weight_scale = scales
        self.bias = None if b is None else b.copy()

    def __call__(self, x, out: Optional[np.ndarray] = None) -> np.ndarray:
        arr = as_float32(x, "x")
        if arr.ndim < 1 or arr.shape[-1] != self.in_features:
            raise ValueError(f"x must have shape [..., {self.in_features}], got {arr.shape}")
        shape = arr.shape[:-1] + (self.out_features,)
        result = output(out, shape, np.float32)
        _native.lib.sq_linear_forward(self._handle, _native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim,
                                      _native.ptr(result), result.size)
        return result

    def __del__(self):
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None and _native is not None and _native.lib is not None:
            _native.lib.sq_linear_destroy(handle)

    def __repr__(self) -> str:
        return (f"QuantizedLinear(in_features={self.in_features}, out_features={self.out_features}, "
                f"activation={self.activation!r}, bias={self.bias is not None})")
