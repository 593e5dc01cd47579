#!/usr/bin/env python3
"""Write the pipeline target's int8 seeds: fuzz/corpus/pipeline/seed-int8 and seed-int8-split.

A 1-layer encoder (d 8, 2 heads, FFN 16) over a 44-token vocab with random weights (numpy seed 7), two
LayerNorm gains raised so that some input columns go past the outlier threshold, converted by the engine's
own `classify quantize` (per-tensor `--to int8`; per-channel `--activation-range u8 --outliers 8`), then
packed as the target's input: flags 0 (the input's own weights), config 0xFF vocab 0xFF text 0xFF weights.

    cargo build --bin classify && python3 fuzz/make_int8_seeds.py
"""
import json, pathlib, subprocess, tempfile
import numpy as np
from safetensors.numpy import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLASSIFY = ROOT / "target" / "debug" / "classify"
SCHEMES = {"seed-int8": ["--to", "int8"], "seed-int8-split": ["--to", "int8-per-channel", "--activation-range", "u8", "--outliers", "8"]}


def tiny_model(d: pathlib.Path) -> None:
    cfg = json.loads((ROOT / "tests/fixtures/models/prenorm-gelu/config.json").read_text())
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", '"', "#"] + [f"##{c}" for c in "0123456789abcdefghijklmnopqrstuvwxyz"][:32]
    vocab += ["hello", "good", "bad", "not"]
    h, f, v = 8, 16, len(vocab)
    cfg.update(vocab_size=v, hidden_size=h, num_heads=2, num_layers=1, ffn_size=f, max_len=16)
    rng = np.random.default_rng(7)
    r = lambda *s: (rng.standard_normal(s) * 0.4).astype(np.float32)
    ones = lambda: np.ones(h, np.float32)
    p = "encoder.layers.0."
    t = {
        "classifier.bias": r(2), "classifier.weight": r(2, h), "embedding.weight": r(v, h),
        "encoder.norm.bias": r(h), "encoder.norm.weight": ones(),
        p + "linear1.bias": r(f), p + "linear1.weight": r(f, h), p + "linear2.bias": r(h), p + "linear2.weight": r(h, f),
        p + "norm1.bias": r(h), p + "norm1.weight": ones(), p + "norm2.bias": r(h), p + "norm2.weight": ones(),
        p + "self_attn.in_proj_bias": r(3 * h), p + "self_attn.in_proj_weight": r(3 * h, h),
        p + "self_attn.out_proj.bias": r(h), p + "self_attn.out_proj.weight": r(h, h),
    }
    t[p + "norm1.weight"][3] = 25.0  # an outlier input column of in_proj
    t[p + "norm2.weight"][5] = 20.0  # and of linear1
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(cfg, indent=1))
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    save_file(t, str(d / "model.safetensors"))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "f32"
        tiny_model(src)
        for name, args in SCHEMES.items():
            out = pathlib.Path(tmp) / name
            subprocess.run([str(CLASSIFY), "quantize", "--model", str(src), *args, "--out", str(out)], check=True)
            cfg = json.dumps(json.loads((out / "config.json").read_text()), separators=(",", ":")).encode()
            data = bytes([0]) + cfg + b"\xff" + (out / "vocab.txt").read_bytes() + b"\xff" + b"not bad at all\nhello good" + b"\xff" + (out / "model.safetensors").read_bytes()
            (ROOT / "fuzz/corpus/pipeline" / name).write_bytes(data)
            print(f"fuzz/corpus/pipeline/{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
