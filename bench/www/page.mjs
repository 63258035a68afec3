// Benchmark page, driven by bench/run.mjs in Chromium, Firefox and WebKit (window.bench.*). Every contender
// runs in its own dedicated Worker (several started at once, timed one batch at a time); the page only
// decodes the photo, hands out the one input tensor, and relays timings.

import { hasRelaxedSimd } from '/js/builds.js';

const logEl = document.getElementById('log');
const log = (s) => { logEl.textContent += `\n${s}`; };

let nextId = 1;
const handles = new Map();

/** A worker with request/response by id; rejects everything pending if the worker dies. */
class Peer {
  constructor(url, type) {
    this.worker = new Worker(url, { type });
    this.pending = new Map();
    this.worker.onmessage = ({ data }) => {
      const p = this.pending.get(data.id);
      if (!p) return;
      this.pending.delete(data.id);
      if (data.ok) p.ok(data.result);
      else p.fail(new Error(data.error));
    };
    const die = (what) => (e) => {
      const msg = `${what}: ${e.message || e.type || e}${e.filename ? ` (${e.filename}:${e.lineno})` : ''}`;
      for (const p of this.pending.values()) p.fail(new Error(msg));
      this.pending.clear();
    };
    this.worker.onerror = die('worker error');
    this.worker.onmessageerror = die('worker message error');
    this.seq = 1;
  }
  call(cmd, args = {}, transfer = []) {
    const id = this.seq++;
    return new Promise((ok, fail) => {
      this.pending.set(id, { ok, fail });
      this.worker.postMessage({ ...args, id, cmd }, transfer);
    });
  }
  terminate() {
    this.worker.terminate();
    for (const w of this.pool || []) w.terminate();
  }
}

const WORKERS = {
  ours: ['./worker-ours.mjs', 'module'],
  ort: ['./worker-ort.mjs', 'module'],
  tfjs: ['./worker-tfjs.js', 'classic'],
  litert: ['./worker-litert.js', 'classic'],
  roofline: ['./worker-roofline.mjs', 'module'],
};

function spawn(kind) {
  const [url, type] = WORKERS[kind];
  return new Peer(new URL(url, import.meta.url), type);
}

const inputs = new Map(); // model name -> { nhwc, nchw, size }

async function decode(url) {
  const blob = await (await fetch(url)).blob();
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bmp, 0, 0);
  const img = ctx.getImageData(0, 0, bmp.width, bmp.height);
  return { width: bmp.width, height: bmp.height, rgba: new Uint8Array(img.data.buffer) };
}

window.bench = {
  env() {
    return {
      relaxedSimd: hasRelaxedSimd(),
      crossOriginIsolated: self.crossOriginIsolated,
      hardwareConcurrency: navigator.hardwareConcurrency,
      userAgent: navigator.userAgent,
      sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    };
  },

  /** Decode the photo in the browser and preprocess it with our engine (timm's eval transform). */
  async prepare(model, photoUrl) {
    this.photoUrl = photoUrl;
    const img = await decode(photoUrl);
    const peer = spawn('ours');
    try {
      await peer.call('init', { build: 'single', threads: 1, model });
      const r = await peer.call('preprocess', img);
      const size = r.size;
      const nhwc = r.tensor;
      const nchw = new Float32Array(nhwc.length);
      const hw = size * size;
      for (let i = 0; i < hw; i++) for (let c = 0; c < 3; c++) nchw[c * hw + i] = nhwc[i * 3 + c];
      inputs.set(model.name, { nhwc, nchw, size });
      let sum = 0;
      for (const v of nhwc) sum += v;
      log(`${model.name}: ${photoUrl} ${img.width}x${img.height} -> ${size}x${size}x3, sum ${sum.toFixed(3)}`);
      return { width: img.width, height: img.height, size, sum, first: Array.from(nhwc.slice(0, 6)) };
    } finally {
      peer.terminate();
    }
  },

  /** Start a contender: load its library and the model, run once; returns logits for the gate. */
  async start(spec) {
    const input = inputs.get(spec.model.name);
    if (!input) throw new Error(`prepare(${spec.model.name}) first`);
    const peer = spawn(spec.engine);
    const handle = nextId++;
    handles.set(handle, peer);
    // Our threaded build: the page starts the pool's workers, as the npm package does (js/rpc.js;
    // js/pool-worker.js says why), and hands their ports to the contender's worker.
    let init = spec, transfer = [];
    if (spec.engine === 'ours' && spec.build.startsWith('threaded')) {
      const n = spec.threads === 'auto' ? Math.min(navigator.hardwareConcurrency || 1, 4) : spec.threads;
      peer.pool = [];
      const poolPorts = Array.from({ length: n }, () => {
        const channel = new MessageChannel();
        const w = new Worker('/js/pool-worker.js', { type: 'module', name: 'mobilenetv3-pool' });
        peer.pool.push(w);
        w.postMessage({ port: channel.port1 }, [channel.port1]);
        return channel.port2;
      });
      init = { ...spec, poolPorts };
      transfer = poolPorts;
    }
    const t0 = performance.now();
    const info = await peer.call('init', init, transfer);
    const initMs = performance.now() - t0;
    const tensor = spec.engine === 'ort' || spec.engine === 'litert' ? input.nchw : input.nhwc;
    const t1 = performance.now();
    const { logits, workersSpawned: own } = await peer.call('infer', { tensor: tensor.slice(), size: input.size });
    const workersSpawned = own + (peer.pool ? peer.pool.length : 0);
    const firstMs = performance.now() - t1;
    log(`${spec.id}: ${JSON.stringify(info)}`);
    return { handle, info, initMs, firstMs, logits: Array.from(logits), workersSpawned };
  },

  async time(handle, warmup, iters) {
    return handles.get(handle).call('time', { warmup, iters });
  },

  async profile(handle, reps) {
    return handles.get(handle).call('profile', { reps });
  },

  async stages(handle, reps) {
    return handles.get(handle).call('stages', { reps });
  },

  stop(handle) {
    const peer = handles.get(handle);
    if (peer) peer.terminate();
    handles.delete(handle);
  },

  /**
   * Whole-call overhead of the npm package (js/index.js): classify() of a 224x224 ImageData, and
   * watch() on a 640x480 <video> (a canvas stream), each result's totalMs minus its inferenceMs
   * (classify: timed by the page around the call; watch: the result's totalMs, from the frame's
   * classify() call to its result).
   */
  /**
   * callOverhead in the background: bench/run.mjs polls overheadPoll() (one long evaluate would
   * meet the driver's HTTP timeouts: WebKitWebDriver's answer comes only when the script ends, and
   * Node's fetch gives up after 300 s) and, when it takes too long, reports the step it was at.
   */
  overheadStart(args) {
    const state = this.overhead = { step: 'starting', done: false };
    this.callOverhead(args, (step) => { state.step = step; }).then(
      (result) => Object.assign(state, { done: true, result }),
      (e) => Object.assign(state, { done: true, error: String((e && e.message) || e) }),
    );
    return true;
  },

  overheadPoll() {
    return this.overhead;
  },

  async callOverhead({ weightsUrl, configUrl, threads, n, photoUrl }, step = () => {}) {
    if (photoUrl) this.photoUrl = photoUrl;
    const { createClassifier } = await import('/js/index.js');
    step(`createClassifier({threads: ${threads}})`);
    const clf = await createClassifier({ weights: weightsUrl, config: configUrl, threads, cache: false });
    const out = { info: { build: clf.info.build, simd: clf.info.simd, threads: clf.info.threads, buildReason: clf.info.buildReason } };
    clf._debug.trace(true);
    // Each call's steps (ms) from its trace (js/index.js _debug.lastTrace).
    const steps = () => {
      const t = clf._debug.lastTrace();
      const d = (a, b) => t[b] - t[a];
      return { wire: d(0, 1), toWorker: d(1, 2), workerStart: d(2, 3), pixelsIn: d(3, 4), copy: clf._debug.lastCopyMs(), finish: d(4, 5), inference: d(5, 6), reply: d(6, 7), toPage: d(7, 8), resolve: d(8, 9) };
    };
    try {
      const c = new OffscreenCanvas(224, 224);
      const g = c.getContext('2d');
      const bmp = await createImageBitmap(await (await fetch(this.photoUrl)).blob());
      g.drawImage(bmp, 0, 0, 224, 224);
      const img = g.getImageData(0, 0, 224, 224);
      const rows = [];
      for (let i = 0; i < n + 5; i++) {
        step(`classify(ImageData) ${i + 1} of ${n + 5}`);
        // The page's own clock from the call to the resolved promise (what a user measures).
        const t0 = performance.now();
        const r = await clf.classify(img);
        const totalMs = performance.now() - t0;
        if (i >= 5) rows.push({ ...r.timings, totalMs, steps: steps() });
      }
      out.classify224 = rows;
      // watch(): a 640x480 canvas painted every frame, as a camera would deliver.
      const canvas = document.createElement('canvas');
      canvas.width = 640;
      canvas.height = 480;
      const cg = canvas.getContext('2d');
      let frame = 0;
      const paint = () => {
        cg.drawImage(bmp, 0, 0, 640, 480);
        cg.fillStyle = `rgb(${frame % 255}, 0, 0)`;
        cg.fillRect(0, 0, 8, 8);
        frame++;
      };
      paint();
      const video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      video.srcObject = canvas.captureStream(30);
      document.body.appendChild(video);
      step('video.play() of a canvas stream (waiting for its first frame)');
      // Bounded, canvas repainted meanwhile: in WebKitGTK a bare `await video.play()` of a
      // canvas stream sometimes never settles (tests/browser/lib/play-video.mjs).
      const { playVideo } = await import('/tests/browser/lib/play-video.mjs');
      await playVideo(video, paint);
      step('watch(): 0 results');
      const timer = setInterval(paint, 33);
      const seen = [];
      await new Promise((resolve, reject) => {
        const stop = clf.watch(video, (r) => {
          seen.push({ ...r.timings, width: r.width, height: r.height, steps: steps() });
          step(`watch(): ${seen.length} results`);
          if (seen.length >= n + 5) { stop(); resolve(); }
        }, { onError: (e) => { stop(); reject(e); } });
        setTimeout(() => { stop(); resolve(); }, 60000);
      });
      clearInterval(timer);
      video.remove();
      out.watch = seen.slice(5);
    } finally {
      clf.dispose();
    }
    return out;
  },

  /** The f32x4 mul+add roofline: `workers` workers at once, each on its own core if it can. */
  async roofline(wasmUrls, workers, seconds) {
    const peers = Array.from({ length: workers }, () => spawn('roofline'));
    try {
      await Promise.all(peers.map((p) => p.call('load', { urls: wasmUrls })));
      // Warm up and pick the loop size alone, then run all workers together.
      await Promise.all(peers.map((p) => p.call('warm', {})));
      const sab = new SharedArrayBuffer(4);
      const flag = new Int32Array(sab);
      const runs = peers.map((p) => p.call('run', { seconds, flag }));
      await new Promise((r) => setTimeout(r, 50));
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      return await Promise.all(runs);
    } finally {
      for (const p of peers) p.terminate();
    }
  },
};

log(`ready; crossOriginIsolated=${self.crossOriginIsolated}`);
window.__ready = true;
