#!/bin/sh
# Browser tests: playwright-core (pinned in tests/harness/browser/package-lock.json) drives
# Debian's chromium; the browser itself is never downloaded.
set -eu
# Node.js: Debian's nodejs + npm, unless the machine already has a node with npm (some images
# ship NodeSource's nodejs, which bundles npm and conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
cd "$(dirname "$0")/../../tests/harness/browser"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.package-lock.json.src 2>/dev/null; then
  exit 0
fi
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.package-lock.json.src
