"""PyTorch reference model: Transformer encoder text classifier (batch_first everywhere).

state_dict names (what the Rust engine loads):
  embedding.weight
  encoder.layers.{i}.self_attn.in_proj_weight / in_proj_bias / out_proj.weight / out_proj.bias
  encoder.layers.{i}.linear1.weight / bias, linear2.weight / bias
  encoder.layers.{i}.norm1.* / norm2.*   (LayerNorm: weight, bias; BatchNorm: + running_mean,
                                          running_var, num_batches_tracked)
  encoder.norm.*                         (only if final_norm)
  classifier.weight / bias
The positional-encoding table is a non-persistent buffer (not in the state_dict).
"""
import copy
import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_CONFIG = {
    "architecture": "encoder_classifier",
    "vocab_size": 8192,
    "hidden_size": 128,
    "num_heads": 4,
    "num_layers": 2,
    "ffn_size": 512,
    "activation": "relu",
    "norm": "layer",
    "norm_first": False,
    "norm_eps": 1e-5,
    "final_norm": False,
    "positional_encoding": "sinusoidal",
    "embedding_scale": True,
    "embedding_norm": False,
    "type_vocab_size": 0,
    "max_len": 128,
    "pooling": "mean",
    "pooler": False,
    "labels": ["negative", "positive"],
    "pad_token_id": 0,
    "lowercase": True,
}


def make_config(**kw):
    cfg = dict(DEFAULT_CONFIG)
    for k, v in kw.items():
        if k not in cfg:
            raise KeyError(k)
        cfg[k] = v
    return cfg


def activation_fn(name):
    if name == "relu":
        return F.relu
    if name == "gelu":
        return F.gelu  # exact (erf) GELU
    if name == "gelu_tanh":
        return functools.partial(F.gelu, approximate="tanh")
    if name == "silu":
        return F.silu
    raise ValueError(name)


class PositionalEncoding(nn.Module):
    """Sinusoidal PE exactly as in the PyTorch tutorial (float32), batch_first."""

    def __init__(self, d_model, max_len, dropout=0.1):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x):  # x: (B, S, D)
        x = x + self.pe[: x.size(1)].unsqueeze(0)
        return self.dropout(x)


class FeatureBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over the feature dim of a (B, S, D) tensor.

    Statistics are pooled over batch x ALL positions, padding included (naive BN).
    Subclass only to apply the transpose; parameter/buffer names are BatchNorm1d's.
    """

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class BatchNormEncoderLayer(nn.Module):
    """Mirror of nn.TransformerEncoderLayer with norm1/norm2 = BatchNorm1d over features."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=True, norm_first=False, bias=True):
        super().__init__()
        assert batch_first
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = FeatureBatchNorm(d_model, eps=layer_norm_eps, momentum=0.1)
        self.norm2 = FeatureBatchNorm(d_model, eps=layer_norm_eps, momentum=0.1)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


def lengths_to_padding_mask(lengths, seq_len):
    """(B,) lengths -> (B, S) bool mask, True = padding (ignored as key)."""
    ar = torch.arange(seq_len, device=lengths.device).unsqueeze(0)
    return ar >= lengths.unsqueeze(1)


class EncoderClassifier(nn.Module):
    def __init__(self, config, dropout=0.1):
        super().__init__()
        self.config = dict(config)
        c = self.config
        assert c["positional_encoding"] == "sinusoidal" and not c["embedding_norm"] and not c["pooler"]
        assert c["type_vocab_size"] == 0
        d = c["hidden_size"]
        self.embedding = nn.Embedding(c["vocab_size"], d, padding_idx=c["pad_token_id"])
        self.pos_encoder = PositionalEncoding(d, c["max_len"], dropout)
        act = activation_fn(c["activation"])
        if c["norm"] == "layer":
            layer = nn.TransformerEncoderLayer(
                d, c["num_heads"], c["ffn_size"], dropout=dropout, activation=act,
                layer_norm_eps=c["norm_eps"], batch_first=True, norm_first=c["norm_first"])
            final = nn.LayerNorm(d, eps=c["norm_eps"]) if c["final_norm"] else None
        elif c["norm"] == "batch":
            layer = BatchNormEncoderLayer(
                d, c["num_heads"], c["ffn_size"], dropout=dropout, activation=act,
                layer_norm_eps=c["norm_eps"], batch_first=True, norm_first=c["norm_first"])
            final = FeatureBatchNorm(d, eps=c["norm_eps"], momentum=0.1) if c["final_norm"] else None
        else:
            raise ValueError(c["norm"])
        self.encoder = nn.TransformerEncoder(layer, c["num_layers"], norm=final, enable_nested_tensor=False)
        self.classifier = nn.Linear(d, len(c["labels"]))

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

    def forward(self, ids, lengths):
        pad_mask = lengths_to_padding_mask(lengths, ids.size(1))
        x = self.embed(ids)
        h = self.encoder(x, src_key_padding_mask=pad_mask)
        return self.classifier(self.pool(h, pad_mask))


def state_dict_for_export(model):
    """All state_dict tensors, contiguous, f32 (num_batches_tracked kept as int64)."""
    out = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        if v.is_floating_point():
            v = v.to(torch.float32)
        out[k] = v.contiguous().clone()
    return out
