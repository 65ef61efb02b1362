#!/usr/bin/env bash
# Style and static analysis: clang-format (check only) and cppcheck over the project's C code.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.h')
[ ${#files[@]} -gt 0 ] || { echo "lint: no C files"; exit 0; }

echo "lint: clang-format on ${#files[@]} files"
clang-format --dry-run --Werror "${files[@]}"

echo "lint: cppcheck"
cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
  --enable=warning,portability,performance \
  --suppress=missingIncludeSystem --suppress=unmatchedSuppression \
  -I lib -j 2 "${files[@]}"
echo "lint: clean"
