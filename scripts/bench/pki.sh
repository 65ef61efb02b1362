#!/usr/bin/env bash
# PKI core (issue 4), run by `scripts/bench.sh pki`:
#  - ECDSA P-256 and RSA-2048 certificate build+sign per second through lib/x509, with the raw
#    wolfCrypt sign rate on the same key measured in the same run as baseline (goal: ratio >= 0.8,
#    i.e. DER building costs little next to signing);
#  - time and peak RSS to build and sign a CRL with 1,000,000 revoked entries, with the goals
#    (2 s, 256 MiB) as baselines (ratio <= 1 meets the goal).
# PKI_BENCH_SECONDS (default 6) sets the time spent per key type; PKI_BENCH_CRL_ENTRIES (default
# 1000000) the CRL size (tests/pki-build's smoke test runs it small; the line keeps its name).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/_lib.sh.inc"
bin=${PKI_BUILD_DIR:?}/tests/pki-build/pki_bench
seconds=${PKI_BENCH_SECONDS:-6}

for k in p256 rsa2048; do
  out=$("$bin" sign "$k" "$seconds")
  cert=$(sed -nE 's/.*cert_per_s=([0-9.]+).*/\1/p' <<<"$out")
  raw=$(sed -nE 's/.*raw_per_s=([0-9.]+).*/\1/p' <<<"$out")
  bench_line "pki_cert_build_sign_${k}_vs_raw_sign" "$cert" certs/s "$raw"
done

out=$("$bin" crl "${PKI_BENCH_CRL_ENTRIES:-1000000}")
secs=$(sed -nE 's/.*seconds=([0-9.]+).*/\1/p' <<<"$out")
rss_kib=$(sed -nE 's/.*peak_rss_kib=([0-9]+).*/\1/p' <<<"$out")
rss_mib=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
bench_line pki_crl_1m_entries_build_sign_time "$secs" s 2
bench_line pki_crl_1m_entries_peak_rss "$rss_mib" MiB 256
