#!/usr/bin/env bash
# The README's test command: everything, on a fresh Debian 12 / Ubuntu LTS machine.
#   1. install dependencies        (scripts/install-deps.sh)
#   2. lint                        (scripts/lint.sh)
#   3. build with gcc, -Werror, hardened; run the whole ctest suite
#   4. build with clang, ASan + UBSan + libFuzzer; run the whole suite again plus the fuzzers
# Exits non-zero on any failure. The last thing printed is ctest's summary of the sanitizer run.
#
# Options: --quick skips the sanitizer pass (for a fast local loop; CI never uses it).
#          -L LABEL / -R REGEX are passed to ctest to run a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    -L|-R|-E|-LE) ctest_args+=("$1" "$2"); shift ;;
    *) echo "usage: scripts/test.sh [--quick] [-L label] [-R regex]" >&2; exit 2 ;;
  esac
  shift
done

scripts/install-deps.sh
scripts/lint.sh

jobs=$(nproc)
# Services the tests share (pcscd with vpcd, …) are started by the tests themselves.
export PKI_TEST_ARTIFACTS=${PKI_TEST_ARTIFACTS:-$root/build/artifacts}
mkdir -p "$PKI_TEST_ARTIFACTS"

echo "== build (gcc, hardened, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPKI_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== ctest (gcc)"
status=0
(cd build && ctest --output-on-failure -j"$jobs" -LE fuzz "${ctest_args[@]}") || status=1

if [ $quick -eq 0 ]; then
  echo "== build (clang, ASan + UBSan, fuzzers)"
  CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPKI_WERROR=ON \
    -DPKI_FUZZ_SECONDS="${PKI_FUZZ_SECONDS:-60}" \
    -DPKI_SANITIZE=ON -DPKI_FUZZ=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== ctest (ASan + UBSan, with fuzzers)"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  (cd build-asan && ctest --output-on-failure -j"$jobs" "${ctest_args[@]}") || status=1
fi
exit $status
