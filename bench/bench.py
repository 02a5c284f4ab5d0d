"""SwiftQuant vs NumPy (and ONNX Runtime when installed), side by side in one process.

Each row runs its contenders interleaved on the same data, reports the median of repeated runs and the
ratio other/SwiftQuant (> 1 means SwiftQuant is faster). Run: ./run-bench (installs ONNX Runtime into .venv first).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import swiftquant as sq


def timed(fns: dict, repeats: int) -> dict:
    """Median seconds per contender; runs are interleaved so drift hits every contender alike."""
    times = {name: [] for name in fns}
    for fn in fns.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(v) for name, v in times.items()}


def row(op: str, shape: str, med: dict) -> None:
    ours = med["swiftquant"]
    others = "  ".join(f"{name} {t * 1e3:9.2f} ms ({t / ours:6.2f}x)" for name, t in med.items() if name != "swiftquant")
    print(f"{op:<22} {shape:<16} swiftquant {ours * 1e3:9.2f} ms   {others}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"swiftquant {sq.version()}, numpy {np.__version__}; ratio = other / swiftquant (> 1: swiftquant faster)")

    x = rng.normal(size=16 * 2**20).astype(np.float32)
    p = sq.calibrate(x, dtype="int8")
    s, z = np.float32(p.scale), int(p.zero_point)
    q = sq.quantize(x, p)
    row("quantize int8", "16M", timed({
        "swiftquant": lambda: sq.quantize(x, p),
        "numpy": lambda: np.clip(np.rint(x / s) + z, -128, 127).astype(np.int8),
    }, args.repeats))
    row("dequantize int8", "16M", timed({
        "swiftquant": lambda: sq.dequantize(q, p),
        "numpy": lambda: (q.astype(np.int32) - z).astype(np.float32) * s,
    }, args.repeats))
    row("calibrate minmax", "16M", timed({
        "swiftquant": lambda: sq.calibrate(x),
        "numpy": lambda: (x.min(), x.max()),
    }, args.repeats))

    # Streaming histogram update: one observer fed 16M floats (its min/max pass included).
    def hist_update():
        sq.Observer(method="percentile").update(x)
    med = timed({"swiftquant": hist_update, "numpy histogram": lambda: np.histogram(x, 8192)}, args.repeats)
    row("observer update (hist)", "16M", med)
    print(f"{'':<22} {'':<16} observer update throughput {x.nbytes / med['swiftquant'] / 1e9:.2f} GB/s")

    x1m = rng.laplace(size=2**20).astype(np.float32)
    contenders = {"swiftquant": lambda: sq.calibrate(x1m, method="entropy", symmetric=True, num_bins=2048)}
    try:
        import contextlib
        import io

        from onnxruntime.quantization.calibrate import HistogramCollector

        def ort_entropy():
            hc = HistogramCollector("entropy", symmetric=True, num_bins=2048, num_quantized_bins=128,
                                    percentile=99.99, scenario="same")
            with contextlib.redirect_stdout(io.StringIO()):  # ORT prints progress
                hc.collect({"x": [x1m]})
                return hc.compute_collection_result()
        contenders["onnxruntime"] = ort_entropy
    except ImportError:
        print("(onnxruntime not installed: ./run-bench installs it)")
    row("calibrate entropy", "1M, 2048 bins", timed(contenders, max(3, args.repeats // 2)))

    n = 1024
    a = rng.integers(0, 256, (n, n), dtype=np.uint8)
    b = rng.integers(-128, 128, (n, n), dtype=np.int8)
    w = sq.pack(b)
    af, bf = a.astype(np.float32), b.astype(np.float32)
    row("matmul u8s8->s32", f"{n}^3 packed", timed({
        "swiftquant": lambda: sq.matmul(a, w, a_zero_point=128),
        "numpy f32": lambda: (af - 128) @ bf,
    }, max(3, args.repeats // 2)))


if __name__ == "__main__":
    main()
