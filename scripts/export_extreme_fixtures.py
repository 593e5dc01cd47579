"""Extreme-but-finite activations: LayerNorm and softmax of rows scaled up to the f32 range, in PyTorch.

Writes tests/fixtures/golden/extreme.json, which tests/extreme.rs compares the engine's LayerNorm and
softmax kernels against (CPU scalar, wasm SIMD128 in tests/simd_kernels.rs, GPU):

- `layer_norm`: cases {d, eps, x (rows, d), w, b, torch32 (rows, d) or null per row where PyTorch's own
  float32 LayerNorm is not finite, ref64 (rows, d): the same LayerNorm in float64 of the same f32 inputs}.
  A row's torch32 is null where PyTorch's float32 is not finite, or finite but wrong (> 1e-3 off float64).
  Rows: random values in [-1, 1] times 10^k for k = 0, 5, 10, 15, 18, 19, 20, 25, 30, 35, 38, plus
  ±f32 max mixed, a single huge outlier among small values, a constant huge row, tiny (1e-30) values.
- `softmax`: rows scaled the same way (logits up to ±f32 max), torch32 and ref64 likewise.

Run: python3 scripts/export_extreme_fixtures.py  (CPU, a second; torch.manual_seed(0)).
"""
import json
import pathlib

import numpy as np
import torch

torch.manual_seed(0)
torch.set_num_threads(1)
F32_MAX = float(np.finfo(np.float32).max)
OUT = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/golden/extreme.json"
SCALES = [1e0, 1e5, 1e10, 1e15, 1e18, 1e19, 1e20, 1e25, 1e30, 1e35, 1e38]


def rows_for(d):
    rows = [(torch.rand(d, dtype=torch.float64) * 2 - 1) * s for s in SCALES]
    mixed = torch.tensor([F32_MAX if i % 2 == 0 else -F32_MAX for i in range(d)], dtype=torch.float64)
    mixed[0] = 1.0 if d > 1 else mixed[0]
    rows.append(mixed)
    outlier = torch.rand(d, dtype=torch.float64) * 2 - 1
    outlier[d // 2] = 3e38
    rows.append(outlier)
    rows.append(torch.full((d,), -2.5e37, dtype=torch.float64))
    rows.append((torch.rand(d, dtype=torch.float64) * 2 - 1) * 1e-30)
    x = torch.stack(rows).to(torch.float32)  # the inputs are f32 values
    assert torch.isfinite(x).all()
    return x


def valid_rows(t, ref):
    """PyTorch's float32 rows, or None where they are not finite — or finite but wrong: more than 1e-3 off
    the float64 result (a LayerNorm whose sum of squares overflows f32 gets rstd 0, and every value
    becomes the bias)."""
    out = []
    for r, want in zip(t, ref):
        ok = bool(torch.isfinite(r).all()) and float((r.double() - want).abs().max()) <= 1e-3
        out.append(r.tolist() if ok else None)
    return out


def layer_norm_case(d, eps):
    x = rows_for(d)
    w = (torch.rand(d) + 0.5).to(torch.float32)
    b = (torch.rand(d) - 0.5).to(torch.float32)
    t32 = torch.nn.functional.layer_norm(x, (d,), w, b, eps)
    x64 = x.double()
    mean = x64.mean(-1, keepdim=True)
    # float64 of f32 values up to 3.4e38: squares up to 1.2e77, no overflow.
    var = ((x64 - mean) ** 2).mean(-1, keepdim=True)
    ref = (x64 - mean) / torch.sqrt(var + eps) * w.double() + b.double()
    return {
        "d": d,
        "eps": eps,
        "x": x.tolist(),
        "w": w.tolist(),
        "b": b.tolist(),
        "torch32": valid_rows(t32, ref),
        "torch32_non_finite": int((~torch.isfinite(t32).all(-1)).sum()),
        "ref64": ref.tolist(),
        "mean64": mean.squeeze(-1).tolist(),
    }


def softmax_case(n):
    x = rows_for(n)
    t32 = torch.softmax(x, -1)
    ref = torch.softmax(x.double(), -1)
    return {"n": n, "x": x.tolist(), "torch32": valid_rows(t32, ref), "ref64": ref.tolist()}


def main():
    cases = {
        "layer_norm": [layer_norm_case(d, eps) for d, eps in [(7, 1e-12), (64, 1e-12), (64, 1e-5), (99, 1e-12)]],
        "softmax": [softmax_case(n) for n in [2, 3, 17]],
    }
    OUT.write_text(json.dumps(cases, separators=(",", ":")))
    for c in cases["layer_norm"]:
        bad = sum(r is None for r in c["torch32"])
        nf = c["torch32_non_finite"]
        print(f"layer_norm d={c['d']} eps={c['eps']}: {len(c['x'])} rows; PyTorch f32 not finite on {nf}, finite but wrong on {bad - nf}")
    for c in cases["softmax"]:
        bad = sum(r is None for r in c["torch32"])
        print(f"softmax n={c['n']}: {len(c['x'])} rows, PyTorch f32 not finite on {bad}")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
