// Makes js/ ready to publish: checks that ./build.sh produced every wasm build (js/builds.js), and
// replaces each threaded glue's import of wasm-bindgen-rayon's worker helper (a "snippet" file) by an inline
// `startWorkers` of our own. Why:
//  - one self-contained glue file per build: bundlers that copy the glue as an asset
//    (new URL(..., import.meta.url)) need nothing beside it;
//  - the original helper spawns each pool worker from the worker that calls initThreadPool, from a
//    blob of the glue's own source; Firefox can block such a nested start for good (see
//    js/pool-worker.js), and dev servers that rewrite modules make that blob unloadable. Ours hands
//    the start to js/pool.js, which uses pool workers started elsewhere (js/pool-worker.js).
// Idempotent (an older inline startWorkers is replaced). Run by `npm pack` (prepack) and by ./build.sh
// after the wasm builds.
import { readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILDS } from '../builds.js';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const need = BUILDS.flatMap((b) => [`wasm/${b.name}/mobilenetv3.js`, `wasm/${b.name}/mobilenetv3_bg.wasm`]);
const missing = need.filter((f) => !existsSync(path.join(pkg, f)));
if (missing.length) {
  console.error(`prepack: missing ${missing.join(', ')}: run ./build.sh (from the repository root) first`);
  process.exit(1);
}

// wasm-bindgen-rayon 1.3 calls startWorkers(module, memory, builder) from initThreadPool; its helper
// spawns the pool's workers from the calling worker. Ours hands the work to js/pool.js, whose pool
// workers were started elsewhere (js/pool-worker.js says why).
const START_WORKERS = `// --- startWorkers for wasm-bindgen-rayon, by js/tools/prepack.mjs: the pool's workers are
// started elsewhere and handed over by mobilenetv3-wasm's pool.js (usePoolPorts).
function startWorkers(module, memory, builder) {
  const start = globalThis.__mobilenetv3StartPool;
  if (typeof start !== 'function') return Promise.reject(new Error('initThreadPool needs pool workers: call usePoolPorts (mobilenetv3-wasm/pool.js) first'));
  return start(module, memory, builder);
}
// --- end of startWorkers ---
`;

for (const b of BUILDS.filter((x) => x.threads)) {
  const dir = `wasm/${b.name}`;
  const gluePath = path.join(pkg, dir, 'mobilenetv3.js');
  let glue = readFileSync(gluePath, 'utf8');
  const re = /^import \{ startWorkers \} from '\.\/snippets\/[^']+';\n/m;
  const inline = /^\/\/ --- startWorkers for wasm-bindgen-rayon[^]*?^\/\/ --- end of startWorkers ---\n/m;
  if (inline.test(glue) && glue.match(inline)[0] !== START_WORKERS) {
    glue = glue.replace(inline, () => START_WORKERS);
    writeFileSync(gluePath, glue);
    console.error(`prepack: ${dir}/mobilenetv3.js: startWorkers updated`);
  } else if (re.test(glue)) {
    glue = glue.replace(re, () => START_WORKERS);
    writeFileSync(gluePath, glue);
    rmSync(path.join(pkg, dir, 'snippets'), { recursive: true, force: true });
    console.error(`prepack: ${dir}/mobilenetv3.js now carries its own startWorkers`);
  }
  if (/from '\.\/snippets\//.test(glue) || !glue.includes('function startWorkers(module, memory, builder)')) {
    throw new Error(`prepack: the glue of ${dir} does not have the expected startWorkers (wasm-bindgen-rayon changed?)`);
  }
}
