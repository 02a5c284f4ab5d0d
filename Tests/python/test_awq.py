"""AWQ-style activation-aware quantization (quantize_weight(..., method="awq")): against the independent NumPy
transcription of the header's search (activation_aware_reference.awq_ref), never worse than RTN on the
calibration rows, the layer's fused input scales (x / s), the MatMulNBits refusal, and clear errors."""
import numpy as np
import pytest

import swiftquant as sq
from activation_aware_reference import awq_ref, awq_rows, deq_ref, output_error, rtn_ref


def layer_data(seed, n=48, k=160, rows=96):
    """A weight and activations with per-channel magnitudes spread over two decades and a few outlier
    channels (the situation AWQ is for), so the search has a clear optimum."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, k)).astype(np.float32)
    mag = np.exp(rng.standard_normal(k) * 1.2)
    mag[rng.choice(k, 4, replace=False)] *= 20
    x = (rng.standard_normal((rows, k)) * mag).astype(np.float32)
    return w, x


def clear_optimum(errors):
    """Relative gap between the best err(r) and the next best: the data is usable when it is well above the
    float32-vs-float64 noise of the two implementations (about 1e-6)."""
    e = np.sort(np.asarray(errors))
    return (e[1] - e[0]) / e[0]


CASES = [(4, 32, True, 1), (4, 64, False, 2), (3, 32, True, 3), (8, 128, True, 4), (2, 16, False, 5)]


@pytest.mark.parametrize("bits,bs,symmetric,seed", CASES)
def test_awq_matches_numpy_transcription(bits, bs, symmetric, seed):
    w, x = layer_data(seed)
    ref = awq_ref(w, x, bits, bs, symmetric)
    assert clear_optimum(ref["errors"]) > 1e-4, "test data at a near-tie of r"
    qw = sq.quantize_weight(w, bits, bs, symmetric, method="awq", activations=x)
    rep = qw.report
    assert rep["method"] == "awq" and rep["rows_used"] == x.shape[0]
    assert rep["ratio"] == ref["ratio"]
    np.testing.assert_allclose(qw.input_scales, ref["s"], rtol=1e-6)
    assert np.mean(qw.values == ref["codes"]) >= 0.99
    np.testing.assert_allclose(rep["error_before"], ref["errors"][0], rtol=1e-4)
    np.testing.assert_allclose(rep["error_after"], ref["error_after"], rtol=1e-4)
    signal = float(np.mean((x.astype(np.float64) @ w.astype(np.float64).T) ** 2))
    np.testing.assert_allclose(rep["relative_error_before"], ref["errors"][0] / signal, rtol=1e-4)
    np.testing.assert_allclose(rep["relative_error_after"], ref["error_after"] / signal, rtol=1e-4)
    # Blocks on whose clip the two agree (same scale) have the same codes and zero points.
    same = qw.scales == ref["scales"]
    assert np.mean(same) >= 0.98
    rows, blocks = np.nonzero(same)
    for o, b in zip(rows, blocks):
        np.testing.assert_array_equal(qw.values[o, b * bs:(b + 1) * bs], ref["codes"][o, b * bs:(b + 1) * bs])
    np.testing.assert_array_equal(qw.zero_points[same], ref["zero_points"][same])


def test_dequantize_is_the_effective_weight_and_codes_quantize_w_times_s():
    w, x = layer_data(7)
    qw = sq.quantize_weight(w, 4, 32, True, method="awq", activations=x)
    s = qw.input_scales
    codes_deq = deq_ref(qw.values, qw.scales, qw.zero_points, 32)
    np.testing.assert_array_equal(qw.dequantize(), (codes_deq / s).astype(np.float32))
    # The codes are the RTN rule on clamp(w * s) per block: with no clipping chosen they equal RTN(w * s).
    c, sc, z = rtn_ref((w * s).astype(np.float32), 4, 32, True)
    unclipped = np.all(qw.scales == sc, axis=1)
    np.testing.assert_array_equal(qw.values[unclipped], c[unclipped])


@pytest.mark.parametrize("symmetric", [True, False])
def test_never_worse_than_rtn_on_the_calibration_rows(symmetric):
    for seed in range(6):
        w, x = layer_data(100 + seed, n=32, k=128, rows=64)
        qw = sq.quantize_weight(w, 4, 32, symmetric, method="awq", activations=x)
        rtn = sq.quantize_weight(w, 4, 32, symmetric)
        before = output_error(x, rtn.dequantize(), w)
        after = output_error(x, qw.dequantize(), w)
        np.testing.assert_allclose(qw.report["error_before"], before, rtol=1e-4)
        np.testing.assert_allclose(qw.report["error_after"], after, rtol=1e-4)
        assert after <= before
        assert qw.report["relative_error_after"] <= qw.report["relative_error_before"]


def test_uniform_activations_keep_rtn():
    """Equal channel magnitudes make every s equal to 1 after normalization: the result is RTN (up to clipping)."""
    rng = np.random.default_rng(9)
    w = rng.standard_normal((16, 64)).astype(np.float32)
    x = np.sign(rng.standard_normal((32, 64))).astype(np.float32)  # |x| = 1 everywhere
    qw = sq.quantize_weight(w, 4, 32, True, method="awq", activations=x)
    np.testing.assert_array_equal(qw.input_scales, np.ones(64, np.float32))
    assert qw.report["ratio"] == 0.0


def test_more_than_512_rows_uses_512_spread_rows():
    w, x = layer_data(11, n=24, k=96, rows=777)
    qw = sq.quantize_weight(w, 4, 32, True, method="awq", activations=x)
    assert qw.report["rows_used"] == 512
    rows = awq_rows(x)
    np.testing.assert_array_equal(rows, x[[i * 777 // 512 for i in range(512)]])
    sub = sq.quantize_weight(w, 4, 32, True, method="awq", activations=rows)
    np.testing.assert_array_equal(qw.values, sub.values)
    np.testing.assert_array_equal(qw.input_scales, sub.input_scales)
    assert qw.report == sub.report | {"rows_used": 512}
    # Leading dimensions are rows.
    lead = sq.quantize_weight(w, 4, 32, True, method="awq", activations=rows.reshape(8, 64, 96))
    np.testing.assert_array_equal(lead.values, sub.values)


@pytest.mark.parametrize("activation", ["per_block", "none"])
def test_layer_divides_its_input_by_the_input_scales(activation):
    w, x = layer_data(13, n=40, k=96, rows=20)
    qw = sq.quantize_weight(w, 4, 32, True, method="awq", activations=x)
    bias = np.linspace(-1, 1, 40).astype(np.float32)
    layer = sq.QuantizedLinear(qw, bias, activation=activation)
    assert layer.input_scales is qw.input_scales
    plain = sq.QuantizedLinear(sq.QuantizedWeight(qw.values, qw.scales, qw.zero_points, bits=4, block_size=32),
                               bias, activation=activation)
    xs = (x / qw.input_scales).astype(np.float32)
    y = layer(x)
    np.testing.assert_array_equal(y, plain(xs))  # the division, then the unscaled layer's arithmetic
    ref = xs.astype(np.float64) @ deq_ref(qw.values, qw.scales, qw.zero_points, 32).astype(np.float64).T + bias
    tol = 2e-2 if activation == "per_block" else 1e-4
    assert np.max(np.abs(y - ref)) <= tol * np.max(np.abs(ref))
    np.testing.assert_allclose(y, x @ qw.dequantize().T + bias, rtol=0, atol=tol * np.max(np.abs(ref)))
    y3 = layer(x.reshape(4, 5, 96))
    np.testing.assert_array_equal(y3.reshape(20, 40), y)


def test_layer_input_scale_overflow_is_an_error():
    qw = sq.QuantizedWeight(np.full((2, 32), 8, np.uint8), np.ones((2, 1), np.float32), bits=4, block_size=32,
                            input_scales=np.full(32, 1e-30, np.float32))
    layer = sq.QuantizedLinear(qw, activation="none")
    with pytest.raises(sq.SwiftQuantError, match="overflows"):
        layer(np.full((1, 32), 1e10, np.float32))
    np.testing.assert_array_equal(layer(np.ones((1, 32), np.float32)), np.zeros((1, 2), np.float32))


def test_to_matmul_nbits_refuses_input_scales():
    w, x = layer_data(17, n=16, k=64, rows=16)
    qw = sq.quantize_weight(w, 4, 32, True, method="awq", activations=x)
    with pytest.raises(sq.SwiftQuantError, match="input_scales.*previous operation"):
        qw.to_matmul_nbits()
    nb = qw.to_matmul_nbits(allow_input_scales=True)
    plain = sq.QuantizedWeight(qw.values, qw.scales, qw.zero_points, bits=4, block_size=32).to_matmul_nbits()
    np.testing.assert_array_equal(nb["B"], plain["B"])
    np.testing.assert_array_equal(nb["scales"], plain["scales"])


def test_bad_arguments_are_clear_errors():
    w, x = layer_data(19, n=8, k=64, rows=8)
    awq = dict(method="awq")
    with pytest.raises(sq.SwiftQuantError, match="needs activations"):
        sq.quantize_weight(w, 4, 32, **awq)
    with pytest.raises(sq.SwiftQuantError, match=r"activations must have shape \[\.\.\., 64\]"):
        sq.quantize_weight(w, 4, 32, activations=x[:, :63], **awq)
    with pytest.raises(sq.SwiftQuantError, match="no rows"):
        sq.quantize_weight(w, 4, 32, activations=np.zeros((0, 64), np.float32), **awq)
    bad = x.copy()
    bad[3, 5] = np.nan
    with pytest.raises(sq.SwiftQuantError, match=r"activations x: element 197 \(row 3, column 5\) is nan"):
        sq.quantize_weight(w, 4, 32, activations=bad, **awq)
    bad[3, 5] = np.inf
    with pytest.raises(sq.SwiftQuantError, match="SQ_ERROR_NONFINITE"):
        sq.quantize_weight(w, 4, 32, activations=bad, **awq)
    wn = w.copy()
    wn[1, 2] = np.nan
    with pytest.raises(sq.SwiftQuantError, match=r"w: element 66 \(row 1, column 2\) is nan"):
        sq.quantize_weight(wn, 4, 32, activations=x, **awq)
    with pytest.raises(TypeError, match="activations"):
        sq.quantize_weight(w, 4, 32, activations=np.array([["a"] * 64]), **awq)
    with pytest.raises(sq.SwiftQuantError, match=r"shape \[0, 64\]; AWQ needs n, k >= 1"):
        sq.quantize_weight(np.zeros((0, 64), np.float32), 4, 32, activations=x, **awq)
    with pytest.raises(sq.SwiftQuantError, match="block_size"):
        sq.quantize_weight(w, 4, 24, activations=x, **awq)
    with pytest.raises(sq.SwiftQuantError, match="do not apply|does not apply"):
        sq.quantize_weight(w, 4, 32, activations=x, hessian=np.eye(64))
    # GPTQ's options at their default values are still options of another method: an error, not ignored.
    with pytest.raises(sq.SwiftQuantError, match="damp does not apply to method='awq'"):
        sq.quantize_weight(w, 4, 32, activations=x, damp=0.01, **awq)
    with pytest.raises(sq.SwiftQuantError, match="act_order does not apply to method='rtn'"):
        sq.quantize_weight(w, 4, 32, act_order=False)
    # Inputs are not modified.
    x0, w0 = x.copy(), w.copy()
    sq.quantize_weight(w, 4, 32, activations=x, **awq)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


def test_results_do_not_depend_on_the_thread_count(tmp_path):
    import os
    import subprocess
    import sys
    code = (
        "import numpy as np, swiftquant as sq, sys\n"
        "rng = np.random.default_rng(3)\n"
        "w = rng.standard_normal((64, 256)).astype(np.float32)\n"
        "x = (rng.standard_normal((300, 256)) * np.exp(rng.standard_normal(256))).astype(np.float32)\n"
        "q = sq.quantize_weight(w, 4, 32, True, method='awq', activations=x)\n"
        "s = sq.smooth_quant_scales(None, w, 'auto', x=x)\n"
        "np.savez(sys.argv[1], v=q.values, s=q.input_scales, e=q.report['error_after'], ss=s, a=s.alpha, se=s.error)\n"
    )
    out = {}
    for threads in ("1", "3"):
        env = dict(os.environ, SWIFTQUANT_NUM_THREADS=threads)
        path = str(tmp_path / f"t{threads}.npz")
        subprocess.run([sys.executable, "-c", code, path], check=True, env=env)
        out[threads] = np.load(path)
    for key in ("v", "s", "e", "ss", "a", "se"):
        np.testing.assert_array_equal(out["1"][key], out["3"][key])
