#!/bin/sh
# Copies the browser walk's screenshots that docs/console.md shows (every "console/NAME.png" it
# references) from the last test run (ctest -R console_browser) into docs/console/, under names
# without the step numbers. console_doc_images checks that each name is a shot the walk takes.
# Usage: tests/console/update-doc-screenshots.sh [ARTIFACTS_DIR [DEST_DIR]]
set -eu
here="$(dirname "$0")"
src="${1:-${PKI_TEST_ARTIFACTS:-build/test-artifacts}/console}"
dst="${2:-$here/../../docs/console}"
names=$(grep -o 'console/[a-z0-9-]*\.png' "$here/../../docs/console.md" | sed 's|^console/||; s|\.png$||' | sort -u)
[ -n "$names" ] || { echo "docs/console.md references no screenshot" >&2; exit 1; }
mkdir -p "$dst"
for step in $names; do
  f=$(ls "$src"/[0-9][0-9]-"$step".png "$src"/[0-9][0-9][0-9]-"$step".png 2>/dev/null | head -n 1)
  [ -n "$f" ] || { echo "missing screenshot: $step (run ctest -R console_browser first)" >&2; exit 1; }
  cp "$f" "$dst/$step.png"
done
echo "screenshots copied to $dst"
