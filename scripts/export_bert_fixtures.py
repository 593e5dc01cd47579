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
"""
import json
import os

import numpy as np
import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
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


def main():
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
