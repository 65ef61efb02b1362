#!/usr/bin/env bash
# Installs pkiaas on Ubuntu 22.04 / 24.04 LTS or Debian 12, as root: the packages, both programs
# (pki-relay and iothsm-agent, plus iothsmctl), the system users iothsm and pki-relay, the
# polkit grant for pcscd, /etc/iothsm and /var/lib/iothsm (0700), the local UI's TLS
# certificate, the master keys, the admin password, and the systemd services, started.
#
# Running it again upgrades the programs and keeps configuration, keys, state and password.
# `--uninstall` removes the programs; `--uninstall --purge` also removes configuration, state,
# keys and the system users. See docs/operations.md.
#
# The admin password is never taken from the command line: it is asked twice on the terminal,
# or read from --password-file FILE (FILE "-" is standard input), and handed to
# `iothsm-agent set-password` on its standard input.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: setup_ubuntu.sh [OPTIONS]
       setup_ubuntu.sh --uninstall [--purge] [--root DIR] [--no-systemctl]

  --password-file FILE  read the admin password from the first line of FILE ("-": stdin)
  --reset-password      set the admin password even when one is already set
  --ui-listen ADDR      address of the appliance's HTTPS UI (default 0.0.0.0)
  --ui-port PORT        its port (default 8444)
  --relay-port PORT     pki-relay's HTTPS port (default 8443)
  --prebuilt DIR        install from this CMake build directory instead of building
  --no-deps             do not install Debian packages (scripts/install-deps.sh)
  --no-systemctl        do not enable, start or stop services
  --root DIR            act on the file tree under DIR instead of / (implies --no-deps
                        and --no-systemctl); for tests and image builds
  --uninstall           remove the programs, units and polkit rule; keep config and state
  --purge               with --uninstall: also remove config, keys, state and the users
  -h, --help            this help
USAGE
}

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

src=$(cd "$(dirname "$0")/.." && pwd)
root=/
password_file=""
reset_password=0
ui_listen=0.0.0.0
ui_port=8444
relay_port=8443
prebuilt=""
no_deps=0
no_systemctl=0
uninstall=0
purge=0

while [ $# -gt 0 ]; do
  case "$1" in
    --password-file) [ $# -ge 2 ] || die "--password-file needs a file"; password_file=$2; shift ;;
    --reset-password) reset_password=1 ;;
    --ui-listen) [ $# -ge 2 ] || die "--ui-listen needs an address"; ui_listen=$2; shift ;;
    --ui-port) [ $# -ge 2 ] || die "--ui-port needs a port"; ui_port=$2; shift ;;
    --relay-port) [ $# -ge 2 ] || die "--relay-port needs a port"; relay_port=$2; shift ;;
    --prebuilt) [ $# -ge 2 ] || die "--prebuilt needs a build directory"; prebuilt=$2; shift ;;
    --no-deps) no_deps=1 ;;
    --no-systemctl) no_systemctl=1 ;;
    --root) [ $# -ge 2 ] || die "--root needs a directory"; root=$2; shift ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h|--help) usage; exit 0 ;;
    --password|--password=*) die "a password is never taken from the command line (it would show in ps); use --password-file FILE or answer the prompt" ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"
[ $purge -eq 0 ] || [ $uninstall -eq 1 ] || die "--purge goes with --uninstall"
for p in "$ui_port" "$relay_port"; do
  [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad port: $p"
done
[[ "$ui_listen" =~ ^[0-9A-Fa-f.:]+$ ]] || die "--ui-listen takes an IP address, not '$ui_listen'"

if [ "$root" != / ]; then
  [ -d "$root" ] || die "--root $root: no such directory"
  root=$(cd "$root" && pwd)
  no_deps=1
  no_systemctl=1
fi
R=${root%/} # prefix for every path below ("" for the real root)

# Everything this script installs (and every directory it created) is listed here, so
# --uninstall removes exactly that.
manifest_dir=$R/usr/lib/pkiaas
manifest=$manifest_dir/installed-files

AGENT_UNIT=iothsm-agent.service
RELAY_UNIT=pki-relay.service

# ---- helpers ----

uid_of() { awk -F: -v u="$1" '$1 == u { print $3 }' "$R/etc/passwd"; }
gid_of() { awk -F: -v g="$1" '$1 == g { print $3 }' "$R/etc/group"; }

systemd_running() { [ $no_systemctl -eq 0 ] && [ -d /run/systemd/system ]; }

# record KIND PATH (PATH as it is on the machine): kept in a pending list that is merged into
# the manifest on exit, even a failed one, so a half-done install can still be removed.
pending=$(mktemp)
trap flush_manifest EXIT
record() { printf '%s %s\n' "$1" "$2" >>"$pending"; }
flush_manifest() {
  [ -s "$pending" ] || { rm -f "$pending"; return 0; }
  ensure_dir /usr/lib/pkiaas
  [ -f "$manifest" ] || : >"$manifest"
  local line
  while IFS= read -r line; do
    grep -qxF "$line" "$manifest" || printf '%s\n' "$line" >>"$manifest"
  done <"$pending"
  rm -f "$pending"
}

# make_dir PATH MODE OWNER GROUP: creates a directory of ours, or sets its mode and owner.
make_dir() {
  mkdir -p "$R$1"
  chmod "$2" "$R$1"
  chown "$3:$4" "$R$1"
}

# ensure_dir PATH: a system directory for program files; created (root, 0755, and recorded,
# with every parent it needed, so uninstall leaves no empty folder) only when missing. An
# existing one is left exactly as it is (e.g. polkit's 0700 rules.d).
ensure_dir() {
  local d=$1
  if [ -n "$d" ] && [ "$d" != / ] && [ ! -d "$R$d" ]; then
    ensure_dir "$(dirname "$d")"
    mkdir -m 0755 "$R$d"
    chown 0:0 "$R$d"
    record d "$d"
  fi
}

# put_file SRC DEST MODE: installs a program file (recorded), untouched when unchanged.
put_file() {
  ensure_dir "$(dirname "$2")"
  install -C -m "$3" -o 0 -g 0 "$1" "$R$2"
  record f "$2"
}

# ---- uninstall ----

remove_user() { # in a throwaway root, edit the files; on the machine, userdel
  local u=$1
  if [ -z "$R" ]; then
    if id "$u" >/dev/null 2>&1; then userdel "$u" || say "warning: could not remove user $u"; fi
    if getent group "$u" >/dev/null 2>&1; then groupdel "$u" 2>/dev/null || true; fi
    return
  fi
  local f
  for f in passwd group shadow gshadow; do
    [ -f "$R/etc/$f" ] || continue
    if grep -q "^$u:" "$R/etc/$f"; then
      # Rewrite in place (cat >) so the file keeps its owner and mode.
      local tmp
      tmp=$(mktemp)
      grep -v "^$u:" "$R/etc/$f" >"$tmp" || true
      cat "$tmp" >"$R/etc/$f"
      rm -f "$tmp"
    fi
  done
}

# Folders the install created that still hold kept state after --uninstall (e.g. /var/lib on a
# bare root) are remembered here, so --purge can remove them too.
leftover=/etc/iothsm/.setup-dirs

remove_dirs() { # remove_dirs LIST: rmdir each "d PATH" line, deepest first; print the rest
  sort -r -k2 "$1" | while read -r kind path; do
    [ "$kind" = d ] || continue
    rmdir "$R$path" 2>/dev/null || printf 'd %s\n' "$path"
  done
}

do_uninstall() {
  if systemd_running; then
    systemctl disable --now "$AGENT_UNIT" "$RELAY_UNIT" 2>/dev/null || true
  fi
  local list
  list=$(mktemp)
  if [ -f "$manifest" ]; then
    cp "$manifest" "$list"
    rm -f "$manifest"
    while read -r kind path; do
      if [ "$kind" = f ]; then rm -f "$R$path"; fi
    done <"$list"
    local left
    left=$(mktemp)
    remove_dirs "$list" >"$left"
    if [ -s "$left" ] && [ -d "$R/etc/iothsm" ]; then
      cat "$left" >>"$R$leftover"
      chmod 0600 "$R$leftover"
    fi
    rm -f "$left"
    say "programs, units and the polkit rule removed"
  else
    say "no installation found under $root (no programs to remove)"
  fi
  rm -f "$list"
  if systemd_running; then systemctl daemon-reload; fi
  if [ $purge -eq 1 ]; then
    local dirs
    dirs=$(mktemp)
    if [ -f "$R$leftover" ]; then cp "$R$leftover" "$dirs"; fi
    rm -rf "$R/etc/iothsm" "$R/etc/pki-relay" "$R/var/lib/iothsm" "$R/var/lib/pki-relay"
    remove_dirs "$dirs" >/dev/null
    rm -f "$dirs"
    remove_user iothsm
    remove_user pki-relay
    say "purged: configuration, keys, state and the users iothsm and pki-relay"
  else
    say "kept: /etc/iothsm, /etc/pki-relay, /var/lib/iothsm, /var/lib/pki-relay (--purge removes them)"
  fi
}

if [ $uninstall -eq 1 ]; then
  rm -f "$pending"
  do_uninstall
  exit 0
fi

# ---- install ----

if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  case "${ID:-}:${VERSION_ID:-}" in
    ubuntu:22.04|ubuntu:24.04|debian:12) ;;
    *) say "warning: ${PRETTY_NAME:-this system} is not Ubuntu 22.04/24.04 or Debian 12; going on" ;;
  esac
fi

agent_conf=/etc/iothsm/agent.conf
password_marker=/etc/iothsm/.admin-password-set

# Decide about the password before the (long) build, so the operator is not asked later.
need_password=0
if [ ! -f "$R$password_marker" ] || [ $reset_password -eq 1 ]; then need_password=1; fi
password=""
if [ $need_password -eq 1 ] && [ -z "$password_file" ]; then
  [ -t 0 ] || die "no terminal to ask the admin password on: use --password-file FILE (or - for stdin)"
  read -r -s -p "Admin password for the appliance UI: " password; echo
  read -r -s -p "Again: " again; echo
  [ "$password" = "$again" ] || die "the passwords differ"
  unset again
  [ ${#password} -ge 8 ] || die "the password needs at least 8 characters"
elif [ $need_password -eq 1 ] && [ "$password_file" != - ]; then
  [ -r "$password_file" ] || die "cannot read the password file $password_file"
elif [ $need_password -eq 0 ] && [ -n "$password_file" ]; then
  say "an admin password is already set: keeping it (--reset-password replaces it)"
fi

if [ $no_deps -eq 0 ]; then
  say "installing packages"
  "$src/scripts/install-deps.sh"
fi

if [ -n "$prebuilt" ]; then
  build=$(cd "$prebuilt" && pwd)
  [ -f "$build/CMakeCache.txt" ] || die "--prebuilt $prebuilt is not a CMake build directory"
else
  build=$src/build-release
  say "building (Release) in $build"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target iothsm-agent pki-relay iothsmctl >/dev/null
fi

say "creating the system users"
put_file "$src/systemd/pkiaas.sysusers" /usr/lib/sysusers.d/pkiaas.conf 0644
if [ -z "$R" ]; then
  systemd-sysusers /usr/lib/sysusers.d/pkiaas.conf
else
  systemd-sysusers --root="$R" "$R/usr/lib/sysusers.d/pkiaas.conf"
fi
agent_uid=$(uid_of iothsm); agent_gid=$(gid_of iothsm)
relay_uid=$(uid_of pki-relay); relay_gid=$(gid_of pki-relay)
[ -n "$agent_uid" ] && [ -n "$relay_uid" ] || die "the system users were not created"

say "installing the programs"
# Exactly the product: the three programs and the two web UIs (not the test tools a build
# also makes, such as the virtual YubiKey).
for prog in agent/iothsm-agent relay/pki-relay tools/iothsmctl/iothsmctl; do
  [ -x "$build/$prog" ] || die "$build/$prog is not built"
  put_file "$build/$prog" "/usr/sbin/$(basename "$prog")" 0755
done
install_tree() { # install_tree SRC_DIR DEST_DIR
  [ -d "$1" ] || return 0
  (cd "$1" && find . -type f) | sort | while read -r f; do
    put_file "$1/$f" "$2/${f#./}" 0644
  done
}
install_tree "$src/webui/agent" /usr/share/iothsm/webui
install_tree "$src/webui/console" /usr/share/pki-relay/console
put_file "$src/systemd/$AGENT_UNIT" "/usr/lib/systemd/system/$AGENT_UNIT" 0644
put_file "$src/systemd/$RELAY_UNIT" "/usr/lib/systemd/system/$RELAY_UNIT" 0644
put_file "$src/systemd/60-iothsm-pcscd.rules" /usr/share/polkit-1/rules.d/60-iothsm-pcscd.rules 0644
if [ -d "$R/var/lib/polkit-1/localauthority" ]; then # polkit 0.105 (Ubuntu 22.04)
  put_file "$src/systemd/60-iothsm-pcscd.pkla" \
    /var/lib/polkit-1/localauthority/10-vendor.d/60-iothsm-pcscd.pkla 0644
fi
put_file "$src/docs/operations.md" /usr/share/doc/pkiaas/operations.md 0644

say "laying out /etc and /var/lib"
# Config readable by the service (group), keys only by root: systemd hands them to the service
# through LoadCredential=.
ensure_dir /var/lib
make_dir /etc/iothsm 0750 0 "$agent_gid"
make_dir /etc/iothsm/tls 0755 0 0
make_dir /etc/iothsm/credentials 0700 0 0
make_dir /var/lib/iothsm 0700 "$agent_uid" "$agent_gid"
make_dir /etc/pki-relay 0750 0 "$relay_gid"
make_dir /etc/pki-relay/credentials 0700 0 0
make_dir /var/lib/pki-relay 0700 "$relay_uid" "$relay_gid"

umask 077
for key in /etc/iothsm/credentials/master.key /etc/pki-relay/credentials/master.key; do
  if [ ! -s "$R$key" ]; then
    head -c 32 /dev/urandom >"$R$key"
    say "made a new master key $key"
  fi
  chmod 0600 "$R$key"; chown 0:0 "$R$key"
done

crt=/etc/iothsm/tls/ui.crt
key=/etc/iothsm/tls/ui.key
if [ ! -s "$R$crt" ] || [ ! -s "$R$key" ]; then
  host=$(hostname -f 2>/dev/null || hostname)
  san="DNS:$host,DNS:localhost,IP:127.0.0.1"
  for ip in $(hostname -I 2>/dev/null || true); do san="$san,IP:$ip"; done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -sha256 \
    -subj "/CN=$host/O=iothsm-agent" -addext "subjectAltName=$san" \
    -addext "extendedKeyUsage=serverAuth" -keyout "$R$key" -out "$R$crt" 2>/dev/null \
    || die "openssl could not make the UI certificate"
  say "made the UI's TLS certificate for $host ($crt)"
fi
chmod 0600 "$R$key"; chown 0:0 "$R$key"
chmod 0644 "$R$crt"; chown 0:0 "$R$crt"

if [ ! -f "$R$agent_conf" ]; then
  cat >"$R$agent_conf" <<CONF
# iothsm-agent configuration, written by setup_ubuntu.sh (kept on upgrade).
# Every key: iothsm-agent --help-config. Secrets are not here: systemd hands the service its
# TLS key and master key as credentials (LoadCredential= in iothsm-agent.service).
log_level = "info";
state_dir = "/var/lib/iothsm";
http = {
  listen = "$ui_listen";
  port = $ui_port;
  tls_cert = "$crt";
  tls_key = "/run/credentials/$AGENT_UNIT/ui.key";
};
CONF
fi
chmod 0640 "$R$agent_conf"; chown 0:"$agent_gid" "$R$agent_conf"

relay_conf=/etc/pki-relay/relay.conf
if [ ! -f "$R$relay_conf" ]; then
  cat >"$R$relay_conf" <<CONF
# pki-relay configuration, written by setup_ubuntu.sh (kept on upgrade).
# Every key: pki-relay --help-config. The master key that seals CA keys comes from systemd
# (LoadCredential= in pki-relay.service), not from this file.
log_level = "info";
state_dir = "/var/lib/pki-relay";
http = {
  listen = "0.0.0.0";
  port = $relay_port;
};
CONF
fi
chmod 0640 "$R$relay_conf"; chown 0:"$relay_gid" "$R$relay_conf"
umask 022

"$R/usr/sbin/iothsm-agent" --config "$R$agent_conf" --check-config >/dev/null \
  || die "$agent_conf does not validate (iothsm-agent --check-config)"
"$R/usr/sbin/pki-relay" --config "$R$relay_conf" --check-config >/dev/null \
  || die "$relay_conf does not validate (pki-relay --check-config)"

# ---- the admin password, through the agent's own set-password (stdin only) ----
set_password() {
  # The agent writes the hash into its state database, so it runs as the service user. Under
  # --root, a copy of the config points it at the state directory inside the root.
  local conf=$R$agent_conf tmpdir=""
  if [ -n "$R" ]; then
    tmpdir=$(mktemp -d)
    sed "s|^state_dir = .*|state_dir = \"$R/var/lib/iothsm\";|" "$R$agent_conf" >"$tmpdir/agent.conf"
    chown -R "$agent_uid:$agent_gid" "$tmpdir"
    conf=$tmpdir/agent.conf
  fi
  local run=(setpriv --reuid="$agent_uid" --regid="$agent_gid" --clear-groups
             "$R/usr/sbin/iothsm-agent" --config "$conf" set-password)
  local rc=0
  if [ -n "$password" ]; then
    printf '%s\n' "$password" | "${run[@]}" >/dev/null || rc=$?  # printf is a builtin: no argv
  elif [ "$password_file" = - ]; then
    "${run[@]}" >/dev/null || rc=$?
  else
    "${run[@]}" <"$password_file" >/dev/null || rc=$?
  fi
  [ -z "$tmpdir" ] || rm -rf "$tmpdir"
  return $rc
}

if [ $need_password -eq 1 ]; then
  if "$R/usr/sbin/iothsm-agent" --help 2>/dev/null | grep -q 'set-password'; then
    set_password || die "iothsm-agent set-password failed"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$R$password_marker"
    chmod 0600 "$R$password_marker"
    say "admin password set"
  else
    say "warning: this iothsm-agent has no set-password command; the admin password is NOT set"
  fi
fi
password=""

# ---- services ----
url_host=$(hostname -I 2>/dev/null | awk '{print $1}')
url_host=${url_host:-$(hostname)}
if systemd_running; then
  say "starting the services"
  systemctl daemon-reload
  systemctl enable --now pcscd.socket 2>/dev/null || say "warning: pcscd.socket could not be enabled"
  systemctl enable "$AGENT_UNIT" "$RELAY_UNIT" >/dev/null
  # restart, not start: an upgrade must run the new programs.
  systemctl restart "$AGENT_UNIT" "$RELAY_UNIT"
  for u in "$AGENT_UNIT" "$RELAY_UNIT"; do
    systemctl is-active --quiet "$u" || die "$u did not start: journalctl -u $u"
  done
elif [ $no_systemctl -eq 0 ]; then
  say "warning: systemd is not running here; start $AGENT_UNIT and $RELAY_UNIT yourself"
fi

cat <<DONE

  iothsm-agent (appliance UI)  https://$url_host:$ui_port/
  pki-relay (console, API)     https://$url_host:$relay_port/

  status:  iothsmctl status   pki-relay status   systemctl status $AGENT_UNIT
  logs:    journalctl -u $AGENT_UNIT -u $RELAY_UNIT
  docs:    /usr/share/doc/pkiaas/operations.md
DONE
