// Downloads of weights and config: the Cache API first, else the network with progress, a size cap
// and an idle timeout; both checked against the expected size / SHA-256 when known. Nothing is
// stored in the cache here: the caller keeps a download (`keep()`) once the engine has parsed it,
// so a proxy's error page or a truncated file is never cached.

import { MobileNetV3Error, err, aborted, safeCall } from './errors.js';

const CACHE_NAME = 'mobilenetv3-wasm-v1';
const MiB = 1 << 20;
/** Largest download accepted when nothing better is known. The largest MobileNetV3 weights are
 *  ~59 MB and the threaded build's whole memory is 256 MiB; timm's config.json is ~60 kB. */
const MAX_BYTES = { weights: 256 * MiB, config: 16 * MiB };
/** Margin over an approximate size (models.json `bytes`, Content-Length of a compressed body). */
const SIZE_MARGIN = 1.25;

function baseUrl() {
  return (typeof document !== 'undefined' && document.baseURI) || (globalThis.location && globalThis.location.href) || undefined;
}

function toUrl(u) {
  try {
    return u instanceof URL ? u : new URL(u, baseUrl());
  } catch (e) {
    throw err('INVALID_INPUT', `not a URL: ${u}`, { cause: e });
  }
}

async function openCache(enabled, url) {
  if (!enabled || !/^https?:$/.test(url.protocol) || typeof caches === 'undefined') return null;
  try {
    return await caches.open(CACHE_NAME); // throws in insecure contexts / some private modes
  } catch {
    return null;
  }
}

/** Lowercase hex SHA-256 of `blob`. crypto.subtle exists in secure contexts only. */
async function sha256Hex(blob, what, url) {
  const where = url ? ` from ${url.href}` : '';
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle || typeof subtle.digest !== 'function') {
    throw err('WEIGHTS_INTEGRITY', `cannot check the SHA-256 of the ${what}${where}: crypto.subtle is only available on secure pages (https:// or http://localhost). Serve the page over https:// or from localhost, or self-host the files and pass \`weights\` and \`config\` URLs (without \`sha256\`)`);
  }
  const digest = new Uint8Array(await subtle.digest('SHA-256', await blob.arrayBuffer()));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws WEIGHTS_INTEGRITY unless `blob` has the expected size and SHA-256 (when given). */
async function verify(blob, expect, what, url, cached) {
  const where = url ? ` from ${url.href}` : '';
  let why = null;
  if (expect.bytes !== undefined && blob.size !== expect.bytes) why = `${blob.size} bytes instead of ${expect.bytes}`;
  else if (expect.sha256) {
    const got = await sha256Hex(blob, what, url);
    if (got !== expect.sha256) why = `SHA-256 ${got} instead of ${expect.sha256}`;
  }
  if (why) {
    throw err('WEIGHTS_INTEGRITY', `the ${what}${where} is not the expected file: ${why}${cached ? ' (cached copy)' : ''}. ` +
      'A proxy, captive portal or mirror may have answered instead of the real file, or it changed upstream; it was not cached. Check the URL (and `sha256`), then create the classifier again', { url: url ? url.href : undefined });
  }
}

/**
 * GET `url` as a Blob, verified. Resolves { blob, fromCache, keep(), drop() }: keep() stores a
 * network download in the Cache API, drop() deletes the cached entry. A cached entry that fails
 * verification is dropped and downloaded again.
 */
async function fetchVerified(url, { cache, readCache = true, signal, onProgress, what, expect = {}, idleMs }) {
  const where = ` from ${url.href}`;
  const store = await openCache(cache, url);
  const drop = () => (store ? store.delete(url.href).then(() => {}, () => {}) : Promise.resolve());
  if (store && readCache) {
    let hit = null;
    try {
      const res = await store.match(url.href);
      if (res) hit = await res.blob();
    } catch { /* a broken cache entry: download again */ }
    if (hit) {
      try {
        await verify(hit, expect, what, url, true);
        safeCall(onProgress, { phase: 'download', loaded: hit.size, total: hit.size, cached: true });
        return { blob: hit, fromCache: true, keep: () => Promise.resolve(), drop };
      } catch (e) {
        if (e.code !== 'WEIGHTS_INTEGRITY' || /crypto\.subtle/.test(e.message)) throw e;
        await drop(); // a bad copy (an older version cached a proxy page): fetch it again
      }
    }
  }
  const blob = await download(url, { signal, onProgress, what, where, expect, idleMs });
  await verify(blob, expect, what, url, false);
  const keep = async () => {
    if (!store) return;
    const headers = { 'content-type': blob.type, 'content-length': String(blob.size) };
    await store.put(url.href, new Response(blob, { headers })).catch(() => {}); // quota: just don't cache
  };
  return { blob, fromCache: false, keep, drop };
}

/** The network part: progress, a size cap, an idle timeout (no byte for `idleMs`). */
async function download(url, { signal, onProgress, what, where, expect, idleMs }) {
  if (signal && signal.aborted) throw aborted(`downloading the ${what}`);
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  if (signal) signal.addEventListener('abort', onAbort, { once: true });
  let idle = false;
  let timer = null;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { idle = true; ctrl.abort(); }, idleMs);
  };
  const stalled = (loaded) => err('WEIGHTS_FETCH', `the download of the ${what}${where} stalled: no data for ${(idleMs / 1000).toFixed(0)} s after ${loaded} bytes. Check the network (or the server) and create the classifier again`, { url: url.href });
  arm();
  try {
    let res;
    try {
      res = await fetch(url.href, { signal: ctrl.signal, credentials: 'same-origin' });
    } catch (e) {
      if (signal && signal.aborted) throw aborted(`downloading the ${what}`);
      if (idle) throw stalled(0);
      throw err('WEIGHTS_FETCH', `could not download the ${what}${where}: ${e.message} (network error, CORS, or offline)`, { url: url.href, cause: e });
    }
    if (!res.ok) {
      throw err('WEIGHTS_FETCH', `could not download the ${what}: HTTP ${res.status} ${res.statusText} for ${url.href}`, { status: res.status, url: url.href });
    }
    const type = res.headers.get('content-type') || '';
    if (/^text\/html/i.test(type)) {
      throw err('WEIGHTS_FETCH', `${url.href} answered with an HTML page instead of the ${what} (a captive portal, proxy error or login page?). Check the URL and the network, then create the classifier again`, { url: url.href, status: res.status });
    }
    const length = Number(res.headers.get('content-length')) || undefined;
    const total = res.headers.get('content-encoding') ? undefined : length;
    // The cap: the exact size when known, else an approximate one or Content-Length with a
    // margin, never above MAX_BYTES.
    const guess = expect.bytes ?? (expect.approxBytes ? Math.ceil(expect.approxBytes * SIZE_MARGIN) : length ? Math.ceil(length * SIZE_MARGIN) + 65536 : MAX_BYTES[what]);
    const cap = Math.min(guess, MAX_BYTES[what]);
    const tooLarge = (n) => (expect.bytes !== undefined
      ? err('WEIGHTS_INTEGRITY', `the ${what}${where} is larger than the expected file (${n} bytes, expected ${expect.bytes}); it was not used. A proxy or mirror may have answered instead of the real file`, { url: url.href })
      : err('WEIGHTS_TOO_LARGE', `the ${what}${where} is larger than ${cap} bytes (${n} so far): not a MobileNetV3 ${what === 'config' ? 'config.json' : 'weights file'}? The download was stopped`, { url: url.href }));
    if (total !== undefined && total > cap) throw tooLarge(total);
    const chunks = [];
    let loaded = 0;
    safeCall(onProgress, { phase: 'download', loaded, total });
    try {
      const reader = res.body ? res.body.getReader() : new Blob([await res.arrayBuffer()]).stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        arm();
        loaded += value.byteLength;
        if (loaded > cap) {
          reader.cancel().catch(() => {});
          throw tooLarge(loaded);
        }
        chunks.push(value);
        safeCall(onProgress, { phase: 'download', loaded, total });
      }
    } catch (e) {
      if (e instanceof MobileNetV3Error) throw e;
      if (signal && signal.aborted) throw aborted(`downloading the ${what}`);
      if (idle) throw stalled(loaded);
      throw err('WEIGHTS_FETCH', `the download of the ${what}${where} failed after ${loaded} bytes: ${e.message}`, { url: url.href, cause: e });
    }
    if (total !== undefined && loaded !== total) {
      throw err('WEIGHTS_FETCH', `the download of the ${what}${where} stopped at ${loaded} of ${total} bytes`, { url: url.href });
    }
    return new Blob(chunks, { type: type || 'application/octet-stream' });
  } finally {
    clearTimeout(timer);
    if (signal) signal.removeEventListener('abort', onAbort);
  }
}

const LOCAL = { fromCache: false, keep: () => Promise.resolve(), drop: () => Promise.resolve() };

/** Weights as a verified Blob: { blob, fromCache, keep(), drop() }. */
export async function resolveWeights(weights, ctx) {
  if ((typeof Blob !== 'undefined' && weights instanceof Blob) || weights instanceof ArrayBuffer || ArrayBuffer.isView(weights)) {
    const blob = weights instanceof Blob ? weights : new Blob([weights]);
    await verify(blob, ctx.expect || {}, 'weights', null, false);
    return { ...LOCAL, blob };
  }
  if (typeof weights === 'string' || weights instanceof URL) {
    return fetchVerified(toUrl(weights), { ...ctx, what: 'weights' });
  }
  throw err('INVALID_INPUT', 'weights must be a URL, an ArrayBuffer / typed array, or a Blob');
}

/** Config as verified text: { text, fromCache, keep(), drop() }. */
export async function resolveConfig(config, ctx) {
  if (config instanceof URL || (typeof config === 'string' && !config.trim().startsWith('{'))) {
    const r = await fetchVerified(toUrl(config), { ...ctx, onProgress: undefined, what: 'config' });
    return { ...r, text: await r.blob.text() };
  }
  if (typeof config === 'string') return { ...LOCAL, text: config };
  if (config && typeof config === 'object') return { ...LOCAL, text: JSON.stringify(config) };
  throw err('INVALID_INPUT', 'config must be a URL, JSON text, or an object');
}

export async function clearCache() {
  if (typeof caches === 'undefined') return false;
  try {
    return await caches.delete(CACHE_NAME);
  } catch {
    return false;
  }
}
