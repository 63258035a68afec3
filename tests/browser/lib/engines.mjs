// One engine-neutral way to drive Chromium, Firefox and WebKit from Node tests (and the benchmark),
// all three Debian's own browsers (Playwright's browser downloads do not work here):
//   chromium  /usr/bin/chromium through playwright-core (see browser.mjs)
//   firefox   /usr/bin/firefox-esr through puppeteer-core over WebDriver BiDi, headless
//   webkit    WebKitWebDriver + MiniBrowser (webkit2gtk-driver), plain W3C WebDriver over HTTP,
//             under xvfb-run when there is no DISPLAY (MiniBrowser has no headless mode)
// ../../shared/notes/browsers.md has the recipe and the engine facts; `./build.sh setup` installs all three.
//
//   import { ENGINES, launchEngine } from './lib/engines.mjs';
//   for (const engine of ENGINES) {
//     const browser = await launchEngine(engine, { camera: true });
//     const page = await browser.open(srv.url + '/tests/browser/pages/runtime.html');  // waits for window.__ready
//     const out = await page.evaluate(async (x) => { ... return plainJson; }, arg);  // one JSON-able argument
//     await page.waitFor(() => window.done === true, undefined, { timeout: 60000 });
//     assert.deepEqual(await page.errors(), []);   // uncaught errors + console.error lines of the page
//     await page.close();
//     await browser.close();
//   }
//
// ENGINES: env ENGINES (comma-separated, e.g. ENGINES=firefox) or all three.
// launchEngine(engine, options):
//   camera            true: the engine's fake camera (Firefox: its fake device; WebKit: the mock capture
//                     device; Chromium: its test pattern), no permission prompt. Chromium only: a .y4m
//                     path plays that file as the camera (lib/y4m.mjs makes one from a photo).
//   sharedArrayBuffer WebKit only: true sets JSC_useSharedArrayBuffer=true in the driver's environment,
//                     so isolated pages get SharedArrayBuffer as in Safari (WebKitGTK hides it otherwise;
//                     with it, unlike Safari, pages that are not isolated get one too).
//   args              extra command-line switches (Chromium) / MiniBrowser arguments (WebKit).
// browser.open(url, { waitFor = 'window.__ready === true', timeout }): a page (Chromium/Firefox: each in a
//   fresh browser context; WebKit: the session's one window, so one open page at a time, and storage
//   such as the Cache API is shared between its pages).
// page.evaluate(fn, arg): fn runs in the page (it may be async) and gets `arg`; returns its JSON result
//   (undefined comes back as null in every engine).
// page.waitFor(fnOrExpression, arg, { timeout, interval }): polls until truthy (through reloads); returns the value.
// page.errors() / page.logs(): what the page reported ('pageerror: ...', 'console.error: ...'; logs
//   'TYPE: text'). Workers are not included. WebKit echoes nothing in automation mode, so there the
//   helper injects lib/page-errors.js after load (pages/runtime.html loads it itself before any module).
// page.raw: the engine's own page object (Playwright / Puppeteer Page; WebKit: { session, request }).

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { launchChromium, pageEvents, CHROMIUM } from './browser.mjs';

export const ALL_ENGINES = ['chromium', 'firefox', 'webkit'];
export const ENGINES = process.env.ENGINES
  ? process.env.ENGINES.split(',').map((s) => s.trim()).filter(Boolean)
  : ALL_ENGINES;
for (const e of ENGINES) if (!ALL_ENGINES.includes(e)) throw new Error(`ENGINES: unknown engine ${e} (${ALL_ENGINES.join(', ')})`);

export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER || '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.MINIBROWSER || findMiniBrowser();

function findMiniBrowser() {
  for (const lib of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) {
    if (!existsSync(lib)) continue;
    for (const d of readdirSync(lib).filter((n) => /^webkit2gtk-4\.[01]$/.test(n)).sort().reverse()) {
      if (existsSync(`${lib}/${d}/MiniBrowser`)) return `${lib}/${d}/MiniBrowser`;
    }
  }
  return '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
}

/** What is missing to run `engine` here (null when it can run). */
export function engineMissing(engine) {
  const need = { chromium: [CHROMIUM], firefox: [FIREFOX], webkit: [WEBKIT_DRIVER, MINIBROWSER] }[engine];
  if (!need) return `unknown engine ${engine}`;
  const missing = need.filter((f) => !existsSync(f));
  if (engine === 'webkit' && !process.env.DISPLAY && !existsSync('/usr/bin/xvfb-run')) missing.push('/usr/bin/xvfb-run');
  return missing.length ? `${missing.join(', ')} not found: run ./build.sh setup (installs Debian's browsers)` : null;
}

/** Launches `engine` (see the top of this file). */
export async function launchEngine(engine, opts = {}) {
  const missing = engineMissing(engine);
  if (missing) throw new Error(`${engine}: ${missing}`);
  if (engine === 'chromium') return launchChromiumEngine(opts);
  if (engine === 'firefox') return launchFirefox(opts);
  return launchWebKit(opts);
}

const HOOK = readFileSync(new URL('./page-errors.js', import.meta.url), 'utf8');

const DEFAULT_WAIT = 'window.__ready === true';

/** The common page API on top of an `evaluate(fnSource, arg)` primitive. */
function makePage(engine, { evaluate, close, errors, logs, raw }) {
  const page = {
    engine,
    raw,
    async evaluate(fn, arg) {
      const v = await evaluate(typeof fn === 'function' ? fn.toString() : `() => (${fn})`, arg === undefined ? null : arg);
      return v === undefined ? null : v; // as WebDriver answers
    },
    async waitFor(fn, arg, { timeout = 30000, interval = 100 } = {}) {
      const t0 = Date.now();
      let lastError = null;
      for (;;) {
        // An evaluation that fails (the page is navigating or reloading) is retried.
        const v = await page.evaluate(fn, arg).catch((e) => { lastError = e; return null; });
        if (v) return v;
        if (Date.now() - t0 > timeout) {
          throw new Error(`${engine}: timed out after ${timeout} ms waiting for ${String(fn).slice(0, 200)}${lastError ? ` (last error: ${lastError.message})` : ''}`);
        }
        await new Promise((r) => setTimeout(r, interval));
      }
    },
    errors,
    logs,
    close,
  };
  return page;
}

/**
 * Chromium (Playwright) and Firefox (Puppeteer) share the shape: a fresh browser context per page,
 * page events for errors and console lines; `evaluate(page, src, arg)` differs in argument passing.
 */
function eventPageBrowser(engine, browser, newContext, evaluate) {
  return {
    engine,
    raw: browser,
    async open(url, { waitFor = DEFAULT_WAIT, timeout = 30000 } = {}) {
      const context = await newContext();
      const p = await context.newPage();
      const { errors, logs } = pageEvents(p);
      await p.goto(url);
      const page = makePage(engine, {
        raw: p,
        evaluate: (src, arg) => evaluate(p, src, arg),
        errors: async () => errors.slice(),
        logs: async () => logs.slice(),
        close: () => context.close(),
      });
      page.context = context;
      if (waitFor) await page.waitFor(waitFor, undefined, { timeout });
      return page;
    },
    close: () => browser.close(),
  };
}

async function launchChromiumEngine({ camera, args = [] }) {
  const fake = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'];
  const browser = typeof camera === 'string'
    ? await launchChromium({ fakeVideo: camera, args })
    : await launchChromium({ args: camera ? [...fake, ...args] : args });
  return eventPageBrowser('chromium', browser, () => browser.newContext(),
    (p, src, arg) => p.evaluate(([src, arg]) => (0, eval)(`(${src})`)(arg), [src, arg]));
}

async function launchFirefox({ camera }) {
  const { default: puppeteer } = await import('puppeteer-core');
  const prefs = camera ? { 'media.navigator.streams.fake': true, 'media.navigator.permission.disabled': true } : {};
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true, extraPrefsFirefox: prefs });
  return eventPageBrowser('firefox', browser, () => browser.createBrowserContext(),
    (p, src, arg) => p.evaluate((src, arg) => (0, eval)(`(${src})`)(arg), src, arg));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function launchWebKit({ camera, sharedArrayBuffer = false, args = [] }) {
  const port = await freePort();
  const env = { ...process.env };
  if (sharedArrayBuffer) env.JSC_useSharedArrayBuffer = 'true';
  else delete env.JSC_useSharedArrayBuffer;
  const cmd = process.env.DISPLAY
    ? [WEBKIT_DRIVER, `--port=${port}`]
    : ['xvfb-run', '-a', '-s', '-screen 0 1280x1024x24', WEBKIT_DRIVER, `--port=${port}`];
  // Own process group: close() stops the driver, MiniBrowser and Xvfb together.
  const proc = spawn(cmd[0], cmd.slice(1), { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const kill = async () => {
    try {
      process.kill(-proc.pid, 'SIGTERM');
    } catch {}
    const t = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch {} }, 3000);
    await exited;
    clearTimeout(t);
  };
  const base = `http://127.0.0.1:${port}`;
  const request = async (method, path, body) => {
    const r = await fetch(base + path, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await r.json().catch(() => ({}));
    if (!r.ok) {
      const v = json.value || {};
      throw new Error(`webkit: ${method} ${path}: ${v.error || r.status}: ${v.message || ''}`.trim());
    }
    return json.value;
  };
  let session;
  try {
    const t0 = Date.now();
    for (;;) {
      const up = await fetch(`${base}/status`).then((r) => r.ok, () => false);
      if (up) break;
      if (proc.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`WebKitWebDriver did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const browserArgs = ['--automation', ...(camera ? ['--enable-media-stream=true', '--enable-mock-capture-devices=true'] : []), ...args];
    const created = await request('POST', '/session', {
      capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: browserArgs } } },
    });
    session = created.sessionId;
    await request('POST', `/session/${session}/timeouts`, { script: 600000, pageLoad: 60000 });
  } catch (e) {
    await kill();
    throw e;
  }
  const s = `/session/${session}`;
  const evaluate = async (src, arg) => {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${src})(arguments[0])).then(
        (value) => done({ ok: true, value: value === undefined ? null : value }),
        (e) => done({ ok: false, message: String(e && e.message || e), stack: String(e && e.stack || '') }));`;
    const r = await request('POST', `${s}/execute/async`, { script, args: [arg] });
    if (!r || !r.ok) throw new Error(`webkit: evaluate threw: ${r && r.message}\n${r && r.stack}`);
    return r.value;
  };
  return {
    engine: 'webkit',
    raw: { session, request },
    async open(url, { waitFor = DEFAULT_WAIT, timeout = 30000 } = {}) {
      await request('POST', `${s}/url`, { url });
      await request('POST', `${s}/execute/sync`, { script: HOOK, args: [] });
      const page = makePage('webkit', {
        raw: { session, request },
        evaluate,
        errors: () => page.evaluate(() => (window.__pageErrors || []).slice()),
        logs: () => page.evaluate(() => (window.__pageLogs || []).slice()),
        close: () => request('POST', `${s}/url`, { url: 'about:blank' }).then(() => {}),
      });
      if (waitFor) await page.waitFor(waitFor, undefined, { timeout });
      return page;
    },
    async close() {
      await request('DELETE', s).catch(() => {});
      await kill();
    },
  };
}
