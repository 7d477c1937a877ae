#!/usr/bin/env bash
# Check that every C file is formatted per .clang-format (fix: add --fix).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/vmm-format.$$; then
  grep -m 20 'error:' /tmp/vmm-format.$$ || true
  rm -f /tmp/vmm-format.$$
  echo "check-format: run scripts/check-format.sh --fix" >&2
  exit 1
fi
rm -f /tmp/vmm-format.$$
echo "check-format: $(echo "${#files[@]}") files formatted"
