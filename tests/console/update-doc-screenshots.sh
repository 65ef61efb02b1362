#!/bin/sh
# Copies the browser walk's screenshots that docs/console.md shows from the last test run
# (ctest -R console_browser) into docs/console/, under names without the step numbers.
# Usage: tests/console/update-doc-screenshots.sh [ARTIFACTS_DIR]
set -eu
src="${1:-${PKI_TEST_ARTIFACTS:-build/test-artifacts}/console}"
dst="$(dirname "$0")/../../docs/console"
mkdir -p "$dst"
for step in login-page setup-form no-ca create-root-ca-form create-root-ca ca-service-urls \
            create-intermediate-csr request-modal import-intermediate template-edit-general \
            approve-override-modal public-request-form claim-form claim-with-browser-key revoke \
            unrevoke acme-policy-and-eab delete-ca-confirm phone-menu-open phone-certificates \
            import-wrong-certificate appliances audit-log api-token; do
  f=$(ls "$src"/[0-9][0-9]-"$step".png 2>/dev/null | head -n 1)
  [ -n "$f" ] || { echo "missing screenshot: $step (run ctest -R console_browser first)" >&2; exit 1; }
  cp "$f" "$dst/$step.png"
done
echo "screenshots copied to $dst"
