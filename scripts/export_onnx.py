"""ONNX exports for the CPU benchmark (`make bench`): the same weights for our engine and for
onnxruntime-web.

For each benchmarked model writes `<out>/<name>/{config.json, model.safetensors, model.onnx, reference.json}`:
  default  models/sentiment-ln's weights (random weights of the same config with --random-default, or
           when the trained model is absent), max_len raised to 512 so seq 512 can run (the sinusoidal
           table is computed, not learned, so nothing else changes)
  minilm   a MiniLM-L6-sized encoder (6 layers, d 384, 12 heads, FFN 1536, GELU, post-norm) with random
           weights (seed 1234)
  minilm-real  all-MiniLM-L6-v2's real weights (models/minilm, the HF folder `make setup` fetches), as
           sentence-transformers runs it: BertModel -> mean pooling over the attention mask -> L2 norm.
           `model.onnx`: (input_ids, attention_mask) (1, S) int64 -> its one output, the embedding (1, 384); `reference.json`:
           PyTorch's embeddings of `[CLS] the … the [SEP]` at seq 16/128/256 (what bench.js embeds through
           the public JS API, `Engine.createHf` + `embed`). Only our engine reads the HF folder itself.
`model.int8.onnx` (default and minilm-real): `onnxruntime.quantization.quantize_dynamic(model.onnx,
QuantType.QInt8)` — onnxruntime's own dynamic int8 (per-tensor int8 weights, uint8 activations), what the
bench's onnxruntime-web int8 rows run; its max |diff| to PyTorch's fp32 output is printed and stored in
`reference.json` (`int8MaxAbsDiff`), not checked (it is the int8 error, not an export fault). Our int8
folders come from `classify quantize` (the Makefile: bench/out/default-int8, models/minilm-int8).
`model.onnx`: torch.onnx.export (TorchScript exporter) of EncoderClassifier.forward(input_ids (1, S)
int64, lengths (1,) int64) -> logits (1, labels), dynamic sequence axis. `reference.json`: PyTorch logits
for the bench's token ids at every benchmarked length (the page checks both engines against them).
The export is verified here: onnx.checker, then the ONNX graph run by onnx's reference evaluator (or by
onnxruntime when installed) must give PyTorch's logits within 1e-5.

Output goes to a gitignored folder (bench/out by default); nothing here is committed.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from model import EncoderClassifier, make_config, state_dict_for_export  # noqa: E402

SEQS = [16, 64, 128, 512]


def quantize_onnx(name, onnx_path, feeds_for, reference, seqs):
    """`model.int8.onnx` beside `onnx_path` (onnxruntime's dynamic QInt8); returns its max |diff| to the
    fp32 PyTorch outputs in `reference` at `seqs` (feeds_for(seq) -> onnxruntime feeds)."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = os.path.join(os.path.dirname(onnx_path), "model.int8.onnx")
    quantize_dynamic(onnx_path, out, weight_type=QuantType.QInt8)
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    diff = 0.0
    for s in seqs:
        got = sess.run(None, feeds_for(s))[0][0]
        diff = max(diff, float(np.abs(got - np.array(reference["seqs"][str(s)], dtype=np.float32)).max()))
    if not np.isfinite(diff):
        raise SystemExit(f"{name}: the int8 ONNX model gives non-finite outputs")
    print(f"{name}: int8 ONNX (quantize_dynamic QInt8) {os.path.getsize(out) / 1e6:.1f} MB, max |diff| to PyTorch fp32 {diff:.2e}")
    return diff


def bench_ids(seq, vocab):
    """The ids `ForwardBench::ids` (src/bench.rs) uses."""
    out = []
    for i in range(seq):
        if i == 0:
            out.append(2 % vocab)
        elif vocab > 5:
            out.append(5 + (i * 7919) % (vocab - 5))
        else:
            out.append(i % vocab)
    return out


def build(name, args):
    torch.manual_seed(1234)
    if name == "default":
        src = os.path.join(REPO, "models", "sentiment-ln")
        trained = os.path.exists(os.path.join(src, "model.safetensors")) and not args.random_default
        if trained:
            cfg = json.load(open(os.path.join(src, "config.json")))
        else:
            cfg = make_config()
        cfg["max_len"] = max(cfg["max_len"], max(SEQS))
        model = EncoderClassifier(cfg)
        if trained:
            sd = load_file(os.path.join(src, "model.safetensors"))
            missing, unexpected = model.load_state_dict(sd, strict=False)
            assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
        source = os.path.relpath(src, REPO) if trained else "random weights (seed 1234), default config"
    else:
        cfg = make_config(hidden_size=384, num_layers=6, num_heads=12, ffn_size=1536, activation="gelu",
                          max_len=max(SEQS))
        model = EncoderClassifier(cfg)
        source = "random weights (seed 1234), MiniLM-L6-sized"
    return cfg, model.eval(), source


class Wrapped(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, lengths):
        return self.m(input_ids, lengths)


def run_onnx(path, ids, lengths):
    try:
        import onnxruntime as ort  # noqa: F401
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return sess.run(None, {"input_ids": ids, "lengths": lengths})[0], "onnxruntime"
    except ImportError:
        from onnx.reference import ReferenceEvaluator
        return ReferenceEvaluator(path).run(None, {"input_ids": ids, "lengths": lengths})[0], "onnx.reference"


def export(name, args):
    cfg, model, source = build(name, args)
    out = os.path.join(args.out, name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_file(state_dict_for_export(model), os.path.join(out, "model.safetensors"))

    onnx_path = os.path.join(out, "model.onnx")
    seq = 16
    ids = torch.tensor([bench_ids(seq, cfg["vocab_size"])], dtype=torch.int64)
    lengths = torch.tensor([seq], dtype=torch.int64)
    torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad():
        if args.exporter == "dynamo":
            # torch.export keeps the sequence length symbolic through nn.MultiheadAttention's reshapes.
            seq_dim = torch.export.Dim("seq", min=2, max=cfg["max_len"])
            torch.onnx.export(
                Wrapped(model).eval(), (ids, lengths), onnx_path, dynamo=True, opset_version=18,
                input_names=["input_ids", "lengths"], output_names=["logits"],
                dynamic_shapes={"input_ids": {1: seq_dim}, "lengths": None}, external_data=False,
            )
        else:
            # The TorchScript exporter bakes nn.MultiheadAttention's sequence length into its reshapes: one
            # file per length.
            torch.onnx.export(
                Wrapped(model).eval(), (ids, lengths), onnx_path, dynamo=False, opset_version=17,
                input_names=["input_ids", "lengths"], output_names=["logits"],
            )
    import onnx
    onnx.checker.check_model(onnx.load(onnx_path))
    model.eval()  # the exporter restores the wrapper's mode recursively; never compute references in train mode

    reference = {"source": source, "seqs": {}}
    with torch.no_grad():
        for s in SEQS:
            x = torch.tensor([bench_ids(s, cfg["vocab_size"])], dtype=torch.int64)
            logits = model(x, torch.tensor([s], dtype=torch.int64))
            reference["seqs"][str(s)] = logits[0].tolist()
    # Verify the exported graph against PyTorch at two lengths (the sequence axis is dynamic).
    for s in (16, 64):
        x = np.array([bench_ids(s, cfg["vocab_size"])], dtype=np.int64)
        got, how = run_onnx(onnx_path, x, np.array([s], dtype=np.int64))
        want = np.array(reference["seqs"][str(s)], dtype=np.float32)
        diff = float(np.abs(got[0] - want).max())
        print(f"{name}: ONNX ({how}) vs PyTorch logits at seq {s}: max |diff| {diff:.2e}")
        if diff > 1e-5:
            raise SystemExit(f"{name}: ONNX export does not match PyTorch (max diff {diff})")
    if name == "default":
        def feeds(s):
            return {"input_ids": np.array([bench_ids(s, cfg["vocab_size"])], dtype=np.int64), "lengths": np.array([s], dtype=np.int64)}
        reference["int8MaxAbsDiff"] = quantize_onnx(name, onnx_path, feeds, reference, (16, 128))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f)
    print(f"{name}: wrote {out} ({source}; {os.path.getsize(onnx_path) / 1e6:.1f} MB ONNX)")


REAL_SEQS = [16, 128, 256]
REAL_IDS = {"cls": 101, "sep": 102, "the": 1996}  # models/minilm/vocab.txt (bert-base-uncased)


def real_ids(seq):
    """`[CLS] the … the [SEP]`: what `the the …` (seq - 2 words) tokenizes to."""
    return [REAL_IDS["cls"]] + [REAL_IDS["the"]] * (seq - 2) + [REAL_IDS["sep"]]


class SentenceEmbedding(torch.nn.Module):
    """sentence-transformers' all-MiniLM-L6-v2 pipeline: BertModel, mean pooling, L2 normalisation."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (1, S, 384)
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (1, S, 1)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)  # (1, 384)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def export_real(args):
    from transformers import BertModel

    src = os.path.join(REPO, "models", "minilm")
    vocab = open(os.path.join(src, "vocab.txt"), encoding="utf-8").read().split("\n")
    for tok, i in [("[CLS]", REAL_IDS["cls"]), ("[SEP]", REAL_IDS["sep"]), ("the", REAL_IDS["the"])]:
        assert vocab[i] == tok, (tok, i, vocab[i])
    bert = BertModel.from_pretrained(src, attn_implementation="eager", add_pooling_layer=False).eval()
    model = SentenceEmbedding(bert).eval()
    out = os.path.join(args.out, "minilm-real")
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "model.onnx")
    ids = torch.tensor([real_ids(16)], dtype=torch.int64)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        seq_dim = torch.export.Dim("seq", min=2, max=512)
        torch.onnx.export(
            model, (ids, mask), onnx_path, dynamo=True, opset_version=18,
            # No output_names: renaming the output made the exporter name two values `embedding` (SSA check
            # fails); bench.js reads the session's only output, whatever its name.
            input_names=["input_ids", "attention_mask"],
            dynamic_shapes={"input_ids": {1: seq_dim}, "attention_mask": {1: seq_dim}}, external_data=False,
        )
    import onnx
    onnx.checker.check_model(onnx.load(onnx_path))
    model.eval()
    reference = {"source": "models/minilm (all-MiniLM-L6-v2, real weights)", "ids": {}, "seqs": {}}
    import onnxruntime as ort
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        for s in REAL_SEQS:
            x = torch.tensor([real_ids(s)], dtype=torch.int64)
            want = model(x, torch.ones_like(x))[0]
            got = sess.run(None, {"input_ids": x.numpy(), "attention_mask": np.ones_like(x.numpy())})[0][0]
            diff = float(np.abs(got - want.numpy()).max())
            print(f"minilm-real: ONNX (onnxruntime) vs PyTorch embedding at seq {s}: max |diff| {diff:.2e}")
            if diff > 1e-5:
                raise SystemExit(f"minilm-real: ONNX export does not match PyTorch (max diff {diff})")
            reference["ids"][str(s)] = real_ids(s)
            reference["seqs"][str(s)] = want.tolist()

    def feeds(s):
        x = np.array([real_ids(s)], dtype=np.int64)
        return {"input_ids": x, "attention_mask": np.ones_like(x)}
    reference["int8MaxAbsDiff"] = quantize_onnx("minilm-real", onnx_path, feeds, reference, (128,))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f)
    print(f"minilm-real: wrote {out} ({os.path.getsize(onnx_path) / 1e6:.1f} MB ONNX)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out"))
    ap.add_argument("--random-default", action="store_true", help="random weights even if models/sentiment-ln exists")
    ap.add_argument("--only", choices=["default", "minilm", "minilm-real"])
    ap.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo",
                    help="dynamo (needs onnxscript) gives a dynamic sequence axis")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name in ["default", "minilm"]:
        if args.only in (None, name):
            export(name, args)
    if args.only in (None, "minilm-real"):
        export_real(args)


if __name__ == "__main__":
    main()
