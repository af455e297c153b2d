#!/usr/bin/env bash
# test_cli_usage.sh - the CLI's usage surface without a service: an unknown command says so
# (with "did you mean" when a command is close) and exits 2; `mc2 help CMD` is `mc2 CMD
# --help`; `mc2 --help` names the environment variables the CLI reads.
source "$(dirname "$0")/lib.sh"

expect_fail "unknown command" 2 "unknown command 'frobnicate'" "$MC2" frobnicate
check "no global help dumped for an unknown command" bash -c "! grep -q '^commands:' '$WORK/err'"
expect_fail "did you mean (typo)" 2 "unknown command 'sqll' \(did you mean 'sql'\?\)" "$MC2" sqll
expect_fail "did you mean (transposition)" 2 "did you mean 'encrypt'\?" "$MC2" ecnrypt
expect_fail "did you mean (jobs)" 2 "did you mean 'jobs'\?" "$MC2" jbos

expect_ok "mc2 help sql" "$MC2" help sql
check "mc2 help sql prints mc2 sql --help" grep -q '^usage: mc2 sql' "$WORK/out"
"$MC2" sql --help >"$WORK/sqlhelp"
check "identical to mc2 sql --help" cmp -s "$WORK/out" "$WORK/sqlhelp"
expect_ok "mc2 help model" "$MC2" help model
check "mc2 help model prints its help" grep -q '^usage: mc2 model get' "$WORK/out"
expect_fail "mc2 help of an unknown command" 2 "did you mean 'train'\?" "$MC2" help trian

expect_ok "mc2 --help" "$MC2" --help
for v in MC2_HOME MC2_SERVICE; do
  check "mc2 --help names $v" grep -q "$v" "$WORK/out"
done
finish
