// Static server for the benchmark page: one origin, cross-origin isolated (COOP same-origin +
// COEP require-corp, so SharedArrayBuffer and wasm threads work), correct MIME types, and only
// the folders the benchmark needs.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { requestPath, fileUnder } from '../tools/request-path.mjs';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.onnx': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.map': 'application/json; charset=utf-8',
};

/**
 * mounts: { '/url/prefix/': '/absolute/dir', ... }. Resolves to { server, url, close() }.
 * Files under a mount are served as they are; everything else is 404.
 */
export function startServer(mounts, { host = '127.0.0.1', port = 0, log = () => {} } = {}) {
  const table = Object.entries(mounts).map(([prefix, dir]) => [prefix, resolve(dir)]);
  const server = createServer((req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    const path = requestPath(req.url);
    if (path === null) {
      res.writeHead(400, { ...headers, 'Content-Type': 'text/plain' }).end('bad request: malformed URL');
      return;
    }
    for (const [prefix, dir] of table) {
      if (!path.startsWith(prefix)) continue;
      const file = fileUnder(dir, path.slice(prefix.length));
      if (!file) break;
      let st;
      try {
        st = statSync(file);
      } catch {
        break;
      }
      if (!st.isFile()) break;
      headers['Content-Type'] = MIME[extname(file).toLowerCase()] || 'application/octet-stream';
      headers['Content-Length'] = st.size;
      res.writeHead(200, headers);
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).pipe(res);
      return;
    }
    log(`404 ${path}`);
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found');
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const { port: p } = server.address();
      ok({ server, url: `http://${host}:${p}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}
