#!/usr/bin/env bash
# test_cli_signals.sh - Ctrl-C (SIGINT) or SIGTERM in the middle of `mc2 gen` or `mc2 encrypt`
# leaves none of their temporary files (".NAME.tmp-XXXXXX" beside each output) behind, and
# the command dies of the signal.
source "$(dirname "$0")/lib.sh"
SCHEMAS=$MC2_SRC/schemas/tpch

# interrupt SIG DIR CMD...: starts CMD (with SIG's default action, which a background job of
# a script would ignore for SIGINT), waits until a temporary file appears in DIR, sends SIG;
# sets $rc (the command's exit status) and $seen (whether a temporary file was seen).
interrupt() {
  local sig=$1 dir=$2
  shift 2
  env --default-signal="$sig" "$@" >"$WORK/out" 2>"$WORK/err" &
  local pid=$! i
  seen=0
  for i in $(seq 1 400); do
    if compgen -G "$dir/.*.tmp-*" >/dev/null; then
      seen=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.025
  done
  kill -"$sig" "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
}

mkdir -p "$WORK/gen"
interrupt INT "$WORK/gen" "$MC2" gen tpch --sf 0.3 --out "$WORK/gen" --threads 1
check "mc2 gen was caught writing (a temporary file seen)" test "$seen" = 1
check "mc2 gen died of SIGINT (exit $rc)" test "$rc" = 130
left=$(ls -A "$WORK/gen" | grep -c '\.tmp-')
check "SIGINT during mc2 gen: no temporary files left ($left)" test "$left" = 0

"$MC2" init --name p --home "$WORK/home" >/dev/null
expect_ok "data to encrypt" "$MC2" gen tpch --sf 0.05 --out "$WORK/data"
mkdir -p "$WORK/enc"
for sig in INT TERM; do
  interrupt "$sig" "$WORK/enc" "$MC2" encrypt --home "$WORK/home" --schema "$SCHEMAS/lineitem.yaml" \
    --in "$WORK/data/lineitem.tbl" --out "$WORK/enc/l.mc2t"
  check "mc2 encrypt was caught writing ($sig)" test "$seen" = 1
  check "mc2 encrypt died of SIG$sig (exit $rc)" test "$rc" -gt 128
  left=$(ls -A "$WORK/enc" | grep -c '\.tmp-')
  check "SIG$sig during mc2 encrypt: no temporary files left ($left)" test "$left" = 0
  check "no output under the real name" test ! -e "$WORK/enc/l.mc2t"
done
finish
