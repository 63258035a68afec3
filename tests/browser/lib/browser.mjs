// Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core
// (never `npx playwright install`). Each launch gets a fresh profile.
//
//   import { launchChromium, openPage } from './lib/browser.mjs';
//   const browser = await launchChromium({ fakeVideo: '/tmp/cam.y4m' });   // optional fake webcam
//   const { page, errors, logs } = await openPage(browser, srv.url + '/tests/browser/pages/runtime.html');
//   ... assert.deepEqual(errors, [])    // uncaught page errors + console.error lines
//   await browser.close();              // always, e.g. in an after() hook
//
// launchChromium options:
//   fakeVideo   path of a .y4m file: getUserMedia() gets it as a camera (looped), no permission prompt
//   args        extra Chromium switches
//   env CHROMIUM overrides the executable path.
// Always on: --enable-precise-memory-info (exact performance.memory) and --js-flags=--expose-gc
// (window.gc() / self.gc() to measure memory after a collection).

import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const BASE_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-precise-memory-info',
  '--js-flags=--expose-gc',
];

export async function launchChromium({ fakeVideo, args = [] } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: run ./build.sh setup (installs Debian's chromium)`);
  }
  const extra = fakeVideo
    ? ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${fakeVideo}`]
    : [];
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...BASE_ARGS, ...extra, ...args] });
}

/** Collects a page's uncaught errors and console lines (Playwright and Puppeteer pages alike). */
export function pageEvents(page) {
  const errors = [];
  const logs = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    logs.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  return { errors, logs };
}

/** New context + page at `url`; collects page errors and console.error lines. */
export async function openPage(browser, url, { waitFor = 'window.__ready === true', timeout = 30000 } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const { errors, logs } = pageEvents(page);
  await page.goto(url);
  if (waitFor) await page.waitForFunction(waitFor, null, { timeout });
  return { context, page, errors, logs };
}

/**
 * JS heap of the page's dedicated workers (Chromium has no performance.memory in workers), through
 * CDP. `const probe = await workerHeapProbe(context, page)`; `await probe.measure()` collects
 * garbage in each worker and returns [{ url, usedBytes }]. Call after the workers exist (or later
 * ones are picked up automatically). `probe.close()` detaches.
 */
export async function workerHeapProbe(context, page) {
  const cdp = await context.newCDPSession(page);
  const sessions = new Map(); // sessionId -> url
  const pending = new Map();
  let nextId = 1;
  cdp.on('Target.attachedToTarget', (e) => {
    if (e.targetInfo.type === 'worker') sessions.set(e.sessionId, e.targetInfo.url);
  });
  cdp.on('Target.detachedFromTarget', (e) => sessions.delete(e.sessionId));
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    const m = JSON.parse(e.message);
    const resolve = pending.get(m.id);
    if (resolve) {
      pending.delete(m.id);
      resolve(m);
    }
  });
  const call = (sessionId, method, params = {}) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, resolve);
    cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
    setTimeout(() => pending.has(id) && (pending.delete(id), reject(new Error(`CDP ${method} timed out`))), 10000);
  });
  // Old-style (non-flat) sessions: independent of Playwright's own flat auto-attach.
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  return {
    async measure() {
      const out = [];
      for (const [sessionId, url] of sessions) {
        // The threaded build's pool workers (started by the page) run rayon's loop and never
        // return to their event loop, so they cannot answer; their JS does nothing per frame.
        if (/\/pool-worker\.js(\?|$)/.test(url)) continue;
        await call(sessionId, 'HeapProfiler.collectGarbage');
        const r = await call(sessionId, 'Runtime.getHeapUsage');
        out.push({ url, usedBytes: r.result.usedSize });
      }
      return out;
    },
    close: () => cdp.detach().catch(() => {}),
  };
}

/**
 * The usual environment of the runtime tests: one cross-origin-isolated server, one plain
 * server (no COOP/COEP) and one browser of `engine` (an engines.mjs browser: `browser.open(url)`;
 * the other options go to launchEngine). `close()` stops all three.
 */
export async function startIsolatedAndPlain({ engine = 'chromium', ...launchOptions } = {}) {
  const { startServer } = await import('./server.mjs');
  const { launchEngine } = await import('./engines.mjs');
  const iso = await startServer({ isolated: true });
  const plain = await startServer({ isolated: false });
  const browser = await launchEngine(engine, launchOptions).catch(async (e) => {
    await iso.close();
    await plain.close();
    throw e;
  });
  return {
    iso,
    plain,
    browser,
    async close() {
      await browser.close();
      await iso.close();
      await plain.close();
    },
  };
}
