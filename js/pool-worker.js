// mobilenetv3-wasm: one thread of the threaded build's rayon pool. Not part of the public API.
//
// The page starts these (rpc.js), not the engine's worker: in Firefox a worker that constructs a
// worker of its own blocks until the main thread has told every worker-debugger listener about it
// (devtools, WebDriver BiDi / puppeteer register one), and that handshake sometimes never ends:
// measured 13-21 of 200 nested starts stuck forever under puppeteer, 0 of 1000 without it, 0 when
// the page starts them.
//
// Protocol: page -> { port } (a MessagePort whose other end the engine's worker holds);
// engine worker -> port { module, memory, receiver, mainJS } (wasm-bindgen-rayon's init: the compiled
// module, the shared memory, the pool's channel, the glue's URL); port <- { ready: true } | { error }.
// Then this thread runs rayon's worker loop until it is terminated.

self.addEventListener('message', ({ data }) => {
  const port = data && data.port;
  if (!port) return;
  port.onmessage = async ({ data: init }) => {
    port.onmessage = null;
    let glue;
    try {
      // A template literal of a plain variable, as in worker.js: bundlers leave it alone (the glue
      // is an emitted asset). (Vite's dev server rewrites `${init.mainJS}`, a member expression,
      // and pulls its HMR client into this worker.)
      const glueUrl = init.mainJS;
      glue = await import(/* @vite-ignore */ /* webpackIgnore: true */ `${glueUrl}`);
      await glue.default({ module_or_path: init.module, memory: init.memory });
    } catch (e) {
      port.postMessage({ error: String((e && e.message) || e) });
      return;
    }
    port.postMessage({ ready: true });
    port.close();
    glue.wbg_rayon_start_worker(init.receiver); // rayon's worker loop: does not return
  };
}, { once: true });
