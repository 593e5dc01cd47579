// `npm pack` (offline) produces a package whose types check in a TypeScript consumer (tsc --noEmit
// --strict) and whose node example classifies the two reference sentences right.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const js = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('npm pack, a strict TypeScript consumer, the node example', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'encoder-lens-pack-'));
  try {
    const out = JSON.parse(run('npm', ['pack', '--json', '--offline', '--pack-destination', tmp], js));
    const files = out[0].files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'src/index.js', 'src/index.d.ts', 'src/worker.js', 'src/rpc.js', 'src/serve.js', 'src/probes.js',
      'wasm/simd128/encoder_lens.js', 'wasm/simd128/encoder_lens.d.ts', 'wasm/simd128/encoder_lens_bg.wasm',
      'wasm/relaxed/encoder_lens.js', 'wasm/relaxed/encoder_lens_bg.wasm',
      'wasm/threads/encoder_lens.js', 'wasm/threads/encoder_lens_bg.wasm', 'src/threads.js', 'src/pool-worker.js',
      'models/sentiment-ln/config.json', 'models/sentiment-ln/model.safetensors', 'models/sentiment-ln/vocab.txt',
      'models/sentiment-ln-int8/config.json', 'models/sentiment-ln-int8/model.safetensors', 'models/sentiment-ln-int8/vocab.txt', 'examples/node.mjs']) {
      assert.ok(files.includes(f), `the package has ${f}: ${files.join(', ')}`);
    }
    assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/')), files.join(', '));
    console.log(`# ${out[0].filename}: ${files.length} files, ${out[0].size} bytes packed, ${out[0].unpackedSize} unpacked`);

    // A consumer project with the tarball unpacked as node_modules/encoder-lens.
    const app = join(tmp, 'app');
    const pkg = join(app, 'node_modules', 'encoder-lens');
    mkdirSync(pkg, { recursive: true });
    run('tar', ['-xzf', join(tmp, out[0].filename), '-C', pkg, '--strip-components=1'], tmp);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    copyFileSync(join(js, 'test', 'consumer.ts'), join(app, 'consumer.ts'));
    const tsc = join(js, 'node_modules', 'typescript', 'bin', 'tsc');
    assert.ok(existsSync(tsc), 'typescript is installed (make setup: npm ci in js/)');
    // No @types/node: the consumer uses only the package's types and the DOM's. The generated wasm types use
    // Symbol.dispose (lib esnext.disposable, in TypeScript's lib since 5.2).
    const compilerOptions = { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022', 'esnext.disposable', 'dom'], types: [] };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
    const args = ['-p', '.', '--noEmit', '--strict'];
    try {
      run(process.execPath, [tsc, ...args], app);
    } catch (e) {
      assert.fail(`tsc --strict failed:\n${e.stdout}${e.stderr}`);
    }

    copyFileSync(join(pkg, 'examples', 'node.mjs'), join(app, 'example.mjs'));
    const lines = run(process.execPath, ['example.mjs'], app).trim().split('\n');
    assert.match(lines[0], /^positive\t0\.\d{4}\tan absolute joy from start to finish$/);
    assert.match(lines[1], /^negative\t0\.\d{4}\ta dull, lifeless waste of two hours$/);
    assert.match(lines[2], /^\(cpu, wasm (SIMD128|relaxed SIMD)\)$/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
