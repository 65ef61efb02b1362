#!/bin/sh
# Browser tests: playwright-core (pinned in tests/harness/browser/package-lock.json) drives
# Debian's chromium; the browser itself is never downloaded.
set -eu
cd "$(dirname "$0")/../../tests/harness/browser"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
