"""Golden fixtures for the DeLighT engine path (scripts/delight.py).

Models: two random DeLighT configs written here (tests/fixtures/models/delight-a: 4 blocks N 2..5, w_m 2,
g_max 8, d_m 64; delight-b1: one block, N 5 (odd), w_m 1.5, d_m 48) and, with --trained,
models/sentiment-delight.

Output per model <name> (the format of scripts/export_fixtures.py, so the same checks read it):
  tests/fixtures/golden/<name>.safetensors  b{k}.input_ids, b{k}.lengths, b{k}.embeddings,
        b{k}.layer{l}.hidden, b{k}.layer{l}.attn (batch, 1, seq, seq), b{k}.layer{l}.norm{1,2}.{mean,var}
        (self_attn_layer_norm, final_layer_norm inputs),
        b{k}.pooled, b{k}.logits, b{k}.probs
  tests/fixtures/golden/<name>.json  {"model_dir", "batches", "architecture": per block depth, width,
        GLT in/out/groups, params and MACs at seq 16 and 128 (compute_macs_params)}
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from delight import DeLighTClassifier, make_delight_config  # noqa: E402
from export_fixtures import BATCHES, save_model_dir  # noqa: E402
from model import lengths_to_padding_mask  # noqa: E402
from tok import build_tokenizer  # noqa: E402

SEED = 20261130


def perturb_(model, gen, scale=0.1):
    """Non-trivial biases and norm scales (they start at 0 and 1)."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("bias") or ("norm" in n and n.endswith("weight")):
                p.add_(torch.randn(p.shape, generator=gen) * scale)


def random_model(name, seed, vocab_path, delight, **config):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    m = DeLighTClassifier(make_delight_config(delight=delight, **config))
    perturb_(m, gen)
    m.eval()
    d = os.path.join(REPO, "tests", "fixtures", "models", name)
    save_model_dir(m, d, vocab_path)
    return d


def load_model(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    m = DeLighTClassifier(cfg)
    m.load_state_dict(load_file(os.path.join(model_dir, "model.safetensors")), strict=True)
    return m.eval()


def architecture(m):
    blocks = []
    for layer in m.encoder.layers:
        c = layer.dextra_layer.config
        blocks.append({
            "depth": layer.depth, "width_mult": layer.width_mult,
            "glt": [{"in": i, "out": o, "groups": g} for i, o, g in zip(c["in"], c["out"], c["groups"])],
            "params": layer.macs_params(1)[1],
            "macs": {str(s): layer.macs_params(s)[0] for s in (16, 128)},
        })
    return {"blocks": blocks, "encoder_params": m.encoder_params(), "embedding_params": m.embedding.weight.numel()}


def traced(model, ids, lens):
    """Forward with every intermediate; norm statistics from hooks on the two block norms' inputs."""
    stats = {}
    hooks = []
    for l, layer in enumerate(model.encoder.layers):
        for name, mod in (("norm1", layer.self_attn_layer_norm), ("norm2", layer.final_layer_norm)):
            def hook(_m, inp, _out, key=f"layer{l}.{name}"):
                x = inp[0]
                stats[f"{key}.mean"] = x.mean(-1)
                stats[f"{key}.var"] = x.var(-1, unbiased=False)
            hooks.append(mod.register_forward_hook(hook))
    trace = []
    logits = model(ids, lens, trace)
    for h in hooks:
        h.remove()
    out = {"embeddings": trace[0]["embeddings"]}
    for l, t in enumerate(trace[1:-1]):
        out[f"layer{l}.hidden"] = t["hidden"]
        out[f"layer{l}.attn"] = t["attn"].unsqueeze(1)  # (B, 1, S, S)
    out.update(stats)
    out["pooled"] = trace[-1]["pooled"]
    out["logits"] = logits
    out["probs"] = F.softmax(logits, -1)
    return out


def check_masking(model, ids, lens, out):
    """Padding never changes a real token's output: each text alone gives the batch's logits."""
    for j in range(ids.size(0)):
        n = int(lens[j])
        alone = model(ids[j : j + 1, :n], lens[j : j + 1])
        torch.testing.assert_close(alone[0], out["logits"][j], rtol=1e-5, atol=1e-5)


def export(name, model_dir):
    model = load_model(model_dir)
    c = model.config
    tok = build_tokenizer(os.path.join(model_dir, "vocab.txt"), max_len=c["max_len"])
    tensors, meta = {}, []
    with torch.no_grad():
        for k, texts in enumerate(BATCHES):
            encs = tok.encode_batch(texts)
            lens = torch.tensor([len(e.ids) for e in encs], dtype=torch.long)
            ids = torch.zeros(len(encs), int(lens.max()), dtype=torch.long)
            for j, e in enumerate(encs):
                ids[j, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
            out = traced(model, ids, lens)
            check_masking(model, ids, lens, out)
            tensors[f"b{k}.input_ids"] = ids
            tensors[f"b{k}.lengths"] = lens
            for key, v in out.items():
                tensors[f"b{k}.{key}"] = v.to(torch.float32)
            meta.append({"texts": texts, "lengths": lens.tolist(),
                         "predictions": [c["labels"][i] for i in out["logits"].argmax(-1).tolist()]})
    tensors = {k: v.contiguous().clone() for k, v in tensors.items()}
    gdir = os.path.join(REPO, "tests", "fixtures", "golden")
    st = os.path.join(gdir, f"{name}.safetensors")
    save_file(tensors, st)
    rel = os.path.relpath(os.path.abspath(model_dir), REPO)
    with open(os.path.join(gdir, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump({"model_dir": rel, "batches": meta, "architecture": architecture(model)}, f,
                  ensure_ascii=False, indent=1)
    size = os.path.getsize(st)
    assert size <= 4_000_000, (name, size)
    print(f"{name}: {len(BATCHES)} batches, {len(tensors)} tensors, {size/1e6:.2f} MB; "
          f"encoder params {model.encoder_params()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trained", action="store_true", help="also models/sentiment-delight")
    ap.add_argument("--only-trained", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    vocab_path = os.path.join(REPO, "models", "vocab.txt")
    vocab_size = sum(1 for _ in open(vocab_path, encoding="utf-8"))
    jobs = []
    if not args.only_trained:
        jobs.append(("delight-a", random_model(
            "delight-a", SEED, vocab_path,
            dict(d_o=32, width_mult=2.0, min_depth=2, max_depth=5, blocks=4, max_groups=8, ffn_reduction=4),
            vocab_size=vocab_size, hidden_size=64, max_len=64)))
        jobs.append(("delight-b1", random_model(
            "delight-b1", SEED + 1, vocab_path,
            dict(d_o=24, width_mult=1.5, min_depth=5, max_depth=7, blocks=1, max_groups=8, ffn_reduction=3),
            vocab_size=vocab_size, hidden_size=48, max_len=64)))
    if args.trained or args.only_trained:
        jobs.append(("sentiment-delight", os.path.join(REPO, "models", "sentiment-delight")))
    for name, d in jobs:
        export(name, d)


if __name__ == "__main__":
    main()
