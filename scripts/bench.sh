#!/usr/bin/env bash
# Benchmarks: scripts/bench.sh NAME runs scripts/bench/NAME.sh against an optimised build and
# prints lines "BENCH name=… value=… unit=… baseline=… ratio=…". Not part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ ! -f "scripts/bench/$1.sh" ]; then
  echo "usage: scripts/bench.sh NAME, where NAME is one of:" >&2
  for f in scripts/bench/*.sh; do [ -e "$f" ] && basename "$f" .sh >&2; done
  exit 2
fi
name=$1; shift
scripts/install-deps.sh >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
export PKI_BUILD_DIR=$PWD/build-bench PKI_SOURCE_DIR=$PWD
exec bash "scripts/bench/$name.sh" "$@"
