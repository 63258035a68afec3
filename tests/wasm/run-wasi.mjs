// Run a Rust test binary built for wasm32-wasip1 (+simd128) under Node's WASI, so the SIMD128
// kernels (core::arch::wasm32) and the whole network are tested as browsers run them.
//   node tests/wasm/run-wasi.mjs [--dir PATH]... FILE.wasm [test args]
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { argv, exit } from 'node:process';

const args = argv.slice(2);
const preopens = {};
while (args[0] === '--dir') {
  args.shift();
  const dir = args.shift();
  preopens[dir] = dir;
}
const [file, ...rest] = args;
const wasi = new WASI({ version: 'preview1', args: [file, ...rest], env: { RUST_BACKTRACE: '0' }, preopens, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
let code;
try {
  code = wasi.start(instance);
} catch (e) {
  // A failing test aborts (panic=abort on wasm), which traps as `unreachable`.
  console.error(`wasm test binary trapped: ${e.message}`);
  code = 101;
}
exit(code);
