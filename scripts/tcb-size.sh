#!/usr/bin/env bash
# tcb-size.sh - the size of the trusted computing base: lines of C in the modules linked into
# mc2-enclave (MC2_ENCLAVE_MODULES in CMakeLists.txt) plus the enclave's entry point, with
# and without blank and comment-only lines. A tracked figure (DESIGN.md section 2).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
mods=$(sed -n 's/^set(MC2_ENCLAVE_MODULES \(.*\))$/\1/p' CMakeLists.txt)
[[ -n $mods ]] || { echo "tcb-size: MC2_ENCLAVE_MODULES not found in CMakeLists.txt" >&2; exit 1; }
files=()
for m in $mods; do files+=(src/"$m"/*.c src/"$m"/*.h); done
files+=(src/enclave/entry/*.c)
hdrs=()
for h in include/mc2/*.h; do hdrs+=("$h"); done
total=$(cat "${files[@]}" "${hdrs[@]}" | wc -l)
code=$(cat "${files[@]}" "${hdrs[@]}" | grep -Ev '^\s*$|^\s*(/\*|\*|//)' | wc -l)
printf 'TCB (mc2-enclave): modules %s + entry point + public headers\n' "$mods"
printf '  %d lines, %d without blank and comment lines, in %d files\n' "$total" "$code" \
  "$((${#files[@]} + ${#hdrs[@]}))"
