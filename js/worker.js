// mobilenetv3-wasm worker: owns one wasm instance (threaded or single build) and one Engine.
// Started by index.js; not part of the public API.
//
// Protocol (one request in flight at a time; index.js queues):
//   main -> worker  { id, op: 'load',  build: 'threaded'|'single', threads, autoThreads?, poolPorts?: MessagePort[], poolError? }
//                   { id, op: 'init',  weights: Blob, config: string }
//                   { id, op: 'run',   source: Source, topk, embed: boolean, probabilities?: boolean }
//                     -> { width, height, top?: Float64Array [index, probability, ...], embedding?, probabilities?,
//                          pixels?: ArrayBuffer, preprocessMs, inferenceMs }
//                        (transferred; labels are the page's; pixels: an rgba source's buffer)
//                   { id, op: 'stats', gc?: boolean }   (test hook: memory figures)
//                   { id, op: 'debugPanic', inPool: boolean }
//   main -> worker  { op: 'poolFailed', message }   (a pool worker the page started could not load its script)
//   worker -> main  { id, ok: true, result }  |  { id, ok: false, error: { code, message, panic?, fatal? } }
//                   { id, step: string }   (how far 'load' got, for the page's start watchdog)
//   Source = { kind: 'bitmap', bitmap: ImageBitmap } | { kind: 'blob', blob: Blob }
//          | { kind: 'frame', frame: VideoFrame }   | { kind: 'rgba', width, height, data: Uint8ClampedArray }
//   (bitmap and frame are the page's copies, transferred; the worker closes them. rgba is the
//   page's copy of the caller's ImageData, transferred, and handed back as result.pixels so the
//   page reuses it for the next ImageData.)
//
// Pixels go from the source straight into a staging area inside wasm memory (engine.staging),
// only the part of the image the crop depends on (engine.beginImage's window), in strips.
// `fatal: true` means the wasm instance trapped (Rust panic): the worker must be discarded.
//

import { buildCandidates } from './builds.js';
import { usePoolPorts } from './pool.js';

// Rows per pushRows strip: about 4 MiB of RGBA, so wasm memory stays bounded for huge images.
const STRIP_BYTES = 4 << 20;

let glue = null; // the wasm-bindgen module
let exportsWasm = null; // raw wasm exports (memory)
let build = null;
let autoThreads = false; // threads: 'auto' (tune the team size on the first init)
let engine = null;
let canvas = null; // reused strip canvas
let copyMs = 0; // (trace) time spent getting the source's pixels into wasm memory this run
let ctx = null;

class WorkerError extends Error {
  constructor(code, message, extra) {
    super(message);
    this.code = code;
    Object.assign(this, extra);
  }
}

async function importGlue(b) {
  const url = b.glue().href;
  // A template literal on purpose: Vite's dev server rewrites `import(variable)` into
  // `import(__vite__injectQuery(variable))`, which pulls its HMR client into this worker (it then
  // touches `document` and throws when the dev server goes away). `${url}` counts as a string.
  return import(/* @vite-ignore */ /* webpackIgnore: true */ `${url}`);
}

// Test hook: what a phone short of memory does to the threaded build. 'memory': creating the shared
// WebAssembly.Memory throws ('pool', a pool worker that cannot start, is simulated by rpc.js, which
// starts them). Returns the undo function.
function simulateThreadedFailure(what) {
  const saved = WebAssembly.Memory;
  if (what === 'memory') {
    WebAssembly.Memory = function Memory(descriptor) {
      if (descriptor && descriptor.shared) throw new RangeError('WebAssembly.Memory(): could not allocate memory (simulated)');
      return new saved(descriptor);
    };
  }
  return () => {
    WebAssembly.Memory = saved;
  };
}

let failPool = () => {}; // a pool worker the page started could not load (pool.js)

let loadId = 0;
/** Tells the page how far 'load' got (the watchdog names it if the start never finishes). */
function step(what) {
  if (loadId) self.postMessage({ id: loadId, step: what });
}

async function load({ id, build: wanted, threads, simulateFailure, autoThreads: auto, poolPorts, poolError }) {
  autoThreads = !!auto;
  loadId = id;
  failPool = usePoolPorts(poolPorts || [], { error: poolError, onStep: step });
  let firstError = null;
  for (const b of buildCandidates(wanted === 'threaded')) {
    const undo = b.threads && simulateFailure ? simulateThreadedFailure(simulateFailure) : () => {};
    try {
      step(`loading the ${b.name} build`);
      const g = await importGlue(b);
      step(`compiling the ${b.name} build`);
      exportsWasm = await g.default({ module_or_path: b.wasm() });
      if (b.threads) {
        step(`starting ${threads} pool threads`);
        await g.initThreadPool(threads);
      }
      loadId = 0;
      glue = g;
      build = b.threads ? 'threaded' : 'single';
      return { build, wasmBuild: b.name, threads: g.threadCount(), fallbackReason: firstError ? String(firstError.message || firstError) : undefined };
    } catch (e) {
      firstError = firstError || e;
    } finally {
      undo();
    }
  }
  loadId = 0;
  const msg = String(firstError && firstError.message || firstError);
  // A Content-Security-Policy that forbids compiling WebAssembly: Chromium says "Refused to compile
  // or instantiate WebAssembly module because ... 'wasm-unsafe-eval' ... Content Security Policy",
  // Firefox "blocked by CSP", others an EvalError or "Wasm code generation disallowed".
  if ((firstError && firstError.name === 'EvalError') || /Content.Security.Policy|wasm-unsafe-eval|unsafe-eval|\bCSP\b|code generation disallowed/i.test(msg)) {
    throw new WorkerError('CSP_BLOCKED', "the page's Content-Security-Policy forbids compiling WebAssembly: add 'wasm-unsafe-eval' to its script-src directive " +
      `(e.g. script-src 'self' 'wasm-unsafe-eval'; the worker's own response headers count for the worker). The browser said: ${msg}`);
  }
  const simd = /simd|v128|invalid type|Compiling function/i.test(msg);
  throw new WorkerError(simd || typeof WebAssembly === 'undefined' ? 'UNSUPPORTED_BROWSER' : 'INTERNAL',
    simd ? `could not start the WebAssembly engine (this browser needs WebAssembly SIMD128): ${msg}` : `could not start the WebAssembly engine: ${msg}`);
}

/** The config's input size, for the message only (the engine validates the config itself). */
function configuredInputSize(config) {
  try {
    const c = JSON.parse(config);
    const s = (c.pretrained_cfg || c).input_size;
    return Array.isArray(s) ? s[s.length - 1] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The engine's constructor allocates its working memory and runs one pass at load (Rust's
 * Classifier::new), so a model whose activations do not fit in this build's memory (the threaded
 * build has at most 256 MiB) fails here, at createClassifier, with OUT_OF_MEMORY instead of
 * crashing every classify (rpc.js then loads the single build). Allocations Rust cannot make fallibly abort: a trap without a panic
 * message, mapped to the same code.
 */
function newEngine(bytes, config, size) {
  try {
    return new glue.Engine(bytes, config, '');
  } catch (e) {
    let panic;
    try { panic = glue.lastPanic(); } catch { /* the instance may be too broken to ask */ }
    const trapped = e instanceof WebAssembly.RuntimeError || (e && e.name === 'RuntimeError');
    const refused = e && e.code === 'OUT_OF_MEMORY'; // the engine's own fallible allocation said no
    if (refused || (trapped && !panic) || isMemoryError(e)) {
      const mib = exportsWasm ? Math.round(exportsWasm.memory.buffer.byteLength / 1048576) : '?';
      throw new WorkerError('OUT_OF_MEMORY', `${refused ? `${e.message}: ` : ''}the model does not fit in the ${build} build's memory${size ? ` at input size ${size}` : ''} ` +
        `(${(bytes.length / 1048576).toFixed(1)} MiB of weights; wasm memory reached ${mib} MiB): use a smaller input_size or model` +
        (build === 'threaded' ? ', or threads: 1 (the single build can use more memory)' : ''), { fatal: true });
    }
    throw e;
  }
}

async function init({ weights, config }) {
  if (!glue) throw new WorkerError('INTERNAL', 'init before load');
  const bytes = new Uint8Array(await weights.arrayBuffer());
  if (engine) { engine.free(); engine = null; }
  engine = newEngine(bytes, config, configuredInputSize(config));
  const info = JSON.parse(engine.info());
  if (autoThreads && build === 'threaded') {
    info.autoThreads = tuneThreads();
    autoThreads = false;
  }
  info.threads = glue.threadCount();
  info.build = build;
  return info;
}

/**
 * threads: 'auto' starts min(hardwareConcurrency, 4) pool threads, but browsers can overstate the
 * cores (WebKit reports 4 on a 2-core machine, where 4 threads run slower than 1). With more
 * than 2, time forward passes on a synthetic input with 1, 2, ... the pool's threads and keep the
 * fastest (the pool cannot shrink, so the rest stay idle). Returns why, for info.buildReason.
 */
function tuneThreads() {
  const pool = glue.threadCount();
  if (pool <= 2) return null;
  const counts = [];
  for (let n = pool; n >= 1; n = n > 2 ? Math.ceil(n / 2) : n - 1) counts.push(n);
  engine.infer(); // warm-up (on the input tensor as it is: zeros before the first image)
  const best = new Map();
  for (let round = 0; round < 2; round++) {
    for (const n of counts) {
      glue.setThreadLimit(n);
      const t0 = performance.now();
      engine.infer();
      const ms = performance.now() - t0;
      best.set(n, Math.min(best.get(n) ?? Infinity, ms));
    }
  }
  // The fastest; fewer threads when within 5% (less contention with the page and other tabs).
  const fastest = Math.min(...best.values());
  const chosen = Math.min(...counts.filter((n) => best.get(n) <= fastest * 1.05));
  glue.setThreadLimit(chosen);
  const hc = navigator.hardwareConcurrency;
  return `auto: hardwareConcurrency ${hc}; a forward pass took ${counts.map((n) => `${best.get(n).toFixed(1)} ms with ${n}`).join(', ')}: ${chosen} thread${chosen > 1 ? 's' : ''}`;
}

function ensureCanvas(w, h) {
  if (!canvas) {
    canvas = new OffscreenCanvas(w, h);
    ctx = canvas.getContext('2d', { willReadFrequently: true, alpha: true });
    if (!ctx) throw new WorkerError('UNSUPPORTED_BROWSER', 'OffscreenCanvas 2D is not available in workers');
  } else if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  // 'copy' replaces pixels (alpha included) instead of blending over the previous strip.
  ctx.globalCompositeOperation = 'copy';
  ctx.imageSmoothingEnabled = false;
  return ctx;
}

function stripRows(width) {
  return Math.max(1, Math.floor(STRIP_BYTES / (width * 4)));
}

/** A view of `bytes` bytes of the engine's staging area in wasm memory (valid until the next engine call). */
function staging(bytes) {
  const at = engine.staging(bytes);
  return new Uint8Array(exportsWasm.memory.buffer, at, bytes);
}

/** Starts an image: the source window [x0, y0, x1, y1] the engine needs. */
function begin(w, h) {
  if (!w || !h) throw new WorkerError('IMAGE_DECODE', `the image is ${w}x${h} pixels`);
  const win = engine.beginImage(w, h);
  return { x0: win[0], y0: win[1], x1: win[2], y1: win[3] };
}

/** Feeds the pixels of an ImageBitmap to the engine in strips, exactly (1:1 draws, no resampling). */
function pushBitmap(bitmap) {
  const w = bitmap.width, h = bitmap.height;
  const { x0, y0, x1, y1 } = begin(w, h);
  const ww = x1 - x0;
  if (!ww) return [w, h];
  const rows = Math.min(y1 - y0, stripRows(ww));
  const c = ensureCanvas(ww, rows);
  for (let y = y0; y < y1; y += rows) {
    const n = Math.min(rows, y1 - y);
    const t0 = performance.now();
    c.drawImage(bitmap, x0, y, ww, n, 0, 0, ww, n);
    let data;
    try {
      data = c.getImageData(0, 0, ww, n).data;
    } catch (e) {
      throw new WorkerError('IMAGE_DECODE', `cannot read the pixels (a cross-origin image without CORS?): ${e.message}`);
    }
    staging(data.length).set(data);
    copyMs += performance.now() - t0;
    engine.pushRows(y, x0, ww * 4, data.length, false);
  }
  return [w, h];
}

/** ImageData pixels (the page's clone): whole rows of the window, or its columns when narrower. */
function pushRgba(width, height, data) {
  if (data.length < width * height * 4) throw new WorkerError('INVALID_INPUT', 'ImageData is shorter than width x height x 4');
  const { x0, y0, x1, y1 } = begin(width, height);
  const ww = x1 - x0;
  if (!ww) return [width, height];
  const bytes = new Uint8Array(data.buffer, data.byteOffset, width * height * 4);
  const whole = ww * 4 > width * 3; // copying whole rows costs less than a copy per row
  const stride = whole ? width * 4 : ww * 4;
  const rows = stripRows(stride / 4);
  for (let y = y0; y < y1; y += rows) {
    const n = Math.min(rows, y1 - y);
    const t0 = performance.now();
    const view = staging(n * stride);
    if (whole) view.set(bytes.subarray(y * stride, (y + n) * stride));
    else for (let r = 0; r < n; r++) view.set(bytes.subarray(((y + r) * width + x0) * 4, ((y + r) * width + x1) * 4), r * stride);
    copyMs += performance.now() - t0;
    engine.pushRows(y, whole ? 0 : x0, stride, n * stride, false);
  }
  return [width, height];
}

// VideoFrame layouts copied as they are (4 bytes per pixel); the engine reads either order.
const FRAME_RGB = { RGBA: false, RGBX: false, BGRA: true, BGRX: true };

// Whether this browser's VideoFrame.copyTo converts to another pixel format (its options
// dictionary has `format`; WebIDL reads only the members it knows).
let copyToConverts;
function frameCopyConverts(frame) {
  if (copyToConverts === undefined) {
    copyToConverts = false;
    try {
      frame.allocationSize({ get format() { copyToConverts = true; return 'RGBA'; } });
    } catch { /* an engine that knows the member but not this use */ }
  }
  return copyToConverts;
}

/**
 * A VideoFrame's window copied by VideoFrame.copyTo straight into wasm memory: its own bytes for
 * RGB formats, converted to RGBA by the browser for YUV ones (where it can; rects aligned to the
 * chroma grid). Returns null when the frame must take the ImageBitmap path instead (rotated,
 * scaled for display, or a format the browser will not convert here).
 */
async function pushFrame(frame) {
  const vis = frame.visibleRect;
  if (!vis || typeof frame.copyTo !== 'function' || frame.rotation || frame.flip) return null;
  const w = vis.width, h = vis.height;
  if (frame.displayWidth !== w || frame.displayHeight !== h) return null;
  let blueFirst = FRAME_RGB[frame.format];
  let align = 1;
  if (blueFirst === undefined) {
    if (!frame.format || !frameCopyConverts(frame)) return null;
    blueFirst = false;
    align = 2; // 4:2:0 and 4:2:2 chroma: even offsets and sizes
  }
  let { x0, y0, x1, y1 } = begin(w, h);
  if (x1 === x0) return [w, h];
  x0 -= x0 % align;
  y0 -= y0 % align;
  x1 = Math.min(w, x1 + (x1 % align));
  y1 = Math.min(h, y1 + (y1 % align));
  if ((vis.x | vis.y | (x1 - x0) | (y1 - y0)) % align) return null;
  const ww = x1 - x0, stride = ww * 4;
  let rows = Math.min(y1 - y0, stripRows(ww));
  rows -= rows % align || 0;
  for (let y = y0; y < y1; y += rows) {
    const n = Math.min(rows, y1 - y);
    const options = { rect: { x: vis.x + x0, y: vis.y + y, width: ww, height: n }, layout: [{ offset: 0, stride }] };
    if (align > 1) options.format = 'RGBA';
    // Nothing else calls the engine until copyTo is done (one request at a time), so the staging
    // area stays where it is.
    const t0 = performance.now();
    await frame.copyTo(staging(n * stride), options);
    copyMs += performance.now() - t0;
    engine.pushRows(y, x0, stride, n * stride, blueFirst);
  }
  return [w, h];
}
// Where an image file's dimensions are looked for: the first 256 KiB; a JPEG or TIFF whose header
// lies further (large EXIF / ICC segments before the frame header) gets up to 8 MiB.
const HEADER_PROBE = [256 << 10, 8 << 20];

/**
 * Refuses (IMAGE_TOO_LARGE, thrown by the engine's header reader) a file whose header declares
 * more pixels than the engine accepts, before the browser decodes it: a few kB can declare
 * 30000x30000 and the decoder would allocate gigabytes.
 */
async function checkImageHeader(blob) {
  for (const n of HEADER_PROBE) {
    const head = new Uint8Array(await blob.slice(0, n).arrayBuffer());
    if (glue.imageHeader(head) !== undefined || blob.size <= n) return;
    const jpegOrTiff = (head[0] === 0xff && head[1] === 0xd8) || (head[0] === 0x49 && head[1] === 0x49) || (head[0] === 0x4d && head[1] === 0x4d);
    if (!jpegOrTiff) return; // other formats keep their size at the start; unknown ones: the browser decides
  }
}

async function decode(source) {
  if (source.kind === 'blob') await checkImageHeader(source.blob);
  try {
    if (source.kind === 'blob') {
      return await createImageBitmap(source.blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
    }
    if (source.kind === 'frame') return await createImageBitmap(source.frame);
  } catch (e) {
    const what = source.kind === 'blob' ? `${source.blob.type || 'untyped'} Blob of ${source.blob.size} bytes` : 'VideoFrame';
    throw new WorkerError('IMAGE_DECODE', `the browser could not decode the ${what} as an image: ${e.message}`);
  }
  return source.bitmap;
}

/** Pushes the source's pixels into the engine; returns [width, height]. */
async function pushSource(source) {
  if (source.kind === 'rgba') return pushRgba(source.width, source.height, source.data);
  if (source.kind === 'frame') {
    try {
      const size = await pushFrame(source.frame);
      if (size) return size;
    } catch (e) {
      if (e instanceof WorkerError) throw e;
      // copyTo refused this frame: the ImageBitmap path below reads it instead.
    }
  }
  const bitmap = await decode(source);
  try {
    return pushBitmap(bitmap);
  } finally {
    bitmap.close();
  }
}

async function run({ source, topk, embed, probabilities, trace }) {
  if (!engine) throw new WorkerError('INTERNAL', 'run before init');
  const t0 = performance.now();
  copyMs = 0;
  let size;
  try {
    size = await pushSource(source);
  } finally {
    if (source.kind === 'frame') source.frame.close();
  }
  const tPushed = trace ? performance.now() : 0;
  engine.finishImage();
  const t1 = performance.now();
  engine.infer();
  const t2 = performance.now();
  const result = { width: size[0], height: size[1], preprocessMs: t1 - t0, inferenceMs: t2 - t1 };
  // Test/bench hook: when this run started, its pixels were in, preprocessing and inference ended
  // (ms on the shared clock: timeOrigin + now; the listener adds its receive and reply times).
  if (trace) {
    result.trace = [t0, tPushed, t1, t2].map((t) => performance.timeOrigin + t);
    result.copyMs = copyMs; // of t0..tPushed: the pixels' copy (the rest: decode, the horizontal pass)
  }
  if (embed) result.embedding = engine.embedding();
  if (probabilities) result.probabilities = engine.probabilities(); // the learner's features
  if (!embed) result.top = engine.topK(topk);
  if (source.kind === 'rgba') result.pixels = source.data.buffer; // back to the page, for its next ImageData
  return result;
}

function stats({ gc: collect }) {
  // Tests launch Chromium with --js-flags=--expose-gc to measure after a collection.
  if (collect && typeof self.gc === 'function') self.gc();
  return {
    wasmMemoryBytes: exportsWasm ? exportsWasm.memory.buffer.byteLength : 0,
    engineBytes: engine ? engine.memoryBytes() : 0,
  };
}

const OPS = { load, init, run, stats, debugPanic: ({ inPool }) => glue.DebugHooks.panic(!!inPool) };

function isMemoryError(e) {
  return e instanceof RangeError && /memory|allocat/i.test(e.message);
}

function toWire(e) {
  if (e instanceof WebAssembly.RuntimeError || (e && e.name === 'RuntimeError')) {
    let panic;
    try { panic = glue && glue.lastPanic(); } catch { /* the instance may be too broken to ask */ }
    return {
      code: 'INTERNAL',
      message: `the engine crashed${panic ? `: ${panic}` : ` (${e.message})`}`,
      panic,
      fatal: true,
    };
  }
  if (e && typeof e.code === 'string') return { code: e.code, message: e.message, panic: e.panic, fatal: e.fatal };
  if (isMemoryError(e)) return { code: 'OUT_OF_MEMORY', message: `out of memory: ${e.message}`, fatal: true };
  return { code: 'INTERNAL', message: String(e && e.message || e) };
}

self.addEventListener('message', async (ev) => {
  const msg = ev.data;
  if (msg && msg.op === 'poolFailed') {
    failPool(msg.message);
    return;
  }
  if (!msg || typeof msg.id !== 'number' || !(msg.op in OPS)) return; // not ours
  try {
    const received = msg.trace ? performance.timeOrigin + performance.now() : 0;
    const result = await OPS[msg.op](msg);
    if (result && result.trace) result.trace.unshift(received);
    const transfer = result ? [result.top, result.embedding, result.probabilities].filter(Boolean).map((a) => a.buffer) : [];
    if (result && result.pixels) transfer.push(result.pixels);
    if (result && result.trace) result.trace.push(performance.timeOrigin + performance.now());
    self.postMessage({ id: msg.id, ok: true, result }, transfer);
  } catch (e) {
    self.postMessage({ id: msg.id, ok: false, error: toWire(e) });
  }
});
