#!/usr/bin/env bash
# test_sql_platform.sh - `mc2 sql` end to end on a live service: a query over your own tables
# runs at once; errors show line:column and a hint; a join over two owners' tables runs only
# after the other owner approves, and only the recipient can read the result; EXPLAIN;
# oblivious mode (--oblivious, --pad-rows) gives encryption mode's results, and a table the
# policy lists in oblivious_tables is refused to non-oblivious jobs; the memory budget
# (--budget-mb) caps oblivious jobs with a clear error.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
EX=$MC2_SRC/examples
for p in bank-a bank-b auditor; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
pk=$("$MC2" service init --dir "$WORK/state")
"$MC2" policy init --out "$WORK/c.yaml" --consortium sqltest \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --party "auditor=$WORK/auditor/identity.crt" --recipient auditor --recipient bank-a \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" \
  --oblivious-table bank-b/guarded >/dev/null
for p in bank-a bank-b auditor; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
if start_service "$WORK/state" "$WORK/c.yaml"; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi
expect_ok "upload a" "$MC2" upload --home "$WORK/bank-a" --schema "$EX/accounts.yaml" --in "$EX/accounts.csv" --as accounts
expect_ok "upload b" "$MC2" upload --home "$WORK/bank-b" --schema "$EX/accounts.yaml" --in "$EX/accounts-b.csv" --as accounts

expect_ok "own-table query" "$MC2" sql --home "$WORK/bank-a" --csv \
  "SELECT count(*) AS n, sum(balance) AS total, min(opened) AS first FROM accounts WHERE active"
check "own-table result" grep -qx "3,876978.27,1999-01-01" "$WORK/out"
expect_ok "NULL handling" "$MC2" sql --home "$WORK/bank-a" --csv \
  "SELECT count(*) AS n, count(city) AS c, count(active) AS a FROM accounts"
check "COUNT ignores NULLs" grep -qx "6,5,5" "$WORK/out"
expect_ok "unaliased aggregates" "$MC2" sql --home "$WORK/bank-a" --csv \
  "SELECT count(*), sum(balance), count(*) FROM accounts"
check "derived column names: the SQL text, repeats kept" grep -qx "count(\*),sum(balance),count(\*)" "$WORK/out"
# On a terminal (script(1) gives the command a pty): aligned columns after a first pass that
# authenticated every block, and the download's progress bar on stderr.
if command -v script >/dev/null 2>&1; then
  script -qec "'$MC2' sql --home '$WORK/bank-a' 'SELECT holder, balance FROM accounts ORDER BY holder'" \
    /dev/null >"$WORK/tty" 2>&1
  check "aligned on a terminal, numbers right-aligned" grep -Eq "^Ada Lovelace +\|   1200\.50" "$WORK/tty"
  check "row count on a terminal" grep -q "(6 rows)" "$WORK/tty"
  check "download progress on a terminal" grep -q "downloading \[#*\] 100.0%" "$WORK/tty"
fi
expect_ok "--out writes CSV" "$MC2" sql --home "$WORK/bank-a" --out "$WORK/r.csv" \
  "SELECT holder FROM accounts WHERE city LIKE 'Port%' ORDER BY holder"
check "--out content" grep -qx '"Smith, John"' "$WORK/r.csv"

expect_fail "syntax error position" 1 "line 1, column [0-9]+" \
  "$MC2" sql --home "$WORK/bank-a" "SELECT holder FROM accounts WHERE"
expect_fail "did you mean" 1 "unknown column 'cty' \(did you mean 'city'\?\)" \
  "$MC2" sql --home "$WORK/bank-a" "SELECT cty FROM accounts"
expect_fail "type mismatch names both types" 1 "DATE.*VARCHAR|VARCHAR.*DATE" \
  "$MC2" sql --home "$WORK/bank-a" "SELECT holder FROM accounts WHERE opened = city"
expect_fail "not supported" 1 "not supported" \
  "$MC2" sql --home "$WORK/bank-a" "SELECT holder, row_number() OVER () FROM accounts"

expect_ok "two-owner join submitted" "$MC2" sql --home "$WORK/bank-a" --recipient auditor \
  --input a=bank-a/accounts --input b=bank-b/accounts \
  "SELECT a.holder, b.balance FROM a JOIN b ON a.holder = b.holder"
check "waits for bank-b" grep -q "waiting for bank-b to approve" "$WORK/out"
job=$(sed -n 's/^job \([0-9]*\) is waiting.*/\1/p' "$WORK/out")
expect_fail "no result before approval" 1 "waiting for bank-b" \
  "$MC2" download --job "$job" --home "$WORK/auditor" --out "$WORK/j.csv"
expect_ok "bank-b approves" "$MC2" approve "$job" --home "$WORK/bank-b"
expect_ok "auditor downloads" "$MC2" download --job "$job" --home "$WORK/auditor" --out "$WORK/j.csv"
check "join result" grep -qx "Ada Lovelace,250.00" "$WORK/j.csv"
expect_fail "bank-a cannot read it" 1 "not a recipient" \
  "$MC2" download --job "$job" --home "$WORK/bank-a" --out "$WORK/x.csv"
expect_fail "bank-b cannot read it" 1 "not a recipient" \
  "$MC2" download --job "$job" --home "$WORK/bank-b" --out "$WORK/x.csv"

expect_ok "EXPLAIN" "$MC2" sql --home "$WORK/bank-a" --csv \
  "EXPLAIN SELECT city, count(*) FROM accounts GROUP BY city"
check "EXPLAIN shows an aggregation" grep -qi "agg" "$WORK/out"

# Oblivious mode: the same rows as encryption mode.
q="SELECT city, count(*) AS n, sum(balance) AS total FROM accounts WHERE balance > 0 GROUP BY city ORDER BY city"
expect_ok "encryption mode" "$MC2" sql --home "$WORK/bank-a" --csv "$q"
cp "$WORK/out" "$WORK/enc.csv"
expect_ok "oblivious mode" "$MC2" sql --home "$WORK/bank-a" --csv --oblivious "$q"
check "oblivious = encryption" cmp -s "$WORK/out" "$WORK/enc.csv"
expect_ok "oblivious, padded" "$MC2" sql --home "$WORK/bank-a" --csv --oblivious --pad-rows 64 "$q"
check "padded = encryption" cmp -s "$WORK/out" "$WORK/enc.csv"
expect_fail "pad bound too small" 1 "exceeds the padding bound 1 rows" \
  "$MC2" sql --home "$WORK/bank-a" --csv --oblivious --pad-rows 1 "$q"
expect_fail "--pad-rows needs --oblivious" 2 "needs --oblivious" \
  "$MC2" sql --home "$WORK/bank-a" --pad-rows 5 "$q"
expect_fail "unsupported in oblivious mode" 1 "not supported in oblivious mode" \
  "$MC2" sql --home "$WORK/bank-a" --oblivious "SELECT upper(holder) FROM accounts"

# oblivious_tables: bank-b/guarded only for oblivious jobs, checked at submission.
expect_ok "upload guarded" "$MC2" upload --home "$WORK/bank-b" --schema "$EX/accounts.yaml" --in "$EX/accounts-b.csv" --as guarded
expect_fail "policy refuses encryption mode" 1 "only oblivious jobs read bank-b/guarded" \
  "$MC2" sql --home "$WORK/bank-b" --recipient bank-a "SELECT count(*) FROM guarded"
expect_ok "oblivious job on guarded" "$MC2" sql --home "$WORK/bank-b" --recipient bank-a \
  --oblivious "SELECT count(*) AS n FROM guarded"
job=$(sed -n 's/^job \([0-9]*\).*/\1/p' "$WORK/out" | head -1)
expect_ok "bank-a downloads" "$MC2" download --job "$job" --home "$WORK/bank-a" --out "$WORK/g.csv"
check "guarded count" grep -qx "$(($(wc -l <"$EX/accounts-b.csv") - 1))" "$WORK/g.csv"

# The memory budget caps oblivious jobs: a 10,000-row table (about 0.5 MB stored, 3 MB as
# fixed-width rows) on a service restarted with a 1 MiB budget: the oblivious query fails with
# a clear error, the enclave lives on, and encryption mode still answers.
awk 'BEGIN { print "id,holder,city,balance,opened,risk_score,active"
  for (i = 1; i <= 10000; i++) printf "%d,holder %d,city %d,%d.00,2020-01-01,0.5,true\n", i, i, i % 97, i }' \
  >"$WORK/big.csv"
expect_ok "upload big" "$MC2" upload --home "$WORK/bank-a" --schema "$EX/accounts.yaml" --in "$WORK/big.csv" --as big
"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1
if start_service "$WORK/state" "$WORK/c.yaml" "$MC2" --budget-mb 1; then ok; else
  bad "start with --budget-mb 1: $(cat "$WORK/err")"
  finish
fi
expect_fail "oblivious job over the budget" 1 \
  "oblivious mode: the query needs more memory than the enclave's budget of 1 MiB \(mc2 start --budget-mb\)" \
  "$MC2" sql --home "$WORK/bank-a" --csv --oblivious "SELECT holder, city FROM big ORDER BY holder"
expect_ok "encryption mode after it" "$MC2" sql --home "$WORK/bank-a" --csv "$q"
check "same rows as before" cmp -s "$WORK/out" "$WORK/enc.csv"
finish
