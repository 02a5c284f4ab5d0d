"""Independent NumPy transcriptions of the activation-aware methods of Include/swiftquant.h ("Activation-aware
weights": AWQ-style quantization and SmoothQuant scales), written from the header's text, never from the
library's code. Element-wise steps are float32 where the header says float32; the output errors use float64
products (the library's are float32), so errors agree to about 1e-6 relative, not bit for bit."""
import numpy as np

F32 = np.float32


def _roundf(v):
    """C roundf: half away from zero."""
    return np.sign(v) * np.floor(np.abs(v) + F32(0.5))


def rtn_ref(w, bits, bs, symmetric):
    """The RTN rule of sq_weight_quantize (ONNX Runtime's MlasQuantizeBlockwise), as the header states it:
    codes, scales, zero points of w [n, k] in blocks of bs along k."""
    w = w.astype(F32)
    n, k = w.shape
    kb = -(-k // bs)
    top, mid = F32(2 ** bits - 1), F32(2 ** (bits - 1))
    codes = np.zeros((n, k), np.uint8)
    scales = np.zeros((n, kb), F32)
    zps = np.zeros((n, kb), np.uint8)
    for b in range(kb):
        blk = w[:, b * bs:(b + 1) * bs]
        lo, hi = blk.min(axis=1), blk.max(axis=1)
        if symmetric:
            s = (np.where(np.abs(hi) > np.abs(lo), hi, lo) / -mid).astype(F32)
            z = np.full(n, mid, F32)
        else:
            lo, hi = np.minimum(lo, 0), np.maximum(hi, 0)
            s = ((hi - lo) / top).astype(F32)
            with np.errstate(divide="ignore", invalid="ignore"):
                zf = np.where(s != 0, F32(0) - lo / s, lo).astype(F32)
            z = np.where(zf < 0, 0, np.where(zf > top, top, _roundf(zf))).astype(F32)
        with np.errstate(divide="ignore"):
            r = np.where(s != 0, F32(1) / s, F32(0)).astype(F32)
        q = _roundf((blk * r[:, None]).astype(F32) + z[:, None])
        codes[:, b * bs:(b + 1) * bs] = np.clip(q, 0, top).astype(np.uint8)
        scales[:, b] = s
        zps[:, b] = z.astype(np.uint8)
    return codes, scales, zps


def deq_ref(codes, scales, zps, bs):
    idx = np.arange(codes.shape[1]) // bs
    return ((codes.astype(np.int32) - zps[:, idx].astype(np.int32)).astype(F32) * scales[:, idx]).astype(F32)


def output_error(x, wq, w):
    """mean over (rows, N) of (x (wq - w)^T)^2, float64."""
    e = x.astype(np.float64) @ (wq.astype(np.float64) - w.astype(np.float64)).T
    return float(np.mean(e * e))


def awq_rows(x):
    n = x.shape[0]
    return x if n <= 512 else x[[i * n // 512 for i in range(512)]]


def awq_scales(mean_abs, r):
    s = np.maximum(np.power(mean_abs.astype(np.float64), r).astype(F32), F32(1e-4))
    d = F32(np.sqrt(np.float64(s.max()) * np.float64(s.min())))
    return (s / d).astype(F32)


def awq_ref(w, x, bits, bs, symmetric):
    """The header's AWQ-style search. Returns codes, scales, zero points, s, r*, the err(r) list, and the
    final output error."""
    w = w.astype(F32)
    xs = awq_rows(x.astype(F32))
    mean_abs = np.abs(xs.astype(np.float64)).mean(axis=0).astype(F32)
    errors, cands = [], []
    for i in range(20):
        s = awq_scales(mean_abs, i / 20)
        c, sc, z = rtn_ref((w * s).astype(F32), bits, bs, symmetric)
        wq = (deq_ref(c, sc, z, bs) / s).astype(F32)
        errors.append(output_error(xs, wq, w))
        cands.append(s)
    best = int(np.argmin(errors))
    s = cands[best]
    ws = (w * s).astype(F32)
    xd = (xs / s).astype(F32)
    n, k = w.shape
    codes = np.zeros((n, k), np.uint8)
    kb = -(-k // bs)
    scales = np.zeros((n, kb), F32)
    zps = np.zeros((n, kb), np.uint8)
    clip_errors = np.zeros((n, kb, 10))
    for b in range(kb):
        blk = ws[:, b * bs:(b + 1) * bs]
        amax = np.abs(blk).max(axis=1)
        xb = xd[:, b * bs:(b + 1) * bs].astype(np.float64)
        for i in range(10):
            m = (amax * F32(1 - i / 20)).astype(F32)[:, None]
            c, sc, z = rtn_ref(np.clip(blk, -m, m), bits, bs, symmetric)
            e = xb @ (deq_ref(c, sc, z, bs).astype(np.float64) - blk.astype(np.float64)).T
            clip_errors[:, b, i] = (e * e).sum(axis=0)
        pick = np.argmin(clip_errors[:, b, :], axis=1)
        m = (amax * np.array([F32(1 - i / 20) for i in range(10)], F32)[pick]).astype(F32)[:, None]
        c, sc, z = rtn_ref(np.clip(blk, -m, m), bits, bs, symmetric)
        codes[:, b * bs:(b + 1) * bs], scales[:, b], zps[:, b] = c, sc[:, 0], z[:, 0]
    after = output_error(xs, (deq_ref(codes, scales, zps, bs) / s).astype(F32), w)
    return {"codes": codes, "scales": scales, "zero_points": zps, "s": s, "ratio": best / 20, "errors": errors,
            "error_after": after, "clip_errors": clip_errors, "rows": xs}


def fake_int8(v, per_row):
    """int8 symmetric narrow range, scale max|v| / 127 per tensor or per row (zero or subnormal -> 1)."""
    amax = np.abs(v).max(axis=1, keepdims=True) if per_row else np.abs(v).max()
    sc = (np.asarray(amax, F32) / F32(127)).astype(F32)
    sc = np.where((sc == 0) | (sc < np.finfo(F32).tiny), F32(1), sc).astype(F32)
    q = np.clip(np.rint((v / sc).astype(F32)), -127, 127)
    return (q * sc).astype(F32)


def smooth_formula(act, w, alpha):
    wmax = np.maximum(np.abs(w.astype(F32)).max(axis=0), F32(1e-5)).astype(F32)
    v = np.power(act.astype(np.float64), alpha) / np.power(wmax.astype(np.float64), 1 - alpha)
    return np.maximum(v.astype(F32), F32(1e-5))


def smooth_error(x, w, s):
    x, w = x.astype(F32), w.astype(F32)
    xp = x if s is None else (x / s).astype(F32)
    wp = w if s is None else (w * s).astype(F32)
    y = fake_int8(xp, False).astype(np.float64) @ fake_int8(wp, True).astype(np.float64).T
    d = y - x.astype(np.float64) @ w.astype(np.float64).T
    return float(np.mean(d * d))


def smooth_auto_ref(act, w, x):
    """(alpha*, s, errors over the grid, error_unsmoothed)."""
    errors, cands = [], []
    for i in range(21):
        s = smooth_formula(act, w, i / 20)
        cands.append(s)
        errors.append(smooth_error(x, w, s))
    best = int(np.argmin(errors))
    return best / 20, cands[best], errors, smooth_error(x, w, None)
