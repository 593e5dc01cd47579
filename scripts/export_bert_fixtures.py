"""Golden fixtures for all-MiniLM-L6-v2 and the MiniLM sentiment head, from Hugging Face `transformers`
and `sentence-transformers` (the references users compare against).

Reads models/minilm/ (scripts/get_minilm.py) and models/minilm-sentiment/classifier.safetensors
(scripts/train_minilm_sentiment.py). Writes tests/fixtures/golden/minilm.{safetensors,json}:
  b{k}.input_ids, b{k}.lengths           (int64) the padded batch, as the HF tokenizer makes it
  b{k}.embeddings                        BertModel hidden_states[0] (after the embedding LayerNorm)
  b{k}.layer{l}.hidden                   hidden_states[l+1], (B, S, 384)
  b{k}.layer{l}.attn                     attentions[l], (B, 12, S, S) (eager attention)
  b{k}.pooled                            mean over real tokens of the last hidden state (B, 384)
  b{k}.embedding                         SentenceTransformer(models/minilm).encode(texts): mean + L2 norm
  b{k}.pooler_output                     BertModel pooler_output: tanh(dense(h[CLS]))
  b{k}.logits, b{k}.probs                sentiment head: classifier(pooled), softmax

Checks before writing: eager == sdpa attention outputs, sentence-transformers' embedding == normalised
mean of BertModel's output, masked keys get probability exactly 0 with HF's finfo.min additive mask.

With --teacher (issue 10): the committed fine-tuned teacher models/minilm-teacher (an HF
`BertForSequenceClassification` folder, f16 weights, mean pooling, scripts/train_teacher.py export) on the
same batches. Writes tests/fixtures/golden/minilm-teacher.{safetensors,json}: b{k}.input_ids, b{k}.lengths,
b{k}.pooled, b{k}.logits, b{k}.probs — `transformers.BertModel` (weights widened to f32, as the engine does)
+ mean pooling + the folder's `classifier`, checked against scripts/bert_torch.py's forward (the training code).
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
BASE = os.path.join(REPO, "models", "minilm")
HEAD = os.path.join(REPO, "models", "minilm-sentiment", "classifier.safetensors")
OUT = os.path.join(REPO, "tests", "fixtures", "golden", "minilm")

BATCHES = [
    [
        "A wonderful, heartfelt film.",
        "Terrible acting and a dull plot; I walked out after an hour.",
        "It was okay.",
        "The best movie I've seen this year!!! 😍",
    ],
    ["Café crème brûlée: naïve but charming.", "這部電影很好看", "unbelievably UNDERWHELMING"],
    ["The director clearly had a vision, and for the first forty minutes the film delivers on it with "
     "patient framing and a score that knows when to stay quiet; then the plot collapses into a string "
     "of coincidences that no amount of charm from the leads can rescue."],
    ["a"],
]


def teacher(folder, out):
    """Golden logits of the fine-tuned teacher folder (see the module doc)."""
    from transformers import AutoTokenizer, BertModel

    from bert_torch import load_folder

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(folder)
    bert = BertModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32,
                                     add_pooling_layer=False).eval()
    head = load_file(os.path.join(folder, "model.safetensors"))
    w, b = head["classifier.weight"].float(), head["classifier.bias"].float()
    ours, info = load_folder(folder)
    tensors, meta = {}, {"model": os.path.relpath(folder, REPO), "batches": []}
    with torch.inference_mode():
        for k, texts in enumerate(BATCHES):
            enc = tok(texts, padding=True, truncation=True, max_length=info.max_len, return_tensors="pt")
            ids, mask = enc["input_ids"], enc["attention_mask"]
            h = bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            pooled = (h * m).sum(1) / m.sum(1)
            logits = pooled @ w.T + b
            torch.testing.assert_close(ours(ids, mask.bool()), logits, atol=1e-5, rtol=1e-5)
            tensors[f"b{k}.input_ids"] = ids.to(torch.int64)
            tensors[f"b{k}.lengths"] = mask.sum(1).to(torch.int64)
            tensors[f"b{k}.pooled"] = pooled
            tensors[f"b{k}.logits"] = logits
            tensors[f"b{k}.probs"] = torch.softmax(logits, -1)
            meta["batches"].append({"texts": texts, "seq": int(ids.shape[1]), "lengths": mask.sum(1).tolist(),
                                    "labels": [info.labels[j] for j in logits.argmax(1).tolist()],
                                    "probs": torch.softmax(logits, -1).tolist()})
    import transformers

    meta["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    save_file({n: t.contiguous() for n, t in tensors.items()}, out + ".safetensors")
    with open(out + ".json", "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {out}.safetensors ({os.path.getsize(out + '.safetensors') / 1e3:.1f} kB), {out}.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--teacher", nargs="?", const=os.path.join(REPO, "models", "minilm-teacher"),
                    help="golden logits of the fine-tuned teacher folder instead (default models/minilm-teacher)")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "golden", "minilm-teacher"))
    args = ap.parse_args()
    if args.teacher:
        return teacher(args.teacher, args.out)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, BertModel

    tok = AutoTokenizer.from_pretrained(BASE)
    eager = BertModel.from_pretrained(BASE, attn_implementation="eager").eval()
    sdpa = BertModel.from_pretrained(BASE, attn_implementation="sdpa").eval()
    st = SentenceTransformer(BASE, device="cpu")
    head = load_file(HEAD)
    w, b = head["classifier.weight"], head["classifier.bias"]

    tensors, meta = {}, {"model": "sentence-transformers/all-MiniLM-L6-v2", "batches": []}
    with torch.inference_mode():
        for k, texts in enumerate(BATCHES):
            enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
            ids, mask = enc["input_ids"], enc["attention_mask"]
            out = eager(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
            ref = sdpa(input_ids=ids, attention_mask=mask)
            real = mask.bool()
            torch.testing.assert_close(out.last_hidden_state[real], ref.last_hidden_state[real], atol=1e-5, rtol=1e-5)
            lengths = mask.sum(1)
            m = mask.unsqueeze(-1).float()
            pooled = (out.last_hidden_state * m).sum(1) / m.sum(1)
            emb = torch.from_numpy(st.encode(texts, convert_to_numpy=True, batch_size=len(texts)))
            torch.testing.assert_close(emb, torch.nn.functional.normalize(pooled, dim=-1), atol=1e-6, rtol=1e-5)
            logits = pooled @ w.T + b
            tensors[f"b{k}.input_ids"] = ids.to(torch.int64)
            tensors[f"b{k}.lengths"] = lengths.to(torch.int64)
            tensors[f"b{k}.embeddings"] = out.hidden_states[0]
            for l in range(eager.config.num_hidden_layers):
                a = out.attentions[l]
                # HF adds finfo(float32).min at padded keys instead of -inf: the probability is exactly 0.
                assert (a.masked_select(~real[:, None, None, :].expand_as(a)) == 0).all()
                tensors[f"b{k}.layer{l}.hidden"] = out.hidden_states[l + 1]
                tensors[f"b{k}.layer{l}.attn"] = a
            tensors[f"b{k}.pooled"] = pooled
            tensors[f"b{k}.embedding"] = emb
            tensors[f"b{k}.pooler_output"] = out.pooler_output
            tensors[f"b{k}.logits"] = logits
            tensors[f"b{k}.probs"] = torch.softmax(logits, -1)
            meta["batches"].append({"texts": texts, "seq": int(ids.shape[1]), "lengths": lengths.tolist(),
                                    "probs": torch.softmax(logits, -1).tolist()})
    tensors = {n: t.contiguous().float() if t.is_floating_point() else t.contiguous() for n, t in tensors.items()}
    import sentence_transformers
    import transformers

    meta["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                        "sentence_transformers": sentence_transformers.__version__}
    save_file(tensors, OUT + ".safetensors")
    with open(OUT + ".json", "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {OUT}.safetensors ({os.path.getsize(OUT + '.safetensors') / 1e6:.2f} MB), {OUT}.json")


if __name__ == "__main__":
    main()
