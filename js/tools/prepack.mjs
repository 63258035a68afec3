// Makes js/ ready to publish: checks that ./build.sh produced both wasm builds, and inlines
// wasm-bindgen-rayon's worker helper (a "snippet" file imported by the threaded glue) into the
// glue, so the package is one glue file per build: bundlers that copy the glue as an asset
// (new URL(..., import.meta.url)) then need nothing beside it. Idempotent. Run by `npm pack`
// (prepack) and by ./build.sh after the wasm builds.
import { readFileSync, writeFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const need = ['single', 'threaded'].flatMap((b) => [`wasm/${b}/mobilenetv3.js`, `wasm/${b}/mobilenetv3_bg.wasm`]);
const missing = need.filter((f) => !existsSync(path.join(pkg, f)));
if (missing.length) {
  console.error(`prepack: missing ${missing.join(', ')}: run ./build.sh (from the repository root) first`);
  process.exit(1);
}

const gluePath = path.join(pkg, 'wasm/threaded/mobilenetv3.js');
let glue = readFileSync(gluePath, 'utf8');
const re = /^import \{ startWorkers \} from '(\.\/snippets\/[^']+)';\n/m;
const m = glue.match(re);
if (m) {
  const snippet = readFileSync(path.join(pkg, 'wasm/threaded', m[1]), 'utf8')
    .replace(/^export async function startWorkers/m, 'async function startWorkers');
  if (/^\s*(import|export)\s/m.test(snippet)) throw new Error('prepack: unexpected import/export in the rayon snippet');
  glue = glue.replace(re, () => `// --- inlined from ${m[1]} (wasm-bindgen-rayon, Apache-2.0) by js/tools/prepack.mjs ---\n${snippet}\n// --- end of inlined snippet ---\n`);
  writeFileSync(gluePath, glue);
  rmSync(path.join(pkg, 'wasm/threaded/snippets'), { recursive: true, force: true });
  console.error('prepack: inlined the rayon worker helper into wasm/threaded/mobilenetv3.js');
}
// wasm-bindgen's glue warns about the positional init form that the helper uses.
const OLD_INIT = 'await pkg.default(data.module, data.memory);';
if (glue.includes(OLD_INIT)) {
  glue = glue.replace(OLD_INIT, 'await pkg.default({ module_or_path: data.module, memory: data.memory });');
  writeFileSync(gluePath, glue);
}
if (/from '\.\/snippets\//.test(glue)) throw new Error('prepack: the threaded glue still imports a snippet');
