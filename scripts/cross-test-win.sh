#!/usr/bin/env bash
# cross-test-win.sh — the native core cross-built for win-x64 with mingw-w64, its ctest suite run under wine.
# Installs nothing: needs cmake and Debian's gcc-mingw-w64-x86-64, wine64 and wine. Ends with "N passed, N failed"
# and exits non-zero when anything (configure, build or a test) failed.
#   scripts/cross-test-win.sh [build dir]        (default: artifacts/native/win-x64-mingw, as the CMake preset)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/artifacts/native/win-x64-mingw}
jobs=$(nproc 2>/dev/null || echo 2)

fail() { echo "cross-test-win: $1"; echo "0 passed, 1 failed"; exit 1; }

for tool in cmake ctest x86_64-w64-mingw32-gcc wine wineboot; do
  command -v "$tool" >/dev/null || fail "$tool not found (apt-get install cmake gcc-mingw-w64-x86-64 wine64 wine)"
done

# A wine prefix of our own beside the build: the first run creates it (about 20 s), later runs reuse it, and
# nothing is written to $HOME. No Mono or Gecko: the tests are plain console programs.
export WINEPREFIX="$build/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="

cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/mingw-w64-x86_64.cmake" \
      -DCMAKE_BUILD_TYPE=Release -DMISTRAL_CUDA=OFF >/dev/null || fail "configure failed"
# Creating the prefix mostly waits on wine's own processes and the disk, so it runs beside the compile instead of
# after it (the build never writes to the prefix folder).
boot=
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  wineboot -i >/dev/null 2>&1 &
  boot=$!
fi
cmake --build "$build" --parallel "$jobs" >/dev/null || {
  [ -z "$boot" ] || wait "$boot"
  cmake --build "$build" 2>&1 | grep -E 'error|Error' | head -20
  fail "build failed"
}
if [ -n "$boot" ]; then wait "$boot" || fail "wineboot could not create $WINEPREFIX"; fi

log=$(mktemp)
ctest --test-dir "$build" -j"$jobs" --timeout 900 --output-on-failure 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
wineserver -k >/dev/null 2>&1 # this prefix's server only; it would otherwise linger a few seconds

# ctest's summary: "97% tests passed, 2 tests failed out of 60"
read -r failed total < <(sed -nE 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1 \2/p' "$log" | tail -1)
rm -f "$log"
failed=${failed:-0} total=${total:-0}
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi # ctest itself failed: count it
echo "$((total - failed < 0 ? 0 : total - failed)) passed, ${failed} failed"
exit "$status"
