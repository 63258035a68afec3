// js/isolate-sw.js (threads on static hosts): against a server that sends no COOP/COEP, the page
// reloads once through the service worker, is then cross-origin isolated and runs the threaded
// build; it never reloads in a loop (an iframe in a page that is not isolated can never be); on a
// page that is already isolated it does nothing. In each engine: WebKit ignores COEP credentialless,
// so there the page reloads a second time, with require-corp (and runs the threaded build when
// SharedArrayBuffer is exposed, as in Safari).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { startServer, REPO_ROOT } from './lib/server.mjs';
import { ENGINES, launchEngine } from './lib/engines.mjs';
import { requireShared } from './lib/shared.mjs';

const PAGE = '/tests/browser/pages/isolate-sw.html';
const routes = {
  '/isolate-sw.js': (req, res) => {
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    createReadStream(path.join(REPO_ROOT, 'js/isolate-sw.js')).pipe(res);
  },
  '/framed.html': (req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><iframe src="${PAGE}"></iframe>`);
  },
};
let plain, iso;

before(async () => {
  plain = await startServer({ isolated: false, routes });
  iso = await startServer({ isolated: true, routes });
});
after(async () => {
  await plain?.close();
  await iso?.close();
});

for (const engine of ENGINES) describe(engine, () => {
  // Chromium and Firefox take COEP credentialless; WebKit does not, so it needs the second try.
  const expected = engine === 'webkit' ? { reloads: 2, coep: 'require-corp' } : { reloads: 1, coep: 'credentialless' };
  let browser;
  before(async () => (browser = await launchEngine(engine, { sharedArrayBuffer: true })));
  after(() => browser?.close());
  // Each test needs a profile without the service worker and session of the others: a fresh browser
  // context in Chromium and Firefox; a fresh WebKit (its one window keeps storage and workers).
  const open = async (url, opts) => {
    if (engine === 'webkit') {
      await browser.close();
      browser = await launchEngine(engine, { sharedArrayBuffer: true });
    }
    return browser.open(url, opts);
  };

  test(`no COOP/COEP from the server: ${expected.reloads === 1 ? 'one reload' : 'two reloads'}, then crossOriginIsolated and the threaded build; no loop`, async (t) => {
    if (!requireShared(t)) return;
    const page = await open(plain.url + PAGE, { waitFor: () => window.__ready === true && crossOriginIsolated, timeout: 30000 });
    try {
      const out = await page.evaluate(async () => {
        const clf = await mnv3.createClassifier({ ...{ weights: '/shared/weights/tf_mobilenetv3_small_100.safetensors', config: '/shared/weights/tf_mobilenetv3_small_100.config.json' }, threads: 2, cache: false });
        const r = await clf.classify(await (await fetch('/shared/photos/koala.jpg')).blob());
        const { build, threads, buildReason } = clf.info;
        clf.dispose();
        return { top: r.top[0].index, build, threads, buildReason, loads: Number(sessionStorage.getItem('loads')), sw: navigator.serviceWorker.controller.scriptURL };
      });
      t.diagnostic(`${engine}: ${JSON.stringify(out)}`);
      assert.equal(out.loads, 1 + expected.reloads, 'reloads');
      assert.equal(out.build, 'threaded', out.buildReason);
      assert.equal(out.threads, 2);
      assert.equal(out.top, 105);
      assert.ok(out.sw.endsWith(`/isolate-sw.js?coep=${expected.coep}`), out.sw);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await page.evaluate(() => Number(sessionStorage.getItem('loads'))), out.loads, 'no further reload');
      // A reload by the user: still isolated at once, no extra reload.
      await page.evaluate(() => setTimeout(() => location.reload(), 0));
      await page.waitFor((n) => window.__ready === true && Number(sessionStorage.getItem('loads')) === n, out.loads + 1);
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(await page.evaluate(() => [crossOriginIsolated, Number(sessionStorage.getItem('loads'))]), [true, out.loads + 1]);
      assert.deepEqual(await page.errors(), []);
    } finally {
      await page.close();
    }
  });

  test('a page that can never be isolated (in an iframe of a page that is not): at most two reloads, then it stays', async () => {
    const page = await open(plain.url + '/framed.html', { waitFor: null });
    try {
      const loads = () => page.evaluate(() => {
        const w = document.querySelector('iframe').contentWindow;
        return { loads: Number(w.sessionStorage.getItem('loads')), isolated: w.crossOriginIsolated, ready: w.__ready === true };
      });
      await page.waitFor(() => {
        const w = document.querySelector('iframe').contentWindow;
        return w.__ready === true && Number(w.sessionStorage.getItem('loads')) >= 3;
      }, undefined, { timeout: 20000 });
      await new Promise((r) => setTimeout(r, 3000));
      assert.deepEqual(await loads(), { loads: 3, isolated: false, ready: true });
    } finally {
      await page.close();
    }
  });

  test('a page that is already isolated: no service worker, no reload', async () => {
    const page = await open(iso.url + PAGE);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const out = await page.evaluate(async () => ({
        isolated: crossOriginIsolated,
        loads: Number(sessionStorage.getItem('loads')),
        registrations: (await navigator.serviceWorker.getRegistrations()).length,
      }));
      assert.deepEqual(out, { isolated: true, loads: 1, registrations: 0 });
      assert.deepEqual(await page.errors(), []);
    } finally {
      await page.close();
    }
  });
});
