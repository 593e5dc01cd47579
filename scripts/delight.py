"""PyTorch reference: DeLighT encoder classifier (Mehta et al., ICLR 2021), batch_first.

Follows the authors' fairseq code (sacmehta/delight: delight_modules/dextra_unit.py, nn_functions.py,
modules/delight_transformer_layer.py, single_head_attention.py, models/delight_transformer.py), written
anew for this project. Defaults as the reference's base architecture: LayerNorm, swish (= SiLU), feature
shuffle on, post-norm blocks, DExTra dropout 0.

Around the DeLighT blocks the classifier is the project's default model (scripts/model.py): token
embedding * sqrt(d_m) + sinusoidal PE, mask-weighted mean pooling, linear classifier.

Block-wise scaling (models/delight_transformer.py): depth N_b = int(linspace(N_min, N_max, B))[b],
width multiplier w_b = round(linspace(w_m, w_m + N_max/N_min - 1, B)[b], 3).

DExTra (dextra_unit.py `dextra_config`) for one block with depth N, width w, d_m, d_o:
  input_layer: Linear d_m -> d_m/2 (+ LayerNorm + swish)
  mid = ceil(N/2); groups = [min(2**(i+1), g_max) for i < mid] mirrored (odd N: middle not repeated)
  widths = int(linspace(d_m/2, d_m*w, mid)) mirrored, last dropped, each rounded up to a multiple of
           max(g_l, g_{l+1}, 8); the last GLT outputs d_o
  GLT layer l: in_0 = d_m/2, in_l = out_{l-1} + d_m/2; groups g_l; shuffle; LayerNorm over out_l/g_l
           (per group, after the shuffle) + swish; g_l = 1 is a plain Linear with LayerNorm(out_l)
  mixer after layer l: split the projected input and the layer output into g_{l+1} groups each (1 after the
           last layer), concatenate group by group
  output_layer: Linear (d_o + d_m/2) -> d_o (+ LayerNorm + swish)

state_dict names (what the Rust engine loads; module names as the reference's):
  embedding.weight
  encoder.layers.{b}.dextra_layer.input_layer.{weights,bias,normalization_fn.weight,normalization_fn.bias}
  encoder.layers.{b}.dextra_layer.dextra_layers.{l}.{weights,bias,normalization_fn.*}
        GLT (g > 1): weights (g, in/g, out/g), bias (g, 1, out/g), normalization_fn (out/g)
        Linear (g = 1): weights (out, in), bias (out), normalization_fn (out)
  encoder.layers.{b}.dextra_layer.output_layer.*
  encoder.layers.{b}.self_attn.linear_kqv.{weights,bias}  (3*d_o, d_o): rows q, k, v
  encoder.layers.{b}.self_attn.out_proj.{weights,bias}    (d_m, d_o)
  encoder.layers.{b}.self_attn_layer_norm.{weight,bias}
  encoder.layers.{b}.fc1.{weights,bias} (d_m/r, d_m), fc2 (d_m, d_m/r), final_layer_norm.*
  classifier.weight / bias

Run as a script: prints the per-block config, params and MACs of the default sizes, and checks the GLT
(bmm + shuffle) against an explicit per-element loop.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from model import PositionalEncoding, activation_fn, lengths_to_padding_mask

DELIGHT_DEFAULTS = {
    "architecture": "delight_classifier",
    "vocab_size": 8192,
    "hidden_size": 128,     # d_m
    # Derived (make_delight_config), kept so the engine's config schema is the default models':
    # num_layers = B, num_heads = 1, ffn_size = d_m / r; post-norm LayerNorm, no final norm / pooler.
    "num_heads": 1,
    "num_layers": 4,
    "ffn_size": 32,
    "norm": "layer",
    "norm_first": False,
    "final_norm": False,
    "embedding_norm": False,
    "type_vocab_size": 0,
    "pooler": False,
    "delight": {
        "d_o": 64,          # = d_m / 2 (the reference's encoder layer requires it)
        "width_mult": 2.0,  # w_m
        "min_depth": 4,     # N_min
        "max_depth": 8,     # N_max
        "blocks": 4,        # B
        "max_groups": 4,    # g_max (reference default 2**ceil(log2(d_m / 32)))
        "ffn_reduction": 4,  # r
    },
    "activation": "silu",
    "norm_eps": 1e-5,
    "positional_encoding": "sinusoidal",
    "embedding_scale": True,
    "max_len": 128,
    "pooling": "mean",
    "labels": ["negative", "positive"],
    "pad_token_id": 0,
    "lowercase": True,
}


def make_delight_config(delight=None, **kw):
    cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DELIGHT_DEFAULTS.items()}
    for k, v in kw.items():
        if k not in cfg:
            raise KeyError(k)
        cfg[k] = v
    for k, v in (delight or {}).items():
        if k not in cfg["delight"]:
            raise KeyError(k)
        cfg["delight"][k] = v
    d = cfg["delight"]
    cfg["num_layers"] = d["blocks"]
    cfg["ffn_size"] = cfg["hidden_size"] // d["ffn_reduction"]
    return cfg


def linspace_int(start, stop, num):
    """np.linspace(start, stop, num, dtype=int) (floor of the float grid, last point = stop)."""
    return [int(v) for v in np.linspace(start, stop, num, dtype=np.int64)]


def block_scaling(w_m, n_min, n_max, blocks):
    """[(depth, width_mult)] per block, as the reference encoder builds them."""
    depths = linspace_int(n_min, n_max, blocks)
    ratio = (n_max * 1.0) / n_min
    widths = np.linspace(w_m, w_m + (ratio - 1.0), blocks, dtype=np.float64)
    return [(d, round(float(widths[i]), 3)) for i, d in enumerate(depths)]


def dextra_config(in_features, out_features, max_features, n_layers, max_groups):
    """GLT layers' input widths, output widths and groups (the reference's dextra_config)."""
    mid = int(math.ceil(n_layers / 2.0))
    groups = [min(2 ** (i + 1), max_groups) for i in range(mid)]
    sizes = linspace_int(in_features, max_features, mid)
    if n_layers % 2 == 0:
        groups = groups + groups[::-1]
        sizes = sizes + sizes[::-1]
    else:
        groups = groups + groups[::-1][1:]
        sizes = sizes + sizes[::-1][1:]
    sizes = sizes[:-1]
    ins = [in_features] + [0] * (n_layers - 1)
    for i in range(n_layers - 1):
        g = max(groups[i + 1], groups[i], 8)
        sizes[i] = int(math.ceil(sizes[i] / g)) * g
        ins[i + 1] = sizes[i] + in_features
    return {"in": ins, "out": sizes + [out_features], "groups": groups}


class DLinear(nn.Module):
    """The reference's Linear: weights (out, in), bias, optional LayerNorm + activation."""

    def __init__(self, n_in, n_out, norm=False, act=None, eps=1e-5):
        super().__init__()
        self.weights = nn.Parameter(torch.empty(n_out, n_in))
        self.bias = nn.Parameter(torch.zeros(n_out))
        nn.init.xavier_uniform_(self.weights)
        self.normalization_fn = nn.LayerNorm(n_out, eps=eps) if norm else None
        self.act = act

    def forward(self, x):
        x = F.linear(x, self.weights, self.bias)
        if self.normalization_fn is not None:
            x = self.normalization_fn(x)
        if self.act is not None:
            x = self.act(x)
        return x

    def macs_params(self):
        p = self.weights.numel() + self.bias.numel()
        n = p + (sum(q.numel() for q in self.normalization_fn.parameters()) if self.normalization_fn else 0)
        return p, n  # (macs per token, params)


class GroupLinear(nn.Module):
    """The reference's GroupLinear with shuffle, LayerNorm over each (shuffled) group, activation."""

    def __init__(self, n_in, n_out, groups, act, eps=1e-5):
        super().__init__()
        assert n_in % groups == 0 and n_out % groups == 0, (n_in, n_out, groups)
        self.groups = groups
        self.weights = nn.Parameter(torch.empty(groups, n_in // groups, n_out // groups))
        self.bias = nn.Parameter(torch.zeros(groups, 1, n_out // groups))
        nn.init.xavier_uniform_(self.weights)
        self.normalization_fn = nn.LayerNorm(n_out // groups, eps=eps)
        self.act = act

    def forward(self, x):  # x: (..., n_in)
        lead = x.shape[:-1]
        n = int(np.prod(lead)) if lead else 1
        g = self.groups
        x = x.reshape(n, g, -1).transpose(0, 1)  # (g, n, in/g)
        y = torch.bmm(x, self.weights) + self.bias  # (g, n, out/g)
        y = y.permute(1, 2, 0).reshape(n, g, -1)  # shuffle: (n, out/g, g) read as (n, g, out/g)
        y = self.act(self.normalization_fn(y))
        return y.reshape(*lead, -1)

    def macs_params(self):
        p = self.weights.numel() + self.bias.numel()
        return p, p + sum(q.numel() for q in self.normalization_fn.parameters())


class DExTra(nn.Module):
    def __init__(self, d_m, d_o, width_mult, depth, max_groups, act, eps=1e-5):
        super().__init__()
        assert depth > 1 and d_m % 2 == 0 and d_m % max_groups == 0
        self.proj = d_m // 2
        self.input_layer = DLinear(d_m, self.proj, norm=True, act=act, eps=eps)
        self.config = dextra_config(self.proj, d_o, d_m * width_mult, depth, max_groups)
        layers = []
        for n_in, n_out, g in zip(self.config["in"], self.config["out"], self.config["groups"]):
            if g == 1:
                layers.append(DLinear(n_in, n_out, norm=True, act=act, eps=eps))
            else:
                layers.append(GroupLinear(n_in, n_out, g, act, eps=eps))
        self.dextra_layers = nn.ModuleList(layers)
        self.output_layer = DLinear(d_o + self.proj, d_o, norm=True, act=act, eps=eps)

    def forward(self, x, trace=None):  # x: (B, S, d_m)
        x = self.input_layer(x)  # (B, S, d_m/2)
        out = x
        groups = self.config["groups"]
        for i, layer in enumerate(self.dextra_layers):
            out = layer(out)  # (B, S, out_i)
            if trace is not None:
                trace.append(out)
            g = groups[i + 1] if i + 1 < len(groups) else 1
            b, s = x.shape[:2]
            out = torch.cat([x.reshape(b, s, g, -1), out.reshape(b, s, g, -1)], dim=-1).reshape(b, s, -1)
        return self.output_layer(out)  # (B, S, d_o)

    def macs_params(self):
        mods = [self.input_layer, *self.dextra_layers, self.output_layer]
        return tuple(sum(v) for v in zip(*(m.macs_params() for m in mods)))


class SingleHeadAttention(nn.Module):
    def __init__(self, d_o, d_m):
        super().__init__()
        self.d_o = d_o
        self.linear_kqv = DLinear(d_o, 3 * d_o)
        self.out_proj = DLinear(d_o, d_m)
        self.scaling = d_o ** -0.5

    def forward(self, x, pad_mask, dropout=0.0):  # x: (B, S, d_o), pad_mask: (B, S) True = pad
        q, k, v = torch.chunk(self.linear_kqv(x), 3, dim=-1)
        q = q * self.scaling
        w = torch.bmm(q, k.transpose(1, 2))  # (B, S, S)
        w = w.masked_fill(pad_mask.unsqueeze(1), float("-inf"))
        p = F.softmax(w, dim=-1)
        a = torch.bmm(F.dropout(p, dropout, self.training), v)  # (B, S, d_o)
        return self.out_proj(a), p


class DeLighTBlock(nn.Module):
    """Post-norm encoder block (reference default encoder_normalize_before = False)."""

    def __init__(self, d_m, d_o, width_mult, depth, max_groups, ffn_reduction, act, eps=1e-5,
                 dropout=0.1, attn_dropout=0.1):
        super().__init__()
        assert d_m % ffn_reduction == 0
        self.depth, self.width_mult = depth, width_mult
        self.dextra_layer = DExTra(d_m, d_o, width_mult, depth, max_groups, act, eps)
        self.self_attn = SingleHeadAttention(d_o, d_m)
        self.self_attn_layer_norm = nn.LayerNorm(d_m, eps=eps)
        self.fc1 = DLinear(d_m, d_m // ffn_reduction)
        self.fc2 = DLinear(d_m // ffn_reduction, d_m)
        self.final_layer_norm = nn.LayerNorm(d_m, eps=eps)
        self.act = act
        self.dropout, self.attn_dropout = dropout, attn_dropout

    def forward(self, x, pad_mask, trace=None):
        residual = x
        glt = [] if trace is not None else None
        h = self.dextra_layer(x, glt)
        h, probs = self.self_attn(h, pad_mask, self.attn_dropout)
        x = self.self_attn_layer_norm(residual + F.dropout(h, self.dropout, self.training))
        residual = x
        h = self.fc2(self.act(self.fc1(x)))
        x = self.final_layer_norm(residual + F.dropout(h, self.dropout, self.training))
        if trace is not None:
            trace.append({"attn": probs, "glt": glt, "hidden": x})
        return x

    def macs_params(self, seq):
        """(MACs, params) at sequence length seq, as the reference's compute_macs_params(S=seq)."""
        dm, dp = self.dextra_layer.macs_params()
        kqv = self.self_attn.linear_kqv.macs_params()[0]
        out = self.self_attn.out_proj.macs_params()[0]
        attn = 2 * seq * seq * self.self_attn.d_o
        fc = self.fc1.macs_params()[0] + self.fc2.macs_params()[0]
        norms = sum(p.numel() for m in (self.self_attn_layer_norm, self.final_layer_norm) for p in m.parameters())
        macs = dm * seq + attn + kqv * seq + out * seq + fc * seq
        return macs, dp + kqv + out + fc + norms


class DeLighTEncoder(nn.Module):
    def __init__(self, c, dropout=0.1):
        super().__init__()
        d = c["delight"]
        act = activation_fn(c["activation"])
        self.layers = nn.ModuleList([
            DeLighTBlock(c["hidden_size"], d["d_o"], w, n, d["max_groups"], d["ffn_reduction"], act,
                         c["norm_eps"], dropout, dropout)
            for n, w in block_scaling(d["width_mult"], d["min_depth"], d["max_depth"], d["blocks"])])

    def forward(self, x, pad_mask, trace=None):
        for layer in self.layers:
            x = layer(x, pad_mask, trace)
        return x


class DeLighTClassifier(nn.Module):
    def __init__(self, config, dropout=0.1):
        super().__init__()
        self.config = c = config
        d = c["delight"]
        assert d["d_o"] * 2 == c["hidden_size"], "the DeLighT encoder block needs d_o = d_m / 2"
        self.embedding = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c["pad_token_id"])
        self.pos_encoder = PositionalEncoding(c["hidden_size"], c["max_len"], dropout)
        self.encoder = DeLighTEncoder(c, dropout)
        self.classifier = nn.Linear(c["hidden_size"], len(c["labels"]))

    def embed(self, ids):
        x = self.embedding(ids)
        if self.config["embedding_scale"]:
            x = x * math.sqrt(self.config["hidden_size"])
        return self.pos_encoder(x)

    def pool(self, h, pad_mask):
        if self.config["pooling"] == "cls":
            return h[:, 0]
        keep = (~pad_mask).to(h.dtype).unsqueeze(-1)  # (B,S,1)
        return (h * keep).sum(1) / keep.sum(1)

    def forward(self, ids, lengths, trace=None):
        pad_mask = lengths_to_padding_mask(lengths, ids.size(1))
        x = self.embed(ids)
        if trace is not None:
            trace.append({"embeddings": x})
        h = self.encoder(x, pad_mask, trace)
        pooled = self.pool(h, pad_mask)
        if trace is not None:
            trace.append({"pooled": pooled})
        return self.classifier(pooled)

    def encoder_params(self):
        return sum(p.numel() for p in self.encoder.parameters())


def glt_loop(x, layer):
    """Explicit per-element GLT + shuffle (no bmm/permute): the check of GroupLinear's index algebra."""
    g = layer.groups
    n, n_in = x.shape
    ig = n_in // g
    og = layer.weights.shape[2]
    y = torch.zeros(n, og * g, dtype=torch.float64)
    w = layer.weights.detach().double()
    b = layer.bias.detach().double()
    for t in range(n):
        for k in range(g):
            for j in range(og):
                acc = b[k, 0, j].item()
                for i in range(ig):
                    acc += x[t, k * ig + i].item() * w[k, i, j].item()
                y[t, j * g + k] = acc  # shuffle: output group k, element j lands at j*g + k
    return y


def main():
    torch.manual_seed(0)
    for (n_in, n_out, g) in [(16, 24, 2), (40, 64, 4), (12, 12, 3)]:
        layer = GroupLinear(n_in, n_out, g, act=lambda v: v)
        with torch.no_grad():
            layer.bias.normal_()
        x = torch.randn(5, n_in)
        bmm = torch.bmm(x.reshape(5, g, -1).transpose(0, 1), layer.weights) + layer.bias
        bmm = bmm.permute(1, 2, 0).reshape(5, -1)
        torch.testing.assert_close(bmm.double(), glt_loop(x, layer), rtol=1e-5, atol=1e-5)
    print("GLT shuffle algebra ok")
    from model import DEFAULT_CONFIG, EncoderClassifier, make_config
    std = EncoderClassifier(make_config())
    std_enc = sum(p.numel() for p in std.encoder.parameters())
    cfg = make_delight_config()
    m = DeLighTClassifier(cfg)
    print(f"standard encoder params {std_enc}, DeLighT encoder params {m.encoder_params()} "
          f"({m.encoder_params() / std_enc:.3f}); embeddings {m.embedding.weight.numel()}")
    for b, layer in enumerate(m.encoder.layers):
        c = layer.dextra_layer.config
        macs, params = layer.macs_params(128)
        print(f"block {b}: depth {layer.depth} width {layer.width_mult} in {c['in']} out {c['out']} "
              f"groups {c['groups']} params {params} MACs@128 {macs}")
        assert params == sum(p.numel() for p in layer.parameters())
    _ = DEFAULT_CONFIG


if __name__ == "__main__":
    main()
