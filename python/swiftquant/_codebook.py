"""Codebook (non-uniform) quantization over NumPy arrays: fit 2^bits levels to data (Lloyd-Max or powers of
two), map values to uint8 indices of their nearest level and back (native sq_codebook_fit,
sq_codebook_quantize, sq_codebook_dequantize; the exact algorithms are stated in swiftquant.h)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _native
from ._convert import error, as_array, as_float32, as_int, as_quantized, check_out_overlap, normalize_axis, output

__all__ = ["CODEBOOK_KINDS", "Codebook", "fit_codebook", "codebook_quantize", "codebook_dequantize"]

CODEBOOK_KINDS = ("lloyd", "lloyd_quantile", "log2")


class Codebook:
    """Ascending float32 levels; a value is stored as the uint8 index of its nearest level.

    * per tensor (``axis=None``): ``levels`` has shape ``(L,)``;
    * per channel (``axis=k``): ``levels`` has shape ``(channels, L)``, row ``i`` for index ``i`` along axis k.

    ``L`` is 1 .. 256; ``bits`` is the smallest number of bits that holds an index (``L = 2**bits`` for fitted
    codebooks). ``kind`` records how the levels were made (``"lloyd"``, ``"lloyd_quantile"``, ``"log2"`` or
    ``"custom"``).
    Codebooks compare equal by value and pickle.
    """

    def __init__(self, levels, axis: Optional[int] = None, kind: str = "custom"):
        arr = as_array(levels, "levels")
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"levels must be real numbers, got dtype {arr.dtype}")
        arr = np.array(arr, dtype=np.float32, order="C", copy=True)
        want = 1 if axis is None else 2
        if arr.ndim != want:
            raise error(f"levels must have {want} dimension(s) for axis={axis!r} "
                             f"((L,) per tensor, (channels, L) per channel), got shape {arr.shape}", "SQ_ERROR_SHAPE")
        L = arr.shape[-1]
        if not 1 <= L <= 256:
            raise error(f"a codebook holds 1 .. 256 levels, got {L}")
        if not np.isfinite(arr).all():
            raise error("levels must be finite")
        if L > 1 and (np.diff(arr, axis=-1) < 0).any():
            raise error("levels must be ascending (non-decreasing) along the last dimension", "SQ_ERROR_SHAPE")
        if axis is not None:
            axis = as_int(axis, "axis")
        if not isinstance(kind, str):
            raise TypeError(f"kind must be a str, got {type(kind).__name__}")
        arr.setflags(write=False)
        self._levels = arr
        self._axis = axis
        self._kind = kind

    @property
    def levels(self) -> np.ndarray:
        """float32 levels, read-only: ``(L,)`` or ``(channels, L)``."""
        return self._levels

    @property
    def axis(self) -> Optional[int]:
        return self._axis

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def num_levels(self) -> int:
        return int(self._levels.shape[-1])

    @property
    def bits(self) -> int:
        """Bits per index: the smallest b with ``2**b >= L`` (0 for a single level)."""
        return (self.num_levels - 1).bit_length()

    def __eq__(self, other):
        if not isinstance(other, Codebook):
            return NotImplemented
        return (self._axis == other._axis and self._kind == other._kind
                and self._levels.shape == other._levels.shape and np.array_equal(self._levels, other._levels))

    def __hash__(self):
        return hash((self._axis, self._kind, self._levels.shape, self._levels.tobytes()))

    def __repr__(self) -> str:
        text = np.array2string(self._levels, separator=", ", threshold=20, max_line_width=1 << 30)
        text = text.replace("\n", "")
        axis = "" if self._axis is None else f", axis={self._axis}"
        return f"Codebook(levels={text}{axis}, kind={self._kind!r})  # {self.num_levels} levels, {self.bits} bits"

    def __reduce__(self):
        return (Codebook, (np.array(self._levels), self._axis, self._kind))

    # --- native form ----------------------------------------------------------------------------------------
    def _native_args(self, shape: tuple, name: str):
        """(axis, levels array, levels_per_group, levels_count) for a tensor of ``shape``."""
        if self._axis is None:
            native_axis = _native.SQ_PER_TENSOR
        else:
            native_axis = normalize_axis(self._axis, len(shape), f"{name}.axis")
            if self._levels.shape[0] != shape[native_axis]:
                raise error(f"{name} has {self._levels.shape[0]} codebook(s) but x has {shape[native_axis]} "
                                 f"index(es) along axis {self._axis} (shape {shape})", "SQ_ERROR_SHAPE")
        return native_axis, self._levels, self.num_levels, self._levels.size


def fit_codebook(x, bits: int = 4, axis: Optional[int] = None, kind: str = "lloyd",
                 max_iter: Optional[int] = None, tol: Optional[float] = None) -> Codebook:
    """Fits ``L = 2**bits`` levels to the data ``x`` (one codebook, or one per index along ``axis``).

    * ``"lloyd"`` (default): Lloyd-Max / 1-D k-means minimising the squared error, started from the best
      partition of the sorted data into L contiguous clusters (exact dynamic programming over runs of the
      data: the exact optimum when x has at most ``min(max(64 L, 1024), 4096)`` distinct values, near it
      otherwise). Each iteration assigns every value to its nearest level (ties to the lower level) and moves
      each level to the mean of its values (an empty cluster keeps its level), until no assignment changes,
      no level moves by more than ``tol``, or after ``max_iter`` updates. Computed in float64 on a sorted
      copy, returned as float32, ascending. Fewer distinct values than levels: one level per value, the
      largest repeated.
    * ``"lloyd_quantile"``: the same iterations started from the ``(i + 0.5) / L`` quantiles (NumPy's linear
      interpolation), the textbook Lloyd-Max. It can stop in a poor local optimum: on heavy-tailed data, at
      many levels, or per channel; it is there to compare with and to reproduce other tools.
    * ``"log2"``: powers of two scaled to the data: with ``e`` the integer nearest to ``log2(max|x|)``
      (at most 127) and ``P = L/2 - 1``, the levels are ``-2**e .. -2**(e-P), 0, 2**(e-P+1) .. 2**e``
      (one more negative level than positive ones, like int4). All zero data gives ``L`` zeros.

    Args:
        x: array-like of real numbers (float32 working precision); NaN and +-inf are a SwiftQuantError.
        bits: 1 .. 8. axis: None (per tensor) or a dimension of x (negative allowed).
        kind: one of CODEBOOK_KINDS. max_iter: >= 0 (0 returns the starting levels; default 100). tol: >= 0
            (default 0). Both apply to the Lloyd kinds only: giving one with ``"log2"`` is an error.

    Returns:
        Codebook with levels of shape ``(L,)`` or ``(x.shape[axis], L)``.
    """
    try:
        code = _native.CODEBOOK_KIND_CODES[kind]
    except (KeyError, TypeError):
        raise error(f"kind must be one of {CODEBOOK_KINDS}, got {kind!r}") from None
    bits = as_int(bits, "bits")
    if not 1 <= bits <= 8:
        raise error(f"bits must be in [1, 8], got {bits}")
    if kind == "log2":
        extra = [n for n, v in (("max_iter", max_iter), ("tol", tol)) if v is not None]
        if extra:
            raise error(f"{' and '.join(extra)} apply only to the Lloyd kinds, not to kind='log2'; leave them unset")
    max_iter = as_int(100 if max_iter is None else max_iter, "max_iter")
    if not 0 <= max_iter < 2 ** 31:
        raise error(f"max_iter must be in [0, 2**31), got {max_iter}")
    tol = 0.0 if tol is None else float(tol)
    if not (tol >= 0 and np.isfinite(tol)):
        raise error(f"tol must be finite and >= 0, got {tol}")
    arr = as_float32(x, "x")
    L = 1 << bits
    if axis is None:
        native_axis, shape = _native.SQ_PER_TENSOR, (L,)
    else:
        axis = normalize_axis(as_int(axis, "axis"), arr.ndim)
        native_axis, shape = axis, (arr.shape[axis], L)
    levels = np.empty(shape, dtype=np.float32)
    _native.lib.sq_codebook_fit(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, native_axis, bits, code,
                                max_iter, tol, _native.ptr(levels), levels.size)
    return Codebook(levels, axis, kind)


def _require_codebook(cb, name: str) -> Codebook:
    if not isinstance(cb, Codebook):
        raise TypeError(f"{name} must be a swiftquant.Codebook, got {type(cb).__name__}")
    return cb


def codebook_quantize(x, codebook: Codebook, out: Optional[np.ndarray] = None) -> np.ndarray:
    """uint8 index of the nearest level of each element's codebook, ties to the lower index (the number of
    float64 midpoints ``(l[j] + l[j+1]) / 2`` below x). +-inf map to the end levels; NaN is a SwiftQuantError.
    ``out``: optional C-contiguous uint8 array of x's shape."""
    cb = _require_codebook(codebook, "codebook")
    arr = as_float32(x, "x")
    native_axis, levels, per, count = cb._native_args(arr.shape, "codebook")
    result = output(out, arr.shape, np.uint8)
    check_out_overlap(out, "out", arr, x if isinstance(x, np.ndarray) else None)
    _native.lib.sq_codebook_quantize(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, native_axis,
                                     _native.ptr(levels), per, count, _native.ptr(result))
    return result


def codebook_dequantize(idx, codebook: Codebook, out: Optional[np.ndarray] = None) -> np.ndarray:
    """float32 ``levels[idx]`` with each element's codebook. An index >= the number of levels is a
    SwiftQuantError naming it; integer inputs outside [0, 255] are a ValueError.
    ``out``: optional C-contiguous float32 array of idx's shape."""
    cb = _require_codebook(codebook, "codebook")
    arr = as_quantized(idx, np.uint8, "idx")
    native_axis, levels, per, count = cb._native_args(arr.shape, "codebook")
    result = output(out, arr.shape, np.float32)
    check_out_overlap(out, "out", arr, idx if isinstance(idx, np.ndarray) else None)
    _native.lib.sq_codebook_dequantize(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, native_axis,
                                       _native.ptr(levels), per, count, _native.ptr(result))
    return result
