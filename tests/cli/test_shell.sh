#!/usr/bin/env bash
# test_shell.sh - `mc2 shell` on a live service, driven through a pipe: a multi-line statement,
# every dot-command (.tables, .schema, .mode table|csv|json|tsv with exact output, .timer,
# .input, .help, .quit), an error then a good query, EXPLAIN as a tree; through a pseudo-
# terminal (script(1)): line editing with history recall and the history file. Also
# `mc2 sql -f -` (the query on stdin) and result column names as SQL gives them (alias, plain
# column, expression, aggregate), in `mc2 sql` and in a downloaded result's CSV header.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
EX=$MC2_SRC/examples
for p in bank-a bank-b; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
pk=$("$MC2" service init --dir "$WORK/state")
"$MC2" policy init --out "$WORK/c.yaml" --consortium shelltest \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --recipient bank-a --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" \
  >/dev/null
for p in bank-a bank-b; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
if start_service "$WORK/state" "$WORK/c.yaml"; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi
expect_ok "upload a" "$MC2" upload --home "$WORK/bank-a" --schema "$EX/accounts.yaml" \
  --in "$EX/accounts.csv" --as accounts
expect_ok "upload b" "$MC2" upload --home "$WORK/bank-b" --schema "$EX/accounts.yaml" \
  --in "$EX/accounts-b.csv" --as accounts
A=(--home "$WORK/bank-a")

expect_ok "shell --help" "$MC2" shell --help
check "help lists the dot-commands" grep -q "^  .schema NAME" "$WORK/out"
expect_fail "shell: bad --mode" 2 "--mode wants table, csv, json or tsv, not 'xml'" \
  "$MC2" shell "${A[@]}" --mode xml

# ---- through a pipe ----------------------------------------------------------------------
cat >"$WORK/in.sql" <<'EOF'
SELECT holder,
  balance   -- a comment
FROM accounts
WHERE id < 3 ORDER BY id;
.mode csv
SELECT holder AS h, city, balance*2, sum(id) FROM accounts WHERE id IN (1, 4) GROUP BY holder, city, balance ORDER BY h;
.mode json
SELECT id, holder, opened, active, risk_score FROM accounts WHERE id IN (1, 4) ORDER BY id;
.mode tsv
SELECT id, city FROM accounts WHERE id IN (4, 5) ORDER BY id;
.mode
.mode table
.timer on
SELECT count(*) AS n FROM accounts;
.timer off
.schema accounts
.tables
EXPLAIN SELECT city, count(*) FROM accounts GROUP BY city;
SELECT nope FROM accounts;
SELECT count(*) FROM accounts WHERE active; SELECT 1 + 1 AS two;
.bogus
.input bank-b/accounts
.input
SELECT count(*) FROM accounts;
.input clear
.input
.help
.quit
SELECT 'not run';
EOF
"$MC2" shell "${A[@]}" <"$WORK/in.sql" >"$WORK/sh.out" 2>"$WORK/sh.err"
check "piped shell: exit 1 after a failed statement" test $? -eq 1
sed -n '/^holder/,/^(2 rows)/p' "$WORK/sh.out" >"$WORK/got"
cat >"$WORK/want" <<'EOF'
holder                 |  balance
-----------------------+---------
Ada Lovelace           |  1200.50
Grace "Amazing" Hopper | 98000.00
(2 rows)
EOF
check "multi-line statement, table mode, numbers right-aligned: $(cat "$WORK/got")" \
  cmp -s "$WORK/got" "$WORK/want"
cat >"$WORK/want" <<'EOF'
h,city,balance*2,sum(id)
Ada Lovelace,London,2401.00,1
"Smith, John","Portland, OR",0.00,4
EOF
sed -n '/^h,city/,+2p' "$WORK/sh.out" >"$WORK/got"
check ".mode csv, exact, with SQL column names: $(cat "$WORK/got")" cmp -s "$WORK/got" "$WORK/want"
cat >"$WORK/want" <<'EOF'
[{"id":1,"holder":"Ada Lovelace","opened":"2019-03-14","active":true,"risk_score":0.12},
{"id":4,"holder":"Smith, John","opened":null,"active":null,"risk_score":0.5}]
EOF
sed -n '/^\[{/,/}\]$/p' "$WORK/sh.out" >"$WORK/got"
check ".mode json, exact: $(cat "$WORK/got")" cmp -s "$WORK/got" "$WORK/want"
printf 'id\tcity\n4\tPortland, OR\n5\t\\N\ntsv\n' >"$WORK/want"
sed -n '/^id\tcity/,+3p' "$WORK/sh.out" >"$WORK/got"
check ".mode tsv (NULL is \\N), exact; .mode alone shows the mode: $(cat "$WORK/got")" \
  cmp -s "$WORK/got" "$WORK/want"
check ".timer on prints the time" grep -Eq "^Run Time: real [0-9]+\.[0-9]{3} s$" "$WORK/sh.out"
check ".timer off stops it" test "$(grep -c "^Run Time" "$WORK/sh.out")" -eq 1
check ".schema: the columns as the enclave reads them" \
  grep -qx "  balance DECIMAL(15,2) NOT NULL," "$WORK/sh.out"
check ".schema starts CREATE TABLE" grep -qx "CREATE TABLE accounts (" "$WORK/sh.out"
check ".tables: yours" grep -Eq "^bank-a/accounts +6 rows$" "$WORK/sh.out"
check ".tables: another party's, with how to query it" \
  grep -Eq "^bank-b/accounts +5 rows +\(query it after .input bank-b/accounts\)$" "$WORK/sh.out"
check "EXPLAIN printed as an indented tree" grep -Eq "^    PROJECT .*|^  HASH AGGREGATE" "$WORK/sh.out"
check "EXPLAIN: the root unindented" grep -q "^PROJECT accounts.city" "$WORK/sh.out"
check "an error shows mc2's message" \
  grep -Eq "^mc2: sql job [0-9]+ failed: line 1, column 8: unknown column 'nope'" "$WORK/sh.err"
check "after the error, two statements on one line run" \
  grep -A3 -x "count(\*)" "$WORK/sh.out" | grep -qx "        3"
check "... the second too" grep -A2 -x "two" "$WORK/sh.out" | grep -qx "  2"
check "unknown dot-command" grep -q "^mc2: unknown command '.bogus' (.help lists them)" "$WORK/sh.err"
check ".input lists the inputs" grep -qx "bank-b/accounts" "$WORK/sh.out"
check ".input: the query waits for the other owner" \
  grep -q "^job [0-9]* is waiting: waiting for bank-b to approve" "$WORK/sh.out"
check ".input clear" grep -q "^(no inputs: queries read your own tables they name)" "$WORK/sh.out"
check ".help" grep -q "^  .timer on|off" "$WORK/sh.out"
check ".quit stops reading" bash -c "! grep -q 'not run' '$WORK/sh.out'"

# A last statement without ';' runs at the end of input; no failure: exit 0.
expect_ok "piped shell, no error" bash -c "printf '%s\n' '.mode csv' 'SELECT count(*) AS n' \
  'FROM accounts' | '$MC2' shell --home '$WORK/bank-a'"
check "a last statement without ';'" test "$(cat "$WORK/out")" = "$(printf 'n\n6')"

# ---- mc2 sql -f - ---------------------------------------------------------------------------
expect_ok "sql -f - reads stdin" bash -c "echo 'SELECT count(*) AS n FROM accounts' | \
  '$MC2' sql --home '$WORK/bank-a' -f -"
check "sql -f - result" test "$(cat "$WORK/out")" = "$(printf 'n\n6')"
expect_fail "sql -f -: errors name stdin" 1 "^mc2: stdin: line 2, column 5: expected FROM" \
  bash -c "printf 'SELECT count(*)\nFRM accounts' | '$MC2' sql --home '$WORK/bank-a' -f -"

# ---- result column names --------------------------------------------------------------------
expect_ok "column names" "$MC2" sql "${A[@]}" --csv \
  "SELECT holder AS who, accounts.city, balance * 2, sum( id ), count(*), count(*) FROM accounts WHERE id = 1 GROUP BY holder, city, balance"
check "alias, plain column, expression as written, aggregates, repeats: $(head -1 "$WORK/out")" \
  test "$(head -1 "$WORK/out")" = "who,city,balance * 2,sum( id ),count(*),count(*)"
expect_ok "a job's result" "$MC2" submit "${A[@]}" --kind sql --input bank-a/accounts \
  --recipient bank-a --param "query=SELECT sum(balance), min(opened) AS first FROM accounts"
job=$(grep -o "^submitted job [0-9]*" "$WORK/out" | cut -d' ' -f3)
for _ in $(seq 50); do
  "$MC2" job "$job" "${A[@]}" 2>/dev/null | grep -q "^status: done" && break
  sleep 0.2
done
expect_ok "download the result" "$MC2" download "${A[@]}" --job "$job" --out "$WORK/r.csv"
check "downloaded CSV header: the SQL names: $(head -1 "$WORK/r.csv")" \
  test "$(head -1 "$WORK/r.csv")" = "sum(balance),first"

# ---- through a pseudo-terminal: line editing, history recall, the history file -------------
if command -v script >/dev/null 2>&1; then
  # Up arrow twice recalls the statement before `.timer on`, Enter runs it again.
  printf 'SELECT count(*)\n  AS n FROM accounts;\n.mode csv\n.timer on\n\033[A\033[A\033[A\n.quit\n' |
    script -qec "'$MC2' shell --home '$WORK/bank-a'" /dev/null >"$WORK/tty" 2>&1
  tr -d '\r' <"$WORK/tty" >"$WORK/tty.txt"
  check "tty: a prompt and a continuation prompt" grep -q "^   ...>   AS n FROM accounts;" "$WORK/tty.txt"
  check "tty: the first run, table mode" grep -qx "(1 row)" "$WORK/tty.txt"
  check "tty: the recalled statement ran again, in csv mode" \
    grep -A2 "SELECT count(\*)   AS n FROM accounts;$" "$WORK/tty.txt" | grep -qx "n"
  check "tty: timer" grep -Eq "^Run Time: real [0-9.]+ s$" "$WORK/tty.txt"
  check "history file kept, private" test "$(stat -c %a "$WORK/bank-a/shell_history")" = 600
  check "history holds the statement" grep -q "AS\\\\040n\\\\040FROM" "$WORK/bank-a/shell_history"
fi
finish
