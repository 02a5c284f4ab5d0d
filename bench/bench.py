"""SwiftQuant vs NumPy and ONNX Runtime, side by side in one process on the same data.

Each row runs its contenders interleaved, reports medians and the ratio other / SwiftQuant (> 1 means
SwiftQuant is faster). Results are checked equal before timing. Run: ./run-bench (installs ONNX Runtime).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # NumPy's BLAS gets the same 2 threads (set before import)
import numpy as np  # noqa: E402

import ort_ops  # noqa: E402
import swiftquant as sq  # noqa: E402

THREADS = 2


def timed(fns: dict, repeats: int, pause: float = 0.0) -> dict:
    """Median seconds per contender; runs are interleaved so drift hits every contender alike. pause: seconds
    of sleep before each run (OpenBLAS's threads spin after a call and would steal the next run's cores)."""
    times = {name: [] for name in fns}
    for fn in fns.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            if pause:
                time.sleep(pause)
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(v) for name, v in times.items()}


def row(op: str, shape: str, med: dict, extra: str = "") -> None:
    ours = med["swiftquant"]
    others = "  ".join(f"{name} {t * 1e3:9.2f} ms ({t / ours:6.2f}x)" for name, t in med.items() if name != "swiftquant")
    print(f"{op:<24} {shape:<18} swiftquant {ours * 1e3:9.2f} ms   {others}{extra}")


def elementwise(rng, repeats: int) -> None:
    n = 16 * 2**20
    x = rng.normal(size=n).astype(np.float32)
    p = sq.calibrate(x, dtype="int8")
    s, z = np.float32(p.scale), int(p.zero_point)
    q = sq.quantize(x, p)
    np_quantize = lambda: np.clip(np.rint(x / s) + z, -128, 127).astype(np.int8)  # noqa: E731
    quant = {"swiftquant": lambda: sq.quantize(x, p), "numpy": np_quantize}
    dequant = {"swiftquant": lambda: sq.dequantize(q, p),
               "numpy": lambda: (q.astype(np.int32) - z).astype(np.float32) * s}
    assert np.array_equal(quant["swiftquant"](), np_quantize())
    if ort_ops.available():
        ql, dl = ort_ops.quantize_linear(n, float(s), z, THREADS), ort_ops.dequantize_linear(n, float(s), z, THREADS)
        assert np.array_equal(ql(x), q) and np.array_equal(dl(q), sq.dequantize(q, p))
        quant["onnxruntime"] = lambda: ql(x)
        dequant["onnxruntime"] = lambda: dl(q)
    row("quantize int8", "16M", timed(quant, repeats))
    row("dequantize int8", "16M", timed(dequant, repeats))
    qo, fo = np.empty_like(q), np.empty_like(x)
    row("quantize int8, out=", "16M", timed({"swiftquant": lambda: sq.quantize(x, p, out=qo)}, repeats))
    row("dequantize int8, out=", "16M", timed({"swiftquant": lambda: sq.dequantize(q, p, out=fo)}, repeats),
        "   [a reused output: no page faults on a fresh 64 MB array, like ORT's arena]")
    row("fake quantize int8", "16M", timed({
        "swiftquant": lambda: sq.fake_quantize(x, p),
        "numpy": lambda: (np.clip(np.rint(x / s) + z, -128, 127) - z).astype(np.float32) * s}, repeats))
    row("calibrate minmax", "16M", timed({"swiftquant": lambda: sq.calibrate(x), "numpy": lambda: (x.min(), x.max())}, repeats))
    med = timed({"swiftquant": lambda: sq.Observer(method="percentile").update(x),
                 "numpy histogram": lambda: np.histogram(x, 8192)}, repeats)
    row("observer update (hist)", "16M", med, f"   [{x.nbytes / med['swiftquant'] / 1e9:.2f} GB/s]")

    small = x[:16].copy()
    calls = 20000
    t = time.perf_counter()
    for _ in range(calls):
        sq.quantize(small, p)
    print(f"{'python overhead':<24} {'16 elements':<18} swiftquant {(time.perf_counter() - t) / calls * 1e6:9.2f} us per sq.quantize call")


def float_formats(rng, repeats: int) -> None:
    """FP8 quantize / dequantize of 16M values per tensor: SwiftQuant vs ONNX Runtime's QuantizeLinear
    (opset 21, saturate) and ml_dtypes' cast (which neither divides by a scale nor saturates, so it does
    less work than the other two). Results are checked equal (ml_dtypes given ONNX's clip first)."""
    import ml_dtypes
    from onnx import TensorProto
    n = 16 * 2**20
    x = (rng.standard_t(4, size=n) * 0.02).astype(np.float32)
    for fmt, t, onnx_type in (("float8_e4m3fn", ml_dtypes.float8_e4m3fn, TensorProto.FLOAT8E4M3FN),
                              ("float8_e5m2", ml_dtypes.float8_e5m2, TensorProto.FLOAT8E5M2)):
        p = sq.calibrate(x, dtype=fmt)
        s, top = np.float32(p.scale), float(ml_dtypes.finfo(t).max)
        q = sq.quantize(x, p)
        assert np.array_equal(q, np.clip(x / s, -top, top).astype(t).view(np.uint8))
        quant = {"swiftquant": lambda: sq.quantize(x, p), "ml_dtypes cast": lambda: x.astype(t)}
        if ort_ops.available():
            run, fetch = ort_ops.quantize_linear_float8(n, float(s), onnx_type, THREADS)
            run(x)
            assert np.array_equal(fetch(), q)
            quant["onnxruntime"] = lambda: run(x)
        row(f"quantize {fmt}", "16M", timed(quant, repeats))
        qo = np.empty_like(q)
        med = timed({"swiftquant": lambda: sq.quantize(x, p, out=qo)}, repeats)
        row(f"quantize {fmt}, out=", "16M", med, f"   [{(x.nbytes + q.nbytes) / med['swiftquant'] / 1e9:.1f} GB/s read + written]")
        qt = q.view(t)
        deq = {"swiftquant": lambda: sq.dequantize(q, p), "ml_dtypes": lambda: qt.astype(np.float32) * s}
        assert np.array_equal(deq["swiftquant"](), deq["ml_dtypes"]())
        row(f"dequantize {fmt}", "16M", timed(deq, repeats))

    # OCP MX: SwiftQuant vs the same rules in NumPy + ml_dtypes (frexp for the shared exponent, ONNX's clip
    # and ml_dtypes' cast for the elements), and a plain copy of x as the memory-bandwidth yardstick.
    xm = x.reshape(4096, 4096)
    for fmt, t, emax in (("mxfp8_e4m3", ml_dtypes.float8_e4m3fn, 8), ("mxfp4", ml_dtypes.float4_e2m1fn, 2)):
        top = float(ml_dtypes.finfo(t).max)

        def numpy_mx():
            blocks = xm.reshape(-1, 32)
            amax = np.abs(blocks).max(axis=1)
            ex = np.frexp(amax)[1] - 1 - emax
            ex = np.where(amax == 0, -127, np.clip(ex, -127, 127))
            v = blocks * np.exp2(-ex).astype(np.float32)[:, None]
            return np.clip(v, -top, top).astype(t).view(np.uint8), (ex + 127).astype(np.uint8)

        e, sc = sq.mx_quantize(xm, fmt)
        ne, ns = numpy_mx()
        assert np.array_equal(e.ravel(), ne.ravel()) and np.array_equal(sc.ravel(), ns)
        med = timed({"swiftquant": lambda: sq.mx_quantize(xm, fmt), "numpy+ml_dtypes": numpy_mx,
                     "numpy x.copy()": lambda: xm.copy()}, repeats)
        row(f"mx_quantize {fmt}", "4096x4096", med, f"   [{xm.nbytes / med['swiftquant'] / 1e9:.1f} GB/s of input]")
        row(f"mx_dequantize {fmt}", "4096x4096", timed({"swiftquant": lambda: sq.mx_dequantize(e, sc, fmt),
                                                         "numpy x.copy()": lambda: xm.copy()}, repeats))


def entropy(rng, repeats: int) -> None:
    x = rng.laplace(size=2**20).astype(np.float32)
    # ONNX Runtime's collector against SwiftQuant's entropy_ort, the same algorithm (the same window).
    fns = {"swiftquant": lambda: sq.calibrate(x, method="entropy_ort", symmetric=True, num_bins=2048)}
    if ort_ops.available():
        from onnxruntime.quantization.calibrate import HistogramCollector

        def ort_entropy():
            hc = HistogramCollector("entropy", symmetric=True, num_bins=2048, num_quantized_bins=128,
                                    percentile=99.99, scenario="same")
            with contextlib.redirect_stdout(io.StringIO()):  # ORT prints progress
                hc.collect({"x": [x]})
                return hc.compute_collection_result()
        fns["onnxruntime"] = ort_entropy
    row("calibrate entropy_ort", "1M, 2048 bins", timed(fns, max(3, repeats // 2)))
    row("calibrate entropy", "1M, 2048 bins", timed(
        {"swiftquant": lambda: sq.calibrate(x, method="entropy", symmetric=True, num_bins=2048)}, repeats),
        "   [TensorRT's search]")
    # The range search alone for one group at 16 bits (qparams() searches the histogram on every call).
    ob = sq.Observer("entropy", dtype="int16", symmetric=True, num_bins=65536).update(x)
    row("entropy int16 qparams", "65536 bins, 1 grp", timed({"swiftquant": ob.qparams}, max(3, repeats // 2)),
        "   [per group]")


def codebook(rng, repeats: int) -> None:
    """Codebook fits: the default optimal-partition start against the textbook quantile start (same Lloyd
    iterations), with the MSE each reaches; codebook_quantize against NumPy's searchsorted on midpoints."""
    w = (rng.laplace(size=(4096, 4096)) * np.exp(rng.uniform(-2, 1, 4096))).astype(np.float32)
    x = rng.laplace(size=2**20).astype(np.float32)
    for name, data, bits, axis in (("fit 4-bit per channel", w, 4, 0), ("fit 8-bit per tensor", x, 8, None)):
        fits = {kind: (lambda kind=kind: sq.fit_codebook(data, bits=bits, axis=axis, kind=kind))
                for kind in ("lloyd", "lloyd_quantile")}
        mse = {kind: sq.error_report(data, fit()).mse for kind, fit in fits.items()}
        med = timed(fits, max(3, repeats // 3))
        med = {"swiftquant": med["lloyd"], "lloyd_quantile": med["lloyd_quantile"]}
        row(f"codebook {name}", f"{data.shape[0]}x{data.shape[1]}" if data.ndim == 2 else "1M", med,
            f"   [MSE lloyd {mse['lloyd']:.4g}, lloyd_quantile {mse['lloyd_quantile']:.4g}]")
    cb = sq.fit_codebook(x, bits=4)
    mids = (cb.levels[1:].astype(np.float64) + cb.levels[:-1]) / 2
    np_quantize = lambda: np.searchsorted(mids, x, side="left").astype(np.uint8)  # noqa: E731
    assert np.array_equal(np_quantize(), sq.codebook_quantize(x, cb))
    row("codebook quantize 4-bit", "1M", timed({"swiftquant": lambda: sq.codebook_quantize(x, cb), "numpy": np_quantize},
                                               repeats))


def gemm(rng, repeats: int, shapes) -> None:
    for m, k, n in shapes:
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        w = sq.pack(b)
        fns = {"swiftquant": lambda: sq.matmul(a, w, a_zero_point=128)}
        if ort_ops.available():
            mi = ort_ops.matmul_integer(b, 128, m, THREADS)
            assert np.array_equal(mi(a), fns["swiftquant"]())
            fns["onnxruntime"] = lambda: mi(a)
        med = timed(fns, max(3, repeats // 2))
        if m * k * n <= 2**30:
            # Timed after, not interleaved: OpenBLAS's threads spin after each call and would steal the
            # cores of whichever contender runs next.
            af, bf = a.astype(np.float32) - 128, b.astype(np.float32)
            med["numpy f32"] = timed({"numpy f32": lambda: af @ bf}, max(3, repeats // 2))["numpy f32"]
            time.sleep(0.2)
        row("gemm u8s8->s32 packed", f"{m}x{k}x{n}", med, f"   [{2 * m * k * n / med['swiftquant'] / 1e12:.2f} TOPS]")


def linear(rng, repeats: int) -> None:
    m, k, n = 128, 4096, 4096
    x = rng.normal(size=(m, k)).astype(np.float32)
    w = (rng.normal(size=(n, k)) / 64).astype(np.float32)
    wt = np.ascontiguousarray(w.T)
    for activation in ("per_tensor", "per_row"):
        layer = sq.QuantizedLinear(w, activation=activation)
        med = timed({"swiftquant": lambda: layer(x)}, max(3, repeats // 2))
        med["numpy f32"] = timed({"numpy f32": lambda: x @ wt}, max(3, repeats // 2))["numpy f32"]
        time.sleep(0.2)
        err = np.linalg.norm(layer(x) - x @ wt) / np.linalg.norm(x @ wt)
        row(f"QuantizedLinear {activation}", f"{m}x{k}x{n}", med, f"   [rel. error vs float32 {err:.4f}]")


def block_weights(rng, repeats: int, quick: bool) -> None:
    """QuantizedLinear on 4-bit block weights vs ONNX Runtime's MatMulNBits on the same bytes: per_block vs
    accuracy_level 4 (int8 activations per block), none vs accuracy_level 0 (float activations)."""
    if not ort_ops.available():
        print("block weights: onnxruntime not installed, skipped")
        return
    shapes = [(1, 4096, 4096), (1, 4096, 11008), (1, 11008, 4096)] + ([] if quick else [(128, 4096, 4096)])
    for m, k, n in shapes:
        w = (rng.normal(size=(n, k)) / 64).astype(np.float32)
        x = rng.normal(size=(m, k)).astype(np.float32)
        for bs in (32, 128):
            qw = sq.quantize_weight(w, bits=4, block_size=bs, symmetric=True)
            nb = qw.to_matmul_nbits()
            exact = x.astype(np.float64) @ qw.dequantize().T.astype(np.float64)
            for act, level in (("per_block", 4), ("none", 0)):
                layer = sq.QuantizedLinear(qw, activation=act)
                peer = ort_ops.matmul_nbits(nb, level, THREADS)
                ours, theirs = layer(x), peer(x)
                err = lambda y: np.linalg.norm(y - exact) / np.linalg.norm(exact)  # noqa: E731
                assert err(ours) < 2 * err(theirs) + 1e-5, (err(ours), err(theirs))
                reps = repeats if m == 1 else max(3, repeats // 2)
                med = timed({"swiftquant": lambda: layer(x), f"ort level {level}": lambda: peer(x)}, reps)
                gbs = (nb["B"].nbytes + nb["scales"].nbytes) / med["swiftquant"] / 1e9
                row(f"W4 b{bs} {act}", f"{m}x{k}x{n}", med,
                    f"   [{gbs:.1f} GB/s of weights; rel. error {err(ours):.1e} vs ORT {err(theirs):.1e}]")
                time.sleep(0.1)
    if quick:
        return
    # A GEMV whose 4-bit weights (64 MiB) exceed the L3, against the read bandwidth measured in this run:
    # the better of NumPy's one-thread sum and SwiftQuant's two-thread min/max over 512 MiB.
    big = np.ones(128 * 2**20, np.float32)
    bw = max(big.nbytes / timed({"numpy sum": lambda: big.sum()}, 3)["numpy sum"],
             big.nbytes / timed({"sq minmax": lambda: sq.calibrate(big)}, 3)["sq minmax"])
    del big
    m, k, n = 1, 16384, 8192
    w = (rng.normal(size=(n, k)) / 64).astype(np.float32)
    x = rng.normal(size=(m, k)).astype(np.float32)
    qw = sq.quantize_weight(w, bits=4, block_size=128, symmetric=True)
    del w
    layer = sq.QuantizedLinear(qw, activation="per_block")
    nbytes = qw.values.size // 2 + qw.scales.nbytes
    t = timed({"swiftquant": lambda: layer(x)}, repeats)["swiftquant"]
    print(f"{'W4 b128 per_block GEMV':<24} {f'{m}x{k}x{n}':<18} swiftquant {t * 1e3:9.2f} ms   "
          f"[{nbytes / t / 1e9:.1f} GB/s of weights = {nbytes / t / bw:.0%} of the {bw / 1e9:.1f} GB/s read bandwidth measured here]")


def gguf_formats(rng, repeats: int) -> None:
    """llama.cpp's block formats on a 4096 x 4096 tensor against gguf-py's gguf.quants (NumPy), the same
    bytes and floats (checked before timing)."""
    try:
        from gguf import GGMLQuantizationType
        from gguf import quants as gguf_quants
    except ImportError:
        print("gguf formats: gguf (gguf-py) not installed, skipped")
        return
    w = rng.normal(size=(4096, 4096)).astype(np.float32)
    reps = max(3, repeats // 2)
    for name in ("Q4_0", "Q4_1", "Q8_0"):
        t = GGMLQuantizationType[name]
        q = sq.gguf_quantize(w, name)
        assert np.array_equal(q, gguf_quants.quantize(w, t))
        y = sq.gguf_dequantize(q, name)
        assert np.array_equal(y.view(np.uint32), gguf_quants.dequantize(q, t).view(np.uint32))
        row(f"gguf {name} quantize", "4096x4096", timed(
            {"swiftquant": lambda: sq.gguf_quantize(w, name), "gguf-py": lambda: gguf_quants.quantize(w, t)}, reps))
        row(f"gguf {name} dequantize", "4096x4096", timed(
            {"swiftquant": lambda: sq.gguf_dequantize(q, name), "gguf-py": lambda: gguf_quants.dequantize(q, t)}, reps))
    q = sq.gguf_quantize(w, "Q4_0")
    out = np.empty_like(w)
    row("gguf Q4_0 dequantize, out=", "4096x4096",
        timed({"swiftquant": lambda: sq.gguf_dequantize(q, "Q4_0", out=out)}, reps),
        "   [a reused output: no page faults on a fresh 64 MB array]")


def gptq(rng, repeats: int) -> None:
    """GPTQ of a K x K layer (block 128, 4-bit) against the NumPy/OpenBLAS transcription the tests check it
    against (Tests/python/gptq_reference.py: the AutoGPTQ loop, float64 factorizations, float32 updates)."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "python"))
    from gptq_reference import gptq as np_gptq
    for k in (768, 2048):
        x = rng.normal(size=(2 * k, k)).astype(np.float32)
        x64 = x.astype(np.float64)
        h = x64.T @ x64 / len(x)
        w = (rng.normal(size=(k, k)) * 0.02).astype(np.float32)
        ours = sq.quantize_weight(w, bits=4, block_size=128, method="gptq", hessian=h)
        ref = np_gptq(w, h, 4, 128, True)[0]
        same = float(np.mean(ours.values == ref))
        reps = max(1, repeats // (3 if k > 1024 else 1))
        med = timed({"swiftquant": lambda: sq.quantize_weight(w, bits=4, block_size=128, method="gptq", hessian=h),
                     "numpy": lambda: np_gptq(w, h, 4, 128, True)}, reps)
        row("gptq 4-bit b128", f"{k}x{k}", med, f"   [codes equal {same:.4f}]")
        # The transcription measures no error: the like-for-like row skips the report (C: report = NULL).
        from swiftquant import _native
        kb = k // 128
        bufs = [np.empty((k, k), np.uint8), np.empty((k, kb), np.float32), np.empty((k, kb), np.uint8)]
        quiet = lambda: _native.lib.sq_weight_quantize_gptq(  # noqa: E731
            _native.ptr(w), k, k, 4, 128, 1, _native.ptr(h), 0, 0.01, None, *(_native.ptr(b) for b in bufs), None)
        quiet()
        assert np.array_equal(bufs[0], ours.values)
        med = timed({"swiftquant": quiet, "numpy": lambda: np_gptq(w, h, 4, 128, True)}, reps)
        row("gptq, no error report", f"{k}x{k}", med)
        med = timed({"swiftquant": lambda: sq.quantize_weight(w, bits=4, block_size=128, method="gptq", hessian=h,
                                                              act_order=True),
                     "numpy": lambda: np_gptq(w, h, 4, 128, True, act_order=True)}, reps)
        row("gptq act_order", f"{k}x{k}", med)
    # AWQ (ratio and clip search) and SmoothQuant alpha="auto" against the NumPy transcriptions the tests
    # check them against (Tests/python/activation_aware_reference.py), 512 calibration rows.
    from activation_aware_reference import awq_ref, smooth_auto_ref
    for k in (768, 2048):
        x = rng.normal(size=(512, k)).astype(np.float32) * rng.uniform(0.2, 3, size=k).astype(np.float32)
        w = (rng.normal(size=(k, k)) * 0.02).astype(np.float32)
        med = timed({"swiftquant": lambda: sq.quantize_weight(w, bits=4, block_size=128, method="awq", activations=x),
                     "numpy": lambda: awq_ref(w, x, 4, 128, True)}, max(1, repeats // 3))
        row("awq 4-bit b128", f"{k}x{k}, 512 rows", med)
        act = np.abs(x).max(axis=0)
        med = timed({"swiftquant": lambda: sq.smooth_quant_scales(act, w, alpha="auto", x=x),
                     "numpy": lambda: smooth_auto_ref(act, w, x)}, max(1, repeats // 3))
        row("smoothquant auto", f"{k}x{k}, 512 rows", med)


def observer_state(rng, repeats: int) -> None:
    """Per-channel histogram observers (percentile, default 2048 bins): bytes held per channel after 300,000
    values per channel on 64 channels, against the dense 8 x 2048 int64 bins (131,072 bytes) plus the
    group's 12 bytes of range and exponent; then to_bytes / from_bytes of 4096 channels (2,000 N(0, 1) values
    each), against writing and reading the dense bins as one NumPy array (what format 1 held)."""
    dense = 12 + 8 * 8 * 2048
    t3 = rng.standard_t(3, size=(300_000, 64))
    t3[rng.random(t3.shape) < 1e-4] *= 50
    for name, x in (("N(0, 1)", rng.standard_normal((300_000, 64))), ("Laplace", rng.laplace(size=(300_000, 64))),
                    ("Student-t(3), 0.01 % x50", t3)):
        ob = sq.Observer("percentile", axis=1)
        for part in np.array_split(x.astype(np.float32), 15):
            ob.update(part)
        per, ser = ob.state_bytes / 64, len(ob.to_bytes()) / 64
        print(f"{'observer state':<24} {name:<26} {per:9,.0f} B/channel held, {ser:9,.0f} B/channel serialized"
              f"   [dense {dense:,} B: {dense / per:5.1f}x]")
    x = rng.standard_normal((2000, 4096)).astype(np.float32)
    ob = sq.Observer("percentile", axis=1).update(x)
    data = ob.to_bytes()
    bins = np.zeros((4096, 8 * 2048), np.int64)
    raw = bins.tobytes()
    row("observer to_bytes", "4096 channels", timed({"swiftquant": ob.to_bytes, "numpy dense tobytes": bins.tobytes},
                                                    repeats),
        f"   [{len(data) / 2**20:.1f} MiB; dense {len(raw) / 2**20:.0f} MiB]")
    row("observer from_bytes", "4096 channels", timed({"swiftquant": lambda: sq.Observer.from_bytes(data),
                                                      "numpy dense frombuffer+copy": lambda: np.frombuffer(raw, np.int64).copy()},
                                                     repeats))


def hessian_observer(rng, repeats: int) -> None:
    """HessianObserver.update of x float32 [4096, K] into an existing observer (S += x^T x in float64)
    against NumPy converting then multiplying (x64 = x.astype(np.float64); x64.T @ x64, which NumPy hands
    to OpenBLAS dsyrk) and against the product alone on pre-converted float64. Checked (to 1e-12 of
    sum |x_i x_j|) before timing."""
    n = 4096
    for k in (768, 2048, 4096):
        x = rng.normal(size=(n, k)).astype(np.float32)
        x64 = x.astype(np.float64)
        h = sq.HessianObserver(k).update(x)
        assert np.all(np.abs(h.sums() - x64.T @ x64) <= 1e-12 * (np.abs(x64).T @ np.abs(x64)))
        h = sq.HessianObserver(k)

        def numpy_convert():
            y = x.astype(np.float64)
            return y.T @ y

        reps = max(3, repeats // (2 if k == 4096 else 1))
        med = timed({"swiftquant": lambda: h.update(x), "numpy astype+syrk": numpy_convert,
                     "numpy f64 syrk": lambda: x64.T @ x64}, reps, pause=0.2)
        row("hessian update", f"{n}x{k}", med, f"   [{n * k * k / 2 / med['swiftquant'] / 1e9:.1f} GFMA/s of n K^2 / 2]")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="skip the largest GEMM and block-weight shapes")
    ap.add_argument("--only", choices=["block_weights", "gguf", "gptq", "hessian", "float", "observers"],
                    help="run one section")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    info = sq.cpu_info()
    print(f"swiftquant {sq.version()} (isa {info['isa']}, kernels {info['kernels']}), numpy {np.__version__}, "
          f"onnxruntime {ort_ops.ort.__version__ if ort_ops.available() else 'not installed'}; "
          f"{THREADS} threads; ratio = other / swiftquant (> 1: swiftquant faster)")
    if args.only == "block_weights":
        block_weights(rng, args.repeats, args.quick)
        return
    if args.only == "gguf":
        gguf_formats(rng, args.repeats)
        return
    if args.only == "hessian":
        hessian_observer(rng, args.repeats)
        return
    if args.only == "observers":
        observer_state(rng, args.repeats)
        return
    if args.only == "gptq":
        gptq(rng, args.repeats)
        return
    if args.only == "float":
        float_formats(rng, args.repeats)
        return
    elementwise(rng, args.repeats)
    observer_state(rng, args.repeats)
    float_formats(rng, args.repeats)
    entropy(rng, args.repeats)
    codebook(rng, args.repeats)
    shapes = [(1024, 1024, 1024), (1, 4096, 4096)] + ([] if args.quick else [(128, 4096, 4096), (2048, 2048, 2048)])
    gemm(rng, args.repeats, shapes)
    linear(rng, args.repeats)
    block_weights(rng, args.repeats, args.quick)
    gguf_formats(rng, args.repeats)
    hessian_observer(rng, args.repeats)
    gptq(rng, args.repeats)


if __name__ == "__main__":
    os.environ.setdefault("SWIFTQUANT_NUM_THREADS", str(THREADS))
    main()
