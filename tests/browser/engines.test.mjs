// lib/engines.mjs itself, in each engine: evaluate() with an argument and async results, waitFor(),
// page errors and console.error lines collected, the fake camera, and the engine facts the runtime
// depends on (cross-origin isolation, SharedArrayBuffer, WebKit's hidden SharedArrayBuffer unless
// JSC_useSharedArrayBuffer is set, hardwareConcurrency). No wasm needed: runs before anything is built.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { ENGINES, launchEngine } from './lib/engines.mjs';

const PAGE = '/tests/browser/pages/runtime.html';
let iso, plain;
const servers = async () => {
  iso ||= await startServer({ isolated: true });
  plain ||= await startServer({ isolated: false });
};
after(async () => {
  await iso?.close();
  await plain?.close();
});

const probe = async () => {
  let camera;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true });
    const track = stream.getVideoTracks()[0];
    camera = { label: track.label, width: track.getSettings().width };
    track.stop();
  } catch (e) {
    camera = { error: `${e.name}: ${e.message}` };
  }
  return {
    isolated: crossOriginIsolated,
    sab: typeof SharedArrayBuffer === 'function',
    cores: navigator.hardwareConcurrency,
    camera,
  };
};

for (const engine of ENGINES) describe(engine, () => {
  test('evaluate, waitFor, errors and console.error, fake camera; isolated vs plain page', async (t) => {
    await servers();
    const t0 = Date.now();
    const browser = await launchEngine(engine, { camera: true, sharedArrayBuffer: true });
    const launchMs = Date.now() - t0;
    try {
      const page = await browser.open(iso.url + PAGE);
      assert.deepEqual(await page.evaluate(async (x) => ({ doubled: x.n * 2, later: await Promise.resolve('yes') }), { n: 21 }), { doubled: 42, later: 'yes' });
      assert.equal(await page.evaluate(() => undefined), null);
      await assert.rejects(page.evaluate(() => { throw new Error('thrown in the page'); }), /thrown in the page/);
      await page.evaluate(() => {
        setTimeout(() => (window.later = 7), 300);
        console.error('an error line');
        setTimeout(() => { throw new Error('uncaught in the page'); });
      });
      assert.equal(await page.waitFor(() => window.later, undefined, { timeout: 5000 }), 7);
      await assert.rejects(page.waitFor(() => window.never, undefined, { timeout: 300 }), /timed out/);
      const errors = await page.errors();
      assert.ok(errors.some((e) => /^console\.error: an error line/.test(e)), errors.join('\n'));
      assert.ok(errors.some((e) => /^pageerror: (Error: )?uncaught in the page/.test(e)), errors.join('\n'));
      const isolated = await page.evaluate(probe);
      await page.close();
      const p2 = await browser.open(plain.url + PAGE);
      const notIsolated = await p2.evaluate(probe);
      assert.deepEqual(await p2.errors(), []);
      await p2.close();
      t.diagnostic(`${engine}: launch ${launchMs} ms; isolated page ${JSON.stringify(isolated)}; plain page ${JSON.stringify(notIsolated)}`);
      assert.equal(isolated.isolated, true);
      assert.equal(isolated.sab, true, 'SharedArrayBuffer on an isolated page (WebKit: with JSC_useSharedArrayBuffer)');
      assert.equal(notIsolated.isolated, false);
      // JSC_useSharedArrayBuffer exposes it everywhere (Safari: isolated pages only); the runtime
      // looks at crossOriginIsolated too, so such a page still gets the single build.
      assert.equal(notIsolated.sab, engine === 'webkit', 'SharedArrayBuffer without isolation');
      assert.ok(isolated.camera.width > 0 && isolated.camera.label, JSON.stringify(isolated.camera));
      if (engine === 'webkit') assert.equal(isolated.cores, 4, 'WebKitGTK reports 4 cores whatever the machine');
    } finally {
      await browser.close();
    }
  });

  if (engine === 'webkit') {
    test('WebKitGTK as shipped (no JSC_useSharedArrayBuffer) hides SharedArrayBuffer even on an isolated page', async () => {
      await servers();
      const browser = await launchEngine('webkit');
      try {
        const page = await browser.open(iso.url + PAGE);
        const out = await page.evaluate(probe);
        assert.equal(out.isolated, true);
        assert.equal(out.sab, false);
        await page.close();
      } finally {
        await browser.close();
      }
    });
  }
});
