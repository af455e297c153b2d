#!/usr/bin/env bash
# test_lib_exports.sh - libmc2.so exports exactly the functions the installed headers
# (include/mc2/*.h) declare (scripts/lib-symbols.sh): nothing internal leaks into the ABI
# (no base/, sql/, gbdt/ or cli_ symbol), and nothing a header promises is missing. The
# client API (mc2/client.h) is among them. mc2d links no client code: no library of the
# client side (conn, identity, api) is on its link command, and it defines no function those
# libraries define (the upload signature it checks is policy/upload.c's, issue 13).
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?}
SRC=${MC2_SRC:?}
lib=$B/libmc2.so
check "libmc2.so built" test -e "$lib"
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sed 's/@.*//' | LC_ALL=C sort -u >"$WORK/exported"
sh "$SRC/scripts/lib-symbols.sh" list cc "$SRC/include" >"$WORK/declared"
extra=$(LC_ALL=C comm -23 "$WORK/exported" "$WORK/declared" | head -20 | tr '\n' ' ')
missing=$(LC_ALL=C comm -13 "$WORK/exported" "$WORK/declared" | head -20 | tr '\n' ' ')
check "exported but not declared in include/mc2: $extra" test -z "$extra"
check "declared in include/mc2 but not exported: $missing" test -z "$missing"
check "the client API is exported" grep -qx mc2_client_open "$WORK/exported"
check "the list is not empty" test "$(wc -l <"$WORK/declared")" -gt 50
# mc2d is untrusted and links no client code (docs/architecture.md).
client=$(nm "$B/mc2d" 2>/dev/null | grep -E ' [TtDd] (mc2_client_|cli_)' | head -3 | tr '\n' ' ')
check "mc2d links no client code: $client" test -z "$client"
link=$(grep -Eo 'libmc2_(conn|identity|api|client)[a-z_]*\.a' "$B/CMakeFiles/mc2d.dir/link.txt" | sort -u | tr '\n' ' ')
check "mc2d's link command names no client-side library: $link" test -z "$link"
for l in conn identity api; do
  [[ -e $B/libmc2_$l.a ]] || {
    bad "libmc2_$l.a not built"
    continue
  }
  nm --defined-only "$B/libmc2_$l.a" 2>/dev/null | awk '$2 == "T" {print $3}' | LC_ALL=C sort -u >"$WORK/lib_$l"
  nm --defined-only "$B/mc2d" | awk '$2 == "T" {print $3}' | LC_ALL=C sort -u >"$WORK/mc2d_syms"
  both=$(LC_ALL=C comm -12 "$WORK/lib_$l" "$WORK/mc2d_syms" | head -5 | tr '\n' ' ')
  check "mc2d defines no function of src/$l: $both" test -z "$both"
done
finish
