"""SwiftQuant: int8 (and int4/int16) quantization over NumPy, backed by the Swift library libSwiftQuant.

The NumPy-facing API below wraps the C ABI of Include/swiftquant.h (declared once, in ``_native``)::

    import swiftquant as sq
    p = sq.calibrate(x, dtype="int8")            # scale, zero point from the data's range
    ob = sq.Observer("entropy", axis=1)          # streaming calibration: minmax, moving_average,
    ob.update(batch); p = ob.qparams()           #   percentile, entropy, mse; observers merge and pickle
    h = sq.HessianObserver(4096)                 # H = sum of x x^T / n for GPTQ: h.update(x); h.hessian()
    q = sq.quantize(x, p)                        # saturate(round(x / scale) + zero_point)
    x2 = sq.dequantize(q, p)                     # (q - zero_point) * scale, float32
    c = sq.matmul(a, b)                          # exact int32 products (ONNX MatMulInteger)
    y = sq.qlinear_matmul(a, pa, b, pb, py)      # requantized (ONNX QLinearMatMul)
    w = sq.pack(b, pb)                           # prepacked weights, usable wherever b is
    r = sq.error_report(x, p)                    # MSE, SQNR, rounding vs clipping error, per channel
    cb = sq.fit_codebook(x, bits=4)              # non-uniform levels (Lloyd-Max); codebook_quantize
    a = sq.analyze(x, axis=1, bits=4)            # every scheme ranked by SQNR; a.recommended, a.reason
    sq.plot_histogram(x, p)                      # matplotlib Figure (optional dependency)
    qw = sq.quantize_weight(w, bits=4, block_size=32)   # 4-bit block weights (ORT MatMulNBits layout)
    layer = sq.QuantizedLinear(qw, bias)         # W4A8: int8 activations per block; or activation="none"
    qw = sq.quantize_weight(w, method="gptq", hessian=h, act_order=True)  # GPTQ: qw.report (damp, errors)
    qw = sq.quantize_weight(w, method="awq", activations=x)  # activation-aware: qw.input_scales, qw.report
    s = sq.smooth_quant_scales(act_absmax, w, alpha="auto", x=x)  # SmoothQuant: x / s, w * s; s.alpha

Conversion rules: float inputs may be any real array-like and are computed in float32; quantized inputs
must be integer arrays and are converted only when no value changes; inputs are never modified; results
are new arrays unless ``out=`` is given. A bad value or shape raises SwiftQuantError (a ValueError
subclass with the C status code), whether the wrapper or the native library detects it; the wrong kind of
object raises TypeError. Both name the argument.

The native library is looked up in $SWIFTQUANT_LIBRARY, then inside this package, then in the
repository's .build/release (development checkout).
"""
from __future__ import annotations

from . import _native
from ._analyze import ANALYZE_METHODS, Analysis, AnalysisRow, analyze
from ._blockweight import QuantizedWeight, quantize_weight
from ._calibrate import METHODS, Observer, calibrate
from ._codebook import CODEBOOK_KINDS, Codebook, codebook_dequantize, codebook_quantize, fit_codebook
from ._errors import SwiftQuantError
from ._gguf import GGUF_TYPES, gguf_block_info, gguf_dequantize, gguf_quantize
from ._hessian import HessianObserver
from ._linear import QuantizedLinear
from ._matmul import PackedMatrix, matmul, matmul_float, pack, qlinear_matmul
from ._mx import MX_BLOCK_SIZE, MX_FORMATS, mx_dequantize, mx_quantize
from ._plots import plot_histogram, plot_sqnr_per_channel
from ._params import DTYPES, FLOAT_DTYPES, INT_DTYPES, ROUNDINGS, QParams, dtype_range
from ._quantize import dequantize, dynamic_quantize, fake_quantize, pack_int4, quantize, unpack_int4
from ._report import ErrorReport, error_report
from ._smoothquant import SmoothQuantScales, smooth_quant_scales

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "version",
    "DTYPES",
    "FLOAT_DTYPES",
    "INT_DTYPES",
    "ROUNDINGS",
    "METHODS",
    "dtype_range",
    "QParams",
    "calibrate",
    "Observer",
    "HessianObserver",
    "quantize",
    "fake_quantize",
    "dequantize",
    "dynamic_quantize",
    "error_report",
    "ErrorReport",
    "CODEBOOK_KINDS",
    "Codebook",
    "fit_codebook",
    "codebook_quantize",
    "codebook_dequantize",
    "pack_int4",
    "unpack_int4",
    "GGUF_TYPES",
    "gguf_block_info",
    "gguf_quantize",
    "gguf_dequantize",
    "MX_FORMATS",
    "MX_BLOCK_SIZE",
    "mx_quantize",
    "mx_dequantize",
    "analyze",
    "Analysis",
    "AnalysisRow",
    "ANALYZE_METHODS",
    "plot_histogram",
    "plot_sqnr_per_channel",
    "matmul",
    "qlinear_matmul",
    "matmul_float",
    "pack",
    "PackedMatrix",
    "QuantizedLinear",
    "QuantizedWeight",
    "quantize_weight",
    "smooth_quant_scales",
    "SmoothQuantScales",
    "SwiftQuantError",
    "cpu_info",
]


cpu_info = _native.cpu_info


def version() -> str:
    """The native library's version string, "MAJOR.MINOR.PATCH" (native ``sq_version``)."""
    return _native.lib.sq_version().decode()


def __dir__():
    # Only the public API: not the submodules (_native, _convert, ...), nor `annotations` from __future__.
    return list(__all__)
