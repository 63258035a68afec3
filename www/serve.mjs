#!/usr/bin/env node
// Serves the demo (www/) with Vite, cross-origin isolated (COOP same-origin + COEP require-corp on
// every response, so the threaded wasm build can run). `./build.sh serve [...]` runs this after
// building the wasm.
//
//   node www/serve.mjs [--weights DIR] [--port N] [--host HOST] [--build] [--no-reload]
//
//   --weights DIR  serve local weight files (works offline): NAME.safetensors + NAME.config.json,
//                  or DIR/NAME/model.safetensors + DIR/NAME/config.json (what `./build.sh weights`
//                  writes into weights/). The page's model picker then lists those and selects the
//                  first; without --weights it lists weights/models.json (timm's Hugging Face URLs).
//   --port N       default 8080 (fails if taken; 0 = any free port)
//   --host HOST    default localhost (a secure context: the Cache API and threads work)
//   --build        production build (vite build -> www/dist) served by `vite preview`, instead of
//                  the dev server
//   --no-reload    dev server: do not reload the page when a file changes (no file watcher)
//
// The page reads /local-models.json ({ dir, models: [{ name, architecture, weightsUrl, configUrl,
// bytes, inputSize, numClasses }] }; models is empty without --weights). Weight files are served
// under /local-weights/ with a ?v=<size>-<mtime> tag, so the Cache API never returns stale files.
//
// As a module: `const srv = await startDemoServer({ weightsDir, port, host, build, outDir, reload, logLevel })`
// -> { url, port, models, close() } (used by tests/browser/demo*.test.mjs).

import { createReadStream, existsSync, promises as fs, readFileSync, statSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { requestPath, fileUnder } from '../tools/request-path.mjs';
import { BUILDS } from '../js/builds.js';

const WWW = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(WWW, '..');
const PACKAGE = path.join(ROOT, 'js', 'index.js');

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Finds the models in `dir`: [{ name, weights, config }] (absolute paths), sorted by name. */
export function scanWeights(dir) {
  const abs = path.resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new Error(`--weights: ${dir} is not a directory`);
  const found = new Map();
  for (const e of readdirSync(abs, { withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.safetensors')) {
      const name = e.name.slice(0, -'.safetensors'.length);
      const config = path.join(abs, `${name}.config.json`);
      if (existsSync(config)) found.set(name, { name, weights: path.join(abs, e.name), config });
    } else if (e.isDirectory() || e.isSymbolicLink()) {
      const weights = path.join(abs, e.name, 'model.safetensors');
      const config = path.join(abs, e.name, 'config.json');
      if (existsSync(weights) && existsSync(config) && !found.has(e.name)) found.set(e.name, { name: e.name, weights, config });
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** What the page gets in /local-models.json for the scanned models. */
function describe(models, dir) {
  const out = [];
  for (const [i, m] of models.entries()) {
    const st = statSync(m.weights);
    const cst = statSync(m.config);
    let cfg = {};
    try {
      cfg = JSON.parse(readFileSync(m.config, 'utf8'));
    } catch { /* the page reports the CONFIG error when the model is chosen */ }
    const pc = cfg.pretrained_cfg || {};
    out.push({
      name: m.name,
      architecture: cfg.architecture || m.name,
      bytes: st.size,
      inputSize: Array.isArray(pc.input_size) ? pc.input_size[pc.input_size.length - 1] : undefined,
      numClasses: cfg.num_classes,
      weightsUrl: `/local-weights/${i}/model.safetensors?v=${st.size}-${Math.round(st.mtimeMs)}`,
      configUrl: `/local-weights/${i}/config.json?v=${cst.size}-${Math.round(cst.mtimeMs)}`,
    });
  }
  return { dir: dir ? path.resolve(dir) : null, models: out };
}

const WASM_DIR = path.join(ROOT, 'js', 'wasm');
const RAW_TYPES = { '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.ts': 'text/plain; charset=utf-8' };

/**
 * Dev server only: the wasm-bindgen glue under js/wasm/ is served byte for byte, as a bundler's
 * production build ships it. (Vite's dev transform would add `import "/@vite/client"` to it, i.e.
 * its HMR client inside the engine's worker and thread pool; with an older glue whose pool threads
 * booted from a blob: copy of it, that import could not even resolve and the threads hung.)
 */
async function rawWasmGlue(req, res, next) {
  const pathname = requestPath(req.url);
  if (!pathname || !pathname.startsWith('/@fs/')) return next();
  const file = fileUnder(WASM_DIR, path.relative(WASM_DIR, path.resolve(pathname.slice('/@fs'.length))));
  const type = file && RAW_TYPES[path.extname(file)];
  if (!type) return next();
  const st = await fs.stat(file).catch(() => null);
  if (!st || !st.isFile()) return next();
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', st.size);
  res.setHeader('Cache-Control', 'no-cache');
  if (req.method === 'HEAD') return res.end();
  createReadStream(file).on('error', (e) => res.destroy(e)).pipe(res);
}

/**
 * First middleware: a malformed URL (`/%E0%A4%A`, `//[`) or one that climbs out of www/ once
 * decoded (`/..%2f..%2fetc%2fpasswd`) gets 400 here, before any handler could throw on it (an
 * exception in an async middleware used to end the whole process).
 */
function rejectBadRequests(req, res, next) {
  const pathname = requestPath(req.url);
  if (pathname !== null && fileUnder(WWW, pathname)) return next();
  res.statusCode = 400;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(`bad request: ${pathname === null ? 'malformed URL' : 'path outside the served directory'}\n`);
}

/** Vite plugin: isolation headers on every response, /local-models.json and /local-weights/. */
function demoPlugin({ weightsDir }) {
  const models = weightsDir ? scanWeights(weightsDir) : [];
  const isolate = (req, res, next) => {
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    next();
  };
  const local = async (req, res, next) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/local-models.json') {
      // Re-read sizes/mtimes each time: a file replaced while serving gets a new cache key.
      let body;
      try {
        body = JSON.stringify(describe(models, weightsDir));
      } catch (e) {
        res.statusCode = 500;
        return res.end(`local models: ${e.message}`);
      }
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Cache-Control', 'no-store');
      return res.end(body);
    }
    const m = /^\/local-weights\/(\d+)\/(model\.safetensors|config\.json)$/.exec(url.pathname);
    if (!m) return next();
    const entry = models[Number(m[1])];
    const file = entry && (m[2] === 'config.json' ? entry.config : entry.weights);
    const st = file && (await fs.stat(file).catch(() => null));
    if (!st || !st.isFile()) {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain');
      return res.end(`not found: ${url.pathname} (the weights directory changed; restart the server)\n`);
    }
    res.setHeader('Content-Type', m[2] === 'config.json' ? 'application/json' : 'application/octet-stream');
    res.setHeader('Content-Length', st.size);
    res.setHeader('Cache-Control', 'no-cache');
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).on('error', (e) => res.destroy(e)).pipe(res);
  };
  return {
    name: 'mobilenetv3-demo',
    models,
    configureServer(server) {
      server.middlewares.use(rejectBadRequests);
      server.middlewares.use(isolate);
      server.middlewares.use(local);
      server.middlewares.use(rawWasmGlue);
    },
    configurePreviewServer(server) {
      server.middlewares.use(rejectBadRequests);
      server.middlewares.use(isolate);
      server.middlewares.use(local);
    },
  };
}

function viteConfig({ weightsDir, port, host, logLevel, outDir, reload }) {
  const plugin = demoPlugin({ weightsDir });
  const config = {
    configFile: false,
    root: WWW,
    logLevel,
    clearScreen: false,
    // The demo imports the package by its name, exactly as an app using it from npm would.
    resolve: { alias: { 'mobilenetv3-wasm': PACKAGE } },
    plugins: [plugin],
    server: {
      port, host, strictPort: port !== 0, headers: ISOLATION_HEADERS, fs: { allow: [ROOT] },
      // reload false: no watcher and no HMR, so the page is never reloaded under its user (tests;
      // files are still read afresh on each request).
      ...(reload ? {} : { hmr: false, watch: null }),
    },
    preview: { port, host, strictPort: port !== 0, headers: ISOLATION_HEADERS },
    build: { outDir: outDir || path.join(WWW, 'dist'), emptyOutDir: true, target: 'es2022', reportCompressedSize: false },
    worker: { format: 'es' },
    optimizeDeps: { noDiscovery: true, include: [] },
  };
  return { config, plugin };
}

export async function startDemoServer({ weightsDir, port = 8080, host = 'localhost', build = false, outDir, reload = true, logLevel = 'info' } = {}) {
  const wasm = BUILDS.map((b) => path.join(ROOT, 'js', 'wasm', b.name, 'mobilenetv3_bg.wasm'));
  const missing = wasm.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`missing ${missing.map((f) => path.relative(ROOT, f)).join(', ')}: run ./build.sh first`);
  if (build) {
    // A production build copies the glue as an asset without following its imports: the rayon
    // helper must be inlined (js/tools/prepack.mjs, run by ./build.sh; `./build.sh wasm` alone
    // leaves a snippet import that the built page could not load).
    for (const b of BUILDS.filter((x) => x.threads)) {
      const glue = readFileSync(path.join(ROOT, 'js', 'wasm', b.name, 'mobilenetv3.js'), 'utf8');
      if (/from '\.\/snippets\//.test(glue)) {
        throw new Error(`js/wasm/${b.name}/mobilenetv3.js still imports a snippet: run ./build.sh (its packaging step, js/tools/prepack.mjs, inlines it) before --build`);
      }
    }
  }
  const vite = await import('vite');
  const { config, plugin } = viteConfig({ weightsDir, port, host, logLevel, outDir, reload });
  let server;
  if (build) {
    await vite.build(config);
    server = await vite.preview(config);
  } else {
    server = await vite.createServer(config);
    await server.listen();
  }
  const address = server.httpServer.address();
  const shownHost = host === '0.0.0.0' || host === '::' || host === true ? 'localhost' : host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${address.port}`;
  return {
    url,
    port: address.port,
    models: plugin.models,
    server,
    close: () => server.close(),
  };
}

function parseArgs(argv) {
  const opts = { port: 8080, host: 'localhost', build: false, reload: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--weights') opts.weightsDir = value();
    else if (a.startsWith('--weights=')) opts.weightsDir = a.slice(10);
    else if (a === '--port') opts.port = Number(value());
    else if (a.startsWith('--port=')) opts.port = Number(a.slice(7));
    else if (a === '--host') opts.host = value();
    else if (a.startsWith('--host=')) opts.host = a.slice(7);
    else if (a === '--build') opts.build = true;
    else if (a === '--no-reload') opts.reload = false;
    else if (a === '-h' || a === '--help') opts.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port needs a number 0..65535');
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`serve: ${e.message} (try --help)`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 17).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    process.exit(0);
  }
  try {
    const srv = await startDemoServer({ ...opts, logLevel: 'warn' });
    const list = srv.models.length
      ? `${srv.models.length} local model(s) from ${path.resolve(opts.weightsDir)}: ${srv.models.map((m) => m.name).join(', ')}`
      : opts.weightsDir
        ? `no models found in ${path.resolve(opts.weightsDir)} (expected NAME.safetensors + NAME.config.json, or NAME/model.safetensors + NAME/config.json); using weights/models.json`
        : 'models: weights/models.json (downloaded from huggingface.co; offline? use --weights DIR)';
    console.log(`\n  mobilenetv3-wasm demo (${opts.build ? 'production build, vite preview' : 'vite dev server'}), cross-origin isolated\n\n  ➜  ${srv.url}/\n\n  ${list}\n  Ctrl+C to stop\n`);
    const stop = async () => {
      await srv.close().catch(() => {});
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    const inUse = e && (e.code === 'EADDRINUSE' || /port \d+ is already in use/i.test(e.message));
    console.error(`serve: ${inUse ? `port ${opts.port} is in use; pick another with --port N` : e.stack || e.message}`);
    process.exit(1);
  }
}
