"""A hand-written BERT encoder + sequence-classification head in plain PyTorch, loading and saving HF
BERT folders the way the Rust engine reads them (src/hf.rs).

Used by scripts/train_teacher.py (training the top layers on cached lower-layer outputs) and by
scripts/eval_behaviour.py (evaluating an HF folder directly in PyTorch). Written by hand rather than
through `transformers` so that the forward can be split at any layer and so that pooling follows the
engine's rules exactly:

- pooling: sentence-transformers' `1_Pooling/config.json` (mean or CLS) when present, else `[CLS]`;
- the BERT pooler (tanh dense on [CLS]) is used for `BertForSequenceClassification` only when there is
  no `1_Pooling/config.json`;
- max length = min(max_position_embeddings, tokenizer_config `model_max_length`,
  sentence_bert_config `max_seq_length`); texts are truncated at the end ([CLS] ... [SEP] kept).

Weights: a single `model.safetensors` or `model.safetensors.index.json` (files relative to the folder);
tensor names with or without the `bert.` prefix; f32 / f16 / bf16 are read as f32.
Mean pooling averages over real tokens, [CLS] and [SEP] included (sentence-transformers' Pooling).
`check_against_transformers()` compares the encoder with `transformers.BertModel`.
"""
import json
import os

import torch
import torch.nn.functional as F


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _opt_json(folder, name):
    p = os.path.join(folder, name)
    return _read_json(p) if os.path.isfile(p) else None


def load_state(folder):
    """All tensors of an HF folder as f32, names without a leading `bert.`."""
    from safetensors.torch import load_file

    idx = os.path.join(folder, "model.safetensors.index.json")
    if os.path.isfile(idx):
        files = []
        for f in _read_json(idx)["weight_map"].values():
            if f not in files:
                files.append(f)
    else:
        files = ["model.safetensors"]
    state = {}
    for f in files:
        for k, v in load_file(os.path.join(folder, f)).items():
            state[k[5:] if k.startswith("bert.") else k] = v.float()
    return state


class FolderInfo:
    """What the engine reads from an HF folder's JSON files."""

    def __init__(self, folder):
        self.folder = folder
        self.config = _read_json(os.path.join(folder, "config.json"))
        c = self.config
        self.classify = "BertForSequenceClassification" in c.get("architectures", [])
        id2label = c.get("id2label") or {}
        self.labels = [id2label[str(i)] for i in range(len(id2label))]
        tok = _opt_json(folder, "tokenizer_config.json") or {}
        sb = _opt_json(folder, "sentence_bert_config.json") or {}
        pool = _opt_json(folder, os.path.join("1_Pooling", "config.json"))
        max_len = c.get("max_position_embeddings", 512)
        m = tok.get("model_max_length")
        if m is not None and 2 <= m < max_len:
            max_len = int(m)
        if sb.get("max_seq_length"):
            max_len = min(max_len, int(sb["max_seq_length"]))
        self.max_len = max_len
        self.lowercase = tok.get("do_lower_case", True)
        if pool is not None:
            self.pooling = "mean" if pool.get("pooling_mode_mean_tokens") else "cls"
        else:
            self.pooling = "cls" if self.classify else "mean"
        self.pooler = self.classify and pool is None


class Bert(torch.nn.Module):
    """BERT (post-norm, learned positions, GELU-erf) + pooling + optional pooler + classifier."""

    def __init__(self, c, num_labels=2, pooling="mean", pooler=False):
        super().__init__()
        d, ff, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
        self.d, self.h, self.L = d, c["num_attention_heads"], L
        self.eps = c.get("layer_norm_eps", 1e-12)
        self.pooling, self.use_pooler = pooling, pooler
        self.p_drop = c.get("hidden_dropout_prob", 0.1)
        self.word = torch.nn.Embedding(c["vocab_size"], d)
        self.pos = torch.nn.Embedding(c["max_position_embeddings"], d)
        self.typ = torch.nn.Embedding(c.get("type_vocab_size", 2), d)
        self.emb_ln = torch.nn.LayerNorm(d, eps=self.eps)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.q, m.k, m.v, m.o = (torch.nn.Linear(d, d) for _ in range(4))
            m.ln1 = torch.nn.LayerNorm(d, eps=self.eps)
            m.ff1, m.ff2 = torch.nn.Linear(d, ff), torch.nn.Linear(ff, d)
            m.ln2 = torch.nn.LayerNorm(d, eps=self.eps)
            self.layers.append(m)
        self.pooler = torch.nn.Linear(d, d) if pooler else None
        self.classifier = torch.nn.Linear(d, num_labels) if num_labels else None

    # --- HF names <-> module names ---------------------------------------------------------------
    def hf_names(self):
        """{module parameter name: HF tensor name without `bert.`} (classifier keeps its HF name)."""
        n = {
            "word.weight": "embeddings.word_embeddings.weight",
            "pos.weight": "embeddings.position_embeddings.weight",
            "typ.weight": "embeddings.token_type_embeddings.weight",
            "emb_ln.weight": "embeddings.LayerNorm.weight",
            "emb_ln.bias": "embeddings.LayerNorm.bias",
        }
        sub = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
               "o": "attention.output.dense", "ln1": "attention.output.LayerNorm",
               "ff1": "intermediate.dense", "ff2": "output.dense", "ln2": "output.LayerNorm"}
        for i in range(self.L):
            for a, b in sub.items():
                for p in ("weight", "bias"):
                    n[f"layers.{i}.{a}.{p}"] = f"encoder.layer.{i}.{b}.{p}"
        if self.pooler is not None:
            n["pooler.weight"], n["pooler.bias"] = "pooler.dense.weight", "pooler.dense.bias"
        if self.classifier is not None:
            n["classifier.weight"], n["classifier.bias"] = "classifier.weight", "classifier.bias"
        return n

    def load_hf_state(self, state, strict_head=True):
        own = dict(self.named_parameters())
        missing = []
        with torch.no_grad():
            for mine, hf in self.hf_names().items():
                if hf in state:
                    own[mine].copy_(state[hf])
                else:
                    missing.append(hf)
        if missing and (strict_head or any(not m.startswith("classifier") for m in missing)):
            raise KeyError(f"missing tensors: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        return missing

    def hf_state(self, prefix="bert.", dtype=torch.float32):
        """Tensors under HF BertForSequenceClassification names (encoder under `prefix`)."""
        own = dict(self.named_parameters())
        out = {}
        for mine, hf in self.hf_names().items():
            name = hf if hf.startswith("classifier") else prefix + hf
            out[name] = own[mine].detach().to(dtype).contiguous()
        return out

    # --- forward ---------------------------------------------------------------------------------
    def embed(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.word(ids) + self.pos(pos)[None] + self.typ(torch.zeros_like(ids))
        return F.dropout(self.emb_ln(x), self.p_drop, self.training)

    def layer(self, i, x, mask):
        """One post-norm BERT layer. mask: (B, S) bool, True = real token."""
        m = self.layers[i]
        B, S, d = x.shape
        hd = d // self.h

        def heads(t):
            return t.view(B, S, self.h, hd).transpose(1, 2)

        bias = torch.zeros((B, 1, 1, S), dtype=x.dtype, device=x.device)
        bias.masked_fill_(~mask[:, None, None, :], torch.finfo(x.dtype).min)
        a = F.scaled_dot_product_attention(heads(m.q(x)), heads(m.k(x)), heads(m.v(x)), attn_mask=bias,
                                           dropout_p=self.p_drop if self.training else 0.0)
        a = a.transpose(1, 2).reshape(B, S, d)
        x = m.ln1(x + F.dropout(m.o(a), self.p_drop, self.training))
        f = m.ff2(F.gelu(m.ff1(x)))
        return m.ln2(x + F.dropout(f, self.p_drop, self.training))

    def encode(self, ids, mask, start=0, stop=None, x=None):
        """Hidden states after layer `stop` (exclusive index, default all), starting either from the
        embeddings (x None, start 0) or from given hidden states `x` entering layer `start`."""
        if x is None:
            x = self.embed(ids)
        for i in range(start, self.L if stop is None else stop):
            x = self.layer(i, x, mask)
        return x

    def head(self, x, mask):
        if self.pooling == "mean":
            m = mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1)
        else:
            pooled = x[:, 0]
        if self.pooler is not None:
            pooled = torch.tanh(self.pooler(pooled))
        return self.classifier(F.dropout(pooled, self.p_drop, self.training))

    def forward(self, ids, mask):
        return self.head(self.encode(ids, mask), mask)


def load_folder(folder):
    """(model in eval mode, FolderInfo) for an HF BERT folder."""
    info = FolderInfo(folder)
    model = Bert(info.config, num_labels=len(info.labels) if info.classify else 0,
                 pooling=info.pooling, pooler=info.pooler)
    model.load_hf_state(load_state(folder))
    return model.eval(), info


def tokenizer_for(folder, max_len):
    """HF `tokenizers` WordPiece for the folder's vocab.txt, [CLS] $A [SEP], truncated to max_len."""
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(os.path.join(folder, "vocab.txt"), lowercase=True, strip_accents=None,
                                 clean_text=True, handle_chinese_chars=True)
    tok.enable_truncation(max_len)
    return tok


def batches(enc_ids, batch_size):
    """Index batches over texts sorted by length (cheap padding)."""
    order = sorted(range(len(enc_ids)), key=lambda i: len(enc_ids[i]))
    for s in range(0, len(order), batch_size):
        yield order[s:s + batch_size]


def pad(seqs, pad_id=0):
    S = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), S), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), S), dtype=torch.bool)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[r, :len(s)] = True
    return ids, mask


@torch.inference_mode()
def predict_folder(folder, texts, batch_size=32, max_len=None):
    """(labels, probabilities (n, L)) of an HF folder's classifier on `texts`, in input order
    (`max_len` overrides the folder's)."""
    model, info = load_folder(folder)
    tok = tokenizer_for(folder, max_len or info.max_len)
    enc = [e.ids for e in tok.encode_batch(texts)]
    probs = torch.zeros((len(texts), len(info.labels)))
    for idx in batches(enc, batch_size):
        ids, mask = pad([enc[i] for i in idx])
        probs[idx] = torch.softmax(model(ids, mask), -1)
    return [info.labels[j] for j in probs.argmax(1).tolist()], probs


@torch.inference_mode()
def check_against_transformers(folder, texts):
    """Max |diff| of the last hidden state vs transformers.BertModel (eager attention)."""
    from transformers import BertModel

    model, info = load_folder(folder)
    ref = BertModel.from_pretrained(folder, attn_implementation="eager").eval()
    tok = tokenizer_for(folder, info.max_len)
    ids, mask = pad([e.ids for e in tok.encode_batch(texts)])
    a = model.encode(ids, mask)
    b = ref(input_ids=ids, attention_mask=mask.long()).last_hidden_state
    return float((a - b).abs()[mask].max())

