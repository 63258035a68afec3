#!/usr/bin/env node
// Downloads the models of weights/models.json into weights/<name>/ (model.safetensors + config.json)
// for self-hosting; needs internet (huggingface.co). Used by `./build.sh weights [NAME...]`.
//
//   node weights/download.mjs                      # every model in models.json (~290 MB)
//   node weights/download.mjs mobilenetv3_large_100 tf_mobilenetv3_small_100
//   node weights/download.mjs --out DIR --base https://mirror.example   (replaces https://huggingface.co)
//
// Idempotent: a file already there with the server's size (and the pinned SHA-256) is kept.
// Writes go to NAME.part first. Entries pinned in models.json (weightsBytes / weightsSha256 /
// configSha256) are checked: a file that differs is refused, not written.
// Then: createClassifier({ weights: '/weights/NAME/model.safetensors', config: '/weights/NAME/config.json' }).
import { readFileSync, existsSync, statSync, mkdirSync, renameSync, createWriteStream, createReadStream, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let out = here;
let base = null;
const names = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') out = path.resolve(args[++i]);
  else if (args[i] === '--base') base = args[++i].replace(/\/$/, '');
  else if (args[i] === '-h' || args[i] === '--help') {
    console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 12).join('\n'));
    process.exit(0);
  } else names.push(args[i]);
}

const { models } = JSON.parse(readFileSync(path.join(here, 'models.json'), 'utf8'));
const unknown = names.filter((n) => !models.some((m) => m.name === n));
if (unknown.length) {
  console.error(`unknown model(s): ${unknown.join(', ')}; known: ${models.map((m) => m.name).join(', ')}`);
  process.exit(2);
}
const chosen = names.length ? models.filter((m) => names.includes(m.name)) : models;
const rewrite = (url) => (base ? url.replace('https://huggingface.co', base) : url);

async function sha256Of(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

/** null when `file` matches what models.json pins ({ bytes, sha256 }, either may be absent), else why not. */
async function pinMismatch(file, pin) {
  const got = statSync(file).size;
  if (pin.bytes !== undefined && got !== pin.bytes) return `${got} bytes, models.json pins ${pin.bytes}`;
  if (pin.sha256 !== undefined) {
    const sha = await sha256Of(file);
    if (sha !== pin.sha256) return `SHA-256 ${sha}, models.json pins ${pin.sha256}`;
  }
  return null;
}

async function download(url, file, pin = {}) {
  const res = await fetch(url, { redirect: 'follow' });
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText} for ${url}`);
  const size = Number(res.headers.get('content-length')) || undefined;
  if (existsSync(file) && size !== undefined && statSync(file).size === size && !(await pinMismatch(file, pin))) {
    await res.body?.cancel();
    return `kept (${size} bytes)`;
  }
  const part = `${file}.part`;
  try {
    await pipeline(Readable.fromWeb(res.body), createWriteStream(part));
    const got = statSync(part).size;
    if (size !== undefined && got !== size) throw new Error(`got ${got} of ${size} bytes from ${url}`);
    const bad = await pinMismatch(part, pin);
    if (bad) throw new Error(`integrity: ${url} gave ${bad}; not saved (a proxy page, or the file changed upstream)`);
    renameSync(part, file);
    return `${got} bytes`;
  } catch (e) {
    rmSync(part, { force: true });
    throw e;
  }
}

function checkSafetensors(file) {
  const buf = readFileSync(file);
  const n = buf.length >= 8 ? Number(buf.readBigUInt64LE(0)) : -1;
  if (n <= 0 || n + 8 > buf.length) throw new Error(`${file} is not a safetensors file`);
  JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
}

let failed = 0;
for (const m of chosen) {
  const dir = path.join(out, m.name);
  mkdirSync(dir, { recursive: true });
  try {
    const w = await download(rewrite(m.weightsUrl), path.join(dir, 'model.safetensors'), { bytes: m.weightsBytes, sha256: m.weightsSha256 });
    checkSafetensors(path.join(dir, 'model.safetensors'));
    const c = await download(rewrite(m.configUrl), path.join(dir, 'config.json'), { bytes: m.configBytes, sha256: m.configSha256 });
    JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    console.log(`${m.name}: model.safetensors ${w}, config.json ${c} -> ${path.relative(process.cwd(), dir) || '.'}`);
  } catch (e) {
    failed++;
    console.error(`${m.name}: ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);
