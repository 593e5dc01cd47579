"""tests/fixtures/tokenizer_minilm.jsonl.gz: all-MiniLM-L6-v2's WordPiece ids from HF `tokenizers`.

The reference is MiniLM's own `tokenizer.json` (models/minilm/, from scripts/get_minilm.py) loaded with
`tokenizers.Tokenizer.from_file`, its fixed padding switched off. The texts are the ones
scripts/tokenizer_fixture.py uses (edge cases + every Rotten Tomatoes train text + 3,000 IMDB train
texts cut to 600 characters).

Each line: {"text": ..., "ids": [...]} ([CLS] ... [SEP], no truncation); a subset also has
{"max_len": m, "ids_truncated": [...]}: truncated to m = 256 tokens (sentence-transformers' max_seq_length)
for edge cases and every 10th Rotten Tomatoes text, m = 128 for the IMDB texts (so that many are cut).
"""
import gzip
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from data import split  # noqa: E402
from tokenizer_fixture import EDGE_CASES, N_IMDB, SEED  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

MAX_LEN = 256
MAX_LEN_IMDB = 128


def load(max_len=None):
    tok = Tokenizer.from_file(os.path.join(REPO, "models", "minilm", "tokenizer.json"))
    tok.no_padding()
    if max_len is None:
        tok.no_truncation()
    else:
        tok.enable_truncation(max_length=max_len)
    return tok


def main():
    out = os.path.join(REPO, "tests", "fixtures", "tokenizer_minilm.jsonl.gz")
    tok, tok_tr, tok_tr_imdb = load(), load(MAX_LEN), load(MAX_LEN_IMDB)
    train, _ = split()
    rt = [r["text"] for r in train if r["source"] == "rotten_tomatoes"]
    imdb = [r["text"][:600] for r in train if r["source"] == "imdb"]
    imdb = random.Random(SEED).sample(imdb, N_IMDB)
    texts = EDGE_CASES + rt + imdb
    enc = tok.encode_batch(texts)
    n_head = len(EDGE_CASES) + len(rt)
    enc_tr = tok_tr.encode_batch(texts[:n_head]) + tok_tr_imdb.encode_batch(texts[n_head:])
    sep = tok.token_to_id("[SEP]")
    n_trunc = n_cut = 0
    with gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as gz:
        for i, (t, e, et) in enumerate(zip(texts, enc, enc_tr)):
            rec = {"text": t, "ids": e.ids}
            if i < len(EDGE_CASES) or i >= n_head or i % 10 == 0:
                m = MAX_LEN if i < n_head else MAX_LEN_IMDB
                rec["max_len"] = m
                rec["ids_truncated"] = et.ids
                n_trunc += 1
                n_cut += len(e.ids) > m
                assert et.ids == (e.ids[: m - 1] + [sep] if len(e.ids) > m else e.ids)
            gz.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"wrote {out}: {len(texts)} cases ({len(EDGE_CASES)} edge, {len(rt)} RT, {len(imdb)} IMDB), "
          f"{n_trunc} with ids_truncated ({n_cut} actually cut), {os.path.getsize(out)/1e6:.2f} MB")


if __name__ == "__main__":
    main()
