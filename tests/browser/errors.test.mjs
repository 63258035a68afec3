// Error paths of the browser runtime, in each engine (lib/engines.mjs): every failure rejects with
// the right `code`, and the classifier keeps working afterwards where that makes sense (bad images,
// engine panics, hangs).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startIsolatedAndPlain } from './lib/browser.mjs';
import { startServer, REPO_ROOT } from './lib/server.mjs';
import { ENGINES } from './lib/engines.mjs';
import { requireShared } from './lib/shared.mjs';

const PAGE = '/tests/browser/pages/runtime.html';
const SMALL = 'tf_mobilenetv3_small_100';

for (const engine of ENGINES) describe(engine, () => {
  let iso, plain, browser, env;

  // WebKit: with SharedArrayBuffer exposed as Safari does on isolated pages, so the threaded build runs.
  before(async () => ({ iso, plain, browser } = env = await startIsolatedAndPlain({ engine, sharedArrayBuffer: true })));
  after(() => env?.close());

  /** Runs `fn` in a fresh runtime page; fails on uncaught page errors not matching `allow`. */
  async function inPage(srv, fn, arg, allow = /^$/) {
    const page = await browser.open(srv.url + PAGE);
    try {
      const out = await page.evaluate(fn, arg);
      assert.deepEqual((await page.errors()).filter((e) => e.startsWith('pageerror') && !allow.test(e)), []);
      return out;
    } finally {
      await page.close();
    }
  }

  test('loading errors: WEIGHTS_FETCH, WEIGHTS_FORMAT, UNSUPPORTED_ARCH, CONFIG, ABORTED', async (t) => {
    if (!requireShared(t)) return;
    const out = await inPage(iso, async (SMALL) => {
      const local = T.local(SMALL);
      const create = (o) => T.expectError(mnv3.createClassifier({ threads: 2, cache: false, ...o }));
      const bytes = new Uint8Array(await (await T.fetchBlob(local.weights)).arrayBuffer());
      const config = JSON.parse(await (await T.fetchBlob(local.config)).text());
      const r = {};
      r.http404 = await create({ ...local, weights: '/shared/weights/nope.safetensors' });
      r.config404 = await create({ ...local, config: '/shared/weights/nope.json' });
      r.network = await create({ ...local, weights: 'http://127.0.0.1:9/model.safetensors' });
      r.cutDownload = await create({ ...local, weights: `${local.weights}?truncate=100000` });
      r.truncated = await create({ ...local, weights: bytes.slice(0, bytes.length >> 1) });
      r.garbage = await create({ ...local, weights: new Uint8Array(4096).map((_, i) => (i * 7919) % 251) });
      r.empty = await create({ ...local, weights: new Blob([]) });
      r.otherArch = await create({ weights: bytes, config: T.local('tf_mobilenetv3_large_minimal_100').config });
      r.unknownArch = await create({ weights: bytes, config: { ...config, architecture: 'resnet50' } });
      r.badJson = await create({ weights: bytes, config: '{"architecture": ' });
      r.unknownModel = await create({ model: 'mobilenetv9' });
      r.badThreads = await create({ ...local, threads: 0 });
      const ac = new AbortController();
      ac.abort();
      r.preAborted = await create({ ...local, signal: ac.signal });
      // Abort half-way through a slow download (64 KiB per 100 ms): rejects at once.
      const ac2 = new AbortController();
      let seen = 0;
      const t0 = performance.now();
      r.midDownload = await create({
        ...local, weights: `${local.weights}?throttle=65536`, signal: ac2.signal,
        onProgress: (e) => { if (e.phase === 'download' && e.loaded > 0 && !seen) { seen = e.loaded; ac2.abort(); } },
      });
      r.midDownload.seen = seen;
      r.midDownload.ms = performance.now() - t0;
      r.instance = await mnv3.createClassifier({ model: 'nope' }).catch((e) => ({
        isClass: e instanceof mnv3.MobileNetV3Error, name: e.name, code: e.code,
      }));
      return r;
    }, SMALL);
    const codes = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.code]));
    assert.deepEqual(codes, {
      http404: 'WEIGHTS_FETCH', config404: 'WEIGHTS_FETCH', network: 'WEIGHTS_FETCH', cutDownload: 'WEIGHTS_FETCH',
      truncated: 'WEIGHTS_FORMAT', garbage: 'WEIGHTS_FORMAT', empty: 'WEIGHTS_FORMAT', otherArch: 'WEIGHTS_FORMAT',
      unknownArch: 'UNSUPPORTED_ARCH', badJson: 'CONFIG', unknownModel: 'CONFIG',
      badThreads: 'INVALID_INPUT', preAborted: 'ABORTED', midDownload: 'ABORTED', instance: 'CONFIG',
    });
    assert.equal(out.http404.status, 404);
    assert.match(out.http404.message, /HTTP 404.*nope\.safetensors/);
    assert.match(out.unknownArch.message, /resnet50/);
    assert.ok(out.midDownload.seen > 0 && out.midDownload.seen < 10242208);
    assert.ok(out.midDownload.ms < 3000, `abort took ${out.midDownload.ms} ms`);
    assert.deepEqual(out.instance, { isClass: true, name: 'MobileNetV3Error', code: 'CONFIG' });
    for (const [k, v] of Object.entries(out)) assert.equal(v.name, 'MobileNetV3Error', k);
  });

  test('bad images: IMAGE_DECODE for a non-image Blob, a zero-size canvas, a video without frames; the classifier keeps working', async (t) => {
    if (!requireShared(t)) return;
    const out = await inPage(iso, async (SMALL) => {
      const clf = await mnv3.createClassifier({ ...T.local(SMALL), threads: 2, cache: false });
      const photo = await T.fetchBlob('/shared/photos/koala.jpg');
      const ref = (await clf.classify(photo)).top[0];
      const r = {};
      r.textBlob = await T.expectError(clf.classify(new Blob(['not an image'], { type: 'text/plain' })));
      r.fakeJpeg = await T.expectError(clf.classify(new File([new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3])], 'x.jpg', { type: 'image/jpeg' })));
      const c = document.createElement('canvas');
      c.width = 0;
      r.zeroCanvas = await T.expectError(clf.classify(c));
      r.zeroOffscreen = await T.expectError(clf.classify(new OffscreenCanvas(0, 5)));
      r.video = await T.expectError(clf.classify(document.createElement('video')));
      const img = new Image();
      img.src = '/shared/photos/missing.jpg';
      r.brokenImg = await T.expectError(clf.classify(img));
      r.emptyImageData = await T.expectError(clf.classify({ data: new Uint8ClampedArray(0), width: 0, height: 0 }));
      const after = (await clf.classify(photo)).top[0];
      clf.dispose();
      return { r, ref, after };
    }, SMALL);
    assert.deepEqual(Object.fromEntries(Object.entries(out.r).map(([k, v]) => [k, v.code])), {
      textBlob: 'IMAGE_DECODE', fakeJpeg: 'IMAGE_DECODE', zeroCanvas: 'IMAGE_DECODE', zeroOffscreen: 'IMAGE_DECODE',
      video: 'IMAGE_DECODE', brokenImg: 'IMAGE_DECODE', emptyImageData: 'INVALID_INPUT',
    });
    assert.match(out.r.zeroCanvas.message, /0x150/);
    assert.deepEqual(out.after, out.ref);
  });

  test('dispose(): pending and queued calls reject with DISPOSED, later calls too, idempotent', async (t) => {
    if (!requireShared(t)) return;
    const out = await inPage(iso, async (SMALL) => {
      const clf = await mnv3.createClassifier({ ...T.local(SMALL), threads: 2, cache: false });
      const photo = await T.fetchBlob('/shared/photos/koala.jpg');
      await clf.classify(photo);
      const calls = [1, 2, 3].map(() => T.expectError(clf.classify(photo)));
      await new Promise((r) => setTimeout(r, 0));
      clf.dispose();
      clf.dispose();
      const pending = (await Promise.all(calls)).map((e) => e.code);
      const afterwards = (await T.expectError(clf.classify(photo))).code;
      const embedAfter = (await T.expectError(clf.embed(photo))).code;
      let watchAfter;
      try {
        clf.watch(document.createElement('video'), () => {});
      } catch (e) {
        watchAfter = e.code;
      }
      // Disposing while the classifier is still loading.
      const p = mnv3.createClassifier({ ...T.local(SMALL), cache: false });
      const clf2 = await p;
      clf2.dispose();
      return { pending, afterwards, embedAfter, watchAfter };
    }, SMALL);
    assert.deepEqual(out, { pending: ['DISPOSED', 'DISPOSED', 'DISPOSED'], afterwards: 'DISPOSED', embedAfter: 'DISPOSED', watchAfter: 'DISPOSED' });
  });

  for (const [label, srvName, threads] of [['threaded', 'iso', 2], ['single', 'plain', 1]]) {
    test(`${label} build: a Rust panic rejects the call with INTERNAL + the panic text, then the classifier works again`, async (t) => {
      if (!requireShared(t)) return;
      const srv = srvName === 'iso' ? iso : plain;
      const out = await inPage(srv, async ({ SMALL, threads }) => {
        const clf = await mnv3.createClassifier({ ...T.local(SMALL), threads, cache: false, timeoutMs: 4000 });
        const photo = await T.fetchBlob('/shared/photos/beagle.jpg');
        const ref = (await clf.classify(photo)).top;
        // A queued call behind the crash must still be served (by the restarted worker).
        const crash = T.expectError(clf._debug.panic(false));
        const queued = clf.classify(photo);
        const r = { panic: await crash, queued: (await queued).top };
        r.after = (await clf.classify(photo)).top;
        // A panic inside a pool thread: in the threaded build the caller would wait forever; the
        // watchdog (timeoutMs) stops the worker.
        const t0 = performance.now();
        r.poolPanic = await T.expectError(clf._debug.panic(true, 2000));
        r.poolMs = performance.now() - t0;
        r.afterPool = (await clf.classify(photo)).top;
        r.build = clf.info.build;
        clf.dispose();
        return { ref, ...r };
      }, { SMALL, threads }, /^pageerror: (RuntimeError: )?unreachable/); // the pool threads' own uncaught trap

      assert.equal(out.build, label);
      assert.equal(out.panic.code, 'INTERNAL');
      assert.match(out.panic.message, /debugPanic: forced panic/);
      assert.match(out.panic.message, /restarted/);
      assert.match(out.panic.panic, /debugPanic: forced panic/);
      assert.deepEqual(out.queued, out.ref);
      assert.deepEqual(out.after, out.ref);
      if (label === 'threaded') {
        assert.equal(out.poolPanic.code, 'TIMEOUT');
        assert.ok(out.poolMs >= 1900 && out.poolMs < 6000, `watchdog after ${out.poolMs} ms`);
      } else {
        assert.equal(out.poolPanic.code, 'INTERNAL');
        assert.match(out.poolPanic.panic, /pool thread/);
      }
      assert.deepEqual(out.afterPool, out.ref);
    });
  }

  test('the threaded start throws (shared memory / worker pool, as on phones short of memory): single build, the reason in buildReason', async (t) => {
    if (!requireShared(t)) return;
    const out = await inPage(iso, async (SMALL) => {
      const r = {};
      for (const what of ['memory', 'pool']) {
        const clf = await mnv3.createClassifier({ ...T.local(SMALL), threads: 2, cache: false, _simulateThreadedFailure: what });
        const top = (await clf.classify(await T.fetchBlob('/shared/photos/koala.jpg'))).top[0].index;
        r[what] = { build: clf.info.build, threads: clf.info.threads, reason: clf.info.buildReason, top };
        clf.dispose();
      }
      return r;
    }, SMALL);
    for (const [what, message] of [['memory', /could not allocate memory \(simulated\)/], ['pool', /could not start a worker \(simulated\)/]]) {
      assert.equal(out[what].build, 'single', what);
      assert.equal(out[what].threads, 1, what);
      assert.match(out[what].reason, /^single: the threaded build failed to start/, what);
      assert.match(out[what].reason, message, what);
      assert.equal(out[what].top, 105, what);
    }
  });

  test("CSP without 'wasm-unsafe-eval': CSP_BLOCKED naming the directive (not a SIMD message); with it, the classifier loads", async (t) => {
    if (!requireShared(t)) return;
    // The page and the worker script carry a Content-Security-Policy (a dedicated worker gets the
    // policy of its own response).
    const withCsp = (policy) => Object.fromEntries([PAGE, '/js/worker.js'].map((p) => [p, (req, res) => {
      res.writeHead(200, { 'Content-Type': p.endsWith('.html') ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8', 'Content-Security-Policy': policy });
      res.end(readFileSync(path.join(REPO_ROOT, p)));
    }]));
    const out = {};
    for (const [name, policy] of [['strict', "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:"], ['allowed', "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; worker-src 'self' blob:"]]) {
      const srv = await startServer({ isolated: true, routes: withCsp(policy) });
      try {
        out[name] = await inPage(srv, async (SMALL) => {
          try {
            const clf = await mnv3.createClassifier({ ...T.local(SMALL), cache: false });
            const r = { code: 'NO_ERROR', build: clf.info.build };
            clf.dispose();
            return r;
          } catch (e) {
            return T.errorInfo(e);
          }
        }, SMALL);
      } finally {
        await srv.close();
      }
    }
    assert.equal(out.strict.code, 'CSP_BLOCKED', JSON.stringify(out.strict));
    assert.match(out.strict.message, /'wasm-unsafe-eval'/);
    assert.match(out.strict.message, /script-src/);
    assert.doesNotMatch(out.strict.message, /SIMD/);
    assert.equal(out.allowed.code, 'NO_ERROR', JSON.stringify(out.allowed));
    assert.equal(out.allowed.build, 'threaded');
  });

  test('a model that does not fit in the threaded build\'s memory loads in the single build instead (reason in buildReason), not a crash at the first classify', async (t) => {
    if (!requireShared(t)) return;
    const out = await inPage(iso, async (SMALL) => {
      const local = T.local(SMALL);
      const config = JSON.parse(await (await T.fetchBlob(local.config)).text());
      // 2048x2048 needs about 290 MiB of activations: over the threaded build's 256 MiB maximum.
      const big = { ...config, pretrained_cfg: { ...config.pretrained_cfg, input_size: [3, 2048, 2048] } };
      const r = {};
      try {
        const clf = await mnv3.createClassifier({ weights: local.weights, config: big, threads: 2, cache: false });
        r.created = clf.info.build;
        r.reason = clf.info.buildReason;
        r.inputSize = clf.info.inputSize;
        const res = await clf.classify(await T.fetchBlob('/shared/photos/koala.jpg'));
        r.top = res.top.map((x) => [x.index, x.probability]);
        clf.dispose();
      } catch (e) {
        r.create = T.errorInfo(e);
      }
      return r;
    }, SMALL);
    assert.equal(out.create, undefined, JSON.stringify(out));
    assert.equal(out.created, 'single', JSON.stringify(out));
    assert.match(out.reason, /^single: the model does not fit in the threaded build's memory at input size 2048/);
    assert.doesNotMatch(out.reason, /crashed|keeps working|threads: 1/);
    assert.equal(out.inputSize, 2048);
    assert.ok(out.top.length > 0 && out.top.every(([i, p]) => Number.isInteger(i) && p >= 0 && p <= 1), JSON.stringify(out.top));
  });

  test('IMAGE_TOO_LARGE from the header, before the browser decodes: JPEG 30000x30000, PNG 20000x20000, a side over 32768, a frame header 320 kB in; the classifier keeps working', async (t) => {
    if (!requireShared(t)) return;
    const out = await inPage(iso, async (SMALL) => {
      const clf = await mnv3.createClassifier({ ...T.local(SMALL), threads: 2, cache: false });
      const photo = await T.fetchBlob('/shared/photos/koala.jpg');
      const ref = (await clf.classify(photo)).top[0];
      const be16 = (v) => [v >> 8, v & 255];
      const be32 = (v) => [v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255];
      // A progressive JPEG frame header (SOF2) declaring w x h, after `pad` bytes of APP1 segments.
      const jpeg = (w, h, pad = 0) => {
        const parts = [[0xff, 0xd8]];
        for (let left = pad; left > 0; left -= 65535) parts.push([0xff, 0xe1, 0xff, 0xff, ...new Uint8Array(65533)]);
        parts.push([0xff, 0xc2, 0x00, 0x11, 0x08, ...be16(h), ...be16(w), 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9]);
        return new Blob(parts.map((p) => new Uint8Array(p)), { type: 'image/jpeg' });
      };
      const png = (w, h) => new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
        ...be32(w), ...be32(h), 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82])], { type: 'image/png' });
      const r = {};
      r.jpeg = await T.expectError(clf.classify(jpeg(30000, 30000)));
      r.png = await T.expectError(clf.classify(png(20000, 20000)));
      r.side = await T.expectError(clf.classify(png(40000, 4)));
      r.farHeader = await T.expectError(clf.classify(jpeg(30000, 30000, 5 * 65535)));
      r.after = (await clf.classify(photo)).top[0];
      // A big legitimate photo (7000x5000 = 35 Mpx JPEG) is still classified.
      const c = new OffscreenCanvas(7000, 5000);
      c.getContext('2d').drawImage(await createImageBitmap(photo), 0, 0, 7000, 5000);
      const big = await c.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
      const bigResult = await clf.classify(big);
      r.big = { size: big.size, width: bigResult.width, label: bigResult.top[0].label };
      clf.dispose();
      return { r, ref };
    }, SMALL);
    for (const k of ['jpeg', 'png', 'side', 'farHeader']) {
      assert.equal(out.r[k].code, 'IMAGE_TOO_LARGE', `${k}: ${JSON.stringify(out.r[k])}`);
    }
    assert.match(out.r.jpeg.message, /30000x30000/);
    assert.deepEqual(out.r.after, out.ref);
    assert.equal(out.r.big.width, 7000);
    assert.equal(out.r.big.label, out.ref.label);
  });

  test('watch() on a <video> whose source fails calls onError with VIDEO_SOURCE (404, not a video, a failing <source>, already failed)', async (t) => {
    if (!requireShared(t)) return;
    const out = await inPage(iso, async (SMALL) => {
      const clf = await mnv3.createClassifier({ ...T.local(SMALL), threads: 2, cache: false });
      const watchFails = (video) => new Promise((resolve) => {
        const timer = setTimeout(() => { stop(); resolve({ code: 'NO_CALL' }); }, 8000);
        const stop = clf.watch(video, () => { clearTimeout(timer); stop(); resolve({ code: 'RESULT' }); }, {
          onError: (e) => { clearTimeout(timer); stop(); resolve(T.errorInfo(e)); },
        });
      });
      const video = (setup) => {
        const v = document.createElement('video');
        v.muted = true;
        setup(v);
        document.body.append(v);
        v.play().catch(() => {});
        return v;
      };
      const r = {};
      r.notFound = await watchFails(video((v) => { v.src = '/shared/photos/missing.webm'; }));
      r.notAVideo = await watchFails(video((v) => { v.src = '/shared/photos/labels.csv'; }));
      r.sourceChild = await watchFails(video((v) => v.append(Object.assign(document.createElement('source'), { src: '/nope.mp4', type: 'video/mp4' }))));
      const failed = video((v) => { v.src = '/shared/photos/missing.webm'; });
      await new Promise((res) => failed.addEventListener('error', res, { once: true }));
      r.alreadyFailed = await watchFails(failed);
      clf.dispose();
      return r;
    }, SMALL);
    for (const [k, v] of Object.entries(out)) {
      assert.equal(v.code, 'VIDEO_SOURCE', `${k}: ${JSON.stringify(v)}`);
      assert.match(v.message, /the video cannot play/, k);
    }
  });
});
