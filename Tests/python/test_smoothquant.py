"""sq.smooth_quant_scales: the header's formula and its alpha="auto" search against the independent NumPy
transcription (activation_aware_reference), the reported errors, and clear errors for bad arguments."""
import numpy as np
import pytest

import swiftquant as sq
from activation_aware_reference import smooth_auto_ref, smooth_error, smooth_formula


def smooth_data(seed, n=64, k=96, rows=80):
    """Activations with a few outlier channels (SmoothQuant's case) and an ordinary weight."""
    rng = np.random.default_rng(seed)
    mag = np.exp(rng.standard_normal(k) * 0.8)
    mag[rng.choice(k, 3, replace=False)] *= 30
    x = (rng.standard_normal((rows, k)) * mag).astype(np.float32)
    w = (rng.standard_normal((n, k)) * 0.05).astype(np.float32)
    return w, x


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 0.85, 1.0])
def test_formula_matches_numpy(alpha):
    w, x = smooth_data(1)
    act = np.abs(x).max(axis=0)
    act[:3] = 0                # pow(0, alpha): 0 (or 1 at alpha 0), then the 1e-5 floor
    w[:, 5] = 0                # wmax floor 1e-5
    s = sq.smooth_quant_scales(act, w, alpha)
    assert isinstance(s, sq.SmoothQuantScales) and isinstance(s, np.ndarray)
    assert s.dtype == np.float32 and s.shape == (96,)
    np.testing.assert_allclose(s, smooth_formula(act, w, alpha), rtol=1e-6)
    assert s.alpha == alpha and s.error is None and s.error_unsmoothed is None
    assert np.all(s >= np.float32(1e-5))


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_auto_matches_numpy_search(seed):
    w, x = smooth_data(seed)
    act = np.abs(x).max(axis=0)
    alpha, s_ref, errors, unsmoothed = smooth_auto_ref(act, w, x)
    e = np.sort(errors)
    assert (e[1] - e[0]) / e[0] > 1e-4, "test data at a near-tie of alpha"
    s = sq.smooth_quant_scales(act, w, "auto", x=x)
    assert s.alpha == alpha
    np.testing.assert_allclose(s, s_ref, rtol=1e-6)
    np.testing.assert_allclose(s.error, errors[int(round(alpha * 20))], rtol=1e-4)
    np.testing.assert_allclose(s.error_unsmoothed, unsmoothed, rtol=1e-4)
    assert 0 < alpha < 1 and s.error < s.error_unsmoothed  # smoothing helps on outlier channels
    # act_absmax omitted: computed from x, the same result.
    s2 = sq.smooth_quant_scales(None, w, "auto", x=x)
    np.testing.assert_array_equal(s2, s)
    assert (s2.alpha, s2.error, s2.error_unsmoothed) == (s.alpha, s.error, s.error_unsmoothed)


def test_fixed_alpha_with_x_reports_errors():
    w, x = smooth_data(5)
    s = sq.smooth_quant_scales(None, w, 0.5, x=x.reshape(4, 20, 96))  # leading dimensions are rows
    np.testing.assert_allclose(s, smooth_formula(np.abs(x).max(axis=0), w, 0.5), rtol=1e-6)
    np.testing.assert_allclose(s.error, smooth_error(x, w, np.asarray(s)), rtol=1e-4)
    np.testing.assert_allclose(s.error_unsmoothed, smooth_error(x, w, None), rtol=1e-4)


def test_smoothing_keeps_the_float_product():
    """x / s and w * s give the same float product: s only moves magnitude between the two."""
    w, x = smooth_data(6)
    s = sq.smooth_quant_scales(None, w, "auto", x=x)
    np.testing.assert_allclose((x / s) @ (w * s).T, x @ w.T, rtol=1e-4, atol=1e-4 * np.abs(x @ w.T).max())


def test_zero_activations_and_subnormal_scales_are_safe():
    w, _ = smooth_data(7, n=8, k=16, rows=4)
    x = np.zeros((4, 16), np.float32)
    s = sq.smooth_quant_scales(None, w, "auto", x=x)
    assert np.all(np.isfinite(s)) and s.error == 0 and s.error_unsmoothed == 0 and s.alpha == 0.0


def test_bad_arguments_are_clear_errors():
    w, x = smooth_data(8, n=8, k=16, rows=4)
    act = np.abs(x).max(axis=0)
    for alpha in (1.5, -0.5, -1, float("nan"), float("inf")):
        with pytest.raises(sq.SwiftQuantError, match="alpha"):
            sq.smooth_quant_scales(act, w, alpha)
    with pytest.raises(sq.SwiftQuantError, match="alpha"):
        sq.smooth_quant_scales(act, w, "fast")
    with pytest.raises(TypeError, match="alpha"):
        sq.smooth_quant_scales(act, w, True)
    with pytest.raises(TypeError, match="alpha"):
        sq.smooth_quant_scales(act, w, [0.5])
    with pytest.raises(sq.SwiftQuantError, match=r"act_absmax must have shape \(16,\)"):
        sq.smooth_quant_scales(act[:15], w)
    bad = act.copy()
    bad[3] = np.nan
    with pytest.raises(sq.SwiftQuantError, match="act_absmax: element 3 is nan"):
        sq.smooth_quant_scales(bad, w)
    bad[3] = -1
    with pytest.raises(sq.SwiftQuantError, match=r"act_absmax: element 3 is -1.0; it must be finite and >= 0"):
        sq.smooth_quant_scales(bad, w)
    with pytest.raises(sq.SwiftQuantError, match="needs calibration activations x"):
        sq.smooth_quant_scales(act, w, "auto")
    with pytest.raises(sq.SwiftQuantError, match="no x to compute it from"):
        sq.smooth_quant_scales(None, w)
    with pytest.raises(sq.SwiftQuantError, match=r"x must have shape \[\.\.\., 16\]"):
        sq.smooth_quant_scales(None, w, "auto", x=x[:, :15])
    with pytest.raises(sq.SwiftQuantError, match="no rows"):
        sq.smooth_quant_scales(None, w, "auto", x=np.zeros((0, 16), np.float32))
    bx = x.copy()
    bx[1, 2] = np.inf
    with pytest.raises(sq.SwiftQuantError, match=r"x: element 18 \(row 1, column 2\) is inf"):
        sq.smooth_quant_scales(None, w, "auto", x=bx)
    bw = w.copy()
    bw[0, 1] = np.nan
    with pytest.raises(sq.SwiftQuantError, match=r"w: element 1 .* is nan"):
        sq.smooth_quant_scales(act, bw)
    with pytest.raises(sq.SwiftQuantError, match="w must be 2-D"):
        sq.smooth_quant_scales(act, w[0])
    with pytest.raises(sq.SwiftQuantError, match=r"shape \[0, 16\]; SmoothQuant needs n, k >= 1"):
        sq.smooth_quant_scales(np.zeros(16, np.float32), np.zeros((0, 16), np.float32))
    with pytest.raises(TypeError, match="w"):
        sq.smooth_quant_scales(act, np.full((2, 16), "a"))
    # Inputs are not modified.
    x0, w0, a0 = x.copy(), w.copy(), act.copy()
    sq.smooth_quant_scales(act, w, "auto", x=x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(act, a0)


def test_exported():
    assert "smooth_quant_scales" in sq.__all__ and "SmoothQuantScales" in sq.__all__
