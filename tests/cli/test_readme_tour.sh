#!/usr/bin/env bash
# test_readme_tour.sh - the README's tour of the CLI works as written: its own `mc2 policy init`
# (taken from README.md, with the tour's placeholders filled in) lets its first `mc2 sql`
# example (also taken from README.md) run for bank-a and print the result.
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?}
README=$MC2_SRC/README.md
# cmd PATTERN: the README's command line starting with PATTERN, continuation lines joined,
# the trailing comment removed.
cmd() {
  awk -v p="$1" 'index($0, p) == 1 { on = 1 } on { line = line $0 "\n"; if ($0 !~ /\\$/) exit }
    END { printf "%s", line }' "$README" | sed -e 's/\\$//' | tr -d '\n' |
    sed -e 's/ #.*$//' -e 's/  */ /g'
}
POLICY=$(cmd "mc2 policy init")
SQL=$(cmd 'mc2 sql "SELECT city')
check "README has the tour's policy init ($POLICY)" test -n "$POLICY"
check "README has the tour's sql example ($SQL)" test -n "$SQL"
cd "$WORK" || exit 1
for p in bank-a bank-b auditor; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
cp bank-a/identity.crt a.crt
cp bank-b/identity.crt b.crt
cp auditor/identity.crt c.crt
"$MC2" service init --dir "$WORK/state" >platform.key # as the README's tour does
POLICY=${POLICY//build\/mc2-enclave/$B/mc2-enclave}
# shellcheck disable=SC2086 # the README's words, split as a shell would
expect_ok "the README's policy init" eval "\"$MC2\" ${POLICY#mc2 }"
for p in bank-a bank-b auditor; do cp consortium.yaml "$p/"; done
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
if start_service "$WORK/state" consortium.yaml; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi
export MC2_HOME=$WORK/bank-a
expect_ok "bank-a uploads accounts" "$MC2" upload --schema "$MC2_SRC/examples/accounts.yaml" \
  --in "$MC2_SRC/examples/accounts.csv" --as accounts
expect_ok "the README's sql example runs for bank-a" eval "\"$MC2\" ${SQL#mc2 }"
check "it prints the result" grep -q "Wilmslow" "$WORK/out"
finish
