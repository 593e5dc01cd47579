"""Golden fixtures for the Rust engine.

Models: models/sentiment-ln, models/sentiment-bn (trained), plus two random-weight models created here:
  tests/fixtures/models/prenorm-gelu  (LayerNorm, norm_first, final_norm, gelu, mean pooling)
  tests/fixtures/models/prenorm-bn    (BatchNorm, norm_first, no final norm, gelu_tanh, cls pooling)
  tests/fixtures/models/postnorm-silu (LayerNorm, post-norm, SiLU/swish, mean pooling, 3 heads)

For every model, an explicit hand-written forward (below) computes all intermediates from the module's
parameters; it is checked with torch.testing.assert_close against the real nn.Module forward
(eval mode, MHA fast path disabled) before anything is written.

Output per model <name>:
  tests/fixtures/golden/<name>.safetensors  b{k}.input_ids, b{k}.lengths, b{k}.embeddings,
        b{k}.layer{l}.hidden, b{k}.layer{l}.attn, b{k}.layer{l}.norm{1,2}.{mean,var},
        b{k}.final_norm.{mean,var} (if any), b{k}.pooled, b{k}.logits, b{k}.probs
  tests/fixtures/golden/<name>.json         {"model_dir": ..., "batches": [{"texts", "lengths"}]}
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from data import split  # noqa: E402
from model import EncoderClassifier, lengths_to_padding_mask, make_config, state_dict_for_export  # noqa: E402
from tok import build_tokenizer  # noqa: E402

SEED = 20240601

LONG_TEXT = (
    "I went into this movie with low expectations and came out genuinely surprised. The first act is slow, "
    "almost painfully so, as the script spends far too long introducing characters who never matter again. "
    "But once the two leads finally share the screen, something clicks: their dialogue is sharp, funny and "
    "occasionally heartbreaking, and the director wisely lets long takes play out without cutting away. "
    "The cinematography deserves special mention; the night scenes in the harbour are gorgeous, lit mostly "
    "by neon and headlights. The score is overbearing in places, and a subplot about a stolen painting goes "
    "nowhere, but these are small complaints. By the final twenty minutes I was completely invested, and the "
    "ending, which I will not spoil, is both earned and unexpected. Not a masterpiece, but a warm, clever, "
    "well-acted film that rewards patience. Seven out of ten, and I would happily watch it again with friends."
)

SINGLE_TEXTS = [
    "This movie was wonderful, I loved every minute of it.",
    "Terrible acting and a boring plot. Avoid.",
    "an absolute joy from start to finish",
    "a dull, lifeless waste of two hours",
    "",
    "a",
    "I loved it 😍🎬",
    "這部電影很好看",
    "Café crème brûlée, naïve",
    "a\u200bb\u0007c",
    "The best film of the year!",
    "Not good. Not good at all.",
    "It was okay, I guess — nothing special but not bad either.",
    "What a masterpiece: brilliant performances, stunning visuals.",
    "I want my money back.",
]
PADDED_BATCH = [
    "Great!",
    "The plot was predictable but the actors were charming enough to carry it.",
    "Worst sequel ever made.",
    "A moving, beautifully shot drama about family and loss, with a quietly devastating final act.",
]
LONG_BATCH = [
    "Surprisingly funny.",
    LONG_TEXT,
    "The soundtrack was great but the story made no sense whatsoever.",
]
BATCHES = [[t] for t in SINGLE_TEXTS] + [PADDED_BATCH, LONG_BATCH]


# ----------------------------------------------------------------------------------------------
# explicit forward
# ----------------------------------------------------------------------------------------------
def act(name, x):
    if name == "relu":
        return torch.clamp_min(x, 0.0)
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "gelu_tanh":
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))
    if name == "silu":
        return x * torch.sigmoid(x)
    raise ValueError(name)


def norm_stats(kind, x):
    """Statistics of the norm's INPUT. layer: per token (B,S); batch: per feature over B*S (D)."""
    if kind == "layer":
        mean = x.mean(-1)
        var = ((x - mean.unsqueeze(-1)) ** 2).mean(-1)
    else:
        flat = x.reshape(-1, x.size(-1))
        mean = flat.mean(0)
        var = ((flat - mean) ** 2).mean(0)
    return mean, var


def apply_norm(kind, mod, x, eps):
    """Inference-mode norm: LayerNorm per token; BatchNorm with RUNNING statistics."""
    if kind == "layer":
        mean, var = norm_stats("layer", x)
        y = (x - mean.unsqueeze(-1)) / torch.sqrt(var.unsqueeze(-1) + eps)
    else:
        y = (x - mod.running_mean) / torch.sqrt(mod.running_var + eps)
    return y * mod.weight + mod.bias


def manual_forward(model, ids, lengths):
    c = model.config
    D, H = c["hidden_size"], c["num_heads"]
    dh = D // H
    eps, kind = c["norm_eps"], c["norm"]
    B, S = ids.shape
    pad = lengths_to_padding_mask(lengths, S)  # True = padding
    out = {}
    x = model.embedding.weight[ids]
    if c["embedding_scale"]:
        x = x * math.sqrt(D)
    x = x + model.pos_encoder.pe[:S].unsqueeze(0)
    out["embeddings"] = x
    for li, layer in enumerate(model.encoder.layers):
        p = f"layer{li}."
        W, bias = layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias

        def sa(h):
            qkv = h @ W.t() + bias  # (B,S,3D)
            q, k, v = qkv.split(D, dim=-1)
            q = q.reshape(B, S, H, dh).transpose(1, 2)  # (B,H,S,dh)
            k = k.reshape(B, S, H, dh).transpose(1, 2)
            v = v.reshape(B, S, H, dh).transpose(1, 2)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)  # (B,H,S,S)
            scores = scores.masked_fill(pad[:, None, None, :], float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            o = (probs @ v).transpose(1, 2).reshape(B, S, D)
            o = o @ layer.self_attn.out_proj.weight.t() + layer.self_attn.out_proj.bias
            return o, probs

        def ff(h):
            h = act(c["activation"], h @ layer.linear1.weight.t() + layer.linear1.bias)
            return h @ layer.linear2.weight.t() + layer.linear2.bias

        if c["norm_first"]:
            out[p + "norm1.mean"], out[p + "norm1.var"] = norm_stats(kind, x)
            a, probs = sa(apply_norm(kind, layer.norm1, x, eps))
            x = x + a
            out[p + "norm2.mean"], out[p + "norm2.var"] = norm_stats(kind, x)
            x = x + ff(apply_norm(kind, layer.norm2, x, eps))
        else:
            a, probs = sa(x)
            r = x + a
            out[p + "norm1.mean"], out[p + "norm1.var"] = norm_stats(kind, r)
            x = apply_norm(kind, layer.norm1, r, eps)
            r = x + ff(x)
            out[p + "norm2.mean"], out[p + "norm2.var"] = norm_stats(kind, r)
            x = apply_norm(kind, layer.norm2, r, eps)
        out[p + "attn"] = probs
        out[p + "hidden"] = x
    if model.encoder.norm is not None:
        out["final_norm.mean"], out["final_norm.var"] = norm_stats(kind, x)
        x = apply_norm(kind, model.encoder.norm, x, eps)
        out["final_hidden"] = x
    if c["pooling"] == "cls":
        pooled = x[:, 0]
    else:
        keep = (~pad).to(x.dtype).unsqueeze(-1)
        pooled = (x * keep).sum(1) / keep.sum(1)
    out["pooled"] = pooled
    logits = pooled @ model.classifier.weight.t() + model.classifier.bias
    out["logits"] = logits
    out["probs"] = torch.softmax(logits, dim=-1)
    return out


def module_forward(model, ids, lengths):
    """Real nn.Module forward, capturing per-layer outputs and attention probabilities via hooks."""
    caps, attn_inputs = {}, {}
    hooks = []
    for li, layer in enumerate(model.encoder.layers):
        hooks.append(layer.register_forward_hook(lambda m, i, o, li=li: caps.__setitem__(f"layer{li}.hidden", o)))
        hooks.append(layer.self_attn.register_forward_pre_hook(
            lambda m, a, kw, li=li: attn_inputs.__setitem__(li, (a, kw)), with_kwargs=True))
    if model.encoder.norm is not None:
        hooks.append(model.encoder.norm.register_forward_hook(lambda m, i, o: caps.__setitem__("final_hidden", o)))
    logits = model(ids, lengths)
    for h in hooks:
        h.remove()
    caps["logits"] = logits
    for li, layer in enumerate(model.encoder.layers):
        a, kw = attn_inputs[li]
        kw = dict(kw)
        kw["need_weights"] = True
        kw["average_attn_weights"] = False
        caps[f"layer{li}.attn"] = layer.self_attn(*a, **kw)[1]
    return caps


def check(model, ids, lengths, man, tol):
    torch.backends.mha.set_fastpath_enabled(False)
    mod = module_forward(model, ids, lengths)
    real = ~lengths_to_padding_mask(lengths, ids.size(1))  # (B,S) True = real token
    for k, v in mod.items():
        m = man[k]
        if k == "logits":
            torch.testing.assert_close(m, v, rtol=tol, atol=tol, msg=lambda s: f"{k}: {s}")
        elif k.endswith(".attn"):
            qmask = real[:, None, :, None].expand_as(v)
            torch.testing.assert_close(m[qmask], v[qmask], rtol=tol, atol=tol, msg=lambda s: f"{k}: {s}")
        else:
            torch.testing.assert_close(m[real], v[real], rtol=tol, atol=tol, msg=lambda s: f"{k}: {s}")
    # also report: full-tensor agreement (incl. padded rows) and the fast-path result
    full = max(float((man[k] - v).abs().max()) for k, v in mod.items())
    torch.backends.mha.set_fastpath_enabled(True)
    with torch.inference_mode():
        fast = model(ids, lengths)
    torch.backends.mha.set_fastpath_enabled(False)
    return full, float((fast - man["logits"]).abs().max())


# ----------------------------------------------------------------------------------------------
def load_model(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    model = EncoderClassifier(cfg)
    sd = load_file(os.path.join(model_dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return model.eval()


def perturb_(model, gen, scale=0.1):
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith(".bias") or n.endswith("in_proj_bias"):
                p.add_(torch.randn(p.shape, generator=gen) * scale)
            elif ("norm" in n) and n.endswith(".weight"):
                p.add_(torch.randn(p.shape, generator=gen) * scale)


def save_model_dir(model, out_dir, vocab_path):
    os.makedirs(out_dir, exist_ok=True)
    save_file(state_dict_for_export(model), os.path.join(out_dir, "model.safetensors"))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2)
    shutil.copy(vocab_path, os.path.join(out_dir, "vocab.txt"))


def random_layer_norm_model(name, seed, vocab_path, **config):
    """A random LayerNorm model (seeded, weights perturbed) saved to tests/fixtures/models/<name>."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    m = EncoderClassifier(make_config(**config))
    perturb_(m, gen)
    m.eval()
    d = os.path.join(REPO, "tests", "fixtures", "models", name)
    save_model_dir(m, d, vocab_path)
    return d


def make_random_models(vocab_path):
    vocab_size = sum(1 for _ in open(vocab_path, encoding="utf-8"))
    out = {}
    # (c) pre-norm LayerNorm + final norm, exact GELU, mean pooling
    out["prenorm-gelu"] = random_layer_norm_model(
        "prenorm-gelu", SEED, vocab_path, vocab_size=vocab_size, hidden_size=64, num_heads=4, num_layers=2,
        ffn_size=128, activation="gelu", norm="layer", norm_first=True, final_norm=True, max_len=64, pooling="mean")
    # (d) pre-norm BatchNorm, tanh-GELU, CLS pooling; running stats from real text
    torch.manual_seed(SEED + 1)
    gen = torch.Generator().manual_seed(SEED + 1)
    cfg = make_config(vocab_size=vocab_size, hidden_size=64, num_heads=2, num_layers=2, ffn_size=96,
                      activation="gelu_tanh", norm="batch", norm_first=True, final_norm=False, max_len=64,
                      pooling="cls")
    m = EncoderClassifier(cfg)
    perturb_(m, gen)
    tok = build_tokenizer(vocab_path, max_len=64)
    train, _ = split()
    sample = [train[i]["text"] for i in torch.randperm(len(train), generator=gen)[:16 * 20].tolist()]
    m.eval()
    for mod in m.modules():  # only BN in train mode (dropout stays off) -> deterministic running stats
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.train()
    with torch.no_grad():
        for i in range(0, len(sample), 16):
            encs = tok.encode_batch(sample[i : i + 16])
            lens = torch.tensor([len(e.ids) for e in encs])
            ids = torch.zeros(len(encs), int(lens.max()), dtype=torch.long)
            for j, e in enumerate(encs):
                ids[j, : len(e.ids)] = torch.tensor(e.ids)
            m(ids, lens)
    m.eval()
    d = os.path.join(REPO, "tests", "fixtures", "models", "prenorm-bn")
    save_model_dir(m, d, vocab_path)
    out["prenorm-bn"] = d
    # (e) post-norm LayerNorm, SiLU (swish), mean pooling, 3 heads of 16
    out["postnorm-silu"] = random_layer_norm_model(
        "postnorm-silu", SEED + 2, vocab_path, vocab_size=vocab_size, hidden_size=48, num_heads=3, num_layers=2,
        ffn_size=80, activation="silu", norm="layer", norm_first=False, final_norm=False, max_len=64, pooling="mean")
    return out


def export(name, model_dir, tol):
    model = load_model(model_dir)
    c = model.config
    tok = build_tokenizer(os.path.join(model_dir, "vocab.txt"), max_len=c["max_len"])
    tensors, meta = {}, []
    report = {"max_abs_diff_full": 0.0, "fastpath_logit_diff": 0.0}
    with torch.no_grad():
        for k, texts in enumerate(BATCHES):
            encs = tok.encode_batch(texts)
            lens = torch.tensor([len(e.ids) for e in encs], dtype=torch.long)
            ids = torch.zeros(len(encs), int(lens.max()), dtype=torch.long)
            for j, e in enumerate(encs):
                ids[j, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
            man = manual_forward(model, ids, lens)
            full, fast = check(model, ids, lens, man, tol)
            report["max_abs_diff_full"] = max(report["max_abs_diff_full"], full)
            report["fastpath_logit_diff"] = max(report["fastpath_logit_diff"], fast)
            tensors[f"b{k}.input_ids"] = ids
            tensors[f"b{k}.lengths"] = lens
            for key, v in man.items():
                if key == "final_hidden":
                    continue
                tensors[f"b{k}.{key}"] = v.to(torch.float32)
            meta.append({"texts": texts, "lengths": lens.tolist(),
                         "predictions": [c["labels"][i] for i in man["logits"].argmax(-1).tolist()]})
    tensors = {k: v.contiguous().clone() for k, v in tensors.items()}
    gdir = os.path.join(REPO, "tests", "fixtures", "golden")
    os.makedirs(gdir, exist_ok=True)
    st = os.path.join(gdir, f"{name}.safetensors")
    save_file(tensors, st)
    rel = os.path.relpath(os.path.abspath(model_dir), REPO)
    with open(os.path.join(gdir, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump({"model_dir": rel, "batches": meta}, f, ensure_ascii=False, indent=1)
    size = os.path.getsize(st)
    assert size <= 3_000_000, (name, size)
    print(f"{name}: {len(BATCHES)} batches, {len(tensors)} tensors, {size/1e6:.2f} MB, "
          f"manual-vs-module max |diff| (all positions) {report['max_abs_diff_full']:.2e}, "
          f"fast-path logits max |diff| {report['fastpath_logit_diff']:.2e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ln-dir", default=os.path.join(REPO, "models", "sentiment-ln"))
    ap.add_argument("--bn-dir", default=os.path.join(REPO, "models", "sentiment-bn"))
    ap.add_argument("--only-random", action="store_true")
    ap.add_argument("--only", help="export just this model's fixture (e.g. postnorm-silu)")
    ap.add_argument("--tol", type=float, default=2e-5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.backends.mha.set_fastpath_enabled(False)
    vocab_path = os.path.join(REPO, "models", "vocab.txt")
    rnd = make_random_models(vocab_path)
    jobs = [] if args.only_random else [("sentiment-ln", args.ln_dir), ("sentiment-bn", args.bn_dir)]
    jobs += [(name, rnd[name]) for name in ("prenorm-gelu", "prenorm-bn", "postnorm-silu")]
    if args.only:
        jobs = [j for j in jobs if j[0] == args.only]
    for name, d in jobs:
        export(name, d, args.tol)


if __name__ == "__main__":
    main()
