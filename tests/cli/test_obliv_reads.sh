#!/usr/bin/env bash
# test_obliv_reads.sh - which blocks a query reads, seen from the host (docs/security.md, "Which
# blocks an encryption-mode query reads"): through a real mc2d, traced with strace, a selective
# filter over a sorted 7-block table makes an encryption-mode query read under a quarter of the
# table's bytes (the sealed min/max skip the other blocks), while the same query in oblivious
# mode reads at least 90% of them (every block). What is counted is what mc2d sent from the
# table's file: the bytes its sendfile calls moved (mc2d serves every storage read that way:
# enclave-interface.md §4).
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
if ! command -v strace >/dev/null; then
  echo "test_obliv_reads: strace is missing: run scripts/bootstrap.sh" >&2
  exit 1
fi
"$MC2" init --name bank-a --home "$WORK/bank-a" >/dev/null
pk=$("$MC2" service init --dir "$WORK/state")
"$MC2" policy init --out "$WORK/c.yaml" --consortium readstest \
  --party "bank-a=$WORK/bank-a/identity.crt" --recipient bank-a \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" >/dev/null
cp "$WORK/c.yaml" "$WORK/bank-a/consortium.yaml"
SPID=
trap '[[ -n $SPID ]] && kill "$SPID" 2>/dev/null; "$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
if start_service "$WORK/state" "$WORK/c.yaml"; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi
MPID=$(sed -n 's/^mc2d is running (pid \([0-9]*\)).*/\1/p' "$WORK/out")
check "mc2 start names mc2d's pid (${MPID:-none})" test -n "$MPID"
cat >"$WORK/t.yaml" <<'EOT'
table: t
columns:
  - {name: k, type: INT64, nullable: false}
  - {name: v, type: INT64, nullable: false}
EOT
# 400,000 rows with k ascending: 7 blocks of at most 65,536 rows, each with its own k range
awk 'BEGIN { print "k,v"; for (i = 0; i < 400000; i++) print i "," (i * 7) % 1000 }' >"$WORK/t.csv"
A="--home $WORK/bank-a"
expect_ok "upload" "$MC2" upload $A --schema "$WORK/t.yaml" --in "$WORK/t.csv" --as t
size=$(find "$WORK/state" -path '*tables/bank-a/*' -name '*.mc2t' -exec stat -c %s {} + | head -n 1)
check "the table is stored (${size:-no file})" test -n "$size"
Q="SELECT count(*) AS n, sum(v) AS s FROM t WHERE k < 1000"
want_s=$(awk 'BEGIN { for (i = 0; i < 1000; i++) s += (i * 7) % 1000; print s }')

# reads MODE-ARGS...: runs the query with mc2d under strace; prints the bytes mc2d sent from
# the table's file; the query's output is in $WORK/q.out
reads() {
  : >"$WORK/st"
  strace -f -p "$MPID" -o "$WORK/st" -qq -yy -e trace=sendfile 2>"$WORK/st.err" &
  SPID=$!
  for _ in $(seq 200); do # until strace is attached (mc2d's TracerPid), at most 10 s
    awk '$1 == "TracerPid:" { exit $2 == 0 }' "/proc/$MPID/status" && break
    sleep 0.05
  done
  "$MC2" sql $A "$@" "$Q" >"$WORK/q.out" 2>"$WORK/q.err"
  local rc=$?
  sleep 0.3
  kill "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
  SPID=
  [[ $rc -eq 0 ]] || echo "query failed ($rc): $(cat "$WORK/q.err")" >&2
  grep 'tables/bank-a/' "$WORK/st" | awk '{ n = $NF; if (n ~ /^[0-9]+$/) s += n } END { print s + 0 }'
}
enc=$(reads)
check "encryption mode: the answer 1000, $want_s ($(tr '\n' ' ' <"$WORK/q.out"))" \
  grep -Eq "(^|[^0-9])1000[^0-9]+${want_s}([^0-9]|$)" "$WORK/q.out"
obl=$(reads --oblivious)
check "oblivious mode: the same answer ($(tr '\n' ' ' <"$WORK/q.out"))" \
  grep -Eq "(^|[^0-9])1000[^0-9]+${want_s}([^0-9]|$)" "$WORK/q.out"
echo "table t: $size bytes stored; bytes mc2d sent from it: encryption mode $enc, oblivious mode $obl"
check "the trace saw the encryption-mode reads ($enc bytes)" test "$enc" -gt 0
check "encryption mode skips blocks: under a quarter of the table ($enc of $size bytes)" \
  test $((enc * 4)) -lt "${size:-0}"
check "oblivious mode reads every block: at least 90% of the table ($obl of $size bytes)" \
  test $((obl * 10)) -ge $((${size:-1} * 9))
finish
