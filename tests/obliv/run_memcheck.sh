#!/usr/bin/env bash
# run_memcheck.sh - proof 1 of obliviousness: runs the probe under valgrind memcheck with the
# secret inputs marked undefined. The primitives must cause ZERO "Conditional jump or move
# depends on uninitialised value(s)" and ZERO "Use of uninitialised value" (secret address)
# reports; each leaky control MUST be reported, or the check itself is broken.
# Usage: run_memcheck.sh PROBE_BINARY LABEL
set -uo pipefail
probe=$1
label=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
VG=(valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes --num-callers=30)

jumps() { grep -c 'Conditional jump or move depends on uninitialised value' "$1"; }
addrs() { grep -c 'Use of uninitialised value' "$1"; }

# The primitives: no reports at all, and correct results.
"${VG[@]}" --log-file="$tmp/clean.log" "$probe" memcheck >"$tmp/clean.out" 2>&1
rc=$?
cat "$tmp/clean.out"
j=$(jumps "$tmp/clean.log")
a=$(addrs "$tmp/clean.log")
summary=$(grep -o 'ERROR SUMMARY: [0-9]* errors' "$tmp/clean.log" | tail -n 1)
echo "memcheck $label primitives: $j secret-dependent jump(s), $a secret-dependent address(es); $summary; exit $rc"
if [[ $rc -ne 0 || $j -ne 0 || $a -ne 0 || "$summary" != "ERROR SUMMARY: 0 errors" ]]; then
  echo "FAIL: memcheck $label: the primitives are not oblivious (or gave wrong results):"
  grep -A 12 -E 'Conditional jump|Use of uninitialised|Invalid' "$tmp/clean.log" | head -n 80
  bad=1
fi

# The controls: each must be caught with the report kind it exists to provoke.
for ctl in leak-branch:jumps leak-index:addrs leak-fastsort:any; do
  mode=${ctl%%:*}
  kind=${ctl##*:}
  "${VG[@]}" --log-file="$tmp/$mode.log" "$probe" "$mode" >/dev/null 2>&1
  rc=$?
  j=$(jumps "$tmp/$mode.log")
  a=$(addrs "$tmp/$mode.log")
  case $kind in
  jumps) n=$j ;;
  addrs) n=$a ;;
  *) n=$((j + a)) ;;
  esac
  if [[ $rc -eq 99 && $n -gt 0 ]]; then
    echo "memcheck $label control $mode: caught ($j secret-dependent jump(s), $a secret-dependent address(es))"
  else
    echo "FAIL: memcheck $label control $mode NOT caught (exit $rc, $j jumps, $a addresses): the check does not work"
    bad=1
  fi
done
if ((bad)); then exit 1; fi
echo "memcheck $label: PASS"
