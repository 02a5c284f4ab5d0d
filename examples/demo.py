#!/usr/bin/env python3
"""SwiftQuant demo: int8 quantization from one multiplication to a small network.

  (a) the worked example of the quantization notes: 0.3 x 0.5 = 0.15 computed in int8, step by step;
  (b) the notes' symmetric example: why 10 values with two outliers waste most int8 levels;
  (c) a two-layer MLP (64 -> 128 ReLU -> 10) run in float32 and in int8 through SwiftQuant, with weights
      quantized per output channel and, for contrast, per tensor.

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
# (c) A two-layer MLP in float32 and in int8
# ------------------------------------------------------------------------------------------------------
D_IN, D_HID, D_OUT = 64, 128, 10


def make_model(rng):
    """Random weights with output channels of very different magnitudes (as after folding batch norm)."""
    gain1 = np.exp(rng.uniform(np.log(0.05), np.log(2.0), D_HID)).astype(np.float32)
    w1 = (rng.standard_normal((D_IN, D_HID)) / np.sqrt(D_IN) * gain1).astype(np.float32)
    b1 = (0.1 * rng.standard_normal(D_HID) * gain1).astype(np.float32)
    gain2 = np.exp(rng.uniform(np.log(0.2), np.log(2.0), D_OUT)).astype(np.float32)
    w2 = (rng.standard_normal((D_HID, D_OUT)) / np.sqrt(D_HID) / np.sqrt(gain1)[:, None] * gain2).astype(np.float32)
    b2 = (0.1 * rng.standard_normal(D_OUT)).astype(np.float32)
    return w1, b1, w2, b2


def make_data(rng, n):
    return rng.normal(0.3, 1.0, (n, D_IN)).astype(np.float32)


def mlp_float(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0.0).astype(np.float32)
    return (h @ w2 + b2).astype(np.float32), h


class Int8MLP:
    """The same MLP in int8: int8 input, int8 weights, uint8 hidden activations, float32 logits.

    Layer 1 (sq.qlinear_matmul) outputs uint8 with zero point 0 over the calibrated range [0, max h]: the
    saturation at 0 *is* the ReLU. QLinearMatMul has no bias input, so the bias rides on an extra input
    column held at the constant quantized value qmax (real value c = (qmax - Zx) * Sx) with weight row b1 / c.
    Layer 2 (sq.matmul_float) returns C * Sh * Sw[n] + b2[n] in float32. Both weight matrices are packed once.
    """

    def __init__(self, w1, b1, w2, b2, calibration_batches, per_channel):
        axis = 1 if per_channel else None  # W is [K, N]: output channel n is column n
        # Input activations: asymmetric int8, observed over the calibration batches.
        ob_x = sq.Observer(dtype="int8")
        for batch in calibration_batches:
            ob_x.update(batch)
        self.px = ob_x.qparams()
        self.bias_q = self.px.qmax
        c = (self.bias_q - item(self.px.zero_point)) * item(self.px.scale)
        w1b = np.vstack([w1, b1[None, :] / np.float32(c)]).astype(np.float32)  # [K + 1, N]

        self.pw1 = sq.calibrate(w1b, dtype="int8", symmetric=True, axis=axis)
        self.pw2 = sq.calibrate(w2, dtype="int8", symmetric=True, axis=axis)
        self.w1 = sq.pack(sq.quantize(w1b, self.pw1), self.pw1)
        self.w2 = sq.pack(sq.quantize(w2, self.pw2), self.pw2)
        self.b2 = b2

        # Hidden activations (after ReLU): uint8 over [0, max], observed on the float model.
        ob_h = sq.Observer(dtype="uint8")
        for batch in calibration_batches:
            ob_h.update(np.maximum(batch @ w1 + b1, 0.0).astype(np.float32))
        self.ph = ob_h.qparams()

    def __call__(self, x):
        qx = sq.quantize(x, self.px)
        qx = np.hstack([qx, np.full((len(qx), 1), self.bias_q, qx.dtype)])
        qh = sq.qlinear_matmul(qx, self.px, self.w1, None, self.ph)  # uint8, ReLU by saturation
        return sq.matmul_float(qh, self.ph, self.w2, None, bias=self.b2), qh


def mlp_example():
    rule("(c) A two-layer MLP (64 -> 128 ReLU -> 10): float32 vs int8 through SwiftQuant")
    rng = np.random.default_rng(0)
    w1, b1, w2, b2 = make_model(rng)
    calibration = [make_data(rng, 128) for _ in range(8)]
    x = make_data(rng, 4000)
    ref, h_ref = mlp_float(x, w1, b1, w2, b2)
    top1_ref = ref.argmax(axis=1)

    rows = []
    for label, per_channel in (("per output channel", True), ("per tensor", False)):
        model = Int8MLP(w1, b1, w2, b2, calibration, per_channel)
        logits, qh = model(x)
        h = sq.dequantize(qh, model.ph)
        rows.append((label, model, logits, h))

    m = rows[0][1]
    print(f"calibration: {len(calibration)} batches of {len(calibration[0])} samples (sq.Observer, min/max)")
    print(f"  input   int8  asymmetric  S = {item(m.px.scale):.5f}  Z = {item(m.px.zero_point):4d}")
    print(f"  hidden  uint8 [0, max h]  S = {item(m.ph.scale):.5f}  Z = {item(m.ph.zero_point):4d}"
          "   (ReLU folded into the saturation at 0)")
    for name, attr in (("W1", "pw1"), ("W2", "pw2")):
        pc, pt = getattr(rows[0][1], attr), getattr(rows[1][1], attr)
        print(f"  {name} int8 symmetric  per channel: {pc.scale.size:3d} scales in "
              f"[{pc.scale.min():.2e}, {pc.scale.max():.2e}]   per tensor: S = {item(pt.scale):.2e}")
    f32_bytes = w1.nbytes + b1.nbytes + w2.nbytes + b2.nbytes
    i8_bytes = (w1.size + b1.size + w2.size) + b2.nbytes + 4 * (m.pw1.scale.size + m.pw2.scale.size)
    print(f"  weights: {f32_bytes / 1024:.1f} KiB in float32 -> {i8_bytes / 1024:.1f} KiB in int8 (with scales)")

    print(f"\n{len(x)} test samples, int8 vs float32:")
    print(f"  {'weights':<20} {'rel. error':>10} {'max |error|':>11} {'top-1 agreement':>20} "
          f"{'hidden rel. error':>17}")
    for label, _, logits, h in rows:
        rel = np.linalg.norm(logits - ref) / np.linalg.norm(ref)
        max_err = np.abs(logits - ref).max()
        agree = logits.argmax(axis=1) == top1_ref
        h_rel = np.linalg.norm(h - h_ref) / np.linalg.norm(h_ref)
        print(f"  {label:<20} {rel:10.4f} {max_err:11.4f} {agree.mean():13.2%} "
              f"({agree.sum():4d}) {h_rel:17.4f}")
    print("  rel. error = ||int8 - float32|| / ||float32|| over all logits; top-1 = argmax agreement.")
    print("  One scale per output channel fits each channel's own range; one scale for the whole tensor lets the")
    print("  largest channel set the step, so small channels get only a few levels.")


def main():
    print(f"SwiftQuant {getattr(sq, '__version__', '?')} demo")
    worked_example()
    symmetric_example()
    mlp_example()


if __name__ == "__main__":
    main()
