"""Students for issue 10: the page's two small models (LayerNorm and naive-BatchNorm variants of
scripts/model.py's EncoderClassifier, identical recipe, same split and seed) trained by distillation
from the MiniLM teacher's soft labels plus the true labels.

Two subcommands (run from the repo root, one thread each, `nice -n 19`, resumable):

  # 1. teacher logits for every train text, computed once (chunks of 512, resumable):
  python3 scripts/distill.py soft --teacher-cache .train/teacher            # stage-1 teacher: its top layers
                                                                            #   on its cached 128-token inputs
  python3 scripts/distill.py soft --teacher-folder DIR [--teacher-max-len N]  # any exported HF folder
  # 2. a student (checkpoint every 100 steps to WORK/ckpt.pt; a restart resumes exactly):
  python3 scripts/distill.py train --soft .train/distill/soft-stage1.npy --norm layer --out models/sentiment-ln
  python3 scripts/distill.py train --soft .train/distill/soft-stage1.npy --norm batch --out models/sentiment-bn

Loss = alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, label)
(Hinton et al. 2015), defaults T = 2, alpha = 0.5. Everything else is scripts/train.py's recipe
(AdamW, wd 0.01 on matrices, linear warmup then linear decay, grad-clip 1.0, batch 32, dropout 0.1,
max_len 128, models/vocab.txt), with more epochs. Train texts: the whole 30,178-text train split; the
behavioural set and the held-out split are never trained on (held-out accuracy is logged after each epoch,
the written model is always the last epoch's).
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from data import LABELS, SEED, split  # noqa: E402
from model import EncoderClassifier, make_config, state_dict_for_export  # noqa: E402
from tok import build_tokenizer  # noqa: E402
from train_teacher import atomic_save, check_run, log  # noqa: E402

RUN_KEYS = ("soft", "norm", "layers", "hidden", "ffn", "heads", "max_len", "epochs", "batch_size", "lr",
            "weight_decay", "warmup", "temperature", "alpha", "seed", "limit_train")


# --- teacher soft labels ---------------------------------------------------------------------------------

def soft(args):
    """(N_train, 2) f32 teacher logits in split order -> args.soft_out (+ .json with provenance and the
    teacher's accuracy on the train split)."""
    train, _ = split()
    work = os.path.dirname(args.soft_out) or "."
    os.makedirs(work, exist_ok=True)
    parts = args.soft_out + ".parts"
    os.makedirs(parts, exist_ok=True)
    t0 = time.time()
    if args.teacher_cache:
        import train_teacher as tt

        targs = argparse.Namespace(**json.load(open(os.path.join(args.teacher_cache, "run.json"))))
        targs.base = os.path.join(REPO, "models", "minilm")
        targs.init_head = ""
        targs.ckpt = args.teacher_ckpt
        model, cut, ck = tt.model_from_ckpt(targs, args.teacher_cache)
        ds = tt.Cached(args.teacher_cache, "train", train)
        n_chunks = math.ceil(len(train) / tt.CHUNK)
        source = f"stage-1 teacher {args.teacher_cache} step {ck['step']} on its cached inputs (max_len {targs.max_len})"

        @torch.inference_mode()
        def chunk_logits(lo, hi):
            idx_all = sorted(range(lo, hi), key=lambda i: ds.lens[i])
            out = np.zeros((hi - lo, len(LABELS)), dtype=np.float32)
            for s in range(0, len(idx_all), 64):
                idx = idx_all[s:s + 64]
                x, mask, _ = ds.batch(idx)
                out[np.array(idx) - lo] = model.head(model.encode(None, mask, start=cut, x=x), mask).numpy()
            return out
        chunk = tt.CHUNK
    else:
        from bert_torch import batches, load_folder, pad, tokenizer_for

        model, info = load_folder(args.teacher_folder)
        max_len = args.teacher_max_len or info.max_len
        tok = tokenizer_for(args.teacher_folder, max_len)
        source = f"HF folder {args.teacher_folder} (full forward, max_len {max_len})"
        chunk = 512
        n_chunks = math.ceil(len(train) / chunk)

        @torch.inference_mode()
        def chunk_logits(lo, hi):
            enc = [e.ids for e in tok.encode_batch([r["text"] for r in train[lo:hi]])]
            out = np.zeros((hi - lo, len(LABELS)), dtype=np.float32)
            for idx in batches(enc, 32):
                ids, mask = pad([enc[i] for i in idx])
                out[idx] = model(ids, mask).numpy()
            return out
    done = 0
    for k in range(n_chunks):
        p = os.path.join(parts, f"{k:04d}.npy")
        if os.path.isfile(p):
            continue
        lo, hi = k * chunk, min(len(train), (k + 1) * chunk)
        t = time.time()
        np.save(p + ".tmp.npy", chunk_logits(lo, hi))
        os.replace(p + ".tmp.npy", p)
        done += 1
        log(None, f"soft chunk {k + 1}/{n_chunks} {time.time() - t:.0f} s; "
                  f"~{(time.time() - t0) / done * (n_chunks - k - 1) / 60:.0f} min left")
    logits = np.concatenate([np.load(os.path.join(parts, f"{k:04d}.npy")) for k in range(n_chunks)])
    assert logits.shape == (len(train), len(LABELS))
    y = np.array([r["label"] for r in train])
    src = np.array([r["source"] for r in train])
    acc = {"train_accuracy": float((logits.argmax(1) == y).mean())}
    for s in ("imdb", "rotten_tomatoes"):
        acc[f"train_accuracy_{s}"] = float((logits.argmax(1)[src == s] == y[src == s]).mean())
    np.save(args.soft_out, logits)
    meta = {"teacher": source, "n": len(train), "seconds": round(time.time() - t0, 1), **acc}
    with open(args.soft_out[:-4] + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    log(None, f"wrote {args.soft_out}: {json.dumps(meta)}")


# --- student ---------------------------------------------------------------------------------------------

def make_batch(seqs):
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    ids = torch.zeros(len(seqs), int(lens.max()), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, lens


@torch.no_grad()
def evaluate(model, seqs, rows, bs=128):
    model.eval()
    preds = []
    for i in range(0, len(seqs), bs):
        ids, lens = make_batch(seqs[i:i + bs])
        preds.append(model(ids, lens).argmax(-1))
    pred = torch.cat(preds).numpy()
    y = np.array([r["label"] for r in rows])
    src = np.array([r["source"] for r in rows])
    res = {"accuracy": float((pred == y).mean())}
    for s in ("imdb", "rotten_tomatoes"):
        res[f"accuracy_{s}"] = float((pred[src == s] == y[src == s]).mean())
    return res


def train(args):
    work = args.work or os.path.join(REPO, ".train", "distill", os.path.basename(os.path.normpath(args.out)))
    os.makedirs(work, exist_ok=True)
    check_run(args, work, RUN_KEYS, missing=None)
    torch.manual_seed(args.seed)
    vocab_path = os.path.join(REPO, "models", "vocab.txt")
    vocab_size = sum(1 for _ in open(vocab_path, encoding="utf-8"))
    tok = build_tokenizer(vocab_path, max_len=args.max_len)
    train_rows, test_rows = split()
    teacher = np.load(args.soft).astype(np.float32)
    assert teacher.shape[0] == len(train_rows), (teacher.shape, len(train_rows))
    soft_meta = json.load(open(args.soft[:-4] + ".json"))
    if args.limit_train:
        keep = sorted(random.Random(args.seed).sample(range(len(train_rows)), args.limit_train))
        train_rows, teacher = [train_rows[i] for i in keep], teacher[keep]
    tr = [e.ids for e in tok.encode_batch([r["text"] for r in train_rows])]
    te = [e.ids for e in tok.encode_batch([r["text"] for r in test_rows])]
    y_all = torch.tensor([r["label"] for r in train_rows])
    t_all = torch.from_numpy(teacher)

    cfg = make_config(vocab_size=vocab_size, hidden_size=args.hidden, num_heads=args.heads, num_layers=args.layers,
                      ffn_size=args.ffn, activation="relu", norm=args.norm, norm_first=False, final_norm=False,
                      max_len=args.max_len, pooling="mean", labels=LABELS)
    model = EncoderClassifier(cfg)
    nparams = sum(p.numel() for p in model.parameters())
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if (p.ndim < 2 or "norm" in n) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    steps_per_epoch = math.ceil(len(tr) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warm = max(1, int(total * args.warmup))

    def set_lr(step):
        f = (step + 1) / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))
        for g in opt.param_groups:
            g["lr"] = args.lr * f

    ck_path = os.path.join(work, "ckpt.pt")
    step, wall, history = 0, 0.0, []
    if os.path.isfile(ck_path):
        ck = torch.load(ck_path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, wall, history = ck["step"], ck["wall"], ck["history"]
        torch.set_rng_state(ck["rng"])
        log(work, f"resumed at step {step}/{total} (wall so far {wall:.0f} s)")
    else:
        log(work, f"start {args.norm}: {nparams} params ({4 * nparams / 1e6:.2f} MB f32), {len(tr)} train texts, "
                  f"{total} steps ({args.epochs} epochs x {steps_per_epoch}); soft labels: {soft_meta['teacher']}")
    t_start, ema = time.time(), None
    T, a = args.temperature, args.alpha

    def save():
        atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                     "wall": wall + time.time() - t_start, "history": history, "rng": torch.get_rng_state()}, ck_path)

    while step < total:
        epoch, in_epoch = divmod(step, steps_per_epoch)
        perm = torch.randperm(len(tr), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch)).tolist()
        model.train()
        for s in range(in_epoch * args.batch_size, len(perm), args.batch_size):
            set_lr(step)
            idx = perm[s:s + args.batch_size]
            ids, lens = make_batch([tr[j] for j in idx])
            logits = model(ids, lens)
            kd = F.kl_div(F.log_softmax(logits / T, -1), F.log_softmax(t_all[idx] / T, -1), log_target=True,
                          reduction="batchmean") * T * T
            ce = F.cross_entropy(logits, y_all[idx])
            loss = a * kd + (1 - a) * ce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
            if step % 50 == 0:
                el = wall + time.time() - t_start
                log(work, f"step {step}/{total} ep {step / steps_per_epoch:.2f} loss {ema:.4f} "
                          f"lr {opt.param_groups[0]['lr']:.2e} {el:.0f} s ({el / step:.2f} s/step, "
                          f"eta {el / step * (total - step) / 60:.0f} min)")
            if step % args.ckpt_every == 0:
                save()
        res = evaluate(model, te, test_rows)
        res.update(epoch=epoch + 1, step=step, wall=round(wall + time.time() - t_start, 1))
        history.append(res)
        log(work, f"epoch {epoch + 1} held-out {res['accuracy']:.4f} (IMDB {res['accuracy_imdb']:.4f}, "
                  f"RT {res['accuracy_rotten_tomatoes']:.4f})")
        save()
        atomic_save({"model": model.state_dict(), "step": step}, os.path.join(work, f"epoch{epoch + 1}.pt"))

    os.makedirs(args.out, exist_ok=True)
    save_file(state_dict_for_export(model), os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    shutil.copy(vocab_path, os.path.join(args.out, "vocab.txt"))
    last = history[-1]
    metrics = {"test_accuracy": last["accuracy"], "test_accuracy_imdb": last["accuracy_imdb"],
               "test_accuracy_rotten_tomatoes": last["accuracy_rotten_tomatoes"],
               "test_size": len(te), "train_size": len(tr), "params": nparams,
               "size_mb_f32": round(4 * nparams / 1e6, 2), "epochs": args.epochs, "steps": step,
               "train_seconds": last["wall"], "seed": args.seed, "batch_size": args.batch_size, "lr": args.lr,
               "max_len": args.max_len, "num_layers": args.layers,
               "recipe": f"distillation (scripts/distill.py): alpha {a} * T^2 KL(teacher/T || student/T) + "
                         f"{1 - a:g} * CE, T {T}",
               "teacher": soft_meta, "history": history, "torch_version": torch.__version__}
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    log(work, f"wrote {args.out}: held-out {last['accuracy']:.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["soft", "train"])
    ap.add_argument("--teacher-cache", help="soft: stage-1 teacher work dir (train_teacher.py) with cache/")
    ap.add_argument("--teacher-ckpt", help="soft: checkpoint in the teacher work dir (default ckpt.pt)")
    ap.add_argument("--teacher-folder", help="soft: exported HF folder (full forward)")
    ap.add_argument("--teacher-max-len", type=int, default=0)
    ap.add_argument("--soft-out", default=os.path.join(REPO, ".train", "distill", "soft-stage1.npy"))
    ap.add_argument("--soft", default=os.path.join(REPO, ".train", "distill", "soft-stage1.npy"))
    ap.add_argument("--norm", choices=["layer", "batch"])
    ap.add_argument("--out")
    ap.add_argument("--work", help="default .train/distill/<basename of --out>")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.cmd == "soft":
        if not (args.teacher_cache or args.teacher_folder):
            sys.exit("soft needs --teacher-cache or --teacher-folder")
        return soft(args)
    if not (args.norm and args.out):
        sys.exit("train needs --norm and --out")
    train(args)


if __name__ == "__main__":
    main()
