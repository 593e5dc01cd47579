#!/usr/bin/env python3
"""The page's parity case: the first BATCHES batches of a committed PyTorch golden fixture
(tests/fixtures/golden/<name>.json + .safetensors, from export_fixtures.py), with only what the parity
check compares (token ids, lengths, every layer's hidden states, pooled, logits, probabilities), written
beside the page's copy of the model as parity.json + parity.safetensors. Plain Python (no torch): the
tensors are copied byte for byte.

    python3 scripts/parity_case.py tests/fixtures/golden/sentiment-ln www/models/sentiment-ln [BATCHES]
"""
import json
import re
import struct
import sys

KEEP = re.compile(r"^b(\d+)\.(input_ids|lengths|layer\d+\.hidden|pooled|logits|probs)$")


def main(src, out_dir, batches=4):
    meta = json.load(open(f"{src}.json"))
    with open(f"{src}.safetensors", "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    kept, blobs, offset = {}, [], 0
    for name in sorted(k for k in header if k != "__metadata__"):
        m = KEEP.match(name)
        if not m or int(m.group(1)) >= batches:
            continue
        t = header[name]
        a, b = t["data_offsets"]
        blobs.append(data[a:b])
        kept[name] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [offset, offset + b - a]}
        offset += b - a
    head = json.dumps(kept, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(f"{out_dir}/parity.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
    case = {"model_dir": meta["model_dir"], "source": src, "batches": meta["batches"][:batches]}
    with open(f"{out_dir}/parity.json", "w") as f:
        json.dump(case, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 4)
