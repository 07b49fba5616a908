#!/usr/bin/env bash
# gpu-check.sh — the CUDA backend on a real NVIDIA GPU in one run of at most ~8 minutes, with no .NET and no network:
#   1. builds the native library with the CUDA backend (PTX from clang >= 18, else nvcc), its tests and the benchmark
#      harness (native/bench), then runs NVIDIA's assembler (ptxas, sm_90) over the PTX the library embeds, with its
#      register and spill report;
#   2. runs every kernel and whole-model test on the driver (the gpu_* twins of the emulator's cuda_* tests);
#   3. benchmarks a 7B-shaped random-weight model (Q4_0, Q8_0, Q4_K_M: load and JIT, first token, 512-token prefill,
#      128-token decode), the device's bandwidth, and a Mixtral MoE layer against a dense one (bench_cuda), each
#      figure beside its limit (docs/CUDA-PERFORMANCE.md);
#   4. where nvcc exists and clang made the PTX, builds the library's PTX with nvcc as well;
#   5. runs one model case under compute-sanitizer (memcheck, racecheck, synccheck) when it is installed.
# Each step has its own time limit, cut to what is left of the whole run's (GPU_CHECK_BUDGET_S, default 450 s; the
# build's is GPU_CHECK_BUILD_S, default 240 s, enough for a fresh build on 16 cores); a step that fails or runs out
# of time is recorded and the next one runs.
#
# Usage: scripts/gpu-check.sh [--emulate] [--build-dir DIR [--no-build]] [OUT_DIR]
#   OUT_DIR      default $OUT, else artifacts/gpu-check. Gets at most 7 files (some GPU-lending setups bring back only
#                a few): summary.txt, build.log, ctest.log, bench.log, bench.json, bench.md, sanitizer.log.
#   --emulate    (or MISTRAL_CUDA_EMULATE=1) a rehearsal on a machine without a GPU: the same steps, the benchmark on
#                the SIMT emulator with tiny shapes; its timings are the emulator's and are labelled so. Seconds with
#                an already built folder; a fresh one adds the whole build.
#   --build-dir  the CMake build folder (default artifacts/native/gpu-check, or gpu-check-emulate): configured here
#                with MISTRAL_CUDA=ON (AUTO with --emulate) when it is new, used with its own settings when it is
#                already configured; --no-build: build nothing in it either.
# Exit status: 0 when every step that ran passed (a step that cannot run here, e.g. no compute-sanitizer, is skipped
# and says why), 1 otherwise; summary.txt has one line per step.
set -uo pipefail
cd "$(dirname "$0")/.."

emulate=0 build="" no_build=0 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --emulate) emulate=1 ;;
    --build-dir) build=${2:?--build-dir needs a folder}; shift ;;
    --no-build) no_build=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "gpu-check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) out=$1 ;;
  esac
  shift
done
[ "${MISTRAL_CUDA_EMULATE:-0}" = 1 ] && emulate=1
out=${out:-${OUT:-artifacts/gpu-check}}
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 2
build=${build:-artifacts/native/gpu-check$([ $emulate = 1 ] && echo -emulate)}
configure=$([ -f "$build/CMakeCache.txt" ] && echo 0 || echo 1) # a configured folder is used as it is
budget=${GPU_CHECK_BUDGET_S:-450}
start=$SECONDS
summary=$out/summary.txt
failed=0
rm -f "$out"/{summary.txt,build.log,ctest.log,bench.log,bench.json,bench.md,sanitizer.log}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX") && trap 'rm -rf "$scratch"' EXIT

say() { echo "$*" | tee -a "$summary"; }

# step NAME LIMIT_S LOG COMMAND...: runs COMMAND (stdout and stderr appended to LOG) under min(LIMIT_S, what is left
# of the budget); one summary line. ctest's and bench_cuda's "skipped" exit code 77 counts as skipped.
step() {
  local name=$1 limit=$2 log=$3; shift 3
  local left=$((budget - (SECONDS - start)))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 10 ]; then say "$name: not run: the ${budget} s budget is spent"; failed=1; return 1; fi
  echo "== $name ($(date -u +%H:%M:%S), limit ${limit} s): $*" >> "$log"
  local t0=$SECONDS rc
  timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1
  rc=$?
  local took=$((SECONDS - t0))
  case $rc in
    0) say "$name: ok (${took} s)" ;;
    77) say "$name: skipped ($(grep -m1 -i 'skipped' "$log" | cut -c1-200))" ;;
    124|137) say "$name: TIMED OUT after ${took} s (limit ${limit} s): see $(basename "$log")"; failed=1 ;;
    *) say "$name: FAILED (exit $rc, ${took} s): see $(basename "$log")"; failed=1 ;;
  esac
  return $rc
}

{
  commit=$(git rev-parse --short HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null || commit="$commit (with local changes)"; }
  echo "gpu-check $(date -u '+%Y-%m-%d %H:%M UTC'), commit ${commit:-unknown}"
  [ $emulate = 1 ] && echo "REHEARSAL on the SIMT emulator (--emulate): no timing here is a GPU's"
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"
  echo "nvcc: $(nvcc --version 2>/dev/null | tail -1 || true)"; echo "clang: $(clang++-19 --version 2>/dev/null | head -1 || true)"
  echo "cmake: $(cmake --version | head -1); $(nproc) CPUs"
} > "$summary"
cat "$summary"

# ---- 1. build ----
jobs=$(nproc)
built=1
if [ $configure = 1 ]; then
  cuda_mode=$([ $emulate = 1 ] && echo AUTO || echo ON) # the emulator needs no PTX compiler
  step "configure ($build, MISTRAL_CUDA=$cuda_mode)" 90 "$out/build.log" \
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMISTRAL_CUDA=$cuda_mode || built=0
fi
if [ $no_build = 1 ]; then
  say "build: not run (--no-build): $build as it is"
elif [ $built = 1 ]; then
  step "build" "${GPU_CHECK_BUILD_S:-240}" "$out/build.log" cmake --build "$build" --parallel "$jobs" || built=0
fi
ptx_compiler=$(sed -n 's/^MISTRAL_PTX_COMPILER:FILEPATH=//p' "$build/CMakeCache.txt" 2>/dev/null)
say "PTX compiler of $build: ${ptx_compiler:-none (emulator only)}"
if command -v ptxas > /dev/null && ls "$build"/cuda_ptx/*.ptx > /dev/null 2>&1; then
  # NVIDIA's assembler over the embedded PTX, for Hopper: what the driver's JIT will accept, and each kernel's
  # registers, spills and shared memory (build.log)
  step "ptxas sm_90 of the embedded PTX" 60 "$out/build.log" \
    bash -c "for f in '$build'/cuda_ptx/*.ptx; do echo \"-- \$f\"; ptxas -arch=sm_90 -v -o /dev/null \"\$f\" || exit 1; done"
else
  say "ptxas: not run: $(command -v ptxas > /dev/null && echo "no PTX in $build" || echo 'not found (it comes with nvcc)')"
fi

# ---- 2. the kernel and model tests on the driver ----
if [ $built = 1 ]; then
  step "ctest gpu_* (on the driver's device 0)" 150 "$out/ctest.log" \
    ctest --test-dir "$build" -R '^gpu_' --output-on-failure --timeout 120 -j 4
  grep -E 'tests passed|tests failed|Not Run|\*\*\*Skipped|\*\*\*Failed' "$out/ctest.log" | sed 's/^/  /' | head -40 >> "$summary"
fi

# ---- 3. the benchmark ----
bench=$build/native/bench/bench_cuda
if [ -x "$bench" ]; then
  bench_args=(--out "$out")
  [ $emulate = 1 ] && bench_args+=(--emulate --tiny)
  left=$((budget - (SECONDS - start)))
  # a fresh JIT cache, so the first load pays the cold JIT and the second shows the cache
  step "benchmark (bench_cuda$([ $emulate = 1 ] && echo ' --emulate --tiny'))" 240 "$out/bench.log" \
    env CUDA_CACHE_PATH="$scratch/jit-cache" "$bench" "${bench_args[@]}" --budget-s $((left > 300 ? 200 : left * 2 / 3))
  [ -f "$out/bench.md" ] && sed -n '/^| type/,/^$/p' "$out/bench.md" >> "$summary"
else
  say "benchmark: not run: $bench was not built"; failed=1
fi

# ---- 4. the kernels through nvcc as well (after the benchmark: the step most likely to be cut by the budget) ----
if ! command -v nvcc > /dev/null; then
  say "nvcc build: not run: nvcc not found"
elif [[ $ptx_compiler =~ nvcc ]]; then
  say "nvcc build: it was the PTX compiler above; the PTX that ships (clang's) is not the one tested here (no clang++ >= 18)"
elif [ $built = 1 ] && [ -n "$ptx_compiler" ]; then
  # the same kernels through NVIDIA's front end and PTX (the library only, no tests)
  step "build with nvcc" 120 "$out/build.log" bash -c "cmake -S . -B '$build-nvcc' -DCMAKE_BUILD_TYPE=Release \
    -DMISTRAL_CUDA=ON -DMISTRAL_PTX_COMPILER='$(command -v nvcc)' && cmake --build '$build-nvcc' --target mistral --parallel $jobs"
fi

# ---- 5. compute-sanitizer on one model run ----
model_test=$build/native/tests/cuda/test_cuda_model
if [ $emulate = 1 ]; then
  say "compute-sanitizer: not run: it checks a real device's kernels (the emulator checks its own)"
elif ! command -v compute-sanitizer > /dev/null; then
  say "compute-sanitizer: not run: not installed"
elif [ -x "$model_test" ]; then
  for tool in memcheck racecheck synccheck; do
    step "compute-sanitizer $tool (test_cuda_model q4_k)" 90 "$out/sanitizer.log" \
      env MISTRAL_CUDA_TEST_DRIVER=1 MISTRAL_CUDA_EMULATE=0 compute-sanitizer --tool "$tool" --error-exitcode 99 "$model_test" q4_k
  done
fi

say "whole run: $((SECONDS - start)) s of the ${budget} s budget; $([ $failed = 0 ] && echo 'every step that ran passed' || echo 'SOME STEPS FAILED')"
exit $failed
