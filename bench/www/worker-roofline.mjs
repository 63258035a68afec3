// Roofline worker: runs the f32x4 mul+add loop of bench/roofline.mjs (one wasm per accumulator
// count) and reports the multiply-add rate. load {urls: {A: url}} -> ok; warm -> chosen A;
// run {seconds, flag} -> chunks [{macs, ms}] (starts when the page sets flag[0]).

const M = 1 - 2 ** -20;
const C = 2 ** -20;
const variants = []; // {accs, unroll, run}
let best = null;
let chunkIters = 0;

async function load({ urls }) {
  for (const { accs, unroll, url } of urls) {
    const { instance } = await WebAssembly.instantiateStreaming(fetch(url), {});
    variants.push({ accs, unroll, run: instance.exports.run });
  }
  return variants.length;
}

function rate(v, iters) {
  const t0 = performance.now();
  v.run(iters, M, C);
  const ms = performance.now() - t0;
  return { ms, gmacs: (iters * v.accs * v.unroll * 4) / ms / 1e6 };
}

function warm() {
  // Several calls each, so V8 tiers every variant up to the optimizing compiler.
  for (const v of variants) for (let i = 0; i < 30; i++) v.run(2000, M, C);
  const results = [];
  for (const v of variants) {
    let g = 0;
    for (let r = 0; r < 5; r++) g = Math.max(g, rate(v, 100000).gmacs);
    results.push({ accs: v.accs, gmacs: g });
    if (!best || g > best.g) best = { v, g };
  }
  // ~20 ms per chunk
  const perIter = best.v.accs * best.v.unroll * 4;
  chunkIters = Math.max(1000, Math.round((best.g * 1e6 * 20) / perIter));
  return { chosen: best.v.accs, variants: results };
}

function run({ seconds, flag }) {
  while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 100);
  const chunks = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const r = rate(best.v, chunkIters);
    chunks.push({ macs: chunkIters * best.v.accs * best.v.unroll * 4, ms: r.ms });
  }
  return { accs: best.v.accs, chunks };
}

const handlers = { load, warm, run };
self.onmessage = async ({ data }) => {
  try {
    self.postMessage({ id: data.id, ok: true, result: await handlers[data.cmd](data) });
  } catch (e) {
    self.postMessage({ id: data.id, ok: false, error: String(e && e.stack || e) });
  }
};
