#!/usr/bin/env python3
"""Build dist/: the page as a static site any host can serve with no build step (`make dist`).

dist/ gets the page (www/, with the npm package's modules from js/src as lens/), both wasm builds
(www/pkg, www/pkg-relaxed, www/pkg-threads), the default models (models.json's `sentiment-*` folders; a model whose folder is
not shipped is listed as unavailable by the page), content-hashed names for every module, stylesheet and
.wasm (imports, `new URL('…', import.meta.url)` and index.html's src/href rewritten to match, so they can
be cached forever), `_headers` (Netlify / Cloudflare Pages syntax: COOP + COEP for cross-origin isolation,
which wasm threads need, and immutable caching of hashed files), `serve.mjs` (a dependency-free node
server sending the same headers, and each .wasm as its precompressed .wasm.br where the browser accepts
brotli) and manifest.json (original name -> hashed name).

usage: python3 scripts/make_dist.py [--out dist] [--models sentiment-ln,sentiment-bn,...]
(default: every `sentiment-*` entry of www/models.json)
"""

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WWW = ROOT / "www"
HASHED = {".js", ".mjs", ".css", ".wasm"}
# What a module or the page refers to by a literal relative path.
REFS = [
    re.compile(r"""(\bfrom\s*['"])([^'"]+)(['"])"""),
    re.compile(r"""(\bimport\s*\(\s*['"])([^'"]+)(['"]\s*\))"""),
    re.compile(r"""(^\s*import\s*['"])([^'"]+)(['"])""", re.M),
    re.compile(r"""(new\s+URL\(\s*['"])([^'"]+)(['"]\s*,\s*import\.meta\.url)"""),
]
HTML_REFS = [re.compile(r"""(\b(?:src|href)=["'])([^"'#:]+)(["'])""")]

SERVE_MJS = r"""#!/usr/bin/env node
// A static server for this folder with the headers in _headers: cross-origin isolation (COOP + COEP, which
// wasm threads and precise timers need) and immutable caching of content-hashed files.
// A .wasm goes out as its precompressed .wasm.br (`Content-Encoding: br`) to a client that accepts br.
// usage: node serve.mjs [port]   (default 8080; PORT works too; 0 picks a free port)
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, normalize, extname, sep } from 'node:path';

const root = import.meta.dirname;
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png', '.svg': 'image/svg+xml' };
const HASHED = /\.[0-9a-f]{10}\.(js|mjs|css|wasm)$/;
const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  let file = normalize(join(root, path));
  if (file !== root && !file.startsWith(root + sep)) return res.writeHead(403).end();
  try {
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    const wasm = extname(file) === '.wasm';
    const br = wasm && /\bbr\b/.test(req.headers['accept-encoding'] || '') && existsSync(file + '.br');
    const body = await readFile(br ? file + '.br' : file);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] || 'application/octet-stream',
      'content-length': body.length,
      ...(wasm ? { vary: 'accept-encoding' } : {}),
      ...(br ? { 'content-encoding': 'br' } : {}),
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'same-origin',
      'cache-control': HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }
});
server.listen(port, '127.0.0.1', () => console.log(`serving ${root} on http://127.0.0.1:${server.address().port}/`));
"""

BROTLI_JS = (
    "const z = require('node:zlib'), fs = require('node:fs');"
    "for (const f of process.argv.slice(1)) fs.writeFileSync(f + '.br', z.brotliCompressSync(fs.readFileSync(f),"
    " { params: { [z.constants.BROTLI_PARAM_QUALITY]: 11 } }));"
)

HEADERS = """/*
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
  Cross-Origin-Resource-Policy: same-origin
  Cache-Control: no-cache
{hashed}"""


def copy_tree(src: Path, dst: Path, skip=lambda p: False):
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if skip(rel) or p.is_dir():
            continue
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "dist"))
    listed = [m["id"] for m in json.loads((WWW / "models.json").read_text())["models"]]
    ap.add_argument("--models", default=",".join(m for m in listed if m.startswith("sentiment-")))
    a = ap.parse_args()
    out = Path(a.out).resolve()
    if not (WWW / "pkg/encoder_lens_bg.wasm").exists():
        sys.exit("make_dist: www/pkg/encoder_lens_bg.wasm is missing: run `make build` first")
    if not (WWW / "pkg-relaxed/encoder_lens_bg.wasm").exists():
        print("make_dist: no www/pkg-relaxed: the site will run the SIMD128 build everywhere", file=sys.stderr)
    if not (WWW / "pkg-threads/encoder_lens_bg.wasm").exists():
        print("make_dist: no www/pkg-threads: the site will run single-threaded everywhere", file=sys.stderr)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    # The page, without the dev-only folders; the package's runtime modules as lens/.
    top_skip = {"models", "pkg", "pkg-relaxed", "pkg-threads", "lens"}
    copy_tree(WWW, out, skip=lambda rel: rel.parts[0] in top_skip)
    copy_tree(ROOT / "js" / "src", out / "lens", skip=lambda rel: rel.suffix == ".ts")
    for b in [b for b in ["pkg", "pkg-relaxed", "pkg-threads"] if (WWW / b).is_dir()]:
        copy_tree(WWW / b, out / b, skip=lambda rel: rel.name in {".gitignore", "package.json"} or rel.suffix == ".ts")
    wanted = [m for m in a.models.split(",") if m]
    for m in wanted:
        copy_tree(ROOT / "models" / m, out / "models" / m)
        # The timings panel's parity check: a few batches of the model's PyTorch golden fixture.
        if (WWW / "models" / m / "parity.json").exists():
            for f in ["parity.json", "parity.safetensors"]:
                shutil.copyfile(WWW / "models" / m / f, out / "models" / m / f)

    # Content hashes, dependencies first: a file's name covers the hashed names of what it refers to.
    files = sorted(p for p in out.rglob("*") if p.suffix in HASHED)
    names = {}  # original path -> hashed path (both relative to out)
    visiting = set()

    def refs_of(text, patterns):
        for pat in patterns:
            for m in pat.finditer(text):
                yield m

    def rewrite(path: Path, text: str, patterns) -> str:
        def sub(m):
            spec = m.group(2)
            if re.match(r"^[a-z]+:|^/", spec):
                return m.group(0)
            target = (path.parent / spec).resolve()
            try:
                key = target.relative_to(out.resolve()).as_posix()
            except ValueError:
                return m.group(0)
            if key in names:
                new = names[key]
            elif target.is_file() and target.suffix in HASHED:
                new = hashed(target)
            else:
                return m.group(0)
            rel = Path(shutil.os.path.relpath(out / new, path.parent)).as_posix()
            if spec.startswith("./") and not rel.startswith("."):
                rel = "./" + rel
            return m.group(1) + rel + m.group(3)

        for pat in patterns:
            text = pat.sub(sub, text)
        return text

    def hashed(p: Path) -> str:
        rel = p.relative_to(out).as_posix()
        if rel in names:
            return names[rel]
        if rel in visiting:
            sys.exit(f"make_dist: import cycle through {rel}")
        visiting.add(rel)
        data = p.read_bytes()
        if p.suffix in {".js", ".mjs", ".css"}:
            data = rewrite(p, data.decode("utf-8"), REFS).encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()[:10]
        new = p.with_name(f"{p.stem}.{digest}{p.suffix}")
        new.write_bytes(data)
        p.unlink()
        names[rel] = new.relative_to(out).as_posix()
        visiting.discard(rel)
        return names[rel]

    for p in files:
        if p.exists():
            hashed(p)
    index = out / "index.html"
    index.write_text(rewrite(index, index.read_text(), HTML_REFS))

    # Each .wasm also precompressed with brotli 11 (node's zlib: Python's standard library has no brotli), for
    # serve.mjs to send where the browser accepts br (static hosts compress on their own).
    wasm = [str(out / n) for n in names.values() if n.endswith(".wasm")]
    subprocess.run(["node", "-e", BROTLI_JS, *wasm], check=True)
    hashed_rules = "".join(f"/{n}\n  Cache-Control: public, max-age=31536000, immutable\n" for n in sorted(names.values()))
    (out / "_headers").write_text(HEADERS.format(hashed=hashed_rules))
    (out / "serve.mjs").write_text(SERVE_MJS)
    (out / "manifest.json").write_text(json.dumps(dict(sorted(names.items())), indent=1) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"dist: {len(list(out.rglob('*')))} entries, {len(names)} hashed files, {size / 1e6:.1f} MB in {out}")


if __name__ == "__main__":
    main()
