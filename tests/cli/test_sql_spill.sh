#!/usr/bin/env bash
# test_sql_spill.sh - SQL jobs that spill through a real mc2d: on a service started with a
# 1 MiB memory budget (the largest input it can read), an ORDER BY and a GROUP BY with 5,000
# groups over an 18,000-row table (0.9 MB stored) keep several times the executor's half of
# the budget, so they spill sealed runs to the host (spill/job-N-M, logged by mc2d) and drop
# each one (EIF_STORE_DROP) when done. Both must give the rows
# computed here with awk, leave the store's spill/ directory empty, and the service must
# still run a job afterwards (an unanswered drop used to hang the enclave). Every mc2 call
# runs under a timeout, so a regression fails instead of hanging the suite. Last, `mc2 start
# --idle-timeout` reaches mc2d.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
T=40 # seconds any one command may take
N=18000
"$MC2" init --name bank-a --home "$WORK/bank-a" >/dev/null
pk=$("$MC2" service init --dir "$WORK/state")
"$MC2" policy init --out "$WORK/c.yaml" --consortium spilltest \
  --party "bank-a=$WORK/bank-a/identity.crt" --recipient bank-a \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" >/dev/null
cp "$WORK/c.yaml" "$WORK/bank-a/consortium.yaml"
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
cat >"$WORK/t.yaml" <<'EOF'
table: t
columns:
  - {name: k, type: INT64, nullable: false}
  - {name: g, type: INT64, nullable: false}
  - {name: v, type: INT64, nullable: false}
  - {name: s, type: VARCHAR(40), nullable: false}
EOF
# v = k * 7919 mod N is a permutation of 0..N-1 (7919 is a prime not dividing N): ORDER BY v
# has exactly one answer.
awk -v n=$N 'BEGIN { print "k,g,v,s"
  for (i = 1; i <= n; i++) printf "%d,%d,%d,row-%d-some-padding\n", i, i % 5000, (i * 7919) % n, i }' \
  >"$WORK/t.csv"
{
  echo "k,s"
  awk -F, 'NR > 1 { print $3 "," $1 "," $4 }' "$WORK/t.csv" | sort -t, -k1,1nr | cut -d, -f2-
} >"$WORK/want-order.csv"
{
  echo "g,n,total"
  awk -F, 'NR > 1 { n[$2]++; t[$2] += $3 } END { for (g in n) print g "," n[g] "," t[g] }' \
    "$WORK/t.csv" | sort -t, -k1,1n
} >"$WORK/want-group.csv"

if start_service "$WORK/state" "$WORK/c.yaml" "$MC2" --budget-mb 1; then ok; else
  bad "start with --budget-mb 1: $(cat "$WORK/err")"
  finish
fi
expect_ok "upload" timeout $T "$MC2" upload --home "$WORK/bank-a" --schema "$WORK/t.yaml" \
  --in "$WORK/t.csv" --as t
log=$WORK/state/mc2d.log
spilled() { grep -c "stored spill/job-$1-" "$log"; }

expect_ok "ORDER BY over the budget" timeout $T "$MC2" sql --home "$WORK/bank-a" --csv \
  "SELECT k, s FROM t ORDER BY v DESC"
check "ORDER BY gives the expected $N rows" cmp -s "$WORK/out" "$WORK/want-order.csv"
check "the sort spilled runs to the host" test "$(spilled 1)" -gt 1

expect_ok "GROUP BY 5000 groups over the budget" timeout $T "$MC2" sql --home "$WORK/bank-a" --csv \
  "SELECT g, count(*) AS n, sum(v) AS total FROM t GROUP BY g ORDER BY g"
check "GROUP BY gives the expected 5000 groups" cmp -s "$WORK/out" "$WORK/want-group.csv"
check "the aggregation spilled partitions to the host" test "$(spilled 2)" -gt 1

echo "spilled objects: $(spilled 1) (ORDER BY), $(spilled 2) (GROUP BY)"
check "every spilled run was dropped" test -z "$(ls -A "$WORK/state/store/spill" 2>&1)"
expect_ok "the service runs another job" timeout $T "$MC2" sql --home "$WORK/bank-a" --csv \
  "SELECT count(*) AS n FROM t"
check "and answers it" grep -qx "$N" "$WORK/out"

# `mc2 start --idle-timeout S` reaches mc2d: an idle connection is closed after about S s;
# `--session-timeout S` reaches mc2d's command line (what the enclave does with it:
# test_platform_idle).
"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1
if start_service "$WORK/state" "$WORK/c.yaml" "$MC2" --idle-timeout 1 --session-timeout 7; then ok; else
  bad "start with --idle-timeout 1: $(cat "$WORK/err")"
  finish
fi
exec 3<>"/dev/tcp/${MC2_SERVICE%:*}/${MC2_SERVICE##*:}"
t0=$SECONDS
timeout 8 cat <&3 >/dev/null
check "an idle connection is closed after --idle-timeout" test $((SECONDS - t0)) -le 4
exec 3<&-
cmdline=$(tr '\0' ' ' <"/proc/$(cat "$WORK/state/mc2d.pid")/cmdline")
check "mc2 start passes --session-timeout 7 to mc2d: $cmdline" \
  grep -q -- " --session-timeout 7 " <<<" $cmdline"
expect_fail "mc2 start checks --idle-timeout" 2 "idle-timeout wants a whole number" \
  "$MC2" start --policy "$WORK/c.yaml" --dir "$WORK/state2" --idle-timeout soon
expect_fail "mc2 start checks --session-timeout (1..86400)" 2 \
  "session-timeout wants a whole number from 1 to 86400" \
  "$MC2" start --policy "$WORK/c.yaml" --dir "$WORK/state2" --session-timeout 0
finish
