// Contender: ONNX Runtime Web (onnxruntime-web from npm), WebAssembly execution provider
// (SIMD128, the threaded build; numThreads as asked), on the ONNX export of the same weights.

import { countSpawnedWorkers, serve, timeCalls, workersSpawned } from './contender.mjs';

countSpawnedWorkers();

const ORT_DIR = '/node_modules/onnxruntime-web/dist/';
let ort = null;
let session = null;
let feeds = null;
let outName = null;

async function init({ threads, model }) {
  ort = await import(`${ORT_DIR}ort.wasm.min.mjs`);
  ort.env.wasm.wasmPaths = new URL(ORT_DIR, self.location.href).href;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  const bytes = new Uint8Array(await (await fetch(model.onnxUrl)).arrayBuffer());
  session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  outName = session.outputNames[0];
  return {
    version: ort.env.versions ? ort.env.versions.web : undefined,
    numThreads: ort.env.wasm.numThreads,
    simd: ort.env.wasm.simd,
    inputs: session.inputNames,
    outputs: session.outputNames,
    workersSpawned: workersSpawned(),
  };
}

async function once() {
  const out = await session.run(feeds);
  const data = out[outName].data;
  for (const k in out) out[k].dispose?.();
  return data;
}

const handlers = {
  init,
  async infer({ tensor, size }) {
    feeds = { [session.inputNames[0]]: new ort.Tensor('float32', tensor, [1, 3, size, size]) };
    const logits = await once();
    return { logits, workersSpawned: workersSpawned() };
  },
  time({ warmup, iters }) {
    return timeCalls(once, warmup, iters);
  },
};

serve(handlers);
