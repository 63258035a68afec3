// Contender: LiteRT.js (@litertjs/core from npm: XNNPACK compiled to wasm; it loads its relaxed-SIMD
// build where the browser has relaxed SIMD, the threaded one when asked for threads (relaxed SIMD
// only), else its SIMD128 "compat" build), CPU (wasm) accelerator, on the .tflite that litert-torch
// made from the same weights (tools/export_tflite.py). A classic worker: LiteRT.js loads its
// Emscripten script with importScripts(), which module workers do not have.
// The library's dist imports the bare specifier '@litertjs/wasm-utils'; workers have no import
// maps, so bench/run.mjs serves a copy of it (bench/cache/litert/index.js) importing the bundle by URL.

const LITERT = '/bench/cache/litert/index.js';
const WASM_DIR = '/node_modules/@litertjs/core/wasm/';

let contender = null; // bench/www/contender.mjs
let lr = null;
let model = null;
let input = null;

async function init({ threads, model: spec }) {
  contender = await import('./contender.mjs');
  contender.countSpawnedWorkers();
  lr = await import(LITERT);
  const relaxedSimd = await lr.supportsFeature('relaxedSimd');
  const wantThreads = threads > 1;
  const dir = new URL(WASM_DIR, self.location.href).href;
  const wasmFile = relaxedSimd ? (wantThreads ? 'litert_wasm_threaded_internal' : 'litert_wasm_internal') : 'litert_wasm_compat_internal';
  // Emscripten looks for its .wasm (and its pthread workers for the .js) next to the script that
  // runs it, here this worker: point it at the package's wasm/ folder (the loader passes
  // self.Module to the module factory).
  self.Module = { locateFile: (f) => dir + f, mainScriptUrlOrBlob: `${dir}${wasmFile}.js` };
  await lr.loadLiteRt(dir, { threads: wantThreads });
  const bytes = new Uint8Array(await (await fetch(spec.tfliteUrl)).arrayBuffer());
  model = await lr.loadAndCompile(bytes, { accelerator: 'wasm', cpuOptions: { numThreads: threads } });
  return {
    wasmFile,
    relaxedSimd,
    numThreads: threads,
    workersSpawned: contender.workersSpawned(),
  };
}

async function once() {
  const outs = await model.run(input);
  const logits = outs[0].toTypedArray();
  for (const t of outs) t.delete();
  return logits;
}

const handlers = {
  init,
  async infer({ tensor, size }) {
    if (input) input.delete();
    input = new lr.Tensor(tensor, [1, 3, size, size]);
    const logits = await once();
    return { logits, workersSpawned: contender.workersSpawned() };
  },
  time({ warmup, iters }) {
    return contender.timeCalls(once, warmup, iters);
  },
};

self.onmessage = async ({ data }) => {
  try {
    if (data.cmd !== 'init' && !lr) throw new Error('init first');
    const result = await handlers[data.cmd](data);
    self.postMessage({ id: data.id, ok: true, result });
  } catch (e) {
    self.postMessage({ id: data.id, ok: false, error: String((e && e.stack) || e) });
  }
};
