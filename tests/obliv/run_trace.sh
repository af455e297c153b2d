#!/usr/bin/env bash
# run_trace.sh - proof 2 of obliviousness: runs the probe under valgrind lackey
# (--trace-mem=yes: every instruction address and every load/store address and size) and
# cuts the trace into one region per primitive call, using the probe's stores to a marker
# word. Every primitive's regions for different inputs of the same public size must be
# byte-identical; every leaky control's regions MUST differ, or the check itself is broken.
# Usage: run_trace.sh PROBE_BINARY LABEL [trace|trace-quick]
set -uo pipefail
probe=$1
label=$2
mode=${3:-trace}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The region list is a function of the program alone: take it from a native run.
if ! "$probe" "$mode" >"$tmp/regions.txt" 2>/dev/null; then
  echo "FAIL: trace $label: the probe failed"
  exit 1
fi
nreg=$(grep -c '^REGION ' "$tmp/regions.txt")
# Lackey's trace (hundreds of MB) is never stored: it streams through awk, which keeps the
# first region of each primitive in memory and compares later regions line by line. A store
# (S) or modify (M) of the marker word toggles "inside"; the marker's own line is excluded.
# The probe prints the marker's address on stderr, where lackey writes its trace.
valgrind --tool=lackey --trace-mem=yes --log-fd=2 "$probe" "$mode" 2>&1 >"$tmp/run.txt" | awk -v regions="$tmp/regions.txt" '
  function strip(a) { sub(/^0+/, "", a); return a }
  function close_region(   nm) {
    nm = name[k]
    if (!(nm in nref)) { nref[nm] = n; order[++norder] = nm; ndiff[nm] = 0; nsame[nm] = 0 }
    else if (n != nref[nm] || bad) { ndiff[nm]++; if (firstdiff[nm] == "") firstdiff[nm] = "variant " var[k] ": " (bad ? "line " bad ": " badline : "length " n " vs " nref[nm]) }
    else nsame[nm]++
  }
  BEGIN {
    while ((getline line < regions) > 0) {
      split(line, f, " ")
      if (f[1] == "REGION") { r++; name[r] = f[2]; var[r] = f[3] }
    }
  }
  $1 == "MARK" && mark == "" { mark = strip($2); next }
  ($1 == "S" || $1 == "M") && mark != "" {
    split($2, a, ",")
    if (strip(a[1]) == mark) {
      if (inside) { close_region(); inside = 0 }
      else { k++; inside = 1; n = 0; bad = 0; badline = ""; nm = name[k]; isref = !(nm in nref) }
      next
    }
  }
  inside {
    n++
    if (isref) ref[nm, n] = $0
    else if (!bad && ref[nm, n] != $0) { bad = n; badline = "[" ref[nm, n] "] vs [" $0 "]" }
  }
  END {
    print "regions", k + 0, r + 0
    for (i = 1; i <= norder; i++) {
      nm = order[i]
      print "RESULT", nm, nref[nm], nsame[nm], ndiff[nm], firstdiff[nm]
    }
  }
' >"$tmp/result.txt"
got=$(awk '$1 == "regions" { print $2 }' "$tmp/result.txt")
if [[ "$got" != "$nreg" ]]; then
  echo "FAIL: trace $label: ${got:-no} marked regions in the trace, $nreg announced"
  exit 1
fi
bad=0
while read -r tag name lines nsame ndiff firstdiff; do
  [[ $tag == RESULT ]] || continue
  n=$((nsame + ndiff + 1))
  if [[ $name == control-* ]]; then
    if ((ndiff > 0)); then
      echo "trace $label $name: caught ($ndiff of $((n - 1)) other inputs give a different trace)"
    else
      echo "FAIL: trace $label $name NOT caught: all $n traces identical; the check does not work"
      bad=1
    fi
  elif ((ndiff == 0)); then
    echo "trace $label $name: $n inputs, identical traces ($lines trace lines each)"
  else
    echo "FAIL: trace $label $name: $ndiff of $((n - 1)) inputs change the trace; first: $firstdiff"
    bad=1
  fi
done <"$tmp/result.txt"
if ((bad)); then exit 1; fi
echo "trace $label: PASS"
