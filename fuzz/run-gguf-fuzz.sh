#!/usr/bin/env bash
# run-gguf-fuzz.sh — coverage-guided fuzzing of the managed model loader (GGUF reader, config, tokenizer, tensor
# table, native create, one evaluation) with AFL++ and SharpFuzz: builds fuzz/Mistral.Fuzz.Gguf, instruments
# Mistral.Native.dll, writes the seed corpus, runs afl-fuzz for SECONDS, then prints the corpus size, AFL's coverage
# and the crashes, each re-run so its exception and stack show.
#
#   fuzz/run-gguf-fuzz.sh SECONDS [OUT_DIR]     OUT_DIR defaults to artifacts/fuzz/gguf (git-ignored)
#
# Environment: RESUME=1 continues the corpus in OUT_DIR/findings instead of starting from the seeds;
# MISTRAL_FUZZ_BUILD_ARGS is passed to `dotnet build` (e.g. "-p:MistralSkipNative=true
# -p:MistralNativeBuildDir=/path/with/libmistral.so" to reuse a native build).
# Needs the .NET SDK and AFL++ (Debian/Ubuntu: apt-get install afl++).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
seconds=${1:?usage: run-gguf-fuzz.sh SECONDS [OUT_DIR]}
out=${2:-$root/artifacts/fuzz/gguf}
mkdir -p "$out"
out=$(cd "$out" && pwd)

fail() { echo "gguf fuzz: FAIL: $*"; exit 1; }
command -v afl-fuzz >/dev/null || fail "afl-fuzz not found (apt-get install afl++)"

echo "== build"
# shellcheck disable=SC2086 # MISTRAL_FUZZ_BUILD_ARGS holds several arguments
dotnet build "$here/Mistral.Fuzz.Gguf" -c Release -o "$out/bin" ${MISTRAL_FUZZ_BUILD_ARGS:-} >"$out/build.log" 2>&1 ||
  { grep -E "error" "$out/build.log" | head -20; fail "dotnet build (log: $out/build.log)"; }

echo "== instrument Mistral.Native.dll"
# The build copied a fresh, uninstrumented Mistral.Native.dll: SharpFuzz rewrites it in place, adding a trace call
# on every branch (only this assembly: the fuzzing target is our code, not the runtime's).
(cd "$here" && dotnet tool restore >/dev/null && dotnet tool run sharpfuzz "$out/bin/Mistral.Native.dll") ||
  fail "sharpfuzz instrumentation"

target=("$(command -v dotnet)" "$out/bin/Mistral.Fuzz.Gguf.dll")
if [ "${RESUME:-0}" = 1 ] && [ -d "$out/findings/default/queue" ]; then
  input=-   # AFL's "resume from the existing output directory"
else
  rm -rf "$out/seeds" "$out/findings"
  "${target[@]}" seeds "$out/seeds" || fail "writing the seed corpus"
  input=$out/seeds
fi

echo "== afl-fuzz for $seconds s"
# dotnet itself is not AFL-instrumented (SKIP_BIN_CHECK); the machine may be shared (NO_AFFINITY) and its core
# pattern or CPU governor not set for fuzzing, which only matters for speed. -m none: the .NET runtime reserves far
# more address space than AFL's default limit. -t 10000: the first input of each process includes starting .NET.
AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
  afl-fuzz -i "$input" -o "$out/findings" -t 10000 -m none -V "$seconds" -- "${target[@]}" >"$out/afl.log" 2>&1
status=$?
stats=$out/findings/default/fuzzer_stats
[ -f "$stats" ] || { tail -30 "$out/afl.log"; fail "afl-fuzz wrote no stats (exit $status; log: $out/afl.log)"; }

stat() { grep -E "^$1 *:" "$stats" | sed -E 's/^[^:]*: *//'; }
crashes=("$out"/findings/default/crashes/id:*)
[ -e "${crashes[0]}" ] || crashes=()
hangs=("$out"/findings/default/hangs/id:*)
[ -e "${hangs[0]}" ] || hangs=()
echo "corpus: $(stat corpus_count) inputs (from $(ls "$out/seeds" 2>/dev/null | wc -l) seeds), edges found: $(stat edges_found) of $(stat total_edges) in the map (bitmap_cvg $(stat bitmap_cvg))"
echo "executions: $(stat execs_done) in $(stat run_time) s ($(stat execs_per_sec)/s), stability $(stat stability), corpus found: $(stat corpus_found), crashes: ${#crashes[@]}, hangs: ${#hangs[@]}"
for crash in "${crashes[@]}"; do
  echo "== crash $crash"
  "${target[@]}" run "$crash" 2>&1 | head -25
done
[ ${#crashes[@]} -eq 0 ] || exit 1
