// mobilenetv3-wasm: cross-origin isolation (and so the threaded build) on static hosts that cannot
// send COOP/COEP headers (GitHub Pages and the like). Optional. To enable it, copy this file to the
// root of the site and load it first in every page's <head>:
//
//   <script src="/isolate-sw.js"></script>
//
// The same file is two things:
// - in the page (a classic script): when the page is not cross-origin isolated, it registers itself
//   as a service worker and reloads the page once, so the page comes back through the worker with
//   the headers. It does nothing on a page that is already isolated, without service workers, or
//   outside a secure context; it never reloads in a loop (at most twice per tab session: once with
//   COEP `credentialless`, once more with `require-corp` if the browser ignored `credentialless`).
// - in the service worker: it re-serves every same-origin response with
//   Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: credentialless (or
//   require-corp, from the registration URL's ?coep=), plus Cross-Origin-Resource-Policy. Cross-origin
//   requests are left to the browser.
/* eslint-env browser, serviceworker */
(() => {
  const COEP = ['credentialless', 'require-corp'];

  if (typeof window === 'undefined') {
    // Service worker.
    const asked = new URL(self.location.href).searchParams.get('coep');
    const coep = COEP.includes(asked) ? asked : COEP[0];
    self.addEventListener('install', () => self.skipWaiting());
    self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
    self.addEventListener('fetch', (event) => {
      const { request } = event;
      if (new URL(request.url).origin !== self.location.origin) return;
      // A request that may only come from the cache would fail when re-fetched (Chromium).
      if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
      event.respondWith(
        fetch(request).then((response) => {
          if (response.type === 'opaque' || response.type === 'opaqueredirect' || response.status === 0) return response;
          const headers = new Headers(response.headers);
          headers.set('Cross-Origin-Opener-Policy', 'same-origin');
          headers.set('Cross-Origin-Embedder-Policy', coep);
          if (!headers.has('Cross-Origin-Resource-Policy')) headers.set('Cross-Origin-Resource-Policy', 'same-origin');
          const nullBody = [101, 103, 204, 205, 304].includes(response.status);
          return new Response(nullBody ? null : response.body, { status: response.status, statusText: response.statusText, headers });
        }),
      );
    });
    return;
  }

  // Page.
  const KEY = 'mobilenetv3-wasm:isolate-sw';
  const script = document.currentScript;
  if (window.crossOriginIsolated || !window.isSecureContext || !('serviceWorker' in navigator) || !script) return;
  let tried;
  try {
    tried = JSON.parse(sessionStorage.getItem(KEY) || '[]');
  } catch {
    return; // no sessionStorage (a sandboxed frame): without a loop guard, do nothing
  }
  const coep = COEP.find((c) => !tried.includes(c));
  if (!coep) return; // both tried in this tab session and still not isolated: give up, quietly
  const url = new URL(script.src);
  url.searchParams.set('coep', coep);
  navigator.serviceWorker.register(url.href).then(async (registration) => {
    const worker = registration.installing || registration.waiting || registration.active;
    if (worker && worker.state !== 'activated') {
      await new Promise((resolve) => worker.addEventListener('statechange', () => worker.state === 'activated' && resolve()));
    }
    if (!navigator.serviceWorker.controller) {
      // clients.claim() makes it control this page; after a hard reload it never does, and the
      // reload below is what brings the page under it.
      await new Promise((resolve) => {
        navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
        setTimeout(resolve, 1000);
      });
    }
    sessionStorage.setItem(KEY, JSON.stringify([...tried, coep]));
    window.location.reload();
  }, (e) => console.warn('mobilenetv3-wasm: the isolation service worker could not be registered:', e && e.message));
})();
