// Local static HTTP server for browser tests (Node only, no dependencies).
//
//   import { startServer } from './lib/server.mjs';
//   const srv = await startServer({ isolated: true });          // serves the repo root
//   await page.goto(srv.url + '/tests/browser/pages/runtime.html');
//   ... srv.requests  (every request path, in order; clear with srv.requests.length = 0)
//   await srv.close();
//
// Options:
//   root      directory served at '/' (default: the repository root)
//   mounts    { '/shared/': '/abs/dir', ... } extra directories by URL prefix (default: '/shared/' ->
//             ../shared, i.e. the genuine weights and photos beside the repository)
//   isolated  true: every response carries COOP same-origin + COEP require-corp (+ CORP), so pages
//             are crossOriginIsolated (threads). 'credentialless': COEP credentialless instead.
//             false: no isolation headers (the runtime must fall back to the single build).
//   routes    { '/path': (req, res, url) => void } custom handlers, checked first (exact path).
//   cors      true: Access-Control-Allow-Origin: * and CORP cross-origin (a CDN stand-in).
//   port      default 0 (a free port); host is 127.0.0.1 (a secure context, so the Cache API works).
// Query parameters understood on any file:
//   ?throttle=N   send at most N bytes per 100 ms (to abort a download half-way)
//   ?truncate=N   send only the first N bytes (Content-Length stays the full size: a broken download)
// Responses are `Cache-Control: no-store` so the HTTP cache never hides a request from a test.

import { createServer } from 'node:http';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestPath, fileUnder } from '../../../tools/request-path.mjs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SHARED_DIR = path.resolve(REPO_ROOT, '../shared');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif',
  '.y4m': 'video/x-yuv4mpeg', '.map': 'application/json', '.txt': 'text/plain; charset=utf-8', '.ico': 'image/x-icon',
};

export async function startServer({ root = REPO_ROOT, mounts = { '/shared/': SHARED_DIR }, isolated = true, routes = {}, port = 0, cors = false } = {}) {
  const requests = [];
  const sockets = new Set();
  const server = createServer(async (req, res) => {
    const pathname = requestPath(req.url);
    if (pathname === null) {
      requests.push(req.url);
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      return res.end('bad request: malformed URL\n');
    }
    const url = new URL(req.url, 'http://localhost');
    requests.push(url.pathname);
    if (isolated) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', isolated === 'credentialless' ? 'credentialless' : 'require-corp');
    }
    res.setHeader('Cross-Origin-Resource-Policy', cors ? 'cross-origin' : 'same-origin');
    if (cors) res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cache-Control', 'no-store');
    try {
      if (routes[url.pathname]) return await routes[url.pathname](req, res, url);
      const mount = Object.entries(mounts).findLast(([prefix]) => pathname.startsWith(prefix));
      let file = mount ? fileUnder(mount[1], pathname.slice(mount[0].length)) : fileUnder(root, pathname);
      let st = file && (await fs.stat(file).catch(() => null));
      if (st && st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = await fs.stat(file).catch(() => null);
      }
      if (!st || !st.isFile()) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        return res.end(`not found: ${pathname}\n`);
      }
      res.setHeader('Content-Type', TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream');
      res.setHeader('Content-Length', st.size);
      if (req.method === 'HEAD') return res.end();
      const throttle = Number(url.searchParams.get('throttle')) || 0;
      const truncate = url.searchParams.has('truncate') ? Number(url.searchParams.get('truncate')) : -1;
      if (truncate >= 0) {
        res.flushHeaders();
        const s = createReadStream(file, { start: 0, end: Math.max(0, truncate - 1) });
        s.on('end', () => res.destroy()); // close mid-body: the client sees a short read
        return s.pipe(res, { end: false });
      }
      if (!throttle) return createReadStream(file).pipe(res);
      const data = await fs.readFile(file);
      let off = 0;
      const timer = setInterval(() => {
        if (res.destroyed || off >= data.length) {
          clearInterval(timer);
          return res.end();
        }
        res.write(data.subarray(off, off + throttle));
        off += throttle;
      }, 100);
      res.on('close', () => clearInterval(timer));
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(e && e.stack || e));
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: actual } = server.address();
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    server,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
