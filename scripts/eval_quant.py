"""Held-out accuracy of f32 vs quantized model folders through the Rust CLI (issue 11's accuracy table).

    python3 scripts/eval_quant.py models/sentiment-ln models/sentiment-ln-int8 [...] [--exe PATH] [--limit N]
    python3 scripts/eval_quant.py --embed models/minilm models/minilm-int8 [--limit N] [--batch N]

Held-out split = scripts/data.py's (stratified, seed 1234, 3,352 texts), texts one per line (newlines
folded to spaces) into `classify --model DIR --json` (one text per forward: batch 1, so each text's
activations are quantized on their own). Prints accuracy per folder (whole split and per source: imdb,
rotten_tomatoes) and the agreement of each folder's
labels with the first folder's. With --embed: the cosine between each folder's sentence embeddings
(`classify --embed`: mean-pooled, L2-normalised) and the first folder's, on the texts of
tests/fixtures/tokenizer_minilm.jsonl.gz that have at least one word (every `--stride`-th one).
"""
import gzip
import json
import subprocess

import numpy as np
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from data import split  # noqa: E402
from eval_behaviour import classify_bin, predict_engine  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--exe", help="classify binary (default: $CARGO_TARGET_DIR/release/classify, built if missing)")
    ap.add_argument("--limit", type=int, help="first N held-out texts only")
    ap.add_argument("--embed", action="store_true")
    ap.add_argument("--stride", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32, help="--embed: texts per forward (classify --batch; default 32)")
    args = ap.parse_args()
    exe = args.exe or classify_bin(False)
    if args.embed:
        return embed_cosines(exe, args)
    _, test = split()
    if args.limit:
        test = test[: args.limit]
    texts = [" ".join(r["text"].split()) for r in test]
    gold = [r["label"] for r in test]
    first = None
    for folder in args.folders:
        labels = predict_engine(exe, folder, texts)
        pred = [1 if label == "positive" else 0 for label in labels]
        acc = sum(p == g for p, g in zip(pred, gold)) / len(gold)
        parts = []
        for src in sorted({r["source"] for r in test}):
            idx = [i for i, r in enumerate(test) if r["source"] == src]
            parts.append(f"{src} {sum(pred[i] == gold[i] for i in idx) / len(idx):.2%} of {len(idx)}")
        agree = "" if first is None else f", same label as {args.folders[0]} on {sum(a == b for a, b in zip(pred, first)) / len(pred):.2%}"
        first = first or pred
        print(f"{folder}: held-out accuracy {acc:.2%} ({len(gold)} texts: {', '.join(parts)}){agree}", flush=True)


def embeddings(exe, folder, texts, batch=32):
    inp = "".join(t + "\n" for t in texts)
    p = subprocess.run([exe, "--model", folder, "--embed", "--batch", str(batch)], input=inp.encode("utf-8"), capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode(errors="replace")[-2000:])
    return np.array([json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()])


def embed_cosines(exe, args):
    path = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "tokenizer_minilm.jsonl.gz")
    rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    texts = [" ".join(r["text"].split()) for r in rows[:: args.stride] if len(r["ids"]) > 2]
    texts = [t for t in texts if t][: args.limit]
    ref = embeddings(exe, args.folders[0], texts, args.batch)
    for folder in args.folders[1:]:
        e = embeddings(exe, folder, texts, args.batch)
        cos = (e * ref).sum(1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(ref, axis=1))
        print(f"{folder} vs {args.folders[0]}: embedding cosine over {len(texts)} texts, batch {args.batch}: mean {cos.mean():.5f}, "
              f"min {cos.min():.5f}, 1st percentile {np.percentile(cos, 1):.5f}", flush=True)


if __name__ == "__main__":
    main()
