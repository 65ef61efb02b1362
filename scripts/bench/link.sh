#!/usr/bin/env bash
# Appliance-link benchmark (scripts/bench.sh link): one signature relay -> agent -> piv-sim
# (median and p99) against the same signature made directly on piv-sim with libykpiv in the
# same run, and signatures per second with one and with two simulated YubiKeys.
# Environment: PKI_BUILD_DIR, PKI_SOURCE_DIR (set by scripts/bench.sh), BENCH_RUNS (300),
# BENCH_SECONDS (10), BENCH_CLIENTS (4). Needs pcscd/vpcd (the piv-sim harness starts them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PKI_SOURCE_DIR=${PKI_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
exec /usr/bin/python3 -u "$here/link_bench.py"
