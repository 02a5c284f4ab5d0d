"""sq.QuantizedLinear: an int8 linear layer over the native sq_linear_* functions."""
from __future__ import annotations

import ctypes
from typing import Optional

import numpy as np

from . import _native
from ._convert import error, as_float32, output

__all__ = ["QuantizedLinear"]

_ACTIVATIONS = {"per_tensor": 0, "per_row": 1}
_BLOCK_ACTIVATIONS = ("per_block", "none")


def _not_applicable(why: str, **options):
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise error(f"{' and '.join(given)} do{'es' if len(given) == 1 else ''} not apply here: {why}")


class QuantizedLinear:
    """``y = x @ weight.T + bias`` computed in int8, float32 in and out, one native call per forward.

    ``weight`` is ``[out_features, in_features]`` (PyTorch's ``nn.Linear`` layout). It is quantized once,
    per output channel, symmetric int8 (``scale[n] = max|weight[n]| / 127``), and packed for the GEMM.
    Each call quantizes ``x`` (shape ``[..., in_features]``) to uint8 as ONNX DynamicQuantizeLinear does —
    over the whole tensor (``activation="per_tensor"``) or over each row (``"per_row"``, per token, which
    keeps transformer activations with outlier tokens much closer to float32) — multiplies exactly in
    int32 and returns ``float32(C) * float32(sx[m] * sw[n]) + bias[n]`` with shape ``[..., out_features]``.

    Block-quantized weights (4-bit / 8-bit in blocks along in_features, as ONNX Runtime's MatMulNBits and
    llama.cpp's Q4_0 store them): pass a ``QuantizedWeight`` (``sq.quantize_weight``,
    ``QuantizedWeight.from_matmul_nbits`` / ``from_gguf``), or a float weight with ``weight_bits`` (and
    ``block_size``, ``symmetric``: defaults 32 and True; elsewhere they are an error); then ``activation`` is ``"per_block"`` (the default there: each row of
    ``x`` is quantized to int8 per block, ``sx = max|x| / 127``, exact int32 dot products per block, float32
    across blocks — ORT MatMulNBits accuracy_level 4) or ``"none"`` (float activations, weights dequantized
    on the fly — accuracy_level 0). The order of operations is written in swiftquant.h
    (``sq_block_linear_create``). A weight with ``input_scales`` ``s`` (``quantize_weight(...,
    method="awq")``) gives the layer ``y = (x / s) @ W.T + bias``: each ``x[..., k]`` is divided by ``s[k]``
    (float32) before either activation mode (``sq_block_linear_create_scaled``).

    Raises SwiftQuantError for NaN or inf in the weights, bias or input, and ValueError for shapes that do
    not fit.
    """

    def __init__(self, weight, bias=None, activation: Optional[str] = None, *, weight_bits: Optional[int] = None,
                 block_size: Optional[int] = None, symmetric: Optional[bool] = None):
        from ._blockweight import BlockLinear, QuantizedWeight, quantize_weight
        self._block = None
        if isinstance(weight, QuantizedWeight) or weight_bits is not None or activation in _BLOCK_ACTIVATIONS:
            if activation is None:
                activation = "per_block"
            if activation not in _BLOCK_ACTIVATIONS:
                raise error(f"activation must be one of {_BLOCK_ACTIVATIONS} for block-quantized weights, "
                                 f"got {activation!r}")
            if isinstance(weight, QuantizedWeight):
                _not_applicable(block_size=block_size, symmetric=symmetric,
                                why="the QuantizedWeight is already quantized")
                if weight_bits is not None and weight_bits != weight.bits:
                    raise error(f"weight_bits={weight_bits} disagrees with the QuantizedWeight's bits {weight.bits}")
                qw = weight
            else:
                qw = quantize_weight(weight, bits=4 if weight_bits is None else weight_bits,
                                     block_size=32 if block_size is None else block_size,
                                     symmetric=True if symmetric is None else symmetric)
            self._block = BlockLinear(qw, bias, activation)
            self.out_features, self.in_features = qw.shape
            self.activation = activation
            self.weight = qw
            self.weight_scale = qw.scales
            self.input_scales = qw.input_scales
            self.bias = self._block.bias
            return
        if activation is None:
            activation = "per_tensor"
        _not_applicable(block_size=block_size, symmetric=symmetric,
                        why="the int8 layer (per-row symmetric int8 weights) has no weight blocks")
        if activation not in _ACTIVATIONS:
            raise error(f"activation must be one of {tuple(_ACTIVATIONS) + _BLOCK_ACTIVATIONS}, got {activation!r}")
        w = as_float32(weight, "weight")
        if w.ndim != 2:
            raise error(f"weight must be 2-D [out_features, in_features], got shape {w.shape}", "SQ_ERROR_SHAPE")
        out_features, in_features = w.shape
        b = None
        if bias is not None:
            b = as_float32(bias, "bias")
            if b.shape != (out_features,):
                raise error(f"bias must have shape ({out_features},), got {b.shape}", "SQ_ERROR_SHAPE")
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
        self.input_scales = None
        self.bias = None if b is None else b.copy()

    def __call__(self, x, out: Optional[np.ndarray] = None) -> np.ndarray:
        arr = as_float32(x, "x")
        if arr.ndim < 1 or arr.shape[-1] != self.in_features:
            raise error(f"x must have shape [..., {self.in_features}], got {arr.shape}", "SQ_ERROR_SHAPE")
        shape = arr.shape[:-1] + (self.out_features,)
        result = output(out, shape, np.float32)
        if self._block is not None:
            self._block.forward(arr, result)
            return result
        _native.lib.sq_linear_forward(self._handle, _native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim,
                                      _native.ptr(result), result.size)
        return result

    def __del__(self):
        if getattr(self, "_block", None) is not None:
            return  # the BlockLinear frees its own handle
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None and _native is not None and _native.lib is not None:
            _native.lib.sq_linear_destroy(handle)

    def __repr__(self) -> str:
        extra = "" if self._block is None else f", weight_bits={self.weight.bits}, block_size={self.weight.block_size}"
        return (f"QuantizedLinear(in_features={self.in_features}, out_features={self.out_features}, "
                f"activation={self.activation!r}{extra}, bias={self.bias is not None})")
