"""Where MiniLM's int8 error comes from, and what PyTorch-expressible schemes recover (issue 11's accuracy
target: sentence-embedding cosine to f32 >= 0.995 mean, >= 0.99 min on the tokenizer-fixture texts).

Everything here is PyTorch: `quantize_dynamic` with a qconfig_spec naming modules (x86 engine = fbgemm,
7-bit per-tensor activations, which `src/quant.rs` reproduces bit for bit), `per_channel_dynamic_qconfig`,
`float16_dynamic_qconfig` for the linears left in f16, the qnnpack engine (8-bit activations; it has no
f16 linear: `linear_prepack_fp16 is currently not supported by QNNPACK`), and an
LLM.int8()-style decomposition (input columns whose calibration |max| exceeds a threshold go through an
f32 matmul; the rest through PyTorch's dynamic int8 linear; calibrated on `quant.rs`'s 8 CHECK_TEXTS, not
on the evaluation texts). Model = scripts/bert_torch.py on models/minilm; texts = eval_quant.py --embed's
(every 20th tokenizer-fixture text with a word, first --texts of them), embeddings mean-pooled and
L2-normalised; batches of 32 in file order (what `classify --embed` does by default: a batch's
activations are quantized together, padding rows included) and of 1.

    python3 scripts/quant_sensitivity.py schemes [--texts 150] [--heldout N] [--rows 0,1,..]   the table
    python3 scripts/quant_sensitivity.py linears                              one group quantized at a time
    python3 scripts/quant_sensitivity.py layers                               per-layer hidden error, per-tensor
    python3 scripts/quant_sensitivity.py outliers                             activation ranges per linear input
    python3 scripts/quant_sensitivity.py qnnpack-check                        qnnpack's int8 linear in numpy, bit for bit

Size = model.safetensors bytes as `classify quantize` writes them (I8 + F32 scales, U8 embedding rows +
F32 scale/zero point, F16, F32 outlier columns + I32 indices), the header left out, over the f32 file's.
--heldout N: accuracy of models/minilm-sentiment (the same encoder + its linear head) on the first N
held-out texts (scripts/data.py split), batch 1, in PyTorch. Runs on one thread; ~5 s per scheme and batch
size, ~0.3 s per held-out text.
"""
import argparse
import copy
import gzip
import json
import os
import sys
import warnings

import torch
import torch.nn as nn

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bert_torch import load_folder, pad, tokenizer_for  # noqa: E402
import torch.ao.nn.quantized.dynamic as nnqd  # noqa: E402
from torch.ao.quantization import default_dynamic_qconfig as PT, float16_dynamic_qconfig as F16  # noqa: E402
from torch.ao.quantization import float_qparams_weight_only_qconfig as EMB, per_channel_dynamic_qconfig as PC  # noqa: E402
from torch.ao.quantization import quantize_dynamic  # noqa: E402

SUBS = ["q", "k", "v", "o", "ff1", "ff2"]
NAMES = {"q": "query", "k": "key", "v": "value", "o": "attention-out", "ff1": "FFN-in", "ff2": "FFN-out"}
# src/quant.rs CHECK_TEXTS: the calibration set of the decomposition schemes.
CHECK = ["This movie was wonderful, I loved every minute of it.", "Terrible acting and a boring plot. Avoid.",
         "It was okay, I guess — nothing special but not bad either.", "Not good. Not good at all.", "a",
         "The soundtrack was great but the story made no sense whatsoever.",
         "What a masterpiece: brilliant performances, stunning visuals.",
         "I went into this movie with low expectations and came out genuinely surprised; the leads are sharp, "
         "funny and occasionally heartbreaking."]


class Bench:
    def __init__(self, n_texts):
        folder = os.path.join(REPO, "models", "minilm")
        self.model, info = load_folder(folder)
        self.tok = tokenizer_for(folder, info.max_len)
        path = os.path.join(REPO, "tests", "fixtures", "tokenizer_minilm.jsonl.gz")
        rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
        texts = [" ".join(r["text"].split()) for r in rows[::20] if len(r["ids"]) > 2]
        self.texts = [t for t in texts if t][:n_texts]
        self.enc = [e.ids for e in self.tok.encode_batch(self.texts)]
        self.ref = {bs: self.embed(self.model, bs) for bs in (32, 1)}

    @torch.inference_mode()
    def embed(self, m, bs):
        out = []
        for s in range(0, len(self.enc), bs):
            ids, mask = pad(self.enc[s:s + bs])
            x = m.encode(ids, mask)  # (B, S, 384)
            k = mask.unsqueeze(-1).float()
            out.append(torch.nn.functional.normalize((x * k).sum(1) / k.sum(1), dim=-1))
        return torch.cat(out)  # (n, 384)

    def cos(self, m):
        res = {}
        for bs in (32, 1):
            c = (self.embed(m, bs) * self.ref[bs]).sum(1)
            res[bs] = (c.mean().item(), c.min().item())
        return res

    @torch.inference_mode()
    def calibrate(self, texts):
        """{linear name: per-input-column max |x|} over one batch of `texts`."""
        acts, hooks = {}, []

        def hook(name):
            def f(_m, inp, _out):
                a = inp[0].reshape(-1, inp[0].shape[-1]).abs().amax(0)
                acts[name] = torch.maximum(acts[name], a) if name in acts else a
            return f
        for li in range(self.model.L):
            for s in SUBS:
                hooks.append(getattr(self.model.layers[li], s).register_forward_hook(hook(f"layers.{li}.{s}")))
        ids, mask = pad([e.ids for e in self.tok.encode_batch(texts)])
        self.model.encode(ids, mask)
        for h in hooks:
            h.remove()
        return acts


class OutlierLinear(nn.Module):
    """y = dynamic_int8_linear(x with the outlier columns zeroed; W with them zeroed) + x[:, cols] @ W[:, cols]ᵀ.
    Zeroing a column in both is PyTorch's dynamic linear over the other columns exactly: the activation
    min/max already include 0, and a zero weight column adds nothing to the integer sum or the weight scale."""

    def __init__(self, lin, cols, qconfig):
        super().__init__()
        self.cols = cols
        w = lin.weight.detach().clone()  # (out, in)
        self.w_out = w[:, cols].clone()  # (out, n)
        w[:, cols] = 0
        inner = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            inner.weight.copy_(w)
            inner.bias.copy_(lin.bias.detach())
        inner.qconfig = qconfig
        self.q = nnqd.Linear.from_float(inner)

    def forward(self, x):
        xz = x.clone()
        xz[..., self.cols] = 0
        return self.q(xz) + x[..., self.cols] @ self.w_out.T


def build(bench, linear=PT, f16=(), outlier=None, engine="x86", only=None):
    """A quantized copy of the f32 model: embeddings uint8 per row; every linear (or those in `only`) int8
    with qconfig `linear`, except `f16` (f16 weights); `outlier`: threshold of the decomposition."""
    torch.backends.quantized.engine = engine
    m = copy.deepcopy(bench.model)
    L = m.L
    names = [f"layers.{li}.{s}" for li in range(L) for s in SUBS] if only is None else list(only)
    spec = {nn.Embedding: EMB} if only is None else {}
    spec.update({n: (F16 if n in f16 else linear) for n in names if outlier is None or n in f16})
    m = quantize_dynamic(m, spec) if spec else m
    cols_total = 0
    if outlier is not None:
        acts = bench.calibrate(CHECK)
        for n in names:
            if n in f16:
                continue
            li, s = int(n.split(".")[1]), n.split(".")[2]
            cols = torch.nonzero(acts[n] > outlier).flatten().tolist()
            cols_total += len(cols)
            setattr(m.layers[li], s, OutlierLinear(getattr(bench.model.layers[li], s), cols, linear))
    m.cols_total = cols_total
    return m


def size_ratio(bench, per_channel=False, f16=(), outlier_cols=None):
    """model.safetensors bytes of the scheme over the f32 file's (headers left out)."""
    f32 = q = 0
    for name, p in bench.model.named_parameters():
        n = p.numel()
        f32 += 4 * n
        mod = name.rsplit(".", 1)[0]
        if name in ("word.weight", "pos.weight", "typ.weight"):
            q += n + 8 * p.shape[0]
        elif name.endswith(".weight") and p.dim() == 2:
            if mod in f16:
                q += 2 * n
            else:
                q += n + 4 * (p.shape[0] if per_channel else 1)
                c = (outlier_cols or {}).get(mod, 0)
                q += 4 * c * p.shape[0] + 4 * c
        else:
            q += 4 * n
    return q / f32


@torch.inference_mode()
def heldout(m, n):
    """Accuracy of models/minilm-sentiment's head on `m`'s encoder, first n held-out texts, batch 1."""
    from data import split
    _, test = split()
    test = test[:n]
    sent, _ = load_folder(os.path.join(REPO, "models", "minilm-sentiment"))
    tok = tokenizer_for(os.path.join(REPO, "models", "minilm-sentiment"), 256)
    right = 0
    for r in test:
        ids, mask = pad([tok.encode(" ".join(r["text"].split())).ids])
        x = m.encode(ids, mask)
        k = mask.unsqueeze(-1).float()
        logits = sent.classifier((x * k).sum(1) / k.sum(1))
        right += int(int(logits.argmax(1)) == r["label"])
    return right / n


def schemes(bench, args):
    top_ff2 = ["layers.0.ff2", "layers.2.ff2"]
    all_ffn = [f"layers.{li}.{s}" for li in range(6) for s in ("ff1", "ff2")]
    rows = [
        ("f32", None, 1.0),
        ("int8 per-tensor (today; PyTorch's default)", dict(), None),
        ("int8 per-channel", dict(linear=PC), None),
        ("per-tensor, FFN-out (6) f16", dict(f16=[f"layers.{li}.ff2" for li in range(6)]), None),
        ("per-channel, FFN-out of layers 0, 2 f16", dict(linear=PC, f16=top_ff2), None),
        ("per-channel, all FFN (12) f16", dict(linear=PC, f16=all_ffn), None),
        ("qnnpack (8-bit act.) per-tensor", dict(engine="qnnpack"), None),
        ("qnnpack (8-bit act.) per-channel", dict(linear=PC, engine="qnnpack"), None),
        ("qnnpack per-channel + f32 outlier columns > 6", dict(linear=PC, engine="qnnpack", outlier=6.0), None),
        ("per-tensor + f32 outlier columns > 6", dict(outlier=6.0), None),
        ("per-channel + f32 outlier columns > 8", dict(linear=PC, outlier=8.0), None),
        ("per-channel + f32 outlier columns > 6", dict(linear=PC, outlier=6.0), None),
        ("per-channel + f32 outlier columns > 4", dict(linear=PC, outlier=4.0), None),
        ("per-channel + outliers > 6, FFN-out 0 f16", dict(linear=PC, outlier=6.0, f16=top_ff2[:1]), None),
        ("qnnpack per-tensor + f32 outlier columns > 6", dict(engine="qnnpack", outlier=6.0), None),
        ("qnnpack per-channel + f32 outlier columns > 8", dict(linear=PC, engine="qnnpack", outlier=8.0), None),
        ("qnnpack per-channel + f32 outlier columns > 12", dict(linear=PC, engine="qnnpack", outlier=12.0), None),
    ]
    if args.rows:
        rows = [rows[int(i)] for i in args.rows.split(",")]
    print(f"MiniLM-L6 (models/minilm), {len(bench.texts)} texts; cosine to f32 embeddings (mean / min)")
    head = "| scheme | batch 32 mean | batch 32 min | batch 1 mean | batch 1 min | size / f32 |"
    if args.heldout:
        head += f" held-out acc. ({args.heldout} texts, minilm-sentiment head) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for label, kw, fixed in rows:
        if kw is None:
            m, res = bench.model, {32: (1.0, 1.0), 1: (1.0, 1.0)}
        else:
            m = build(bench, **kw)
            res = bench.cos(m)
        torch.backends.quantized.engine = "x86"
        if fixed is not None:
            ratio = fixed
        else:
            cols = None
            if kw.get("outlier") is not None:
                acts = bench.calibrate(CHECK)
                cols = {n: int((a > kw["outlier"]).sum()) for n, a in acts.items()}
            ratio = size_ratio(bench, per_channel=kw.get("linear") is PC, f16=kw.get("f16", ()), outlier_cols=cols)
        extra = f" {getattr(m, 'cols_total', 0)} columns" if kw and kw.get("outlier") else ""
        line = (f"| {label}{extra} | {res[32][0]:.5f} | {res[32][1]:.5f} | {res[1][0]:.5f} | {res[1][1]:.5f} | "
                f"{ratio:.1%} |")
        if args.heldout:
            if kw is not None:
                torch.backends.quantized.engine = kw.get("engine", "x86")
            line += f" {heldout(m, args.heldout):.2%} |"
            torch.backends.quantized.engine = "x86"
        print(line, flush=True)


def linears(bench, _args):
    print("One group quantized (int8 per-tensor / per-channel, x86), everything else f32: cosine mean / min")
    print("| group | per-tensor b32 | per-tensor b1 | per-channel b32 | per-channel b1 |")
    print("|---|---|---|---|---|")
    groups = [(f"{NAMES[s]} ({s}), all layers", [f"layers.{li}.{s}" for li in range(6)]) for s in SUBS]
    groups += [(f"layer {li}, all linears", [f"layers.{li}.{s}" for s in SUBS]) for li in range(6)]
    groups += [(f"layers.{li}.{s}", [f"layers.{li}.{s}"]) for li in range(6) for s in ("v", "ff1", "ff2")]
    for label, names in groups:
        cells = []
        for qc in (PT, PC):
            r = bench.cos(build(bench, linear=qc, only=names))
            cells += [f"{r[32][0]:.5f} / {r[32][1]:.5f}", f"{r[1][0]:.5f} / {r[1][1]:.5f}"]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    torch.backends.quantized.engine = "x86"
    r = bench.cos(quantize_dynamic(copy.deepcopy(bench.model), {nn.Embedding: EMB}))
    print(f"| embedding tables only (uint8 per row) | {r[32][0]:.5f} / {r[32][1]:.5f} | {r[1][0]:.5f} / {r[1][1]:.5f} | | |")


@torch.inference_mode()
def layers(bench, _args):
    """Relative error ||h_q - h||/||h|| of each layer's output (real tokens), per-tensor and per-channel,
    batch 32: where along the depth the error grows."""
    for label, qc in (("per-tensor", PT), ("per-channel", PC)):
        m = build(bench, linear=qc)
        num, den = [0.0] * 7, [0.0] * 7
        for s in range(0, len(bench.enc), 32):
            ids, mask = pad(bench.enc[s:s + 32])
            x, y = bench.model.embed(ids), m.embed(ids)
            hs = [(x, y)]
            for li in range(6):
                x, y = bench.model.layer(li, x, mask), m.layer(li, y, mask)
                hs.append((x, y))
            for i, (a, b) in enumerate(hs):
                num[i] += float(((a - b)[mask] ** 2).sum())
                den[i] += float((a[mask] ** 2).sum())
        print(f"{label}: relative hidden error after embeddings, layers 0-5: " +
              " ".join(f"{(n / d) ** 0.5:.4f}" for n, d in zip(num, den)))


def outliers(bench, _args):
    acts = {}
    for texts in ([bench.texts[i:i + 32] for i in range(0, len(bench.texts), 32)]):
        for n, a in bench.calibrate(texts).items():
            acts[n] = torch.maximum(acts[n], a) if n in acts else a
    print("Per linear input: max |x| over the texts, median column max, the largest columns")
    for n, a in acts.items():
        top = a.topk(4)
        print(f"  {n:14s} max {a.max():6.2f}  median col {a.median():5.2f}  top " +
              ", ".join(f"col {i}: {v:.1f}" for v, i in zip(top.values.tolist(), top.indices.tolist())))


def qnnpack_check(trials=200, seed=0):
    """PyTorch's qnnpack dynamic int8 linear (the engine ARM builds of PyTorch use) re-derived in numpy and
    compared bit for bit: what an 8-bit-activation mode of the engine would have to compute. Differences
    from fbgemm (quantize_reference.py): ChooseQuantizationParams(0, 255) without reduce_range (qnnpack
    ignores it), q = clamp(rint(f32(x · f32(1/scale))) + zp, 0, 255), and the epilogue
    y = f32(f32(acc) · f32(s_x · s_w)) + bias with two roundings (fbgemm: one fma)."""
    import numpy as np
    from quantize_reference import choose_qparams, quantize_weight, random_case, torch_dynamic_linear
    f32 = np.float32
    torch.backends.quantized.engine = "qnnpack"
    rng = np.random.default_rng(seed)
    differ = {"fma": 0, "mul+add": 0}
    total = 0
    for t in range(trials):
        w, b, x, pc = random_case(rng, t)
        q = torch_dynamic_linear(torch.from_numpy(w), torch.from_numpy(b), "int8-per-channel" if pc else "int8")
        yt = q(torch.from_numpy(x)).numpy()
        s, zp = choose_qparams(x.min(), x.max(), qmax=255)
        qx = np.clip(np.rint((x * f32(f32(1) / s)).astype(f32)) + zp, 0, 255).astype(np.int64)
        qw, sw = quantize_weight(w, pc)
        assert np.array_equal(qw, q.weight().int_repr().numpy())
        acc = (qx - zp) @ qw.astype(np.int64).T
        mult = (s * sw).astype(f32)
        fma = (acc.astype(f32).astype(np.float64) * mult + b.astype(np.float64)).astype(f32)
        muladd = ((acc.astype(f32) * mult).astype(f32) + b).astype(f32)
        differ["fma"] += int((fma != yt).sum())
        differ["mul+add"] += int((muladd != yt).sum())
        total += yt.size
    torch.backends.quantized.engine = "x86"
    print(f"numpy vs torch qnnpack dynamic int8 Linear: {trials} random shapes, {total} outputs; differ with a "
          f"fused epilogue {differ['fma']}, with mul then add {differ['mul+add']}")
    assert differ["mul+add"] == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["schemes", "linears", "layers", "outliers", "qnnpack-check"])
    ap.add_argument("--texts", type=int, default=150)
    ap.add_argument("--heldout", type=int, default=0)
    ap.add_argument("--rows", help="schemes: only these rows of the table (comma-separated indices from 0)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.what == "qnnpack-check":
        return qnnpack_check()
    bench = Bench(args.texts)
    {"schemes": schemes, "linears": linears, "layers": layers, "outliers": outliers}[args.what](bench, args)


if __name__ == "__main__":
    main()
