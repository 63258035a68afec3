// The repository's HTTP servers under hostile request targets (no browser: raw requests from Node).
// The demo server (www/serve.mjs, Vite dev), the browser tests' static server (lib/server.mjs) and
// the benchmark's (bench/server.mjs) must answer a malformed URL with 400, never serve a file
// outside their roots (containment checked after percent-decoding), and keep serving afterwards.
// A file outside every root is planted beside the repository's parent so a leak would be seen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, REPO_ROOT } from './lib/server.mjs';
import { startServer as startBenchServer } from '../../bench/server.mjs';
import { startDemoServer } from '../../www/serve.mjs';
import { requestPath, fileUnder } from '../../tools/request-path.mjs';

const SECRET = 'outside-every-root-7f3a';
const secretDir = mkdtempSync(path.join(tmpdir(), 'mnv3-secret-'));
writeFileSync(path.join(secretDir, 'secret.txt'), SECRET);
// The secret's absolute path written as a climb from "/" plus a long run of '..' (enough for any root).
const UP = '..%2f'.repeat(24);
const secretRel = secretDir.slice(1).split(path.sep).map(encodeURIComponent).join('%2f') + '%2fsecret.txt';

/** [target, kind]: answered 400. */
const MALFORMED = [
  ['/%E0%A4%A', 'truncated UTF-8 percent-encoding'],
  ['/%', 'lone %'],
  ['/%zz', 'non-hex escape'],
  ['/a%C0%AFb', 'overlong UTF-8'],
  ['/%ED%A0%80', 'UTF-16 surrogate'],
  ['//[', 'invalid authority'],
  ['//[::1', 'unterminated IPv6 authority'],
  ['/x%00.html', 'NUL byte'],
];
/** [target, kind]: answered 400 or 404, never with the file. Prefixed by each server's mount. */
const TRAVERSAL = [
  [`/${UP}${secretRel}`, 'encoded ../ climb'],
  [`/${UP.replaceAll('..', '%2e%2e')}${secretRel}`, 'encoded dots and slashes'],
  [`/${'../'.repeat(24)}${secretRel.replaceAll('%2f', '/')}`, 'raw ../ (not normalized by the client)'],
  [`/foo/${UP}${secretRel}`, 'climb from a subdirectory'],
  [`/${UP}etc%2fpasswd`, '/etc/passwd'],
];

/** Raw GET: the target goes out exactly as written (Node does not normalize it). */
function get(base, target) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: target, method: 'GET', headers: { connection: 'close' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('latin1') }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`no answer to ${target}`)));
    req.end();
  });
}

/** Fires every bad target at `base`; then `good` must still be served (the process survived). */
async function assertHardened(base, good, { mounts = [''] } = {}) {
  const seen = [];
  for (const [target, kind] of MALFORMED) {
    const r = await get(base, target);
    seen.push(`${r.status} ${kind}`);
    assert.equal(r.status, 400, `${kind}: GET ${target} -> ${r.status} ${r.body.slice(0, 200)}`);
  }
  for (const mount of mounts) {
    for (const [rel, kind] of TRAVERSAL) {
      const target = mount + rel;
      const r = await get(base, target);
      seen.push(`${r.status} ${kind}`);
      assert.ok([400, 404].includes(r.status), `${kind}: GET ${target} -> ${r.status}`);
      assert.ok(!r.body.includes(SECRET) && !/root:.*:0:0:/.test(r.body), `${kind}: GET ${target} served a file outside the root`);
    }
  }
  const ok = await get(base, good);
  assert.equal(ok.status, 200, `after the bad requests, GET ${good} -> ${ok.status}`);
  return seen;
}

after(() => rmSync(secretDir, { recursive: true, force: true }));

test('requestPath / fileUnder: decode, reject malformed, contain after decoding', () => {
  assert.equal(requestPath('/a%20b/c.js?x=%zz#f'), '/a b/c.js');
  assert.equal(requestPath('//host/x'), '//host/x');
  for (const [target, kind] of MALFORMED) assert.equal(requestPath(target), null, kind);
  assert.equal(requestPath('*'), null);
  assert.equal(requestPath('http://example.com/'), null);
  assert.equal(fileUnder('/srv/www', '/a/../b.js'), '/srv/www/b.js');
  assert.equal(fileUnder('/srv/www', '/'), '/srv/www');
  assert.equal(fileUnder('/srv/www', '//etc/passwd'), '/srv/www/etc/passwd');
  assert.equal(fileUnder('/srv/www', requestPath('/..%2f..%2fetc%2fpasswd')), null);
  assert.equal(fileUnder('/srv/www', '/../www2/x'), null); // a sibling sharing the prefix
});

test('test server (tests/browser/lib/server.mjs)', async () => {
  const srv = await startServer({ isolated: true });
  try {
    await assertHardened(srv.url, '/package.json', { mounts: ['', '/shared'] });
  } finally {
    await srv.close();
  }
});

test('benchmark server (bench/server.mjs)', async () => {
  const srv = await startBenchServer({ '/repo/': REPO_ROOT, '/bench/': path.join(REPO_ROOT, 'bench') });
  try {
    await assertHardened(srv.url, '/repo/package.json', { mounts: ['/repo', '/bench'] });
  } finally {
    await srv.close();
  }
});

test('demo server (www/serve.mjs, Vite dev)', async () => {
  const srv = await startDemoServer({ port: 0, host: '127.0.0.1', reload: false, logLevel: 'silent' });
  try {
    await assertHardened(srv.url, '/');
    // Vite's own /@fs/ route must stay inside the repository.
    for (const target of [`/@fs${secretDir}/secret.txt`, '/@fs/etc/passwd', `/@fs${REPO_ROOT}/${UP}${secretRel}`]) {
      const r = await get(srv.url, target);
      assert.ok(r.status >= 400 && !r.body.includes(SECRET) && !/root:.*:0:0:/.test(r.body), `GET ${target} -> ${r.status}`);
    }
    assert.equal((await get(srv.url, '/')).status, 200);
  } finally {
    await srv.close();
  }
});
