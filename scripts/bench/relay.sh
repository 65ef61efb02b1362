#!/usr/bin/env bash
# pki-relay benchmarks, side by side in one run (scripts/bench.sh relay); docs/relay.md#performance:
#   ocsp_rps_best_mode      OCSP answers/s: the relay (wrk, POST, keep-alive, cached pre-signed
#                           answers) against `openssl ocsp -index -multi <nproc>` as responder on
#                           the same machine (the baseline; wrk with Connection: close, its only mode)
#   ocsp_rps_conn_close     the same with the relay also closing every connection
#   ocsp_cpu_us_keepalive   server CPU µs per answer (user + system), relay vs openssl
#   ocsp_cpu_us_conn_close  the same, relay closing every connection
#   issuance_cps            certificates per second through the REST API (submit CSR + approve)
#                           with an ECDSA P-256 CA, counted in the database (each one persisted)
#   crl_100k_ms             from a revocation through the API until the relay serves the new CRL
#                           with 100,000 entries (crl_100k_first_fetch_ms: a request remaking a
#                           dirty CRL itself)
# Environment: PKI_BUILD_DIR (set by scripts/bench.sh), BENCH_SECONDS (default 10), BENCH_ONLY
# (space-separated subset of: ocsp issuance crl; default all), BENCH_KEEP=1 (keep the work directory).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/_lib.sh.inc"
relay=${PKI_BUILD_DIR:?}/relay/pki-relay
secs=${BENCH_SECONDS:-10}
threads=2
conns=64
work=$(mktemp -d /tmp/bench-relay.XXXXXX)
pids=()
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
cleanup() {
  for p in "${pids[@]}"; do
    kill $(ps -o pid= --ppid "$p") "$p" 2>/dev/null || true # openssl ocsp -multi's children too
  done
  wait 2>/dev/null || true
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"
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
relay_pid=$!
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
call POST "/api/v1/requests/$rid/approve" '{}' >"$work/leaf.json"
jget 'd["certificate"]["pem"]' <"$work/leaf.json" >"$work/leaf.pem"
leaf_id=$(jget 'd["certificate"]["id"]' <"$work/leaf.json")

# ---- OCSP: the relay (cached answers, POST, no nonce) vs openssl ocsp -index ----
# One load client (wrk) for both responders, same request shape (POST, one CertID, no nonce), same
# concurrency, one after the other in this run. Each server is driven in its best mode:
#  - the relay with HTTP/1.1 keep-alive (what OCSP clients and CDNs use);
#  - openssl's responder with `Connection: close` and -multi = nproc worker processes: OpenSSL 3.0's
#    responder answers HTTP/1.0 and closes after every response (apps/ocsp.c passes no keep-alive
#    flag to its HTTP server), and without that header wrk's connections stall against it.
# The relay is also measured with `Connection: close`, so the same-mode ratio is printed too.
if want ocsp; then
openssl ocsp -issuer "$work/ca.pem" -cert "$work/leaf.pem" -no_nonce -reqout "$work/req.der" 2>/dev/null
ocsp_lua() { # REQUEST_FILE [close] -> a wrk script
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/ocsp-request"\n'
  [ "${2:-}" = close ] && printf 'wrk.headers["Connection"] = "close"\n'
  printf 'local f = io.open("%s", "rb"); wrk.body = f:read("*a"); f:close()\n' "$1"
}
ocsp_lua "$work/req.der" >"$work/ocsp.lua"
ocsp_lua "$work/req.der" close >"$work/ocsp-close.lua"
curl -s -o /dev/null --data-binary @"$work/req.der" -H 'Content-Type: application/ocsp-request' \
  "http://127.0.0.1:$pport/pki/ca/$ca/ocsp" # warm the cache
# CPU time (clock ticks, user + system) of a process and its children: the server's work,
# whatever else the machine is doing meanwhile.
cpu_ticks() { # PID
  local t=0 p
  for p in "$1" $(ps -o pid= --ppid "$1"); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)
# Requests/sec of a wrk run, after checking that every answer was a 200 (a responder that fails
# fast must not look fast). Socket read errors are not failures with `Connection: close`: wrk
# counts the server's close as one. Also sets cpu_us (server CPU µs per answer).
wrk_rps() { # NAME SCRIPT URL SERVER_PID
  local c0 c1
  c0=$(cpu_ticks "$4")
  wrk -t$threads -c$conns -d"${secs}s" -s "$2" "$3" >"$work/wrk-$1.txt" 2>&1 || true
  c1=$(cpu_ticks "$4")
  if grep -qE 'Non-2xx|connect [1-9]|write [1-9]|timeout [1-9]' "$work/wrk-$1.txt" ||
     ! grep -q 'Requests/sec' "$work/wrk-$1.txt"; then
    echo "relay bench: wrk $1 had errors; aborted, no number reported:" >&2
    cat "$work/wrk-$1.txt" >&2
    exit 1
  fi
  cpu_us=$(awk -v t=$((c1 - c0)) -v hz="$hz" '/requests in/ { printf "%.1f", t * 1e6 / hz / $1 }' \
    "$work/wrk-$1.txt")
  rps=$(awk '/Requests\/sec/ { printf "%d", $2 }' "$work/wrk-$1.txt")
}
wrk_rps relay-keepalive "$work/ocsp.lua" "http://127.0.0.1:$pport/pki/ca/$ca/ocsp" "$relay_pid"
relay_ka=$rps relay_ka_us=$cpu_us
wrk_rps relay-close "$work/ocsp-close.lua" "http://127.0.0.1:$pport/pki/ca/$ca/ocsp" "$relay_pid"
relay_close=$rps relay_close_us=$cpu_us
# Baseline: openssl's own responder with an equivalent P-256 CA, leaf and index.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/bca.key" \
  -out "$work/bca.pem" -subj /CN=Baseline -days 30 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl x509 -req -in "$work/leaf.csr" -CA "$work/bca.pem" -CAkey "$work/bca.key" \
  -set_serial 0x1234 -days 30 -out "$work/bleaf.pem" 2>/dev/null
printf 'V\t%s\t\t1234\tunknown\t/CN=bench.example.com\n' \
  "$(date -u -d '+30 days' +%y%m%d%H%M%SZ)" >"$work/index.txt"
openssl ocsp -index "$work/index.txt" -port "$bport" -rsigner "$work/bca.pem" \
  -rkey "$work/bca.key" -CA "$work/bca.pem" -nmin 60 -multi "$(nproc)" >"$work/openssl-ocsp.log" 2>&1 &
pids+=($!)
# Not wait_port: openssl's responder spins on a connection closed without a request.
for _ in $(seq 200); do grep -qs 'ACCEPT' "$work/openssl-ocsp.log" && break; sleep 0.05; done
openssl ocsp -issuer "$work/bca.pem" -cert "$work/bleaf.pem" -no_nonce -reqout "$work/breq.der" 2>/dev/null
ocsp_lua "$work/breq.der" close >"$work/bocsp-close.lua"
# Both answer: the same status for the same kind of request (checked, not assumed).
for u in "$work/req.der http://127.0.0.1:$pport/pki/ca/$ca/ocsp $work/ca.pem" \
         "$work/breq.der http://127.0.0.1:$bport/ $work/bca.pem"; do
  set -- $u
  curl -s -H 'Connection: close' -H 'Content-Type: application/ocsp-request' --data-binary @"$1" "$2" \
    -o "$work/resp.der"
  openssl ocsp -respin "$work/resp.der" -reqin "$1" -CAfile "$3" -issuer "$3" -no_nonce 2>&1 |
    grep -q 'Response verify OK' || { echo "OCSP answer from $2 does not verify" >&2; exit 1; }
done
wrk_rps openssl-close "$work/bocsp-close.lua" "http://127.0.0.1:$bport/" "${pids[-1]}"
base_close=$rps base_us=$cpu_us
kill $(ps -o pid= --ppid "${pids[-1]}") "${pids[-1]}" 2>/dev/null || true
bench_line ocsp_rps_best_mode "$relay_ka" req/s "$base_close"
bench_line ocsp_rps_conn_close "$relay_close" req/s "$base_close"
# Server CPU per answer, µs (user + system of the responder's processes over the run; lower is
# better, ratio = relay / openssl): the least noisy figure on a shared machine.
bench_line ocsp_cpu_us_keepalive "$relay_ka_us" us "$base_us"
bench_line ocsp_cpu_us_conn_close "$relay_close_us" us "$base_us"
fi

# ---- issuance through the API: submit CSR, then approve (two calls per certificate) ----
if want issuance; then
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
fi

# ---- CRL with 100,000 revoked entries, remade by the relay after a revocation ----
# 99,999 revoked certificates are put straight into the database (issuing them through the API
# would take minutes), then one more is revoked through the API, as a user does. Measured: from
# the revocation call until the relay serves a new CRL (higher CRL number) with all 100,000
# entries: reading the revoked rows, building, signing and saving it (on a worker), then serving
# it from the cache. Polled every 10 ms; a fetch of the 3.5 MB CRL is part of the figure.
if want crl; then
python3 - "$work/state/relay.db" "$ca" <<'PY'
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
now = int(time.time())
rows = ((int(sys.argv[2]), os.urandom(16).hex(), "CN=revoked", now, now + 86400, b"\x30\x00",
         now, 1, now) for _ in range(99999))
db.executemany("INSERT INTO certificates(ca_id, serial, subject, not_before, not_after, der, "
               "revoked_at, reason, created) VALUES(?,?,?,?,?,?,?,?,?)", rows)
db.execute("UPDATE cas SET crl_dirty=1 WHERE id=?", (int(sys.argv[2]),))
db.commit()
PY
crl_url="http://127.0.0.1:$pport/pki/ca/$ca/crl"
# The first fetch makes the 99,999-entry CRL (timed too: a request that finds the CRL dirty).
crl_first_s=$(curl -s -o "$work/crl0.der" -w '%{time_total}' "$crl_url")
crl_ms=$(python3 - "$crl_url" "$work/crl0.der" "$api/api/v1/certificates/$leaf_id/revoke" \
  "$token" "$work/crl.der" <<'PY'
import json, ssl, sys, time, urllib.request
from cryptography import x509
url, first, revoke, token, out = sys.argv[1:]
number = lambda der: x509.load_der_x509_crl(der).extensions.get_extension_for_class(
    x509.CRLNumber).value.crl_number
n0 = number(open(first, "rb").read())
req = urllib.request.Request(revoke, method="POST", data=json.dumps({"reason": "superseded"}).encode(),
                             headers={"Authorization": "Bearer " + token,
                                      "Content-Type": "application/json"})
t0 = time.monotonic()
urllib.request.urlopen(req, context=ssl._create_unverified_context()).read()
while True:
    der = urllib.request.urlopen(url).read()
    if number(der) > n0:
        break
    if time.monotonic() - t0 > 60:
        sys.exit("no new CRL within 60 s")
    time.sleep(0.01)
t1 = time.monotonic()
open(out, "wb").write(der)
print(int((t1 - t0) * 1000))
PY
)
entries=$(openssl crl -inform DER -in "$work/crl.der" -noout -text | grep -c 'Serial Number:' || true)
[ "$entries" -eq 100000 ] || { echo "CRL has $entries entries, not 100000" >&2; exit 1; }
bench_line crl_100k_ms "$crl_ms" ms
bench_line crl_100k_first_fetch_ms "$(awk -v s="$crl_first_s" 'BEGIN { printf "%d", s * 1000 }')" ms
fi
