#!/usr/bin/env bash
# ACME benchmarks (scripts/bench.sh acme), side by side in one run:
#   acme_lego_order_ms  one full order with lego (new order -> authorization -> finalize ->
#                       download; account already registered), median of BENCH_RUNS runs,
#                       against Debian's pebble with the same lego flags (baseline). Both
#                       skip validation: pre-approved names on the relay,
#                       PEBBLE_VA_ALWAYS_VALID=1 on pebble.
#   acme_orders_per_s   certificates per second from a parallel load client
#                       (scripts/bench/acme_load.py, BENCH_PROCS processes with keep-alive
#                       connections) with an ECDSA P-256 CA; baseline = the goal, 100/s.
# Environment: PKI_BUILD_DIR (set by scripts/bench.sh), BENCH_SECONDS (10), BENCH_RUNS (5),
# BENCH_PROCS (4).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/_lib.sh.inc"
relay=${PKI_BUILD_DIR:?}/relay/pki-relay
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-5}
procs=${BENCH_PROCS:-4}
work=$(mktemp -d /tmp/bench-acme.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 400); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" \
  -out "$work/tls.crt" -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
hport=$(free_port)

# ---- pki-relay ----
port=$(free_port)
mkdir -m 700 "$work/state"
cat >"$work/relay.conf" <<CONF
log_level = "warning";
state_dir = "$work/state";
workers = $(nproc);
http = { listen = "127.0.0.1"; port = $port; tls_cert = "$work/tls.crt"; tls_key = "$work/tls.key";
         public_url = "https://127.0.0.1:$port"; };
CONF
printf 'bench password 1\n' | "$relay" --config "$work/relay.conf" user add --admin bench >/dev/null
"$relay" --config "$work/relay.conf" >"$work/relay.log" 2>&1 &
pids+=($!)
wait_port "$port"
api=https://127.0.0.1:$port
csrf=$(curl -sk -c "$work/jar" -H 'Content-Type: application/json' \
  -d '{"name":"bench","password":"bench password 1"}' "$api/api/v1/session" | jget 'd["csrf_token"]')
call() {
  curl -skf -X "$1" -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$api$2"
}
ca=$(call POST /api/v1/cas '{"name":"Bench","key_type":"ec-p256","subject":"/CN=Bench CA"}' | jget 'd["id"]')
tpl=$(call GET "/api/v1/cas/$ca/templates" | jget 'd["templates"][0]["id"]')
pol=$(call POST /api/v1/acme/policies \
  "{\"name\":\"bench\",\"template_id\":$tpl,\"preapproved_domains\":[\"*.bench.test\"]}" | jget 'd["id"]')
eab=$(call POST /api/v1/acme/eab "{\"name\":\"lego\",\"policy_id\":$pol,\"max_uses\":1}")
kid=$(echo "$eab" | jget 'd["key_id"]'); hmac=$(echo "$eab" | jget 'd["hmac_key"]')
load_eab=$(call POST /api/v1/acme/eab "{\"name\":\"load\",\"policy_id\":$pol,\"max_uses\":$procs}")

# ---- pebble (same TLS certificate, EAB required, no validation, no sleeps) ----
pport=$(free_port); mport=$(free_port)
peb_hmac=$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode())')
cat >"$work/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$pport", "managementListenAddress": "127.0.0.1:$mport",
 "certificate": "$work/tls.crt", "privateKey": "$work/tls.key", "httpPort": $hport,
 "tlsPort": $(free_port), "ocspResponderURL": "", "externalAccountBindingRequired": true,
 "externalAccountMACKeys": {"bench": "$peb_hmac"}}}
JSON
PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
  pebble -config "$work/pebble.json" >"$work/pebble.log" 2>&1 &
pids+=($!)
wait_port "$pport"

# lego_order SERVER KID HMAC PATH DOMAIN: prints the wall time of one `lego run` in ms; a run
# lego fails is not a time: its output goes to stderr and the function fails (callers check it:
# set -e does not reach into command substitutions).
lego_order() {
  local t0 t1
  t0=$(now_ms)
  if ! LEGO_CA_CERTIFICATES=$work/tls.crt lego --server "$1" --eab --kid "$2" --hmac "$3" \
    --path "$4" --accept-tos --email bench@bench.test --domains "$5" \
    --http --http.port "127.0.0.1:$hport" run >"$work/lego.last" 2>&1; then
    {
      echo "acme bench: lego failed to order $5 from $1; its output:"
      tail -n 20 "$work/lego.last"
    } >&2
    return 1
  fi
  t1=$(now_ms)
  echo $((t1 - t0))
}
time_lego() { # SERVER KID HMAC NAME: the median of $runs orders, or fails on the first failed one
  local ms all=()
  lego_order "$1" "$2" "$3" "$work/lego-$4" "warmup.$4.bench.test" >/dev/null || return 1 # registers
  for i in $(seq "$runs"); do
    ms=$(lego_order "$1" "$2" "$3" "$work/lego-$4" "o$i.$4.bench.test") || return 1
    all+=("$ms")
  done
  printf '%s\n' "${all[@]}" | median
}
abort() { echo "acme bench: $*; aborted, no number reported" >&2; exit 1; }
relay_ms=$(time_lego "$api/acme/directory" "$kid" "$hmac" relay) || abort "an order from pki-relay failed"
pebble_ms=$(time_lego "https://127.0.0.1:$pport/dir" bench "$peb_hmac" pebble) || abort "an order from pebble failed"
bench_line acme_lego_order_ms "$relay_ms" ms "$pebble_ms"

relay_pid=${pids[0]}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu0=$(cpu_ticks "$relay_pid"); t0=$(now_ms)
rate=$(/usr/bin/python3 "$here/acme_load.py" "$api/acme/directory" "$(echo "$load_eab" | jget 'd["key_id"]')" \
  "$(echo "$load_eab" | jget 'd["hmac_key"]')" "$secs" "$procs" load.bench.test)
cpu1=$(cpu_ticks "$relay_pid"); t1=$(now_ms)
# How busy the relay was during the load (100 = one core), to tell relay from client limits.
echo "# relay CPU during the load: $(( (cpu1 - cpu0) * 1000 / $(getconf CLK_TCK) * 100 / (t1 - t0) ))% of one core (wall time includes registration)"
bench_line acme_orders_per_s "$rate" orders/s 100
