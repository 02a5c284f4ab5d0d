"""GPTQ (quantize_weight(method="gptq")) against the independent NumPy transcription in gptq_reference.py,
on correlated calibration inputs; the damping fallback; argument errors."""
import os
import subprocess
import sys

import numpy as np
import pytest

import swiftquant as sq
from gptq_reference import gptq as np_gptq, output_error


def layer(seed, n=48, k=96, rows=300):
    """A weight and a Hessian of correlated inputs with a few outlier channels (where GPTQ helps)."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((k, k)).astype(np.float32) / np.sqrt(k)
    x = rng.standard_normal((rows, k)).astype(np.float32) @ (np.eye(k, dtype=np.float32) + 0.8 * mix)
    x[:, rng.choice(k, 4, replace=False)] *= 6
    w = (rng.standard_normal((n, k)) * 0.05).astype(np.float32)
    x64 = x.astype(np.float64)
    return w, x, x64.T @ x64 / rows


def dq(qw):
    return qw.dequantize()


@pytest.mark.parametrize("bits,bs,symmetric,act_order", [
    (4, 32, True, False), (4, 32, False, False), (4, 16, False, True), (3, 64, True, True), (8, 32, True, False),
    (4, 256, False, False)])
def test_matches_numpy_transcription(bits, bs, symmetric, act_order):
    w, _, H = layer(7 + bits + bs, k=200 if bs == 256 else 96)
    qw = sq.quantize_weight(w, bits=bits, block_size=bs, symmetric=symmetric, method="gptq", hessian=H,
                            act_order=act_order)
    codes, scales, zps, d = np_gptq(w, H, bits, bs, symmetric, act_order)
    # Float32 sums in another order can flip a code at a rounding boundary; the flip then feeds back into
    # the later columns of that row. Nearly all codes agree, and the errors agree closely.
    same = np.mean(qw.values == codes)
    assert same >= 0.985, f"only {same:.4f} of the codes agree"
    ours, ref = output_error(w, dq(qw), H), output_error(w, sq.QuantizedWeight(codes, scales, zps, bits=bits,
                                                                                   block_size=bs).dequantize(), H)
    assert abs(ours - ref) <= 0.03 * ref, (ours, ref)
    if act_order:  # static groups: exactly the RTN parameters of the original weight
        rtn = sq.quantize_weight(w, bits=bits, block_size=bs, symmetric=symmetric)
        np.testing.assert_array_equal(qw.scales, rtn.scales)
        np.testing.assert_array_equal(qw.zero_points, rtn.zero_points)
    assert qw.report["damp"] == d == 0.01
    assert qw.report["method"] == "gptq" and qw.report["dead_inputs"] == 0


def test_first_columns_agree_exactly():
    """Before any float summation differs (the first column of each row), GPTQ is RTN on that column and
    the transcription agrees bit for bit; with act_order the first column processed is the largest H[j,j]."""
    w, _, H = layer(3)
    for act_order in (False, True):
        qw = sq.quantize_weight(w, bits=4, block_size=32, symmetric=False, method="gptq", hessian=H, act_order=act_order)
        codes, *_ = np_gptq(w, H, 4, 32, False, act_order)
        first = int(np.argmax(np.diag(H))) if act_order else 0
        np.testing.assert_array_equal(qw.values[:, first], codes[:, first])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("symmetric,bs", [(True, 128), (False, 32)])
def test_beats_rtn_on_calibration_error(seed, symmetric, bs):
    w, _, H = layer(100 + seed, n=64, k=256)
    rtn = sq.quantize_weight(w, bits=4, block_size=bs, symmetric=symmetric)
    for act_order in (False, True):
        g = sq.quantize_weight(w, bits=4, block_size=bs, symmetric=symmetric, method="gptq", hessian=H, act_order=act_order)
        e_rtn, e_g = output_error(w, rtn.dequantize(), H), output_error(w, g.dequantize(), H)
        assert e_g < 0.9 * e_rtn, (act_order, e_g, e_rtn)
        # The report measures the same quantities, relative to sum w^T H w.
        signal = output_error(w, np.zeros_like(w), H)
        assert g.report["relative_error_before"] == pytest.approx(e_rtn / signal, rel=1e-4)  # H e in float32
        assert g.report["relative_error_after"] == pytest.approx(e_g / signal, rel=1e-4)
        assert g.report["rows_measured"] == 64


def test_dead_inputs_and_hessian_observer():
    w, x, _ = layer(5)
    x[:, [3, 50]] = 0  # inputs that never fire
    H = x.astype(np.float64).T @ x.astype(np.float64) / len(x)
    qw = sq.quantize_weight(w, bits=4, block_size=32, method="gptq", hessian=H)
    assert qw.report["dead_inputs"] == 2
    codes, *_ = np_gptq(w, H, 4, 32, True)
    assert np.mean(qw.values == codes) >= 0.985
    np.testing.assert_array_equal(dq(qw)[:, [3, 50]], 0)
    h = sq.HessianObserver(w.shape[1])
    for part in np.array_split(x, 3):
        h.update(part)
    q2 = sq.quantize_weight(w, bits=4, block_size=32, method="gptq", hessian=h)
    assert np.mean(q2.values == qw.values) >= 0.99
    with pytest.raises(sq.SwiftQuantError, match="in_features 16"):
        sq.quantize_weight(w, bits=4, block_size=32, method="gptq", hessian=sq.HessianObserver(16))


def test_damping_fallback_on_singular_hessian():
    """A singular Hessian with damp=0: the factorization fails, damp rises to 1e-4 (then x10) and is reported."""
    rng = np.random.default_rng(11)
    x = np.round(rng.standard_normal((40, 32)) * 4).astype(np.float32)
    x[:, 1] = x[:, 0]  # two identical inputs: H is exactly singular (integer arithmetic)
    H = x.astype(np.float64).T @ x.astype(np.float64)
    w = rng.standard_normal((8, 32)).astype(np.float32)
    qw = sq.quantize_weight(w, bits=4, block_size=16, method="gptq", hessian=H, damp=0.0)
    assert qw.report["damp"] > 0 and qw.report["damp_requested"] == 0.0
    _, _, _, d = np_gptq(w, H, 4, 16, True, damp=0.0)
    assert qw.report["damp"] == pytest.approx(d)
    # An indefinite "Hessian" needs lambda > 2: the fallback climbs to damp 10 (mean diag 1).
    Hi = np.array([[1.0, 3.0], [3.0, 1.0]])  # eigenvalues -2 and 4
    q2 = sq.quantize_weight(np.ones((2, 2), np.float32), bits=4, block_size=16, method="gptq", hessian=Hi, damp=0.0)
    assert q2.report["damp"] == pytest.approx(10.0)


def test_input_scales_equal_gptq_on_the_scaled_problem():
    w, _, H = layer(9)
    s = np.exp(np.random.default_rng(1).uniform(-1, 1, w.shape[1])).astype(np.float32)
    qa = sq.quantize_weight(w, bits=4, block_size=32, method="gptq", hessian=H, input_scales=s)
    qb = sq.quantize_weight((w * s).astype(np.float32), bits=4, block_size=32, method="gptq",
                            hessian=H / np.outer(s.astype(np.float64), s.astype(np.float64)))
    assert np.mean(qa.values == qb.values) >= 0.99
    np.testing.assert_array_equal(qa.input_scales, s)
    np.testing.assert_allclose(qa.dequantize(), sq.QuantizedWeight(qa.values, qa.scales, qa.zero_points, bits=4,
                                                                   block_size=32).dequantize() / s, rtol=1e-6)


def test_results_do_not_depend_on_the_thread_count(tmp_path):
    """The same codes with 1 thread (a subprocess: the pool size is fixed per process) as with the default."""
    w, _, H = layer(13, n=300, k=160)
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "h.npy", H)
    here = sq.quantize_weight(w, bits=4, block_size=32, method="gptq", hessian=H, act_order=True)
    code = ("import numpy as np, swiftquant as sq, sys; d = sys.argv[1]; "
            "q = sq.quantize_weight(np.load(d + '/w.npy'), bits=4, block_size=32, method='gptq', "
            "hessian=np.load(d + '/h.npy'), act_order=True); np.save(d + '/codes.npy', q.values)")
    env = dict(os.environ, SWIFTQUANT_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env)
    np.testing.assert_array_equal(np.load(tmp_path / "codes.npy"), here.values)


def test_exports_like_rtn():
    w, _, H = layer(17)
    qw = sq.quantize_weight(w, bits=4, block_size=32, symmetric=False, method="gptq", hessian=H, act_order=True)
    m = qw.to_matmul_nbits()
    back = sq.QuantizedWeight.from_matmul_nbits(m["B"], m["scales"], m["zero_points"], K=m["K"], N=m["N"], bits=4,
                                                block_size=32)
    np.testing.assert_array_equal(back.dequantize(), qw.dequantize())


def test_bad_arguments():
    w, _, H = layer(19, n=4, k=32)
    err = sq.SwiftQuantError
    with pytest.raises(err, match="needs hessian"):
        sq.quantize_weight(w, method="gptq")
    with pytest.raises(err, match="K = 32"):
        sq.quantize_weight(w, method="gptq", hessian=np.eye(16))
    with pytest.raises(err, match="square"):
        sq.quantize_weight(w, method="gptq", hessian=np.ones((32, 16)))
    bad = H.copy()
    bad[2, 5] += 1.0
    with pytest.raises(err, match="not symmetric"):
        sq.quantize_weight(w, method="gptq", hessian=bad)
    bad = H.copy()
    bad[4, 4] = np.nan
    with pytest.raises(err, match=r"\[4, 4\] is nan"):
        sq.quantize_weight(w, method="gptq", hessian=bad)
    bad = H.copy()
    bad[4, 4] = -1
    with pytest.raises(err, match="diagonal"):
        sq.quantize_weight(w, method="gptq", hessian=bad)
    with pytest.raises(err, match="damp"):
        sq.quantize_weight(w, method="gptq", hessian=H, damp=-0.1)
    with pytest.raises(err, match="damp"):
        sq.quantize_weight(w, method="gptq", hessian=H, damp=float("nan"))
    with pytest.raises(err, match="act_order"):
        sq.quantize_weight(w, act_order=True)  # an option of GPTQ given to RTN
    with pytest.raises(err, match="hessian"):
        sq.quantize_weight(w, method="awq", hessian=H)
    with pytest.raises(TypeError, match="act_order"):
        sq.quantize_weight(w, method="gptq", hessian=H, act_order="yes")
    with pytest.raises(TypeError, match="hessian"):
        sq.quantize_weight(w, method="gptq", hessian="H")
    w2 = w.copy()
    w2[1, 2] = np.inf
    with pytest.raises(err, match="weight"):
        sq.quantize_weight(w2, method="gptq", hessian=H)
    with pytest.raises(err, match="input_scales"):
        sq.quantize_weight(w, method="gptq", hessian=H, input_scales=-np.ones(32, np.float32))
    with pytest.raises(err, match="method"):
        sq.quantize_weight(w, method="hqq")
    # Nothing was modified.
    H0 = H.copy()
    sq.quantize_weight(w, method="gptq", hessian=H)
    np.testing.assert_array_equal(H, H0)


def test_readme_example_prints_what_it_says(capsys):
    """The README's "GPTQ, AWQ and SmoothQuant" code block, executed verbatim: each print matches the
    output written in its comment."""
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## GPTQ, AWQ and SmoothQuant", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    promised = [line.split("#")[-1].strip() for line in code.splitlines() if line.startswith("print(")]
    assert printed == promised
