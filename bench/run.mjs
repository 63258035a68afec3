#!/usr/bin/env node
// Side-by-side benchmark: our engine vs ONNX Runtime Web vs TensorFlow.js (wasm backend), same
// model, same weights, same input tensor, same headless Chromium, same run; plus the SIMD128
// roofline, our per-layer breakdown, and the native reference (our CLI vs onnxruntime CPU).
//
//   ./build.sh bench [options]         (builds the wasm first)    or, after a build:
//   node bench/run.mjs [options]
//
// Options:
//   --quick             10 timed runs, 3 warm-up, short roofline (format check; does not write
//                       BENCHMARKS.md unless --out is given)
//   --iters N           timed runs per contender (default 50)
//   --warmup N          warm-up runs per contender (default 10)
//   --rounds N          run the whole contender list N times, pooling the timings (default 1)
//   --models LIST       large,small (default: both; small needs ../shared/weights)
//   --only LIST         engines to run: ours,ort,tfjs (default all)
//   --photo FILE        the real photo of the correctness gate (default ../shared/photos/koala.jpg)
//   --shared DIR        the shared folder with weights/ and photos/ (default ../shared)
//   --out FILE          where to write the report (default BENCHMARKS.md; --no-write: nowhere)
//   --no-native         skip the native comparison
//   --profile-reps N    profiled forward passes for the per-layer breakdown (default 20)
//   --chromium PATH     browser binary (default $CHROMIUM or /usr/bin/chromium)
//   --verbose           echo the page's console
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './server.mjs';
import { assembleRoofline } from './roofline.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, 'bench', 'cache');

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const o = {
    quick: false, iters: 50, warmup: 10, rounds: 1, models: ['large', 'small'], only: ['ours', 'ort', 'tfjs'],
    photo: null, shared: resolve(ROOT, '..', 'shared'), out: undefined, native: true, profileReps: 20,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium', verbose: false, rooflineSeconds: 2,
  };
  const given = new Set();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const int = () => {
      const v = Number(val());
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    given.add(a);
    switch (a) {
      case '--quick': o.quick = true; break;
      case '--iters': o.iters = int(); break;
      case '--warmup': o.warmup = int(); break;
      case '--rounds': o.rounds = int(); break;
      case '--models': o.models = val().split(','); break;
      case '--only': o.only = val().split(','); break;
      case '--photo': o.photo = resolve(val()); break;
      case '--shared': o.shared = resolve(val()); break;
      case '--out': o.out = resolve(val()); break;
      case '--no-write': o.out = null; break;
      case '--no-native': o.native = false; break;
      case '--profile-reps': o.profileReps = int(); break;
      case '--chromium': o.chromium = val(); break;
      case '--verbose': o.verbose = true; break;
      case '-h': case '--help':
        console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1).filter((l, i, a) => a.slice(0, i + 1).every((x) => x.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
        process.exit(0);
        break;
      default: throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  if (o.quick) {
    if (!given.has('--iters')) o.iters = 10;
    if (!given.has('--warmup')) o.warmup = 3;
    if (!given.has('--profile-reps')) o.profileReps = 3;
    o.rooflineSeconds = 0.5;
    if (o.out === undefined) o.out = null;
  }
  if (o.out === undefined) o.out = join(ROOT, 'BENCHMARKS.md');
  o.photo = o.photo || join(o.shared, 'photos', 'koala.jpg');
  return o;
}

const log = (s = '') => process.stderr.write(`${s}\n`);
const die = (s) => {
  log(`\nbench: ${s}`);
  process.exit(1);
};

// ---------------------------------------------------------------- stats
function stats(times) {
  const s = [...times].sort((a, b) => a - b);
  const q = (p) => s[Math.round((s.length - 1) * p)];
  return { n: s.length, min: s[0], median: q(0.5), p90: q(0.9), mean: s.reduce((a, b) => a + b, 0) / s.length };
}
const median = (xs) => stats(xs).median;
function topk(logits, k = 5) {
  return Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]).slice(0, k);
}
const f = (x, d = 2) => (x == null || Number.isNaN(x) ? '—' : x.toFixed(d));

// ---------------------------------------------------------------- setup
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { ok: r.status === 0, status: r.status, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

function ensureExports(o) {
  const need = [join(CACHE, 'mobilenetv3_large_100.safetensors'), join(CACHE, 'mobilenetv3_large_100.config.json'),
    join(CACHE, 'mobilenetv3_large_100.onnx'), join(CACHE, 'reference.json')];
  if (existsSync(join(o.shared, 'weights', 'tf_mobilenetv3_small_100.safetensors'))) need.push(join(CACHE, 'tf_mobilenetv3_small_100.onnx'));
  let ref = existsSync(join(CACHE, 'reference.json')) ? JSON.parse(readFileSync(join(CACHE, 'reference.json'), 'utf8')) : {};
  const photoOk = Object.entries(ref).filter(([k]) => k !== 'versions').every(([, e]) => !e.photo || e.photo.photo === basename(o.photo));
  if (need.every(existsSync) && photoOk) return ref;
  log(`[bench] generating models into ${relative(ROOT, CACHE)}/ (tools/export_onnx.py: timm + torch + onnx, ~1 min)`);
  const py = process.env.PYTHON || 'python3';
  const r = spawnSync(py, ['tools/export_onnx.py', '--shared', o.shared, '--photo', o.photo], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    die('tools/export_onnx.py failed. It needs Python 3 with timm, torch and onnx from PyPI:\n' +
      '    pip install timm torch onnx onnxscript onnxruntime safetensors pillow');
  }
  return JSON.parse(readFileSync(join(CACHE, 'reference.json'), 'utf8'));
}

function basename(p) {
  return p.split('/').pop();
}

let nativeStale = false;
function ensureNative() {
  log('[bench] cargo build --release --bin mobilenetv3 (native CLI: layer list for TF.js, native timing)');
  const r = run('cargo', ['build', '--release', '--quiet', '--bin', 'mobilenetv3'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const bin = join(ROOT, 'target', 'release', 'mobilenetv3');
  if (!r.ok) {
    if (existsSync(bin)) {
      log('[bench] cargo build failed; using the existing target/release/mobilenetv3');
      nativeStale = true;
    } else return null;
  }
  return bin;
}

function describe(bin, arch) {
  const r = run(bin, ['describe', '--arch', arch]);
  if (!r.ok) throw new Error(`mobilenetv3 describe --arch ${arch}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Cores kept busy by other processes, sampled from /proc/stat over `ms` while we are idle. */
async function otherLoad(ms = 2000) {
  const read = () => {
    const l = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = l[3] + (l[4] || 0);
    return { idle, total: l.reduce((a, b) => a + b, 0) };
  };
  try {
    const a = read();
    await new Promise((r) => setTimeout(r, ms));
    const b = read();
    return (1 - (b.idle - a.idle) / (b.total - a.total)) * cpus().length;
  } catch {
    return null;
  }
}

function machine() {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const model = (info.match(/model name\s*:\s*(.*)/) || [])[1] || cpus()[0]?.model || 'unknown';
  const flags = ((info.match(/flags\s*:\s*(.*)/) || [])[1] || '').split(' ');
  const isa = ['sse4_2', 'avx2', 'fma', 'avx512f', 'avx512_fp16', 'amx_tile'].filter((x) => flags.includes(x));
  const mhz = (info.match(/cpu MHz\s*:\s*(.*)/) || [])[1];
  return { cpu: model.trim(), cores: cpus().length, mhz: mhz ? Number(mhz) : null, isa, memGiB: Math.round(totalmem() / 2 ** 30) };
}

// ---------------------------------------------------------------- contenders
const CONTENDERS = [
  { id: 'ours-1', engine: 'ours', build: 'single', threads: 1, label: 'ours, single build', t: 1 },
  { id: 'ours-t1', engine: 'ours', build: 'threaded', threads: 1, label: 'ours, threaded build, 1 thread', t: 1 },
  { id: 'ours-2', engine: 'ours', build: 'threaded', threads: 2, label: 'ours, threaded build, 2 threads', t: 2 },
  { id: 'ours-auto', engine: 'ours', build: 'threaded', threads: 'auto', label: "ours, threads 'auto'", t: 'auto' },
  { id: 'ort-1', engine: 'ort', threads: 1, label: 'ONNX Runtime Web 1.30, wasm EP, 1 thread', t: 1 },
  { id: 'ort-2', engine: 'ort', threads: 2, label: 'ONNX Runtime Web 1.30, wasm EP, 2 threads', t: 2 },
  { id: 'tfjs-default', engine: 'tfjs', threads: 'default', label: 'TF.js 4.22 wasm, default threads', t: 'default' },
  { id: 'tfjs-1', engine: 'tfjs', threads: 1, label: 'TF.js 4.22 wasm, setThreadsCount(1)', t: 1 },
  // TF.js caps its pool at max(1, hardwareConcurrency / 2) even with setThreadsCount(2): on a
  // 2-core machine a real 2-thread run needs navigator.hardwareConcurrency reported as 4.
  { id: 'tfjs-2', engine: 'tfjs', threads: 2, hardwareConcurrency: 4, label: 'TF.js 4.22 wasm, setThreadsCount(2) + hardwareConcurrency=4', t: 2 },
];
const PROFILED = new Set(['ours-1', 'ours-2']);

function threadsUsed(c, info) {
  if (!info) return null;
  if (c.engine === 'ours') return info.threads;
  if (c.engine === 'ort') return info.numThreads;
  return info.threadsCount;
}

// ---------------------------------------------------------------- main
async function main() {
  const o = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const load0 = loadavg();
  if (!existsSync(join(ROOT, 'js', 'wasm', 'single', 'mobilenetv3_bg.wasm')) || !existsSync(join(ROOT, 'js', 'wasm', 'threaded', 'mobilenetv3_bg.wasm'))) {
    die('js/wasm/{single,threaded} missing: run ./build.sh bench (or ./build.sh wasm first)');
  }
  // Serve a snapshot of the wasm builds: a rebuild of js/wasm during the run (the tree is shared)
  // must not give the contenders different engines.
  const WASM_SNAP = join(CACHE, 'wasm');
  rmSync(WASM_SNAP, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  cpSync(join(ROOT, 'js', 'wasm'), WASM_SNAP, { recursive: true, preserveTimestamps: true });
  if (!existsSync(o.chromium)) die(`no browser at ${o.chromium}: install Debian's chromium (./build.sh setup, or apt-get install chromium) or pass --chromium PATH`);
  if (!existsSync(o.photo)) die(`photo ${o.photo} not found (pass --photo FILE, a real photo; ../shared/photos/koala.jpg by default)`);
  const ref = ensureExports(o);
  const bin = ensureNative();
  const busyBefore = await otherLoad();
  log(`[bench] other load before the run: ${busyBefore == null ? '?' : busyBefore.toFixed(2)} of ${cpus().length} cores busy`);
  if (!bin) log('[bench] no native build: TF.js (needs the layer list) and the native comparison are skipped');

  // Models
  const sharedRef = existsSync(join(o.shared, 'photos', 'timm_reference_top5.json'))
    ? JSON.parse(readFileSync(join(o.shared, 'photos', 'timm_reference_top5.json'), 'utf8')) : {};
  const MODELS = {
    large: {
      name: 'mobilenetv3_large_100', arch: 'mobilenetv3_large_100', weightsNote: 'seeded random weights (tools/export_onnx.py)',
      weights: join(CACHE, 'mobilenetv3_large_100.safetensors'), config: join(CACHE, 'mobilenetv3_large_100.config.json'),
      onnx: join(CACHE, 'mobilenetv3_large_100.onnx'),
    },
    small: {
      name: 'tf_mobilenetv3_small_100', arch: 'tf_mobilenetv3_small_100', weightsNote: 'genuine ImageNet weights (../shared/weights)',
      weights: join(o.shared, 'weights', 'tf_mobilenetv3_small_100.safetensors'), config: join(o.shared, 'weights', 'tf_mobilenetv3_small_100.config.json'),
      onnx: join(CACHE, 'tf_mobilenetv3_small_100.onnx'),
    },
  };
  const models = [];
  for (const key of o.models) {
    const m = MODELS[key];
    if (!m) die(`unknown model ${key} (large, small)`);
    if (!existsSync(m.weights) || !existsSync(m.onnx)) {
      log(`[bench] ${m.name}: ${existsSync(m.weights) ? m.onnx : m.weights} missing, skipped`);
      continue;
    }
    const r = ref[m.arch] && ref[m.arch].photo;
    m.reference = r && r.photo === basename(o.photo) ? { top5: r.top5, p5: r.p5, logits: r.logits, source: 'timm (tools/export_onnx.py)' } : null;
    const s = sharedRef[basename(o.photo)] && sharedRef[basename(o.photo)][m.arch];
    if (s) m.sharedReference = { top5: s.top5, p5: s.p5, source: 'shared/photos/timm_reference_top5.json' };
    m.layers = bin ? describe(bin, m.arch) : null;
    models.push(m);
  }
  if (!models.length) die('no model to run');

  // Roofline kernels
  mkdirSync(CACHE, { recursive: true });
  const rooflineUrls = [];
  for (const accs of [8, 12, 16, 24]) {
    writeFileSync(join(CACHE, `roofline-a${accs}.wasm`), await assembleRoofline(accs, 4));
    rooflineUrls.push({ accs, unroll: 4, url: `/bench/cache/roofline-a${accs}.wasm` });
  }

  // Server + browser
  const srv = await startServer({
    '/bench/': join(ROOT, 'bench'),
    '/js/wasm/': WASM_SNAP,
    '/node_modules/onnxruntime-web/dist/': join(ROOT, 'node_modules', 'onnxruntime-web', 'dist'),
    '/node_modules/@tensorflow/': join(ROOT, 'node_modules', '@tensorflow'),
    '/shared/': o.shared,
    '/photo/': dirname(o.photo),
  }, { log: o.verbose ? log : () => {} });
  const url = (p) => {
    if (p.startsWith(o.shared + '/')) return `/shared/${relative(o.shared, p)}`;
    return `/${relative(ROOT, p)}`;
  };
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: o.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-renderer-backgrounding', '--disable-background-timer-throttling'],
  });
  const results = { options: { ...o }, models: {}, roofline: null, native: {} };
  try {
    const page = await browser.newPage();
    page.on('console', (m) => o.verbose && log(`  [page] ${m.text()}`));
    page.on('pageerror', (e) => log(`  [page error] ${e.message}`));
    page.on('crash', () => log('  [page crashed]'));
    page.on('close', () => o.verbose && log('  [page closed]'));
    await page.goto(`${srv.url}/bench/www/index.html`);
    await page.waitForFunction(() => window.bench);
    const env = await page.evaluate(() => window.bench.env());
    results.browser = { version: browser.version(), ...env };
    log(`[bench] Chromium ${browser.version()}, crossOriginIsolated=${env.crossOriginIsolated}, hardwareConcurrency=${env.hardwareConcurrency}`);
    if (!env.crossOriginIsolated) die('page is not cross-origin isolated: threads cannot run');

    // Roofline: one worker, then two at once; measured before and after the contenders, the best
    // of both counts (the peak is a property of the machine; other load only lowers it).
    const roof = { 1: null, 2: null, passes: [] };
    const rooflinePass = async (when) => {
      log(`[bench] roofline (${when}): f32x4 mul+add, ${rooflineUrls.map((u) => u.accs).join('/')} accumulators`);
      const pass = {};
      for (const n of [1, 2]) {
        const r = await page.evaluate(([u, n, s]) => window.bench.roofline(u, n, s), [rooflineUrls, n, o.rooflineSeconds]);
        const per = r.map((w) => {
          const rates = w.chunks.map((c) => c.macs / c.ms / 1e6);
          return { accs: w.accs, chunks: rates.length, max: Math.max(...rates), median: median(rates) };
        });
        const agg = { workers: per, max: per.reduce((a, w) => a + w.max, 0), median: per.reduce((a, w) => a + w.median, 0), when };
        pass[n] = agg;
        if (!roof[n] || agg.max > roof[n].max) roof[n] = agg;
        log(`  ${n} worker(s): ${f(agg.max)} GMAC/s best (${f(agg.median)} median) = ${f(2 * agg.max)} GFLOP/s; ` +
          `accumulators ${per.map((w) => w.accs).join(',')}`);
      }
      roof.passes.push({ when, 1: pass[1], 2: pass[2] });
    };
    await rooflinePass('before');
    results.roofline = roof;

    for (const m of models) {
      log(`\n[bench] ${m.name} (${m.weightsNote}), photo ${basename(o.photo)}`);
      const spec = { name: m.name, arch: m.arch, weightsUrl: url(m.weights), configUrl: url(m.config), onnxUrl: url(m.onnx), layers: m.layers };
      const prep = await page.evaluate(([spec, p]) => window.bench.prepare(spec, p), [spec, `/photo/${basename(o.photo)}`]);
      log(`  input: ${prep.width}x${prep.height} -> ${prep.size}x${prep.size}x3 by our preprocessPending() (sum ${f(prep.sum, 3)})`);
      const mr = { name: m.name, note: m.weightsNote, input: prep, reference: m.reference, sharedReference: m.sharedReference, contenders: {}, profile: {} };
      results.models[m.name] = mr;
      const refTop = m.reference ? m.reference.top5 : null;
      const contenders = CONTENDERS.filter((c) => o.only.includes(c.engine));
      for (let round = 0; round < o.rounds; round++) {
        for (const c of contenders) {
          const cr = mr.contenders[c.id] || (mr.contenders[c.id] = { ...c, times: [] });
          if (cr.skipped) continue;
          if (c.engine === 'tfjs' && !m.layers) {
            cr.skipped = 'no layer list (native build failed)';
            continue;
          }
          let h = null;
          try {
            const s = await page.evaluate((sp) => window.bench.start(sp), { ...c, model: spec });
            h = s.handle;
            cr.info = s.info;
            cr.initMs = s.initMs;
            cr.threadsUsed = threadsUsed(c, s.info);
            cr.workersSpawned = s.workersSpawned;
            const top = topk(s.logits);
            cr.top5 = top;
            const base = mr.contenders['ours-1'] && mr.contenders['ours-1'].logits;
            if (base) cr.maxDiffVsOurs = Math.max(...s.logits.map((v, i) => Math.abs(v - base[i])));
            if (m.reference && m.reference.logits) cr.maxDiffVsTimm = Math.max(...s.logits.map((v, i) => Math.abs(v - m.reference.logits[i])));
            if (c.id === 'ours-1') cr.logits = s.logits;
            const problems = [];
            if (refTop && top.join() !== refTop.join()) problems.push(`top-5 ${top} != timm's ${refTop}`);
            if (m.sharedReference && top.join() !== m.sharedReference.top5.join()) problems.push(`top-5 ${top} != shared reference ${m.sharedReference.top5}`);
            const ours = mr.contenders['ours-1'];
            if (ours && ours.top5 && top.join() !== ours.top5.join()) problems.push(`top-5 ${top} != ours ${ours.top5}`);
            if (problems.length) {
              cr.skipped = `WRONG ANSWER, not timed: ${problems.join('; ')}`;
              log(`  !!!!!!!! ${c.id}: ${cr.skipped}`);
              continue;
            }
            cr.gate = true;
            const t = await page.evaluate(([hh, w, n]) => window.bench.time(hh, w, n), [h, o.warmup, o.iters]);
            cr.times.push(...t.times);
            const st = stats(t.times);
            log(`  ${c.id.padEnd(13)} threads ${String(cr.threadsUsed).padEnd(2)} min ${f(st.min).padStart(7)}  median ${f(st.median).padStart(7)}  p90 ${f(st.p90).padStart(7)} ms` +
              `  top-5 ok${cr.maxDiffVsOurs != null ? `, max |logit - ours| ${cr.maxDiffVsOurs.toExponential(1)}` : ''}`);
            if (PROFILED.has(c.id) && round === 0 && o.profileReps > 0) {
              const runs = await page.evaluate(([hh, n]) => window.bench.profile(hh, n), [h, o.profileReps]);
              mr.profile[c.id] = aggregateProfile(runs);
            }
          } catch (e) {
            cr.skipped = `failed: ${String(e.message || e).split('\n')[0]}`;
            log(`  !!!!!!!! ${c.id}: ${cr.skipped}`);
          } finally {
            if (h != null) await page.evaluate((hh) => window.bench.stop(hh), h);
          }
        }
      }
      for (const cr of Object.values(mr.contenders)) {
        if (cr.times.length) cr.stats = stats(cr.times);
        delete cr.logits;
      }
    }
    await rooflinePass('after');
    results.busyAfter = await otherLoad(); // browser open and idle
  } finally {
    await browser.close();
    await srv.close();
  }

  const busyAfter = results.busyAfter;
  delete results.busyAfter;
  log(`[bench] other load after the browser run: ${busyAfter == null ? '?' : busyAfter.toFixed(2)} of ${cpus().length} cores busy`);
  results.otherLoad = { before: busyBefore, after: busyAfter };

  // Native
  if (o.native && bin) {
    log('\n[bench] native, 1 thread: mobilenetv3 bench vs onnxruntime (PyPI) CPU');
    for (const m of models) {
      const iters = String(o.iters);
      const ours = run(bin, ['bench', '--weights', m.weights, '--config', m.config, '--threads', '1', '--iters', iters, '--json']);
      const py = process.env.PYTHON || 'python3';
      const ort = run(py, [join(ROOT, 'bench', 'native_ort.py'), m.onnx, '--threads', '1', '--iters', iters, '--warmup', String(o.warmup)]);
      const nr = {};
      if (ours.ok) nr.ours = JSON.parse(ours.stdout.trim().split('\n').pop());
      else nr.oursError = ours.stderr.trim().split('\n').pop();
      if (ort.ok) nr.ort = JSON.parse(ort.stdout.trim().split('\n').pop());
      else nr.ortError = (ort.stderr || String(ort.error)).trim().split('\n').pop();
      results.native[m.name] = nr;
      log(`  ${m.name}: ours ${nr.ours ? f(nr.ours.median_ms) + ' ms (' + nr.ours.simd + ')' : nr.oursError}, ` +
        `onnxruntime ${nr.ort ? f(nr.ort.median_ms) + ' ms (' + nr.ort.version + ')' : nr.ortError}`);
    }
  }

  results.nativeStale = nativeStale;
  results.machine = machine();
  results.node = process.version;
  results.startedAt = startedAt.toISOString();
  results.loadavg = { before: load0, after: loadavg() };
  results.command = `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
  results.git = run('git', ['rev-parse', '--short', 'HEAD']).stdout.trim();
  const sha = (p) => {
    try {
      const h = createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 12);
      return `sha256 ${h}, built ${statSync(p).mtime.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`;
    } catch {
      return 'missing';
    }
  };
  results.wasm = { single: sha(join(WASM_SNAP, 'single/mobilenetv3_bg.wasm')), threaded: sha(join(WASM_SNAP, 'threaded/mobilenetv3_bg.wasm')) };
  results.gitDirty = run('git', ['status', '--porcelain', '--', 'src', 'Cargo.toml', 'Cargo.lock']).stdout.trim() !== '';
  const md = report(results);
  process.stdout.write(`\n${md}\n`);
  writeFileSync(join(CACHE, 'last-run.json'), JSON.stringify(results, null, 1));
  if (o.out) {
    writeFileSync(o.out, md);
    log(`[bench] wrote ${relative(ROOT, o.out)} (and bench/cache/last-run.json)`);
  }
}

function aggregateProfile(runs) {
  const layers = runs[0].map((l, i) => ({
    name: l.name, kind: l.kind, macs: l.macs, ms: median(runs.map((r) => r[i].ms)),
  }));
  const total = layers.reduce((a, l) => a + l.ms, 0);
  return { reps: runs.length, layers, total };
}

// ---------------------------------------------------------------- report
function report(r) {
  const L = [];
  const o = r.options;
  const date = r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const peak1 = r.roofline && r.roofline[1].max;
  const peak2 = r.roofline && r.roofline[2].max;
  L.push('# Benchmarks');
  L.push('');
  L.push('Written by `node bench/run.mjs` (`./build.sh bench`); how to read it and how it is measured: README.md, section Performance.');
  L.push('');
  L.push(`- Date: ${date}; git ${r.git}${r.gitDirty ? ' + uncommitted changes in src/' : ''}`);
  L.push(`- Command: \`${r.command}\` (${o.warmup} warm-up + ${o.iters} timed runs per contender${o.rounds > 1 ? `, ${o.rounds} rounds pooled` : ''})`);
  L.push(`- Machine: ${r.machine.cpu}, ${r.machine.cores} cores${r.machine.mhz ? ` (${Math.round(r.machine.mhz)} MHz nominal)` : ''}, ${r.machine.isa.join(' ')}, ${r.machine.memGiB} GiB`);
  L.push(`- Browser: Chromium ${r.browser.version} headless (Debian), crossOriginIsolated=${r.browser.crossOriginIsolated}, hardwareConcurrency=${r.browser.hardwareConcurrency}; Node ${r.node}`);
  L.push(`- Load average before / after: ${r.loadavg.before.map((x) => x.toFixed(2)).join(' ')} / ${r.loadavg.after.map((x) => x.toFixed(2)).join(' ')}; ` +
    `cores busy with other processes (2 s of /proc/stat while idle) before / after the browser run: ${f(r.otherLoad.before)} / ${f(r.otherLoad.after)}`);
  L.push(`- wasm: js/wasm/single ${r.wasm.single}, js/wasm/threaded ${r.wasm.threaded}`);
  L.push('');
  const rf = r.roofline;
  const contended = (r.otherLoad.before > 0.3 || r.otherLoad.after > 0.3) ||
    (rf && rf.passes.some((p) => p[2].median < 0.9 * p[2].max));
  if (contended) {
    L.push('> **Noisy machine**: other processes were using the CPU during this run (see the busy cores above, and the 2-worker roofline, ' +
      'whose median chunk falls well below its best). Single-thread numbers are roughly usable; 2-thread numbers (ours and the peers\' — ' +
      'every engine that synchronizes its threads suffers when one core is taken) are not. Rerun on a quiet machine.');
    L.push('');
  }
  L.push('## Summary');
  L.push('');
  L.push('| model | ours / ORT Web, 1 thread | 2 threads | ours / TF.js, 1 thread | 2 threads | ours 2-thread speedup | ours % of SIMD128 peak, 1 thread (2 threads) | pointwise % of peak, 1 thread |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name, mr] of Object.entries(r.models)) {
    const c = mr.contenders;
    const med = (id) => (c[id] && c[id].stats ? c[id].stats.median : null);
    const ratio = (a, b) => (med(a) && med(b) ? f(med(a) / med(b)) : '—');
    const macs = c['ours-1'] && c['ours-1'].info ? c['ours-1'].info.macs : null;
    const pct = (id, peak) => (macs && med(id) && peak ? `${f((100 * macs) / med(id) / 1e6 / peak, 0)}%` : '—');
    const p = mr.profile['ours-1'];
    let pw = '—';
    if (p && rf) {
      const ls = p.layers.filter((l) => l.kind === 'pointwise');
      const scale = med('ours-1') ? med('ours-1') / p.total : 1;
      const ms = ls.reduce((a, l) => a + l.ms, 0) * scale;
      pw = `${f((100 * ls.reduce((a, l) => a + l.macs, 0)) / ms / 1e6 / rf[1].max, 0)}%`;
    }
    L.push(`| ${name} | ${ratio('ours-1', 'ort-1')} | ${ratio('ours-2', 'ort-2')} | ${ratio('ours-1', 'tfjs-1')} | ${ratio('ours-2', 'tfjs-2')} | ` +
      `${ratio('ours-1', 'ours-2')} | ${pct('ours-1', rf && rf[1].max)} (${pct('ours-2', rf && rf[2].max)}) | ${pw} |`);
  }
  L.push('| **target** | ≤ 0.75 | ≤ 0.75 | ≤ 0.90 | ≤ 0.90 | ≥ 1.8 | ≥ 50% | ≥ 70% |');
  L.push('');
  for (const [name, mr] of Object.entries(r.models)) {
    const c = mr.contenders;
    const med = (id) => c[id] && c[id].stats ? c[id].stats.median : null;
    L.push(`## ${name} at ${mr.input.size}x${mr.input.size}: ${mr.note}`);
    L.push('');
    const refs = [mr.reference && `timm ${mr.reference.top5.join(' ')}`, mr.sharedReference && `shared reference ${mr.sharedReference.top5.join(' ')}`].filter(Boolean);
    L.push(`Input: \`${o.photo.split('/').pop()}\` decoded by Chromium, preprocessed once by our \`preprocessPending()\` (timm's eval transform); the same tensor goes to every contender (NCHW copy for ONNX Runtime). Gate: top-5 must equal ${refs.join(' and ') || 'ours'} and ours.`);
    L.push('');
    L.push('| contender | threads used | top-5 | min ms | median ms | p90 ms | ours / this (median, same threads) |');
    L.push('|---|---|---|---:|---:|---:|---:|');
    for (const cr of Object.values(c)) {
      const oursId = cr.t === 2 ? 'ours-2' : cr.t === 1 ? 'ours-1' : null;
      const ratio = cr.engine !== 'ours' && oursId && med(oursId) && cr.stats ? f(med(oursId) / cr.stats.median) : '';
      if (!cr.stats) {
        L.push(`| ${cr.label} | ${cr.threadsUsed ?? '—'} | ${cr.skipped && cr.skipped.startsWith('WRONG') ? 'WRONG' : '—'} | — | — | — | ${cr.skipped || 'not run'} |`);
        continue;
      }
      const tu = cr.engine === 'tfjs' ? `${cr.threadsUsed} (getThreadsCount())`
        : cr.engine === 'ort' ? `${cr.threadsUsed} (numThreads; ${cr.workersSpawned} pthread worker${cr.workersSpawned === 1 ? '' : 's'})`
          : `${cr.threadsUsed} (${cr.info.build} build${cr.info.build === 'threaded' ? `; ${cr.workersSpawned} rayon worker${cr.workersSpawned === 1 ? '' : 's'}` : ''})`;
      L.push(`| ${cr.label} | ${tu} | ok | ${f(cr.stats.min)} | ${f(cr.stats.median)} | ${f(cr.stats.p90)} | ${ratio} |`);
    }
    L.push('');
    // Ratios vs targets
    const r1o = med('ours-1') && med('ort-1') ? med('ours-1') / med('ort-1') : null;
    const r2o = med('ours-2') && med('ort-2') ? med('ours-2') / med('ort-2') : null;
    const r1t = med('ours-1') && med('tfjs-1') ? med('ours-1') / med('tfjs-1') : null;
    const r2t = med('ours-2') && med('tfjs-2') ? med('ours-2') / med('tfjs-2') : null;
    const sp = med('ours-1') && med('ours-2') ? med('ours-1') / med('ours-2') : null;
    const mark = (v, ok) => (v == null ? '—' : `${f(v)} ${ok(v) ? 'met' : 'missed'}`);
    L.push('| ratio (median) | 1 thread | 2 threads | target |');
    L.push('|---|---:|---:|---|');
    L.push(`| ours / ONNX Runtime Web | ${mark(r1o, (v) => v <= 0.75)} | ${mark(r2o, (v) => v <= 0.75)} | ≤ 0.75 |`);
    L.push(`| ours / TF.js wasm | ${mark(r1t, (v) => v <= 0.9)} | ${mark(r2t, (v) => v <= 0.9)} | ≤ 0.90 |`);
    L.push(`| ours: 1-thread / 2-thread time (speedup) | | ${mark(sp, (v) => v >= 1.8)} | ≥ 1.8 |`);
    const ortSp = med('ort-1') && med('ort-2') ? med('ort-1') / med('ort-2') : null;
    const tfSp = med('tfjs-1') && med('tfjs-2') ? med('tfjs-1') / med('tfjs-2') : null;
    L.push(`| (peers' 2-thread speedup: ONNX Runtime Web ${f(ortSp)}, TF.js ${f(tfSp)}) | | | |`);
    L.push('');
    const nat = r.native[name];
    if (nat) {
      L.push('Native, 1 thread, same weights (the ONNX for onnxruntime), same synthetic input:');
      L.push('');
      L.push('| native | min ms | median ms | p90 ms |');
      L.push('|---|---:|---:|---:|');
      if (nat.ours) L.push(`| ours: \`mobilenetv3 bench --threads 1\` (${nat.ours.simd}${r.nativeStale ? '; STALE binary: cargo build of the tree failed' : ''}) | ${f(nat.ours.min_ms)} | ${f(nat.ours.median_ms)} | ${f(nat.ours.p90_ms)} |`);
      else L.push(`| ours | — | — | ${nat.oursError} |`);
      if (nat.ort) L.push(`| onnxruntime ${nat.ort.version} CPU (PyPI), intra_op_num_threads=1 | ${f(nat.ort.min_ms)} | ${f(nat.ort.median_ms)} | ${f(nat.ort.p90_ms)} |`);
      else L.push(`| onnxruntime | — | — | ${nat.ortError} |`);
      if (nat.ours && nat.ort) L.push(`| ours / onnxruntime | | ${f(nat.ours.median_ms / nat.ort.median_ms)} | |`);
      L.push('');
    }
    // Roofline and profile
    if (peak1) {
      const macs = c['ours-1'] && c['ours-1'].info ? c['ours-1'].info.macs : null;
      if (macs) {
        L.push(`Whole network: ${(macs / 1e6).toFixed(1)} M MACs.`);
        L.push('');
        L.push('| engine | GMAC/s at the median | % of SIMD128 peak |');
        L.push('|---|---:|---:|');
        for (const [id, peak, what] of [['ours-1', peak1, '1 core'], ['ours-2', peak2, '2 cores'], ['ort-1', peak1, '1 core'], ['ort-2', peak2, '2 cores'], ['tfjs-1', peak1, '1 core'], ['tfjs-2', peak2, '2 cores']]) {
          if (!med(id)) continue;
          const g = macs / med(id) / 1e6;
          L.push(`| ${c[id].label} | ${f(g)} | ${f((100 * g) / peak, 1)}% of ${what} |`);
        }
        L.push('');
      }
      for (const [pid, peak, what] of [['ours-1', peak1, '1-core'], ['ours-2', peak2, '2-core']]) {
        const p = mr.profile[pid];
        if (!p) continue;
        const measured = med(pid);
        const scale = measured ? measured / p.total : 1;
        L.push(`Per kernel family, ${c[pid].label} (\`profile()\`, median of ${p.reps} passes per layer, sum ${f(p.total)} ms; "scaled" = × ${f(scale, 3)} so the sum equals the timed median ${f(measured)} ms; % of the ${what} peak ${f(peak)} GMAC/s):`);
        L.push('');
        L.push('| family | layers | M MACs | ms (profile) | ms (scaled) | share of time | GMAC/s (scaled) | % of peak |');
        L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
        const fam = new Map();
        for (const l of p.layers) {
          const e = fam.get(l.kind) || { n: 0, macs: 0, ms: 0 };
          e.n++;
          e.macs += l.macs;
          e.ms += l.ms;
          fam.set(l.kind, e);
        }
        for (const [kind, e] of [...fam.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
          const g = e.macs && e.ms > 0.005 ? e.macs / (e.ms * scale) / 1e6 : null;
          L.push(`| ${kind} | ${e.n} | ${f(e.macs / 1e6, 1)} | ${f(e.ms, 3)} | ${f(e.ms * scale, 3)} | ${f((100 * e.ms) / p.total, 1)}% | ${f(g)} | ${g == null ? '—' : f((100 * g) / peak, 1) + '%'} |`);
        }
        const allMacs = p.layers.reduce((a, l) => a + l.macs, 0);
        const gAll = allMacs / (p.total * scale) / 1e6;
        L.push(`| **all** | ${p.layers.length} | ${f(allMacs / 1e6, 1)} | ${f(p.total, 3)} | ${f(p.total * scale, 3)} | 100% | ${f(gAll)} | ${f((100 * gAll) / peak, 1)}% |`);
        L.push('');
        const p1 = mr.profile['ours-1'];
        if (pid === 'ours-2' && p1) {
          L.push(`Slowest 10 layers with 2 threads, beside their 1-thread time (speedup < 1: the layer got slower with 2 threads):`);
          L.push('');
          L.push('| layer | family | M MACs | ms, 1 thread | ms, 2 threads | speedup |');
          L.push('|---|---|---:|---:|---:|---:|');
          const byName = new Map(p1.layers.map((l) => [l.name, l]));
          for (const l of [...p.layers].sort((a, b) => b.ms - a.ms).slice(0, 10)) {
            const one = byName.get(l.name);
            L.push(`| ${l.name} | ${l.kind} | ${f(l.macs / 1e6, 2)} | ${one ? f(one.ms, 3) : '—'} | ${f(l.ms, 3)} | ${one && l.ms > 0 ? f(one.ms / l.ms) : '—'} |`);
          }
          L.push('');
        }
        if (pid === 'ours-1') {
          L.push(`Slowest 10 layers, ${c[pid].label}:`);
          L.push('');
          L.push('| layer | family | M MACs | ms (profile) | share | GMAC/s | % of 1-core peak |');
          L.push('|---|---|---:|---:|---:|---:|---:|');
          for (const l of [...p.layers].sort((a, b) => b.ms - a.ms).slice(0, 10)) {
            const g = l.macs && l.ms > 0.005 ? l.macs / l.ms / 1e6 : null;
            L.push(`| ${l.name} | ${l.kind} | ${f(l.macs / 1e6, 2)} | ${f(l.ms, 3)} | ${f((100 * l.ms) / p.total, 1)}% | ${f(g)} | ${g == null ? '—' : f((100 * g) / peak1, 1) + '%'} |`);
          }
          L.push('');
        }
      }
    }
  }
  if (r.roofline) {
    L.push('## SIMD128 roofline (this browser)');
    L.push('');
    L.push('`bench/roofline.mjs`: a loop of `acc = f32x4.add(f32x4.mul(acc, m), c)` over independent accumulators (8, 12, 16, 24; the fastest is used), in a Worker; then the same in 2 Workers at once. 1 MAC = 1 multiply + 1 add (wasm SIMD128 has no fused multiply-add), so GFLOP/s = 2 × GMAC/s.');
    L.push('');
    L.push('| | GMAC/s (best chunk) | GMAC/s (median chunk) | GFLOP/s (best) | accumulators |');
    L.push('|---|---:|---:|---:|---|');
    for (const p of r.roofline.passes) {
      L.push(`| 1 core, ${p.when} the contenders | ${f(p[1].max)} | ${f(p[1].median)} | ${f(2 * p[1].max)} | ${p[1].workers[0].accs} |`);
      L.push(`| 2 workers at once (sum), ${p.when} | ${f(p[2].max)} | ${f(p[2].median)} | ${f(2 * p[2].max)} | ${p[2].workers.map((w) => w.accs).join(', ')} |`);
    }
    L.push('');
    L.push(`Peak used for "% of peak" above: the best chunk of either pass (the stricter choice): **${f(r.roofline[1].max)} GMAC/s on 1 core, ${f(r.roofline[2].max)} GMAC/s on 2** ` +
      `(2-core / 1-core = ${f(r.roofline[2].max / r.roofline[1].max)}).`);
    L.push('');
  }
  L.push('## Notes');
  L.push('');
  L.push('- "ours, single build" is what the npm package runs with `threads: 1` (or without cross-origin isolation); the threaded build runs rayon ' +
    "workers started by `initThreadPool(n)`; `'auto'` is the package's default, min(hardwareConcurrency, 4). 1-thread ratios use the single build, " +
    '2-thread ratios the threaded build with 2 threads.');
  L.push('- ONNX Runtime Web: `ort.wasm.min.mjs`, `executionProviders: [\'wasm\']`, `graphOptimizationLevel: \'all\'`, `env.wasm.simd = true`, ' +
    '`env.wasm.numThreads` = 1 or 2 (the pthread workers it spawned are counted). Its model is the torch ONNX export of the same timm weights.');
  L.push('- TF.js: the network is written with tf.js ops in `bench/www/worker-tfjs.js` (BN folded, every conv one fused op with bias and ReLU, ' +
    'hard-swish as 3 ops with its 1/6 folded into the next weights, the SE gate fused into conv_expand). TF.js sizes its pool as ' +
    'max(1, hardwareConcurrency / 2) and `setThreadsCount(2)` does not go above that, so the 2-thread run reports hardwareConcurrency = 4 to it; ' +
    '`getThreadsCount()` is the proof of the threads it used.');
  L.push("- Native: our CLI is built for baseline x86-64 (SSE2: the same 4-wide kernels as wasm SIMD128), while onnxruntime's CPU provider " +
    'dispatches AVX2/AVX-512 at run time; the native ratio compares engines, not instruction sets.');
  L.push('- Per-layer times come from `profile()` (one clock call between layers); their sum is within a few % of the timed median, and the ' +
    '"scaled" columns distribute the timed median proportionally. Layers shorter than the clock resolution (5 µs) show no rate.');
  L.push('');
  return L.join('\n');
}

main().catch((e) => die(e.stack || String(e)));
