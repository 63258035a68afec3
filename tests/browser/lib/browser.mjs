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

/** New context + page at `url`; collects page errors and console.error lines. */
export async function openPage(browser, url, { waitFor = 'window.__ready === true', timeout = 30000 } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  const logs = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    logs.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  await page.goto(url);
  if (waitFor) await page.waitForFunction(waitFor, null, { timeout });
  return { context, page, errors, logs };
}
