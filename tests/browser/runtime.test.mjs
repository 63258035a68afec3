// Browser runtime (js/): real photos in each engine (lib/engines.mjs: Chromium, Firefox, WebKit),
// threaded and single builds, parity with timm; in Chromium also parity with the native engine,
// every source type, queueing, caching, timings and EXIF.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, REPO_ROOT } from './lib/server.mjs';
import { startIsolatedAndPlain } from './lib/browser.mjs';
import { ENGINES, launchEngine } from './lib/engines.mjs';
import { shared, requireShared, MODELS_UNDER_TEST } from './lib/shared.mjs';

const PAGE = '/tests/browser/pages/runtime.html';

function photoUrls() {
  return shared.labels().map((l) => shared.photoUrl(l.file));
}

for (const engine of ENGINES) describe(engine, () => {
  let iso, plain, browser, env;
  const results = {}; // model -> build -> [{ url, top }]

  // WebKit: with SharedArrayBuffer exposed on isolated pages, as Safari does (JSC_useSharedArrayBuffer).
  before(async () => ({ iso, plain, browser } = env = await startIsolatedAndPlain({ engine, sharedArrayBuffer: true })));
  after(() => env?.close());

  const open = (srv) => browser.open(srv.url + PAGE);

  /** Classifies the 16 photos with `model` on `srv`; returns { info, rows, errors }. */
  async function classifyPhotos(srv, model, threads) {
    const page = await open(srv);
    try {
      const out = await page.evaluate(async ({ model, urls, threads }) => {
        const clf = await mnv3.createClassifier({ ...T.local(model), threads, cache: false });
        const rows = await T.classifyUrls(clf, urls, 5);
        const { labels, ...info } = clf.info;
        clf.dispose();
        const relaxedSimd = (await import('/js/builds.js')).hasRelaxedSimd();
        return { info, rows, labelCount: labels.length, relaxedSimd };
      }, { model, urls: photoUrls(), threads });
      return { ...out, errors: await page.errors() };
    } finally {
      await page.close();
    }
  }

  for (const model of MODELS_UNDER_TEST) {
    test(`${model}: threaded build on a cross-origin isolated page reproduces timm's top-5 on the 16 photos`, async (t) => {
      if (!requireShared(t)) return;
      const { info, rows, labelCount, errors, relaxedSimd } = await classifyPhotos(iso, model, 2);
      assert.equal(info.build, 'threaded', info.buildReason);
      assert.equal(info.threads, 2);
      assert.ok(info.threads > 1);
      assert.equal(info.crossOriginIsolated, true);
      assert.equal(info.architecture, model);
      assert.equal(info.numClasses, 1000);
      assert.equal(labelCount, 1000);
      assert.equal(info.inputSize, 224);
      // The relaxed-SIMD (FMA) build wherever the browser has relaxed SIMD (js/builds.js).
      assert.equal(info.simd, relaxedSimd ? 'wasm-relaxed-simd' : 'wasm-simd128');
      t.diagnostic(`${engine} ${model}: ${info.build}, ${info.threads} threads, ${info.simd}`);
      const timm = shared.timmTop5();
      const labels = shared.labels();
      let top5Same = 0;
      for (const [i, row] of rows.entries()) {
        const file = labels[i].file;
        const ref = timm[file][model];
        const got = row.top.map((p) => p.index);
        assert.equal(got[0], ref.top5[0], `${file}: top-1 ${got[0]} (${row.top[0].label}), timm says ${ref.top5[0]}`);
        if (JSON.stringify(got) === JSON.stringify(ref.top5)) top5Same++;
        else t.diagnostic(`${file}: browser top-5 ${got} vs timm ${ref.top5}`);
        // Browser JPEG decoding is close to PIL's (both libjpeg-turbo); probabilities within 2e-3.
        for (let k = 0; k < 5; k++) {
          if (got[k] === ref.top5[k]) assert.ok(Math.abs(row.top[k].probability - ref.p5[k]) < 2e-3, `${file} #${k}`);
        }
      }
      t.diagnostic(`${engine} ${model}: browser-decoded JPEGs give timm's exact top-5 (indices, order) on ${top5Same}/16 photos`);
      assert.ok(top5Same >= 15, `only ${top5Same}/16 photos match timm's top-5`);
      assert.deepEqual(errors, []);
      (results[model] ||= {}).threaded = rows;
    });

    test(`${model}: single-threaded build on a page without COOP/COEP, same results`, async (t) => {
      if (!requireShared(t)) return;
      const { info, rows, errors } = await classifyPhotos(plain, model, 'auto');
      assert.equal(info.build, 'single');
      assert.equal(info.threads, 1);
      assert.equal(info.crossOriginIsolated, false);
      assert.match(info.buildReason, /not crossOriginIsolated/);
      assert.deepEqual(errors, []);
      const threaded = results[model] && results[model].threaded;
      assert.ok(threaded, 'the threaded test ran first');
      for (const [i, row] of rows.entries()) {
        assert.deepEqual(row.top.map((p) => p.index), threaded[i].top.map((p) => p.index), row.url);
        for (let k = 0; k < 5; k++) {
          assert.ok(Math.abs(row.top[k].probability - threaded[i].top[k].probability) < 1e-5, `${row.url} #${k}`);
        }
      }
    });
  }

  test('the image path: reused buffers across sizes, VideoFrames copied as RGBX/BGRA and from a <video>, the caller keeps its ImageData', async (t) => {
    if (!requireShared(t)) return;
    const page = await open(iso);
    try {
      const out = await page.evaluate(async () => {
        const bmp = await createImageBitmap(await T.fetchBlob('/shared/photos/koala.jpg'));
        const pixels = (w, h) => {
          const c = new OffscreenCanvas(w, h);
          const g = c.getContext('2d');
          g.drawImage(bmp, 0, 0, w, h);
          return g.getImageData(0, 0, w, h);
        };
        // 224 (upscaled to 256, then cropped), 256 (already the resize target: no resampling),
        // 640x480 (a camera frame), 97x301 (odd, portrait).
        const sizes = [[224, 224], [256, 256], [640, 480], [97, 301]];
        const images = sizes.map(([w, h]) => pixels(w, h));
        const opts = { ...T.local('tf_mobilenetv3_small_100'), threads: 1, cache: false };
        const probs = (r) => r.top.map((p) => [p.index, p.probability]);
        // Each image alone in a fresh classifier, then all of them interleaved in one.
        const alone = [];
        for (const img of images) {
          const clf = await mnv3.createClassifier(opts);
          alone.push(probs(await clf.classify(img, { topk: 10 })));
          clf.dispose();
        }
        const clf = await mnv3.createClassifier(opts);
        const order = [2, 0, 3, 1, 2, 1, 0, 3, 0];
        const interleaved = [];
        for (const i of order) interleaved.push([i, probs(await clf.classify(images[i], { topk: 10 }))]);
        // The caller's ImageData is neither detached nor changed.
        const img = images[2];
        const intact = img.data.length === 640 * 480 * 4 && img.data.buffer.byteLength === 640 * 480 * 4;
        // VideoFrames over the same pixels as RGBX and as BGRA (copied as they are; the engine
        // reads blue-first rows itself): the ImageData's exact result.
        const frameOf = (format) => {
          const d = new Uint8Array(img.data);
          if (format === 'BGRA') for (let i = 0; i < d.length; i += 4) [d[i], d[i + 2]] = [d[i + 2], d[i]];
          return new VideoFrame(d, { format, codedWidth: 640, codedHeight: 480, timestamp: 0 });
        };
        const frames = {};
        for (const format of ['RGBX', 'BGRA']) {
          const f = frameOf(format);
          frames[format] = probs(await clf.classify(f, { topk: 10 }));
          frames[`${format}Open`] = f.codedWidth === 640; // the caller's frame is not closed
          f.close();
        }
        // A <video> playing a canvas: the VideoFrame of its current frame.
        const canvas = document.createElement('canvas');
        canvas.width = 640;
        canvas.height = 480;
        canvas.getContext('2d').putImageData(img, 0, 0);
        const video = document.createElement('video');
        video.muted = true;
        video.srcObject = canvas.captureStream(30);
        document.body.appendChild(video);
        await T.playVideo(video, () => canvas.getContext('2d').putImageData(img, 0, 0));
        await new Promise((r) => setTimeout(r, 300));
        const fromVideo = probs(await clf.classify(video, { topk: 10 }));
        const fromCanvas = probs(await clf.classify(canvas, { topk: 10 }));
        video.remove();
        clf.dispose();
        return { alone, interleaved, intact, frames, fromVideo, fromCanvas };
      });
      for (const [i, got] of out.interleaved) assert.deepEqual(got, out.alone[i], `image ${i} classified between others of other sizes`);
      assert.equal(out.intact, true, "the caller's ImageData keeps its pixels");
      assert.deepEqual(out.frames.RGBX, out.alone[2], 'RGBX VideoFrame = its ImageData');
      assert.deepEqual(out.frames.BGRA, out.alone[2], 'BGRA VideoFrame = its ImageData');
      assert.equal(out.frames.RGBXOpen && out.frames.BGRAOpen, true);
      // Canvas -> stream -> video may change colors a little (a video pipeline); same classes.
      assert.deepEqual(out.fromVideo.map((p) => p[0]).slice(0, 3), out.fromCanvas.map((p) => p[0]).slice(0, 3));
      const diff = Math.max(...out.fromVideo.map((p, k) => Math.abs(p[1] - out.fromCanvas[k][1])));
      t.diagnostic(`${engine}: <video> vs canvas top-10 probabilities differ by at most ${diff.toExponential(1)}`);
      assert.ok(diff < 0.02, `video vs canvas: ${diff}`);
      assert.deepEqual(await page.errors(), []);
    } finally {
      await page.close();
    }
  });

  test('capabilities() and info.capabilities: what the engine offers, the build chosen and why', async (t) => {
    if (!requireShared(t)) return;
    const report = async (srv) => {
      const page = await open(srv);
      try {
        return await page.evaluate(async (model) => {
          const caps = mnv3.capabilities();
          const clf = await mnv3.createClassifier({ ...T.local(model), cache: false });
          const { capabilities, build, buildReason } = clf.info;
          clf.dispose();
          return { caps, capabilities, build, buildReason };
        }, MODELS_UNDER_TEST[0]);
      } finally {
        await page.close();
      }
    };
    const onIso = await report(iso);
    const onPlain = await report(plain);
    t.diagnostic(`${engine} isolated page: ${JSON.stringify(onIso.caps)}`);
    t.diagnostic(`${engine} plain page: ${JSON.stringify(onPlain.caps)}`);
    // Relaxed SIMD: Chromium and Firefox 153 validate it, WebKitGTK 2.50 does not.
    const relaxed = engine !== 'webkit';
    for (const r of [onIso, onPlain]) {
      assert.deepEqual(r.capabilities, r.caps, 'info.capabilities = capabilities() on the same page');
      assert.equal(r.caps.simd128, true);
      assert.equal(r.caps.relaxedSimd, relaxed);
      assert.equal(r.caps.workers, true);
      assert.equal(r.caps.offscreenCanvas, true);
      assert.equal(r.caps.videoFrame, true);
      assert.equal(r.caps.requestVideoFrameCallback, true);
      assert.equal(r.caps.hardwareConcurrency, engine === 'webkit' ? 4 : r.caps.hardwareConcurrency);
      assert.equal(r.build, r.caps.build, 'the predicted build is the one started');
      assert.equal(r.buildReason.split(':')[0], r.caps.buildReason.split(':')[0]);
    }
    assert.equal(onIso.caps.crossOriginIsolated, true);
    assert.equal(onIso.caps.sharedArrayBuffer, true);
    assert.equal(onIso.caps.build, 'threaded');
    assert.equal(onPlain.caps.crossOriginIsolated, false);
    // WebKit with JSC_useSharedArrayBuffer has it everywhere; the runtime still needs isolation.
    assert.equal(onPlain.caps.sharedArrayBuffer, engine === 'webkit');
    assert.equal(onPlain.caps.build, 'single');
    assert.match(onPlain.caps.buildReason, /not crossOriginIsolated/);
  });

  test("threads 'auto' on an isolated page: more than 2 reported cores are checked by timing passes, and buildReason says so", async (t) => {
    if (!requireShared(t)) return;
    const page = await open(iso);
    try {
      const out = await page.evaluate(async (model) => {
        const clf = await mnv3.createClassifier({ ...T.local(model), threads: 'auto', cache: false });
        const { build, threads, buildReason } = clf.info;
        const r = await clf.classify(await T.fetchBlob('/shared/photos/koala.jpg'));
        clf.dispose();
        return { build, threads, buildReason, top: r.top[0].index, cores: navigator.hardwareConcurrency };
      }, 'tf_mobilenetv3_small_100');
      t.diagnostic(`${engine}: hardwareConcurrency ${out.cores}; ${out.buildReason}`);
      assert.equal(out.build, 'threaded');
      assert.equal(out.top, 105);
      const pool = Math.min(out.cores, 4);
      if (pool > 2) {
        // e.g. WebKit reports 4 cores on a 2-core machine: the pool has 4 threads, the team what ran fastest.
        const m = out.buildReason.match(/^threaded: (\d+) threads? \(auto: hardwareConcurrency (\d+); a forward pass took (.*): (\d+) threads?\)$/);
        assert.ok(m, out.buildReason);
        assert.equal(Number(m[1]), out.threads);
        assert.equal(Number(m[4]), out.threads);
        assert.equal(Number(m[2]), out.cores);
        assert.deepEqual([...m[3].matchAll(/ with (\d+)/g)].map((x) => Number(x[1])), pool === 3 ? [3, 2, 1] : [4, 2, 1]);
      } else {
        assert.equal(out.buildReason, `threaded: ${pool} threads`);
        assert.equal(out.threads, pool);
      }
      assert.deepEqual(await page.errors(), []);
    } finally {
      await page.close();
    }
  });

  if (engine === 'webkit') {
    test('WebKit as shipped (no JSC_useSharedArrayBuffer): isolated page without SharedArrayBuffer -> the single build, same results', async (t) => {
      if (!requireShared(t)) return;
      const model = MODELS_UNDER_TEST[0];
      const wk = await launchEngine('webkit', { sharedArrayBuffer: false });
      try {
        const page = await wk.open(iso.url + PAGE);
        const out = await page.evaluate(async ({ model, urls }) => {
          const clf = await mnv3.createClassifier({ ...T.local(model), threads: 'auto', cache: false });
          const rows = await T.classifyUrls(clf, urls, 5);
          const { labels, ...info } = clf.info;
          clf.dispose();
          return { info, rows, sab: typeof SharedArrayBuffer, isolated: crossOriginIsolated, cores: navigator.hardwareConcurrency, caps: mnv3.capabilities() };
        }, { model, urls: photoUrls().slice(0, 4) });
        t.diagnostic(`WebKit as shipped: crossOriginIsolated ${out.isolated}, SharedArrayBuffer ${out.sab}, hardwareConcurrency ${out.cores}; ${out.info.buildReason}`);
        assert.equal(out.isolated, true);
        assert.equal(out.sab, 'undefined');
        assert.equal(out.info.build, 'single');
        assert.equal(out.info.threads, 1);
        assert.match(out.info.buildReason, /SharedArrayBuffer is unavailable/);
        assert.deepEqual([out.caps.sharedArrayBuffer, out.caps.crossOriginIsolated, out.caps.build, out.caps.buildReason],
          [false, true, 'single', out.info.buildReason]);
        const threaded = results[model] && results[model].threaded;
        assert.ok(threaded, 'the threaded test ran first');
        for (const [i, row] of out.rows.entries()) {
          assert.deepEqual(row.top.map((p) => p.index), threaded[i].top.map((p) => p.index), row.url);
        }
        assert.deepEqual(await page.errors(), []);
      } finally {
        await wk.close();
      }
    });
  }

  if (engine === 'chromium') {
    test('same pixels as the native engine: probabilities within 1e-4 (browser pixels saved as PNG)', async (t) => {
      if (!requireShared(t)) return;
      execFileSync('cargo', ['build', '--release', '--bin', 'mobilenetv3', '--quiet'], { cwd: REPO_ROOT, stdio: 'inherit' });
      const bin = path.join(REPO_ROOT, 'target/release/mobilenetv3');
      const dir = mkdtempSync(path.join(tmpdir(), 'mnv3-png-'));
      const page = await open(iso);
      try {
        const model = 'tf_mobilenetv3_small_100';
        const out = await page.evaluate(async ({ model, urls }) => {
          const clf = await mnv3.createClassifier({ ...T.local(model), threads: 2, cache: false });
          const rows = [];
          for (const url of urls) {
            // The browser's decoding of the JPEG, exactly, as a lossless PNG.
            const bmp = await createImageBitmap(await T.fetchBlob(url), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
            const c = new OffscreenCanvas(bmp.width, bmp.height);
            c.getContext('2d').drawImage(bmp, 0, 0);
            const png = await c.convertToBlob({ type: 'image/png' });
            const fromPng = await clf.classify(png, { topk: 10 });
            const fromJpeg = await clf.classify(await T.fetchBlob(url), { topk: 10 });
            const bytes = new Uint8Array(await png.arrayBuffer());
            let bin = '';
            for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
            rows.push({ url, png: btoa(bin), fromPng: fromPng.top, fromJpeg: fromJpeg.top });
          }
          clf.dispose();
          return rows;
        }, { model, urls: photoUrls() });
        const pngs = out.map((r, i) => {
          const f = path.join(dir, `${i}.png`);
          writeFileSync(f, Buffer.from(r.png, 'base64'));
          return f;
        });
        const args = ['classify', '--json', '--top', '10', '--weights', shared.weights(model), '--config', shared.config(model)];
        const native = execFileSync(bin, [...args, ...pngs], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l));
        const nativeJpeg = execFileSync(bin, [...args, ...out.map((r) => shared.photo(path.basename(r.url)))], { encoding: 'utf8' })
          .trim().split('\n').map((l) => JSON.parse(l));
        let maxDiff = 0;
        let maxDecodeDiff = 0;
        for (const [i, r] of out.entries()) {
          assert.deepEqual(r.fromPng.map((p) => p.index), native[i].top.map((p) => p.index), r.url);
          for (let k = 0; k < 10; k++) {
            const d = Math.abs(r.fromPng[k].probability - native[i].top[k].probability);
            maxDiff = Math.max(maxDiff, d);
            assert.ok(d < 1e-4, `${r.url} #${k}: browser ${r.fromPng[k].probability} vs native ${native[i].top[k].probability}`);
          }
          // The JPEG and its PNG re-encoding are the same pixels: identical results.
          assert.deepEqual(r.fromJpeg, r.fromPng, `${r.url}: JPEG vs PNG of the same pixels`);
          // How far the browser's JPEG decoding is from libjpeg-turbo/PIL's (native decoding), in top-1 probability.
          if (nativeJpeg[i].top[0].index === r.fromJpeg[0].index) {
            maxDecodeDiff = Math.max(maxDecodeDiff, Math.abs(nativeJpeg[i].top[0].probability - r.fromJpeg[0].probability));
          }
        }
        t.diagnostic(`max |p_browser - p_native| over the top-10 of 16 photos, same pixels: ${maxDiff.toExponential(2)}`);
        t.diagnostic(`max top-1 probability difference, browser JPEG decoding vs native (PIL-exact) decoding: ${maxDecodeDiff.toExponential(2)}`);
        assert.deepEqual(await page.errors(), []);
      } finally {
        await page.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('every source type gives the same result; embed() returns the pooled features', async (t) => {
      if (!requireShared(t)) return;
      const page = await open(iso);
      try {
        const out = await page.evaluate(async () => {
          const clf = await mnv3.createClassifier({ ...T.local('tf_mobilenetv3_small_100'), threads: 2, cache: false });
          const url = '/shared/photos/beagle.jpg';
          const blob = await T.fetchBlob(url);
          const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
          const img = new Image();
          img.src = url;
          await img.decode();
          const canvas = document.createElement('canvas');
          canvas.width = bmp.width;
          canvas.height = bmp.height;
          canvas.getContext('2d').drawImage(bmp, 0, 0);
          const off = new OffscreenCanvas(bmp.width, bmp.height);
          off.getContext('2d').drawImage(bmp, 0, 0);
          const imageData = canvas.getContext('2d').getImageData(0, 0, bmp.width, bmp.height);
          const frame = new VideoFrame(bmp, { timestamp: 0 });
          const file = new File([blob], 'beagle.jpg', { type: 'image/jpeg' });
          const sources = { Blob: blob, File: file, HTMLImageElement: img, HTMLCanvasElement: canvas, OffscreenCanvas: off, ImageBitmap: bmp, ImageData: imageData, VideoFrame: frame };
          const res = {};
          for (const [k, s] of Object.entries(sources)) res[k] = (await clf.classify(s, { topk: 5 })).top;
          // The caller's objects are untouched (copies were transferred, not theirs).
          const intact = { bitmap: bmp.width, frame: frame.codedWidth, imageData: imageData.data.length };
          frame.close();
          const e1 = await clf.embed(blob);
          const e2 = await clf.embed(canvas);
          const { embeddingSize } = clf.info;
          const top1 = await clf.classify(blob, { topk: 1 });
          const all = await clf.classify(blob, { topk: 5000 });
          const badK = await T.expectError(clf.classify(blob, { topk: 0 }));
          const badSource = await T.expectError(clf.classify({ width: 3 }));
          clf.dispose();
          return {
            res, intact, embeddingSize, e1: Array.from(e1), e2: Array.from(e2), isF32: e1 instanceof Float32Array,
            top1: top1.top.length, all: all.top.length, sumAll: all.top.reduce((a, p) => a + p.probability, 0), badK, badSource,
          };
        });
        const ref = out.res.Blob;
        for (const [k, top] of Object.entries(out.res)) {
          assert.deepEqual(top.map((p) => p.index), ref.map((p) => p.index), k);
          for (let i = 0; i < 5; i++) assert.ok(Math.abs(top[i].probability - ref[i].probability) < 1e-6, `${k} #${i}`);
        }
        assert.equal(out.intact.bitmap, 299);
        assert.equal(out.intact.frame, 299);
        assert.equal(out.intact.imageData, 299 * 299 * 4);
        assert.equal(out.isF32, true);
        assert.equal(out.e1.length, out.embeddingSize);
        assert.equal(out.embeddingSize, 1024);
        assert.ok(out.e1.every(Number.isFinite));
        assert.deepEqual(out.e1, out.e2);
        assert.equal(out.top1, 1);
        assert.equal(out.all, 1000);
        assert.ok(Math.abs(out.sumAll - 1) < 1e-4);
        assert.equal(out.badK.code, 'INVALID_INPUT');
        assert.equal(out.badSource.code, 'INVALID_INPUT');
        assert.deepEqual(await page.errors(), []);
      } finally {
        await page.close();
      }
    });

    test('concurrent classify() calls queue and each gets its own answer; aborting a queued call', async (t) => {
      if (!requireShared(t)) return;
      const page = await open(iso);
      try {
        const out = await page.evaluate(async (urls) => {
          const clf = await mnv3.createClassifier({ ...T.local('tf_mobilenetv3_small_100'), threads: 2, cache: false });
          const blobs = await Promise.all(urls.map(T.fetchBlob));
          const sequential = [];
          for (const b of blobs) sequential.push((await clf.classify(b)).top[0].index);
          const ac = new AbortController();
          const calls = blobs.map((b, i) => clf.classify(b, i === 5 ? { signal: ac.signal } : {}));
          ac.abort();
          const settled = await Promise.allSettled(calls);
          const concurrent = settled.map((s) => (s.status === 'fulfilled' ? s.value.top[0].index : s.reason.code));
          const after = (await clf.classify(blobs[0])).top[0].index;
          clf.dispose();
          return { sequential, concurrent, after };
        }, photoUrls().slice(0, 8));
        const expected = out.sequential.slice();
        expected[5] = 'ABORTED';
        assert.deepEqual(out.concurrent, expected);
        assert.equal(out.after, out.sequential[0]);
        assert.deepEqual(await page.errors(), []);
      } finally {
        await page.close();
      }
    });

    test('weights download with progress, Cache API reuse without a request, cache:false, clearCache()', async (t) => {
      if (!requireShared(t)) return;
      const page = await open(iso);
      const model = 'tf_mobilenetv3_small_100';
      const weightsPath = shared.weightsUrl(model);
      const count = () => iso.requests.filter((r) => r === weightsPath).length;
      try {
        await page.evaluate(() => mnv3.clearCache());
        const before = count();
        const first = await page.evaluate(async (model) => {
          const events = [];
          const clf = await mnv3.createClassifier({ ...T.local(model), threads: 2, onProgress: (e) => events.push(e) });
          clf.dispose();
          return events;
        }, model);
        assert.equal(count() - before, 1, 'first load downloads the weights');
        const downloads = first.filter((e) => e.phase === 'download');
        const size = 10242208;
        assert.equal(downloads.at(-1).loaded, size);
        assert.equal(downloads.at(-1).total, size);
        assert.ok(downloads.length >= 2);
        assert.ok(downloads.every((e, i) => i === 0 || e.loaded >= downloads[i - 1].loaded));
        const phases = first.map((e) => e.phase).filter((p, i, a) => p !== a[i - 1]);
        assert.ok(phases.includes('compile') && phases.at(-1) === 'init', phases.join(','));
        // Second load: from the Cache API, no request.
        const mid = count();
        const second = await page.evaluate(async (model) => {
          const events = [];
          const clf = await mnv3.createClassifier({ ...T.local(model), threads: 2, onProgress: (e) => events.push(e) });
          clf.dispose();
          return events.filter((e) => e.phase === 'download');
        }, model);
        assert.equal(count(), mid, 'cached: no second download');
        assert.deepEqual(second, [{ phase: 'download', loaded: size, total: size, cached: true }]);
        await page.evaluate(async (model) => (await mnv3.createClassifier({ ...T.local(model), cache: false })).dispose(), model);
        assert.equal(count(), mid + 1, 'cache:false downloads');
        assert.equal(await page.evaluate(() => mnv3.clearCache()), true);
        assert.deepEqual(await page.errors(), []);
      } finally {
        await page.close();
      }
    });

    test('figures: time to ready with cached weights, and single-image latency, both builds', async (t) => {
      if (!requireShared(t)) return;
      for (const [srv, threads] of [[iso, 2], [plain, 1]]) {
        const page = await open(srv);
        try {
          for (const model of MODELS_UNDER_TEST) {
            const r = await page.evaluate(async (model) => {
              (await mnv3.createClassifier({ ...T.local(model), threads: 'auto' })).dispose(); // fills the cache
              const t0 = performance.now();
              const clf = await mnv3.createClassifier({ ...T.local(model), threads: 'auto' });
              const readyMs = performance.now() - t0;
              const blob = await T.fetchBlob('/shared/photos/tractor.jpg'); // 299x299
              for (let i = 0; i < 3; i++) await clf.classify(blob);
              const runs = [];
              for (let i = 0; i < 15; i++) runs.push((await clf.classify(blob)).timings);
              const med = (k) => runs.map((x) => x[k]).sort((a, b) => a - b)[7];
              const info = clf.info;
              const { wasmMemoryBytes } = await clf._debug.stats();
              clf.dispose();
              await mnv3.clearCache();
              return { readyMs, build: info.build, threads: info.threads, total: med('totalMs'), infer: med('inferenceMs'), pre: med('preprocessMs'), mem: wasmMemoryBytes };
            }, model);
            assert.equal(r.threads, threads);
            t.diagnostic(`${model} ${r.build} (${r.threads} threads): ready from cache ${r.readyMs.toFixed(0)} ms; ` +
              `classify 299x299 median total ${r.total.toFixed(1)} ms (preprocess ${r.pre.toFixed(1)}, inference ${r.infer.toFixed(1)}); ` +
              `wasm memory ${(r.mem / 1048576).toFixed(1)} MiB`);
          }
          assert.deepEqual(await page.errors(), []);
        } finally {
          await page.close();
        }
      }
    });

    test('EXIF orientation: Blob sources are shown upright, as the browser displays them (timm ignores EXIF)', async (t) => {
      if (!requireShared(t)) return;
      // koala.jpg + an EXIF APP1 segment saying "rotate 90 degrees clockwise" (Orientation = 6).
      const jpeg = readFileSync(shared.photo('koala.jpg'));
      const tiff = Buffer.from([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
      const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0, 2 + 6 + tiff.length]), Buffer.from('Exif\0\0', 'latin1'), tiff]);
      const at = jpeg[2] === 0xff && jpeg[3] === 0xe0 ? 4 + jpeg.readUInt16BE(4) : 2; // after APP0 (JFIF) if any
      const rotated = Buffer.concat([jpeg.subarray(0, at), app1, jpeg.subarray(at)]);
      const page = await open(iso);
      try {
        const out = await page.evaluate(async (b64) => {
          const clf = await mnv3.createClassifier({ ...T.local('tf_mobilenetv3_small_100'), threads: 2, cache: false });
          const exif = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/jpeg' });
          const plain = await T.fetchBlob('/shared/photos/koala.jpg');
          const bmp = await createImageBitmap(plain, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
          const c = new OffscreenCanvas(bmp.height, bmp.width); // the same pixels turned 90 degrees clockwise
          const ctx = c.getContext('2d');
          ctx.setTransform(0, 1, -1, 0, bmp.height, 0);
          ctx.drawImage(bmp, 0, 0);
          const r = {
            exif: await clf.classify(exif, { topk: 5 }),
            turned: await clf.classify(c, { topk: 5 }),
            plain: await clf.classify(plain, { topk: 5 }),
          };
          clf.dispose();
          return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.top.map((p) => [p.index, p.probability])]));
        }, rotated.toString('base64'));
        assert.deepEqual(out.exif, out.turned, 'EXIF-rotated JPEG = its pixels turned upright');
        assert.notDeepEqual(out.exif, out.plain);
        t.diagnostic(`koala with EXIF orientation 6: top-1 p ${out.exif[0][1].toFixed(4)} (upright pixels); timm, ignoring EXIF, sees ${out.plain[0][1].toFixed(4)}`);
        assert.deepEqual(await page.errors(), []);
      } finally {
        await page.close();
      }
    });

    test('huge images are fed in strips: a 6000x4000 canvas adds little wasm memory, same result as its ImageData', async (t) => {
      if (!requireShared(t)) return;
      const page = await open(iso);
      try {
        const out = await page.evaluate(async () => {
          const clf = await mnv3.createClassifier({ ...T.local('tf_mobilenetv3_small_100'), threads: 2, cache: false });
          await clf.classify(await T.fetchBlob('/shared/photos/koala.jpg'));
          const before = (await clf._debug.stats()).wasmMemoryBytes;
          const c = new OffscreenCanvas(6000, 4000);
          const ctx = c.getContext('2d');
          const bmp = await createImageBitmap(await T.fetchBlob('/shared/photos/koala.jpg'));
          ctx.drawImage(bmp, 0, 0, 6000, 4000);
          const t0 = performance.now();
          const big = await clf.classify(c);
          const ms = performance.now() - t0;
          const after = (await clf._debug.stats()).wasmMemoryBytes;
          const viaImageData = await clf.classify(ctx.getImageData(0, 0, 6000, 4000));
          const afterImageData = (await clf._debug.stats()).wasmMemoryBytes;
          clf.dispose();
          return { before, after, afterImageData, big: big.top, viaImageData: viaImageData.top, ms, size: [big.width, big.height] };
        });
        const mib = (b) => (b / 1048576).toFixed(1);
        t.diagnostic(`6000x4000 canvas: ${out.ms.toFixed(0)} ms; wasm memory ${mib(out.before)} -> ${mib(out.after)} MiB (-> ${mib(out.afterImageData)} after an ImageData of it); the RGBA image alone is 91.6 MiB`);
        assert.deepEqual(out.size, [6000, 4000]);
        assert.equal(out.big[0].index, 105);
        assert.deepEqual(out.big, out.viaImageData);
        assert.ok(out.afterImageData - out.before < 16 * 1048576, `wasm memory grew by ${mib(out.afterImageData - out.before)} MiB`);
        assert.deepEqual(await page.errors(), []);
      } finally {
        await page.close();
      }
    });

    test('package served from another origin (a CDN): the worker starts through a same-origin module shim', async (t) => {
      if (!requireShared(t)) return;
      const cdn = await startServer({ isolated: true, cors: true });
      const page = await open(iso);
      try {
        const out = await page.evaluate(async (cdnUrl) => {
          const remote = await import(`${cdnUrl}/js/index.js`);
          const clf = await remote.createClassifier({ ...T.local('tf_mobilenetv3_small_100'), threads: 2, cache: false });
          const r = await clf.classify(await T.fetchBlob('/shared/photos/koala.jpg'));
          const { build, threads } = clf.info;
          clf.dispose();
          return { top: r.top[0].index, build, threads, relaxedSimd: (await import('/js/builds.js')).hasRelaxedSimd() };
        }, cdn.url);
        const wasm = `/js/wasm/${out.relaxedSimd ? 'threaded-relaxed' : 'threaded'}/mobilenetv3_bg.wasm`;
        delete out.relaxedSimd;
        assert.deepEqual(out, { top: 105, build: 'threaded', threads: 2 });
        assert.ok(cdn.requests.includes('/js/worker.js') && cdn.requests.includes(wasm), cdn.requests.join(' '));
        assert.deepEqual(await page.errors(), []);
      } finally {
        await page.close();
        await cdn.close();
      }
    });
  }
});
