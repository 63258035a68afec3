// Contender: our engine (a build of js/builds.js, e.g. js/wasm/threaded-relaxed; wasm-bindgen --target web).
// init {build, threads, model} -> info; preprocess {width, height, rgba} -> tensor;
// infer {tensor, size} -> logits; time {warmup, iters} -> times; profile {reps} -> rows[][]

import { countSpawnedWorkers, serve, timeCalls, workersSpawned } from './contender.mjs';

countSpawnedWorkers();

let glue = null;
let engine = null;
let input = null;
let size = 0;

async function init({ build, threads, model }) {
  const base = new URL(`/js/wasm/${build}/`, self.location.href);
  glue = await import(new URL('mobilenetv3.js', base).href);
  await glue.default({ module_or_path: new URL('mobilenetv3_bg.wasm', base) });
  let requested = threads;
  if (threads === 'auto') requested = Math.min(navigator.hardwareConcurrency || 1, 4);
  if (glue.buildKind() === 'threaded') await glue.initThreadPool(requested);
  const weights = new Uint8Array(await (await fetch(model.weightsUrl)).arrayBuffer());
  const config = model.configUrl ? await (await fetch(model.configUrl)).text() : '';
  engine = new glue.Engine(weights, config, model.arch);
  const info = JSON.parse(engine.info());
  delete info.labels;
  return { ...info, build: glue.buildKind(), wasmBuild: build, threads: glue.threadCount(), requested, workersSpawned: workersSpawned() };
}

function once() {
  engine.runTensor(input, size);
  return engine.logits();
}

const handlers = {
  init,
  preprocess({ width, height, rgba }) {
    engine.beginImage(width, height);
    engine.pushRows(0, rgba, 4, width * 4);
    const tensor = engine.preprocessPending();
    return { tensor, size: Math.round(Math.sqrt(tensor.length / 3)) };
  },
  infer({ tensor, size: s }) {
    input = tensor;
    size = s;
    return { logits: once(), workersSpawned: workersSpawned() };
  },
  time({ warmup, iters }) {
    return timeCalls(once, warmup, iters);
  },
  profile({ reps }) {
    const now = () => performance.now();
    const runs = [];
    for (let i = 0; i < reps; i++) runs.push(JSON.parse(engine.profile(now)));
    return runs;
  },
};

serve(handlers, (e) => {
  const panic = glue && glue.lastPanic ? glue.lastPanic() : null;
  return `${(e && e.message) || e}${panic ? ` (panic: ${panic})` : ''}`;
});
