#!/usr/bin/env bash
# test_dist_sql.sh - distributed SQL, one enclave per rank, on this machine: the 22 TPC-H
# queries (SF 0.01: LINEITEM, ORDERS and PARTSUPP span several blocks, the small tables one)
# over tables placed on N = 2 and 4 services (`mc2 upload --place`: each host stores only its
# part), run with `mc2 sql --ranks N` (the leader's mc2d starts the worker enclaves under
# `mpirun --oversubscribe`), must give the rows one enclave gives over whole copies of the same
# tables, for every query (compared as sorted CSV: rows that tie on every ORDER BY key may
# come in another order; test_sql_diff checks the order itself against SQLite). Also: the
# workers' stores get no result; oblivious SQL on several ranks is refused with the reason.
# Needs Open MPI and a build with mc2-rank (else SKIP, exit 77).
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
skip() {
  echo "SKIP: $* (needs Open MPI: apt install openmpi-bin libopenmpi-dev, then re-run cmake)"
  exit 77
}
command -v mpirun >/dev/null || skip "no mpirun"
[[ -x $B/mc2-rank ]] || skip "this build found no MPI (no mc2-rank)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
trap 'for d in "${RANK_DIRS[@]}"; do "$MC2" stop --dir "$d" >/dev/null 2>&1; done; rm -rf "$WORK"' EXIT
TABLES=(region nation supplier customer part partsupp orders lineitem)
Q=$MC2_SRC/tests/data/tpch/queries
"$MC2" init --name alice --home "$WORK/alice" >/dev/null
A=(--home "$WORK/alice")
expect_ok "generate TPC-H SF 0.01" "$MC2" gen tpch --sf 0.01 --out "$WORK/tpch" --threads 1

run_cluster() { # run_cluster N
  local n=$1 svc place ins=() t q
  rank_services "$n" "dsql$n" alice || return
  svc=("${RANK_SVC[@]}")
  place=$RANK_PLACE
  for t in "${TABLES[@]}"; do
    expect_ok "N=$n: upload --place $t" "$MC2" upload "${A[@]}" --schema "$MC2_SRC/schemas/tpch/$t.yaml" \
      --in "$WORK/tpch/$t.tbl" --as "$t" --place "$place"
    expect_ok "N=$n: upload a whole copy of $t" "$MC2" upload "${A[@]}" \
      --schema "$MC2_SRC/schemas/tpch/$t.yaml" --in "$WORK/tpch/$t.tbl" --as "w_$t" --service "${svc[0]}"
    ins+=(--input "$t=alice/w_$t")
  done
  local same=0 t0 t1 td=0 ts=0
  for q in $(seq 1 22); do
    t0=$(date +%s%N)
    "$MC2" sql "${A[@]}" --service "${svc[0]}" -f "$Q/q$q.sql" --ranks "$n" --csv \
      --out "$WORK/d$n-q$q.csv" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    t1=$(date +%s%N)
    td=$((td + (t1 - t0) / 1000000))
    if [[ $rc -ne 0 ]]; then
      bad "N=$n: q$q on $n ranks (exit $rc): $(cat "$WORK/err") $(tail -3 "$WORK/n$n-s0/mesh.log" 2>/dev/null)"
      continue
    fi
    t0=$(date +%s%N)
    if ! "$MC2" sql "${A[@]}" --service "${svc[0]}" -f "$Q/q$q.sql" "${ins[@]}" --csv \
      --out "$WORK/s$n-q$q.csv" >"$WORK/out" 2>"$WORK/err"; then
      bad "N=$n: q$q on one enclave: $(cat "$WORK/err")"
      continue
    fi
    t1=$(date +%s%N)
    ts=$((ts + (t1 - t0) / 1000000))
    if cmp -s <(tail -n +2 "$WORK/s$n-q$q.csv" | LC_ALL=C sort) \
      <(tail -n +2 "$WORK/d$n-q$q.csv" | LC_ALL=C sort) &&
      cmp -s <(head -1 "$WORK/s$n-q$q.csv") <(head -1 "$WORK/d$n-q$q.csv"); then
      ok
      same=$((same + 1))
    else
      bad "N=$n: q$q on $n ranks differs from one enclave: $(diff <(LC_ALL=C sort "$WORK/s$n-q$q.csv") \
        <(LC_ALL=C sort "$WORK/d$n-q$q.csv") | head -6)"
    fi
  done
  echo "N=$n: $same of 22 TPC-H queries give one enclave's rows ($td ms on $n ranks, $ts ms on one enclave)"
  check "N=$n: q1 has its 4 groups" test "$(wc -l <"$WORK/d$n-q1.csv")" = 5
  for ((r = 1; r < n; r++)); do
    check "N=$n: host $r's store holds no result" test -z "$(ls -A "$WORK/n$n-s$r/store/results" 2>/dev/null)"
  done
  if [[ $n -eq 2 ]]; then
    expect_fail "N=2: oblivious SQL on several ranks is refused" 1 "oblivious SQL runs on one enclave" \
      "$MC2" submit "${A[@]}" --service "${svc[0]}" --kind sql --input alice/lineitem \
      --param "query=SELECT count(*) FROM lineitem" --param oblivious=1 --param ranks=2 --recipient alice
    expect_fail "N=2: mc2 sql --ranks with --oblivious is a usage error" 2 "encryption mode only" \
      "$MC2" sql "${A[@]}" --service "${svc[0]}" --ranks 2 --oblivious "SELECT count(*) FROM lineitem"
  fi
  for ((r = 0; r < n; r++)); do "$MC2" stop --dir "$WORK/n$n-s$r" >/dev/null 2>&1; done
}

run_cluster 2
run_cluster 4
finish
