"""Accuracy per group on the behavioural sentiment set (tests/fixtures/behaviour/sentiment.jsonl).

Two ways to run a model:

  --engine DIR   through the project's own Rust CLI (`classify --model DIR --json`, one text per line on
                 stdin, one JSON per line with "label"): what users run. The binary is
                 $CARGO_TARGET_DIR/release/classify (default target/), built with
                 `cargo build --release --bin classify` when missing or with --build.
  --torch DIR    in PyTorch: an HF BERT folder (scripts/bert_torch.py, the engine's pooling rules) or one of
                 the page's small models (scripts/model.py, one text at a time); used during training.

Examples (from the repo root):

  CARGO_TARGET_DIR=/work/cargo-target python3 scripts/eval_behaviour.py \
      --engine models/sentiment-ln --engine models/sentiment-bn --engine models/minilm-sentiment --write
  python3 scripts/eval_behaviour.py --torch .train/teacher/export

--write writes <DIR>/behaviour.json (per-group accuracy + the texts it got wrong) for each model.
The set is for evaluation only: never train, distil, early-stop or tune on it.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SET = os.path.join(REPO, "tests", "fixtures", "behaviour", "sentiment.jsonl")


def load_set(path=SET):
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for r in rows:
        assert "\n" not in r["text"] and r["label"] in ("negative", "positive"), r
    return rows


def classify_bin(build):
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    exe = os.path.join(target, "release", "classify")
    if build or not os.path.isfile(exe):
        subprocess.run(["cargo", "build", "--release", "--bin", "classify"], cwd=REPO, check=True)
    return exe


def predict_engine(exe, model_dir, texts):
    inp = "".join(t + "\n" for t in texts)
    p = subprocess.run([exe, "--model", model_dir, "--json"], input=inp.encode("utf-8"),
                       capture_output=True, cwd=REPO)
    if p.returncode != 0:
        raise RuntimeError(f"classify failed ({p.returncode}): {p.stderr.decode(errors='replace')[-2000:]}")
    out = [json.loads(line) for line in p.stdout.decode("utf-8").splitlines() if line.strip()]
    if len(out) != len(texts):
        raise RuntimeError(f"classify printed {len(out)} results for {len(texts)} texts")
    return [o["label"] for o in out]


def predict_torch(model_dir, texts):
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, HERE)
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("architecture") == "encoder_classifier":  # the page's small models (scripts/model.py)
        from safetensors.torch import load_file

        from model import EncoderClassifier
        from tok import build_tokenizer

        model = EncoderClassifier(cfg).eval()
        model.load_state_dict(load_file(os.path.join(model_dir, "model.safetensors")))
        tok = build_tokenizer(os.path.join(model_dir, "vocab.txt"), max_len=cfg["max_len"])
        labels = []
        with torch.no_grad():
            for e in tok.encode_batch(texts):
                ids = torch.tensor([e.ids])
                labels.append(cfg["labels"][int(model(ids, torch.tensor([len(e.ids)])).argmax(-1))])
        return labels
    from bert_torch import predict_folder

    labels, _ = predict_folder(model_dir, texts)
    return labels


def score(rows, preds):
    groups = OrderedDict()
    for r, p in zip(rows, preds):
        g = groups.setdefault(r["group"], {"correct": 0, "n": 0})
        g["n"] += 1
        g["correct"] += int(p == r["label"])
    for g in groups.values():
        g["accuracy"] = round(g["correct"] / g["n"], 4)
    correct = sum(g["correct"] for g in groups.values())
    return {
        "overall": round(correct / len(rows), 4),
        "correct": correct,
        "n": len(rows),
        "groups": groups,
        "wrong": [{"id": r["id"], "group": r["group"], "label": r["label"], "predicted": p, "text": r["text"]}
                  for r, p in zip(rows, preds) if p != r["label"]],
    }


def update_metrics(d, res):
    """The per-group summary into DIR/metrics.json too (issue 10 item 5), when the folder has one."""
    path = os.path.join(d, "metrics.json")
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        m = json.load(f, object_pairs_hook=OrderedDict)
    m["behaviour_overall"] = res["overall"]
    m["behaviour_groups"] = OrderedDict((g, v["accuracy"]) for g, v in res["groups"].items())
    with open(path, "w", encoding="utf-8") as f:
        json.dump(m, f, indent=2)
        f.write("\n")


def git_rev():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return None


def table(results, groups):
    names = list(results)
    w = max(12, *(len(os.path.basename(n.rstrip("/"))) for n in names))
    lines = ["| group | n | " + " | ".join(os.path.basename(n.rstrip("/")) for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for g in groups:
        n = results[names[0]]["groups"][g]["n"]
        cells = [f"{100 * results[m]['groups'][g]['accuracy']:.1f} %" for m in names]
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    cells = [f"**{100 * results[m]['overall']:.1f} %**" for m in names]
    lines.append(f"| overall | {results[names[0]]['n']} | " + " | ".join(cells) + " |")
    del w
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", action="append", default=[], metavar="DIR")
    ap.add_argument("--torch", action="append", default=[], metavar="DIR")
    ap.add_argument("--set", default=SET)
    ap.add_argument("--build", action="store_true", help="run cargo build --release --bin classify first")
    ap.add_argument("--exe", help="classify binary to run instead of $CARGO_TARGET_DIR/release/classify")
    ap.add_argument("--write", action="store_true", help="write DIR/behaviour.json for each model (and the summary into DIR/metrics.json)")
    ap.add_argument("--show-wrong", action="store_true")
    args = ap.parse_args()
    if not args.engine and not args.torch:
        ap.error("give at least one --engine DIR or --torch DIR")

    rows = load_set(args.set)
    texts = [r["text"] for r in rows]
    with open(args.set, "rb") as f:
        set_sha = hashlib.sha256(f.read()).hexdigest()
    exe = (args.exe or classify_bin(args.build)) if args.engine else None
    results = OrderedDict()
    for kind, dirs in (("engine", args.engine), ("torch", args.torch)):
        for d in dirs:
            t = time.time()
            preds = predict_engine(exe, d, texts) if kind == "engine" else predict_torch(d, texts)
            res = score(rows, preds)
            res["seconds"] = round(time.time() - t, 1)
            key = d if d not in results else f"{d} ({kind})"
            results[key] = res
            print(f"{d} [{kind}]: {100 * res['overall']:.1f} % ({res['correct']}/{res['n']}), "
                  f"{res['seconds']} s", flush=True)
            if args.show_wrong:
                for w in res["wrong"]:
                    print(f"   [{w['group']}] {w['label']} -> {w['predicted']}: {w['text']}")
            if args.write:
                rel = os.path.relpath(args.set, REPO)
                doc = OrderedDict([
                    ("set", rel), ("set_sha256", set_sha),
                    ("evaluated_with", "Rust CLI `classify --model DIR --json` "
                     + ("(release build)" if not args.exe else f"({os.path.basename(os.path.dirname(args.exe))} build)")
                     if kind == "engine"
                     else "PyTorch (scripts/bert_torch.py or scripts/model.py)"),
                    ("git_commit", git_rev()),
                    ("overall", res["overall"]), ("correct", res["correct"]), ("n", res["n"]),
                    ("groups", res["groups"]), ("wrong", res["wrong"]),
                ])
                with open(os.path.join(d, "behaviour.json"), "w", encoding="utf-8") as f:
                    json.dump(doc, f, indent=1, ensure_ascii=False)
                    f.write("\n")
                update_metrics(d, res)
    groups = list(next(iter(results.values()))["groups"])
    print()
    print(table(results, groups))


if __name__ == "__main__":
    main()
