# Sourced by scripts/run.sh (with $root, $run_dir and the array `pids`): when no real YubiKey is
# plugged in, start a private pcscd with the vpcd virtual reader and one virtual YubiKey
# (tools/piv-sim), and point every PC/SC client started afterwards (the agent) at it through
# PCSCLITE_CSOCK_NAME. A system pcscd, if any, is left alone. State under $run_dir/piv-sim.
#   PKI_PIVSIM_KEYS=n   number of virtual keys (default 1; 0 = never start the simulator)
#   PKI_PIVSIM=force    start the simulator even when a real YubiKey is present

pcsc_real_yubikey() {
  local v
  for v in /sys/bus/usb/devices/*/idVendor; do
    [ -r "$v" ] && [ "$(cat "$v")" = "1050" ] && return 0
  done
  return 1
}

pcsc_start_sim() {
  local n=${PKI_PIVSIM_KEYS:-1}
  local dir="$run_dir/piv-sim"
  local sim="${PKI_PIVSIM_BIN:-$root/build/tools/piv-sim/piv-sim}"
  local driver=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
  if [ "$n" = "0" ]; then
    return 0
  fi
  if pcsc_real_yubikey && [ "${PKI_PIVSIM:-}" != "force" ]; then
    echo "pcsc: a YubiKey is plugged in; using it through the system pcscd (no simulator)"
    return 0
  fi
  if [ ! -x "$sim" ] || [ ! -e "$driver" ] || ! command -v pcscd >/dev/null; then
    echo "pcsc: piv-sim, pcscd or the vpcd driver is missing; no virtual YubiKey" >&2
    return 0
  fi
  mkdir -p "$dir/reader.conf.d" "$dir/drivers"
  chmod 700 "$dir"
  rm -f "$dir"/reader.conf.d/* "$dir"/drivers/*
  # Free TCP port pairs for vpcd (it listens on base+slot, two slots per reader entry).
  local readers=$(( (n + 1) / 2 ))
  local ports
  ports=$(python3 - "$readers" <<'PY'
import socket, sys
out = []
while len(out) < int(sys.argv[1]):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
    try:
        with socket.socket() as a, socket.socket() as b:
            a.bind(("0.0.0.0", p)); b.bind(("0.0.0.0", p + 1))
        if p not in out and p + 1 not in out:
            out.append(p)
    except OSError:
        pass
print(" ".join(map(str, out)))
PY
)
  local j=0 port name lib
  for port in $ports; do
    name="Yubico YubiKey OTP+FIDO+CCID"
    lib=$driver
    if [ $j -gt 0 ]; then
      # each entry needs its own copy of the driver (vpcd keeps its sockets in a static array)
      name=$(printf '%s %02X' "$name" "$j")
      lib="$dir/drivers/libifdvpcd-$j.so"
      cp "$driver" "$lib"
    fi
    printf 'FRIENDLYNAME "%s"\nDEVICENAME   /dev/null:0x%X\nLIBPATH      %s\nCHANNELID    0x%X\n' \
      "$name" "$port" "$lib" "$port" >"$dir/reader.conf.d/vpcd-$j"
    j=$((j + 1))
  done

  # pcscd gets its client socket by socket activation, so it never touches /run/pcscd/pcscd.comm.
  export PCSCLITE_CSOCK_NAME="$dir/pcscd.comm"
  python3 - "$PCSCLITE_CSOCK_NAME" "$dir/reader.conf.d" >>"$run_dir/logs/pcscd.log" 2>&1 <<'PY' &
import os, socket, sys
path, conf = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o600)
s.listen(64)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)  # dup2 onto itself keeps close-on-exec
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execvp("pcscd", ["pcscd", "-f", "-i", "-c", conf])
PY
  pids+=($!)

  local i=0 base
  set -- $ports
  while [ $i -lt "$n" ]; do
    eval "base=\${$(( i / 2 + 1 ))}"
    "$sim" --state "$dir/key$i.state" --vpcd-port $((base + i % 2)) \
      --control "$dir/key$i.ctl" --attestation-ca "$dir/ca" \
      >>"$run_dir/logs/piv-sim-$i.log" 2>&1 &
    pids+=($!)
    i=$((i + 1))
  done
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 50); do [ -S "$dir/key$i.ctl" ] && break; sleep 0.1; done
  done
  echo "pcsc: $n virtual YubiKey(s) on a private pcscd (PCSCLITE_CSOCK_NAME=$PCSCLITE_CSOCK_NAME)"
  echo "pcsc: attestation CA: $dir/ca/attestation-ca.pem; control: $dir/key0.ctl (docs/piv-sim.md)"
}

pcsc_start_sim
