#!/usr/bin/env bash
# mobilenetv3-wasm build entry point. Idempotent: installs what it needs when missing.
#
#   ./build.sh                 build both wasm builds + the JS package (js/)
#   ./build.sh serve [--weights DIR] [--port N]
#                              build, then serve the demo (www/) with COOP/COEP on :8080
#   ./build.sh test            run every test: Rust (native + wasm kernels) and the browser suites
#   ./build.sh bench           side-by-side benchmark vs ONNX Runtime Web and TF.js (BENCHMARKS.md)
#   ./build.sh weights         download the models of weights/models.json into weights/ (internet)
#   ./build.sh setup           only install toolchains and packages
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD

NIGHTLY=nightly-2026-10-30   # threaded build: -Z build-std needs nightly; pinned by date
STABLE=1.95.0                # everything else (rust-toolchain.toml)
WASM_BINDGEN_VERSION=0.2.130 # must equal the wasm-bindgen crate pin in Cargo.toml
# Shared memory maximum of the threaded build. The largest supported model (mobilenetv3_large_150d)
# peaks near 110 MiB while loading (file bytes + folded weights); 256 MiB leaves room for big
# photos fed in strips, and stays far below the 1-2 GiB maxima that fail on iOS.
MAX_MEMORY=$((256 * 1024 * 1024))

log() { printf '\033[1;34m[build]\033[0m %s\n' "$*" >&2; }

setup_rust() {
  rustup toolchain list | grep -q "^$STABLE" || rustup toolchain install "$STABLE" --profile minimal
  rustup target list --installed --toolchain "$STABLE" | grep -q wasm32-unknown-unknown ||
    rustup target add wasm32-unknown-unknown --toolchain "$STABLE"
  if ! rustup toolchain list | grep -q "^$NIGHTLY"; then
    rustup toolchain install "$NIGHTLY" --profile minimal --component rust-src --target wasm32-unknown-unknown
  fi
  rustup component list --installed --toolchain "$NIGHTLY" | grep -q rust-src ||
    rustup component add rust-src --toolchain "$NIGHTLY"
  rustup target list --installed --toolchain "$NIGHTLY" | grep -q wasm32-unknown-unknown ||
    rustup target add wasm32-unknown-unknown --toolchain "$NIGHTLY"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (~2 min)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
}

setup_node() {
  # One lockfile at the root covers the JS package, demo, browser tests and benchmark.
  if [ -L node_modules ]; then
    # A worktree sharing another checkout's packages: npm ci here would delete them for every
    # checkout using them. Update them where they live.
    [ package-lock.json -nt node_modules/.package-lock.json ] &&
      log "node_modules links to $(readlink node_modules) and package-lock.json is newer: run npm ci there"
    return 0
  fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

setup_browser() {
  # The three engines the browser tests run in (tests/browser/lib/engines.mjs), Debian's own builds:
  # Chromium, Firefox ESR (driven over WebDriver BiDi) and WebKitGTK's MiniBrowser + WebKitWebDriver
  # (under xvfb-run: MiniBrowser has no headless mode).
  if ! command -v chromium >/dev/null 2>&1; then
    log "installing Debian chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  local need=()
  command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
  command -v WebKitWebDriver >/dev/null 2>&1 || need+=(webkit2gtk-driver)
  command -v xvfb-run >/dev/null 2>&1 || need+=(xvfb xauth)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing Debian ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

# The wasm builds, one "name threads relaxedSimd" line each (1/0), from js/builds.js: the list the
# runtime (worker.js) and the packaging step read too.
wasm_builds() {
  node --input-type=module -e "import { BUILDS } from '$ROOT/js/builds.js';
    for (const b of BUILDS) console.log(b.name, b.threads ? 1 : 0, b.relaxedSimd ? 1 : 0);"
}

# cargo build of the cdylib for wasm32 -> wasm-bindgen (--target web) -> wasm-opt.
build_wasm() {
  local kind=$1 threads=$2 relaxed=$3 out="$ROOT/js/wasm/$1"
  local target_dir="$ROOT/target/wasm-$kind" simd=+simd128
  [ "$relaxed" = 1 ] && simd+=,+relaxed-simd
  local t0=$SECONDS
  if [ "$threads" = 1 ]; then
    # Since Rust PR #147225 (2025-10) +atomics no longer implies a shared memory: ask wasm-ld for
    # it (imported, so wasm-bindgen can hand it to the rayon workers) and for the TLS exports.
    local shared="-C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--export=__wasm_init_tls"
    shared+=" -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
    RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,$simd -C link-arg=--max-memory=$MAX_MEMORY $shared" \
      cargo "+$NIGHTLY" build --lib --release --target wasm32-unknown-unknown --features threads \
      -Z build-std=panic_abort,std --target-dir "$target_dir"
  else
    RUSTFLAGS="-C target-feature=$simd" \
      cargo "+$STABLE" build --lib --release --target wasm32-unknown-unknown --target-dir "$target_dir"
  fi
  rm -rf "$out" && mkdir -p "$out"
  wasm-bindgen --target web --out-dir "$out" --out-name mobilenetv3 \
    "$target_dir/wasm32-unknown-unknown/release/mobilenetv3_wasm.wasm"
  local opt="$ROOT/node_modules/.bin/wasm-opt"
  if [ -x "$opt" ]; then
    local flags=(-O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals)
    # No inlining of big single-caller functions: it merged the kernel variants into bodies over
    # JavaScriptCore's optimizing-tier limit (checked below).
    flags+=(--one-caller-inline-max-function-size=2000)
    [ "$threads" = 1 ] && flags+=(--enable-threads)
    [ "$relaxed" = 1 ] && flags+=(--enable-relaxed-simd)
    "$opt" "${flags[@]}" "$out/mobilenetv3_bg.wasm" -o "$out/mobilenetv3_bg.wasm.opt" &&
      mv "$out/mobilenetv3_bg.wasm.opt" "$out/mobilenetv3_bg.wasm"
  else
    log "wasm-opt not found (npm package binaryen); leaving $kind unoptimized"
  fi
  node "$ROOT/tools/wasm-function-sizes.mjs" "$out/mobilenetv3_bg.wasm" --check
  local raw gz
  raw=$(stat -c %s "$out/mobilenetv3_bg.wasm")
  gz=$(gzip -9 -c "$out/mobilenetv3_bg.wasm" | wc -c)
  log "$kind: mobilenetv3_bg.wasm $raw bytes, $gz gzipped ($((SECONDS - t0)) s)"
}

build_all_wasm() {
  local list line
  list=$(wasm_builds)
  while read -r line; do
    # shellcheck disable=SC2086 # "name threads relaxedSimd"
    build_wasm_if_changed $line
  done <<<"$list"
}

# build_wasm KIND THREADS RELAXED, unless its inputs are unchanged since the last build of KIND (so
# `./build.sh serve` twice does not rebuild): the crate's sources and manifests, the toolchain pins,
# the flags (build_wasm's own text and its arguments), wasm-bindgen and wasm-opt versions. The
# fingerprint lives in KIND's target dir. BUILD_FORCE=1 rebuilds anyway.
build_wasm_if_changed() {
  local kind=$1 out="$ROOT/js/wasm/$1" stamp="$ROOT/target/wasm-$1/inputs.sha256" inputs
  inputs=$( { echo "$* $NIGHTLY $STABLE $WASM_BINDGEN_VERSION $MAX_MEMORY"; declare -f build_wasm
              cat Cargo.toml Cargo.lock rust-toolchain.toml
              find src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
              wasm-bindgen --version; "$ROOT/node_modules/.bin/wasm-opt" --version 2>/dev/null || true
            } | sha256sum | cut -d' ' -f1)
  if [ -z "${BUILD_FORCE:-}" ] && [ -f "$out/mobilenetv3_bg.wasm" ] && [ -f "$out/mobilenetv3.js" ] &&
     [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
    log "$kind: up to date (sources and flags unchanged since its last build; BUILD_FORCE=1 rebuilds)"
    return
  fi
  rm -f "$stamp"
  build_wasm "$@"
  echo "$inputs" >"$stamp"
}

build_all() {
  setup_rust
  setup_node
  build_all_wasm
  node weights/sync-models.mjs  # js/models.js from the registry, weights/models.json
  node js/tools/prepack.mjs   # npm package layout (inlines the rayon helper into the threaded glue)
}

cmd=${1:-build}
shift || true
case "$cmd" in
  setup) setup_rust; setup_node; setup_browser ;;
  build) build_all ;;
  wasm) setup_rust; build_all_wasm ;;
  serve) build_all; exec node www/serve.mjs "$@" ;;
  test)
    build_all
    setup_browser
    log "cargo test (native)"
    cargo "+$STABLE" test
    log "kernel tests on wasm32 + simd128 in Node"
    tests/wasm-kernels.sh
    log "browser tests"
    npm test --silent
    ;;
  bench) build_all; setup_browser; exec node bench/run.mjs "$@" ;;
  weights) exec node weights/download.mjs "$@" ;;
  *) echo "unknown command: $cmd (build | serve | test | bench | weights | setup)" >&2; exit 2 ;;
esac
