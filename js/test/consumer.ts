// A TypeScript app using the packed package (compiled with tsc --noEmit --strict by test/pack.test.mjs).
import { TextClassifier, type Classification, type ProgressEvent, type Explanation, DEFAULT_MODEL } from 'encoder-lens';
import { Engine } from 'encoder-lens/wasm';

async function main(): Promise<void> {
  const clf = await TextClassifier.load(DEFAULT_MODEL, {
    backend: 'auto',
    precision: 'f32',
    threads: 2,
    worker: false,
    onProgress: (e: ProgressEvent) => console.log(e.file, e.loaded, e.total, e.cached),
  });
  const results: Classification[] = await clf.classify(['an absolute joy', 'a dull waste']);
  const first: string = results[0].label;
  const p: number = results[0].scores['positive'];
  const vectors: Float32Array[] = await clf.embed('one text');
  const ex: Explanation = await clf.explain('an absolute joy', { attention: true, ablation: true });
  const mean: Float32Array | undefined = ex.attention?.mean[0];
  const backend: 'webgpu' | 'cpu' = clf.info.backend;
  console.log(first, p, vectors[0].length, mean?.length, backend, ex.ablation?.[0].delta);
  // The raw engine's generated types are there too.
  const isHf: boolean = Engine.isHfBert('{}');
  console.log(isHf);
  clf.dispose();

  // @ts-expect-error classify takes strings
  await clf.classify(42);
  // @ts-expect-error no such backend
  await TextClassifier.load(undefined, { backend: 'tpu' });
  // @ts-expect-error embed returns Float32Array[], not number[][]
  const wrong: number[][] = await clf.embed(['x']);
  console.log(wrong);
}

void main();
