// Function body sizes of a wasm module, and the build's check that none is too big for
// JavaScriptCore's optimizing tier: JSC never OMG-compiles a body over `maximumOMGCandidateCost`
// (100,000 bytes), so such a function runs in its baseline (BBQ) code, 2-4x slower, in Safari and
// WebKitGTK only. (wasm-opt's inlining of single-caller functions once merged the four depthwise
// kernels into one 153 KB body: WebKit's depthwise layers ran at half speed.)
//   node tools/wasm-function-sizes.mjs FILE.wasm [--top N] [--check]
// Prints the N largest bodies (index, bytes, name when the module has a name section); with
// --check (./build.sh, after wasm-opt), exits 1 if any body is over JSC's limit.

import { readFileSync } from 'node:fs';

export const JSC_MAX_OMG_BODY_BYTES = 100000;

/** [{ index, bytes, name }] of the module's defined functions. */
export function functionSizes(buf) {
  let p = 8;
  const leb = () => {
    let r = 0, s = 0, b;
    do { b = buf[p++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80);
    return r;
  };
  const skipLimits = () => { const flags = buf[p++]; leb(); if (flags & 1) leb(); };
  let imported = 0;
  const sizes = [];
  const names = new Map();
  while (p < buf.length) {
    const id = buf[p++];
    const size = leb();
    const end = p + size;
    if (id === 2) { // imports: count the functions (they come first in the index space)
      for (let n = leb(); n > 0; n--) {
        for (let k = 0; k < 2; k++) { const l = leb(); p += l; } // module, field
        const kind = buf[p++];
        if (kind === 0) { leb(); imported++; } else if (kind === 1) { p++; skipLimits(); } else if (kind === 2) skipLimits();
        else if (kind === 3) p += 2; else if (kind === 4) { p++; leb(); }
      }
    } else if (id === 10) {
      for (let n = leb(); n > 0; n--) { const s = leb(); sizes.push(s); p += s; }
    } else if (id === 0) {
      const len = leb();
      if (buf.toString('utf8', p, p + len) === 'name') {
        p += len;
        while (p < end) {
          const sub = buf[p++], subLen = leb(), subEnd = p + subLen;
          if (sub === 1) for (let n = leb(); n > 0; n--) { const i = leb(), l = leb(); names.set(i, buf.toString('utf8', p, p + l)); p += l; }
          p = subEnd;
        }
      }
    }
    p = end;
  }
  return sizes.map((bytes, i) => ({ index: imported + i, bytes, name: names.get(imported + i) || '' }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const file = args.find((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1));
  if (!file) { console.error('usage: node tools/wasm-function-sizes.mjs FILE.wasm [--top N] [--check]'); process.exit(2); }
  const fns = functionSizes(readFileSync(file)).sort((a, b) => b.bytes - a.bytes);
  const max = args.includes('--check') ? JSC_MAX_OMG_BODY_BYTES : null;
  const top = topAt >= 0 ? Number(args[topAt + 1]) : max === null ? 20 : 0;
  for (const f of fns.slice(0, top)) console.log(`${String(f.bytes).padStart(8)} bytes  function ${f.index} ${f.name}`);
  const over = max === null ? [] : fns.filter((f) => f.bytes > max);
  if (over.length) {
    console.error(`${file}: ${over.length} function bod${over.length > 1 ? 'ies' : 'y'} over ${max} bytes (${over.map((f) => `function ${f.index}${f.name ? ` ${f.name}` : ''}: ${f.bytes}`).join(', ')}). ` +
      'JavaScriptCore never optimizes such a function (Safari/WebKit run it in baseline code, several times slower): ' +
      'split it (#[inline(never)] helpers; wasm-opt must not merge them back, see --one-caller-inline-max-function-size in build.sh).');
    process.exit(1);
  }
}
