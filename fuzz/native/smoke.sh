#!/usr/bin/env bash
# smoke.sh — builds the native loader's libFuzzer target and runs it for a fixed number of inputs from the seed
# corpus; exits non-zero on any finding (crash, sanitizer report, leak, allocation over 64 MiB, timeout), or when
# the seeds no longer load (then the fuzzer would only be exercising the first checks of mst_model_create).
#
#   fuzz/native/smoke.sh [BUILD_DIR] [RUNS]     defaults: artifacts/fuzz/native-smoke (git-ignored), 20000
#
# Needs clang (clang-19 preferred, with libclang-rt-19-dev for libFuzzer), CMake and python3. libFuzzer's seed is
# fixed, so each run tries the same mutations (the coverage counts still vary a little: some paths depend on
# addresses); a crashing input is left in BUILD_DIR/artifacts/ and reproduces on its own (fuzz/README.md).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/artifacts/fuzz/native-smoke}
runs=${2:-20000}
started=$SECONDS

fail() { echo "fuzz smoke: FAIL: $*"; exit 1; }

cc=$(command -v clang-19 || command -v clang) || fail "no clang found (apt-get install clang-19)"
command -v python3 >/dev/null || fail "python3 is needed for the seed corpus"
# libFuzzer and the sanitizer runtimes come in libclang-rt-19-dev, which clang-19 only recommends.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return (int)(d && n) * 0; }\n' |
  "$cc" -fsanitize=fuzzer,address,undefined -x c - -o /dev/null 2>/dev/null ||
  fail "$cc cannot link a libFuzzer target (Debian/Ubuntu: apt-get install libclang-rt-19-dev)"

mkdir -p "$build" || fail "cannot create $build"
cmake -S "$here" -B "$build" -DCMAKE_C_COMPILER="$cc" >"$build/configure.log" 2>&1 ||
  { tail -20 "$build/configure.log"; fail "cmake configure (log: $build/configure.log)"; }
cmake --build "$build" --target fuzz_model_create --parallel "$(nproc)" >"$build/build.log" 2>&1 ||
  { grep -E "error" "$build/build.log" | head -20; fail "build (log: $build/build.log)"; }
built=$SECONDS

rm -rf "$build/seeds" "$build/corpus" "$build/artifacts"
mkdir -p "$build/corpus" "$build/artifacts"
python3 "$here/gen_seeds.py" "$build/seeds" >/dev/null || fail "gen_seeds.py"
cp "$build/seeds"/* "$build/corpus/"

export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}"

# Every seed must load and decode (nonfinite_embedding loads and must fail its decode with NaN/Inf, not crash).
for seed in "$build/seeds"/*; do
  name=$(basename "$seed")
  out=$(FUZZ_VERBOSE=1 "$build/fuzz_model_create" "$seed" 2>&1) || { echo "$out" | tail -30; fail "seed $name crashed"; }
  grep -q "mst_model_create: ok" <<<"$out" || { echo "$out" | grep "fuzz_model_create:"; fail "seed $name no longer loads: the seeds (gen_seeds.py) or the harness need updating"; }
  if [ "$name" != nonfinite_embedding ]; then
    grep -q "mst_decode: ok" <<<"$out" || { echo "$out" | grep "fuzz_model_create:"; fail "seed $name loads but does not decode"; }
  fi
done

log="$build/fuzz.log"
"$build/fuzz_model_create" -runs="$runs" -seed=1 -malloc_limit_mb=64 -rss_limit_mb=2048 -timeout=30 \
  -artifact_prefix="$build/artifacts/" -print_final_stats=1 "$build/corpus" >"$log" 2>&1
status=$?
inited=$(grep -m1 -oE "INITED cov: [0-9]+ ft: [0-9]+" "$log")
done_line=$(grep -m1 -oE "DONE +cov: [0-9]+ ft: [0-9]+" "$log" | tr -s ' ')
if [ $status -ne 0 ]; then
  # The report's first line, then the frames in our code (the allocator's and libFuzzer's own are noise here).
  grep -m1 -E "ERROR: |runtime error" "$log"
  grep -E "#[0-9]+ .* in .*(native/src|fuzz_model_create\.c)" "$log" | head -15
  fail "libFuzzer exited $status after $((SECONDS - built)) s; input: $(ls "$build/artifacts"/* 2>/dev/null | head -1); log: $log"
fi
echo "fuzz smoke: PASS ($runs inputs; ${inited#INITED } at start, ${done_line#DONE } at end; build $((built - started)) s, fuzz $((SECONDS - built)) s)"
