#!/usr/bin/env bash
# pki-relay benchmarks, side by side in one run (scripts/bench.sh relay):
#   ocsp_rps_wrk_keepalive  OCSP answers per second from the relay (wrk, POST, keep-alive,
#                 cached pre-signed answers)
#   ocsp_rps_ab   the relay against `openssl ocsp -index` as responder on the same machine (the
#                 baseline), both with ApacheBench (a new connection per request)
#   issuance_cps  certificates per second through the REST API (submit CSR + approve) with an
#                 ECDSA P-256 CA, counted in the database (each one persisted)
#   crl_100k_ms   remaking a CRL with 100,000 revoked entries
# Environment: PKI_BUILD_DIR (set by scripts/bench.sh), BENCH_SECONDS (default 10).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/_lib.sh.inc"
relay=${PKI_BUILD_DIR:?}/relay/pki-relay
secs=${BENCH_SECONDS:-10}
threads=2
conns=64
work=$(mktemp -d /tmp/bench-relay.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

port=$(free_port); pport=$(free_port); bport=$(free_port)
mkdir -m 700 "$work/state"
cat >"$work/relay.conf" <<CONF
log_level = "warning";
state_dir = "$work/state";
workers = $(nproc);
http = { listen = "127.0.0.1"; port = $port; };
public_http = { listen = "127.0.0.1"; port = $pport; };
CONF
printf 'bench password 1\n' | "$relay" --config "$work/relay.conf" user add bench >/dev/null
"$relay" --config "$work/relay.conf" >"$work/relay.log" 2>&1 &
pids+=($!)
wait_port "$port"
api=https://127.0.0.1:$port
csrf=$(curl -sk -c "$work/jar" -H 'Content-Type: application/json' \
  -d '{"name":"bench","password":"bench password 1"}' "$api/api/v1/session" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
token=$(curl -sk -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
  -d '{"name":"bench"}' "$api/api/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
call() { # METHOD PATH [JSON]
  curl -skf -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$api$2"
}
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ca=$(call POST /api/v1/cas '{"name":"Bench","key_type":"ec-p256","subject":"/CN=Bench CA"}' | jget 'd["id"]')
tpl=$(call GET "/api/v1/cas/$ca/templates" | jget 'd["templates"][0]["id"]')
call GET "/api/v1/cas/$ca/certificate" >"$work/ca.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/leaf.key" \
  -subj /CN=bench.example.com -addext subjectAltName=DNS:bench.example.com -out "$work/leaf.csr" 2>/dev/null
csr_json=$(python3 -c 'import json,sys; print(json.dumps({"csr": open(sys.argv[1]).read()}))' "$work/leaf.csr")
rid=$(call POST "/api/v1/templates/$tpl/requests" "$csr_json" | jget 'd["id"]')
call POST "/api/v1/requests/$rid/approve" '{}' | jget 'd["certificate"]["pem"]' >"$work/leaf.pem"

# ---- OCSP: the relay (cached answers, POST, no nonce) vs openssl ocsp -index ----
openssl ocsp -issuer "$work/ca.pem" -cert "$work/leaf.pem" -no_nonce -reqout "$work/req.der" 2>/dev/null
cat >"$work/ocsp.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/ocsp-request"
local f = io.open("$work/req.der", "rb"); wrk.body = f:read("*a"); f:close()
LUA
curl -s -o /dev/null --data-binary @"$work/req.der" -H 'Content-Type: application/ocsp-request' \
  "http://127.0.0.1:$pport/pki/ca/$ca/ocsp" # warm the cache
rps() { awk '/Requests\/sec/ { printf "%d", $2 }'; }
relay_rps=$(wrk -t$threads -c$conns -d"${secs}s" -s "$work/ocsp.lua" \
  "http://127.0.0.1:$pport/pki/ca/$ca/ocsp" | tee "$work/wrk-relay.txt" | rps)
# Baseline: openssl's own responder with an equivalent CA, leaf and index. It does not keep
# up with wrk (openssl 3.0's responder stalls on wrk's connections), so the side-by-side pair
# is measured with ApacheBench, one request per connection, same concurrency, for both.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/bca.key" \
  -out "$work/bca.pem" -subj /CN=Baseline -days 30 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl x509 -req -in "$work/leaf.csr" -CA "$work/bca.pem" -CAkey "$work/bca.key" \
  -set_serial 0x1234 -days 30 -out "$work/bleaf.pem" 2>/dev/null
printf 'V\t%s\t\t1234\tunknown\t/CN=bench.example.com\n' \
  "$(date -u -d '+30 days' +%y%m%d%H%M%SZ)" >"$work/index.txt"
openssl ocsp -index "$work/index.txt" -port "$bport" -rsigner "$work/bca.pem" \
  -rkey "$work/bca.key" -CA "$work/bca.pem" -nmin 60 >"$work/openssl-ocsp.log" 2>&1 &
pids+=($!)
# Not wait_port: openssl's responder spins on a connection closed without a request.
for _ in $(seq 200); do grep -q 'waiting for OCSP client' "$work/openssl-ocsp.log" && break; sleep 0.05; done
openssl ocsp -issuer "$work/bca.pem" -cert "$work/bleaf.pem" -no_nonce -reqout "$work/breq.der" 2>/dev/null
ab_rps() { # URL REQUEST_FILE
  ab -q -t "$secs" -n 100000000 -c "$conns" -p "$2" -T application/ocsp-request "$1" 2>&1 |
    awk '/Requests per second/ { printf "%d", $4 }'
}
relay_ab=$(ab_rps "http://127.0.0.1:$pport/pki/ca/$ca/ocsp" "$work/req.der")
base_ab=$(ab_rps "http://127.0.0.1:$bport/" "$work/breq.der")
bench_line ocsp_rps_wrk_keepalive "$relay_rps" req/s
bench_line ocsp_rps_ab "$relay_ab" req/s "$base_ab"

# ---- issuance through the API: submit CSR, then approve (two calls per certificate) ----
leaf_count() {
  python3 - "$work/state/relay.db" "$ca" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(db.execute("SELECT count(*) FROM certificates WHERE ca_id=? AND kind='leaf'", (sys.argv[2],)).fetchone()[0])
PY
}
before=$(leaf_count)
cat >"$work/issue.lua" <<LUA
local csr = [[$csr_json]]
local queue, issued = {}, 0
function request()
  local id = table.remove(queue)
  local h = { ["Authorization"] = "Bearer $token", ["Content-Type"] = "application/json" }
  if id then return wrk.format("POST", "/api/v1/requests/" .. id .. "/approve", h, "{}") end
  return wrk.format("POST", "/api/v1/templates/$tpl/requests", h, csr)
end
function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id":(%d+)'); if id then table.insert(queue, id) end
  elseif status == 200 then issued = issued + 1 end
end
LUA
t0=$(date +%s.%N)
wrk -t$threads -c$conns -d"${secs}s" -s "$work/issue.lua" "$api" >"$work/wrk-issue.txt"
t1=$(date +%s.%N)
persisted=$(leaf_count)
cps=$(awk -v n="$persisted" -v b="$before" -v a="$t0" -v z="$t1" 'BEGIN { printf "%d", (n - b) / (z - a) }')
bench_line issuance_cps "$cps" certs/s

# ---- CRL with 100,000 revoked entries ----
python3 - "$work/state/relay.db" "$ca" <<'PY'
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
now = int(time.time())
rows = ((int(sys.argv[2]), os.urandom(16).hex(), "CN=revoked", now, now + 86400, b"\x30\x00",
         now, 1, now) for _ in range(100000))
db.executemany("INSERT INTO certificates(ca_id, serial, subject, not_before, not_after, der, "
               "revoked_at, reason, created) VALUES(?,?,?,?,?,?,?,?,?)", rows)
db.execute("UPDATE cas SET crl_dirty=1 WHERE id=?", (int(sys.argv[2]),))
db.commit()
PY
crl_s=$(curl -s -o "$work/crl.der" -w '%{time_total}' "http://127.0.0.1:$pport/pki/ca/$ca/crl")
entries=$(openssl crl -inform DER -in "$work/crl.der" -noout -text | grep -c 'Serial Number:' || true)
[ "$entries" -ge 100000 ] || { echo "CRL has $entries entries" >&2; exit 1; }
bench_line crl_100k_ms "$(awk -v s="$crl_s" 'BEGIN { printf "%d", s * 1000 }')" ms
