#!/usr/bin/env bash
# gpu-check.sh — the CUDA backend on a real NVIDIA GPU, with no .NET needed: builds the native library with the
# CUDA backend (PTX from clang >= 18, or nvcc), runs every kernel and whole-model test on the driver (the gpu_*
# twins of the emulator's cuda_* tests), then one model case under compute-sanitizer when it is installed.
# Usage: scripts/gpu-check.sh [OUT_DIR]   (default artifacts/gpu-check); writes ctest.log and summary.txt there.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-artifacts/gpu-check}}
build=artifacts/native/gpu-check
mkdir -p "$out"

{ nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi: not found"; } > "$out/summary.txt"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMISTRAL_CUDA=ON > "$out/configure.log" 2>&1 &&
  cmake --build "$build" --parallel > "$out/build.log" 2>&1 || { echo "build failed: see build.log" >> "$out/summary.txt"; exit 1; }

ctest --test-dir "$build" -R '^gpu_' --output-on-failure --timeout 300 > "$out/ctest.log" 2>&1
status=$?
grep -E 'tests passed|Skipped|Failed' "$out/ctest.log" >> "$out/summary.txt"

if command -v compute-sanitizer > /dev/null; then
  for tool in memcheck racecheck synccheck; do
    MISTRAL_CUDA_TEST_DRIVER=1 compute-sanitizer --tool "$tool" --error-exitcode 99 "$build/native/tests/cuda/test_cuda_model" q4_k \
      > "$out/sanitizer-$tool.log" 2>&1
    echo "compute-sanitizer $tool: exit $?" >> "$out/summary.txt"
  done
fi
cat "$out/summary.txt"
exit $status
