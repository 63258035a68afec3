// The demo page (www/), served by www/serve.mjs (Vite) with --weights ../shared/weights, driven in
// Debian's Chromium: drop / choose / paste real photos and the shipped examples, the live camera on
// Chromium's fake webcam (a Y4M made from real photos), the errors shown in the page (camera denied,
// no camera, not an image, weights unreachable) and recovery after each, the published-model path
// (models.json, download, cache), the production build (--build), and screenshots at desktop and
// phone widths in light and dark (artifacts/screenshots/demo-*.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './lib/server.mjs';
import { launchChromium, CHROMIUM, BASE_ARGS } from './lib/browser.mjs';
import { photoToY4m } from './lib/y4m.mjs';
import { shared, sharedAvailable, requireShared } from './lib/shared.mjs';
import { startDemoServer, scanWeights } from '../../www/serve.mjs';
import { chromium } from 'playwright-core';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'screenshots');
const WEIGHTS_DIR = path.join(shared.dir, 'weights');
const LARGE = 'tf_mobilenetv3_large_minimal_100'; // first in ../shared/weights: the one selected
const SMALL = 'tf_mobilenetv3_small_100';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const CATS = ['Egyptian cat', 'tabby, tabby cat', 'tiger cat'];

let srv; // the demo with --weights ../shared/weights
const cleanup = [];

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  if (!sharedAvailable()) return; // each test reports the skip (or, with CI set, the failure)
  // reload: false: no page reload if someone edits js/ or www/ while the tests run.
  srv = await startDemoServer({ weightsDir: WEIGHTS_DIR, port: 0, host: '127.0.0.1', reload: false, logLevel: 'warn' });
});

after(async () => {
  for (const fn of cleanup.reverse()) await Promise.resolve().then(fn).catch(() => {});
  await srv?.close();
});

async function launch(opts) {
  const browser = await launchChromium(opts);
  cleanup.push(() => browser.close());
  return browser;
}

/** A Chromium with exactly these switches besides the base ones (camera permission experiments). */
async function launchWith(args) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...BASE_ARGS, ...args] });
  cleanup.push(() => browser.close());
  return browser;
}

/** Opens the demo; waits until the model is ready (or failed, with `allowError`). */
async function openDemo(browser, { url = srv.url + '/', viewport = DESKTOP, colorScheme = 'light', until = 'ready' } = {}) {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console.error: ${m.text()}`); });
  await page.goto(url);
  await page.waitForFunction((until) => until.includes(document.documentElement.dataset.model), until === 'ready' ? ['ready'] : ['ready', 'error'], { timeout: 60000 });
  if (until === 'ready') {
    const st = await page.evaluate(() => window.__demo.model);
    assert.equal(st.state, 'ready', JSON.stringify(st.error));
  }
  return { context, page, errors };
}

const fileArg = (file, type = 'image/jpeg') => ({ name: path.basename(file), type, b64: readFileSync(file).toString('base64') });

/** Synthetic drag-and-drop of files onto `selector` (anywhere on the page); returns whether the drop overlay showed. */
async function dropFiles(page, files, selector = '.site-header') {
  return page.evaluate(({ files, selector }) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    const target = document.querySelector(selector);
    const fire = (type) => target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    fire('dragenter');
    fire('dragover');
    const overlay = !document.getElementById('drop-overlay').hidden;
    fire('drop');
    return { overlay, after: !document.getElementById('drop-overlay').hidden };
  }, { files, selector });
}

/** Waits for the card named `name` to be done; returns its 5 full labels and the shown percentages. */
async function cardResult(page, name, timeout = 30000) {
  await page.waitForFunction((name) => {
    const c = [...document.querySelectorAll('.result-card')].find((c) => c.getAttribute('aria-label') === name);
    return c && c.dataset.state === 'done';
  }, name, { timeout });
  return page.evaluate((name) => {
    const c = [...document.querySelectorAll('.result-card')].find((c) => c.getAttribute('aria-label') === name);
    return {
      labels: [...c.querySelectorAll('.pred .lbl')].map((l) => l.title),
      heads: [...c.querySelectorAll('.pred .lbl b')].map((b) => b.textContent),
      pcts: [...c.querySelectorAll('.pred .pct')].map((p) => p.textContent),
      top: c.dataset.top,
      time: c.querySelector('.card-time').textContent,
    };
  }, name);
}

/** timm's top-5 labels for a photo and model, in the engine's label strings. */
async function timmLabels(page, file, model) {
  const ref = shared.timmTop5()[file][model];
  const labels = await page.evaluate(() => window.__demo.model.info.labels);
  return { labels: ref.top5.map((i) => labels[i]), p5: ref.p5 };
}

async function shoot(page, name, { fullPage = true, top = true } = {}) {
  const file = path.join(SHOTS, `demo-${name}.png`);
  await page.waitForTimeout(400); // a smooth scroll to a new card ends
  if (top) await page.evaluate(() => window.scrollTo(0, 0));
  const vp = page.viewportSize();
  // A full-page capture re-applies the device metrics, which drops the touch emulation of a mobile
  // context: grow the viewport to the page instead.
  const height = fullPage ? await page.evaluate(() => document.documentElement.scrollHeight) : vp.height;
  if (height !== vp.height) await page.setViewportSize({ width: vp.width, height });
  await page.screenshot({ path: file, animations: 'disabled' }); // transitions finished (e.g. after a color-scheme switch)
  if (height !== vp.height) await page.setViewportSize(vp);
  return file;
}

// ---------------------------------------------------------------------------------------------

test('serve.mjs: prints the URL, COOP/COEP on every response, wasm MIME, --weights lists the local models', async (t) => {
  if (!requireShared(t)) return;
  // scanWeights: both layouts, files without their pair ignored, sorted by name.
  const dir = mkdtempSync(path.join(tmpdir(), 'mnv3-demo-w-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['b.safetensors', 'b.config.json', 'orphan.safetensors', 'c.config.json']) writeFileSync(path.join(dir, f), '{}');
  for (const [sub, files] of [['a', ['model.safetensors', 'config.json']], ['half', ['model.safetensors']]]) {
    mkdirSync(path.join(dir, sub));
    for (const f of files) writeFileSync(path.join(dir, sub, f), '{}');
  }
  assert.deepEqual(scanWeights(dir).map((m) => m.name), ['a', 'b']);
  assert.equal(scanWeights(dir)[0].weights, path.join(dir, 'a', 'model.safetensors'));

  // The command line, as ./build.sh serve runs it.
  const cli = (args) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'www/serve.mjs'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.push(() => child.exitCode === null && child.kill('SIGKILL'));
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (d) => { out.stdout += d; });
    child.stderr.on('data', (d) => { out.stderr += d; });
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, out, exited };
  };
  const a = cli(['--weights', WEIGHTS_DIR, '--port', '0', '--host', '127.0.0.1']);
  const t0 = Date.now();
  while (!/http:\/\/127\.0\.0\.1:\d+\//.test(a.out.stdout)) {
    if (a.child.exitCode !== null || Date.now() - t0 > 30000) assert.fail(`serve.mjs did not print its URL:\n${a.out.stdout}\n${a.out.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const base = a.out.stdout.match(/(http:\/\/127\.0\.0\.1:\d+)\//)[1];
  assert.match(a.out.stdout, new RegExp(`2 local model\\(s\\).*${LARGE}, ${SMALL}`));
  t.diagnostic(`serve.mjs up in ${Date.now() - t0} ms at ${base}`);

  const list = await (await fetch(`${base}/local-models.json`)).json();
  assert.deepEqual(list.models.map((m) => m.name), [LARGE, SMALL]);
  assert.equal(list.models[0].bytes, statSync(shared.weights(LARGE)).size);
  const paths = ['/', '/main.js', '/style.css', '/local-models.json', '/examples/chelsea.jpg', '/no/such/file',
    list.models[0].weightsUrl, list.models[1].configUrl,
    `/@fs${REPO_ROOT}/js/index.js`, `/@fs${REPO_ROOT}/js/wasm/threaded/mobilenetv3_bg.wasm`, `/@fs${REPO_ROOT}/js/wasm/single/mobilenetv3.js`];
  for (const p of paths) {
    const res = await fetch(base + p, { method: p.includes('safetensors') ? 'HEAD' : 'GET' });
    await res.arrayBuffer();
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin', p);
    assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp', p);
    if (p.endsWith('.wasm')) assert.equal(res.headers.get('content-type'), 'application/wasm');
    if (p.includes('safetensors')) assert.equal(Number(res.headers.get('content-length')), statSync(shared.weights(LARGE)).size);
    if (p === '/') assert.match(await (await fetch(base + p)).text(), /MobileNetV3/);
  }
  // The wasm glue is served as built (no dev-server import injected: the rayon workers load it from a blob).
  const glue = await (await fetch(`${base}/@fs${REPO_ROOT}/js/wasm/threaded/mobilenetv3.js`)).text();
  assert.equal(glue, readFileSync(path.join(REPO_ROOT, 'js/wasm/threaded/mobilenetv3.js'), 'utf8'));

  // Port taken -> a clear message and exit code 1; a missing --weights directory likewise.
  const port = new URL(base).port;
  const b = cli(['--port', port, '--host', '127.0.0.1']);
  assert.equal(await b.exited, 1);
  assert.match(b.out.stderr, new RegExp(`port ${port} is in use`));
  const c = cli(['--weights', path.join(dir, 'nope'), '--port', '0']);
  assert.equal(await c.exited, 1);
  assert.match(c.out.stderr, /is not a directory/);
  a.child.kill('SIGTERM');
  assert.ok([0, 143].includes(await a.exited), 'exits on SIGTERM (Vite: 128 + 15)');
});

test('images: drop, choose, paste and examples get top-5 cards equal to timm; model switch; screenshots light/dark, desktop/phone', async (t) => {
  if (!requireShared(t)) return;
  const browser = await launch();
  const { page, context, errors } = await openDemo(browser);
  try {
    // Model bar: the local models, the first selected, ready; status line.
    const bar = await page.evaluate(() => ({
      options: [...document.querySelectorAll('#model-select option')].map((o) => o.textContent),
      value: document.getElementById('model-select').value,
      state: document.getElementById('model-state').textContent,
      progress: document.getElementById('model-progress').getAttribute('aria-valuenow'),
      status: Object.fromEntries([...document.querySelectorAll('#status > div')].map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent])),
      info: window.__demo.model.info,
    }));
    assert.deepEqual(bar.options, [LARGE, SMALL]);
    assert.equal(bar.value, `local:${LARGE}`);
    assert.match(bar.state, new RegExp(`^Ready: ${LARGE}`));
    assert.equal(bar.progress, '100');
    assert.deepEqual(bar.status, {
      Build: 'threaded', Threads: String(bar.info.threads), SIMD: 'wasm-relaxed-simd', 'Cross-origin isolated': 'yes',
      'Browser offers': 'SIMD128 · relaxed SIMD · SharedArrayBuffer · OffscreenCanvas · VideoFrame · rVFC',
    });
    assert.ok(bar.info.threads >= 2, `threads ${bar.info.threads}`);
    t.diagnostic(`status: ${JSON.stringify(bar.status)}`);

    // Drag and drop anywhere on the page.
    const drop = await dropFiles(page, [fileArg(shared.photo('koala.jpg'))]);
    assert.deepEqual(drop, { overlay: true, after: false }, 'the drop overlay shows while dragging, hides after the drop');
    const koala = await cardResult(page, 'koala.jpg');
    const ref = await timmLabels(page, 'koala.jpg', LARGE);
    assert.deepEqual(koala.labels, ref.labels, 'the card shows timm\'s top-5, in order');
    assert.equal(koala.heads[0], 'koala');
    assert.equal(koala.pcts[0], `${Math.round(ref.p5[0] * 100)}%`);
    assert.match(koala.time, /^\d+(\.\d)? ms$/);

    // The file picker (several files at once), through the visible button.
    const chooser = page.waitForEvent('filechooser');
    await page.click('#pick');
    await (await chooser).setFiles([shared.photo('bagel.jpg'), shared.photo('beagle.jpg')]);
    for (const f of ['bagel.jpg', 'beagle.jpg']) {
      assert.deepEqual((await cardResult(page, f)).labels, (await timmLabels(page, f, LARGE)).labels, f);
    }
    // Paste from the clipboard.
    await page.evaluate((f) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, fileArg(shared.photo('tractor.jpg')));
    assert.deepEqual((await cardResult(page, 'tractor.jpg')).labels, (await timmLabels(page, 'tractor.jpg', LARGE)).labels);
    // The shipped examples, by keyboard.
    await page.focus('.example >> nth=0');
    await page.keyboard.press('Enter');
    const cat = await cardResult(page, 'chelsea.jpg');
    assert.ok(CATS.includes(cat.labels[0]), `chelsea: ${cat.labels[0]}`);
    for (const i of [1, 2, 3]) await page.click(`.example >> nth=${i}`);
    const examples = {};
    for (const f of ['coffee.jpg', 'grace_hopper.jpg', 'rocket.jpg']) examples[f] = (await cardResult(page, f)).heads[0];
    assert.equal(examples['coffee.jpg'], 'espresso');
    assert.equal(examples['grace_hopper.jpg'], 'military uniform');
    t.diagnostic(`examples (${LARGE}): chelsea ${cat.heads[0]}, ${Object.entries(examples).map(([f, l]) => `${f.replace('.jpg', '')} ${l}`).join(', ')}`);
    const aria = await page.evaluate(() => ({
      live: document.getElementById('announcer').getAttribute('aria-live'),
      said: document.getElementById('announcer').textContent,
      busy: [...document.querySelectorAll('.result-card')].map((c) => c.getAttribute('aria-busy')),
      order: [...document.querySelectorAll('.result-card')].map((c) => c.getAttribute('aria-label')),
    }));
    assert.equal(aria.live, 'polite');
    assert.match(aria.said, /^rocket\.jpg: /);
    assert.ok(aria.busy.every((b) => b === 'false'));
    assert.deepEqual(aria.order, ['rocket.jpg', 'grace_hopper.jpg', 'coffee.jpg', 'chelsea.jpg', 'tractor.jpg', 'beagle.jpg', 'bagel.jpg', 'koala.jpg']);

    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.evaluate(() => window.scrollTo(0, 0));
      t.diagnostic(`screenshot ${await shoot(page, `desktop-${scheme}`)}`);
    }
    await page.emulateMedia({ colorScheme: 'light' });

    // A phone (touch, 390 px wide): the touch wording, nothing wider than the screen, results by tapping.
    {
      const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
      try {
        const p = await phone.newPage();
        await p.goto(srv.url + '/');
        await p.waitForFunction(() => document.documentElement.dataset.model === 'ready', null, { timeout: 60000 });
        assert.equal(await p.isVisible('text=Classify photos from your device'), true, 'touch wording');
        assert.equal(await p.isVisible('text=Drop images anywhere on this page'), false);
        for (const i of [3, 0, 1]) await p.tap(`.example >> nth=${i}`);
        await p.waitForFunction(() => document.querySelectorAll('.result-card[data-state="done"]').length === 3, null, { timeout: 30000 });
        for (const scheme of ['light', 'dark']) {
          await p.emulateMedia({ colorScheme: scheme });
          await p.evaluate(() => window.scrollTo(0, 0));
          t.diagnostic(`screenshot ${await shoot(p, `phone-${scheme}`)}`);
          const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          assert.ok(overflow <= 0, `phone layout overflows by ${overflow}px`);
        }
      } finally {
        await phone.close();
      }
    }

    // Switch model: every card waits (same size), then is classified again by the new model.
    const sizeBefore = await page.evaluate(() => document.querySelector('.result-card').getBoundingClientRect().height);
    await page.selectOption('#model-select', `local:${SMALL}`);
    await page.waitForFunction(() => document.documentElement.dataset.model === 'ready' && window.__demo.model.name === 'tf_mobilenetv3_small_100', null, { timeout: 60000 });
    const koalaSmall = await cardResult(page, 'koala.jpg');
    assert.deepEqual(koalaSmall.labels, (await timmLabels(page, 'koala.jpg', SMALL)).labels);
    await page.waitForFunction(() => [...document.querySelectorAll('.result-card')].every((c) => c.dataset.state === 'done'));
    const sizeAfter = await page.evaluate(() => document.querySelector('.result-card').getBoundingClientRect().height);
    assert.equal(sizeAfter, sizeBefore, 'cards keep their height');
    assert.match(await page.textContent('#model-state'), new RegExp(`^Ready: ${SMALL}`));

    // Remove a card with the keyboard; Clear all.
    await page.focus('.result-card .remove');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('.result-card').count(), 7);
    await page.click('#clear-results');
    assert.equal(await page.locator('.result-card').count(), 0);
    assert.ok(await page.isVisible('#results-empty'));
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

/** A Y4M alternating two photos, `each` frames each (30 fps): a camera whose label changes. */
async function twoPhotoCamera(photoA, photoB, each = 45) {
  const decoder = await launchChromium();
  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'mnv3-demo-cam-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const a = readFileSync(await photoToY4m(decoder, photoA, { width: 640, height: 480, frames: each, dir }));
    const b = readFileSync(await photoToY4m(decoder, photoB, { width: 640, height: 480, frames: each, dir }));
    const header = (buf) => buf.indexOf(0x0a) + 1;
    assert.equal(a.subarray(0, header(a)).toString(), b.subarray(0, header(b)).toString());
    const file = path.join(dir, 'camera.y4m');
    writeFileSync(file, Buffer.concat([a, b.subarray(header(b))]));
    return file;
  } finally {
    await decoder.close();
  }
}

test('camera: live top-3 over the fake webcam (real photos), label updates, FPS, mirror, hidden-tab pause, stop', async (t) => {
  if (!requireShared(t)) return;
  const cam = await twoPhotoCamera(shared.photo('koala.jpg'), shared.photo('tractor.jpg'));
  const browser = await launch({ fakeVideo: cam });
  const { page, context, errors } = await openDemo(browser);
  try {
    const labels = await page.evaluate(() => window.__demo.model.info.labels);
    const ref = shared.timmTop5();
    const expected = [labels[ref['koala.jpg'][LARGE].top5[0]], labels[ref['tractor.jpg'][LARGE].top5[0]]];

    assert.equal(await page.getAttribute('#stage', 'data-camera'), 'off');
    assert.equal(await page.isVisible('#cam-select-wrap'), false, 'no camera picker with one camera');
    await page.click('#cam-toggle');
    // Record every label shown in the first overlay row.
    await page.waitForFunction(() => window.__demo.camera.frames > 0, null, { timeout: 30000 });
    await page.evaluate(() => {
      window.__seen = new Set();
      window.__rows = new Set();
      const lbl = document.querySelector('#live-labels .lbl');
      const stage = document.getElementById('stage');
      const record = () => {
        window.__seen.add(lbl.dataset.label);
        // Geometry of the overlay rows relative to the stage, and the stage's size.
        const s = stage.getBoundingClientRect();
        window.__rows.add(JSON.stringify([s.width, s.height, ...[...document.querySelectorAll('#live-labels .live-row')].map((r) => {
          const b = r.getBoundingClientRect();
          return [b.x - s.x, b.y - s.y, b.width, b.height];
        })]));
      };
      window.__observer = new MutationObserver(record);
      window.__observer.observe(document.getElementById('live-labels'), { subtree: true, childList: true, characterData: true, attributes: true });
      record();
    });
    assert.equal(await page.getAttribute('#stage', 'data-camera'), 'on');
    assert.equal((await page.textContent('#cam-toggle')).trim(), 'Stop camera');
    // The label appears and updates (the camera alternates between the two photos every 1.5 s).
    await page.waitForFunction((expected) => expected.every((l) => window.__seen.has(l)), expected, { timeout: 30000 });
    t.diagnostic(`live labels seen: ${JSON.stringify([...await page.evaluate(() => [...window.__seen])])}`);
    await page.evaluate(() => window.scrollTo(0, 0));
    t.diagnostic(`screenshot ${await shoot(page, 'camera-desktop', { fullPage: false })}`);

    const rows = await page.evaluate(() => { window.__observer.disconnect(); return window.__rows.size; });
    assert.equal(rows, 1, 'the overlay rows and the stage never moved or resized while labels updated');

    // Live FPS over 10 s (results per second, what the page shows too).
    const f0 = await page.evaluate(() => ({ frames: window.__demo.camera.frames, t: performance.now() }));
    await page.waitForTimeout(10000);
    const f1 = await page.evaluate(() => ({ frames: window.__demo.camera.frames, t: performance.now(), ms: window.__demo.camera.inferenceMs, shown: document.getElementById('cam-stats').textContent }));
    const fps = ((f1.frames - f0.frames) * 1000) / (f1.t - f0.t);
    t.diagnostic(`live FPS on the fake webcam (640x480 @ 30 fps, ${LARGE}, ${await page.textContent('#st-build')} ${await page.textContent('#st-threads')} threads): ${fps.toFixed(1)} results/s over 10 s; page shows "${f1.shown}"`);
    assert.ok(fps > 1, `live FPS ${fps}`);
    assert.ok(fps <= 33, `more results than camera frames: ${fps}`);
    assert.match(f1.shown, /^\d+(\.\d)? ms · \d+\.\d fps$/);

    // Mirror (keyboard): flips the preview only; the labels stay right.
    await page.focus('#mirror');
    const was = await page.isChecked('#mirror');
    await page.keyboard.press('Space');
    assert.equal(await page.isChecked('#mirror'), !was);
    const transform = await page.evaluate(() => getComputedStyle(document.getElementById('video')).transform);
    assert.equal(transform === 'matrix(-1, 0, 0, 1, 0, 0)', !was, transform);
    await page.evaluate(() => { window.__seen.clear(); window.__observer.observe(document.getElementById('live-labels'), { subtree: true, childList: true, characterData: true, attributes: true }); });
    await page.waitForFunction((expected) => window.__seen.size > 0 && [...window.__seen].every((l) => expected.includes(l)), expected, { timeout: 10000 });
    await page.keyboard.press('Space');

    // Hidden tab: classification pauses, then resumes.
    const hidden = await page.evaluate(async () => {
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      Object.defineProperty(document, 'hidden', { value: true, configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
      await sleep(300);
      const a = window.__demo.camera.frames;
      await sleep(1200);
      const during = window.__demo.camera.frames - a;
      const shown = document.getElementById('cam-stats').textContent;
      delete document.hidden;
      document.dispatchEvent(new Event('visibilitychange'));
      const b = window.__demo.camera.frames;
      await sleep(1200);
      return { during, shown, after: window.__demo.camera.frames - b };
    });
    assert.equal(hidden.during, 0, 'no classification while hidden');
    assert.equal(hidden.shown, 'paused');
    assert.ok(hidden.after > 0, 'resumes when visible');

    await page.setViewportSize(PHONE);
    await page.evaluate(() => document.getElementById('stage').scrollIntoView({ block: 'center' }));
    t.diagnostic(`screenshot ${await shoot(page, 'camera-phone', { fullPage: false, top: false })}`);
    await page.setViewportSize(DESKTOP);

    // Switching the model while live: the overlay waits, then the new model labels the frames.
    await page.selectOption('#model-select', `local:${SMALL}`);
    await page.waitForFunction(() => window.__demo.model.name === 'tf_mobilenetv3_small_100' && window.__demo.model.state === 'ready', null, { timeout: 60000 });
    const switched = await page.evaluate(() => window.__demo.camera.frames);
    await page.waitForFunction((n) => window.__demo.camera.frames > n + 3, switched, { timeout: 15000 });
    const smallLabels = await page.evaluate(() => window.__demo.model.info.labels);
    // Camera frames are the photos after a 4:2:0 YUV round trip, not the JPEG pixels: where timm's
    // top-1 wins by a hair (tf_small on tractor.jpg: tractor 0.3658 vs thresher 0.3650) the frame
    // may rank the runner-up first. The label must still be one of that photo's top-2.
    const expectedSmall = ['koala.jpg', 'tractor.jpg'].flatMap((f) => ref[f][SMALL].top5.slice(0, 2).map((i) => smallLabels[i]));
    const live = await page.getAttribute('#live-labels .lbl', 'data-label');
    assert.ok(expectedSmall.includes(live), `live label ${live} is not in ${expectedSmall.join(', ')}`);

    // Stop: no more results, the camera is released, the overlay is gone.
    await page.click('#cam-toggle');
    const stopped = await page.evaluate(async () => {
      const a = window.__demo.camera.frames;
      await new Promise((r) => setTimeout(r, 800));
      return { more: window.__demo.camera.frames - a, state: window.__demo.camera.state, src: document.getElementById('video').srcObject, overlay: getComputedStyle(document.getElementById('live-labels')).visibility };
    });
    assert.deepEqual(stopped, { more: 0, state: 'off', src: null, overlay: 'hidden' });
    assert.equal((await page.textContent('#cam-toggle')).trim(), 'Start camera');
    // And again.
    await page.click('#cam-toggle');
    await page.waitForFunction(() => window.__demo.camera.state === 'on' && window.__demo.camera.frames > 0);
    await page.click('#cam-toggle');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('errors in the page: camera denied, not an image, a drop without files; the page keeps working', async (t) => {
  if (!requireShared(t)) return;
  // A camera exists but permission is refused (no fake-UI auto-accept; prompts denied).
  const browser = await launchWith(['--use-fake-device-for-media-stream', '--deny-permission-prompts']);
  const { page, context, errors } = await openDemo(browser);
  try {
    await page.click('#cam-toggle');
    await page.waitForSelector('#camera-error:not([hidden])', { timeout: 10000 });
    const cam = await page.evaluate(() => ({
      alert: document.getElementById('camera-error').innerText,
      role: document.getElementById('camera-error').getAttribute('role'),
      stage: document.getElementById('stage-message').textContent,
      state: window.__demo.camera.state,
      button: document.getElementById('cam-toggle').textContent.trim(),
    }));
    assert.match(cam.alert, /Camera access was denied/);
    assert.match(cam.alert, /Allow the camera for this site/);
    assert.equal(cam.role, 'alert');
    assert.equal(cam.state, 'off');
    assert.equal(cam.button, 'Start camera');

    // A file that is not an image: a message on its card.
    await dropFiles(page, [{ name: 'notes.txt', type: 'text/plain', b64: Buffer.from('not a picture\n').toString('base64') }]);
    await page.waitForSelector('.result-card[data-error="not-an-image"]', { timeout: 15000 });
    const card = await page.textContent('.result-card[data-error="not-an-image"] .card-error');
    assert.match(card, /Not an image\.notes\.txt \(text\/plain\) could not be decoded/);
    // A "drop" of a link (no files): a message in the images panel.
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.setData('text/uri-list', 'https://example.com/cat.jpg');
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    assert.match(await page.textContent('#images-error'), /Nothing to classify in that drop.*arrive as links/);

    // Pasting text: a message too.
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.setData('text/plain', 'hello');
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    });
    assert.match(await page.textContent('#images-error'), /The clipboard holds no image/);

    // A good image still works (and clears the panel message).
    await dropFiles(page, [fileArg(shared.photo('koala.jpg'))]);
    assert.equal((await cardResult(page, 'koala.jpg')).heads[0], 'koala');
    assert.equal(await page.isVisible('#images-error'), false);
    // The camera message offers a retry, still refused: same message, nothing broken.
    await page.click('#camera-error button');
    await page.waitForFunction(() => window.__demo.camera.state === 'off' && !document.getElementById('camera-error').hidden);
    await page.evaluate(() => window.scrollTo(0, 0));
    t.diagnostic(`screenshot ${await shoot(page, 'errors-desktop')}`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('camera: a camera that sends no frame -> a message after the timeout, the button usable, Try again recovers', async (t) => {
  if (!requireShared(t)) return;
  const browser = await launchWith(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream']);
  const { page, context, errors } = await openDemo(browser);
  try {
    // A stream whose play() never settles, as with a camera held elsewhere or a broken driver.
    await page.evaluate(() => {
      window.__realPlay = HTMLMediaElement.prototype.play;
      HTMLMediaElement.prototype.play = () => new Promise(() => {});
      window.__demo.setCameraFrameTimeout(1500);
    });
    await page.click('#cam-toggle');
    assert.equal(await page.evaluate(() => window.__demo.camera.state), 'starting');
    await page.waitForSelector('#camera-error:not([hidden])', { timeout: 10000 });
    const after = await page.evaluate(() => ({
      alert: document.getElementById('camera-error').innerText,
      state: window.__demo.camera.state,
      button: document.getElementById('cam-toggle').textContent.trim(),
      disabled: document.getElementById('cam-toggle').disabled,
      src: document.getElementById('video').srcObject,
    }));
    assert.match(after.alert, /The camera sends no picture/);
    assert.match(after.alert, /no frame arrived within 2 s/);
    assert.equal(after.state, 'off');
    assert.equal(after.button, 'Start camera');
    assert.equal(after.disabled, false);
    assert.equal(after.src, null, 'the stream is released');
    // The camera works again: Try again starts it.
    await page.evaluate(() => { HTMLMediaElement.prototype.play = window.__realPlay; });
    await page.click('#camera-error button');
    await page.waitForFunction(() => window.__demo.camera.state === 'on' && window.__demo.camera.frames > 0, null, { timeout: 30000 });
    assert.equal(await page.isVisible('#camera-error'), false);
    await page.click('#cam-toggle');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('camera: no camera -> a message; two cameras -> a camera picker that switches', async (t) => {
  if (!requireShared(t)) return;
  {
    // No fake device: this machine has no camera (CI containers do not).
    const browser = await launchWith(['--use-fake-ui-for-media-stream']);
    const { page, context, errors } = await openDemo(browser);
    try {
      const cams = await page.evaluate(async () => (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput').length);
      if (cams > 0 && !process.env.CI) {
        t.diagnostic(`skipped the no-camera case: this machine has ${cams} real camera(s)`);
      } else {
        await page.click('#cam-toggle');
        await page.waitForSelector('#camera-error:not([hidden])', { timeout: 10000 });
        assert.match(await page.textContent('#camera-error'), /No camera found/);
        assert.equal(await page.evaluate(() => window.__demo.camera.state), 'off');
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  }
  {
    const browser = await launchWith(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream=device-count=2']);
    const { page, context, errors } = await openDemo(browser);
    try {
      await page.click('#cam-toggle');
      await page.waitForFunction(() => window.__demo.camera.frames > 0, null, { timeout: 30000 });
      await page.waitForSelector('#cam-select-wrap:not([hidden])', { timeout: 10000 });
      const options = await page.$$eval('#cam-select option', (o) => o.map((x) => ({ value: x.value, text: x.textContent })));
      assert.equal(options.length, 2, JSON.stringify(options));
      const current = await page.evaluate(() => document.getElementById('video').srcObject.getVideoTracks()[0].getSettings().deviceId);
      assert.equal(await page.inputValue('#cam-select'), current);
      const other = options.find((o) => o.value !== current).value;
      await page.selectOption('#cam-select', other);
      await page.waitForFunction((other) => {
        const s = document.getElementById('video').srcObject;
        return s && s.getVideoTracks()[0].getSettings().deviceId === other && window.__demo.camera.state === 'on';
      }, other, { timeout: 15000 });
      const n = await page.evaluate(() => window.__demo.camera.frames);
      await page.waitForFunction((n) => window.__demo.camera.frames > n + 2, n, { timeout: 15000 });
      await page.click('#cam-toggle');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  }
});

test('published models (no --weights): models.json picker, weights unreachable -> what to do, retry, cached afterwards', async (t) => {
  if (!requireShared(t)) return;
  const plain = await startDemoServer({ port: 0, host: '127.0.0.1', reload: false, logLevel: 'warn' });
  cleanup.push(() => plain.close());
  const browser = await launch();
  const context = await browser.newContext({ viewport: DESKTOP });
  try {
    // huggingface.co, whatever this machine's network: first unreachable, then served from ../shared.
    let reachable = false;
    const hits = [];
    await context.route('https://huggingface.co/**', (route) => {
      const url = route.request().url();
      hits.push(url);
      if (!reachable) return route.abort('internetdisconnected');
      const file = url.endsWith('config.json') ? shared.config(SMALL) : shared.weights(SMALL);
      return route.fulfill({ status: 200, body: readFileSync(file), headers: { 'content-type': 'application/octet-stream', 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' } });
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(plain.url + '/');
    await page.waitForFunction(() => document.documentElement.dataset.model === 'error', null, { timeout: 60000 });
    const state = await page.evaluate(() => ({
      value: document.getElementById('model-select').value,
      n: document.querySelectorAll('#model-select option').length,
      alert: document.getElementById('model-error').innerText,
      code: window.__demo.model.error.code,
    }));
    const models = JSON.parse(readFileSync(path.join(REPO_ROOT, 'weights/models.json'), 'utf8'));
    assert.equal(state.value, models.default);
    assert.equal(state.n, models.models.length);
    assert.equal(state.code, 'WEIGHTS_FETCH');
    assert.match(state.alert, /Could not download mobilenetv3_large_100 from huggingface\.co/);
    assert.match(state.alert, /\.\/build\.sh weights/);
    assert.match(state.alert, /\.\/build\.sh serve --weights weights/);
    // Meanwhile an image waits for a model instead of failing.
    await page.click('.example >> nth=0');
    await page.waitForSelector('.result-card[data-state="waiting"]');
    assert.match(await page.textContent('.result-card .card-note'), /Not classified: no model is loaded/);
    assert.equal(await page.isVisible('.result-card .preds'), false, 'no skeleton bars pulsing forever');
    await page.evaluate(() => window.scrollTo(0, 0));
    t.diagnostic(`screenshot ${await shoot(page, 'weights-unreachable-desktop', { fullPage: false })}`);

    // Reachable again, but the stand-in's bytes are not the file models.json pins for the default
    // model: "Try again" reports that (WEIGHTS_INTEGRITY), and the card still waits.
    reachable = true;
    await page.click('#model-error button');
    await page.waitForFunction(() => window.__demo.model.error?.code === 'WEIGHTS_INTEGRITY', null, { timeout: 60000 });
    assert.match(await page.innerText('#model-error'), /mobilenetv3_large_100 is not the published file/);
    assert.match(await page.textContent('.result-card .card-note'), /Not classified: no model is loaded/);
    // An unpinned model whose files the stand-in does serve: downloads with progress, the waiting
    // card gets its result.
    await page.evaluate(() => {
      window.__progress = [];
      new MutationObserver(() => window.__progress.push(document.getElementById('model-state').textContent))
        .observe(document.getElementById('model-state'), { childList: true, characterData: true, subtree: true });
    });
    await page.selectOption('#model-select', SMALL);
    await page.waitForFunction(() => document.documentElement.dataset.model === 'ready', null, { timeout: 60000 });
    const progress = await page.evaluate(() => window.__progress);
    assert.ok(progress.some((s) => /^Downloading tf_mobilenetv3_small_100: [\d.]+ (MB|kB) of [\d.]+ MB$/.test(s)), progress.join(' | '));
    assert.ok(CATS.includes((await cardResult(page, 'chelsea.jpg')).labels[0]));
    assert.equal(await page.isVisible('#model-error'), false);

    // Cached afterwards: a reload loads it without touching the network.
    const before = hits.length;
    await page.reload();
    await page.waitForFunction(() => document.documentElement.dataset.model === 'ready', null, { timeout: 60000 });
    assert.match(await page.textContent('#model-state'), /from the cache/);
    assert.equal(hits.length, before, 'no request to huggingface.co after the reload');
    // "Forget downloaded models": the next load downloads again.
    await page.click('#clear-cache');
    await page.waitForFunction(() => /^Done/.test(document.getElementById('cache-note').textContent));
    await page.reload();
    await page.waitForFunction(() => document.documentElement.dataset.model === 'ready', null, { timeout: 60000 });
    assert.ok(hits.length > before, 'downloaded again after forgetting');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('first visit: Start camera visible at 1280x800, an image dropped while the model loads says so, a long file name stays inside its card at 390 px', async (t) => {
  if (!requireShared(t)) return;
  const browser = await launch();
  // The model's weights hang until released: the page stays "loading".
  const context = await browser.newContext({ viewport: DESKTOP });
  let release;
  const held = new Promise((r) => { release = r; });
  await context.route('**/local-weights/**', async (route) => { await held; await route.continue(); });
  try {
    const page = await context.newPage();
    await page.goto(srv.url + '/');
    await page.waitForFunction(() => document.documentElement.dataset.model === 'loading');
    const cam = await page.evaluate(() => {
      const r = document.getElementById('cam-toggle').getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, scrollY: window.scrollY, innerHeight: window.innerHeight, text: document.getElementById('cam-toggle').textContent.trim() };
    });
    assert.equal(cam.text, 'Start camera');
    assert.ok(cam.scrollY === 0 && cam.top >= 0 && cam.bottom <= cam.innerHeight, `Start camera at ${cam.top}..${cam.bottom} px, viewport ${cam.innerHeight} px`);

    await dropFiles(page, [fileArg(shared.photo('koala.jpg'))]);
    await page.waitForSelector('.result-card[data-state="waiting"]');
    const waiting = await page.evaluate(() => {
      const c = document.querySelector('.result-card');
      return { note: c.querySelector('.card-note').hidden ? '' : c.querySelector('.card-note').textContent, preds: getComputedStyle(c.querySelector('.preds')).visibility };
    });
    assert.match(waiting.note, /Waiting for the model to finish loading/);
    assert.equal(waiting.preds, 'hidden', 'no skeleton bars while waiting');
    await page.evaluate(() => document.querySelector('.result-card').scrollIntoView({ block: 'center' }));
    t.diagnostic(`screenshot ${await shoot(page, 'waiting-for-model-desktop', { fullPage: false, top: false })}`);
    release();
    await page.waitForFunction(() => document.querySelector('.result-card')?.dataset.state === 'done', null, { timeout: 60000 });
    assert.equal(await page.isVisible('.result-card .card-note'), false);

    // A phone (390 px, touch): long file names are cut with an ellipsis; the close button and
    // the percentages stay inside the card, and nothing is wider than the screen.
    const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
    try {
      const p = await phone.newPage();
      await p.goto(srv.url + '/');
      await p.waitForFunction(() => document.documentElement.dataset.model === 'ready', null, { timeout: 60000 });
      const names = ['IMG_20240612_183045_HDR.jpg', 'holiday_photo_of_the_koala_at_the_zoo_2024_final_v2.jpg', 'Koalabärfotografie_Aufnahme_Nummer_0001_groß.jpeg'];
      assert.ok(names.every((n) => n.length >= 27));
      const chooser = p.waitForEvent('filechooser');
      await p.tap('#pick');
      await (await chooser).setFiles(names.map((name) => ({ name, mimeType: 'image/jpeg', buffer: readFileSync(shared.photo('koala.jpg')) })));
      for (const name of names) await cardResult(p, name);
      const boxes = await p.evaluate(() => [...document.querySelectorAll('.result-card')].map((c) => {
        const card = c.getBoundingClientRect();
        const inside = (e) => {
          const r = e.getBoundingClientRect();
          return r.left >= card.left - 0.5 && r.right <= card.right + 0.5;
        };
        const name = c.querySelector('.card-name');
        return {
          name: c.getAttribute('aria-label'),
          remove: inside(c.querySelector('.remove')),
          pcts: [...c.querySelectorAll('.pred .pct')].every(inside),
          title: inside(c.querySelector('.card-title')),
          cardOnScreen: card.left >= 0 && card.right <= window.innerWidth + 0.5,
          nameCut: name.scrollWidth > name.clientWidth,
        };
      }));
      for (const b of boxes) assert.ok(b.remove && b.pcts && b.title && b.cardOnScreen, JSON.stringify(b));
      assert.ok(boxes.find((b) => b.name === names[1]).nameCut, 'the longest name is cut (ellipsis)');
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `phone layout overflows by ${overflow}px`);
      await p.evaluate(() => document.querySelector('#cards').scrollIntoView());
      t.diagnostic(`screenshot ${await shoot(p, 'long-names-phone', { fullPage: false, top: false })}`);
    } finally {
      await phone.close();
    }
  } finally {
    release();
    await context.close();
  }
});

test('--build: the production build (vite build + vite preview) serves a working, isolated page', async (t) => {
  if (!requireShared(t)) return;
  const outDir = mkdtempSync(path.join(tmpdir(), 'mnv3-demo-dist-'));
  cleanup.push(() => rmSync(outDir, { recursive: true, force: true }));
  let prod;
  try {
    prod = await startDemoServer({ weightsDir: WEIGHTS_DIR, port: 0, host: '127.0.0.1', build: true, outDir, logLevel: 'warn' });
  } catch (e) {
    // Only when someone ran `./build.sh wasm` without the packaging step (./build.sh runs both).
    if (/still imports a snippet/.test(e.message) && !process.env.CI) return t.skip(e.message);
    throw e;
  }
  cleanup.push(() => prod.close());
  const browser = await launch();
  const { page, context, errors } = await openDemo(browser, { url: prod.url + '/' });
  try {
    assert.equal(await page.textContent('#st-build'), 'threaded');
    await page.click('.example >> nth=2');
    assert.equal((await cardResult(page, 'grace_hopper.jpg')).heads[0], 'military uniform');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
