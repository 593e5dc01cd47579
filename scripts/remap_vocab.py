"""Re-index a trained model to a new vocab.txt order (same token set): permutes embedding.weight rows.

Exact: every token string maps to the same embedding vector, so outputs are bit-identical.
Used once: models/sentiment-{ln,bn} were trained with the trainer's raw (non-deterministic) token order;
train_vocab.py now writes the canonical order, and the models were remapped with

  python3 scripts/remap_vocab.py models/sentiment-ln models/vocab.txt
  python3 scripts/remap_vocab.py models/sentiment-bn models/vocab.txt
"""
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file


def read_vocab(p):
    v = open(p, encoding="utf-8").read().split("\n")
    return v[:-1] if v and v[-1] == "" else v


def main(model_dir, new_vocab_path):
    torch.set_num_threads(1)
    old = read_vocab(os.path.join(model_dir, "vocab.txt"))
    new = read_vocab(new_vocab_path)
    assert len(old) == len(new) and set(old) == set(new), "token sets differ"
    old_id = {t: i for i, t in enumerate(old)}
    perm = torch.tensor([old_id[t] for t in new], dtype=torch.long)
    assert perm[0] == 0
    path = os.path.join(model_dir, "model.safetensors")
    sd = load_file(path)
    sd["embedding.weight"] = sd["embedding.weight"][perm].contiguous()
    save_file(sd, path)
    os.chmod(path, 0o644)
    shutil.copy(new_vocab_path, os.path.join(model_dir, "vocab.txt"))
    print(f"remapped {model_dir}: {int((perm != torch.arange(len(perm))).sum())} ids moved")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
