"""Train one sentiment model (LayerNorm or naive BatchNorm variant).

  python3 scripts/train.py --norm layer --out models/sentiment-ln
  python3 scripts/train.py --norm batch --out models/sentiment-bn
  python3 scripts/train.py --arch delight --out models/sentiment-delight   (scripts/delight.py)
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
from data import LABELS, split  # noqa: E402
from model import EncoderClassifier, make_config, state_dict_for_export  # noqa: E402
from delight import DeLighTClassifier, make_delight_config  # noqa: E402
from tok import build_tokenizer  # noqa: E402


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def encode(tok, texts):
    return [e.ids for e in tok.encode_batch(texts)]


def make_batch(seqs):
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    ids = torch.zeros(len(seqs), int(lens.max()), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, lens


@torch.no_grad()
def evaluate(model, seqs, labels, bs=128):
    model.eval()
    correct = 0
    for i in range(0, len(seqs), bs):
        ids, lens = make_batch(seqs[i : i + bs])
        pred = model(ids, lens).argmax(-1)
        correct += int((pred == torch.tensor(labels[i : i + bs])).sum())
    return correct / len(seqs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--norm", choices=["layer", "batch"], default="layer")
    ap.add_argument("--arch", choices=["standard", "delight"], default="standard")
    ap.add_argument("--delight", default="{}", help='DeLighT sizes as JSON, e.g. {"blocks": 2}')
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit-train", type=int, default=0, help="use only N training examples (smoke)")
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--max-train-seconds", type=float, default=0, help="safety stop (0 = off)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    vocab_path = os.path.join(REPO, "models", "vocab.txt")
    vocab_size = sum(1 for _ in open(vocab_path, encoding="utf-8"))
    tok = build_tokenizer(vocab_path, max_len=args.max_len)

    train, test = split()
    if args.limit_train:
        rng = random.Random(args.seed)
        train = rng.sample(train, args.limit_train)
    if args.limit_test:
        test = test[:: max(1, len(test) // args.limit_test)][: args.limit_test]
    t0 = time.time()
    tr_seqs = encode(tok, [r["text"] for r in train])
    tr_labels = [r["label"] for r in train]
    te_seqs = encode(tok, [r["text"] for r in test])
    te_labels = [r["label"] for r in test]
    log(f"tokenized train={len(tr_seqs)} test={len(te_seqs)} in {time.time()-t0:.1f}s; "
        f"mean len {np.mean([len(s) for s in tr_seqs]):.1f}")

    cfg = make_config(vocab_size=vocab_size, hidden_size=128, num_heads=4, num_layers=args.layers,
                      ffn_size=512, activation="relu", norm=args.norm, norm_first=False,
                      final_norm=False, max_len=args.max_len, pooling="mean", labels=LABELS)
    if args.arch == "delight":
        cfg = make_delight_config(delight=json.loads(args.delight), vocab_size=vocab_size,
                                  max_len=args.max_len, labels=LABELS)
        model = DeLighTClassifier(cfg)
        log(f"DeLighT encoder params {model.encoder_params()}")
    else:
        model = EncoderClassifier(cfg)
    nparams = sum(p.numel() for p in model.parameters())
    log(f"params {nparams}")

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if (p.ndim < 2 or "norm" in n or n.endswith("bias")) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    steps_per_epoch = math.ceil(len(tr_seqs) / args.batch_size)
    total_steps = max(1, int(round(steps_per_epoch * args.epochs)))
    warm = min(args.warmup, max(1, total_steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total_steps - s) / max(1, total_steps - warm))))

    g = torch.Generator().manual_seed(args.seed)
    step = 0
    t_start = time.time()
    stopped_early = False
    ema = None
    while step < total_steps:
        perm = torch.randperm(len(tr_seqs), generator=g).tolist()
        for i in range(0, len(perm), args.batch_size):
            if step >= total_steps:
                break
            if args.max_train_seconds and time.time() - t_start > args.max_train_seconds:
                stopped_early = True
                break
            model.train()
            idx = perm[i : i + args.batch_size]
            ids, lens = make_batch([tr_seqs[j] for j in idx])
            y = torch.tensor([tr_labels[j] for j in idx])
            loss = F.cross_entropy(model(ids, lens), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
            if step % 50 == 0 or step == total_steps:
                el = time.time() - t_start
                log(f"step {step}/{total_steps} ep {step/steps_per_epoch:.2f} loss {ema:.4f} "
                    f"lr {sched.get_last_lr()[0]:.2e} {el:.0f}s ({el/step*1000:.0f} ms/step, "
                    f"eta {el/step*(total_steps-step):.0f}s)")
        if stopped_early:
            break
    train_seconds = time.time() - t_start
    epochs_done = step / steps_per_epoch
    log(f"training done: {step} steps, {epochs_done:.3f} epochs, {train_seconds:.0f}s, early={stopped_early}")

    t1 = time.time()
    acc = evaluate(model, te_seqs, te_labels)
    log(f"test accuracy {acc:.4f} on {len(te_seqs)} ({time.time()-t1:.0f}s)")

    os.makedirs(args.out, exist_ok=True)
    save_file(state_dict_for_export(model), os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    shutil.copy(vocab_path, os.path.join(args.out, "vocab.txt"))
    metrics = {"test_accuracy": acc, "test_size": len(te_seqs), "train_size": len(tr_seqs),
               "epochs": round(epochs_done, 4), "train_seconds": round(train_seconds, 1),
               "seed": args.seed, "steps": step, "batch_size": args.batch_size, "lr": args.lr,
               "max_len": args.max_len, "num_layers": args.layers, "arch": args.arch, "stopped_early": stopped_early,
               "torch_version": torch.__version__}
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    log("wrote", args.out, metrics)


if __name__ == "__main__":
    main()
