// Downloads that must not be trusted: a captive-portal page or garbage answered once under the
// weights URL (never cached; the next create downloads again), a bad copy already in the Cache API
// (dropped and fetched again), checksums (models.json pins, the `sha256` option), a body that
// never ends (size cap), a server that stops sending (idle timeout), and a page without
// crypto.subtle (not a secure context).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { openPage, launchChromium } from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';
import { requireShared, shared, sharedAvailable } from './lib/shared.mjs';

const PAGE = '/tests/browser/pages/runtime.html';
const SMALL = 'tf_mobilenetv3_small_100';
const CACHE_NAME = 'mobilenetv3-wasm-v1'; // js/fetch.js
let srv, browser;
const hits = {}; // route -> requests served
const sent = {}; // route -> bytes sent

function route(name, handler) {
  return [`/t/${name}.safetensors`, (req, res) => {
    hits[name] = (hits[name] || 0) + 1;
    return handler(req, res, hits[name]);
  }];
}

before(async () => {
  if (!sharedAvailable()) return;
  const weights = readFileSync(shared.weights(SMALL));
  const real = (res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': weights.length });
    res.end(weights);
  };
  const portal = '<!doctype html><html><body><h1>Welcome to Airport Wi-Fi</h1><p>Please log in.</p></body></html>';
  srv = await startServer({
    isolated: true,
    routes: Object.fromEntries([
      // First answer: a captive portal's HTML with status 200; then the real file.
      route('portal', (req, res, n) => {
        if (n > 1) return real(res);
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(portal);
      }),
      // First answer: the same page mislabeled as a binary (only parsing can tell); then the real file.
      route('mislabeled', (req, res, n) => {
        if (n > 1) return real(res);
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(portal);
      }),
      // A body that never ends (no Content-Length): 1 MiB chunks until the client hangs up.
      route('endless', (req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        const chunk = Buffer.alloc(1 << 20, 7);
        sent.endless = 0;
        const pump = () => {
          for (let more = true; more && !res.destroyed;) {
            more = res.write(chunk);
            sent.endless += chunk.length;
          }
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
      }),
      // Headers and 4 kB, then silence (the connection stays open).
      route('stall', (req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': weights.length });
        res.write(weights.subarray(0, 4096));
      }),
      route('real', (req, res) => real(res)),
    ]),
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

async function inPage(fn, arg) {
  const { page, context, errors } = await openPage(browser, srv.url + PAGE);
  try {
    const out = await page.evaluate(fn, arg);
    assert.deepEqual(errors.filter((e) => e.startsWith('pageerror')), []);
    return out;
  } finally {
    await context.close();
  }
}

test('an HTML page or garbage answered once under the weights URL is never cached; the next create downloads the real file', async (t) => {
  if (!requireShared(t)) return;
  const out = await inPage(async ({ SMALL, CACHE_NAME }) => {
    await mnv3.clearCache();
    const config = T.local(SMALL).config;
    const cached = async (url) => !!(await (await caches.open(CACHE_NAME)).match(new URL(url, location.href).href));
    const r = {};
    for (const name of ['portal', 'mislabeled']) {
      const url = `/t/${name}.safetensors`;
      const first = await T.expectError(mnv3.createClassifier({ weights: url, config, threads: 1 }));
      const cachedAfterFailure = await cached(url);
      const clf = await mnv3.createClassifier({ weights: url, config, threads: 1 });
      r[name] = { first, cachedAfterFailure, architecture: clf.info.architecture, cachedAfterSuccess: await cached(url) };
      clf.dispose();
    }
    return r;
  }, { SMALL, CACHE_NAME });
  assert.equal(out.portal.first.code, 'WEIGHTS_FETCH');
  assert.match(out.portal.first.message, /HTML page instead of the weights/);
  assert.equal(out.mislabeled.first.code, 'WEIGHTS_FORMAT');
  for (const name of ['portal', 'mislabeled']) {
    assert.deepEqual({ ...out[name], first: undefined }, { first: undefined, cachedAfterFailure: false, architecture: SMALL, cachedAfterSuccess: true }, name);
  }
  assert.equal(hits.portal, 2);
  assert.equal(hits.mislabeled, 2);
});

test('a bad copy already in the Cache API (as older versions stored) is dropped and downloaded again, once', async (t) => {
  if (!requireShared(t)) return;
  const before = hits.real || 0;
  const out = await inPage(async ({ SMALL, CACHE_NAME }) => {
    await mnv3.clearCache();
    const url = new URL('/t/real.safetensors', location.href).href;
    const store = await caches.open(CACHE_NAME);
    await store.put(url, new Response('<html>proxy error</html>', { headers: { 'content-type': 'text/html' } }));
    const clf = await mnv3.createClassifier({ weights: url, config: T.local(SMALL).config, threads: 1 });
    const r = { architecture: clf.info.architecture, cachedSize: (await (await store.match(url)).blob()).size };
    clf.dispose();
    // A second create is served by the (now good) cache.
    const clf2 = await mnv3.createClassifier({ weights: url, config: T.local(SMALL).config, threads: 1 });
    clf2.dispose();
    return r;
  }, { SMALL, CACHE_NAME });
  assert.equal(out.architecture, SMALL);
  assert.equal(out.cachedSize, readFileSync(shared.weights(SMALL)).length);
  assert.equal(hits.real - before, 1, 'one download: the bad copy was replaced, then reused');
});

test('checksums: the sha256 option (right, wrong, malformed) and models.json pins refuse other bytes with WEIGHTS_INTEGRITY', async (t) => {
  if (!requireShared(t)) return;
  const sha = createHash('sha256').update(readFileSync(shared.weights(SMALL))).digest('hex');
  const out = await inPage(async ({ SMALL, sha, CACHE_NAME }) => {
    await mnv3.clearCache();
    const local = T.local(SMALL);
    const r = {};
    const clf = await mnv3.createClassifier({ ...local, sha256: sha.toUpperCase(), threads: 1 });
    r.right = clf.info.architecture;
    clf.dispose();
    await mnv3.clearCache();
    r.wrong = await T.expectError(mnv3.createClassifier({ ...local, sha256: '0'.repeat(64), threads: 1 }));
    r.wrongCached = !!(await (await caches.open(CACHE_NAME)).match(new URL(local.weights, location.href).href));
    r.bytes = await T.expectError(mnv3.createClassifier({ weights: await (await T.fetchBlob(local.weights)).arrayBuffer(), config: local.config, sha256: 'f'.repeat(64), threads: 1 }));
    r.malformed = await T.expectError(mnv3.createClassifier({ ...local, sha256: 'abc', threads: 1 }));
    return r;
  }, { SMALL, sha, CACHE_NAME });
  assert.equal(out.right, SMALL);
  assert.equal(out.wrong.code, 'WEIGHTS_INTEGRITY');
  assert.match(out.wrong.message, new RegExp(`SHA-256 ${sha} instead of 0{64}`));
  assert.equal(out.wrongCached, false);
  assert.equal(out.bytes.code, 'WEIGHTS_INTEGRITY');
  assert.equal(out.malformed.code, 'INVALID_INPUT');

  // Pinned models of models.json answered (by a stand-in for huggingface.co) with other bytes: a
  // file of another size, one of the right size but other content, another config.json.
  const models = JSON.parse(readFileSync(new URL('../../weights/models.json', import.meta.url), 'utf8')).models;
  const large = models.find((m) => m.name === 'mobilenetv3_large_100');
  const small = models.find((m) => m.name === 'mobilenetv3_small_100');
  const { page, context } = await openPage(browser, srv.url + PAGE);
  try {
    let body = readFileSync(shared.weights(SMALL));
    await context.route('https://huggingface.co/**', (r) => r.fulfill({
      status: 200, body: r.request().url().endsWith('config.json') ? readFileSync(shared.config(SMALL)) : body,
      headers: { 'content-type': 'application/octet-stream', 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' },
    }));
    const create = (model) => page.evaluate((model) => T.expectError(mnv3.createClassifier({ model, threads: 1 })), model);
    const size = await create('mobilenetv3_large_100');
    body = Buffer.alloc(large.weightsBytes, 1);
    const content = await create('mobilenetv3_large_100');
    body = Buffer.alloc(small.weightsBytes, 1);
    const config = await create('mobilenetv3_small_100');
    assert.equal(size.code, 'WEIGHTS_INTEGRITY');
    assert.match(size.message, new RegExp(`weights .* is not the expected file: 10242208 bytes instead of ${large.weightsBytes}`));
    assert.equal(content.code, 'WEIGHTS_INTEGRITY');
    assert.match(content.message, new RegExp(`instead of ${large.weightsSha256}`));
    assert.equal(config.code, 'WEIGHTS_INTEGRITY');
    assert.match(config.message, new RegExp(`config .* instead of ${small.configSha256}`));
  } finally {
    await context.close();
  }
});

test('a body that never ends stops at the size cap (WEIGHTS_TOO_LARGE); a stalled one at the idle timeout (WEIGHTS_FETCH)', async (t) => {
  if (!requireShared(t)) return;
  const out = await inPage(async ({ SMALL }) => {
    const config = T.local(SMALL).config;
    const r = {};
    let t0 = performance.now();
    r.endless = await T.expectError(mnv3.createClassifier({ weights: '/t/endless.safetensors', config, cache: false, threads: 1 }));
    r.endlessMs = performance.now() - t0;
    t0 = performance.now();
    r.stall = await T.expectError(mnv3.createClassifier({ weights: '/t/stall.safetensors', config, cache: false, threads: 1, timeoutMs: 3000 }));
    r.stallMs = performance.now() - t0;
    return r;
  }, { SMALL });
  assert.equal(out.endless.code, 'WEIGHTS_TOO_LARGE', JSON.stringify(out.endless));
  assert.match(out.endless.message, /larger than 268435456 bytes/);
  assert.ok(sent.endless >= 256 * 2 ** 20 && sent.endless < 400 * 2 ** 20, `the server sent ${sent.endless} bytes before the client stopped`);
  assert.equal(out.stall.code, 'WEIGHTS_FETCH', JSON.stringify(out.stall));
  assert.match(out.stall.message, /stalled: no data for 3 s after 4096 bytes/);
  assert.ok(out.stallMs >= 2900 && out.stallMs < 20000, `stall detected after ${out.stallMs} ms`);
  t.diagnostic(`endless body refused after ${(sent.endless / 2 ** 20).toFixed(0)} MiB sent, ${out.endlessMs.toFixed(0)} ms; stall after ${out.stallMs.toFixed(0)} ms`);
});

test('no crypto.subtle (a page that is not a secure context): a pinned model says why it cannot be checked', async (t) => {
  if (!requireShared(t)) return;
  // http://insecure.test is not a secure context (unlike 127.0.0.1 / localhost).
  const b = await launchChromium({ args: ['--host-resolver-rules=MAP insecure.test 127.0.0.1'] });
  try {
    const { page } = await openPage(b, `http://insecure.test:${srv.port}${PAGE}`);
    const out = await page.evaluate(async () => ({
      secure: window.isSecureContext,
      subtle: !!(globalThis.crypto && crypto.subtle),
      err: await T.expectError(mnv3.createClassifier({ ...T.local('tf_mobilenetv3_small_100'), sha256: '0'.repeat(64), threads: 1 })),
    }));
    assert.deepEqual([out.secure, out.subtle], [false, false]);
    assert.equal(out.err.code, 'WEIGHTS_INTEGRITY');
    assert.match(out.err.message, /crypto\.subtle is only available on secure pages \(https:\/\/ or http:\/\/localhost\)/);
  } finally {
    await b.close();
  }
});
