#!/usr/bin/env node
// Side-by-side benchmark: our engine vs LiteRT.js vs ONNX Runtime Web vs TensorFlow.js (wasm
// backend), same model, same weights, same input tensor, in Chromium, Firefox and WebKit, one
// after the other in the same run (tests/browser/lib/engines.mjs drives them); the 2-thread
// contenders and our and LiteRT.js's 1-thread ones once more while a background process keeps
// one core busy; plus the SIMD128 and
// relaxed-SIMD FMA rooflines, our per-layer breakdown, and the native reference (our CLI vs
// onnxruntime CPU).
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
//   --models LIST       large,small (default: both; small needs ../shared/weights), and the
//                       MobileNetV4 rows on seeded weights: mobilenetv4_conv_small,
//                       mobilenetv4_conv_medium, mobilenetv4_hybrid_medium (at their
//                       pretrained_cfg input size; TF.js has no MobileNetV4 network and is skipped)
//   --only LIST         contenders to run: ours,litert,ort,tfjs (default all); `overhead` alone
//                       runs only our whole-call overhead pass (no rooflines, contenders, native)
//   --engines LIST      browsers: chromium,firefox,webkit (default: all three; env ENGINES too)
//   --no-busy           skip the busy-core pass (contenders beside a spinning process)
//   --photo FILE        the real photo of the correctness gate (default ../shared/photos/koala.jpg)
//   --shared DIR        the shared folder with weights/ and photos/ (default ../shared)
//   --out FILE          where to write the report (default BENCHMARKS.md; --no-write: nowhere)
//   --no-native         skip the native comparison
//   --profile-reps N    profiled forward passes for the per-layer breakdown (default 20)
//   --verbose           echo the page's console
//   --report-from FILE  run nothing: write the report again from a saved run (bench/cache/last-run.json)
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './server.mjs';
import { assembleRoofline } from './roofline.mjs';
import { BUILDS, buildCandidates } from '../js/builds.js';
import { ALL_ENGINES, engineMissing, launchEngine } from '../tests/browser/lib/engines.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, 'bench', 'cache');

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const o = {
    quick: false, iters: 50, warmup: 10, rounds: 1, models: ['large', 'small'], only: ['ours', 'litert', 'ort', 'tfjs'],
    engines: process.env.ENGINES ? process.env.ENGINES.split(',') : [...ALL_ENGINES], busy: true,
    photo: null, shared: resolve(ROOT, '..', 'shared'), out: undefined, native: true, profileReps: 20,
    verbose: false, rooflineSeconds: 2,
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
      case '--engines': o.engines = val().split(','); break;
      case '--no-busy': o.busy = false; break;
      case '--verbose': o.verbose = true; break;
      case '--report-from': o.reportFrom = resolve(val()); break;
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
  if (o.only.length === 1 && o.only[0] === 'overhead') {
    o.native = false;
    o.busy = false;
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

/** MobileNetV4 benchmark rows: seeded weights made by tools/export_onnx.py --models. */
const SEEDED_V4 = ['mobilenetv4_conv_small', 'mobilenetv4_conv_medium', 'mobilenetv4_hybrid_medium'];
const seededExtra = (o) => o.models.filter((m) => SEEDED_V4.includes(m));

function ensureExports(o) {
  const need = [join(CACHE, 'mobilenetv3_large_100.safetensors'), join(CACHE, 'mobilenetv3_large_100.config.json'),
    join(CACHE, 'mobilenetv3_large_100.onnx'), join(CACHE, 'reference.json')];
  for (const a of seededExtra(o)) need.push(...['safetensors', 'config.json', 'onnx'].map((e) => join(CACHE, `${a}.${e}`)));
  if (existsSync(join(o.shared, 'weights', 'tf_mobilenetv3_small_100.safetensors'))) need.push(join(CACHE, 'tf_mobilenetv3_small_100.onnx'));
  let ref = existsSync(join(CACHE, 'reference.json')) ? JSON.parse(readFileSync(join(CACHE, 'reference.json'), 'utf8')) : {};
  const photoOk = Object.entries(ref).filter(([k]) => k !== 'versions').every(([, e]) => !e.photo || e.photo.photo === basename(o.photo));
  if (need.every(existsSync) && photoOk) return ref;
  log(`[bench] generating models into ${relative(ROOT, CACHE)}/ (tools/export_onnx.py: timm + torch + onnx, ~1 min)`);
  const py = process.env.PYTHON || 'python3';
  const r = spawnSync(py, ['tools/export_onnx.py', '--shared', o.shared, '--photo', o.photo, '--models', seededExtra(o).join(',')], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    die('tools/export_onnx.py failed. It needs Python 3 with timm, torch and onnx from PyPI:\n' +
      '    pip install timm torch onnx onnxscript onnxruntime safetensors pillow');
  }
  return JSON.parse(readFileSync(join(CACHE, 'reference.json'), 'utf8'));
}

/** The .tflite files for LiteRT.js (tools/export_tflite.py, litert-torch); null when they cannot be made. */
function ensureTflite(o) {
  const need = [join(CACHE, 'mobilenetv3_large_100.tflite'), ...seededExtra(o).map((a) => join(CACHE, `${a}.tflite`))];
  if (existsSync(join(o.shared, 'weights', 'tf_mobilenetv3_small_100.safetensors'))) need.push(join(CACHE, 'tf_mobilenetv3_small_100.tflite'));
  if (need.every(existsSync)) return null;
  log(`[bench] converting the models to .tflite into ${relative(ROOT, CACHE)}/ (tools/export_tflite.py: litert-torch)`);
  const py = process.env.PYTHON || 'python3';
  const r = spawnSync(py, ['tools/export_tflite.py', '--shared', o.shared, '--models', seededExtra(o).join(',')], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    log('[bench] tools/export_tflite.py failed (it needs `pip install litert-torch`): LiteRT.js is skipped');
    return null;
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
// `t`: the thread count the ratios compare at. Ours: `build` 'single'/'threaded' is resolved per
// browser through js/builds.js (the relaxed-SIMD flavour where the browser has relaxed SIMD), as
// the npm package does; `isa: 'simd128'` pins the SIMD128 build (the FMA A/B).
const CONTENDERS = [
  { id: 'ours-1', engine: 'ours', build: 'single', threads: 1, label: 'ours, single build', t: 1, busy: true },
  { id: 'ours-1-simd128', engine: 'ours', build: 'single', isa: 'simd128', threads: 1, label: 'ours, single build, SIMD128 (no FMA)', t: null, relaxedOnly: true },
  { id: 'ours-2', engine: 'ours', build: 'threaded', threads: 2, label: 'ours, threaded build, 2 threads', t: 2, busy: true },
  { id: 'ours-auto', engine: 'ours', build: 'threaded', threads: 'auto', label: "ours, threads 'auto'", t: 'auto' },
  { id: 'litert-1', engine: 'litert', threads: 1, label: 'LiteRT.js 2.5, wasm (XNNPACK), 1 thread', t: 1, busy: true },
  { id: 'litert-2', engine: 'litert', threads: 2, label: 'LiteRT.js 2.5, wasm (XNNPACK), 2 threads', t: 2, busy: true, relaxedOnly: true },
  { id: 'ort-1', engine: 'ort', threads: 1, label: 'ONNX Runtime Web 1.30, wasm EP, 1 thread', t: 1 },
  { id: 'ort-2', engine: 'ort', threads: 2, label: 'ONNX Runtime Web 1.30, wasm EP, 2 threads', t: 2, busy: true },
  { id: 'tfjs-1', engine: 'tfjs', threads: 1, label: 'TF.js 4.22 wasm, setThreadsCount(1)', t: 1 },
  // TF.js caps its pool at max(1, hardwareConcurrency / 2) even with setThreadsCount(2): on a
  // 2-core machine a real 2-thread run needs navigator.hardwareConcurrency reported as 4.
  { id: 'tfjs-2', engine: 'tfjs', threads: 2, hardwareConcurrency: 4, label: 'TF.js 4.22 wasm, setThreadsCount(2) + hardwareConcurrency=4', t: 2 },
];
const PEERS = [['litert', 'LiteRT.js'], ['ort', 'ONNX Runtime Web'], ['tfjs', 'TF.js wasm']];
const PROFILED = new Set(['ours-1', 'ours-2']);
const ENGINE_NAMES = { chromium: 'Chromium', firefox: 'Firefox ESR', webkit: 'WebKitGTK' };

function threadsUsed(c, info) {
  if (!info) return null;
  if (c.engine === 'ours') return info.threads;
  if (c.engine === 'ort' || c.engine === 'litert') return info.numThreads;
  return info.threadsCount;
}

/** Our wasm build for contender `c` in a browser with `env` (js/builds.js decides, as in the package). */
function oursBuild(c, env) {
  const relaxed = c.isa === 'simd128' ? false : env.relaxedSimd;
  return buildCandidates(c.build === 'threaded', relaxed)[0].name;
}

/** A background process spinning on one core for at most `seconds` (the busy-core pass). */
function startSpinner(seconds) {
  const child = spawn(process.execPath, ['-e', `const end = Date.now() + ${Math.round(seconds * 1000)}; let x = 0; while (Date.now() < end) x++;`], { stdio: 'ignore' });
  return () => { try { child.kill('SIGKILL'); } catch {} };
}

// ---------------------------------------------------------------- main
async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.reportFrom) {
    // The report's format changed, not the measurements: no need to measure again.
    const md = report(JSON.parse(readFileSync(o.reportFrom, 'utf8')));
    if (o.out) writeFileSync(o.out, md);
    log(`[bench] report from ${o.reportFrom}${o.out ? ` written to ${relative(ROOT, o.out)}` : ''}`);
    return;
  }
  const startedAt = new Date();
  const load0 = loadavg();
  const missingWasm = BUILDS.filter((b) => !existsSync(join(ROOT, 'js', 'wasm', b.name, 'mobilenetv3_bg.wasm')));
  if (missingWasm.length) die(`js/wasm/{${missingWasm.map((b) => b.name).join(',')}} missing: run ./build.sh bench (or ./build.sh wasm first)`);
  // Serve a snapshot of the wasm builds: a rebuild of js/wasm during the run (the tree is shared)
  // must not give the contenders different engines.
  const WASM_SNAP = join(CACHE, 'wasm');
  rmSync(WASM_SNAP, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  cpSync(join(ROOT, 'js', 'wasm'), WASM_SNAP, { recursive: true, preserveTimestamps: true });
  const engines = [];
  for (const e of o.engines) {
    const why = engineMissing(e);
    if (why) log(`[bench] ${e}: ${why}; skipped`);
    else engines.push(e);
  }
  if (!engines.length) die('no browser to run (see above)');
  if (!existsSync(o.photo)) die(`photo ${o.photo} not found (pass --photo FILE, a real photo; ../shared/photos/koala.jpg by default)`);
  let ref = ensureExports(o);
  if (o.only.includes('litert')) ref = ensureTflite(o) || ref;
  // The native CLI gives TF.js its layer list and the native comparison.
  const bin = o.native || o.only.includes('tfjs') ? ensureNative() : null;
  if (!bin) log('[bench] no native build: TF.js (needs the layer list) and the native comparison are skipped');
  // LiteRT.js's dist imports the bare '@litertjs/wasm-utils'; workers have no import maps.
  const litertDir = join(CACHE, 'litert');
  mkdirSync(litertDir, { recursive: true });
  const litertSrc = readFileSync(join(ROOT, 'node_modules', '@litertjs', 'core', 'dist', 'index.js'), 'utf8');
  writeFileSync(join(litertDir, 'index.js'), litertSrc.replace(/from\s*["']@litertjs\/wasm-utils["']/g, 'from "/node_modules/@litertjs/wasm-utils/dist/bundle.js"'));

  // Models
  const sharedRef = existsSync(join(o.shared, 'photos', 'timm_reference_top5.json'))
    ? JSON.parse(readFileSync(join(o.shared, 'photos', 'timm_reference_top5.json'), 'utf8')) : {};
  const MODELS = {
    large: {
      name: 'mobilenetv3_large_100', arch: 'mobilenetv3_large_100', weightsNote: 'seeded random weights (tools/export_onnx.py)',
      weights: join(CACHE, 'mobilenetv3_large_100.safetensors'), config: join(CACHE, 'mobilenetv3_large_100.config.json'),
      onnx: join(CACHE, 'mobilenetv3_large_100.onnx'), tflite: join(CACHE, 'mobilenetv3_large_100.tflite'),
    },
    small: {
      name: 'tf_mobilenetv3_small_100', arch: 'tf_mobilenetv3_small_100', weightsNote: 'genuine ImageNet weights (../shared/weights)',
      weights: join(o.shared, 'weights', 'tf_mobilenetv3_small_100.safetensors'), config: join(o.shared, 'weights', 'tf_mobilenetv3_small_100.config.json'),
      onnx: join(CACHE, 'tf_mobilenetv3_small_100.onnx'), tflite: join(CACHE, 'tf_mobilenetv3_small_100.tflite'),
    },
  };
  for (const a of SEEDED_V4) {
    MODELS[a] = {
      name: a, arch: a, weightsNote: 'seeded random weights (tools/export_onnx.py)', noTfjs: 'the TF.js bench network has no MobileNetV4 blocks',
      weights: join(CACHE, `${a}.safetensors`), config: join(CACHE, `${a}.config.json`), onnx: join(CACHE, `${a}.onnx`), tflite: join(CACHE, `${a}.tflite`),
    };
  }
  const models = [];
  for (const key of o.models) {
    const m = MODELS[key];
    if (!m) die(`unknown model ${key} (${Object.keys(MODELS).join(', ')})`);
    if (!existsSync(m.weights) || !existsSync(m.onnx)) {
      log(`[bench] ${m.name}: ${existsSync(m.weights) ? m.onnx : m.weights} missing, skipped`);
      continue;
    }
    const r = ref[m.arch] && ref[m.arch].photo;
    m.reference = r && r.photo === basename(o.photo) ? { top5: r.top5, p5: r.p5, logits: r.logits, source: 'timm (tools/export_onnx.py)' } : null;
    const s = sharedRef[basename(o.photo)] && sharedRef[basename(o.photo)][m.arch];
    if (s) m.sharedReference = { top5: s.top5, p5: s.p5, source: 'shared/photos/timm_reference_top5.json' };
    m.layers = bin ? describe(bin, m.arch) : null;
    m.hasTflite = existsSync(m.tflite);
    models.push(m);
  }
  if (!models.length) die('no model to run');

  // Roofline kernels: SIMD128 mul + add, and relaxed-SIMD FMA
  const rooflineUrls = { simd128: [], fma: [] };
  for (const [kind, fma] of [['simd128', false], ['fma', true]]) {
    for (const accs of [8, 12, 16, 24]) {
      writeFileSync(join(CACHE, `roofline-${kind}-a${accs}.wasm`), await assembleRoofline(accs, 4, fma));
      rooflineUrls[kind].push({ accs, unroll: 4, url: `/bench/cache/roofline-${kind}-a${accs}.wasm` });
    }
  }

  const srv = await startServer({
    '/bench/': join(ROOT, 'bench'),
    '/js/wasm/': WASM_SNAP,
    '/js/': join(ROOT, 'js'),
    '/tests/browser/lib/': join(ROOT, 'tests', 'browser', 'lib'),
    '/node_modules/onnxruntime-web/dist/': join(ROOT, 'node_modules', 'onnxruntime-web', 'dist'),
    '/node_modules/@tensorflow/': join(ROOT, 'node_modules', '@tensorflow'),
    '/node_modules/@litertjs/': join(ROOT, 'node_modules', '@litertjs'),
    '/shared/': o.shared,
    '/photo/': dirname(o.photo),
  }, { log: o.verbose ? log : () => {} });
  const url = (p) => {
    if (p.startsWith(o.shared + '/')) return `/shared/${relative(o.shared, p)}`;
    return `/${relative(ROOT, p)}`;
  };
  const results = { options: { ...o }, engines: {}, native: {}, otherLoad: {} };
  // Let the tail of our own build (cargo, wasm-opt) and the server start settle first, so the
  // sample sees other processes, not ours.
  await new Promise((r) => setTimeout(r, 3000));
  results.otherLoad.before = await otherLoad();
  log(`[bench] other load before the run: ${results.otherLoad.before == null ? '?' : results.otherLoad.before.toFixed(2)} of ${cpus().length} cores busy`);
  try {
    for (const engine of engines) {
      results.engines[engine] = await runEngine(engine, { o, srv, url, models, rooflineUrls });
    }
  } finally {
    await srv.close();
  }
  results.otherLoad.after = await otherLoad();
  log(`[bench] other load after the browser runs: ${results.otherLoad.after == null ? '?' : results.otherLoad.after.toFixed(2)} of ${cpus().length} cores busy`);

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
      return `sha256 ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 12)}`;
    } catch {
      return 'missing';
    }
  };
  results.wasm = Object.fromEntries(BUILDS.map((b) => [b.name, sha(join(WASM_SNAP, b.name, 'mobilenetv3_bg.wasm'))]));
  results.gitDirty = run('git', ['status', '--porcelain', '--', 'src', 'Cargo.toml', 'Cargo.lock']).stdout.trim() !== '';
  const md = report(results);
  process.stdout.write(`\n${md}\n`);
  writeFileSync(join(CACHE, 'last-run.json'), JSON.stringify(results, null, 1));
  if (o.out) {
    writeFileSync(o.out, md);
    log(`[bench] wrote ${relative(ROOT, o.out)} (and bench/cache/last-run.json)`);
  }
}

/** Everything for one browser: rooflines, every model's contenders, the busy-core pass. */
async function runEngine(engine, { o, srv, url, models, rooflineUrls }) {
  log(`\n[bench] ===== ${ENGINE_NAMES[engine]} =====`);
  const args = engine === 'chromium' ? ['--disable-renderer-backgrounding', '--disable-background-timer-throttling'] : [];
  // WebKit: SharedArrayBuffer on isolated pages, as Safari has it (WebKitGTK hides it otherwise).
  const browser = await launchEngine(engine, { sharedArrayBuffer: true, args });
  const er = { models: {}, roofline: null };
  try {
    const pageUrl = `${srv.url}/bench/www/index.html`;
    let page = await browser.open(pageUrl, { timeout: 60000 });
    // A contender whose start hangs (Firefox under WebDriver BiDi sometimes never finishes a
    // worker's own `new Worker`: the pthreads of LiteRT.js, TF.js, ONNX Runtime Web) is given up
    // after START_TIMEOUT_MS, well before the driver's 180 s protocol timeout, and started again
    // in a fresh page, up to START_ATTEMPTS times; the report lists every retry.
    let pages = 1; // pages opened so far (a fresh page ends the contenders started in the old one)
    const freshPage = async (spec) => {
      pages++;
      await Promise.race([page.close().catch(() => {}), new Promise((r) => setTimeout(r, 10000))]);
      page = await browser.open(pageUrl, { timeout: 60000 });
      if (spec) await page.evaluate((a) => window.bench.prepare(a.spec, a.photo), { spec, photo: `/photo/${basename(o.photo)}` });
    };
    const env = await page.evaluate(() => window.bench.env());
    er.env = env;
    log(`[bench] ${env.userAgent}; crossOriginIsolated=${env.crossOriginIsolated}, SharedArrayBuffer=${env.sharedArrayBuffer}, ` +
      `hardwareConcurrency=${env.hardwareConcurrency}, relaxed SIMD=${env.relaxedSimd}`);
    const threadsOk = env.crossOriginIsolated && env.sharedArrayBuffer;

    // Rooflines: one worker, then two at once; before and after the contenders, the best counts.
    const roof = { simd128: { 1: null, 2: null }, fma: { 1: null, 2: null }, passes: [] };
    const rooflinePass = async (when) => {
      for (const kind of env.relaxedSimd ? ['simd128', 'fma'] : ['simd128']) {
        for (const n of threadsOk ? [1, 2] : [1]) {
          const r = await page.evaluate((a) => window.bench.roofline(a.urls, a.n, a.s), { urls: rooflineUrls[kind], n, s: o.rooflineSeconds });
          const per = r.map((w) => {
            const rates = w.chunks.map((c) => c.macs / c.ms / 1e6);
            return { accs: w.accs, chunks: rates.length, max: Math.max(...rates), median: median(rates) };
          });
          const agg = { kind, n, workers: per, max: per.reduce((a, w) => a + w.max, 0), median: per.reduce((a, w) => a + w.median, 0), when };
          roof.passes.push(agg);
          if (!roof[kind][n] || agg.max > roof[kind][n].max) roof[kind][n] = agg;
          log(`  roofline ${kind === 'fma' ? 'relaxed FMA' : 'SIMD128 mul+add'}, ${n} worker(s), ${when}: ${f(agg.max)} GMAC/s best (${f(agg.median)} median)`);
        }
      }
    };
    const contenders = CONTENDERS.some((c) => o.only.includes(c.engine));
    if (contenders) await rooflinePass('before');
    er.roofline = roof;

    for (const m of contenders ? models : []) {
      log(`\n[bench] ${ENGINE_NAMES[engine]}: ${m.name} (${m.weightsNote}), photo ${basename(o.photo)}`);
      const spec = { name: m.name, arch: m.arch, weightsUrl: url(m.weights), configUrl: url(m.config), onnxUrl: url(m.onnx), tfliteUrl: url(m.tflite), layers: m.layers };
      const prep = await page.evaluate((a) => window.bench.prepare(a.spec, a.photo), { spec, photo: `/photo/${basename(o.photo)}` });
      log(`  input: ${prep.width}x${prep.height} -> ${prep.size}x${prep.size}x3 by our preprocessPending() (sum ${f(prep.sum, 3)})`);
      const mr = { name: m.name, note: m.weightsNote, input: prep, reference: m.reference, sharedReference: m.sharedReference, contenders: {}, profile: {} };
      er.models[m.name] = mr;
      const refTop = m.reference ? m.reference.top5 : null;
      const base = CONTENDERS.filter((c) => o.only.includes(c.engine));
      const passes = [{ busy: false, list: base }];
      if (o.busy) passes.push({ busy: true, list: base.filter((c) => c.busy) });
      for (const pass of passes) {
        let stopSpinner = null;
        if (pass.busy) {
          log('  -- busy-core pass: a background process spins on one core --');
          stopSpinner = startSpinner(600);
          await new Promise((r) => setTimeout(r, 300));
        }
        try {
          for (let round = 0; round < o.rounds; round++) {
            // Every contender of the pass is started (and gated) first, then all are timed in
            // alternating batches of a few passes (the order rotating), so each one's timings
            // (and our per-layer profile) spread over the same minutes: this machine has spells
            // of up to several seconds where everything runs up to 1.6x slower, and a contender
            // timed in one block could land in one while its peer did not (BENCHMARKS.md, Notes).
            const live = [];
            let page0 = pages, restarts = 0;
            for (let i = 0; i < pass.list.length; i++) {
              const c0 = pass.list[i];
              const c = pass.busy ? { ...c0, id: `${c0.id}-busy`, label: `${c0.label}, one core busy`, busyCore: true } : c0;
              const cr = mr.contenders[c.id] || (mr.contenders[c.id] = { ...c, times: [] });
              if (cr.skipped) continue;
              if (c.engine === 'tfjs' && !m.layers) { cr.skipped = 'no layer list (native build failed)'; continue; }
              if (c.engine === 'tfjs' && m.noTfjs) { cr.skipped = m.noTfjs; continue; }
              if (c.engine === 'litert' && !m.hasTflite) { cr.skipped = 'no .tflite (tools/export_tflite.py needs litert-torch)'; continue; }
              if (c.relaxedOnly && !env.relaxedSimd) {
                cr.skipped = c.engine === 'litert' ? 'LiteRT.js threads need relaxed SIMD' : 'no relaxed SIMD here';
                continue;
              }
              if ((c.t === 2 || c.build === 'threaded') && !threadsOk) { cr.skipped = 'no SharedArrayBuffer'; continue; }
              const spec1 = { ...c, model: spec };
              if (c.engine === 'ours') spec1.build = cr.wasmBuild = oursBuild(c, env);
              try {
                let s;
                for (let attempt = 1; ; attempt++) {
                  try {
                    s = await withTimeout(page.evaluate((sp) => window.bench.start(sp), spec1), START_TIMEOUT_MS,
                      `its start (library, model, first inference) did not finish within ${START_TIMEOUT_MS / 1000} s`);
                    break;
                  } catch (e) {
                    if (!e.stuck) throw e;
                    (cr.startRetries = cr.startRetries || []).push(e.message);
                    log(`  ${c.id}: ${e.message} (attempt ${attempt} of ${START_ATTEMPTS})${attempt < START_ATTEMPTS ? '; again in a fresh page' : ''}`);
                    await freshPage(spec);
                    if (attempt >= START_ATTEMPTS) throw new Error(`${e.message}, ${START_ATTEMPTS} times (in fresh pages)`);
                  }
                }
                const h = s.handle;
                cr.info = s.info;
                cr.initMs = s.initMs;
                cr.threadsUsed = threadsUsed(c, s.info);
                cr.workersSpawned = s.workersSpawned;
                const top = topk(s.logits);
                cr.top5 = top;
                const ours1 = mr.contenders['ours-1'];
                if (ours1 && ours1.logits) cr.maxDiffVsOurs = Math.max(...s.logits.map((v, i) => Math.abs(v - ours1.logits[i])));
                if (m.reference && m.reference.logits) cr.maxDiffVsTimm = Math.max(...s.logits.map((v, i) => Math.abs(v - m.reference.logits[i])));
                if (c.id === 'ours-1') cr.logits = s.logits;
                const problems = [];
                if (refTop && top.join() !== refTop.join()) problems.push(`top-5 ${top} != timm's ${refTop}`);
                if (m.sharedReference && top.join() !== m.sharedReference.top5.join()) problems.push(`top-5 ${top} != shared reference ${m.sharedReference.top5}`);
                if (ours1 && ours1.top5 && top.join() !== ours1.top5.join()) problems.push(`top-5 ${top} != ours ${ours1.top5}`);
                if (problems.length) {
                  cr.skipped = `WRONG ANSWER, not timed: ${problems.join('; ')}`;
                  log(`  !!!!!!!! ${c.id}: ${cr.skipped}`);
                  await page.evaluate((hh) => window.bench.stop(hh), h).catch(() => {});
                  continue;
                }
                cr.gate = true;
                live.push({ c, cr, h, page: pages, times: [], runs: [] });
              } catch (e) {
                cr.skipped = `failed: ${String(e.message || e).split('\n')[0]}`;
                log(`  !!!!!!!! ${c.id}: ${cr.skipped}`);
              }
              if (pages !== page0) {
                // A fresh page: the contenders started in the old one are gone; start them again.
                page0 = pages;
                const lost = live.filter((x) => x.page !== pages);
                live.splice(0, live.length, ...live.filter((x) => x.page === pages));
                if (lost.length && restarts++ < START_ATTEMPTS) {
                  log(`  (a fresh page: ${lost.map((x) => x.c.id).join(', ')} started again)`);
                  for (const x of live) await page.evaluate((hh) => window.bench.stop(hh), x.h).catch(() => {});
                  live.length = 0;
                  i = -1;
                } else if (lost.length) {
                  for (const x of lost) x.cr.skipped = 'failed: its page was replaced (another contender\'s start hung) too often';
                }
              }
            }
            const profiled = (x) => PROFILED.has(x.c.id) && round === 0 && o.profileReps > 0;
            try {
              // Warm-up, then `batches` batches of `per` timed passes each (one untimed pass
              // first: the previous contender's data just left the caches), and the profile
              // passes spread over the same batches.
              for (const x of live) {
                await page.evaluate((a) => window.bench.time(a.h, a.w, 0), { h: x.h, w: o.warmup });
              }
              const per = Math.min(BATCH_PASSES, o.iters);
              const batches = Math.ceil(o.iters / per);
              for (let k = 0; k < batches; k++) {
                const n = Math.min(per, o.iters - k * per);
                for (let j = 0; j < live.length; j++) {
                  const x = live[(j + k) % live.length];
                  if (x.cr.skipped) continue;
                  try {
                    const t = await page.evaluate((a) => window.bench.time(a.h, 1, a.n), { h: x.h, n });
                    x.times.push(...t.times);
                    if (profiled(x)) {
                      const reps = Math.floor((o.profileReps * (k + 1)) / batches) - Math.floor((o.profileReps * k) / batches);
                      if (reps > 0) x.runs.push(...(await page.evaluate((a) => window.bench.profile(a.h, a.n), { h: x.h, n: reps })));
                    }
                  } catch (e) {
                    x.cr.skipped = `failed: ${String(e.message || e).split('\n')[0]}`;
                    log(`  !!!!!!!! ${x.c.id}: ${x.cr.skipped}`);
                  }
                }
              }
            } finally {
              for (const x of live) await page.evaluate((hh) => window.bench.stop(hh), x.h).catch(() => {});
            }
            for (const x of live) {
              if (x.cr.skipped) {
                x.cr.times = [];
                continue;
              }
              x.cr.times.push(...x.times);
              if (x.runs.length) mr.profile[x.c.id] = aggregateProfile(x.runs);
              const st = stats(x.times);
              log(`  ${x.c.id.padEnd(19)} threads ${String(x.cr.threadsUsed).padEnd(2)} min ${f(st.min).padStart(7)}  median ${f(st.median).padStart(7)}  p90 ${f(st.p90).padStart(7)} ms` +
                `  top-5 ok${x.cr.maxDiffVsOurs != null ? `, max |logit - ours| ${x.cr.maxDiffVsOurs.toExponential(1)}` : ''}`);
            }
          }
        } finally {
          if (stopSpinner) stopSpinner();
        }
      }
      for (const cr of Object.values(mr.contenders)) {
        if (cr.times.length) cr.stats = stats(cr.times);
        delete cr.logits;
      }
    }
    // Whole-call overhead of the package, on the first model: classify(224x224 ImageData) and
    // watch(640x480 video), totalMs - inferenceMs per result.
    const m0 = models[0];
    if (m0 && (o.only.includes('ours') || o.only.includes('overhead'))) {
      for (const threads of threadsOk ? [1, 2] : [1]) {
        try {
          await page.evaluate((a) => window.bench.overheadStart(a), {
            weightsUrl: url(m0.weights), configUrl: url(m0.config), threads, n: o.quick ? 10 : 30, photoUrl: `/photo/${basename(o.photo)}`,
          });
          const t0 = Date.now();
          let state;
          while (!(state = await page.evaluate(() => window.bench.overheadPoll())).done) {
            if (Date.now() - t0 > OVERHEAD_TIMEOUT_MS) throw new Error(`not done after ${OVERHEAD_TIMEOUT_MS / 1000} s, at ${state.step}`);
            await new Promise((res) => setTimeout(res, 500));
          }
          if (state.error) throw new Error(`${state.error} (at ${state.step})`);
          const r = state.result;
          const over = (rows) => (rows && rows.length ? {
            n: rows.length, overhead: median(rows.map((t) => t.totalMs - t.inferenceMs)), preprocess: median(rows.map((t) => t.preprocessMs)),
            inference: median(rows.map((t) => t.inferenceMs)), total: median(rows.map((t) => t.totalMs)),
            steps: Object.fromEntries(Object.keys(rows[0].steps).map((k) => [k, median(rows.map((t) => t.steps[k]))])),
          } : null);
          const co = { model: m0.name, threads, info: r.info, classify224: over(r.classify224), watch640: over(r.watch) };
          (er.callOverhead = er.callOverhead || []).push(co);
          log(`  call overhead, ${threads} thread(s), ${r.info.build}/${r.info.simd}: classify(224x224 ImageData) ${f(co.classify224 && co.classify224.overhead)} ms over inference ` +
            `(preprocess ${f(co.classify224 && co.classify224.preprocess)}); watch(640x480) ${f(co.watch640 && co.watch640.overhead)} ms over`);
          for (const [what, x] of [['classify224', co.classify224], ['watch640', co.watch640]]) {
            if (x) log(`    ${what} steps (median ms): ${Object.entries(x.steps).map(([k, v]) => `${k} ${f(v, 3)}`).join(', ')}`);
          }
        } catch (e) {
          (er.callOverhead = er.callOverhead || []).push({ model: m0.name, threads, error: String(e.message || e).split('\n')[0] });
          log(`  !!!!!!!! call overhead, ${threads} thread(s): ${String(e.message || e).split('\n')[0]}`);
        }
      }
    }
    if (contenders) await rooflinePass('after');
    await page.close();
  } finally {
    await browser.close();
  }
  return er;
}

const START_TIMEOUT_MS = 60000;
const OVERHEAD_TIMEOUT_MS = 180000; // the call-overhead pass: 2 x 35 calls at most ~100 ms, and a 60 s watch limit
const START_ATTEMPTS = 3;
// Timed passes per contender in one batch of the interleaved timing (see the contenders' loop).
const BATCH_PASSES = 5;

/** `p`, or a rejection with `.stuck` after `ms` (p itself is left to settle on its own). */
function withTimeout(p, ms, message) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(Object.assign(new Error(message), { stuck: true })), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

function aggregateProfile(runs) {
  const layers = runs[0].map((l, i) => ({
    name: l.name, kind: l.kind, macs: l.macs, ms: median(runs.map((r) => r[i].ms)),
  }));
  const total = layers.reduce((a, l) => a + l.ms, 0);
  return { reps: runs.length, layers, total };
}

// ---------------------------------------------------------------- report
const pct = (x) => (x == null ? '—' : `${f(100 * x, 0)}%`);

/** Medians and ratios of one model in one engine. */
function ratiosOf(mr) {
  const c = mr.contenders;
  const med = (id) => (c[id] && c[id].stats ? c[id].stats.median : null);
  const ratio = (a, b) => (med(a) && med(b) ? med(a) / med(b) : null);
  return { c, med, ratio };
}

function report(r) {
  const L = [];
  const o = r.options;
  const date = r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  L.push('# Benchmarks');
  L.push('');
  L.push('Written by `node bench/run.mjs` (`./build.sh bench`); how to read it and how it is measured: README.md, section Performance.');
  L.push('');
  L.push(`- Date: ${date}; git ${r.git}${r.gitDirty ? ' + uncommitted changes in src/' : ''}`);
  L.push(`- Command: \`${r.command}\` (${o.warmup} warm-up + ${o.iters} timed runs per contender${o.rounds > 1 ? `, ${o.rounds} rounds pooled` : ''})`);
  L.push(`- Machine: ${r.machine.cpu}, ${r.machine.cores} cores${r.machine.mhz ? ` (${Math.round(r.machine.mhz)} MHz nominal)` : ''}, ${r.machine.isa.join(' ')}, ${r.machine.memGiB} GiB; Node ${r.node}`);
  for (const [e, er] of Object.entries(r.engines)) {
    L.push(`- ${ENGINE_NAMES[e]}: ${er.env.userAgent}; crossOriginIsolated=${er.env.crossOriginIsolated}, SharedArrayBuffer=${er.env.sharedArrayBuffer}, ` +
      `hardwareConcurrency=${er.env.hardwareConcurrency}, relaxed SIMD=${er.env.relaxedSimd}`);
  }
  L.push(`- Load average before / after: ${r.loadavg.before.map((x) => x.toFixed(2)).join(' ')} / ${r.loadavg.after.map((x) => x.toFixed(2)).join(' ')}; ` +
    `cores busy with other processes (2 s of /proc/stat while idle) before / after the browser runs: ${f(r.otherLoad.before)} / ${f(r.otherLoad.after)}`);
  L.push(`- wasm: ${Object.entries(r.wasm).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  L.push('');
  const noisy = r.otherLoad.before > 0.3 || r.otherLoad.after > 0.3 ||
    Object.values(r.engines).some((er) => er.roofline.passes.some((p) => p.n === 2 && p.median < 0.9 * p.max));
  if (noisy) {
    L.push('> **Noisy machine**: other processes were using the CPU during this run (busy cores above, or a 2-worker roofline whose median chunk ' +
      'falls well below its best). Compare only within this run; 2-thread numbers are the least reliable. Rerun on a quiet machine.');
    L.push('');
  }

  // Summary: one table per engine, ratios ours / peer at each thread count.
  L.push('## Summary: ours / peer (median time; < 1 = ours faster)');
  L.push('');
  for (const [e, er] of Object.entries(r.engines)) {
    L.push(`### ${ENGINE_NAMES[e]}`);
    L.push('');
    L.push('| model | threads | ours ms | ' + PEERS.map(([, n]) => `${n} ms | ours / ${n}`).join(' | ') + ' |');
    L.push('|---|---|---:|' + PEERS.map(() => '---:|---:').join('|') + '|');
    for (const [name, mr] of Object.entries(er.models)) {
      const { med } = ratiosOf(mr);
      for (const [label, suffix, t] of [['1', '-1', 1], ['2', '-2', 2], ['1, one core busy', '-1-busy', 1], ['2, one core busy', '-2-busy', 2]]) {
        const ours = med(`ours${suffix}`);
        if (ours == null && PEERS.every(([p]) => med(`${p}${suffix}`) == null)) continue;
        const cells = PEERS.map(([p]) => {
          const v = med(`${p}${suffix}`);
          return `${f(v)} | ${ours && v ? f(ours / v) : '—'}`;
        });
        L.push(`| ${name} | ${label} | ${f(ours)} | ${cells.join(' | ')} |`);
      }
      const sp = med('ours-1') && med('ours-2') ? med('ours-1') / med('ours-2') : null;
      const fma = med('ours-1-simd128') && med('ours-1') ? med('ours-1-simd128') / med('ours-1') : null;
      const peerSp = PEERS.map(([p, n]) => (med(`${p}-1`) && med(`${p}-2`) ? `${n} ${f(med(`${p}-1`) / med(`${p}-2`))}` : null)).filter(Boolean);
      L.push(`| ${name} | ours 2-thread speedup ${f(sp)}${peerSp.length ? ` (${peerSp.join(', ')})` : ''}${fma ? `; relaxed-SIMD build vs SIMD128 build: ${f(fma)}x` : ''} | | ${PEERS.map(() => ' | ').join(' | ')} |`);
    }
    L.push('');
  }

  // The targets of issue 8, on mobilenetv3_large_100. For a ratio to LiteRT.js, "needs": the
  // time ours would have to take, as a share of the engine's measured FMA peak (1 or 2 cores), at
  // LiteRT.js's median and at its fastest pass; above ~80% (our best isolated 1x1 GEMM) or 100%
  // (the roofline) the goal is out of reach on this machine.
  const T = [];
  const get = (e) => r.engines[e] && r.engines[e].models.mobilenetv3_large_100 && ratiosOf(r.engines[e].models.mobilenetv3_large_100);
  const mark = (v, ok) => (v == null ? '—' : `${f(v)} ${ok(v) ? 'met' : '**missed**'}`);
  const needs = (e, g, peer, goal, threads) => {
    const rf = r.engines[e].roofline;
    const peak = r.engines[e].env.relaxedSimd && rf.fma[threads] ? rf.fma[threads].max : rf.simd128[threads] && rf.simd128[threads].max;
    const macs = ['ours-1', 'ours-2'].map((id) => g.c[id] && g.c[id].info && g.c[id].info.macs).find(Boolean);
    const st = g.c[peer] && g.c[peer].stats;
    if (!peak || !macs || !st) return '—';
    const share = (ms) => pct(macs / (goal * ms) / 1e6 / peak);
    return `≤ ${f(goal * st.median)} ms: ${share(st.median)} of the ${threads}-core peak (${share(st.min)} at LiteRT.js's fastest pass)`;
  };
  for (const e of ['chromium', 'firefox']) {
    const g = get(e);
    if (!g) continue;
    T.push([`${ENGINE_NAMES[e]}: ours / LiteRT.js, 1 thread`, mark(g.ratio('ours-1', 'litert-1'), (v) => v <= 0.6), '≤ 0.60', needs(e, g, 'litert-1', 0.6, 1)]);
    T.push([`${ENGINE_NAMES[e]}: ours / LiteRT.js, 2 threads`, mark(g.ratio('ours-2', 'litert-2'), (v) => v <= 0.6), '≤ 0.60', needs(e, g, 'litert-2', 0.6, 2)]);
    if (e === 'chromium') T.push([`${ENGINE_NAMES[e]}: ours 2-thread speedup`, mark(g.ratio('ours-1', 'ours-2'), (v) => v >= 1.8), '≥ 1.8', '']);
    else T.push([`${ENGINE_NAMES[e]}: ours 2-thread / 1-thread time`, mark(g.ratio('ours-2', 'ours-1'), (v) => v <= 0.6), '≤ 0.60', '']);
    T.push([`${ENGINE_NAMES[e]}, one core busy: ours / LiteRT.js, 2 threads`, mark(g.ratio('ours-2-busy', 'litert-2-busy'), (v) => v <= 0.75), '≤ 0.75', '']);
  }
  const w = get('webkit');
  if (w) T.push(['WebKitGTK: ours / LiteRT.js, 1 thread', mark(w.ratio('ours-1', 'litert-1'), (v) => v <= 0.75), '≤ 0.75', needs('webkit', w, 'litert-1', 0.75, 1)]);
  const c = r.engines.chromium;
  if (c && c.roofline.fma[1] && c.models.mobilenetv3_large_100) {
    const g = get('chromium');
    const macs = g.c['ours-1'] && g.c['ours-1'].info ? g.c['ours-1'].info.macs : null;
    if (macs && g.med('ours-1')) {
      const share = macs / g.med('ours-1') / 1e6 / c.roofline.fma[1].max;
      const best = macs / g.c['ours-1'].stats.min / 1e6 / c.roofline.fma[1].max;
      T.push(['Chromium: ours (relaxed-SIMD build) % of the relaxed-FMA peak, 1 thread', `${pct(share)} ${share >= 0.5 ? 'met' : '**missed**'}`, '≥ 50%', `at our fastest pass: ${pct(best)}`]);
    }
  }
  const co = c && c.callOverhead && c.callOverhead.find((x) => !x.error && x.threads === 1);
  if (co) {
    if (co.classify224) T.push(['Chromium: classify() of a 224x224 ImageData, ms over inferenceMs (1 thread)', mark(co.classify224.overhead, (v) => v <= 1.0), '≤ 1.0', '']);
    if (co.watch640) T.push(['Chromium: watch() of a 640x480 video, ms over inferenceMs (1 thread)', mark(co.watch640.overhead, (v) => v <= 2.0), '≤ 2.0', '']);
  }
  if (T.length) {
    L.push('### Targets (issue 8; mobilenetv3_large_100)');
    L.push('');
    L.push('"What the goal needs": the time ours would have to take for the ratio goal, as a share of this engine\'s measured FMA peak (the roofline below: relaxed FMA where the browser has it), at LiteRT.js\'s median and at its fastest pass. Our best isolated 1x1 convolution kernel (`bench/kernels.mjs --pointwise`) reaches about 80% of the peak; depthwise, squeeze-excite and the classifier head (memory-bound) far less, so a goal needing more than about 70% of the peak for the whole network is out of reach with f32 arithmetic on this machine.');
    L.push('');
    L.push('| target | this run | goal | what the goal needs |');
    L.push('|---|---:|---|---|');
    for (const t of T) L.push(`| ${t.join(' | ')} |`);
    L.push('');
  }

  for (const [e, er] of Object.entries(r.engines)) {
    L.push(`## ${ENGINE_NAMES[e]}`);
    L.push('');
    const rf = er.roofline;
    // The peak a build can reach: relaxed FMA where the browser has it, else SIMD128 mul + add.
    const peakOf = (n) => (er.env.relaxedSimd && rf.fma[n] ? Math.max(rf.fma[n].max, rf.simd128[n] ? rf.simd128[n].max : 0) : rf.simd128[n] && rf.simd128[n].max);
    for (const [name, mr] of Object.entries(er.models)) {
      const { c: cs, med } = ratiosOf(mr);
      L.push(`### ${ENGINE_NAMES[e]}: ${name} at ${mr.input.size}x${mr.input.size}, ${mr.note}`);
      L.push('');
      const refs = [mr.reference && `timm ${mr.reference.top5.join(' ')}`, mr.sharedReference && `shared reference ${mr.sharedReference.top5.join(' ')}`].filter(Boolean);
      L.push(`Input: \`${o.photo.split('/').pop()}\` decoded by the browser, preprocessed once by our \`preprocessPending()\` (timm's eval transform); the same tensor goes to every contender (NCHW copy for ONNX Runtime and LiteRT.js). Gate: top-5 must equal ${refs.join(' and ') || 'ours'} and ours.`);
      L.push('');
      L.push('| contender | threads used | top-5 | min ms | median ms | p90 ms | ours / this (median, same threads) |');
      L.push('|---|---|---|---:|---:|---:|---:|');
      for (const cr of Object.values(cs)) {
        const oursId = cr.t === 2 || cr.t === 1 ? `ours-${cr.t}${cr.busyCore ? '-busy' : ''}` : null;
        const ratio = cr.engine !== 'ours' && oursId && med(oursId) && cr.stats ? f(med(oursId) / cr.stats.median) : '';
        if (!cr.stats) {
          L.push(`| ${cr.label} | ${cr.threadsUsed ?? '—'} | ${cr.skipped && cr.skipped.startsWith('WRONG') ? 'WRONG' : '—'} | — | — | — | ${cr.skipped || 'not run'} |`);
          continue;
        }
        const tu = cr.engine === 'tfjs' ? `${cr.threadsUsed} (getThreadsCount())`
          : cr.engine === 'ort' ? `${cr.threadsUsed} (numThreads; ${cr.workersSpawned} pthread worker${cr.workersSpawned === 1 ? '' : 's'})`
            : cr.engine === 'litert' ? `${cr.threadsUsed} (numThreads; ${cr.info.wasmFile}; ${cr.workersSpawned} worker${cr.workersSpawned === 1 ? '' : 's'})`
              : `${cr.threadsUsed} (${cr.wasmBuild}${cr.info.build === 'threaded' ? `; ${cr.workersSpawned} rayon worker${cr.workersSpawned === 1 ? '' : 's'}` : ''})`;
        L.push(`| ${cr.label} | ${tu} | ok | ${f(cr.stats.min)} | ${f(cr.stats.median)} | ${f(cr.stats.p90)} | ${ratio} |`);
      }
      L.push('');
      const macs = cs['ours-1'] && cs['ours-1'].info ? cs['ours-1'].info.macs : null;
      if (macs && peakOf(1)) {
        L.push(`Whole network: ${(macs / 1e6).toFixed(1)} M MACs. Rates at the median, as % of this browser's peak (${er.env.relaxedSimd ? 'relaxed FMA' : 'SIMD128 mul + add'} roofline below):`);
        L.push('');
        L.push('| contender | GMAC/s | % of peak |');
        L.push('|---|---:|---:|');
        for (const cr of Object.values(cs)) {
          if (!cr.stats || !(cr.t === 1 || cr.t === 2)) continue;
          const n = cr.t;
          const g = macs / cr.stats.median / 1e6;
          L.push(`| ${cr.label} | ${f(g)} | ${peakOf(n) ? `${f((100 * g) / peakOf(n), 1)}% of ${n} core${n > 1 ? 's' : ''}` : '—'} |`);
        }
        L.push('');
      }
      for (const [pid, n] of [['ours-1', 1], ['ours-2', 2]]) {
        const p = mr.profile[pid];
        const peak = peakOf(n);
        if (!p || !peak) continue;
        const measured = med(pid);
        const scale = measured ? measured / p.total : 1;
        L.push(`Per kernel family, ${cs[pid].label} (${cs[pid].wasmBuild}; \`profile()\`, median of ${p.reps} passes per layer, sum ${f(p.total)} ms; "scaled" = × ${f(scale, 3)} so the sum equals the timed median ${f(measured)} ms; % of the ${n}-core peak ${f(peak)} GMAC/s):`);
        L.push('');
        L.push('| family | layers | M MACs | ms (profile) | ms (scaled) | share of time | GMAC/s (scaled) | % of peak |');
        L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
        const fam = new Map();
        for (const l of p.layers) {
          const x = fam.get(l.kind) || { n: 0, macs: 0, ms: 0 };
          x.n++;
          x.macs += l.macs;
          x.ms += l.ms;
          fam.set(l.kind, x);
        }
        for (const [kind, x] of [...fam.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
          const g = x.macs && x.ms > 0.005 ? x.macs / (x.ms * scale) / 1e6 : null;
          L.push(`| ${kind} | ${x.n} | ${f(x.macs / 1e6, 1)} | ${f(x.ms, 3)} | ${f(x.ms * scale, 3)} | ${f((100 * x.ms) / p.total, 1)}% | ${f(g)} | ${g == null ? '—' : f((100 * g) / peak, 1) + '%'} |`);
        }
        const allMacs = p.layers.reduce((a, l) => a + l.macs, 0);
        const gAll = allMacs / (p.total * scale) / 1e6;
        L.push(`| **all** | ${p.layers.length} | ${f(allMacs / 1e6, 1)} | ${f(p.total, 3)} | ${f(p.total * scale, 3)} | 100% | ${f(gAll)} | ${f((100 * gAll) / peak, 1)}% |`);
        L.push('');
        const p1 = mr.profile['ours-1'];
        if (pid === 'ours-2' && p1) {
          L.push('Slowest 10 layers with 2 threads, beside their 1-thread time (speedup < 1: the layer got slower with 2 threads):');
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
          L.push(`Slowest 10 layers, ${cs[pid].label}:`);
          L.push('');
          L.push('| layer | family | M MACs | ms (profile) | share | GMAC/s | % of 1-core peak |');
          L.push('|---|---|---:|---:|---:|---:|---:|');
          for (const l of [...p.layers].sort((a, b) => b.ms - a.ms).slice(0, 10)) {
            const g = l.macs && l.ms > 0.005 ? l.macs / l.ms / 1e6 : null;
            L.push(`| ${l.name} | ${l.kind} | ${f(l.macs / 1e6, 2)} | ${f(l.ms, 3)} | ${f((100 * l.ms) / p.total, 1)}% | ${f(g)} | ${g == null ? '—' : f((100 * g) / peak, 1) + '%'} |`);
          }
          L.push('');
        }
      }
    }
    if (er.callOverhead) {
      L.push(`### ${ENGINE_NAMES[e]}: whole-call overhead of the npm package (${er.callOverhead[0].model})`);
      L.push('');
      L.push('`classify()` of a 224x224 ImageData and `watch()` on a 640x480 video (a canvas stream); medians over the results of `totalMs` (the whole call, on the page) minus `inferenceMs` (the forward pass in the worker). Target (Chromium): ≤ 1.0 ms for classify, ≤ 2.0 ms for watch.');
      L.push('');
      L.push('| threads | build | call | results | total ms | inference ms | preprocess ms | overhead ms |');
      L.push('|---:|---|---|---:|---:|---:|---:|---:|');
      for (const co of er.callOverhead) {
        if (co.error) {
          L.push(`| ${co.threads} | — | — | — | — | — | — | failed: ${co.error} |`);
          continue;
        }
        for (const [what, x] of [['classify(224x224 ImageData)', co.classify224], ['watch(640x480 video)', co.watch640]]) {
          if (!x) continue;
          L.push(`| ${co.threads} | ${co.info.build}, ${co.info.simd} | ${what} | ${x.n} | ${f(x.total)} | ${f(x.inference)} | ${f(x.preprocess)} | ${f(x.overhead)} |`);
        }
      }
      L.push('');
      L.push('Where the time goes (medians per step, ms; page and worker timestamps on the shared clock): wire = the page turns the source into a message (ImageData copy, VideoFrame); ' +
        'pixels in = the source\'s crop window copied into wasm memory (copy: of it, the copy alone: VideoFrame.copyTo, or drawImage + getImageData, or the ImageData copy) + the horizontal resampling pass; finish = vertical pass + normalization; reply = results read + posted.');
      L.push('');
      const STEPS = ['wire', 'toWorker', 'workerStart', 'pixelsIn', 'copy', 'finish', 'inference', 'reply', 'toPage', 'resolve'];
      L.push(`| threads | call | ${STEPS.join(' | ')} |`);
      L.push(`|---:|---|${STEPS.map(() => '---:').join('|')}|`);
      for (const co of er.callOverhead) {
        for (const [what, x] of [['classify 224', co.classify224], ['watch 640x480', co.watch640]]) {
          if (x && x.steps) L.push(`| ${co.threads} | ${what} | ${STEPS.map((k) => f(x.steps[k], 3)).join(' | ')} |`);
        }
      }
      L.push('');
    }
    L.push(`### ${ENGINE_NAMES[e]}: roofline`);
    L.push('');
    L.push('`bench/roofline.mjs`: a loop over independent f32x4 accumulators (8, 12, 16, 24; the fastest is used), in a Worker, then in 2 Workers at once; ' +
      '`acc = f32x4.add(f32x4.mul(acc, m), c)` (SIMD128) or `acc = f32x4.relaxed_madd(acc, m, c)` (relaxed SIMD; fused where the CPU has FMA). 1 MAC = 1 multiply + 1 add.');
    L.push('');
    L.push('| kernel | workers | when | GMAC/s (best chunk) | GMAC/s (median chunk) | accumulators |');
    L.push('|---|---:|---|---:|---:|---|');
    for (const p of rf.passes) {
      L.push(`| ${p.kind === 'fma' ? 'relaxed FMA' : 'SIMD128 mul + add'} | ${p.n} | ${p.when} | ${f(p.max)} | ${f(p.median)} | ${p.workers.map((x) => x.accs).join(', ')} |`);
    }
    L.push('');
    L.push(`Peaks used above (best chunk of either pass): SIMD128 ${f(rf.simd128[1] && rf.simd128[1].max)} GMAC/s on 1 core${rf.simd128[2] ? `, ${f(rf.simd128[2].max)} on 2` : ''}` +
      `${rf.fma[1] ? `; relaxed FMA ${f(rf.fma[1].max)} on 1 core${rf.fma[2] ? `, ${f(rf.fma[2].max)} on 2` : ''}` : ''}.`);
    L.push('');
  }

  for (const [name, nat] of Object.entries(r.native)) {
    L.push(`## Native, ${name}, 1 thread, same weights (the ONNX for onnxruntime), same synthetic input`);
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

  L.push('## Notes');
  L.push('');
  const retries = [];
  for (const [e, er] of Object.entries(r.engines)) {
    for (const [mname, mr] of Object.entries(er.models)) {
      for (const cr of Object.values(mr.contenders)) {
        if (cr.startRetries) retries.push(`${ENGINE_NAMES[e]}, ${mname}, ${cr.label}: ${cr.startRetries.length} start${cr.startRetries.length > 1 ? 's' : ''} never finished (${cr.startRetries[0]}); ${cr.stats ? 'started again in a fresh page, timed then' : 'given up'}`);
      }
    }
  }
  L.push(retries.length
    ? `- Start retries (a contender whose start hangs is given up after ${START_TIMEOUT_MS / 1000} s and started again in a fresh page, at most ${START_ATTEMPTS} times; in Firefox under WebDriver BiDi a worker's own \`new Worker\` sometimes never finishes): ${retries.join('; ')}.`
    : `- Start retries: none (a contender whose start hangs would be given up after ${START_TIMEOUT_MS / 1000} s and started again in a fresh page, at most ${START_ATTEMPTS} times).`);
  L.push('- Browsers: Debian\'s Chromium (headless, playwright-core), Firefox ESR (headless, puppeteer-core over WebDriver BiDi) and WebKitGTK\'s MiniBrowser ' +
    '(WebKitWebDriver, under xvfb-run; `JSC_useSharedArrayBuffer=true` so isolated pages get SharedArrayBuffer as in Safari), one after the other, ' +
    'all driven through tests/browser/lib/engines.mjs.');
  L.push('- Ours: "single build" is what the npm package runs with `threads: 1` (or without cross-origin isolation), "threaded build" runs rayon ' +
    'workers started by `initThreadPool(n)`; each in the relaxed-SIMD flavour where the browser validates relaxed SIMD, else SIMD128 (js/builds.js, ' +
    "as the package picks). `'auto'` here is min(hardwareConcurrency, 4).");
  L.push('- "One core busy": the 2-thread contenders once more while a separate process spins on one core (bounded: killed after the pass, ' +
    'at most 10 minutes), like a user\'s other tab or program.');
  L.push('- LiteRT.js: `@litertjs/core` from npm, `loadLiteRt(wasm dir, {threads})` (it loads its relaxed-SIMD build where the browser has relaxed SIMD, ' +
    'its threaded build only with relaxed SIMD, else its SIMD128 "compat" build), `loadAndCompile(bytes, {accelerator: \'wasm\', cpuOptions: {numThreads}})`, ' +
    'on the .tflite that litert-torch converts from the same timm weights (tools/export_tflite.py, float32, NCHW input).');
  L.push('- ONNX Runtime Web: `ort.wasm.min.mjs`, `executionProviders: [\'wasm\']`, `graphOptimizationLevel: \'all\'`, `env.wasm.numThreads` = 1 or 2 ' +
    '(the pthread workers it spawned are counted). Its model is the torch ONNX export of the same timm weights.');
  L.push('- TF.js: the network is written with tf.js ops in `bench/www/worker-tfjs.js` (BN folded, every conv one fused op with bias and ReLU, ' +
    'hard-swish as 3 ops, the SE gate fused into conv_expand). TF.js sizes its pool as max(1, hardwareConcurrency / 2), so the 2-thread run ' +
    'reports hardwareConcurrency = 4 to it; `getThreadsCount()` is the proof of the threads it used.');
  L.push("- Native: our CLI is built for baseline x86-64 (SSE2: the same 4-wide kernels as wasm SIMD128), while onnxruntime's CPU provider " +
    'dispatches AVX2/AVX-512 at run time; the native ratio compares engines, not instruction sets.');
  L.push(`- Timing: all contenders of a pass (for one model, in one browser) are started first, then timed in alternating batches of ${BATCH_PASSES} passes ` +
    '(each batch after one untimed pass, the order rotating), our per-layer profile passes spread over the same batches. This machine (a 2-vCPU VM) has ' +
    'spells of a fraction of a second to several seconds where a pass runs up to 1.6x slower (seen in every browser, for every contender, and in the native CLI); ' +
    'timed one after the other, a contender whose block fell in such a period looked up to 1.5x slower than its peer, and than its own profile.');
  L.push('- Per-layer times come from `profile()` (one clock call between layers); their sum is within a few % of the timed median, and the ' +
    '"scaled" columns distribute the timed median proportionally. Firefox and WebKit coarsen `performance.now()` (to 20 µs / 1 ms without ' +
    'isolation; finer when isolated), so their per-layer rows are coarser.');
  L.push('');
  return L.join('\n');
}

main().catch((e) => die(e.stack || String(e)));
