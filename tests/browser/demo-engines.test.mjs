// Demo smoke test in each engine (lib/engines.mjs): the page served by www/serve.mjs with
// --weights ../shared/weights loads a model (threaded build, WebKit with SharedArrayBuffer as in
// Safari), a dropped photo gets timm's label, and the camera (the engine's fake device) shows live
// labels. demo.test.mjs drives the whole page in Chromium.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ENGINES, launchEngine } from './lib/engines.mjs';
import { shared, sharedAvailable, requireShared } from './lib/shared.mjs';
import { startDemoServer } from '../../www/serve.mjs';

const LARGE = 'tf_mobilenetv3_large_minimal_100'; // first in ../shared/weights: the one selected
const PHOTO = 'koala.jpg';
let srv;

before(async () => {
  if (!sharedAvailable()) return; // each test reports the skip (or, with CI set, the failure)
  srv = await startDemoServer({ weightsDir: path.join(shared.dir, 'weights'), port: 0, host: '127.0.0.1', reload: false, logLevel: 'warn' });
});
after(() => srv?.close());

for (const engine of ENGINES) describe(engine, () => {
  test('demo: the model loads, a dropped photo gets timm\'s label, the camera shows live labels', async (t) => {
    if (!requireShared(t)) return;
    const browser = await launchEngine(engine, { camera: true, sharedArrayBuffer: true });
    try {
      const page = await browser.open(srv.url + '/', { waitFor: () => ['ready', 'error'].includes(document.documentElement.dataset.model), timeout: 90000 });
      const model = await page.evaluate(() => window.__demo.model);
      assert.equal(model.state, 'ready', JSON.stringify(model.error));
      assert.equal(model.info.build, 'threaded', model.info.buildReason);
      const expected = model.info.labels[shared.timmTop5()[PHOTO][LARGE].top5[0]];
      // The status line shows what the browser offers (WebKit: no relaxed SIMD).
      const offers = await page.evaluate(() => document.getElementById('st-caps').textContent);
      assert.match(offers, /^SIMD128 · /);
      assert.equal(offers.includes('relaxed SIMD'), engine !== 'webkit', offers);
      assert.match(offers, /SharedArrayBuffer/);

      const b64 = readFileSync(shared.photo(PHOTO)).toString('base64');
      await page.evaluate(({ b64, name }) => {
        const dt = new DataTransfer();
        dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: 'image/jpeg' }));
        for (const type of ['dragenter', 'dragover', 'drop']) {
          document.body.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
        }
      }, { b64, name: PHOTO });
      const top = await page.waitFor((name) => {
        const c = [...document.querySelectorAll('.result-card')].find((c) => c.getAttribute('aria-label') === name);
        return c && c.dataset.state === 'done' && c.dataset.top;
      }, PHOTO, { timeout: 30000 });
      assert.equal(top, expected);

      await page.evaluate(() => document.getElementById('cam-toggle').click());
      await page.waitFor(() => window.__demo.camera.frames >= 5, undefined, { timeout: 30000 });
      const f0 = await page.evaluate(() => ({ frames: window.__demo.camera.frames, t: performance.now() }));
      await new Promise((r) => setTimeout(r, 3000));
      const live = await page.evaluate((f0) => ({
        label: document.querySelector('#live-labels .lbl').dataset.label,
        fps: (window.__demo.camera.frames - f0.frames) / ((performance.now() - f0.t) / 1000),
        state: window.__demo.camera.state,
      }), f0);
      t.diagnostic(`${engine}: ${model.info.build} (${model.info.threads} threads; ${offers}); ${PHOTO} -> ${top}; camera live label "${live.label}", ${live.fps.toFixed(1)} results/s`);
      assert.ok(live.label, 'a live label is shown');
      assert.ok(live.fps > 0, 'the live labels keep updating'); // a rate, not a speed assertion
      await page.evaluate(() => document.getElementById('cam-toggle').click());
      assert.deepEqual(await page.errors(), []);
      await page.close();
    } finally {
      await browser.close();
    }
  });
});
