#!/usr/bin/env bash
# The engine's unit tests (every kernel vs its reference) and the timm parity tests, compiled
# for wasm32 with +simd128 and run in Node's WASI: the exact SIMD128 code that ships to browsers.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed | grep -q wasm32-wasip1 || rustup target add wasm32-wasip1
export RUSTFLAGS="-C target-feature=+simd128"
# --single-threaded: Node 20's V8 (11.3) intermittently segfaults after running the larger test
# binaries (timm_parity grows wasm memory to ~280 MiB) when its background GC/compiler threads are
# on: 8 crashes in 12 runs, 0 in 20 with them off. Chromium's newer V8 is not affected.
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings --single-threaded $PWD/tests/wasm/run-wasi.mjs --dir $PWD"
cargo test --target wasm32-wasip1 --lib --test timm_parity --test preprocess_parity
