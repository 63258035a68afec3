// What this browser offers the engine, and which build createClassifier() picks and why. The one
// place of the runtime's feature probes (index.js decides by them; capabilities() reports them).

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)): validates only with SIMD128.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
// (module (func (result v128) i32.const 0 i8x16.splat i32.const 0 i8x16.splat i32.const 0 i8x16.splat
//   f32x4.relaxed_madd)): validates only where relaxed SIMD is on (not WebKit 2.50, not Firefox 140).
const RELAXED_SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
  10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 11]);

function validates(bytes) {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

export const hasSimd128 = () => validates(SIMD_PROBE);
export const hasRelaxedSimd = () => validates(RELAXED_SIMD_PROBE);

/** Threads for `threads: 'auto'`: min(hardwareConcurrency, 4) (WebKitGTK always reports 4). */
export function autoThreads() {
  const hc = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
  return Math.max(1, Math.min(hc, 4));
}

/** The build to start for `threads` threads, and why (before the worker has tried it). */
export function planBuild(threads, caps = capabilities()) {
  if (threads <= 1) return { build: 'single', reason: 'single: threads <= 1 requested' };
  if (!caps.crossOriginIsolated) {
    return { build: 'single', reason: 'single: the page is not crossOriginIsolated (serve it with COOP: same-origin and COEP: require-corp or credentialless)' };
  }
  if (!caps.sharedArrayBuffer) return { build: 'single', reason: 'single: SharedArrayBuffer is unavailable' };
  return { build: 'threaded', reason: `threaded: ${threads} threads` };
}

/**
 * What this browser offers: SIMD128, relaxed SIMD, SharedArrayBuffer, cross-origin isolation,
 * OffscreenCanvas, VideoFrame, requestVideoFrameCallback, the core count it reports, and the build
 * createClassifier({ threads: 'auto' }) would start, with the reason.
 */
export function capabilities() {
  const caps = {
    simd128: hasSimd128(),
    relaxedSimd: hasRelaxedSimd(),
    sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    workers: typeof Worker === 'function',
    offscreenCanvas: typeof OffscreenCanvas === 'function',
    videoFrame: typeof VideoFrame === 'function',
    requestVideoFrameCallback: typeof HTMLVideoElement === 'function' && typeof HTMLVideoElement.prototype.requestVideoFrameCallback === 'function',
    hardwareConcurrency: (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1,
  };
  const plan = planBuild(autoThreads(), caps);
  return { ...caps, build: plan.build, buildReason: plan.reason };
}
