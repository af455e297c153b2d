#!/usr/bin/env bash
# test_catalog.sh - each party's jobs read exactly the table version it uploaded (security
# review finding 1): a live service whose store is edited between steps, as a malicious host
# would. (a) an older upload of bank-a/t put back: `mc2 sql`, `mc2 submit`, `mc2 download`
# refuse and never answer with the old rows, `mc2 tables` flags it, `--adopt` refuses it;
# (b) another table of the same owner copied over t: refused the same way; (c) no output file
# from a refused download; (d) a job another party submits over the stale copy: the owner's
# `mc2 approve` refuses and explains; (f) concurrent uploads by one party: every upload in the
# catalog, versions distinct, the service holding the newest. Also: an upload cut short
# after the service stored it (the catalog's pending record completed by `--adopt`, no trust
# needed), a table uploaded from another home (`--adopt --yes`, trusting the service once), a
# damaged catalog never replaced, what `mc2 approve` shows, and the host's job status after
# each approval of a job with three owners.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
for p in bank-a bank-b auditor; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
pk=$("$MC2" service init --dir "$WORK/state")
"$MC2" policy init --out "$WORK/c.yaml" --consortium cattest \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --party "auditor=$WORK/auditor/identity.crt" --recipient auditor --recipient bank-a \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" >/dev/null
for p in bank-a bank-b auditor; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
if start_service "$WORK/state" "$WORK/c.yaml"; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi
STORE=$WORK/state/store/tables
A="--home $WORK/bank-a"
printf 'columns:\n  - {name: k, type: INT64}\n  - {name: v, type: VARCHAR(12)}\n' >"$WORK/t.yaml"
gen() { awk -v n="$1" -v tag="$2" 'BEGIN { print "k,v"; for (i = 1; i <= n; i++) printf "%d,%s%d\n", i, tag, i }' >"$3"; }
gen 100 old "$WORK/100.csv"
gen 200 new "$WORK/200.csv"
gen 50 u "$WORK/50.csv"
up() { # up HOME NAME CSV [OPTION...]
  expect_ok "upload $2 by $(basename "$1")" "$MC2" upload --home "$1" --schema "$WORK/t.yaml" --in "$3" --as "$2" "${@:4}"
}
count() { # count HOME TABLE: prints the count, or nothing
  "$MC2" sql --home "$1" --csv "SELECT count(*) AS n FROM $2" 2>"$WORK/cerr" | tail -n 1
}

# ---- (a) rollback: version 1 put back over version 2 ----------------------------------------
up "$WORK/bank-a" t "$WORK/100.csv"
check "the first upload is version 1" grep -q "^uploaded bank-a/t version 1: 100 rows" "$WORK/out"
check "the store holds it" test -f "$STORE/bank-a/t.mc2t"
cp "$STORE/bank-a/t.mc2t" "$WORK/t-v1.mc2t"
# Another upload under the same name replaces the table: only with --replace.
expect_fail "a second upload of t without --replace is refused" 1 \
  "you already have a table 't' \(version 1, 100 rows, uploaded .*\): give --replace" \
  "$MC2" upload --home "$WORK/bank-a" --schema "$WORK/t.yaml" --in "$WORK/200.csv" --as t
printf 'columns:\n  - {name: k, type: INT64}\n' >"$WORK/k.yaml"
printf 'k\n1\n2\n' >"$WORK/k.csv"
expect_fail "... and says when the new one has another schema" 1 "another schema" \
  "$MC2" upload --home "$WORK/bank-a" --schema "$WORK/k.yaml" --in "$WORK/k.csv" --as t
check "the refused uploads left the stored table alone" cmp -s "$STORE/bank-a/t.mc2t" "$WORK/t-v1.mc2t"
up "$WORK/bank-a" t "$WORK/200.csv" --replace
check "the second upload is version 2" grep -q "^uploaded bank-a/t version 2: 200 rows" "$WORK/out"
cp "$STORE/bank-a/t.mc2t" "$WORK/t-v2.mc2t"
check "version 2 answers 200" test "$(count "$WORK/bank-a" t)" = 200
expect_ok "inspect shows the sealed version" "$MC2" inspect $A --in "$WORK/t-v2.mc2t"
check "table version 2 sealed" grep -q "^table version:  2" "$WORK/out"
expect_ok "tables: all in order" "$MC2" tables $A
check "tables: t ok" grep -q "^  t: version 2, 200 rows, uploaded .*: ok, the service holds this upload" "$WORK/out"

cp "$WORK/t-v1.mc2t" "$STORE/bank-a/t.mc2t" # the host rolls t back
n=$(count "$WORK/bank-a" t)
check "sql over the rolled-back table gives no answer (got '$n')" test -z "$n"
check "sql says why" grep -q "the service holds version 1 of your table 't' .* but your latest upload is version 2 .*an older copy (a rollback)" "$WORK/cerr"
expect_fail "submit refuses the rolled-back table" 1 "version 1 of your table 't'.*latest upload is version 2" \
  "$MC2" submit $A --kind rowcount --input bank-a/t --recipient auditor
rm -f "$WORK/dl.csv"
expect_fail "download refuses it" 1 "version 1 of your table 't'.*rollback" \
  "$MC2" download t $A --out "$WORK/dl.csv"
check "(c) no output file from the refused download" test ! -e "$WORK/dl.csv"
expect_ok "tables lists the difference" "$MC2" tables $A
check "tables flags the rollback" grep -q "^  t: version 2, .*DIFFERS: the service holds version 1 .*rollback" "$WORK/out"
expect_fail "adopting the old copy is refused" 1 "not adopting: the service holds version 1 of your table 't'.*rollback" \
  "$MC2" tables $A --adopt t --yes

# (d) bank-b submits a job over bank-a/t: its client takes the stale copy from the listing.
expect_ok "bank-b submits over bank-a/t" "$MC2" submit --home "$WORK/bank-b" --kind rowcount \
  --input bank-a/t --recipient auditor
job=$(sed -n 's/^submitted job \([0-9]*\):.*/\1/p' "$WORK/out")
check "the job names version 1" grep -Eq "^input bank-a t [0-9a-f]{32} 1$" "$WORK/out"
expect_fail "(d) bank-a's approval refuses and explains" 1 \
  "the job names version 1 of your table 't' \(table id [0-9a-f]{32}, .*\) but your latest upload is version 2 \(table id [0-9a-f]{32}.*Refusing to approve it" \
  "$MC2" approve "${job:-0}" $A --wait 0
check "approve shows the input is not bank-a's latest upload" grep -q "input:     bank-a/t version 1 (table id [0-9a-f]*): 100 rows, your upload of .*, NOT your latest upload of it" "$WORK/out"
expect_ok "the job still waits" "$MC2" job "${job:-0}" $A
check "waiting for bank-a" grep -q "^status: waiting: waiting for bank-a to approve" "$WORK/out"

# ---- (b) swap: bank-a's table u copied over t --------------------------------------------------
cp "$WORK/t-v2.mc2t" "$STORE/bank-a/t.mc2t"
check "t restored answers 200" test "$(count "$WORK/bank-a" t)" = 200
up "$WORK/bank-a" u "$WORK/50.csv"
cp "$STORE/bank-a/u.mc2t" "$STORE/bank-a/t.mc2t" # the host swaps them
n=$(count "$WORK/bank-a" t)
check "sql over the swapped table gives no answer (got '$n')" test -z "$n"
check "sql names the swap" grep -q "the service holds your table 'u' (version 1, table id [0-9a-f]*) under the name 't'" "$WORK/cerr"
expect_fail "(b) submit refuses the swapped table" 1 "your table 'u' .* under the name 't'" \
  "$MC2" submit $A --kind rowcount --input bank-a/t --recipient auditor
expect_fail "(c) download refuses the swapped table" 1 "your table 'u' .* under the name 't'" \
  "$MC2" download t $A --out "$WORK/dl.csv"
check "(c) no output file" test ! -e "$WORK/dl.csv"
cp "$WORK/t-v2.mc2t" "$STORE/bank-a/t.mc2t"
expect_ok "download of the right copy" "$MC2" download t $A --out "$WORK/dl.csv"
check "it holds version 2's rows" grep -q "^downloaded tables/bank-a/t.mc2t version 2: 200 rows" "$WORK/out"

# ---- what approve shows; the host's status after each approval ---------------------------------
up "$WORK/bank-b" w "$WORK/50.csv"
up "$WORK/auditor" x "$WORK/100.csv"
expect_ok "a job over three owners' tables" "$MC2" sql $A --recipient auditor \
  --input bank-a/t --input bank-b/w --input auditor/x --wait 0 \
  "SELECT count(*) AS n FROM t JOIN w ON t.k = w.k JOIN x ON x.k = w.k"
job=$(sed -n 's/^job \([0-9]*\) is waiting.*/\1/p' "$WORK/out")
expect_ok "bank-b approves" "$MC2" approve "${job:-0}" --home "$WORK/bank-b" --wait 0
check "approve shows the query" grep -q "^  param:     query = SELECT count(\*) AS n FROM t JOIN w" "$WORK/out"
check "approve shows bank-b's own input from its catalog" grep -q "^  input:     bank-b/w version 1 (table id [0-9a-f]*): 50 rows, your upload of " "$WORK/out"
check "approve shows others' inputs as listed" grep -q "^  input:     bank-a/t version 2 (table id [0-9a-f]*): 200 rows (as the service lists it)" "$WORK/out"
check "approve shows the recipient" grep -q "^  recipient: auditor" "$WORK/out"
expect_ok "mc2 jobs" "$MC2" jobs $A
check "the host's status moved on to the auditor" grep -q "^$job sql waiting waiting for auditor to approve" "$WORK/out"
expect_ok "the auditor approves (the job runs)" "$MC2" approve "${job:-0}" --home "$WORK/auditor"
expect_ok "the auditor downloads" "$MC2" download --job "${job:-0}" --home "$WORK/auditor" --out "$WORK/j.csv"
check "three-owner join" grep -qx 50 "$WORK/j.csv"

# ---- (f) concurrent uploads by one party ---------------------------------------------------------
gen 20000 c "$WORK/big.csv"
pids=()
for n in c c d1 d2; do
  "$MC2" upload $A --replace --schema "$WORK/t.yaml" --in "$WORK/big.csv" --as "$n" >"$WORK/up-$n-$RANDOM" 2>&1 &
  pids+=($!)
done
rcs=0
for p in "${pids[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
check "(f) four concurrent uploads succeed" test "$rcs" = 0
cat_c=$(grep -c " c [12] [0-9a-f]* .* uploaded$" "$WORK/bank-a/catalog")
check "(f) both uploads of c are in the catalog, versions 1 and 2 ($cat_c)" test "$cat_c" = 2
check "(f) d1 and d2 too" grep -q " d1 1 .* uploaded$" "$WORK/bank-a/catalog"
check "(f) d2" grep -q " d2 1 .* uploaded$" "$WORK/bank-a/catalog"
check "(f) t and u kept" test "$(grep -Ec " (t 1|t 2|u 1) " "$WORK/bank-a/catalog")" = 3
expect_ok "tables after concurrent uploads" "$MC2" tables $A
check "(f) the service holds the newest c" grep -q "^  c: version 2, 20000 rows, uploaded .*: ok" "$WORK/out"
check "(f) nothing differs" bash -c "! grep -q DIFFERS '$WORK/out'"

# ---- an upload cut short after the service stored it ------------------------------------------
cp "$WORK/bank-a/catalog" "$WORK/cat-before"
up "$WORK/bank-a" p "$WORK/50.csv"
# The state a crash between the service's confirmation and the record leaves: pending.
sed -i 's/^\(table [0-9a-f]* p 1 .*\) uploaded$/\1 pending/' "$WORK/bank-a/catalog"
check "the record is pending now" grep -q " p 1 .* pending$" "$WORK/bank-a/catalog"
n=$(count "$WORK/bank-a" p)
check "sql does not use an unconfirmed upload (got '$n')" test -z "$n"
check "sql explains the unfinished upload" grep -q "sent by an upload of yours started .* that did not finish.*mc2 tables --adopt p" "$WORK/cerr"
expect_ok "tables" "$MC2" tables $A
check "tables shows it" grep -q "^  p: DIFFERS: version 1 was being uploaded .* but not confirmed: the service holds it" "$WORK/out"
expect_ok "adopt completes the record (no --yes needed)" "$MC2" tables $A --adopt p </dev/null
check "adopt says nothing is trusted" grep -q "its record is completed; nothing about it is taken on the service's word" "$WORK/out"
check "recorded as uploaded" grep -q " p 1 .* uploaded$" "$WORK/bank-a/catalog"
check "p answers 50" test "$(count "$WORK/bank-a" p)" = 50

# ---- a table uploaded from another home: adopted, trusting the service once ------------------
mkdir -p "$WORK/bank-a2"
cp "$WORK/bank-a/"{identity.key,identity.crt,data.key,config.yaml,consortium.yaml} "$WORK/bank-a2/"
chmod 600 "$WORK/bank-a2/"*.key
up "$WORK/bank-a2" q "$WORK/50.csv"
expect_ok "tables" "$MC2" tables $A
check "q is not in bank-a's catalog" grep -q "^  q: DIFFERS: not in your catalog; the service holds version 1" "$WORK/out"
expect_fail "sql over q refused" 1 "no upload of table 'q'.*mc2 tables --adopt q" \
  "$MC2" sql $A --input bank-a/q "SELECT count(*) FROM q"
expect_fail "adopt without --yes and no terminal" 2 "run \`mc2 tables --adopt q --yes\`" \
  "$MC2" tables $A --adopt q </dev/null
check "adopt shows what it is" grep -q "^  rows:       50" "$WORK/out"
check "adopt shows the schema" grep -q "name: v" "$WORK/out"
expect_ok "adopt --yes" "$MC2" tables $A --adopt q --yes
check "adopt warns that it trusts the service once" grep -q "WARNING: you have no record of this upload. Adopting it trusts the service once" "$WORK/err"
check "recorded as adopted" grep -q " q 1 .* adopted$" "$WORK/bank-a/catalog"
check "q answers 50" test "$(count "$WORK/bank-a" q)" = 50
expect_ok "adopting again: nothing to do" "$MC2" tables $A --adopt q
check "already recorded" grep -q "^already recorded" "$WORK/out"

# ---- a damaged catalog is never replaced ---------------------------------------------------------
cp "$WORK/bank-b/catalog" "$WORK/b-cat"
printf 'garbage\n' >>"$WORK/bank-b/catalog"
cp "$WORK/bank-b/catalog" "$WORK/b-cat-damaged"
expect_fail "upload with a damaged catalog" 1 "your table catalog is damaged: $WORK/bank-b/catalog line [0-9]+: .*will not change or replace it.*catalog.prev" \
  "$MC2" upload --home "$WORK/bank-b" --schema "$WORK/t.yaml" --in "$WORK/50.csv" --as w
check "the damaged catalog is unchanged" cmp -s "$WORK/bank-b/catalog" "$WORK/b-cat-damaged"
expect_fail "sql with a damaged catalog" 1 "your table catalog is damaged" \
  "$MC2" sql --home "$WORK/bank-b" "SELECT count(*) FROM w"
cp "$WORK/b-cat" "$WORK/bank-b/catalog"
check "mode 0600" test "$(stat -c %a "$WORK/bank-a/catalog")" = 600
finish
