#!/usr/bin/env bash
# test_sql_inputs.sh - `mc2 sql` passes the tables its query reads: without --input, the
# query's table names resolved among the caller's own tables (the job names exactly those:
# not its other tables, not a CTE of the same name; names match ignoring case); a name only
# other parties have gets the --input options that would run the query (and those run it); a
# typo gets "did you mean", also for another party's table; with --input, a table the query
# reads that no --input names fails before submitting; a syntax error and too many tables are
# reported before any network I/O (with the service stopped).
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
EX=$MC2_SRC/examples
for p in bank-a bank-b bank-c; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
pk=$("$MC2" service init --dir "$WORK/state")
"$MC2" policy init --out "$WORK/c.yaml" --consortium inputtest \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --party "bank-c=$WORK/bank-c/identity.crt" --recipient bank-a --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" >/dev/null
for p in bank-a bank-b bank-c; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
if start_service "$WORK/state" "$WORK/c.yaml"; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi
A="--home $WORK/bank-a"
up() { # up PARTY NAME
  expect_ok "upload $1/$2" "$MC2" upload --home "$WORK/$1" --schema "$EX/accounts.yaml" \
    --in "$EX/accounts.csv" --as "$2"
}
up bank-a accounts
up bank-a extra
up bank-a branches
up bank-b accounts
up bank-b orders
up bank-b ledger
up bank-c ledger
# inputs JOB: the job's input lines "OWNER/TABLE", sorted, space-separated
inputs() {
  "$MC2" job "$1" $A | awk '$1 == "input" { print $2 "/" $3 }' | sort | tr '\n' ' '
}
# sql_job QUERY: runs the query and prints its job number (the newest job the service lists)
sql_job() {
  "$MC2" sql $A --csv "$1" >/dev/null 2>"$WORK/err" || bad "sql $1: $(cat "$WORK/err")"
  "$MC2" jobs $A | awk '$1 ~ /^[0-9]+$/ && $1 > n { n = $1 } END { print n }'
}

# ---- without --input: only the tables the query reads --------------------------------------
expect_ok "own table" "$MC2" sql $A --csv "SELECT count(*) AS n FROM accounts"
check "own table: result" grep -qx 6 "$WORK/out"
job=$(sql_job "SELECT count(*) AS n FROM accounts WHERE balance > 0")
check "the job names only bank-a/accounts (got '$(inputs "${job:-0}")')" \
  test "$(inputs "${job:-0}")" = "bank-a/accounts "
job=$(sql_job "SELECT count(*) FROM Accounts a JOIN \"EXTRA\" e ON a.id = e.id WHERE a.id IN (SELECT id FROM ACCOUNTS)")
check "any case, a join and a subquery: accounts and extra (got '$(inputs "${job:-0}")')" \
  test "$(inputs "${job:-0}")" = "bank-a/accounts bank-a/extra "
job=$(sql_job "WITH branches AS (SELECT id FROM accounts) SELECT count(*) FROM branches")
check "a CTE named like a table is not that table (got '$(inputs "${job:-0}")')" \
  test "$(inputs "${job:-0}")" = "bank-a/accounts "
expect_ok "a query without tables" "$MC2" sql $A --csv "SELECT 1 + 1 AS two"
check "no tables: result" grep -qx 2 "$WORK/out"

# ---- another party's table: the hint, and the hint works -------------------------------------
expect_fail "bank-b's table" 2 \
  "line 1, column 22: table 'orders' is not one of yours \(bank-a\); bank-b has a table 'orders': run with --input bank-b/orders$" \
  "$MC2" sql $A "SELECT count(*) FROM orders"
expect_fail "a join with bank-b's table: every input named" 2 \
  "^mc2: line 1, column 38: table 'orders' is not one of yours \(bank-a\); bank-b has a table 'orders': run with --input bank-a/accounts --input bank-b/orders \(with --input, name every table the query reads\)" \
  "$MC2" sql $A "SELECT count(*) FROM accounts a JOIN orders o ON a.id = o.id"
expect_fail "bank-b's table and one nobody has" 2 \
  "table 'orders' is not one of yours \(bank-a\); bank-b has a table 'orders': use --input bank-b/orders \(with --input" \
  "$MC2" sql $A "SELECT count(*) FROM orders, nosuch"
expect_fail "a table two other parties have" 2 \
  "table 'ledger' is not one of yours \(bank-a\); (bank-b, bank-c|bank-c, bank-b) have a table 'ledger': name the one the query reads with --input OWNER/ledger$" \
  "$MC2" sql $A "SELECT count(*) FROM ledger"
expect_ok "the suggested inputs" "$MC2" sql $A --input bank-a/accounts --input bank-b/orders \
  "SELECT count(*) FROM accounts a JOIN orders o ON a.id = o.id"
check "it waits for bank-b" grep -q "waiting for bank-b to approve" "$WORK/out"

# ---- names found nowhere: did you mean ---------------------------------------------------------
printf 'SELECT count(*)\nFROM acounts\n' >"$WORK/typo.sql"
expect_fail "a typo of an own table" 1 \
  "typo.sql: line 2, column 6: no table 'acounts': you \(bank-a\) have none of that name, nor does the service list one \(did you mean 'accounts'\?\)" \
  "$MC2" sql $A -f "$WORK/typo.sql"
expect_fail "a typo of bank-b's table" 1 \
  "no table 'ordrs'.*\(did you mean bank-b's table 'orders'\? name it with --input bank-b/orders\)" \
  "$MC2" sql $A "SELECT count(*) FROM ordrs"

# ---- with --input: every table the query reads must be named ----------------------------------
expect_fail "--input without one of the query's tables" 2 \
  "line 1, column 36: the query reads table 'extra', which no --input names: add --input OWNER/extra" \
  "$MC2" sql $A --input bank-a/accounts "SELECT count(*) FROM accounts JOIN extra USING (id)"
expect_fail "--input names, did you mean" 2 "table 'accts', which no --input names \(did you mean 'acct'\?\)" \
  "$MC2" sql $A --input acct=bank-a/accounts "SELECT count(*) FROM accts"
expect_ok "--input NAME= as the query names it" "$MC2" sql $A --csv --input x=bank-a/accounts \
  "SELECT count(*) FROM X"
check "--input NAME=: result" grep -qx 6 "$WORK/out"

# ---- before any network I/O: the service is stopped ------------------------------------------
expect_ok "stop" "$MC2" stop --dir "$WORK/state"
expect_fail "a syntax error with the service stopped" 1 "^mc2: line 1, column 34: expected an expression, found end of query" \
  "$MC2" sql $A "SELECT holder FROM accounts WHERE"
check "no attempt to reach the service" test "$(grep -c "connect\|service" "$WORK/err")" = 0
printf 'SELECT *\nFROM accounts\nWHERE (\n' >"$WORK/bad.sql"
expect_fail "a syntax error in a file" 1 "^mc2: .*bad.sql: line 4, column 1: " \
  "$MC2" sql $A -f "$WORK/bad.sql"
q="SELECT 1 FROM t1"
for i in $(seq 2 17); do q="$q, t$i"; done
expect_fail "more tables than a job has inputs" 1 \
  "line 1, column 86: the query reads more than 16 tables \(table 't17' is one more\); a job reads at most 16 tables" \
  "$MC2" sql $A "$q"
expect_fail "the service is stopped (the check above did not need it)" 1 "." \
  "$MC2" sql $A "SELECT count(*) FROM accounts"
finish
