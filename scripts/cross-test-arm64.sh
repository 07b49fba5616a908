#!/usr/bin/env bash
# Cross-builds the native core for linux-arm64 and runs its ctest suite under qemu-aarch64 user mode, once per
# emulated CPU: `max` (NEON, dotprod and i8mm: the top kernel table) and `cortex-a57` (plain NEON: the fallback
# without dot-product instructions). Installs nothing: needs cmake, gcc-aarch64-linux-gnu and qemu-user.
# Prints a line per CPU model and, last, "N passed, N failed" over both; exits nonzero on any failure.
#
#   scripts/cross-test-arm64.sh                         # build dir: artifacts/native/linux-arm64-qemu
#   MISTRAL_ARM_BUILD_DIR=/tmp/b MISTRAL_QEMU_CPUS="max neoverse-n1 cortex-a57" scripts/cross-test-arm64.sh
#
# Left out under emulation (qemu runs these 10-50x slower than a native core, and they exercise no AArch64
# kernel beyond what the rest covers):
#   moe_grouped_equals_per_token      a 2-layer, 8-expert MoE batch swept over 6 batch sizes x 3 routings x 7 types
#                                      (about 10 minutes of emulated CPU alone); moe_* and the other model
#                                      tests cover grouped MoE decode on the same kernels
#   kv_f16_model_matches_f32_cache*   three whole-model F16-vs-F32 cache comparisons (2-3 minutes each);
#                                      kv_f16_attention_matches_reference still checks the F16 cache kernels
#   cancel_stops_a_long_prefill_promptly  a wall-clock latency bound (CPU spent after the abort) that the
#                                      emulator's translation overhead breaks, not the code
#   *_avx2, *_avxvnni                  MISTRAL_CPU caps naming x86 levels: on arm64 they rerun the top level
# Under the fallback CPU only the tests whose kernels depend on the table run (matmul on quantized
# activations, the NEON float kernels, NaN propagation, the whole models); the rest gives the same result on any table.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${MISTRAL_ARM_BUILD_DIR:-$root/artifacts/native/linux-arm64-qemu}
cpus=${MISTRAL_QEMU_CPUS:-max cortex-a57}
jobs=$(nproc 2>/dev/null || echo 2)
exclude='^(moe_grouped_equals_per_token|kv_f16_model_matches_f32_cache.*|cancel_stops_a_long_prefill_promptly|.*_avx2|.*_avxvnni)$'
fallback_only='^(kernel_matmul|kernel_matmul_qa|kernel_kquant_qa|nan_.*|model_.*|window_.*|moe_.*|abi_.*)$'

for tool in cmake aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "cross-test-arm64: $tool not found (apt-get install cmake gcc-aarch64-linux-gnu qemu-user)" >&2; exit 2; }
done

start=$(date +%s)
cmake -S "$root" -B "$build" --toolchain "$root/cmake/toolchains/aarch64-linux-gnu.cmake" -DMISTRAL_CUDA=OFF \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs" >/dev/null
echo "cross-test-arm64: built in $(( $(date +%s) - start )) s ($build)"

passed=0 failed=0 status=0
first=1
for cpu in $cpus; do
  cmake "$build" -DMISTRAL_QEMU_CPU="$cpu" >/dev/null # only ctest's emulator line changes: nothing rebuilds
  select=()
  [ "$first" = 1 ] || select=(-R "$fallback_only")
  first=0
  t0=$(date +%s)
  log="$build/ctest-$cpu.log"
  set +e
  (cd "$build" && ctest -j "$jobs" --timeout 900 --output-on-failure -E "$exclude" "${select[@]}") >"$log" 2>&1
  rc=$?
  set -e
  total=$(sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\1 \2/p' "$log" | tail -1)
  if [ -z "$total" ]; then
    echo "cross-test-arm64: -cpu $cpu: ctest gave no summary (exit $rc); see $log" >&2
    status=1
    continue
  fi
  nfail=${total% *} nall=${total#* }
  passed=$((passed + nall - nfail)) failed=$((failed + nfail))
  echo "cross-test-arm64: -cpu $cpu: $((nall - nfail)) passed, $nfail failed in $(( $(date +%s) - t0 )) s (log: $log)"
  if [ "$rc" != 0 ]; then
    status=1
    grep -E '^\s+[0-9]+ - ' "$log" >&2 || true
  fi
done
echo "cross-test-arm64: $(( $(date +%s) - start )) s in all"
echo "$passed passed, $failed failed"
exit $status
