#!/usr/bin/env bash
# bench_dist_sql.sh BUILD SF RANKS... - the 22 TPC-H queries on 1, 2, 4... ranks on this
# machine, in one run: for each N, N services (each with its own sim platform key and store);
# N = 1: the tables uploaded whole, `mc2 sql -f qQ.sql` on one enclave; N >= 2: the tables
# placed on the N services (`mc2 upload --place`) and `mc2 sql --ranks N` (the leader's mc2d
# starts the worker enclaves under `mpirun --oversubscribe`). Each query runs once untimed,
# then BENCH_DIST_SQL_RUNS times (default 1); the best time counts. Prints per query
#   dsql: ranks N q Q ms T mesh_bytes B mesh_msgs M
# (T: `mc2 sql` from start to the result written, client included; B, M: what all ranks sent
# over MPI during the query's last run, from mc2-rank's last lines, 0 for one enclave: the
# shuffles, broadcasts and gathers, sealed, plus the job bundle and the transcript check).
# Ranks share this machine's cores: on 2 cores a speed-up beyond 2 is impossible. Used by
# bench/run.sh (section cluster); exits 1 if a query fails.
set -u
B=${1:?usage: bench_dist_sql.sh BUILD SF RANKS...}
SF=$2
shift 2
RUNS=${BENCH_DIST_SQL_RUNS:-1}
MC2=$B/mc2
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc2-bench-dsql.XXXXXX")
DIRS=()
cleanup() {
  for d in "${DIRS[@]}"; do "$MC2" stop --dir "$d" >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
die() {
  echo "dsql: FAILED: $*" >&2
  exit 1
}
now_ms() { date +%s%3N; }
# shellcheck source=bench/dist_lib.sh
source "$(dirname "$0")/dist_lib.sh"
TABLES=(region nation supplier customer part partsupp orders lineitem)
"$MC2" init --name alice --home "$WORK/alice" >/dev/null || die "mc2 init"
A=(--home "$WORK/alice")
"$MC2" gen tpch --sf "$SF" --out "$WORK/tpch" >/dev/null 2>&1 || die "mc2 gen tpch --sf $SF"

# mesh_sent LOG N: waits (up to 5 s) for the N-1 workers' and rank 0's last lines in LOG;
# prints "bytes messages" summed over them.
mesh_sent() {
  for _ in $(seq 50); do
    [[ $(grep -c 'sent [0-9]* mesh messages' "$1") -ge $2 ]] && break
    sleep 0.1
  done
  awk '/sent [0-9]+ mesh messages/ { m += $5; b += $8 } END { print b + 0, m + 0 }' "$1"
}

for n in "$@"; do
  bench_services "$n" "bdsql$n" $((n > 1 ? 1 : 0))
  svc=("${SVC[@]}")
  place=$PLACE
  for t in "${TABLES[@]}"; do
    where=(--service "${svc[0]}")
    [[ $n -gt 1 ]] && where=(--place "$place")
    "$MC2" upload "${A[@]}" --schema "$SRC/schemas/tpch/$t.yaml" --in "$WORK/tpch/$t.tbl" --as "$t" \
      "${where[@]}" >/dev/null 2>"$WORK/err" || die "upload $t: $(cat "$WORK/err")"
  done
  ranks=()
  [[ $n -gt 1 ]] && ranks=(--ranks "$n")
  for q in $(seq 1 22); do
    best=""
    for ((k = 0; k <= RUNS; k++)); do
      [[ $n -gt 1 ]] && : >"$WORK/n$n-s0/mesh.log"
      t0=$(now_ms)
      "$MC2" sql "${A[@]}" --service "${svc[0]}" -f "$SRC/tests/data/tpch/queries/q$q.sql" \
        "${ranks[@]}" --csv --out "$WORK/r.csv" >/dev/null 2>"$WORK/err" ||
        die "q$q on $n ranks: $(cat "$WORK/err")"
      ms=$(($(now_ms) - t0))
      [[ $k -gt 0 && (-z $best || $ms -lt $best) ]] && best=$ms
    done
    bytes=0 msgs=0
    [[ $n -gt 1 ]] && read -r bytes msgs < <(mesh_sent "$WORK/n$n-s0/mesh.log" "$n")
    echo "dsql: ranks $n q $q ms $best mesh_bytes $bytes mesh_msgs $msgs"
  done
  for ((r = 0; r < n; r++)); do "$MC2" stop --dir "$WORK/n$n-s$r" >/dev/null 2>&1; done
done
