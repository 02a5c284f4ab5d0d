"""Block-quantized weights: sq.quantize_weight against ONNX Runtime's own MatMulNBits quantizer and an
independent NumPy transcription, the MatMulNBits layout both ways, and sq.QuantizedLinear on block weights
(per_block and none) against NumPy formulas and ONNX Runtime's MatMulNBits operator."""
import os
import subprocess
import sys

import numpy as np
import pytest

import swiftquant as sq

ort = pytest.importorskip("onnxruntime")
from onnxruntime.capi import _pybind_state as ort_c  # noqa: E402


def _roundf(v):
    """C roundf: half away from zero."""
    return np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))


def np_quantize_weight(w, bits, bs, symmetric):
    """An independent transcription of the documented rule (swiftquant.h, "Block-quantized weights")."""
    w = w.astype(np.float32)
    n, k = w.shape
    kb = -(-k // bs)
    top = np.float32(2 ** bits - 1)
    mid = np.float32(2 ** (bits - 1))
    codes = np.zeros((n, k), np.uint8)
    scales = np.zeros((n, kb), np.float32)
    zps = np.zeros((n, kb), np.uint8)
    for b in range(kb):
        blk = w[:, b * bs:(b + 1) * bs]
        lo, hi = blk.min(axis=1), blk.max(axis=1)
        if symmetric:
            v = np.where(np.abs(hi) > np.abs(lo), hi, lo)
            s = (v / -mid).astype(np.float32)
            z = np.full(n, mid, np.float32)
        else:
            lo, hi = np.minimum(lo, 0), np.maximum(hi, 0)
            s = ((hi - lo) / top).astype(np.float32)
            with np.errstate(divide="ignore", invalid="ignore"):
                zf = np.where(s != 0, np.float32(0) - lo / s, lo).astype(np.float32)
            z = np.where(zf < 0, 0, np.where(zf > top, top, _roundf(zf))).astype(np.float32)
        with np.errstate(divide="ignore"):
            r = np.where(s != 0, np.float32(1) / s, np.float32(0)).astype(np.float32)
        q = _roundf((blk * r[:, None]).astype(np.float32) + z[:, None])
        codes[:, b * bs:(b + 1) * bs] = np.clip(q, 0, top).astype(np.uint8)
        scales[:, b] = s
        zps[:, b] = z.astype(np.uint8)
    return codes, scales, zps


def np_dequantize(codes, scales, zps, bs):
    k = codes.shape[1]
    idx = np.arange(k) // bs
    return ((codes.astype(np.int32) - zps[:, idx].astype(np.int32)).astype(np.float32) * scales[:, idx]).astype(np.float32)


def ort_quantize(w, bits, bs, symmetric):
    """ONNX Runtime's MatMulNBits quantizer: B [N, kb, blob], scales [N * kb], packed zero points."""
    n, k = w.shape
    kb = -(-k // bs)
    q = np.zeros((n, kb, bs * bits // 8), np.uint8)
    s = np.zeros(n * kb, np.float32)
    z = np.zeros(n * ((kb * bits + 7) // 8), np.uint8)
    fn = {2: ort_c.quantize_matmul_2bits, 4: ort_c.quantize_matmul_4bits, 8: ort_c.quantize_matmul_8bits}[bits]
    fn(q, np.ascontiguousarray(w.T), s, z, bs, n, k, symmetric)
    return q, s.reshape(n, kb), z


SHAPES = [(1, 16), (7, 100), (32, 128), (33, 300), (64, 257)]


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("bits,bs", [(2, 16), (2, 64), (4, 16), (4, 32), (4, 64), (4, 128), (8, 32), (8, 128)])
def test_quantize_weight_matches_onnxruntime_bit_for_bit(bits, bs, symmetric):
    rng = np.random.default_rng(bits * 1000 + bs + symmetric)
    for n, k in SHAPES:
        if k % (8 // bits):  # ORT writes a partial last byte's unused fields from a stale register
            continue
        w = (rng.standard_normal((n, k)) * rng.uniform(0.01, 3, (n, 1))).astype(np.float32)
        w[0, :5] = [0, 0.5, -0.5, 2, -2]  # ties of magnitude
        qw = sq.quantize_weight(w, bits=bits, block_size=bs, symmetric=symmetric)
        nb = qw.to_matmul_nbits()
        q, s, z = ort_quantize(w, bits, bs, symmetric)
        np.testing.assert_array_equal(nb["B"], q)
        np.testing.assert_array_equal(nb["scales"].view(np.uint32), s.view(np.uint32))
        if symmetric:
            assert nb["zero_points"] is None
        else:
            np.testing.assert_array_equal(nb["zero_points"].ravel(), z)


def test_two_bit_codes_match_onnxruntime():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((9, 64)).astype(np.float32)
    for symmetric in (True, False):
        qw = sq.quantize_weight(w, bits=2, block_size=16, symmetric=symmetric)
        q, s, _ = ort_quantize(w, 2, 16, symmetric)
        codes = np.stack([(q >> (2 * i)) & 3 for i in range(4)], axis=-1).reshape(9, 64)
        np.testing.assert_array_equal(qw.values, codes)
        np.testing.assert_array_equal(qw.scales, s)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_quantize_weight_matches_numpy_transcription(bits, symmetric):
    rng = np.random.default_rng(bits + 10 * symmetric)
    for n, k in SHAPES + [(3, 1), (2, 17)]:
        for bs in (16, 64):
            w = rng.standard_normal((n, k)).astype(np.float32) * 5
            w[:, : min(k, 16)] *= 0  # an all-zero block: scale 0, codes at the zero point
            qw = sq.quantize_weight(w, bits=bits, block_size=bs, symmetric=symmetric)
            codes, scales, zps = np_quantize_weight(w, bits, bs, symmetric)
            np.testing.assert_array_equal(qw.values, codes)
            np.testing.assert_array_equal(qw.scales, scales)
            np.testing.assert_array_equal(qw.zero_points, zps)
            np.testing.assert_array_equal(qw.dequantize(), np_dequantize(codes, scales, zps, bs))
            if not symmetric:
                # The grid covers the block's range up to the zero point's rounding: within one step of w.
                step = scales[:, np.arange(k) // bs]
                assert np.all(np.abs(qw.dequantize() - w) <= step * (1 + 1e-5) + 1e-30)


def test_symmetric_rule_by_hand():
    # Block [3, -1, 0, ...]: v = 3 (|3| > |-1|), scale = 3 / -8 = -0.375; 3 -> code 0, -1 -> round(10.67) = 11.
    w = np.zeros((1, 16), np.float32)
    w[0, :2] = [3, -1]
    qw = sq.quantize_weight(w, bits=4, block_size=16, symmetric=True)
    assert qw.scales[0, 0] == np.float32(-0.375)
    assert list(qw.values[0, :3]) == [0, 11, 8] and qw.zero_points[0, 0] == 8
    assert qw.dequantize()[0, 0] == 3.0
    # A tie of magnitude takes the minimum: [2, -2] -> scale 0.25, 2 -> 16 clamped to 15, -2 -> 0.
    w[0, :2] = [2, -2]
    qw = sq.quantize_weight(w, bits=4, block_size=16, symmetric=True)
    assert qw.scales[0, 0] == 0.25 and list(qw.values[0, :2]) == [15, 0]


def test_matmul_nbits_layout_and_round_trip():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((5, 70)).astype(np.float32)  # kb = 3 (partial last block), odd kb
    qw = sq.quantize_weight(w, bits=4, block_size=32, symmetric=False)
    nb = qw.to_matmul_nbits()
    assert nb["B"].shape == (5, 3, 16) and nb["zero_points"].shape == (5, 2)
    assert (nb["K"], nb["N"], nb["bits"], nb["block_size"]) == (70, 5, 4, 32)
    # element 2i in the low nibble, elements past K zero; block 2i's zero point in the low nibble, pad 8
    assert nb["B"][0, 0, 0] == qw.values[0, 0] | (qw.values[0, 1] << 4)
    assert nb["B"][0, 2, 3] == 0 and nb["B"][0, 2, 2] == qw.values[0, 68] | (qw.values[0, 69] << 4)
    assert nb["zero_points"][1, 0] == qw.zero_points[1, 0] | (qw.zero_points[1, 1] << 4)
    assert nb["zero_points"][1, 1] >> 4 == 8
    back = sq.QuantizedWeight.from_matmul_nbits(nb["B"], nb["scales"].ravel(), nb["zero_points"], K=70, N=5, bits=4,
                                                block_size=32)
    np.testing.assert_array_equal(back.values, qw.values)
    np.testing.assert_array_equal(back.zero_points, qw.zero_points)
    np.testing.assert_array_equal(back.dequantize(), qw.dequantize())
    # Symmetric: no zero points, MatMulNBits' default 8.
    sym = sq.quantize_weight(w, bits=8, block_size=16, symmetric=True).to_matmul_nbits()
    assert sym["zero_points"] is None and sym["B"].shape == (5, 5, 16)
    back = sq.QuantizedWeight.from_matmul_nbits(sym["B"], sym["scales"], None, K=70, N=5, bits=8, block_size=16)
    assert np.all(back.zero_points == 128)
    # 2 bits: four elements per byte, four blocks' zero points per byte, padding fields 2.
    q2 = sq.quantize_weight(w, bits=2, block_size=16, symmetric=False)  # kb = 5
    nb2 = q2.to_matmul_nbits()
    assert nb2["B"].shape == (5, 5, 4) and nb2["zero_points"].shape == (5, 2)
    v = q2.values[0, :4].astype(int)
    assert nb2["B"][0, 0, 0] == v[0] | v[1] << 2 | v[2] << 4 | v[3] << 6
    z = q2.zero_points[0].astype(int)
    assert nb2["zero_points"][0, 0] == z[0] | z[1] << 2 | z[2] << 4 | z[3] << 6
    assert nb2["zero_points"][0, 1] == z[4] | 2 << 2 | 2 << 4 | 2 << 6
    back = sq.QuantizedWeight.from_matmul_nbits(nb2["B"], nb2["scales"], nb2["zero_points"], K=70, N=5, bits=2,
                                                block_size=16)
    np.testing.assert_array_equal(back.values, q2.values)
    np.testing.assert_array_equal(back.zero_points, q2.zero_points)


def _per_block_reference(x, qw, bias):
    """float64 evaluation of the per_block formula with exact integer block sums."""
    bs = qw.block_size
    n, k = qw.shape
    kb = qw.scales.shape[1]
    x = x.reshape(-1, k)
    y = np.zeros((x.shape[0], n))
    bound = np.zeros_like(y)
    for b in range(kb):
        xb = x[:, b * bs:(b + 1) * bs]
        amax = np.abs(xb).max(axis=1)
        sx = (amax / np.float32(127)).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            qx = np.where(sx[:, None] > 0, np.clip(np.rint(xb / sx[:, None]), -127, 127), 0).astype(np.int64)
        w = qw.values[:, b * bs:(b + 1) * bs].astype(np.int64) - qw.zero_points[:, b:b + 1].astype(np.int64)
        d = qx @ w.T
        term = d * (sx[:, None].astype(np.float32) * qw.scales[None, :, b]).astype(np.float64)
        y += term
        bound += np.abs(term)
    if bias is not None:
        y += bias
    return y, bound


@pytest.mark.parametrize("bits,bs,symmetric", [(4, 32, True), (4, 128, False), (8, 32, False), (2, 16, False),
                                               (3, 64, True)])
def test_quantized_linear_per_block_matches_formula(bits, bs, symmetric):
    rng = np.random.default_rng(bits * 7 + bs)
    for m, n, k in [(1, 33, 100), (5, 64, 256), (9, 40, 70)]:
        w = rng.standard_normal((n, k)).astype(np.float32)
        bias = rng.standard_normal(n).astype(np.float32)
        x = rng.standard_normal((m, k)).astype(np.float32)
        x[0, :bs] = 0  # an all-zero activation block
        layer = sq.QuantizedLinear(w, bias, weight_bits=bits, block_size=bs, symmetric=symmetric)
        assert layer.activation == "per_block"
        y = layer(x)
        ref, bound = _per_block_reference(x, layer.weight, bias)
        # float32 accumulation over the blocks: a few ulps of the summed magnitudes
        assert np.all(np.abs(y - ref) <= 1e-6 * (bound + np.abs(bias)) * (k // bs + 2) + 1e-30)


def test_quantized_linear_none_matches_dequantized_matmul():
    rng = np.random.default_rng(11)
    for bits, bs, symmetric in [(4, 32, True), (8, 16, False), (3, 128, False)]:
        w = rng.standard_normal((50, 300)).astype(np.float32)
        x = rng.standard_normal((2, 3, 300)).astype(np.float32)
        qw = sq.quantize_weight(w, bits=bits, block_size=bs, symmetric=symmetric)
        layer = sq.QuantizedLinear(qw, activation="none")
        y = layer(x)
        assert y.shape == (2, 3, 50)
        ref = x.astype(np.float64) @ qw.dequantize().astype(np.float64).T
        scale = np.abs(x).astype(np.float64) @ np.abs(qw.dequantize()).astype(np.float64).T
        assert np.all(np.abs(y - ref) <= 4e-6 * scale + 1e-30)


def _ort_matmul_nbits(nb, x, accuracy_level, bias=None):
    from onnx import TensorProto, helper
    n, k = nb["N"], nb["K"]
    inputs = [helper.make_tensor_value_info("A", TensorProto.FLOAT, [None, k])]
    inits = [helper.make_tensor("B", TensorProto.UINT8, nb["B"].shape, nb["B"].tobytes(), raw=True),
             helper.make_tensor("scales", TensorProto.FLOAT, [nb["scales"].size], nb["scales"].tobytes(), raw=True)]
    names = ["A", "B", "scales"]
    if nb["zero_points"] is not None:
        z = nb["zero_points"]
        inits.append(helper.make_tensor("zp", TensorProto.UINT8, [z.size], z.tobytes(), raw=True))
        names.append("zp")
    node = helper.make_node("MatMulNBits", names, ["Y"], domain="com.microsoft", K=k, N=n, bits=nb["bits"],
                            block_size=nb["block_size"], accuracy_level=accuracy_level)
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, n])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {"A": x})[0]


@pytest.mark.parametrize("bits,bs,symmetric", [(4, 32, True), (4, 32, False), (4, 128, True), (8, 32, False)])
def test_against_onnxruntime_matmul_nbits(bits, bs, symmetric):
    rng = np.random.default_rng(99 + bits + bs)
    n, k = 96, 512
    w = rng.standard_normal((n, k)).astype(np.float32)
    x = rng.standard_normal((4, k)).astype(np.float32)
    qw = sq.quantize_weight(w, bits=bits, block_size=bs, symmetric=symmetric)
    nb = qw.to_matmul_nbits()
    exact = x.astype(np.float64) @ qw.dequantize().astype(np.float64).T
    ours0 = sq.QuantizedLinear(qw, activation="none")(x)
    ort0 = _ort_matmul_nbits(nb, x, 0)
    # accuracy_level 0 and "none" both compute with the same dequantized weights in float32
    np.testing.assert_allclose(ours0, ort0, rtol=0, atol=2e-4 * np.abs(exact).max())
    ours4 = sq.QuantizedLinear(qw, activation="per_block")(x)
    ort4 = _ort_matmul_nbits(nb, x, 4)
    # Both quantize x to int8 per block with max|x| / 127; rounding of exact ties may differ.
    np.testing.assert_allclose(ours4, ort4, rtol=0, atol=2e-3 * np.abs(exact).max())
    err_ours, err_ort = np.abs(ours4 - exact).mean(), np.abs(ort4 - exact).mean()
    assert err_ours <= 1.2 * err_ort + 1e-6


def test_results_do_not_depend_on_the_kernel_path(tmp_path):
    """The active records (AVX2 where the CPU has it) give the reference's bits, checked in a subprocess."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((70, 200)).astype(np.float32)
    x = rng.standard_normal((6, 200)).astype(np.float32)
    b = rng.standard_normal(70).astype(np.float32)
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "b.npy", b)
    code = (
        "import numpy as np, swiftquant as sq, sys\n"
        "d = sys.argv[1]\n"
        "w, x, b = (np.load(f'{d}/{n}.npy') for n in 'wxb')\n"
        "out = [sq.QuantizedLinear(w, b, weight_bits=bits, block_size=32, symmetric=s, activation=a)(x)\n"
        "       for bits in (4, 8) for s in (True, False) for a in ('per_block', 'none')]\n"
        "np.save(f'{d}/y.npy', np.stack(out))\n")
    env = dict(os.environ, SWIFTQUANT_ISA="reference")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, check=True)
    ref = np.load(tmp_path / "y.npy")
    ours = np.stack([sq.QuantizedLinear(w, b, weight_bits=bits, block_size=32, symmetric=s, activation=a)(x)
                     for bits in (4, 8) for s in (True, False) for a in ("per_block", "none")])
    np.testing.assert_array_equal(ours.view(np.uint32), ref.view(np.uint32))


# --- bad input -------------------------------------------------------------------------------------------------
def test_bad_arguments_are_clear_errors():
    w = np.ones((4, 32), np.float32)
    with pytest.raises(sq.SwiftQuantError, match="bits"):
        sq.quantize_weight(w, bits=5)
    for bs in (24, 8, 0, -32, 2 ** 17):
        with pytest.raises(sq.SwiftQuantError, match="block_size"):
            sq.quantize_weight(w, block_size=bs)
    with pytest.raises(TypeError, match="block_size"):
        sq.quantize_weight(w, block_size=32.0)
    with pytest.raises(TypeError, match="w"):
        sq.quantize_weight(np.ones((4, 32), bool))
    with pytest.raises(TypeError, match="symmetric"):
        sq.quantize_weight(w, symmetric="yes")
    with pytest.raises(sq.SwiftQuantError, match="2-D"):
        sq.quantize_weight(np.ones(32, np.float32))
    bad = w.copy()
    bad[2, 7] = np.nan
    with pytest.raises(sq.SwiftQuantError, match=r"row 2, column 7") as e:
        sq.quantize_weight(bad)
    assert e.value.status_name == "SQ_ERROR_NONFINITE"


def test_bad_quantized_weights_are_refused():
    codes = np.zeros((2, 32), np.uint8)
    scales = np.ones((2, 1), np.float32)
    with pytest.raises(sq.SwiftQuantError, match="above the 4-bit maximum"):
        sq.QuantizedWeight(np.full((2, 32), 16, np.uint8), scales, bits=4, block_size=32)
    with pytest.raises(sq.SwiftQuantError, match="scales must have shape"):
        sq.QuantizedWeight(codes, np.ones((2, 2), np.float32), bits=4, block_size=32)
    with pytest.raises(sq.SwiftQuantError, match="scales: element 1"):
        sq.QuantizedWeight(codes, np.array([[1], [np.inf]], np.float32), bits=4, block_size=32)
    with pytest.raises(sq.SwiftQuantError, match="zero_points"):
        sq.QuantizedWeight(codes, scales, np.full((2, 1), 20, np.uint8), bits=4, block_size=32)
    with pytest.raises(TypeError, match="values"):
        sq.QuantizedWeight(codes.astype(np.float32), scales, bits=4, block_size=32)
    with pytest.raises(sq.SwiftQuantError, match="B must hold"):
        sq.QuantizedWeight.from_matmul_nbits(np.zeros(10, np.uint8), np.ones(2, np.float32), K=32, N=2, bits=4,
                                             block_size=32)
    with pytest.raises(sq.SwiftQuantError, match="zero_points must hold"):
        sq.QuantizedWeight.from_matmul_nbits(np.zeros((2, 1, 16), np.uint8), np.ones(2, np.float32),
                                             np.zeros(5, np.uint8), K=32, N=2, bits=4, block_size=32)
    with pytest.raises(sq.SwiftQuantError, match="scales"):
        sq.QuantizedWeight.from_matmul_nbits(np.zeros((2, 1, 16), np.uint8), np.array([1, np.nan], np.float32),
                                             K=32, N=2, bits=4, block_size=32)
    with pytest.raises(sq.SwiftQuantError, match="2, 4 or 8 bits"):
        sq.quantize_weight(np.ones((2, 32), np.float32), bits=3).to_matmul_nbits()


def test_layer_input_errors_and_no_mutation():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 64)).astype(np.float32)
    layer = sq.QuantizedLinear(w, None, weight_bits=4, block_size=32)
    x = rng.standard_normal((3, 64)).astype(np.float32)
    keep = x.copy()
    layer(x)
    np.testing.assert_array_equal(x, keep)
    with pytest.raises(ValueError, match=r"\[\.\.\., 64\]"):
        layer(np.ones((3, 65), np.float32))
    x[1, 5] = np.inf
    with pytest.raises(sq.SwiftQuantError, match="NaN|inf") as e:
        layer(x)
    assert e.value.status_name == "SQ_ERROR_NONFINITE"
    with pytest.raises(sq.SwiftQuantError, match="bias"):
        sq.QuantizedLinear(w, np.ones(7, np.float32), weight_bits=4)
    with pytest.raises(sq.SwiftQuantError, match="bias: element 3"):
        sq.QuantizedLinear(w, np.array([0, 0, 0, np.nan, 0, 0, 0, 0], np.float32), weight_bits=4)
    with pytest.raises(ValueError, match="per_block"):
        sq.QuantizedLinear(sq.quantize_weight(w), activation="per_row")
    assert layer(np.zeros((0, 64), np.float32)).shape == (0, 8)


def test_params_of_block_weights():
    w = np.abs(np.random.default_rng(1).standard_normal((3, 64))).astype(np.float32) + 0.1
    qw = sq.quantize_weight(w, bits=4, block_size=32, symmetric=False)
    p = qw.params
    x = sq.dequantize(qw.values, p)
    np.testing.assert_array_equal(x, qw.dequantize())
    with pytest.raises(sq.SwiftQuantError, match="negative"):
        _ = sq.quantize_weight(w, bits=4, block_size=32, symmetric=True).params


def test_subnormal_block_scale_is_not_a_crash():
    # Fuzz regression: max |w| = 1e-40 gives a subnormal scale, 1 / scale = inf, and 0 * inf = NaN trapped
    # the float -> code conversion. 0 now gets the zero point, the extreme value code 0.
    w = np.zeros((2, 32), np.float32)
    w[0, 3] = 1e-40
    w[1, 0] = -3e-39
    qw = sq.quantize_weight(w, bits=4, block_size=16, symmetric=True)
    assert qw.values[0, 3] == 0 and qw.values[0, 0] == 8 and qw.values[1, 0] == 0
    assert np.all(qw.values[:, 16:] == 8)


@pytest.mark.parametrize("gtype", ["Q4_0", "Q8_0"])
def test_from_gguf_matches_gguf_dequantize_and_runs(gtype):
    gguf = pytest.importorskip("gguf")
    rng = np.random.default_rng(8)
    w = rng.standard_normal((40, 96)).astype(np.float32)
    data = sq.gguf_quantize(w, gtype)
    qw = sq.QuantizedWeight.from_gguf(data, gtype, w.shape)
    assert qw.block_size == 32 and qw.bits == (4 if gtype == "Q4_0" else 8)
    want = gguf.quants.dequantize(data, getattr(gguf.GGMLQuantizationType, gtype))
    np.testing.assert_array_equal(qw.dequantize(), want)
    x = rng.standard_normal((3, 96)).astype(np.float32)
    y = sq.QuantizedLinear(qw, activation="none")(x)
    ref = x.astype(np.float64) @ want.astype(np.float64).T
    assert np.abs(y - ref).max() <= 1e-5 * np.abs(ref).max()


def test_from_gguf_errors():
    w = np.ones((2, 32), np.float32)
    with pytest.raises(sq.SwiftQuantError, match="Q4_1"):
        sq.QuantizedWeight.from_gguf(sq.gguf_quantize(w, "Q4_1"), "Q4_1", w.shape)
    data = sq.gguf_quantize(w, "Q4_0")
    with pytest.raises(sq.SwiftQuantError, match="needs"):
        sq.QuantizedWeight.from_gguf(data[:, :-1], "Q4_0", w.shape)
    with pytest.raises(sq.SwiftQuantError, match="multiple"):
        sq.QuantizedWeight.from_gguf(data, "Q4_0", (1, 48))
    bad = data.copy()
    bad[0, :2] = np.array([np.inf], np.float16).view(np.uint8)
    with pytest.raises(sq.SwiftQuantError, match="non-finite scale"):
        sq.QuantizedWeight.from_gguf(bad, "Q4_0", w.shape)
    with pytest.raises(sq.SwiftQuantError, match="unknown GGUF type"):
        sq.QuantizedWeight.from_gguf(data, "Q5_K", w.shape)


def test_readme_block_weight_example_runs_as_written():
    """The README's "4-bit block weights" code block, executed verbatim."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## 4-bit block weights", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    env = {"np": np, "sq": sq}
    for code in blocks:
        exec(compile(code, "README.md", "exec"), env)
    assert env["y"].shape == (2, 4096) and np.all(np.isfinite(env["y"]))
    np.testing.assert_array_equal(env["qw"].values, sq.quantize_weight(env["w"]).values)
