// The demo's Teach panel (www/teach.js) in Chromium, on a fake webcam that shows a koala then a
// tractor (1.5 s each): a class taught by holding its button while the camera runs, a class taught
// by dropping a photo on it, live custom labels over the camera, rename, delete, export / import,
// kept across a reload (IndexedDB); screenshots of the camera panel (video + Teach) at desktop and phone widths
// (artifacts/screenshots/demo-teach-*.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './lib/server.mjs';
import { launchChromium } from './lib/browser.mjs';
import { photoToY4m } from './lib/y4m.mjs';
import { shared, sharedAvailable, requireShared } from './lib/shared.mjs';
import { startDemoServer } from '../../www/serve.mjs';

const SHOTS = path.join(REPO_ROOT, 'artifacts', 'screenshots');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
let srv, dir;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  if (!sharedAvailable()) return;
  srv = await startDemoServer({ weightsDir: path.join(shared.dir, 'weights'), port: 0, host: '127.0.0.1', reload: false, logLevel: 'warn' });
});
after(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function camera() {
  const decoder = await launchChromium();
  try {
    dir = mkdtempSync(path.join(tmpdir(), 'mnv3-teach-cam-'));
    const a = readFileSync(await photoToY4m(decoder, shared.photo('koala.jpg'), { width: 640, height: 480, frames: 45, dir }));
    const b = readFileSync(await photoToY4m(decoder, shared.photo('tractor.jpg'), { width: 640, height: 480, frames: 45, dir }));
    const file = path.join(dir, 'camera.y4m');
    writeFileSync(file, Buffer.concat([a, b.subarray(b.indexOf(0x0a) + 1)]));
    return file;
  } finally {
    await decoder.close();
  }
}

const teachState = (page) => page.evaluate(() => window.__demo.teach);

async function dropOn(page, selector, file) {
  const b64 = readFileSync(file).toString('base64');
  await page.evaluate(({ selector, b64, name }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: 'image/jpeg' }));
    const target = document.querySelector(selector);
    for (const type of ['dragenter', 'dragover', 'drop']) target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { selector, b64, name: path.basename(file) });
}

test('Teach: hold to add from the camera, drop a photo on a class, live custom labels, rename, delete, export/import, kept across reload', async (t) => {
  if (!requireShared(t)) return;
  const browser = await launchChromium({ fakeVideo: await camera() });
  try {
    const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console.error: ${m.text()}`); });
    page.on('dialog', (d) => d.type() === 'prompt' ? d.accept('koala toy') : d.accept());
    await page.goto(srv.url + '/');
    await page.waitForFunction(() => document.documentElement.dataset.model === 'ready' && window.__demo.teach, null, { timeout: 90000 });
    assert.deepEqual((await teachState(page)).labels, []);

    // Hold to add from the camera: ~4 frames a second while the button is down, none after.
    // (The fake webcam alternates two photos, so this class gets both: deleted afterwards.)
    await page.fill('#teach-name', 'camera');
    await page.click('#teach-form button[type=submit]');
    assert.deepEqual((await teachState(page)).pending, ['camera']);
    // Holding with the camera off says what to do.
    await page.dispatchEvent('.teach-class[data-label="camera"] .teach-hold', 'pointerdown');
    await page.waitForSelector('#teach-error:not([hidden])');
    assert.match(await page.textContent('#teach-error'), /camera is off/);
    await page.click('#cam-toggle');
    await page.waitForFunction(() => window.__demo.camera.state === 'on' && window.__demo.camera.frames > 2, null, { timeout: 30000 });
    const hold = page.locator('.teach-class[data-label="camera"] .teach-hold');
    await hold.hover();
    await page.mouse.down();
    await page.waitForTimeout(2000);
    await page.mouse.up();
    await page.waitForTimeout(500);
    const afterHold = await teachState(page);
    t.diagnostic(`held 2 s: ${afterHold.counts.camera} examples`);
    assert.ok(afterHold.counts.camera >= 3, JSON.stringify(afterHold));
    await page.waitForTimeout(800);
    assert.equal((await teachState(page)).counts.camera, afterHold.counts.camera, 'no example added after release');
    await page.click('.teach-class[data-label="camera"] button:text("Delete")');
    assert.deepEqual((await teachState(page)).labels, []);

    // Classes taught by dropping photos on them.
    for (const name of ['koala', 'tractor']) {
      await page.fill('#teach-name', name);
      await page.press('#teach-name', 'Enter');
      await dropOn(page, `.teach-class[data-label="${name}"]`, shared.photo(`${name}.jpg`));
      await dropOn(page, `.teach-class[data-label="${name}"]`, shared.photo(`${name}.jpg`));
      await page.waitForFunction((name) => window.__demo.teach.counts[name] === 2, name, { timeout: 30000 });
    }
    const stopped = 2;
    assert.equal(await page.locator('.result-card').count(), 0, 'a drop on a class is not also classified as a card');
    assert.match(await page.textContent('.teach-class[data-label="tractor"] .teach-count'), /2 examples/);

    // Two classes: the camera shows them, following the photo in front of it.
    await page.waitForFunction(() => window.__demo.teach.live, null, { timeout: 10000 });
    const seen = await page.evaluate(async () => {
      const seen = new Set();
      const lbl = document.querySelector('#live-labels .lbl');
      const ob = new MutationObserver(() => seen.add(lbl.dataset.label || lbl.textContent));
      ob.observe(document.getElementById('live-labels'), { subtree: true, childList: true, characterData: true, attributes: true });
      await new Promise((r) => setTimeout(r, 5000));
      ob.disconnect();
      return [...seen];
    });
    t.diagnostic(`live labels while taught: ${JSON.stringify(seen)}`);
    assert.ok(seen.some((l) => /koala/.test(l)) && seen.some((l) => /tractor/.test(l)), JSON.stringify(seen));
    assert.ok(seen.every((l) => /^(not sure: )?(koala|tractor)\??$/.test(l)), `only custom labels: ${JSON.stringify(seen)}`);
    // The camera panel: the video with the custom labels over it, the Teach controls below.
    await page.locator('.camera-panel').screenshot({ path: path.join(SHOTS, 'demo-teach-desktop.png') });
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, 'no horizontal scrolling at 390 px');
    await page.locator('.camera-panel').screenshot({ path: path.join(SHOTS, 'demo-teach-phone.png') });
    await page.setViewportSize(DESKTOP);

    // Rename (prompt answered 'koala toy'), export, delete, import.
    await page.click('.teach-class[data-label="koala"] button:text("Rename")');
    assert.deepEqual((await teachState(page)).labels, ['koala toy', 'tractor']);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#teach-export')]);
    const exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.equal(exported.format, 'mobilenetv3-wasm/learner');
    assert.deepEqual(exported.classes.map((c) => c.label), ['koala toy', 'tractor']);
    await page.click('.teach-class[data-label="tractor"] button:text("Delete")');
    assert.deepEqual((await teachState(page)).labels, ['koala toy']);
    const file = path.join(dir, 'classes.json');
    writeFileSync(file, JSON.stringify(exported));
    await page.setInputFiles('#teach-import-file', file);
    await page.waitForFunction(() => window.__demo.teach.labels.length === 2);
    assert.deepEqual((await teachState(page)).counts, { 'koala toy': stopped, tractor: 2 });
    // A foreign file: a message, nothing lost.
    writeFileSync(file, JSON.stringify({ ...exported, embeddingSize: 1 }));
    await page.setInputFiles('#teach-import-file', file);
    await page.waitForSelector('#teach-error:not([hidden])');
    assert.match(await page.textContent('#teach-error'), /Could not import/);
    assert.equal((await teachState(page)).labels.length, 2);

    // Kept across a reload (IndexedDB).
    await page.waitForTimeout(800); // the debounced save
    await page.reload();
    await page.waitForFunction(() => document.documentElement.dataset.model === 'ready' && window.__demo.teach, null, { timeout: 90000 });
    assert.deepEqual((await teachState(page)).counts, { 'koala toy': stopped, tractor: 2 });
    assert.match(await page.textContent('#teach-status'), /Restored 2 classes/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
