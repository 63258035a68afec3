// Is a slow round our engine or the machine? From a fresh worker of ours (its wasm compiled anew,
// as in each round of bench/run.mjs), one pass of ours, then one pass of LiteRT.js (1 thread, its
// worker started once and warmed up), alternately, pass after pass, several rounds. A busy machine
// slows both passes of a pair alike, so the ratio ours / LiteRT.js per pair shows what is ours: the
// JIT warm-up after start (SpiderMonkey runs new wasm in its baseline tier first and compiles hot
// functions with Ion in the background) and the steady state. Beside it the machine's runnable
// threads (/proc/loadavg, sampled every 20 ms while the passes run; 1 = only the pass itself):
// above 2 on these 2 cores, every pass gets only part of a core.
//   node bench/warmup.mjs [--engines firefox,chromium,webkit] [--rounds 6] [--passes 60]
// Model and LiteRT.js files: those of `node bench/run.mjs` (bench/cache), made by running it once.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cachedModel, median, openBenchPage } from './page-setup.mjs';
import { startServer } from './server.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const CACHE = join(ROOT, 'bench', 'cache');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const engines = arg('--engines', 'firefox,chromium,webkit').split(',');
const rounds = Number(arg('--rounds', '6'));
const passes = Number(arg('--passes', '60'));
const BIN = 5;
const model = 'mobilenetv3_large_100';
for (const f of [`${model}.safetensors`, `${model}.config.json`, `${model}.tflite`, 'litert/index.js']) {
  if (!existsSync(join(CACHE, f))) throw new Error(`bench/cache/${f} missing: run node bench/run.mjs once`);
}
const srv = await startServer({
  '/bench/': join(ROOT, 'bench'), '/js/': join(ROOT, 'js'),
  '/node_modules/@litertjs/': join(ROOT, 'node_modules', '@litertjs'),
  '/photo/': resolve(ROOT, '..', 'shared', 'photos'),
});
// Runnable threads right now (the 4th field of /proc/loadavg, "running/total"), minus this sampler.
const runnable = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[3].split('/')[0]) - 1;

try {
  for (const engine of engines) {
    const spec = cachedModel(model);
    const { browser, page, env } = await openBenchPage(engine, srv, spec);
    try {
      const build = env.relaxedSimd ? 'single-relaxed' : 'single';
      const peer = (await page.evaluate((sp) => window.bench.start(sp), { engine: 'litert', threads: 1, model: spec })).handle;
      await page.evaluate((h) => window.bench.time(h, 30, 1), peer);
      const pass = async (h) => (await page.evaluate((x) => window.bench.time(x, 0, 1), h)).times[0];
      const ours = [], theirs = [], busy = [];
      for (let r = 0; r < rounds; r++) {
        const h = (await page.evaluate((sp) => window.bench.start(sp), { engine: 'ours', build, threads: 1, model: spec })).handle;
        const o = [], t = [], b = [];
        for (let i = 0; i < passes; i++) {
          const samples = [];
          const timer = setInterval(() => samples.push(runnable()), 20);
          o.push(await pass(h));
          t.push(await pass(peer));
          clearInterval(timer);
          b.push(samples.length ? samples.reduce((x, y) => x + y, 0) / samples.length : NaN);
        }
        await page.evaluate((x) => window.bench.stop(x), h);
        ours.push(o); theirs.push(t); busy.push(b);
      }
      await page.evaluate((x) => window.bench.stop(x), peer);
      console.log(`\n${engine} (ours: ${build}, a fresh worker per round; LiteRT.js 1 thread): ${rounds} rounds x ${passes} pass pairs; medians over rounds`);
      console.log('  passes after start | ours ms | LiteRT.js ms | ours / LiteRT.js (per pair) | runnable threads');
      for (let i = 0; i < passes; i += BIN) {
        const cut = (a) => a.flatMap((x) => x.slice(i, i + BIN));
        const ratios = ours.flatMap((x, r) => x.slice(i, i + BIN).map((v, j) => v / theirs[r][i + j]));
        console.log(`  ${String(i + 1).padStart(3)}-${String(Math.min(i + BIN, passes)).padEnd(3)}             | ${median(cut(ours)).toFixed(1).padStart(7)} | ${median(cut(theirs)).toFixed(1).padStart(12)} | ${median(ratios).toFixed(2).padStart(27)} | ${median(cut(busy)).toFixed(1).padStart(16)}`);
      }
      await page.close();
    } finally {
      await browser.close();
    }
  }
} finally {
  await srv.close();
}
