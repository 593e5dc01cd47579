"""Train the shared WordPiece vocab on the TRAIN split only -> models/vocab.txt."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import split  # noqa: E402
from tokenizers import BertWordPieceTokenizer  # noqa: E402

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, "models", "vocab.txt")
    train, _ = split()
    tok = BertWordPieceTokenizer(lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True)
    tok.train_from_iterator(
        (r["text"] for r in train),
        vocab_size=8192,
        min_frequency=2,
        special_tokens=SPECIALS,
        limit_alphabet=1000,
        wordpieces_prefix="##",
        show_progress=False,
    )
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        files = tok.save_model(d)
        shutil.copy(files[0], out)
    vocab = open(out, encoding="utf-8").read().split("\n")
    if vocab and vocab[-1] == "":
        vocab = vocab[:-1]
    assert vocab[:5] == SPECIALS, vocab[:5]
    assert len(vocab) == len(set(vocab))
    # The trainer's token SET is reproducible, but its ORDER is not: the initial alphabet comes out in
    # Rust-HashMap order and merges with tied counts are emitted in arbitrary order. Canonicalise:
    # specials first, then all other tokens sorted by code point. (Ids do not matter to WordPiece.)
    vocab = SPECIALS + sorted(vocab[len(SPECIALS):])
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    print("wrote", out, "size", len(vocab))


if __name__ == "__main__":
    main()
