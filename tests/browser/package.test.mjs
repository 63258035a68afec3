// The npm package (js/): metadata, the packed file list, models.json <-> js/models.js, and real
// consumers: a Vite + TypeScript app in a temp dir installs the packed tarball, type-checks against
// index.d.ts, builds, and classifies a photo in Chromium, Firefox and WebKit (threaded when
// isolated, single when not); a webpack 5 app does the same in Chromium.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, existsSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, REPO_ROOT } from './lib/server.mjs';
import { launchChromium, openPage } from './lib/browser.mjs';
import { ENGINES, launchEngine } from './lib/engines.mjs';
import { requireShared, shared } from './lib/shared.mjs';
import { BUILDS } from '../../js/builds.js';

// threads: 'auto' with more than 2 reported cores (WebKit says 4 on this 2-core machine) times 1, 2, 4
// threads and may keep 1 on a busy machine; that is fine only when the timings say so.
const AUTO_CHOSE_ONE = /^threaded: 1 thread \(auto: hardwareConcurrency \d+; a forward pass took .* ms with 1: 1 thread\)$/;

const JS = path.join(REPO_ROOT, 'js');
const VITE_VERSION = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).devDependencies.vite;
const TYPESCRIPT_VERSION = '5.9.3';
const WEBPACK_VERSION = '5.113.0';
const cleanup = [];

after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('package.json: name, ESM, exports with types, files', () => {
  const pkg = JSON.parse(readFileSync(path.join(JS, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'mobilenetv3-wasm');
  assert.equal(pkg.type, 'module');
  assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', default: './index.js' });
  for (const f of pkg.files.filter((f) => !f.includes('*'))) {
    assert.ok(existsSync(path.join(JS, f)), `${f} listed in files but missing (run ./build.sh)`);
  }
});

test('weights/models.json and js/models.js list the same models, with timm Hugging Face URLs', async () => {
  const json = JSON.parse(readFileSync(path.join(REPO_ROOT, 'weights/models.json'), 'utf8'));
  const mod = await import(path.join(JS, 'models.js'));
  assert.deepEqual(mod.MODEL_LIST, json.models);
  // js/models.js is generated from weights/models.json, byte for byte.
  assert.equal(spawnSync(process.execPath, [path.join(REPO_ROOT, 'weights/sync-models.mjs'), '--check']).status, 0, 'js/models.js is stale: run node weights/sync-models.mjs');
  assert.equal(mod.DEFAULT_MODEL, json.default);
  const { MODELS, DEFAULT_MODEL } = await import(path.join(JS, 'index.js'));
  assert.equal(DEFAULT_MODEL, 'mobilenetv3_large_100');
  assert.ok(MODELS[DEFAULT_MODEL]);
  const names = new Set();
  for (const m of json.models) {
    assert.ok(!names.has(m.name), `duplicate ${m.name}`);
    names.add(m.name);
    // Pinned entries: URLs at a 40-hex commit; checksums only on pinned URLs (a moving `main`
    // would break them the day upstream changes).
    if (m.revision !== undefined) assert.match(m.revision, /^[0-9a-f]{40}$/, m.name);
    const base = `https://huggingface.co/timm/${m.architecture}.${m.tag}/resolve/${m.revision ?? 'main'}/`;
    assert.equal(m.weightsUrl, `${base}model.safetensors`);
    assert.equal(m.configUrl, `${base}config.json`);
    assert.ok(m.bytes > 1e6 && m.top1 > 50 && m.top5 > m.top1 && m.license && m.inputSize >= 224, m.name);
    for (const k of ['weightsSha256', 'configSha256']) {
      if (m[k] === undefined) continue;
      assert.match(m[k], /^[0-9a-f]{64}$/, `${m.name}.${k}`);
      assert.ok(m.revision, `${m.name}: ${k} without a pinned revision`);
    }
    if (m.weightsBytes !== undefined) assert.ok(Number.isInteger(m.weightsBytes) && Math.abs(m.weightsBytes - m.bytes) < 0.05 * m.bytes, m.name);
  }
  assert.ok(json.models.find((m) => m.name === json.default).weightsSha256, 'the default model is pinned');
});

test('npm pack ships the JS, types, worker, every wasm build of js/builds.js and the NOTICE, nothing else', () => {
  const out = JSON.parse(npm(['pack', '--dry-run', '--json', '--silent'], JS));
  const files = out[0].files.map((f) => f.path).sort();
  // The package's modules are the .js files at the top of js/ (index.js and the modules it imports).
  const modules = readdirSync(JS).filter((f) => f.endsWith('.js'));
  assert.ok(modules.includes('index.js') && modules.includes('worker.js') && modules.includes('fetch.js') && modules.includes('isolate-sw.js') && modules.includes('builds.js'));
  assert.deepEqual(files, [
    'NOTICE', 'README.md', 'index.d.ts', ...modules, 'package.json',
    ...BUILDS.flatMap((b) => [`wasm/${b.name}/mobilenetv3.js`, `wasm/${b.name}/mobilenetv3_bg.wasm`]),
  ].sort());
  for (const b of BUILDS.filter((x) => x.threads)) {
    const glue = readFileSync(path.join(JS, `wasm/${b.name}/mobilenetv3.js`), 'utf8');
    assert.ok(!/from '\.\/snippets\//.test(glue) && glue.includes('function startWorkers(module, memory, builder)') && glue.includes('__mobilenetv3StartPool'), `prepack inlined our startWorkers in ${b.name}`);
  }
});

test('consumer: Vite + TypeScript app installs the packed tarball, type-checks, builds, classifies in each engine', async (t) => {
  if (!requireShared(t)) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'mnv3-consumer-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const tgz = npm(['pack', '--silent', '--pack-destination', dir], JS).trim().split('\n').at(-1);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(path.join(dir, 'index.html'), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<title>consumer</title><script type="module" src="/src/main.ts"></script>\n`);
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src/main.ts'), `import { createClassifier, MODELS, type Classifier, type ClassifyResult, type MobileNetV3Error } from 'mobilenetv3-wasm';

declare global { interface Window { classify(weights: string, config: string, photo: string): Promise<object>; __ready: boolean; keepClassifier?: boolean } }

window.classify = async (weights, config, photo) => {
  const phases: string[] = [];
  const clf: Classifier = await createClassifier({ weights, config, threads: 'auto', onProgress: (e) => phases.push(e.phase) });
  const r: ClassifyResult = await clf.classify(await (await fetch(photo)).blob(), { topk: 3 });
  const empty = document.createElement('canvas');
  empty.width = 0;
  const code: string = await clf.embed(empty).then((v: Float32Array) => \`ok \${v.length}\`, (e: MobileNetV3Error) => e.code);
  const { build, threads, crossOriginIsolated, buildReason } = clf.info;
  if (!window.keepClassifier) clf.dispose();
  return { top: r.top, totalMs: r.timings.totalMs, build, threads, crossOriginIsolated, buildReason, phases, code, known: Object.keys(MODELS).length };
};
window.__ready = true;
`);
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', strict: true, noEmit: true, lib: ['ES2022', 'DOM'], skipLibCheck: false },
    include: ['src'],
  }));
  const t0 = Date.now();
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', path.join(dir, tgz), `vite@${VITE_VERSION}`, `typescript@${TYPESCRIPT_VERSION}`], dir);
  t.diagnostic(`npm install (tarball + vite + typescript): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  execFileSync(process.execPath, [path.join(dir, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
  execFileSync(process.execPath, [path.join(dir, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: dir, encoding: 'utf8' });
  const assets = readdirSync(path.join(dir, 'dist/assets'));
  assert.equal(assets.filter((f) => f.endsWith('.wasm')).length, BUILDS.length, assets.join(' '));
  for (const engine of ENGINES) {
    // WebKit: with SharedArrayBuffer on isolated pages, as Safari has it.
    const browser = await launchEngine(engine, { sharedArrayBuffer: true });
    try {
      for (const isolated of [true, false]) {
        const srv = await startServer({ root: path.join(dir, 'dist'), isolated });
        cleanup.push(() => srv.close());
        const page = await browser.open(`${srv.url}/index.html`);
        const r = await page.evaluate(() => classify('/shared/weights/tf_mobilenetv3_small_100.safetensors',
          '/shared/weights/tf_mobilenetv3_small_100.config.json', '/shared/photos/koala.jpg'));
        const errors = await page.errors();
        await page.close();
        assert.equal(r.top[0].index, 105, JSON.stringify(r.top));
        assert.equal(r.crossOriginIsolated, isolated);
        assert.equal(r.build, isolated ? 'threaded' : 'single', `${engine}, isolated ${isolated}`);
        assert.ok(isolated ? r.threads > 1 || AUTO_CHOSE_ONE.test(r.buildReason) : r.threads === 1, `threads ${r.threads}: ${r.buildReason}`);
        assert.equal(r.code, 'IMAGE_DECODE', 'typed error code reached the app');
        assert.ok(r.known > 5);
        assert.deepEqual([...new Set(r.phases)].sort(), ['compile', 'download', 'init']);
        assert.equal(r.phases.at(-1), 'init');
        assert.deepEqual(errors, []);
        t.diagnostic(`${engine}, vite build, ${isolated ? 'isolated' : 'not isolated'}: ${r.build}, koala ${r.top[0].probability.toFixed(4)}, ${r.totalMs.toFixed(1)} ms`);
      }
    } finally {
      await browser.close();
    }
  }

  const browser = await launchChromium();
  cleanup.push(() => browser.close());
  // The same app under `vite` (dev server: it rewrites modules, and serves node_modules itself),
  // with COOP/COEP from vite.config.js; ../shared is reached through a public/ symlink.
  symlinkSync(shared.dir, path.join(dir, 'public'));
  writeFileSync(path.join(dir, 'vite.config.js'), `export default { server: { headers: {
  'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } } };\n`);
  const dev = spawn(process.execPath, [path.join(dir, 'node_modules/vite/bin/vite.js'), '--host', '127.0.0.1', '--port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.push(() => dev.kill());
  const devUrl = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`vite dev did not start: ${out}`)), 30000);
    dev.stdout.on('data', (d) => {
      out += d;
      const m = out.replace(/\x1b\[[0-9;]*m/g, '').match(/Local:\s+(http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    dev.on('exit', (code) => reject(new Error(`vite dev exited (${code}): ${out}`)));
  });
  const { page, context, errors } = await openPage(browser, `${devUrl}/index.html`);
  const clientLoads = [];
  page.on('request', (req) => req.url().endsWith('/@vite/client') && clientLoads.push(req.url()));
  const r = await page.evaluate(() => classify('/weights/tf_mobilenetv3_small_100.safetensors',
    '/weights/tf_mobilenetv3_small_100.config.json', '/photos/koala.jpg'));
  assert.equal(r.top[0].index, 105);
  assert.equal(r.build, 'threaded');
  // Vite's HMR client must stay out of the runtime's workers: stopping the dev server while the
  // page is open must not raise errors in them.
  assert.deepEqual(clientLoads, []);
  await page.evaluate(() => {
    window.keepClassifier = true; // the next classify() leaves its classifier (worker + pool) running
    return classify('/weights/tf_mobilenetv3_small_100.safetensors', '/weights/tf_mobilenetv3_small_100.config.json', '/photos/koala.jpg');
  });
  assert.deepEqual(clientLoads, []);
  dev.kill();
  await new Promise((res) => setTimeout(res, 1500));
  await context.close();
  assert.deepEqual(errors, []);
  t.diagnostic(`vite dev server: ${r.build}, koala ${r.top[0].probability.toFixed(4)}`);
});

test('consumer: webpack 5 app installs the packed tarball, production build, classifies in Chromium', async (t) => {
  if (!requireShared(t)) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'mnv3-webpack-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const tgz = npm(['pack', '--silent', '--pack-destination', dir], JS).trim().split('\n').at(-1);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'webpack-consumer', private: true }));
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src/index.js'), `import { createClassifier } from 'mobilenetv3-wasm';

window.classify = async (weights, config, photo) => {
  const clf = await createClassifier({ weights, config, threads: 'auto' });
  const r = await clf.classify(await (await fetch(photo)).blob(), { topk: 3 });
  const empty = document.createElement('canvas');
  empty.width = 0;
  const code = await clf.classify(empty).then(() => 'ok', (e) => e.code);
  const { build, threads, crossOriginIsolated, buildReason } = clf.info;
  clf.dispose();
  return { top: r.top, build, threads, crossOriginIsolated, buildReason, code };
};
window.__ready = true;
`);
  // webpack's Node API (no webpack-cli): a production build; warnings and errors are printed.
  writeFileSync(path.join(dir, 'build.cjs'), `require('webpack')({
  mode: 'production',
  context: __dirname,
  entry: './src/index.js',
  output: { path: __dirname + '/dist', filename: 'main.js', clean: true },
  performance: { hints: false },
}, (err, stats) => {
  if (err) throw err;
  const { errors, warnings } = stats.toJson({ all: false, errors: true, warnings: true });
  for (const e of [...errors, ...warnings]) console.log(e.message);
  process.exitCode = stats.hasErrors() ? 1 : 0;
});
`);
  const t0 = Date.now();
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', path.join(dir, tgz), `webpack@${WEBPACK_VERSION}`], dir);
  t.diagnostic(`npm install (tarball + webpack): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const log = execFileSync(process.execPath, [path.join(dir, 'build.cjs')], { cwd: dir, encoding: 'utf8' });
  assert.equal(log.trim(), '', 'webpack warnings or errors');
  writeFileSync(path.join(dir, 'dist/index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>webpack consumer</title><script src="main.js"></script>\n');
  const emitted = readdirSync(path.join(dir, 'dist'), { recursive: true }).map(String);
  assert.equal(emitted.filter((f) => f.endsWith('.wasm')).length, BUILDS.length, emitted.join(' '));
  const browser = await launchChromium();
  cleanup.push(() => browser.close());
  for (const isolated of [true, false]) {
    const srv = await startServer({ root: path.join(dir, 'dist'), isolated });
    cleanup.push(() => srv.close());
    const { page, context, errors } = await openPage(browser, `${srv.url}/index.html`);
    const r = await page.evaluate(() => classify('/shared/weights/tf_mobilenetv3_small_100.safetensors',
      '/shared/weights/tf_mobilenetv3_small_100.config.json', '/shared/photos/koala.jpg'));
    await context.close();
    assert.equal(r.top[0].index, 105, JSON.stringify(r.top));
    assert.equal(r.crossOriginIsolated, isolated);
    assert.equal(r.build, isolated ? 'threaded' : 'single');
    assert.ok(isolated ? r.threads > 1 || AUTO_CHOSE_ONE.test(r.buildReason) : r.threads === 1, `threads ${r.threads}: ${r.buildReason}`);
    assert.equal(r.code, 'IMAGE_DECODE');
    assert.deepEqual(errors, []);
    t.diagnostic(`webpack build, ${isolated ? 'isolated' : 'not isolated'}: ${r.build}, koala ${r.top[0].probability.toFixed(4)}; emitted ${emitted.length} files`);
  }
});

test('weights/download.mjs (./build.sh weights) against a local stand-in for huggingface.co', async (t) => {
  if (!requireShared(t)) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'mnv3-dl-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const hf = path.join(dir, 'hf');
  mkdirSync(hf);
  symlinkSync(shared.weights('tf_mobilenetv3_small_100'), path.join(hf, 'model.safetensors'));
  symlinkSync(shared.config('tf_mobilenetv3_small_100'), path.join(hf, 'config.json'));
  const srv = await startServer({ isolated: false, mounts: { '/timm/tf_mobilenetv3_small_100.in1k/resolve/main/': hf } });
  cleanup.push(() => srv.close());
  // Async: the server lives in this process, execFileSync would block it.
  const run = async (name) => (await promisify(execFile)(process.execPath,
    [path.join(REPO_ROOT, 'weights/download.mjs'), '--out', path.join(dir, 'out'), '--base', srv.url, name], { encoding: 'utf8' })).stdout;
  assert.match(await run('tf_mobilenetv3_small_100'), /tf_mobilenetv3_small_100: model\.safetensors 10242208 bytes/);
  assert.equal(statSync(path.join(dir, 'out/tf_mobilenetv3_small_100/model.safetensors')).size, 10242208);
  assert.match(await run('tf_mobilenetv3_small_100'), /kept/);
  await assert.rejects(run('tf_mobilenetv3_small_075'), /HTTP 404/);
  // A pinned model whose stand-in serves other bytes: refused, nothing written.
  const pinned = JSON.parse(readFileSync(path.join(REPO_ROOT, 'weights/models.json'), 'utf8')).models.find((m) => m.name === 'mobilenetv3_small_100');
  const srv2 = await startServer({ isolated: false, mounts: { [`/timm/mobilenetv3_small_100.lamb_in1k/resolve/${pinned.revision}/`]: hf } });
  cleanup.push(() => srv2.close());
  await assert.rejects(promisify(execFile)(process.execPath,
    [path.join(REPO_ROOT, 'weights/download.mjs'), '--out', path.join(dir, 'out'), '--base', srv2.url, 'mobilenetv3_small_100'], { encoding: 'utf8' }),
  /integrity: .* gave 10242208 bytes, models\.json pins 10241912/);
  assert.ok(!existsSync(path.join(dir, 'out/mobilenetv3_small_100/model.safetensors')) && !existsSync(path.join(dir, 'out/mobilenetv3_small_100/model.safetensors.part')));
});
