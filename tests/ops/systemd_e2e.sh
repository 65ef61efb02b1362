#!/bin/bash
# Runs as root inside the systemd-nspawn container of tests/ops/test_systemd.py (a real
# systemd is PID 1 there): installs with scripts/setup_ubuntu.sh, looks at the services as an
# administrator would, stalls the agent to see the watchdog act, uninstalls with --purge.
# Writes key=value lines to /ops-e2e/result for the test to assert.
set -u
out=/ops-e2e/result
: >"$out"
put() { printf '%s=%s\n' "$1" "$2" >>"$out"; }
src=$PKI_SOURCE_DIR
build=$PKI_BUILD_DIR

wait_active() {
  for _ in $(seq 150); do
    [ "$(systemctl show -P ActiveState "$1")" = active ] && return 0
    sleep 0.2
  done
  return 1
}

bash "$src/scripts/setup_ubuntu.sh" --prebuilt "$build" --no-deps --password-file /ops-e2e/pw \
  >/ops-e2e/setup.log 2>&1
rc=$?
put setup_rc $rc
if [ $rc -ne 0 ]; then
  cat /ops-e2e/setup.log
  exit 1
fi

for u in iothsm-agent pki-relay; do
  k=${u//-/_}
  wait_active "$u"
  sleep 1 # the first status line follows READY=1
  for p in ActiveState SubState Type StatusText WatchdogUSec User NRestarts; do
    put "$k.$p" "$(systemctl show -P "$p" "$u")"
  done
  pid=$(systemctl show -P MainPID "$u")
  put "$k.uid_name" "$(ps -o user= -p "$pid" | tr -d ' ')"
  put "$k.exposure" "$(systemd-analyze security --no-pager "$u.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
  if journalctl -u "$u" --no-pager -o cat | grep -q "$u ready"; then
    put "$k.journal_ready" 1
  else
    put "$k.journal_ready" 0
  fi
  systemctl status --no-pager "$u" >"/ops-e2e/$u.status.txt" 2>&1
done
if [ -f /run/credentials/iothsm-agent.service/ui.key ]; then
  put iothsm_agent.credential present
else
  put iothsm_agent.credential missing
fi

python3 - >>"$out" <<'PY'
import json, ssl, urllib.error, urllib.request
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def req(url, data=None):
    r = urllib.request.Request(url, data=data,
                               headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(r, context=ctx, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception as e:
        return "error:" + str(e).replace("\n", " ")
print("iothsm_agent.healthz=%s" % req("https://127.0.0.1:8444/healthz"))
print("pki_relay.healthz=%s" % req("https://127.0.0.1:8443/healthz"))
with open("/ops-e2e/pw") as f:
    pw = f.read().strip()
print("login=%s" % req("https://127.0.0.1:8444/api/login", json.dumps({"password": pw}).encode()))
served = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", 8444)))
with open("/etc/iothsm/tls/ui.crt") as f:
    installed = ssl.PEM_cert_to_DER_cert(f.read())
print("iothsm_agent.cert_is_installed=%d" % (served == installed))
PY

# A CA made through the relay's API is logged with its CA= field: journalctl -u pki-relay CA=…
setpriv --reuid=pki-relay --regid=pki-relay --clear-groups \
  pki-relay --config /etc/pki-relay/relay.conf user add --admin opsadmin \
  </ops-e2e/pw >/ops-e2e/user-add.log 2>&1
put relay_user_add_rc $?
python3 - >>"$out" <<'PY'
import http.cookiejar, json, ssl, urllib.error, urllib.request
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
jar = http.cookiejar.CookieJar()
op = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                 urllib.request.HTTPCookieProcessor(jar))
def call(method, path, body, csrf=None):
    h = {"Content-Type": "application/json"}
    if csrf:
        h["X-CSRF-Token"] = csrf
    r = urllib.request.Request("https://127.0.0.1:8443" + path, method=method,
                               data=json.dumps(body).encode(), headers=h)
    try:
        with op.open(r, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}
with open("/ops-e2e/pw") as f:
    pw = f.read().strip()
st, body = call("POST", "/api/v1/session", {"name": "opsadmin", "password": pw})
print("relay_login=%d" % st)
st, ca = call("POST", "/api/v1/cas", {"name": "Ops Root", "subject": "/CN=Ops Root",
                                       "key_type": "ec-p256"}, body.get("csrf_token"))
print("relay_ca_create=%d" % st)
print("relay_ca_id=%s" % ca.get("id", ""))
PY
ca_id=$(sed -n 's/^relay_ca_id=//p' "$out")
if [ -n "$ca_id" ] && journalctl -u pki-relay "CA=$ca_id" --no-pager -o cat | grep -q 'ca.create'; then
  put journal_ca_field 1
else
  put journal_ca_field 0
fi

iothsmctl status >/ops-e2e/iothsmctl.txt 2>&1
put iothsmctl_rc $?
pki-relay status >/ops-e2e/relay-status.txt 2>&1
put relay_status_rc $?

# An upgrade: the installer again, without a password: services restarted, password kept.
pid_before=$(systemctl show -P MainPID iothsm-agent)
bash "$src/scripts/setup_ubuntu.sh" --prebuilt "$build" --no-deps >/ops-e2e/upgrade.log 2>&1
put upgrade_rc $?
wait_active iothsm-agent
wait_active pki-relay
pid_after=$(systemctl show -P MainPID iothsm-agent)
if [ "$pid_before" != "$pid_after" ]; then put upgrade_restarted 1; else put upgrade_restarted 0; fi
sleep 1
python3 - >>"$out" <<'PY'
import json, ssl, urllib.error, urllib.request
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with open("/ops-e2e/pw") as f:
    pw = f.read().strip()
r = urllib.request.Request("https://127.0.0.1:8444/api/login", data=json.dumps({"password": pw}).encode(),
                           headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(r, context=ctx, timeout=10) as resp:
        print("login_after_upgrade=%d" % resp.status)
except urllib.error.HTTPError as e:
    print("login_after_upgrade=%d" % e.code)
except Exception as e:
    print("login_after_upgrade=error")
PY

# Replace the UI certificate as docs/operations.md says, and see the agent serve the new one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=appliance.example" -keyout /ops-e2e/new-ui.key -out /ops-e2e/new-ui.crt 2>/dev/null
install -m 0644 -o root -g root /ops-e2e/new-ui.crt /etc/iothsm/tls/ui.crt
install -m 0600 -o root -g root /ops-e2e/new-ui.key /etc/iothsm/tls/ui.key
systemctl restart iothsm-agent
wait_active iothsm-agent
python3 - >>"$out" <<'PY'
import ssl
served = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", 8444)))
with open("/ops-e2e/new-ui.crt") as f:
    new = ssl.PEM_cert_to_DER_cert(f.read())
print("new_cert_served=%d" % (served == new))
PY

# The watchdog: a short one for the test (the unit's own is 30 s), then the agent's loop stops.
mkdir -p /run/systemd/system/iothsm-agent.service.d
printf '[Service]\nWatchdogSec=3s\nTimeoutAbortSec=2s\n' \
  >/run/systemd/system/iothsm-agent.service.d/ops-test.conf
systemctl daemon-reload
systemctl restart iothsm-agent
wait_active iothsm-agent
pid1=$(systemctl show -P MainPID iothsm-agent)
kill -STOP "$pid1"
restarted=0
for _ in $(seq 150); do
  pid2=$(systemctl show -P MainPID iothsm-agent)
  if [ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] &&
     [ "$(systemctl show -P ActiveState iothsm-agent)" = active ]; then
    restarted=1
    break
  fi
  sleep 0.2
done
put watchdog_restarted "$restarted"
put NRestarts_after "$(systemctl show -P NRestarts iothsm-agent)"
if journalctl -u iothsm-agent --no-pager | grep -qi 'watchdog timeout'; then
  put watchdog_logged 1
else
  put watchdog_logged 0
fi
sleep 1
iothsmctl status >/ops-e2e/iothsmctl-after-restart.txt 2>&1
put status_after_restart_rc $?
rm -rf /run/systemd/system/iothsm-agent.service.d
systemctl daemon-reload

journalctl -o export --no-pager >/ops-e2e/journal.export 2>/dev/null

bash "$src/scripts/setup_ubuntu.sh" --uninstall --purge >/ops-e2e/purge.log 2>&1
put purge_rc $?
put after_purge_enabled "$(systemctl show -P LoadState iothsm-agent)"
if getent passwd iothsm >/dev/null; then put after_purge_user present; else put after_purge_user absent; fi
echo "results:"
cat "$out"
