"""sq.QuantizedLinear against an independent NumPy transcription of its definition (bit-exact), plus the
accuracy claim (per-row activations closer to float32 on outlier tokens), shapes and errors."""
import numpy as np
import pytest

import swiftquant as sq


def _dynamic_u8(x):
    """ONNX DynamicQuantizeLinear in float32 arithmetic (empty / all-zero data: scale 1, zero point 0)."""
    lo = np.float32(min(np.float32(0), x.min())) if x.size else np.float32(0)
    hi = np.float32(max(np.float32(0), x.max())) if x.size else np.float32(0)
    scale = np.float32(hi - lo) / np.float32(255)
    if not (scale >= np.finfo(np.float32).tiny):
        return np.zeros(x.shape, np.uint8), np.float32(1), 0
    zp = int(np.rint(np.clip(-lo / scale, np.float32(0), np.float32(255))))
    q = np.clip(np.rint(x / scale) + zp, 0, 255).astype(np.uint8)
    return q, scale, zp


def linear_ref(w, b, x, per_row):
    amax = np.abs(w).max(axis=1).astype(np.float64)
    sw = (amax / 127).astype(np.float32)  # symmetric narrow-range int8, computed in float64
    sw[~(sw >= np.finfo(np.float32).tiny)] = 1
    wq = np.clip(np.rint(w / sw[:, None]), -127, 127).astype(np.int64)
    rows = x.reshape(-1, x.shape[-1])
    if rows.shape[0] == 0:
        return np.zeros(x.shape[:-1] + (w.shape[0],), np.float32)
    groups = [rows[i:i + 1] for i in range(len(rows))] if per_row else [rows]
    y = []
    for g in groups:
        q, s, z = _dynamic_u8(g)
        c = (q.astype(np.int64) - z) @ wq.T
        out = c.astype(np.float32) * (np.float32(s) * sw)
        y.append(out + b if b is not None else out)
    return np.concatenate(y).reshape(x.shape[:-1] + (w.shape[0],)).astype(np.float32)


@pytest.mark.parametrize("activation", ["per_tensor", "per_row"])
@pytest.mark.parametrize("shape", [(1, 16), (7, 33), (2, 3, 64), (0, 8), (5, 1)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_matches_reference(activation, shape, with_bias):
    rng = np.random.default_rng(sum(shape) + len(activation))
    k = shape[-1]
    w = rng.normal(size=(19, k)).astype(np.float32)
    w[3] = 0  # an all-zero output channel gets scale 1
    b = rng.normal(size=19).astype(np.float32) if with_bias else None
    x = rng.normal(size=shape).astype(np.float32)
    if x.size:
        x.reshape(-1, k)[0] *= 40  # an outlier row
    layer = sq.QuantizedLinear(w, b, activation)
    got = layer(x)
    want = linear_ref(w, b, x, activation == "per_row")
    assert got.shape == x.shape[:-1] + (19,)
    np.testing.assert_array_equal(got, want, err_msg=f"{activation} {shape} bias={with_bias}")


def test_per_row_is_closer_to_float_with_outlier_tokens():
    rng = np.random.default_rng(7)
    w = rng.normal(size=(256, 512)).astype(np.float32) / 20
    x = rng.normal(size=(64, 512)).astype(np.float32)
    x[::8] *= 30  # a few tokens with large activations, as in transformers
    ref = x @ w.T
    err = {a: np.linalg.norm(sq.QuantizedLinear(w, None, a)(x) - ref) / np.linalg.norm(ref) for a in ("per_tensor", "per_row")}
    assert err["per_row"] < err["per_tensor"] / 2, err


def test_errors():
    w = np.ones((4, 8), np.float32)
    layer = sq.QuantizedLinear(w)
    # Block options where there are no blocks to set are errors, not ignored.
    with pytest.raises(sq.SwiftQuantError, match="block_size does not apply here: the int8 layer"):
        sq.QuantizedLinear(w, block_size=32)
    with pytest.raises(sq.SwiftQuantError, match="block_size and symmetric do not apply here: the QuantizedWeight"):
        sq.QuantizedLinear(sq.quantize_weight(np.ones((4, 32), np.float32)), block_size=32, symmetric=True)
    assert sq.QuantizedLinear(np.ones((4, 64), np.float32), weight_bits=4, block_size=64).weight.block_size == 64
    with pytest.raises(ValueError, match=r"\[\.\.\., 8\]"):
        layer(np.ones((2, 7), np.float32))
    with pytest.raises(sq.SwiftQuantError, match="NaN or infinite"):
        layer(np.array([[0, 1, 2, np.nan, 0, 0, 0, 0]], np.float32))
    bad = w.copy()
    bad[1, 2] = np.inf
    with pytest.raises(sq.SwiftQuantError, match="weight: row 1"):
        sq.QuantizedLinear(bad)
    with pytest.raises(ValueError, match="activation"):
        sq.QuantizedLinear(w, activation="per_column")
    with pytest.raises(ValueError, match="bias"):
        sq.QuantizedLinear(w, bias=np.ones(3))
    with pytest.raises(sq.SwiftQuantError, match="in_features"):
        sq.QuantizedLinear(np.ones((1, 70000), np.float32))
    x = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    copy = x.copy()
    layer(x)
    np.testing.assert_array_equal(x, copy)
