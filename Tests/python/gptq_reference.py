"""An independent NumPy transcription of GPTQ (the IST-DASLab / AutoGPTQ loop, column by column with rank-1
updates inside each block and the lazy update after it) on the block-weight grid, as README "GPTQ" states it.
Used by test_gptq.py and by bench/bench.py (the speed comparison)."""
import numpy as np


def _roundf(v):
    return np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))


def group_params(blk, bits, symmetric):
    """The block rule (ORT MlasQuantizeBlockwise) on blk [N, g]: scale and zero point per row (float32)."""
    top, mid = np.float32(2 ** bits - 1), np.float32(2 ** (bits - 1))
    lo, hi = blk.min(axis=1), blk.max(axis=1)
    if symmetric:
        v = np.where(np.abs(hi) > np.abs(lo), hi, lo)
        return (v / -mid).astype(np.float32), np.full(blk.shape[0], mid, np.float32)
    lo, hi = np.minimum(lo, 0), np.maximum(hi, 0)
    s = ((hi - lo) / top).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        zf = np.where(s != 0, np.float32(0) - lo / s, lo).astype(np.float32)
    return s, np.where(zf < 0, 0, np.where(zf > top, top, _roundf(zf))).astype(np.float32)


def codes_of(w, s, z, bits):
    with np.errstate(divide="ignore"):
        r = np.where(s != 0, np.float32(1) / s, np.float32(0)).astype(np.float32)
    return np.clip(_roundf((w * r).astype(np.float32) + z), 0, 2 ** bits - 1).astype(np.float32)


def gptq(w, H, bits=4, block_size=32, symmetric=True, act_order=False, damp=0.01, blocksize=128):
    """Returns (codes uint8 [N, K], scales [N, kb], zero points uint8 [N, kb], damp used)."""
    W = np.array(w, np.float32)
    H = np.array(H, np.float64)
    n, k = W.shape
    kb = -(-k // block_size)
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    scales = np.zeros((n, kb), np.float32)
    zps = np.zeros((n, kb), np.float32)
    if act_order:
        perm = np.argsort(-np.diag(H), kind="stable")
        for g in range(kb):  # static groups: the rule on the original groups
            scales[:, g], zps[:, g] = group_params(W[:, g * block_size:(g + 1) * block_size], bits, symmetric)
    else:
        perm = np.arange(k)
    W = W[:, perm]
    H = H[perm][:, perm]
    d = damp
    while True:
        Hd = H + d * np.mean(np.diag(H)) * np.eye(k)
        try:
            np.linalg.cholesky(Hd)
            break
        except np.linalg.LinAlgError:
            d = 1e-4 if d == 0 else d * 10
    U = np.linalg.cholesky(np.linalg.inv(Hd)).T.astype(np.float32)  # upper, U^T U = H^-1
    codes = np.zeros((n, k), np.uint8)
    B = max(blocksize, block_size)
    for i1 in range(0, k, B):
        i2 = min(i1 + B, k)
        W1 = W[:, i1:i2].copy()
        Err1 = np.zeros_like(W1)
        for i in range(i2 - i1):
            j = i1 + i
            col = perm[j]
            g = col // block_size
            if not act_order and col % block_size == 0:
                scales[:, g], zps[:, g] = group_params(W1[:, i:i + block_size], bits, symmetric)
            wcol = W1[:, i]
            c = codes_of(wcol, scales[:, g], zps[:, g], bits)
            q = ((c - zps[:, g]) * scales[:, g]).astype(np.float32)
            codes[:, col] = c.astype(np.uint8)
            err = ((wcol - q) / U[j, j]).astype(np.float32)
            W1[:, i:] -= np.outer(err, U[j, j:i2])
            Err1[:, i] = err
        W[:, i2:] -= Err1 @ U[i1:i2, i2:]
    return codes, scales, zps.astype(np.uint8), d


def output_error(w, wq, H):
    """sum over rows of e^T H e, e = w - wq (float64)."""
    e = np.asarray(w, np.float64) - np.asarray(wq, np.float64)
    return float(np.einsum("ij,jk,ik->", e, np.asarray(H, np.float64), e))
