#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the daemons need.
# The lists live in scripts/deps/*.txt (one package a line, "a|b" for alternatives).
# Idempotent: when everything is present it changes nothing and needs no network.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then exec sudo -E "$0" "$@"; fi
  echo "install-deps: run as root (or install sudo)" >&2
  exit 1
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
available() { [ -n "$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)')" ]; }

updated=0
apt_update() {
  if [ $updated -eq 0 ]; then
    apt-get update -qq
    updated=1
  fi
}

wanted=()
while IFS= read -r line; do
  line=${line%%#*}
  line=$(echo "$line" | tr -d '[:space:]')
  [ -n "$line" ] || continue
  IFS='|' read -r -a alts <<<"$line"
  have=""
  for p in "${alts[@]}"; do
    if installed "$p"; then have=$p; break; fi
  done
  [ -n "$have" ] && continue
  if [ ${#alts[@]} -eq 1 ]; then
    wanted+=("${alts[0]}")
    continue
  fi
  apt_update
  pick=""
  for p in "${alts[@]}"; do
    if available "$p"; then pick=$p; break; fi
  done
  if [ -z "$pick" ]; then
    echo "install-deps: none of ${alts[*]} is available" >&2
    exit 1
  fi
  wanted+=("$pick")
done < <(cat "$here"/deps/*.txt)

if [ ${#wanted[@]} -gt 0 ]; then
  echo "install-deps: installing ${wanted[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
fi

# Steps beyond Debian packages (npm modules for browser tests, …) live in scripts/deps/*.sh.
for extra in "$here"/deps/*.sh; do
  [ -e "$extra" ] || continue
  bash "$extra"
done
echo "install-deps: all dependencies present"
