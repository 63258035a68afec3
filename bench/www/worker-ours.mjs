// Contender: our engine (a build of js/builds.js, e.g. js/wasm/threaded-relaxed; wasm-bindgen --target web).
// init {build, threads, model} -> info; preprocess {width, height, rgba} -> tensor;
// infer {tensor, size} -> logits; time {warmup, iters} -> times; profile {reps} -> rows[][];
// stages {reps} -> stage traces (threaded build; bench/stages.mjs)
// (the engine's image path for the preprocessing; its DebugHooks to set and read the input tensor)
// The threaded build's pool workers come from the page (init's poolPorts), as in the npm package.

import { countSpawnedWorkers, serve, timeCalls, workersSpawned } from './contender.mjs';
import { usePoolPorts } from '/js/pool.js';

countSpawnedWorkers();

let glue = null;
let wasm = null; // the instance's exports (memory)
let engine = null;

async function init({ build, threads, model, poolPorts }) {
  const base = new URL(`/js/wasm/${build}/`, self.location.href);
  glue = await import(new URL('mobilenetv3.js', base).href);
  wasm = await glue.default({ module_or_path: new URL('mobilenetv3_bg.wasm', base) });
  let requested = threads;
  if (threads === 'auto') requested = Math.min(navigator.hardwareConcurrency || 1, 4);
  if (glue.buildKind() === 'threaded') {
    // The pool's workers (js/pool-worker.js) were started by the page, as in the package.
    if (!poolPorts || poolPorts.length < requested) throw new Error(`the page started ${poolPorts ? poolPorts.length : 0} pool workers, ${requested} needed`);
    usePoolPorts(poolPorts);
    await glue.initThreadPool(requested);
  }
  const weights = new Uint8Array(await (await fetch(model.weightsUrl)).arrayBuffer());
  const config = model.configUrl ? await (await fetch(model.configUrl)).text() : '';
  engine = new glue.Engine(weights, config, model.arch);
  const info = JSON.parse(engine.info());
  delete info.labels;
  return { ...info, build: glue.buildKind(), wasmBuild: build, threads: glue.threadCount(), requested, workersSpawned: workersSpawned() };
}

function once() {
  engine.infer();
  return engine.logits();
}

const handlers = {
  init,
  preprocess({ width, height, rgba }) {
    engine.beginImage(width, height);
    const stride = width * 4;
    const rows = Math.max(1, Math.floor((4 << 20) / stride)); // strips of at most 4 MiB
    for (let y = 0; y < height; y += rows) {
      const bytes = Math.min(rows, height - y) * stride;
      new Uint8Array(wasm.memory.buffer, engine.staging(bytes), bytes).set(rgba.subarray(y * stride, y * stride + bytes));
      engine.pushRows(y, 0, stride, bytes, false);
    }
    engine.finishImage();
    const tensor = glue.DebugHooks.inputTensor(engine);
    return { tensor, size: Math.round(Math.sqrt(tensor.length / 3)) };
  },
  infer({ tensor }) {
    glue.DebugHooks.setInputTensor(engine, tensor);
    return { logits: once(), workersSpawned: workersSpawned() };
  },
  time({ warmup, iters }) {
    return timeCalls(once, warmup, iters);
  },
  profile({ reps }) {
    const runs = [];
    for (let i = 0; i < reps; i++) runs.push(JSON.parse(glue.DebugHooks.profile(engine)));
    return runs;
  },
  stages({ reps }) {
    const runs = [];
    for (let i = 0; i < reps; i++) runs.push(JSON.parse(glue.DebugHooks.traceStages(engine)));
    return runs;
  },
};

serve(handlers, (e) => {
  const panic = glue && glue.lastPanic ? glue.lastPanic() : null;
  return `${(e && e.message) || e}${panic ? ` (panic: ${panic})` : ''}`;
});
