// Downloads of weights and config: the Cache API first, else the network with progress.

import { err, aborted, safeCall } from './errors.js';

const CACHE_NAME = 'mobilenetv3-wasm-v1';

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

/** GET `url` as a Blob: Cache API first, else the network with progress; stores successful downloads. */
async function fetchBlob(url, { cache, signal, onProgress, what }) {
  const store = await openCache(cache, url);
  if (store) {
    try {
      const hit = await store.match(url.href);
      if (hit) {
        const blob = await hit.blob();
        safeCall(onProgress, { phase: 'download', loaded: blob.size, total: blob.size, cached: true });
        return blob;
      }
    } catch { /* a broken cache entry: download again */ }
  }
  if (signal && signal.aborted) throw aborted(`downloading the ${what}`);
  let res;
  try {
    res = await fetch(url.href, { signal, credentials: 'same-origin' });
  } catch (e) {
    if (signal && signal.aborted) throw aborted(`downloading the ${what}`);
    throw err('WEIGHTS_FETCH', `could not download the ${what} from ${url.href}: ${e.message} (network error, CORS, or offline)`, { url: url.href, cause: e });
  }
  if (!res.ok) {
    throw err('WEIGHTS_FETCH', `could not download the ${what}: HTTP ${res.status} ${res.statusText} for ${url.href}`, { status: res.status, url: url.href });
  }
  const total = Number(res.headers.get('content-length')) || undefined;
  const chunks = [];
  let loaded = 0;
  safeCall(onProgress, { phase: 'download', loaded, total });
  try {
    if (res.body && res.body.getReader) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded += value.byteLength;
        safeCall(onProgress, { phase: 'download', loaded, total });
      }
    } else {
      const b = new Uint8Array(await res.arrayBuffer());
      chunks.push(b);
      loaded = b.byteLength;
      safeCall(onProgress, { phase: 'download', loaded, total });
    }
  } catch (e) {
    if (signal && signal.aborted) throw aborted(`downloading the ${what}`);
    throw err('WEIGHTS_FETCH', `the download of the ${what} from ${url.href} failed after ${loaded} bytes: ${e.message}`, { url: url.href, cause: e });
  }
  if (total !== undefined && loaded !== total && !res.headers.get('content-encoding')) {
    throw err('WEIGHTS_FETCH', `the download of the ${what} from ${url.href} stopped at ${loaded} of ${total} bytes`, { url: url.href });
  }
  const blob = new Blob(chunks, { type: res.headers.get('content-type') || 'application/octet-stream' });
  if (store) {
    const headers = { 'content-type': blob.type, 'content-length': String(blob.size) };
    await store.put(url.href, new Response(blob, { headers })).catch(() => {}); // quota: just don't cache
  }
  return blob;
}

export async function resolveWeights(weights, ctx) {
  if (typeof Blob !== 'undefined' && weights instanceof Blob) return weights;
  if (weights instanceof ArrayBuffer || ArrayBuffer.isView(weights)) return new Blob([weights]);
  if (typeof weights === 'string' || weights instanceof URL) {
    return fetchBlob(toUrl(weights), { ...ctx, what: 'weights' });
  }
  throw err('INVALID_INPUT', 'weights must be a URL, an ArrayBuffer / typed array, or a Blob');
}

export async function resolveConfig(config, ctx) {
  if (config instanceof URL || (typeof config === 'string' && !config.trim().startsWith('{'))) {
    const blob = await fetchBlob(toUrl(config), { ...ctx, onProgress: undefined, what: 'config' });
    return blob.text();
  }
  if (typeof config === 'string') return config;
  if (config && typeof config === 'object') return JSON.stringify(config);
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
