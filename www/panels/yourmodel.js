// Bring your own model: drop a model folder (a Hugging Face BERT folder — config.json, vocab.txt,
// model.safetensors or shards, optional tokenizer / sentence-transformers configs — or one of this project's)
// onto the page, or pick its files. The worker checks and loads it (the engine validates everything); a bad
// folder is a message and the current model keeps running. This module gathers the files only.

async function dropped(dt) {
  const items = [...(dt.items || [])].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  const out = [];
  let name = 'model';
  for (const it of items) {
    if (it.isDirectory) {
      name = it.name;
      await collect(it, '', out);
    } else out.push({ path: it.name, file: await new Promise((res, rej) => it.file(res, rej)) });
  }
  return { name, files: out };
}

/** Every file under directory `dir`, paths relative to it. */
async function collect(dir, prefix, out) {
  const reader = dir.createReader();
  for (;;) {
    const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
    if (!batch.length) break;
    for (const e of batch) {
      if (e.isDirectory) await collect(e, `${prefix}${e.name}/`, out);
      else out.push({ path: `${prefix}${e.name}`, file: await new Promise((res, rej) => e.file(res, rej)) });
    }
  }
}

/** Picked files: a folder (webkitRelativePath 'folder/…') or loose files (their names). */
function picked(list) {
  const files = [...list];
  const rel = files[0]?.webkitRelativePath;
  const name = rel ? rel.split('/')[0] : 'model';
  return { name, files: files.map((f) => ({ path: f.webkitRelativePath ? f.webkitRelativePath.split('/').slice(1).join('/') : f.name, file: f })) };
}

export function render() {}

export function wire(root, ui) {
  const folder = document.getElementById('own-folder');
  const loose = document.getElementById('own-files');
  folder.addEventListener('change', () => folder.files.length && ui.addModel(picked(folder.files)).finally(() => (folder.value = '')));
  loose.addEventListener('change', () => loose.files.length && ui.addModel(picked(loose.files)).finally(() => (loose.value = '')));
  document.addEventListener('dragover', (ev) => {
    if ([...(ev.dataTransfer?.types || [])].includes('Files')) {
      ev.preventDefault();
      root.classList.add('dropping');
    }
  });
  document.addEventListener('dragleave', () => root.classList.remove('dropping'));
  document.addEventListener('drop', async (ev) => {
    if (!ev.dataTransfer?.files.length) return;
    ev.preventDefault();
    root.classList.remove('dropping');
    ui.addModel(await dropped(ev.dataTransfer));
  });
}
