#!/usr/bin/env python3
"""SwiftQuant demo: int8 quantization from one multiplication to a small network.

  (a) the worked example of the quantization notes: 0.3 x 0.5 = 0.15 computed in int8, step by step;
  (b) the notes' symmetric example: why 10 values with two outliers waste most int8 levels;
  (c) an MLP (64 -> 64 ReLU -> 10) trained on scikit-learn's digits, run in int8 with each calibration method,
      sq.analyze of its hidden activations and two plots written to demo-output/.

Every number printed is computed by swiftquant calls (calibrate, quantize, matmul, qlinear_matmul,
matmul_float, dequantize); nothing is typed in. Run: ./run-demo  (or .venv/bin/python examples/demo.py).
"""
import numpy as np

import swiftquant as sq


def item(a):
    """The single value of a one-element array (a per-tensor scale or zero point, a 1x1 matrix)."""
    return np.asarray(a).item()


def rule(title):
    print()
    print(title)
    print("-" * len(title))


# ------------------------------------------------------------------------------------------------------
# (a) The worked example: 0.3 * 0.5 through int8
# ------------------------------------------------------------------------------------------------------
def worked_example():
    rule("(a) The notes' worked example: 0.3 x 0.5 = 0.15 computed in int8")
    # The three matrices of the notes, reduced to their ranges: A holds 0.3, B holds 0.5, and C = A x B
    # holds the product (its range comes from calibration runs in float).
    ranges = {"A": [-1.2, 1.0], "B": [-1.0, 1.2], "C": [-0.8, 2.0]}
    params = {name: sq.calibrate(np.array(r, np.float32), dtype="int8") for name, r in ranges.items()}
    (s1, z1), (s2, z2), (s3, z3) = [(item(p.scale), item(p.zero_point)) for p in params.values()]

    print("calibrate, int8 asymmetric (qmin -128, qmax 127): S = (rmax - rmin) / 255, Z = round(qmin - rmin / S)")
    for i, (name, (lo, hi)) in enumerate(ranges.items(), 1):
        s, z = item(params[name].scale), item(params[name].zero_point)
        print(f"  {name} in [{lo:4.1f}, {hi:3.1f}]  S{i} = {s:.9f}  Z{i} = {z:4d}"
              f"   ({hi - lo:.1f} / 255 = {s:.9f};  -128 + {-lo:.1f} / S{i} = {-128 - lo / s:7.3f} -> {z})")

    a = np.array([[0.3]], np.float32)
    b = np.array([[0.5]], np.float32)
    qa = sq.quantize(a, params["A"])
    qb = sq.quantize(b, params["B"])
    print("quantize, q = round(x / S) + Z (round half to even):")
    print(f"  0.3 -> {item(qa):3d}   0.3 / S1 = {0.3 / s1:6.3f} -> {round(0.3 / s1):2d}, plus Z1 = {z1}")
    print(f"  0.5 -> {item(qb):3d}   0.5 / S2 = {0.5 / s2:6.3f} -> {round(0.5 / s2):2d}, plus Z2 = {z2}")

    c = sq.matmul(qa, qb, a_zero_point=z1, b_zero_point=z2)
    print("integer product, exact int32 (sq.matmul = ONNX MatMulInteger):")
    print(f"  C = (qa - Z1) * (qb - Z2) = ({item(qa)} - {z1}) * ({item(qb)} - ({z2})) = {item(c)}")

    m = np.float32(np.float32(np.float32(s1) * np.float32(s2)) / np.float32(s3))
    v = item(c) * float(m) + z3
    print("requantize into C's parameters (sq.qlinear_matmul = ONNX QLinearMatMul):")
    print(f"  M = S1 * S2 / S3 = {float(m):.9f}   (one float multiplier replaces three scales)")
    print(f"  C * M + Z3 = {item(c)} * {float(m):.9f} + ({z3}) = {v:.4f}, then rounded to an integer")

    true = float(np.float32(0.3) * np.float32(0.5))
    print(f"  {'rounding':<13} {'y':>4}   {'(y - Z3) * S3':>13}   {'error vs ' + format(true, '.2f'):>13}")
    for rounding, note in (("floor", "the notes' 0.142745"), ("nearest_even", "closer to 0.15")):
        y = sq.qlinear_matmul(qa, params["A"], qb, params["B"], params["C"], rounding=rounding)
        r = item(sq.dequantize(y, params["C"]))
        print(f"  {rounding:<13} {item(y):4d}   {r:13.6f}   {r - true:+13.6f}   {note}")
    print(f"  One step of C's grid is S3 = {s3:.6f}; nearest rounding keeps the error within half a step.")


# ------------------------------------------------------------------------------------------------------
# (b) The notes' symmetric example: outliers waste the int8 levels
# ------------------------------------------------------------------------------------------------------
def symmetric_example():
    rule("(b) The notes' symmetric example: two outliers and eight small values")
    x = np.array([10, -10, 0.11, 0.21, 0.15, 0.05, -0.14, -0.22, -0.08, -0.35], np.float32)
    p = sq.calibrate(x, dtype="int8", symmetric=True)
    s = item(p.scale)
    q = sq.quantize(x, p)
    d = sq.dequantize(q, p)
    print(f"calibrate symmetric int8: S = 2 * max|x| / 254 = {s:.7f}, Z = {item(p.zero_point)}")
    print("  (narrow range [-127, 127] so that -q is exact; the notes divide by 255: 20/255 = 0.0784314)")
    notes = [127, -127, 1, 3, 2, 1, -2, -3, -1, -5]  # the notes' Int8_x, for comparison
    print(f"  {'x':>7}  {'x / S':>8}  {'q':>5}  {'notes':>5}  {'(q - Z) * S':>11}  {'error':>9}")
    for xi, qi, ni, di in zip(x, q, notes, d):
        print(f"  {xi:7.2f}  {xi / s:8.3f}  {int(qi):5d}  {ni:5d}  {di:11.5f}  {di - xi:+9.5f}")
    print(f"  0.05 and 0.11 both quantize to {int(q[5])} (= {d[5]:.5f}): one step is {s:.4f}, wider than their gap.")
    levels = np.unique(q)
    small = q[2:]
    print(f"  {len(levels)} of {2 * p.qmax + 1} levels are used; the eight small values all fall in [{small.min()}, {small.max()}].")
    print(f"  -0.35 / S = {x[9] / s:.2f} rounds to {int(q[9])} (the notes print -5; with their S = 20/255 it is "
          f"{-0.35 / (20 / 255):.2f}, also -4).")


# ------------------------------------------------------------------------------------------------------
# (c) An MLP trained on scikit-learn's digits, run in int8 through SwiftQuant
# ------------------------------------------------------------------------------------------------------
def train_mlp(x, y, rng, hidden=64, epochs=60, lr=0.01, batch=64):
    """64 -> hidden ReLU -> 10, softmax cross-entropy, Adam; weights stored [in, out]."""
    w1 = (rng.standard_normal((x.shape[1], hidden)) * np.sqrt(2 / x.shape[1])).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = (rng.standard_normal((hidden, 10)) * np.sqrt(1 / hidden)).astype(np.float32)
    b2 = np.zeros(10, np.float32)
    ps = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    t = 0
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(x)), len(x) // batch):
            xb, yb = x[idx], y[idx]
            h = np.maximum(xb @ w1 + b1, 0)
            z = h @ w2 + b2
            pr = np.exp(z - z.max(1, keepdims=True)); pr /= pr.sum(1, keepdims=True)
            pr[np.arange(len(yb)), yb] -= 1; pr /= len(yb)
            dh = (pr @ w2.T) * (h > 0)
            grads = [xb.T @ dh, dh.sum(0), h.T @ pr, pr.sum(0)]
            t += 1
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                ps[i] -= (lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)).astype(np.float32)
    return ps


class Int8MLP:
    """int8 input, int8 weights per output channel (symmetric), uint8 hidden with zero point 0 (ReLU by
    saturation), float32 logits. Bias 1 rides on an extra input column at qmax with weight row b1 / c."""

    def __init__(self, w1, b1, w2, b2, calibration_batches, method):
        ob_x = sq.Observer(method, dtype="int8")
        ob_h = sq.Observer(method, dtype="uint8")
        for batch in calibration_batches:
            ob_x.update(batch)
            ob_h.update(np.maximum(batch @ w1 + b1, 0.0).astype(np.float32))
        self.px = ob_x.qparams()
        ph = ob_h.qparams()
        zh = item(ph.zero_point)
        # Keep zero point 0 so that saturation at 0 is the ReLU: same upper end, [0, (255 - Z) S].
        self.ph = ph if zh == 0 else sq.QParams((255 - zh) * item(ph.scale) / 255, 0, "uint8")
        self.bias_q = self.px.qmax
        c = (self.bias_q - item(self.px.zero_point)) * item(self.px.scale)
        w1b = np.vstack([w1, b1[None, :] / np.float32(c)]).astype(np.float32)
        self.pw1 = sq.calibrate(w1b, dtype="int8", symmetric=True, axis=1)
        self.pw2 = sq.calibrate(w2, dtype="int8", symmetric=True, axis=1)
        self.w1 = sq.pack(sq.quantize(w1b, self.pw1), self.pw1)
        self.w2 = sq.pack(sq.quantize(w2, self.pw2), self.pw2)
        self.b2 = b2

    def __call__(self, x):
        qx = sq.quantize(x, self.px)
        qx = np.hstack([qx, np.full((len(qx), 1), self.bias_q, qx.dtype)])
        qh = sq.qlinear_matmul(qx, self.px, self.w1, None, self.ph)
        return sq.matmul_float(qh, self.ph, self.w2, None, bias=self.b2)


def mlp_example():
    import os
    from sklearn.datasets import load_digits
    rule("(c) An MLP (64 -> 64 ReLU -> 10) trained on scikit-learn's digits: float32 vs int8")
    rng = np.random.default_rng(0)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target
    order = rng.permutation(len(x))
    tr, ca, te = order[:1100], order[1100:1400], order[1400:]
    w1, b1, w2, b2 = train_mlp(x[tr], y[tr], rng)
    calib = np.array_split(x[ca], 5)
    ref = np.maximum(x[te] @ w1 + b1, 0) @ w2 + b2
    acc_f = (ref.argmax(1) == y[te]).mean()
    print(f"train {len(tr)}, calibration {len(ca)} (5 batches), test {len(te)} samples")
    h_te = np.maximum(x[te] @ w1 + b1, 0).astype(np.float32)
    print(f"  {'calibration':<12} {'float32 acc':>11} {'int8 acc':>9} {'top-1 agree':>11}"
          f" {'hidden SQNR':>11} {'hidden clipped':>14} {'logit RMS err':>13}")
    errs, clipped = {}, {}
    for method in ("minmax", "percentile", "entropy", "mse"):
        net = Int8MLP(w1, b1, w2, b2, calib, method)
        logits = net(x[te])
        hid = sq.error_report(h_te, net.ph)  # the hidden layer's own quantization error on the test set
        errs[method] = float(np.sqrt(np.mean((logits.astype(np.float64) - ref) ** 2)))
        clipped[method] = hid.clipped_fraction
        print(f"  {method:<12} {acc_f:11.2%} {(logits.argmax(1) == y[te]).mean():9.2%} "
              f"{(logits.argmax(1) == ref.argmax(1)).mean():11.2%} {hid.sqnr_db:8.2f} dB "
              f"{hid.clipped_fraction:14.2%} {errs[method]:13.4f}")
    best, worst = min(errs, key=errs.get), max(errs, key=errs.get)
    print(f"  Accuracy barely moves on {len(te)} easy test digits; the logit error separates the methods: "
          f"{best} is closest to float32, {worst} is {errs[worst] / errs[best]:.1f}x further "
          f"(it clips {clipped[worst]:.2%} of the hidden activations).")
    h = np.maximum(x[ca] @ w1 + b1, 0).astype(np.float32)
    a = sq.analyze(h, axis=1)
    print()
    print("sq.analyze(hidden activations, axis=1):")
    print(a)
    # 4-bit weights: uniform levels against a fitted codebook (non-uniform, dense where the weights are).
    uni = sq.error_report(w1, sq.calibrate(w1, method="mse", dtype="int4", symmetric=True, axis=1))
    lloyd = sq.error_report(w1, sq.fit_codebook(w1, bits=4, axis=1))
    print()
    print(f"W1 at 4 bits per output channel: int4 (MSE-calibrated) SQNR {uni.sqnr_db:.2f} dB, "
          f"Lloyd-Max codebook {lloyd.sqnr_db:.2f} dB (MSE {uni.mse / lloyd.mse:.2f}x lower)")
    os.makedirs("demo-output", exist_ok=True)
    p1 = os.path.join("demo-output", "hidden_histogram.png")
    sq.plot_histogram(h, sq.calibrate(h, method="mse", dtype="uint8")).savefig(p1)
    p2 = os.path.join("demo-output", "w1_sqnr_per_channel.png")
    sq.plot_sqnr_per_channel(sq.error_report(w1, sq.calibrate(w1, symmetric=True, axis=1))).savefig(p2)
    p3 = os.path.join("demo-output", "w1_codebook4.png")
    sq.plot_histogram(w1, sq.fit_codebook(w1, bits=4)).savefig(p3)
    print(f"wrote {p1}, {p2}, {p3}")


def main():
    print(f"SwiftQuant {getattr(sq, '__version__', '?')} demo")
    worked_example()
    symmetric_example()
    mlp_example()


if __name__ == "__main__":
    main()
