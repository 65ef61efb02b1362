#!/usr/bin/env bash
# The README's run command: builds and starts the whole platform locally, prints where to go,
# and stops everything cleanly on Ctrl-C. All state lives under one directory (default ./.run,
# or PKI_RUN_DIR), so a second start finds the CAs and keys of the first.
#
# What starts, as each part exists in the tree:
#   pki-relay        the platform (console, REST API, CRL/OCSP, ACME)
#   pcscd + vpcd     the PC/SC daemon with the virtual reader driver
#   piv-sim          the virtual YubiKey, when no real YubiKey is plugged in
#   iothsm-agent     the appliance, with its local provisioning UI
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
run_dir=${PKI_RUN_DIR:-$root/.run}
relay_port=${PKI_RELAY_PORT:-8443}
agent_port=${PKI_AGENT_PORT:-8444}

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

mkdir -p "$run_dir"/{relay,agent,logs}
chmod 700 "$run_dir" "$run_dir"/relay "$run_dir"/agent

pids=()
stopping=0
cleanup() {
  trap - INT TERM EXIT
  stopping=1
  echo
  echo "stopping…"
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped; state kept in $run_dir"
}
trap cleanup INT TERM EXIT

# Hooks for parts that bring their own start-up (pcscd/vpcd/piv-sim, first-user creation, …):
# every scripts/run.d/*.sh is sourced here in order, with $run_dir, $root and pids available.
if [ -d scripts/run.d ]; then
  for part in scripts/run.d/*.sh; do
    [ -e "$part" ] && source "$part"
  done
fi

if [ ! -f "$run_dir/relay/relay.conf" ]; then
  cat >"$run_dir/relay/relay.conf" <<CONF
log_level = "info";
state_dir = "$run_dir/relay";
http = { listen = "127.0.0.1"; port = $relay_port; };
CONF
fi
if [ ! -f "$run_dir/agent/agent.conf" ]; then
  cat >"$run_dir/agent/agent.conf" <<CONF
log_level = "info";
state_dir = "$run_dir/agent";
http = { listen = "127.0.0.1"; port = $agent_port; };
CONF
fi
# The relay's HTTPS certificate is self-signed here: the appliance trusts it for the link
# (docs/link.md, link.tls_ca); the link's own signatures still authenticate the relay.
if ! grep -q '^link' "$run_dir/agent/agent.conf"; then
  printf 'link = { tls_ca = "%s"; };\n' "$run_dir/relay/tls/relay.crt" >>"$run_dir/agent/agent.conf"
fi

# First start: an administrator for each UI with a random password, kept (0600) in
# first-login.txt and shown below. Passwords go through stdin, never the command line.
first_login="$run_dir/first-login.txt"
if [ ! -f "$first_login" ]; then
  new_password() { openssl rand -base64 24 | tr -d '/+=\n' | cut -c1-20; }
  relay_pw=$(new_password)
  agent_pw=$(new_password)
  printf '%s\n' "$relay_pw" | build/relay/pki-relay --config "$run_dir/relay/relay.conf" \
    user add --admin admin >>"$run_dir/logs/relay.log" 2>&1
  printf '%s\n' "$agent_pw" | build/agent/iothsm-agent --config "$run_dir/agent/agent.conf" \
    set-password >>"$run_dir/logs/agent.log" 2>&1
  (umask 077 && cat >"$first_login" <<MSG
  first login (kept in $first_login):
    pki-relay     user admin, password $relay_pw
    iothsm-agent  password $agent_pw
MSG
  )
  unset relay_pw agent_pw
fi

build/relay/pki-relay --config "$run_dir/relay/relay.conf" >>"$run_dir/logs/relay.log" 2>&1 &
pids+=($!)
# The agent reads the relay's certificate (made on the relay's first start) when it starts.
for _ in $(seq 1 100); do
  [ -s "$run_dir/relay/tls/relay.crt" ] && break
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 0.1
done
build/agent/iothsm-agent --config "$run_dir/agent/agent.conf" >>"$run_dir/logs/agent.log" 2>&1 &
pids+=($!)

sleep 1
for pid in "${pids[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "a component failed to start; see $run_dir/logs/" >&2
    tail -n 20 "$run_dir"/logs/*.log >&2
    exit 1
  fi
done

relay_url=$(sed -n 's/.*listening on \(https\?:\/\/[^ ]*\).*/\1/p' "$run_dir/logs/relay.log" | tail -1)
agent_url=$(sed -n 's/.*listening on \(https\?:\/\/[^ ]*\).*/\1/p' "$run_dir/logs/agent.log" | tail -1)
cat <<MSG

  pki-relay     ${relay_url:-http://127.0.0.1:$relay_port}/
  iothsm-agent  ${agent_url:-http://127.0.0.1:$agent_port}/
MSG
if [ -f "$run_dir/first-login.txt" ]; then cat "$run_dir/first-login.txt"; fi
cat <<MSG

  logs:  $run_dir/logs/    state: $run_dir/
  Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
if [ $stopping -eq 0 ]; then
  echo "a component exited; see $run_dir/logs/" >&2
  exit 1
fi
