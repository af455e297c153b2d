#!/usr/bin/env bash
# bench_dist.sh BUILD ROWS ROUNDS RANKS... - distributed GBDT training (param ranks N) on this
# machine, against the same training on one enclave, in the same run: N services (each with
# its own sim platform key and store), the table placed on them (`mc2 upload --place`), the
# leader's mc2d with a mesh launcher running `mpirun --oversubscribe -np N mc2-rank`. For each
# N prints one line
#   dist: ranks N rows R rounds K ms T one_ms T1 mesh_bytes B mesh_msgs M
# (T: submission to done on N ranks; T1: the same job on one enclave over the whole table;
# B, M: the mesh messages all ranks sent over MPI, from mc2-rank's last line). Ranks share
# this machine's cores: on 2 cores a speed-up beyond 2 is impossible. Used by bench/run.sh
# (section cluster); exits 1 if a job fails.
set -u
B=${1:?usage: bench_dist.sh BUILD ROWS ROUNDS RANKS...}
ROWS=$2
ROUNDS=$3
shift 3
MC2=$B/mc2
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc2-bench-dist.XXXXXX")
DIRS=()
cleanup() {
  for d in "${DIRS[@]}"; do "$MC2" stop --dir "$d" >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
die() {
  echo "dist: FAILED: $*" >&2
  exit 1
}
now_ms() { date +%s%3N; }
# shellcheck source=bench/dist_lib.sh
source "$(dirname "$0")/dist_lib.sh"
port() { "$B/hostscan" port; }

"$MC2" init --name alice --home "$WORK/alice" >/dev/null || die "mc2 init"
A=(--home "$WORK/alice")
awk -v n="$ROWS" 'BEGIN { print "age,income,debt,defaulted"; srand(7);
  for (i = 0; i < n; i++) { a = 20 + int(rand() * 50); inc = 1000 + rand() * 5000;
    d = rand() * 4000; y = (d / inc + rand() * 0.3 > 0.9) ? 1 : 0;
    printf "%d,%.2f,%.2f,%d\n", a, inc, d, y } }' >"$WORK/loans.csv"

# job SERVICE ARGS...: submits a train job and waits for it; prints the milliseconds
job() {
  local svc=$1 id t0 st
  shift
  t0=$(now_ms)
  id=$("$MC2" submit "${A[@]}" --service "$svc" --kind train --param label=defaulted \
    --param objective=binary:logistic --param num_round="$ROUNDS" --param max_depth=6 \
    --recipient alice "$@" 2>/dev/null | grep -Eo '[0-9]+' | head -1)
  [[ -n $id ]] || die "submit $*"
  for _ in $(seq 1 36000); do
    st=$("$MC2" job "$id" "${A[@]}" --service "$svc" 2>/dev/null | grep -E '^status:')
    case $st in
    "status: done"*) echo $(($(now_ms) - t0)) && return 0 ;;
    "status: failed"*) die "job $id: $st" ;;
    esac
    sleep 0.05
  done
  die "job $id did not finish"
}

for n in "$@"; do
  bench_services "$n" "bench$n" 1
  svc=("${SVC[@]}")
  place=$PLACE
  "$MC2" upload "${A[@]}" --schema "$SRC/examples/loans.yaml" --in "$WORK/loans.csv" --as loans \
    --place "$place" >/dev/null 2>&1 || die "upload --place"
  "$MC2" upload "${A[@]}" --schema "$SRC/examples/loans.yaml" --in "$WORK/loans.csv" --as whole \
    --service "${svc[0]}" >/dev/null 2>&1 || die "upload"
  one=$(job "${svc[0]}" --input alice/whole) || exit 1
  : >"$WORK/n$n-s0/mesh.log"
  ms=$(job "${svc[0]}" --input alice/loans --param ranks="$n") || exit 1
  sleep 1 # the ranks' last lines
  read -r bytes msgs < <(awk '/sent [0-9]+ mesh messages/ { m += $5; b += $8 } END { print b + 0, m + 0 }' \
    "$WORK/n$n-s0/mesh.log")
  echo "dist: ranks $n rows $ROWS rounds $ROUNDS ms $ms one_ms $one mesh_bytes $bytes mesh_msgs $msgs"
  for ((r = 0; r < n; r++)); do "$MC2" stop --dir "$WORK/n$n-s$r" >/dev/null 2>&1; done
done
