// Kernel micro-benchmark: times each depthwise interior variant (DepthwiseVariant::ALL) or, with
// --pointwise, each GEMM micro-kernel variant (GemmVariant::ALL) on the large model's layer shapes,
// in each engine, the variants interleaved round by round so a busy machine slows them alike. Not
// part of `./build.sh bench`; for choosing kernel shapes (check the whole network's per-layer
// profile in all three engines before adopting one).
//   node bench/kernels.mjs [--pointwise] [--engines chromium,firefox,webkit] [--rounds N] [--relaxed]
// It builds examples/kernel_bench.rs to wasm (SIMD128, or relaxed SIMD with --relaxed), without
// wasm-opt: the shipped build's function sizes and JIT tiers apply only in the whole network.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { launchEngine } from '../tests/browser/lib/engines.mjs';
import { startServer, REPO_ROOT } from '../tests/browser/lib/server.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const engines = arg('--engines', 'chromium,firefox,webkit').split(',');
const rounds = Number(arg('--rounds', '31'));
const names = 'Rows4 Rows2Cols16'; // GemmVariant::ALL
const relaxed = process.argv.includes('--relaxed');
const kind = relaxed ? 'single-relaxed' : 'single';
const feats = relaxed ? '+simd128,+relaxed-simd' : '+simd128';
execFileSync('cargo', ['+1.95.0', 'build', '--example', 'kernel_bench', '--release', '--target', 'wasm32-unknown-unknown', '--target-dir', `target/wasm-${kind}`],
  { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, RUSTFLAGS: `-C target-feature=${feats}` } });
const wasm = fs.readFileSync(path.join(REPO_ROOT, `target/wasm-${kind}/wasm32-unknown-unknown/release/examples/kernel_bench.wasm`));

// [m, k, n, act code, count]: mobilenetv3_large_100's 1x1 convolutions, each shape once with the
// number of layers of that shape (act: 0 none (projections), 1 ReLU, 2 hard-swish).
const SHAPES = [[12544, 16, 16, 0, 1], [12544, 16, 64, 1, 1], [3136, 64, 24, 0, 1], [3136, 24, 72, 1, 2], [3136, 72, 24, 0, 1],
  [784, 72, 40, 0, 1], [784, 40, 120, 1, 2], [784, 120, 40, 0, 2], [784, 40, 240, 2, 1], [196, 240, 80, 0, 1],
  [196, 80, 200, 2, 1], [196, 200, 80, 0, 1], [196, 80, 184, 2, 2], [196, 184, 80, 0, 2], [196, 80, 480, 2, 1],
  [196, 480, 112, 0, 1], [196, 112, 672, 2, 2], [196, 672, 112, 0, 1], [49, 672, 160, 0, 1], [49, 160, 960, 2, 2], [49, 960, 160, 0, 2]];
// Depthwise [h, c, k, stride] (hard-swish): its layers.
const DW_SHAPES = [[112, 16, 3, 1], [112, 64, 3, 2], [56, 72, 3, 1], [56, 72, 5, 2], [28, 120, 5, 1], [28, 240, 3, 2], [14, 200, 3, 1], [14, 672, 3, 1], [14, 672, 5, 2], [7, 960, 5, 1]];
const dw = !process.argv.includes('--pointwise');

const page = `<!doctype html><script type="module">
const bytes = await (await fetch('/kb.wasm')).arrayBuffer();
const mod = await WebAssembly.compile(bytes);
const imports = {};
for (const i of WebAssembly.Module.imports(mod)) (imports[i.module] ??= {})[i.name] = () => { throw new Error('stub ' + i.name); };
const inst = await WebAssembly.instantiate(mod, imports);
window.bench = (shapes, rounds, dw) => {
  const x = inst.exports, nv = dw ? x.dw_variants() : x.gemm_variants(), res = [];
  const run = dw ? x.dw_run : x.gemm_run;
  for (const [m, k, n, act, count] of shapes) {
    let macs;
    if (dw) { x.dw_setup(m, k, n, act); const o = Math.ceil(m / act); macs = o * o * k * n * n; }
    else { x.gemm_setup(m, k, n, act); macs = m * k * n; }
    const reps = Math.max(1, Math.ceil(1e7 / macs));
    for (let v = 0; v < nv; v++) run(v, reps); // warm-up
    const t = Array.from({ length: nv }, () => []);
    for (let r = 0; r < rounds; r++) for (let v = 0; v < nv; v++) {
      const t0 = performance.now(); run(v, reps); t[v].push((performance.now() - t0) / reps);
    }
    // Best run: on a shared machine, interruptions only ever add time.
    const best = (a) => Math.min(...a);
    res.push({ shape: [m, k, n, act], gmacs: t.map((a) => +(macs / best(a) / 1e6).toFixed(2)), ms: t.map((a) => best(a) * (count ?? 1)) });
  }
  return res;
};
window.__ready = true;
</script>`;
const srv = await startServer({ routes: {
  '/kb.html': (req, res) => { res.setHeader('content-type', 'text/html'); res.end(page); },
  '/kb.wasm': (req, res) => { res.setHeader('content-type', 'application/wasm'); res.end(wasm); },
} });
try {
  for (const engine of engines) {
    const browser = await launchEngine(engine);
    try {
      const p = await browser.open(srv.url + '/kb.html', { timeout: 60000 });
      const out = await p.evaluate(([s, r, d]) => window.bench(s, r, d), [dw ? DW_SHAPES : SHAPES, rounds, dw]);
      console.log(`${engine} (${kind}): GMAC/s per variant (${dw ? 'TapLoads Sliding SlidingRuns Stride2Pairs' : names}), best of ${rounds}`);
      for (const o of out) console.log(`  ${dw ? `h${o.shape[0]} c${o.shape[1]} k${o.shape[2]} s${o.shape[3]}` : `m${o.shape[0]} k${o.shape[1]} n${o.shape[2]} act${o.shape[3]}`}: ${o.gmacs.join('  ')}`);
      if (!dw) console.log(`  all ${SHAPES.reduce((s, x) => s + x[4], 0)} layers, ms: ${out[0].ms.map((_, v) => out.reduce((s, o) => s + o.ms[v], 0).toFixed(3)).join('  ')}`);
    } finally {
      await browser.close();
    }
  }
} finally {
  await srv.close();
}
