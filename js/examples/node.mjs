// node examples/node.mjs [TEXT...]: the bundled sentiment model on the CPU path, in this thread.
import { TextClassifier } from 'encoder-lens';

const texts = process.argv.length > 2 ? process.argv.slice(2) : ['an absolute joy from start to finish', 'a dull, lifeless waste of two hours'];
const clf = await TextClassifier.load(undefined, { worker: false, backend: 'cpu' });
for (const [i, r] of (await clf.classify(texts)).entries()) {
  console.log(`${r.label}\t${r.score.toFixed(4)}\t${texts[i]}`);
}
console.log(`(${clf.info.backend}, wasm ${clf.info.wasm})`);
clf.dispose();
