// A/B of two sets of our wasm builds on the whole network, interleaved in one page per engine:
// both builds loaded side by side (1 thread: the single build each engine's runtime would pick;
// --threads N: the threaded build),
// then round after round a timed batch and a per-layer profile of each (A B, then B A, ...), so a
// busy machine slows both alike. Prints per engine the timed median and, per kernel family (and
// per pointwise layer with --layers), the sum of per-layer medians and of per-layer minima (on a
// shared machine interruptions only add time: the minima are the steadier comparison), and B / A.
// For kernel changes: run it in all three engines before landing, in both orders (--a/--b swapped).
//   node bench/ab.mjs --a DIR --b DIR [--engines chromium,firefox,webkit] [--rounds N] [--threads N] [--layers]
// DIR: a copy of js/wasm (e.g. `cp -r js/wasm /tmp/old` before rebuilding). Model: the benchmark's
// seeded mobilenetv3_large_100 (bench/cache, made by `node bench/run.mjs` once).
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cachedModel, median, openBenchPage } from './page-setup.mjs';
import { startServer } from './server.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const CACHE = join(ROOT, 'bench', 'cache');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const dirs = { a: arg('--a'), b: arg('--b') };
if (!dirs.a || !dirs.b) throw new Error('usage: node bench/ab.mjs --a DIR --b DIR [--engines LIST] [--rounds N] [--threads N] [--layers]');
const engines = arg('--engines', 'chromium,firefox,webkit').split(',');
const rounds = Number(arg('--rounds', '8'));
const showLayers = process.argv.includes('--layers');
const threads = Number(arg('--threads', '1'));
const flavour = threads > 1 ? 'threaded' : 'single';
const model = 'mobilenetv3_large_100';
for (const f of [`${model}.safetensors`, `${model}.config.json`]) {
  if (!existsSync(join(CACHE, f))) throw new Error(`bench/cache/${f} missing: run node bench/run.mjs once`);
}
const photo = resolve(ROOT, '..', 'shared', 'photos', 'koala.jpg');

// One folder served as /js/wasm/: "single" (the page's preprocessing) and NAME-a, NAME-b per build.
const snap = join(CACHE, 'ab-wasm');
rmSync(snap, { recursive: true, force: true });
mkdirSync(snap, { recursive: true });
cpSync(join(dirs.a, 'single'), join(snap, 'single'), { recursive: true });
for (const [k, d] of Object.entries(dirs)) {
  for (const b of [flavour, `${flavour}-relaxed`]) cpSync(join(d, b), join(snap, `${b}-${k}`), { recursive: true });
}
const srv = await startServer({
  '/bench/': join(ROOT, 'bench'), '/js/wasm/': snap, '/js/': join(ROOT, 'js'), '/photo/': resolve(photo, '..'),
});
const f = (x) => x.toFixed(3);
try {
  for (const engine of engines) {
    const spec = cachedModel(model);
    const { browser, page, env } = await openBenchPage(engine, srv, spec);
    try {
      const build = env.relaxedSimd ? `${flavour}-relaxed` : flavour;
      const h = {};
      for (const k of ['a', 'b']) {
        const s = await page.evaluate((sp) => window.bench.start(sp), { engine: 'ours', build: `${build}-${k}`, threads, model: spec });
        h[k] = s.handle;
      }
      const times = { a: [], b: [] };
      const prof = { a: [], b: [] };
      for (let r = 0; r < rounds + 1; r++) {
        for (const k of r % 2 ? ['b', 'a'] : ['a', 'b']) {
          const t = await page.evaluate((x) => window.bench.time(x.h, 1, 3), { h: h[k] });
          const p = await page.evaluate((x) => window.bench.profile(x.h, 4), { h: h[k] });
          if (r > 0) { times[k].push(...t.times); prof[k].push(...p); } // round 0 warms up
        }
      }
      const load = (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ');
      console.log(`\n${engine} (${build}, ${threads} thread(s)): ${rounds} rounds x (3 timed + 4 profiled passes) each, interleaved; load now ${load}`);
      const ta = median(times.a), tb = median(times.b);
      console.log(`  whole network, timed: A median ${f(ta)} min ${f(Math.min(...times.a))} | B median ${f(tb)} min ${f(Math.min(...times.b))} ms | B/A ${(tb / ta).toFixed(3)}`);
      const layers = prof.a[0].map((l, i) => ({
        name: l.name, kind: l.kind, macs: l.macs,
        a: median(prof.a.map((p) => p[i].ms)), b: median(prof.b.map((p) => p[i].ms)),
        amin: Math.min(...prof.a.map((p) => p[i].ms)), bmin: Math.min(...prof.b.map((p) => p[i].ms)),
      }));
      const kinds = [...new Set(layers.map((l) => l.kind))];
      for (const kind of kinds) {
        const ls = layers.filter((l) => l.kind === kind);
        const sum = (key) => ls.reduce((s, l) => s + l[key], 0);
        const [sa, sb, ma, mb] = [sum('a'), sum('b'), sum('amin'), sum('bmin')];
        const macs = sum('macs');
        const g = (ms) => `${f(ms).padStart(7)} ms ${(macs / ms / 1e6).toFixed(2).padStart(5)} GMAC/s`;
        console.log(`  ${kind.padEnd(15)} ${String(ls.length).padStart(2)} layers  medians: A ${g(sa)}  B ${g(sb)}  B/A ${(sb / sa).toFixed(3)} | minima: A ${g(ma)}  B ${g(mb)}  B/A ${(mb / ma).toFixed(3)}`);
      }
      if (showLayers) {
        for (const l of layers.filter((x) => x.kind === 'pointwise')) {
          const g = (ms) => (l.macs / ms / 1e6).toFixed(2).padStart(6);
          console.log(`    ${l.name.padEnd(24)} ${(l.macs / 1e6).toFixed(2).padStart(6)} M MACs  GMAC/s at the median: A ${g(l.a)}  B ${g(l.b)}  B/A ${(l.b / l.a).toFixed(3)} | at the minimum: A ${g(l.amin)}  B ${g(l.bmin)}  B/A ${(l.bmin / l.amin).toFixed(3)}`);
        }
      }
    } finally {
      await browser.close();
    }
  }
} finally {
  await srv.close();
}
