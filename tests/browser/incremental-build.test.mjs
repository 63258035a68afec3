// `./build.sh` (hence `./build.sh serve`) does not rebuild a wasm build whose inputs did not change:
// the second run says "up to date" for both builds and leaves their files untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { statSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { REPO_ROOT } from './lib/server.mjs';

const BUILDS = ['single', 'threaded'];
const files = BUILDS.flatMap((b) => ['mobilenetv3_bg.wasm', 'mobilenetv3.js'].map((f) => path.join(REPO_ROOT, 'js/wasm', b, f)));
const snapshot = () => files.map((f) => `${statSync(f).mtimeMs} ${createHash('sha256').update(readFileSync(f)).digest('hex')}`);
const build = async () => (await promisify(execFile)('./build.sh', ['build'], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, BUILD_FORCE: '' }, maxBuffer: 64 << 20 })).stderr;

test('./build.sh twice: the second run skips both wasm builds and leaves their files as they were', async (t) => {
  let log = await build(); // builds whatever is stale (nothing, after ./build.sh test's own build)
  const before = snapshot();
  log = await build();
  for (const b of BUILDS) assert.match(log, new RegExp(`${b}: up to date`), log);
  assert.doesNotMatch(log, /Compiling mobilenetv3-wasm|wasm-bindgen --target|gzipped/, log);
  assert.deepEqual(snapshot(), before, 'the wasm and glue files are unchanged');
  t.diagnostic(log.trim().split('\n').filter((l) => /up to date/.test(l)).join(' | '));
});
