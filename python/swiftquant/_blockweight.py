"""Block-quantized weights (4-bit / 8-bit in blocks along K) and their interop with ONNX Runtime's
MatMulNBits layout, over the native sq_weight_* / sq_matmul_nbits_* / sq_block_linear_* functions."""
from __future__ import annotations

import ctypes
import operator
from typing import Optional

import numpy as np

from . import _native
from ._convert import as_float32, as_quantized
from ._errors import SwiftQuantError

__all__ = ["QuantizedWeight", "quantize_weight", "BlockLinear"]

_BITS = (2, 3, 4, 8)


def _error(message: str, status_name: str = "SQ_ERROR_SHAPE") -> SwiftQuantError:
    status = getattr(_native, status_name)
    return SwiftQuantError(f"{message} [{status_name}]", status, status_name)


def _int_arg(v, name: str) -> int:
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(v).__name__}") from None


def _layout(bits, block_size):
    bits = _int_arg(bits, "bits")
    block_size = _int_arg(block_size, "block_size")
    if bits not in _BITS:
        raise _error(f"bits must be one of {_BITS}, got {bits}", "SQ_ERROR_INVALID_ARGUMENT")
    if block_size < 16 or block_size > 65536 or block_size & (block_size - 1):
        raise _error(f"block_size must be a power of two in [16, 65536], got {block_size}", "SQ_ERROR_INVALID_ARGUMENT")
    return bits, block_size


class QuantizedWeight:
    """A weight ``[N, K]`` (``[out_features, in_features]``) quantized in blocks of ``block_size`` along K.

    ``values``: uint8 codes ``[N, K]``, one per byte, in ``[0, 2**bits - 1]``; ``scales``: float32
    ``[N, ceil(K / block_size)]``; ``zero_points``: uint8, same shape (``2**(bits-1)`` for symmetric
    weights). ``value = (code - zero_point) * scale``. Symmetric scales are negative for blocks whose value
    of largest magnitude is positive (ONNX Runtime's and llama.cpp's rule: that value maps to code 0).
    The arrays are read-only.
    """

    def __init__(self, values, scales, zero_points=None, bits: int = 4, block_size: int = 32,
                 symmetric=None, *, input_scales=None, report=None):
        bits, block_size = _layout(bits, block_size)
        v = as_quantized(values, np.uint8, "values")
        if v.ndim != 2:
            raise _error(f"values must be 2-D [N, K], got shape {v.shape}")
        n, k = v.shape
        kb = -(-k // block_size)
        s = as_float32(scales, "scales")
        if s.shape != (n, kb):
            raise _error(f"scales must have shape ({n}, {kb}) for values {v.shape} and block_size {block_size}, "
                         f"got {s.shape}")
        if zero_points is None:
            z = np.full((n, kb), 1 << (bits - 1), np.uint8)
        else:
            z = as_quantized(zero_points, np.uint8, "zero_points")
            if z.shape != (n, kb):
                raise _error(f"zero_points must have shape ({n}, {kb}), got {z.shape}")
        v, s, z = np.array(v, order="C"), np.array(s, order="C"), np.array(z, order="C")
        top = (1 << bits) - 1
        if v.size and int(v.max()) > top:
            i = int(np.argmax(v > top))
            raise _error(f"values: element {i} (row {i // k}) is {int(v.flat[i])}, above the {bits}-bit maximum {top}",
                         "SQ_ERROR_OUT_OF_RANGE")
        if z.size and int(z.max()) > top:
            raise _error(f"zero_points: {int(z.max())} is above the {bits}-bit maximum {top}", "SQ_ERROR_INVALID_ZERO_POINT")
        if not np.all(np.isfinite(s)):
            i = int(np.argmin(np.isfinite(s)))
            raise _error(f"scales: element {i} (row {i // kb}, block {i % kb}) is {s.flat[i]}", "SQ_ERROR_INVALID_SCALE")
        si = None
        if input_scales is not None:
            si = np.array(as_float32(input_scales, "input_scales"), order="C")
            if si.shape != (k,):
                raise _error(f"input_scales must have shape ({k},), got {si.shape}")
            if not np.all(np.isfinite(si) & (si > 0)):
                i = int(np.argmin(np.isfinite(si) & (si > 0)))
                raise _error(f"input_scales: element {i} is {si[i]}; they must be finite and > 0", "SQ_ERROR_INVALID_SCALE")
        for a in (v, s, z) + (() if si is None else (si,)):
            a.flags.writeable = False
        self.values, self.scales, self.zero_points = v, s, z
        #: Per-input-channel scales ``s`` [K] of activation-aware methods (AWQ): the codes quantize ``w * s``,
        #: a layer divides its input by ``s``, ``dequantize()`` returns the effective weight. None otherwise.
        self.input_scales = si
        #: What the method did (dict): ``method`` and, for GPTQ / AWQ, its choices and calibration errors.
        self.report = dict(report) if report is not None else {"method": "unknown"}
        self.bits, self.block_size = bits, block_size
        self.symmetric = bool(np.all(z == (1 << (bits - 1)))) if symmetric is None else bool(symmetric)

    @property
    def shape(self):
        return self.values.shape

    @property
    def params(self):
        """The blocked ``QParams`` (dtype uint4 for 2-4 bits, uint8 for 8 bits, axis 1). ``QParams`` scales are
        positive; a weight with negative scales (symmetric blocks whose largest-magnitude value is positive)
        raises SwiftQuantError — use ``scales`` / ``zero_points`` or ``dequantize()`` instead."""
        from ._params import QParams
        if np.any(self.scales <= 0):
            raise _error("params: this weight has zero or negative block scales (the symmetric rule maps a positive "
                         "extreme to code 0), which QParams does not represent; use scales / zero_points",
                         "SQ_ERROR_INVALID_SCALE")
        return QParams(self.scales, self.zero_points.astype(np.int32), "uint8" if self.bits == 8 else "uint4", axis=1,
                       block_size=self.block_size)

    def dequantize(self) -> np.ndarray:
        """float32 ``[N, K]``: ``(code - zero_point) * scale`` (a new array), divided by ``input_scales`` when
        the weight has them."""
        n, k = self.shape
        out = np.empty((n, k), np.float32)
        _native.lib.sq_weight_dequantize(_native.ptr(self.values), _native.ptr(self.scales), _native.ptr(self.zero_points),
                                         n, k, self.bits, self.block_size, _native.ptr(out))
        if self.input_scales is not None:
            out /= self.input_scales  # the effective weight Q(w * s) / s
        return out

    # --- ONNX Runtime MatMulNBits -------------------------------------------------------------------------
    def to_matmul_nbits(self, *, allow_input_scales: bool = False) -> dict:
        """The com.microsoft.MatMulNBits inputs and attributes: ``B`` uint8 ``[N, k_blocks, block_size*bits/8]``
        (8 / bits elements per byte from the low bits up: element 2i in the low nibble), ``scales`` float32
        ``[N, k_blocks]``, ``zero_points`` uint8 ``[N, ceil(k_blocks*bits/8)]`` (None for symmetric weights:
        MatMulNBits' default is 2**(bits-1)), ``K``, ``N``, ``bits``, ``block_size``. 2, 4 and 8 bits.

        A weight with ``input_scales`` (AWQ) is refused: MatMulNBits has no input scales, so the tensors alone
        compute ``x @ (w * s).T``. Fold ``1 / s`` into the operation that produces the layer's input (e.g. a
        LayerNorm's gamma and beta, or the previous linear layer's output rows) and pass
        ``allow_input_scales=True`` to export the codes of ``w * s`` anyway."""
        if self.input_scales is not None and not allow_input_scales:
            raise _error("to_matmul_nbits: this weight has input_scales s (AWQ): its codes quantize w * s, and "
                         "MatMulNBits cannot divide its input by s. Fold 1 / s into the previous operation, then "
                         "export with allow_input_scales=True", "SQ_ERROR_INVALID_ARGUMENT")
        if self.bits not in (2, 4, 8):
            raise _error(f"to_matmul_nbits: bits {self.bits}; MatMulNBits stores 2, 4 or 8 bits",
                         "SQ_ERROR_INVALID_ARGUMENT")
        n, k = self.shape
        kb = self.scales.shape[1]
        b_bytes, z_bytes = ctypes.c_int64(), ctypes.c_int64()
        _native.lib.sq_matmul_nbits_sizes(n, k, self.bits, self.block_size, ctypes.byref(b_bytes), ctypes.byref(z_bytes))
        b = np.zeros((n, kb, self.block_size * self.bits // 8), np.uint8)
        zp = None if self.symmetric and np.all(self.zero_points == (1 << (self.bits - 1))) else \
            np.zeros((n, z_bytes.value // max(n, 1)), np.uint8)
        _native.lib.sq_matmul_nbits_pack(_native.ptr(self.values), _native.ptr(self.scales), _native.ptr(self.zero_points),
                                         n, k, self.bits, self.block_size, _native.ptr(b),
                                         None if zp is None else _native.ptr(zp))
        return {"B": b, "scales": self.scales.copy(), "zero_points": zp, "K": k, "N": n, "bits": self.bits,
                "block_size": self.block_size}

    @classmethod
    def from_matmul_nbits(cls, B, scales, zero_points=None, *, K: int, N: int, bits: int = 4,
                          block_size: int = 32) -> "QuantizedWeight":
        """The inverse of ``to_matmul_nbits``. ``B`` may be ``[N, k_blocks, blob]`` or flat; ``scales``
        ``[N, k_blocks]`` or flat ``[N * k_blocks]`` (as in an ONNX model); ``zero_points`` packed uint8
        or None (every zero point 2**(bits-1))."""
        bits, block_size = _layout(bits, block_size)
        if bits not in (2, 4, 8):
            raise _error(f"bits {bits}: MatMulNBits stores 2, 4 or 8 bits", "SQ_ERROR_INVALID_ARGUMENT")
        K, N = _int_arg(K, "K"), _int_arg(N, "N")
        if K < 0 or N < 0:
            raise _error(f"K and N must be >= 0, got K={K}, N={N}")
        kb = -(-K // block_size)
        b_bytes, z_bytes = ctypes.c_int64(), ctypes.c_int64()
        _native.lib.sq_matmul_nbits_sizes(N, K, bits, block_size, ctypes.byref(b_bytes), ctypes.byref(z_bytes))
        b = as_quantized(B, np.uint8, "B")
        if b.size != b_bytes.value or (b.ndim == 3 and b.shape != (N, kb, block_size * bits // 8)):
            raise _error(f"B must hold N * k_blocks * block_size * bits / 8 = {b_bytes.value} bytes "
                         f"([{N}, {kb}, {block_size * bits // 8}]), got shape {b.shape}")
        s = as_float32(scales, "scales")
        if s.size != N * kb or (s.ndim == 2 and s.shape != (N, kb)) or s.ndim > 2:
            raise _error(f"scales must have shape ({N}, {kb}) or ({N * kb},), got {s.shape}")
        s = np.ascontiguousarray(s.reshape(N, kb))
        z = None
        if zero_points is not None:
            z = as_quantized(zero_points, np.uint8, "zero_points")
            if z.size != z_bytes.value or z.ndim > 2:
                raise _error(f"zero_points must hold {z_bytes.value} bytes ([{N}, {z_bytes.value // max(N, 1)}]), "
                             f"got shape {z.shape}")
            z = np.ascontiguousarray(z)
        b = np.ascontiguousarray(b)
        codes = np.empty((N, K), np.uint8)
        zps = np.empty((N, kb), np.uint8)
        _native.lib.sq_matmul_nbits_unpack(_native.ptr(b), _native.ptr(s), None if z is None else _native.ptr(z),
                                           N, K, bits, block_size, _native.ptr(codes), _native.ptr(zps))
        return cls(codes, s, zps, bits=bits, block_size=block_size, symmetric=z is None)

    # --- llama.cpp GGUF -------------------------------------------------------------------------------------
    @classmethod
    def from_gguf(cls, data, type, shape) -> "QuantizedWeight":
        """A 2-D GGUF tensor ``[N, K]`` (``shape``) of type Q4_0 (4 bits, zero point 8, ``scale = d``) or Q8_0
        (8 bits: code = q + 128, zero point 128) as block-32 weights; ``dequantize()`` then equals
        ``sq.gguf_dequantize`` bit for bit, and ``QuantizedLinear`` runs it. Q4_1 (``q * d + m``) has a float
        minimum per block, not an integer zero point, and is refused: use ``sq.gguf_dequantize`` and
        requantize."""
        from ._gguf import _type_code, gguf_block_info
        code = _type_code(type)
        if code == 3:
            raise _error("type Q4_1: its per-block float minimum (q * d + m) is not an integer zero point; "
                         "use sq.gguf_dequantize and quantize_weight", "SQ_ERROR_INVALID_ARGUMENT")
        elements, nbytes = gguf_block_info(code)  # unknown types raise here
        shape = tuple(_int_arg(d, "shape") for d in shape)
        if len(shape) != 2 or min(shape) < 0:
            raise _error(f"shape must be 2-D [N, K], got {shape}")
        n, k = shape
        if k % elements:
            raise _error(f"shape: K = {k} is not a multiple of the GGUF block of {elements}")
        raw = as_quantized(data, np.uint8, "data")
        kb = k // elements
        if raw.size != n * kb * nbytes:
            raise _error(f"data holds {raw.size} bytes; [{n}, {k}] of this type needs {n * kb * nbytes}")
        blocks = np.ascontiguousarray(raw).reshape(n, kb, nbytes)
        d = blocks[:, :, :2].copy().view(np.float16).reshape(n, kb).astype(np.float32)
        if not np.all(np.isfinite(d)):
            i = int(np.argmin(np.isfinite(d)))
            raise _error(f"data: block {i} (row {i // max(kb, 1)}) has a non-finite scale d = {d.flat[i]}",
                         "SQ_ERROR_INVALID_SCALE")
        if code == 2:  # Q4_0: byte j holds element j (low nibble) and element j + 16 (high nibble)
            qs = blocks[:, :, 2:]
            values = np.concatenate([qs & 0x0F, qs >> 4], axis=2).reshape(n, k)
            return cls(values, d, np.full((n, kb), 8, np.uint8), bits=4, block_size=elements, symmetric=True)
        q = blocks[:, :, 2:].copy().view(np.int8).reshape(n, k)
        values = (q.astype(np.int16) + 128).astype(np.uint8)
        return cls(values, d, np.full((n, kb), 128, np.uint8), bits=8, block_size=elements, symmetric=True)

    def __repr__(self) -> str:
        return (f"QuantizedWeight(shape={self.shape}, bits={self.bits}, block_size={self.block_size}, "
                f"symmetric={self.symmetric})")


_METHODS = ("rtn", "gptq", "awq")


def quantize_weight(w, bits: int = 4, block_size: int = 32, symmetric: bool = True, *, method: str = "rtn",
                    hessian=None, act_order: Optional[bool] = None, damp: Optional[float] = None, activations=None,
                    input_scales=None) -> QuantizedWeight:
    """Block quantization of a float weight ``[N, K]`` = ``[out_features, in_features]`` along K.

    ``method="rtn"`` (round to nearest) is bit-identical to ONNX Runtime's MatMulNBits quantizer
    (``quantize_matmul_4bits`` / ``_8bits``). Symmetric: ``scale = v / -2**(bits-1)``, ``v`` the block's
    value of largest magnitude; asymmetric: ``scale = (max - min) / (2**bits - 1)`` over the range widened to
    include 0, ``zero_point = clamp(roundf(-min / scale))``. Codes ``clamp(roundf(x / scale + zero_point))``
    with ``x / scale`` computed as ``x * (1 / scale)``; ``roundf`` rounds half away from zero.

    ``method="gptq"`` (needs ``hessian``: a ``HessianObserver`` or a float64 ``[K, K]`` array; options
    ``act_order``, ``damp``, ``input_scales``) and ``method="awq"`` (needs ``activations``: calibration
    inputs ``[..., K]``) keep the same grid and formats; see README "GPTQ, AWQ and SmoothQuant". The result's
    ``report`` says what the method did."""
    if not isinstance(method, str) or method not in _METHODS:
        raise _error(f"method must be one of {_METHODS}, got {method!r}", "SQ_ERROR_INVALID_ARGUMENT")
    bits, block_size = _layout(bits, block_size)
    if not isinstance(symmetric, (bool, np.bool_)):
        raise TypeError(f"symmetric must be a bool, got {type(symmetric).__name__}")
    # Options of one method given to another are errors, not ignored.
    # None means "not given" (GPTQ's defaults: act_order False, damp 0.01), so any explicit value counts.
    given = {"hessian": hessian is not None, "act_order": act_order is not None, "damp": damp is not None,
             "activations": activations is not None, "input_scales": input_scales is not None}
    allowed = {"rtn": (), "gptq": ("hessian", "act_order", "damp", "input_scales"), "awq": ("activations",)}[method]
    extra = [name for name, g in given.items() if g and name not in allowed]
    if extra:
        raise _error(f"{', '.join(extra)} do{'es' if len(extra) == 1 else ''} not apply to method={method!r}",
                     "SQ_ERROR_INVALID_ARGUMENT")
    arr = as_float32(w, "w")
    if arr.ndim != 2:
        raise _error(f"w must be 2-D [N, K] = [out_features, in_features], got shape {arr.shape}")
    if method == "gptq":
        from ._gptq import quantize_gptq
        return quantize_gptq(arr, bits, block_size, bool(symmetric), hessian,
                             False if act_order is None else act_order, 0.01 if damp is None else damp, input_scales)
    if method == "awq":
        from ._awq import quantize_awq
        return quantize_awq(arr, bits, block_size, bool(symmetric), activations)
    n, k = arr.shape
    kb = -(-k // block_size)
    codes = np.empty((n, k), np.uint8)
    scales = np.empty((n, kb), np.float32)
    zps = np.empty((n, kb), np.uint8)
    _native.lib.sq_weight_quantize(_native.ptr(arr), n, k, bits, block_size, int(bool(symmetric)), _native.ptr(codes),
                                   _native.ptr(scales), _native.ptr(zps))
    return QuantizedWeight(codes, scales, zps, bits=bits, block_size=block_size, symmetric=bool(symmetric),
                           report={"method": "rtn"})


_ACTIVATION_CODES = {"per_block": 2, "none": 3}


class BlockLinear:
    """The block-weight layer behind ``QuantizedLinear(..., activation="per_block" | "none")``."""

    def __init__(self, weight: QuantizedWeight, bias, activation: str):
        self._handle = None
        n, k = weight.shape
        if n < 1 or k < 1:
            raise _error(f"weight must have at least one row and column, got shape {weight.shape}")
        b = None
        if bias is not None:
            b = as_float32(bias, "bias")
            if b.shape != (n,):
                raise _error(f"bias must have shape ({n},), got {b.shape}")
            b = np.ascontiguousarray(b)
        handle = ctypes.c_void_p()
        si = weight.input_scales  # None, or s: the layer computes (x / s) W^T
        _native.lib.sq_block_linear_create_scaled(_native.ptr(weight.values), _native.ptr(weight.scales),
                                                  _native.ptr(weight.zero_points), n, k, weight.bits,
                                                  weight.block_size, None if b is None else _native.ptr(b),
                                                  None if si is None else _native.ptr(si),
                                                  _ACTIVATION_CODES[activation], ctypes.byref(handle))
        self._handle = handle
        self.weight = weight
        self.bias = None if b is None else b.copy()
        self.activation = activation

    def forward(self, arr: np.ndarray, result: np.ndarray) -> None:
        _native.lib.sq_block_linear_forward(self._handle, _native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim,
                                            _native.ptr(result), result.size)

    def __del__(self):
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None and _native is not None and _native.lib is not None:
            _native.lib.sq_block_linear_destroy(handle)
