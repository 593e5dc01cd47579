"""Golden fixture for head ablation: the classifier's logits with chosen attention heads' outputs zeroed
(or replaced by their mean over the sequence's real tokens) before the output projection.

The forward below is export_fixtures.manual_forward with one change: after `probs @ v` (B, H, S, dh) the
ablated heads' slices are set to 0 (or their mean over real tokens) per sequence. Without ablation it is
checked against the real nn.Module forward (torch.testing.assert_close) before anything is written.

Output: tests/fixtures/golden/ablation.json
  {"models": [{"name", "model_dir", "texts", "ids" (B,S), "lengths" (B), "layers", "heads",
               "cases": [{"what", "mode", "mask" (rows, layers, heads) 0/1, "logits" (B,L), "probs" (B,L)}]}]}
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from export_fixtures import act, apply_norm, load_model  # noqa: E402
from model import lengths_to_padding_mask  # noqa: E402
from tok import build_tokenizer  # noqa: E402

TEXTS = ["a dull, lifeless waste of two hours", "This movie was wonderful, I loved every minute of it."]
MODELS = [("sentiment-ln", "models/sentiment-ln"), ("prenorm-gelu", "tests/fixtures/models/prenorm-gelu")]


def ablated_forward(model, ids, lengths, mask, mode):
    """Logits with heads ablated. mask: (rows, layers, heads) bool, rows 1 (all) or B; True = ablate."""
    c = model.config
    D, H = c["hidden_size"], c["num_heads"]
    dh = D // H
    eps, kind = c["norm_eps"], c["norm"]
    B, S = ids.shape
    pad = lengths_to_padding_mask(lengths, S)  # (B,S) True = padding
    real = (~pad).to(torch.float32)  # (B,S)
    mask = mask.expand(B, -1, -1)  # (B, layers, H)
    x = model.embedding.weight[ids]
    if c["embedding_scale"]:
        x = x * math.sqrt(D)
    x = x + model.pos_encoder.pe[:S].unsqueeze(0)
    for li, layer in enumerate(model.encoder.layers):
        W, bias = layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias

        def sa(h):
            qkv = h @ W.t() + bias  # (B,S,3D)
            q, k, v = qkv.split(D, dim=-1)
            q = q.reshape(B, S, H, dh).transpose(1, 2)  # (B,H,S,dh)
            k = k.reshape(B, S, H, dh).transpose(1, 2)
            v = v.reshape(B, S, H, dh).transpose(1, 2)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)  # (B,H,S,S)
            scores = scores.masked_fill(pad[:, None, None, :], float("-inf"))
            o = torch.softmax(scores, dim=-1) @ v  # (B,H,S,dh)
            gate = mask[:, li, :, None, None]  # (B,H,1,1)
            if mode == "zero":
                repl = torch.zeros_like(o)
            else:
                m = (o * real[:, None, :, None]).sum(2, keepdim=True) / real.sum(1)[:, None, None, None]  # (B,H,1,dh)
                repl = m.expand_as(o)
            o = torch.where(gate, repl, o)
            o = o.transpose(1, 2).reshape(B, S, D)
            return o @ layer.self_attn.out_proj.weight.t() + layer.self_attn.out_proj.bias

        def ff(h):
            h = act(c["activation"], h @ layer.linear1.weight.t() + layer.linear1.bias)
            return h @ layer.linear2.weight.t() + layer.linear2.bias

        if c["norm_first"]:
            x = x + sa(apply_norm(kind, layer.norm1, x, eps))
            x = x + ff(apply_norm(kind, layer.norm2, x, eps))
        else:
            x = apply_norm(kind, layer.norm1, x + sa(x), eps)
            x = apply_norm(kind, layer.norm2, x + ff(x), eps)
    if model.encoder.norm is not None:
        x = apply_norm(kind, model.encoder.norm, x, eps)
    if c["pooling"] == "cls":
        pooled = x[:, 0]
    else:
        keep = real.unsqueeze(-1)
        pooled = (x * keep).sum(1) / keep.sum(1)
    return pooled @ model.classifier.weight.t() + model.classifier.bias


def main():
    torch.backends.mha.set_fastpath_enabled(False)
    out = {"models": []}
    for name, rel in MODELS:
        model_dir = os.path.join(REPO, rel)
        model = load_model(model_dir)
        c = model.config
        L, H = c["num_layers"], c["num_heads"]
        tok = build_tokenizer(os.path.join(model_dir, "vocab.txt"), max_len=c["max_len"])
        enc = [tok.encode(t).ids for t in TEXTS]
        S = max(map(len, enc))
        ids = torch.tensor([e + [c["pad_token_id"]] * (S - len(e)) for e in enc])
        lengths = torch.tensor([len(e) for e in enc])
        cases = []
        with torch.no_grad():
            plain = ablated_forward(model, ids, lengths, torch.zeros(1, L, H, dtype=torch.bool), "zero")
            torch.testing.assert_close(plain, model(ids, lengths), rtol=1e-5, atol=1e-5)

            def add(what, mode, mask):
                logits = ablated_forward(model, ids, lengths, mask, mode)
                cases.append({"what": what, "mode": mode, "mask": mask.int().tolist(),
                              "logits": logits.tolist(), "probs": torch.softmax(logits, -1).tolist()})

            add("nothing", "zero", torch.zeros(1, L, H, dtype=torch.bool))
            for mode in ["zero", "mean"]:
                for li in range(L):
                    m = torch.zeros(1, L, H, dtype=torch.bool)
                    m[0, li] = True
                    add(f"every head of layer {li}", mode, m)
                m = torch.zeros(2, L, H, dtype=torch.bool)
                m[0, 0, 1] = True
                m[1, L - 1, 0] = True
                m[1, L - 1, H - 1] = True
                add("different heads per sequence", mode, m)
        out["models"].append({"name": name, "model_dir": rel, "texts": TEXTS, "ids": ids.tolist(),
                              "lengths": lengths.tolist(), "layers": L, "heads": H, "cases": cases})
        print(name, "cases", len(cases), "max |Δlogit| vs plain", max(
            float((torch.tensor(cs["logits"]) - plain).abs().max()) for cs in cases))
    path = os.path.join(REPO, "tests/fixtures/golden/ablation.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
