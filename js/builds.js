// The wasm builds of the engine: the one list that ./build.sh (what to compile), js/tools/prepack.mjs
// (what to ship) and worker.js (what to load) read. Best first: a build is tried only where the
// browser has its features, and the next one is the fallback.
//   threads:     rayon on Web Workers over shared memory (needs crossOriginIsolated + SharedArrayBuffer)
//   relaxedSimd: kernels use f32x4.relaxed_madd (Chrome 114+, Firefox 145+; not Safari/WebKit 2.50)
// URLs are literal `new URL('./…', import.meta.url)` so bundlers (Vite, webpack) emit the files.

import { hasRelaxedSimd } from './capabilities.js';

export { hasRelaxedSimd };

export const BUILDS = [
  {
    name: 'threaded-relaxed', threads: true, relaxedSimd: true,
    glue: () => new URL('./wasm/threaded-relaxed/mobilenetv3.js', import.meta.url),
    wasm: () => new URL('./wasm/threaded-relaxed/mobilenetv3_bg.wasm', import.meta.url),
  },
  {
    name: 'threaded', threads: true, relaxedSimd: false,
    glue: () => new URL('./wasm/threaded/mobilenetv3.js', import.meta.url),
    wasm: () => new URL('./wasm/threaded/mobilenetv3_bg.wasm', import.meta.url),
  },
  {
    name: 'single-relaxed', threads: false, relaxedSimd: true,
    glue: () => new URL('./wasm/single-relaxed/mobilenetv3.js', import.meta.url),
    wasm: () => new URL('./wasm/single-relaxed/mobilenetv3_bg.wasm', import.meta.url),
  },
  {
    name: 'single', threads: false, relaxedSimd: false,
    glue: () => new URL('./wasm/single/mobilenetv3.js', import.meta.url),
    wasm: () => new URL('./wasm/single/mobilenetv3_bg.wasm', import.meta.url),
  },
];

/** The builds to try, best first: threaded ones only if `threaded`, relaxed ones only where they compile. */
export function buildCandidates(threaded, relaxed = hasRelaxedSimd()) {
  return BUILDS.filter((b) => (threaded || !b.threads) && (relaxed || !b.relaxedSimd));
}
