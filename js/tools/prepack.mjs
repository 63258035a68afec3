// Makes js/ ready to publish: checks that ./build.sh produced every wasm build (js/builds.js), and
// replaces each threaded glue's import of wasm-bindgen-rayon's worker helper (a "snippet" file) by an inline
// `startWorkers` of our own. Why:
//  - one self-contained glue file per build: bundlers that copy the glue as an asset
//    (new URL(..., import.meta.url)) need nothing beside it;
//  - the original helper spawns each pool worker from a blob of *the glue's own source*
//    (fetch(import.meta.url)); dev servers that rewrite modules (Vite dev adds
//    `import ... from "/@vite/client"`) make that blob unloadable. Ours spawns a tiny fixed
//    bootstrap that imports the glue by its real URL, as the original's worker code then does.
// Idempotent. Run by `npm pack` (prepack) and by ./build.sh after the wasm builds.
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

// Same protocol as wasm-bindgen-rayon 1.3's workerHelpers.no-bundler.js (Apache-2.0, Google):
// each pool worker receives { type: 'wasm_bindgen_worker_init', module, memory, receiver, mainJS },
// instantiates the glue at mainJS on the shared memory, answers 'wasm_bindgen_worker_ready', and
// runs rayon's worker loop.
const START_WORKERS = `// --- startWorkers for wasm-bindgen-rayon (adapted from its workerHelpers.no-bundler.js,
// Apache-2.0) by js/tools/prepack.mjs: pool workers boot from a fixed snippet, not from this file.
const __rayonBoot = \`
self.addEventListener('message', async function onInit({ data }) {
  if (data == null || data.type !== 'wasm_bindgen_worker_init') return;
  self.removeEventListener('message', onInit);
  const pkg = await import(data.mainJS);
  await pkg.default({ module_or_path: data.module, memory: data.memory });
  postMessage({ type: 'wasm_bindgen_worker_ready' });
  pkg.wbg_rayon_start_worker(data.receiver);
});\`;
let __rayonWorkers; // keep the pool workers referenced (a Firefox bug collects unrooted ones)
async function startWorkers(module, memory, builder) {
  if (builder.numThreads() === 0) throw new Error('num_threads must be > 0.');
  const init = { type: 'wasm_bindgen_worker_init', module, memory, receiver: builder.receiver(), mainJS: builder.mainJS() };
  const url = URL.createObjectURL(new Blob([__rayonBoot], { type: 'text/javascript' }));
  try {
    __rayonWorkers = await Promise.all(Array.from({ length: builder.numThreads() }, () => new Promise((resolve, reject) => {
      const worker = new Worker(url, { type: 'module', name: 'mobilenetv3-pool' });
      worker.addEventListener('message', function onReady({ data }) {
        if (data == null || data.type !== 'wasm_bindgen_worker_ready') return;
        worker.removeEventListener('message', onReady);
        resolve(worker);
      });
      worker.addEventListener('error', (e) => reject(new Error('a thread-pool worker failed to start: ' + (e.message || 'script error'))), { once: true });
      worker.postMessage(init);
    })));
  } finally {
    URL.revokeObjectURL(url);
  }
  builder.build();
}
// --- end of startWorkers ---
`;

for (const b of BUILDS.filter((x) => x.threads)) {
  const dir = `wasm/${b.name}`;
  const gluePath = path.join(pkg, dir, 'mobilenetv3.js');
  let glue = readFileSync(gluePath, 'utf8');
  const re = /^import \{ startWorkers \} from '\.\/snippets\/[^']+';\n/m;
  if (re.test(glue)) {
    glue = glue.replace(re, () => START_WORKERS);
    writeFileSync(gluePath, glue);
    rmSync(path.join(pkg, dir, 'snippets'), { recursive: true, force: true });
    console.error(`prepack: ${dir}/mobilenetv3.js now carries its own startWorkers`);
  }
  if (/from '\.\/snippets\//.test(glue) || !glue.includes('async function startWorkers(')) {
    throw new Error(`prepack: the glue of ${dir} does not have the expected startWorkers (wasm-bindgen-rayon changed?)`);
  }
}
