// watch(): live classification of a <video> fed by each engine's fake camera (lib/engines.mjs):
// Chromium plays a Y4M made from a real photo (so the label is known), Firefox and WebKit their own
// fake devices (a synthetic picture: there the test checks the model sees the camera's pixels).
// stop(), maxFps, pausing while hidden, no backlog; and a soak with flat memory.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { startServer } from './lib/server.mjs';
import { launchChromium, workerHeapProbe } from './lib/browser.mjs';
import { ENGINES, launchEngine } from './lib/engines.mjs';
import { photoToY4m } from './lib/y4m.mjs';
import { shared, sharedAvailable, requireShared } from './lib/shared.mjs';

const PAGE = '/tests/browser/pages/runtime.html';
const SMALL = 'tf_mobilenetv3_small_100';
const KOALA = 105;
// Soak length: Chromium (the fastest launch, CDP heap probes) 1000 frames; the others 300 (CI time).
const SOAK_FRAMES = { chromium: 1000, firefox: 300, webkit: 300 };
let srv, camFile;

before(async () => {
  srv = await startServer({ isolated: true });
  if (!sharedAvailable() || !ENGINES.includes('chromium')) return; // the tests report the skip / failure
  const decoder = await launchChromium();
  try {
    camFile = await photoToY4m(decoder, shared.photo('koala.jpg'), { width: 640, height: 480, frames: 30 });
  } finally {
    await decoder.close();
  }
});

after(async () => {
  await srv?.close();
  if (camFile) rmSync(path.dirname(camFile), { recursive: true, force: true });
});

for (const engine of ENGINES) describe(engine, () => {
  let browser;
  const knownPicture = engine === 'chromium'; // the koala Y4M; the others show their own test picture

  before(async () => {
    if (!sharedAvailable()) return;
    browser = await launchEngine(engine, { camera: engine === 'chromium' ? camFile : true, sharedArrayBuffer: true });
  });
  after(() => browser?.close());

  /** Opens the page, starts the camera in a <video> and a classifier (window.clf, window.video). */
  async function openCamera(threads = 2) {
    const page = await browser.open(srv.url + PAGE);
    await page.evaluate(async ({ SMALL, threads }) => {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
      const video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      video.srcObject = stream;
      document.body.append(video);
      await video.play();
      window.video = video;
      window.clf = await mnv3.createClassifier({ ...T.local(SMALL), threads, cache: false });
    }, { SMALL, threads });
    return page;
  }

  test('watch() on a fake camera: right label, latest frame wins, maxFps, pauses while hidden, stop() stops', async (t) => {
    if (!requireShared(t)) return;
    const page = await openCamera();
    try {
      const out = await page.evaluate(async () => {
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const r = { build: clf.info.build, rvfc: typeof video.requestVideoFrameCallback === 'function' };
        // As fast as possible; sample the queue: never more than the one frame in flight.
        const seen = [];
        let maxQueue = 0;
        let presented = 0;
        let wellFormed = true;
        const countFrames = () => { presented++; video.requestVideoFrameCallback(countFrames); };
        if (r.rvfc) video.requestVideoFrameCallback(countFrames);
        const stop = clf.watch(video, (res) => {
          seen.push(res.top[0].index);
          wellFormed &&= res.top.length === 3 && res.top.every((p, i) => Number.isInteger(p.index) && p.index >= 0 && p.index < 1000 &&
            Number.isFinite(p.probability) && (i === 0 || p.probability <= res.top[i - 1].probability));
          maxQueue = Math.max(maxQueue, clf._engine.queue.length);
        }, { topk: 3 });
        const t0 = performance.now();
        while (seen.length < 30) {
          await sleep(50);
          if (performance.now() - t0 > 20000) break;
        }
        stop();
        const atStop = seen.length;
        await sleep(700);
        const seconds = (performance.now() - t0) / 1000;
        r.fast = { seen: atStop, afterStop: seen.length - atStop, koala: seen.filter((i) => i === 105).length, presented, maxQueue, first: seen[0], wellFormed, fps: atStop / seconds };
        // The model sees the camera's pixels: the paused video = a canvas copy of it, and not a blank frame.
        video.pause();
        const c = document.createElement('canvas');
        c.width = video.videoWidth;
        c.height = video.videoHeight;
        const ctx = c.getContext('2d');
        ctx.drawImage(video, 0, 0);
        const px = ctx.getImageData(0, 0, c.width, c.height).data;
        let min = 255, max = 0;
        for (let i = 0; i < px.length; i += 4) { min = Math.min(min, px[i + 1]); max = Math.max(max, px[i + 1]); }
        r.still = {
          size: [c.width, c.height], greenRange: max - min,
          video: (await clf.classify(video, { topk: 3 })).top.map((p) => p.index),
          canvas: (await clf.classify(c, { topk: 3 })).top.map((p) => p.index),
        };
        await video.play();
        // maxFps: 5 per second for 2 s.
        const slow = [];
        const stop2 = clf.watch(video, (res) => slow.push(res.top.length), { maxFps: 5 });
        await sleep(2000);
        stop2();
        r.maxFps = { n: slow.length, topk: slow[0] };
        // Hidden document: no classification; visible again: resumes.
        const hidden = [];
        const stop3 = clf.watch(video, () => hidden.push(document.hidden));
        await sleep(500);
        Object.defineProperty(document, 'hidden', { value: true, configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
        await sleep(200);
        const whileHiddenStart = hidden.length;
        await sleep(800);
        r.hidden = { before: whileHiddenStart, during: hidden.length - whileHiddenStart };
        delete document.hidden;
        document.dispatchEvent(new Event('visibilitychange'));
        await sleep(800);
        r.hidden.after = hidden.length - whileHiddenStart - r.hidden.during;
        stop3();
        stop3(); // idempotent
        // dispose() stops watches.
        const late = [];
        clf.watch(video, () => late.push(1));
        await sleep(300);
        clf.dispose();
        const atDispose = late.length;
        await sleep(500);
        r.dispose = { before: atDispose, after: late.length - atDispose };
        return r;
      });
      t.diagnostic(`${engine} watch (${out.build}): ${out.fast.seen} results (${out.fast.fps.toFixed(1)} per second) while the camera presented ${out.fast.presented} frames; still frame ${out.still.size.join('x')}, top-3 ${out.still.video}`);
      assert.ok(out.fast.seen >= 30, JSON.stringify(out.fast));
      assert.equal(out.fast.wellFormed, true, 'every result: 3 classes, finite, sorted');
      if (knownPicture) {
        assert.equal(out.fast.first, KOALA);
        assert.ok(out.fast.koala >= out.fast.seen - 1, `koala on ${out.fast.koala}/${out.fast.seen} frames`);
      }
      assert.deepEqual(out.still.size, [640, 480]);
      assert.ok(out.still.greenRange > 20, `the camera frame is blank (green range ${out.still.greenRange})`);
      assert.deepEqual(out.still.video, out.still.canvas, 'a paused video frame = its canvas copy');
      assert.equal(out.fast.afterStop, 0, 'no callback after stop()');
      assert.ok(out.fast.maxQueue <= 1, `queue grew to ${out.fast.maxQueue}`);
      assert.equal(out.rvfc, true, 'requestVideoFrameCallback (watch() falls back to requestAnimationFrame without it)');
      assert.ok(out.fast.seen <= out.fast.presented + 1, 'at most one classification per presented frame');
      assert.ok(out.maxFps.n >= 6 && out.maxFps.n <= 11, `maxFps 5 for 2 s gave ${out.maxFps.n}`);
      assert.equal(out.maxFps.topk, 3, 'watch default topk is 3');
      assert.ok(out.hidden.before > 0);
      assert.equal(out.hidden.during, 0, 'nothing while hidden');
      assert.ok(out.hidden.after > 0, 'resumes when visible');
      assert.ok(out.dispose.before > 0);
      assert.equal(out.dispose.after, 0);
      assert.deepEqual(await page.errors(), []);
    } finally {
      await page.close();
    }
  });

  const frames = SOAK_FRAMES[engine];
  test(`soak: watch() for ${frames} frames; wasm memory${engine === 'chromium' ? ' and JS heaps (page, worker)' : ''} stay flat`, async (t) => {
    if (!requireShared(t)) return;
    const page = await openCamera();
    // Chromium only: the worker's JS heap through CDP, the page's through performance.memory.
    const probe = engine === 'chromium' ? await workerHeapProbe(page.context, page.raw) : null;
    try {
      await page.evaluate(() => {
        window.soak = { n: 0, koala: 0, maxQueue: 0 };
        window.stopSoak = clf.watch(video, (r) => {
          soak.n++;
          if (r.top[0].index === 105) soak.koala++;
          soak.maxQueue = Math.max(soak.maxQueue, clf._engine.queue.length);
        });
      });
      const samples = [];
      const t0 = Date.now();
      for (let k = 1; k <= 10; k++) {
        await page.waitFor((at) => soak.n >= at, (frames / 10) * k, { timeout: 120000, interval: 100 });
        const s = await page.evaluate(async () => {
          if (typeof gc === 'function') gc();
          const stats = await clf._debug.stats(true);
          return { n: soak.n, mainHeap: performance.memory ? performance.memory.usedJSHeapSize : 0, wasm: stats.wasmMemoryBytes, engine: stats.engineBytes };
        });
        let workerHeap = 0;
        if (probe) {
          const workers = await probe.measure();
          assert.equal(workers.length, 1, 'one runtime worker');
          workerHeap = workers[0].usedBytes;
        }
        samples.push({ ...s, workerHeap });
      }
      const seconds = (Date.now() - t0) / 1000;
      const end = await page.evaluate(() => {
        stopSoak();
        return soak;
      });
      const first = samples[0];
      const last = samples.at(-1);
      const mib = (b) => (b / 1048576).toFixed(2);
      t.diagnostic(`${engine} soak: ${end.n} frames in ${seconds.toFixed(0)} s (${(end.n / seconds).toFixed(1)} fps), koala on ${end.koala}`);
      const heaps = probe
        ? `page JS heap ${mib(first.mainHeap)} -> ${mib(last.mainHeap)} MiB; worker JS heap ${mib(first.workerHeap)} -> ${mib(last.workerHeap)} MiB (after GC)`
        : 'JS heaps not measurable in this engine';
      t.diagnostic(`${engine}: wasm memory ${mib(first.wasm)} -> ${mib(last.wasm)} MiB; ${heaps}; frames ${first.n} -> ${last.n}`);
      t.diagnostic(`samples: ${JSON.stringify(samples.map((s) => [s.n, mib(s.wasm), mib(s.mainHeap), mib(s.workerHeap)]))}`);
      assert.ok(end.n >= frames);
      if (knownPicture) assert.ok(end.koala >= end.n * 0.99, `koala on ${end.koala}/${end.n}`);
      assert.ok(end.maxQueue <= 1, `queue grew to ${end.maxQueue}`);
      for (const s of samples) assert.equal(s.wasm, first.wasm, `wasm memory grew at frame ${s.n}`);
      const maxMain = Math.max(...samples.map((s) => s.mainHeap));
      const maxWorker = Math.max(...samples.map((s) => s.workerHeap));
      assert.ok(maxMain - first.mainHeap < 1 << 20, `page heap grew by ${maxMain - first.mainHeap} bytes`);
      assert.ok(maxWorker - first.workerHeap < 1 << 20, `worker heap grew by ${maxWorker - first.workerHeap} bytes`);
      assert.deepEqual(await page.errors(), []);
    } finally {
      await probe?.close();
      await page.evaluate(() => window.clf && clf.dispose()).catch(() => {});
      await page.close();
    }
  });
});
