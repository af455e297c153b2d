#!/usr/bin/env bash
# format-check.sh - fail if any tracked or new C source is not clang-format clean.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
  [[ -f "$f" ]] || continue
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "format: $f is not clang-format clean (run: make format)"
    bad=1
  fi
done < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h')
exit $bad
