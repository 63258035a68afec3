#!/usr/bin/env bash
# The engine's unit tests (every kernel vs its reference) and the timm parity tests, compiled
# for wasm32 and run in Node's WASI: the exact SIMD code that ships to browsers, once per
# instruction set the wasm builds use (js/builds.js): SIMD128, and relaxed SIMD (FMA).
#   tests/wasm-kernels.sh [simd128|relaxed-simd]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed | grep -q wasm32-wasip1 || rustup target add wasm32-wasip1
# --single-threaded: Node 20's V8 (11.3) intermittently segfaults after running the larger test
# binaries (timm_parity grows wasm memory to ~280 MiB) when its background GC/compiler threads are
# on: 8 crashes in 12 runs, 0 in 20 with them off. Chromium's newer V8 is not affected.
# --experimental-wasm-relaxed-simd: Node 20's V8 has relaxed SIMD behind a flag (on by default
# from V8 11.4 / Chrome 114); it lowers relaxed_madd to vfmadd on FMA3 hosts.
node_flags="--no-warnings --single-threaded --experimental-wasm-relaxed-simd"
isas=("$@")
[ ${#isas[@]} -gt 0 ] || isas=(simd128 relaxed-simd)
for one in "${isas[@]}"; do
  case "$one" in
    simd128) features=+simd128 ;;
    relaxed-simd) features=+simd128,+relaxed-simd ;;
    *) echo "unknown instruction set: $one (simd128 | relaxed-simd)" >&2; exit 2 ;;
  esac
  echo "wasm-kernels: $one" >&2
  # One target dir per instruction set, so switching does not rebuild the other.
  RUSTFLAGS="-C target-feature=$features" CARGO_TARGET_DIR="$PWD/target/wasi-$one" \
      CARGO_TARGET_WASM32_WASIP1_RUNNER="node $node_flags $PWD/tests/wasm/run-wasi.mjs --dir $PWD" \
      cargo test --target wasm32-wasip1 --lib --test timm_parity --test preprocess_parity
done
