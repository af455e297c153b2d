#!/usr/bin/env bash
# test_dist_jobs.sh - distributed jobs, one enclave per rank, on this machine: N = 2 and 4
# services (each with its own sim platform key and store), a table placed on them (`mc2 upload
# --place`: each host holds only its part), the leader's mc2d started with a mesh launcher that
# runs `mpirun --oversubscribe -np N mc2-rank`. Checks, for each N:
#   - rowcount on N ranks (every rank counts its own part, an encrypted allreduce) gives the
#     table's row count, as a one-enclave rowcount of the whole table does;
#   - train on N ranks gives a model equal to one-enclave training on the whole table within
#     the tolerance docs/gbdt.md states (predictions compared with xgboost 1.7.4 on every row);
#   - predict on N ranks (each rank scores its part, the leader gathers) gives byte for byte
#     the predictions of one enclave over the whole table; workers write no result; oblivious
#     predict on several ranks is refused at submission;
#   - (N = 2) a worker enclave killed mid-job fails the job, naming the rank, and nothing is
#     released; the next job, submitted at once (mc2d starts its launcher once the previous
#     one exited), succeeds;
#   - (N = 2) a host that swaps in another host's part fails the job: at the leader with the
#     integrity error in the job's status, at a worker naming the rank (the reason is in the
#     launcher's log).
# Needs Open MPI and a build with mc2-rank (else SKIP, exit 77).
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
PY=/usr/bin/python3
skip() {
  echo "SKIP: $* (needs Open MPI: apt install openmpi-bin libopenmpi-dev, then re-run cmake)"
  exit 77
}
command -v mpirun >/dev/null || skip "no mpirun"
[[ -x $B/mc2-rank ]] || skip "this build found no MPI (no mc2-rank)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
"$MC2" init --name alice --home "$WORK/alice" >/dev/null
A=(--home "$WORK/alice")
awk 'BEGIN { print "age,income,debt,defaulted"; srand(7);
  for (i = 0; i < 120000; i++) { a = 20 + int(rand() * 50); inc = 1000 + rand() * 5000;
    d = rand() * 4000; y = (d / inc + rand() * 0.3 > 0.9) ? 1 : 0;
    printf "%d,%.2f,%.2f,%d\n", a, inc, d, y } }' >"$WORK/loans.csv"
cut -d, -f1-3 "$WORK/loans.csv" >"$WORK/score.csv" # the features: rows to score
grep -v defaulted "$MC2_SRC/examples/loans.yaml" >"$WORK/score.yaml"

# wait_job ID SERVICE: waits until the job is done or failed; its `mc2 job` output in $WORK/job
wait_job() {
  for _ in $(seq 1 600); do
    "$MC2" job "$1" "${A[@]}" --service "$2" >"$WORK/job" 2>&1
    grep -Eq "^status: (done|failed)" "$WORK/job" && return 0
    sleep 0.2
  done
  return 1
}
# submit_job SERVICE ARGS...: submits, prints the job id
submit_job() {
  local svc=$1
  shift
  "$MC2" submit "${A[@]}" --service "$svc" "$@" --recipient alice 2>"$WORK/err" |
    grep -Eo '[0-9]+' | head -1
}

run_cluster() { # run_cluster N
  local n=$1 svc place
  rank_services "$n" "dist$n" alice || return
  svc=("${RANK_SVC[@]}")
  place=$RANK_PLACE
  expect_ok "N=$n: upload --place" "$MC2" upload "${A[@]}" --schema "$MC2_SRC/examples/loans.yaml" \
    --in "$WORK/loans.csv" --as loans --place "$place"
  expect_ok "N=$n: upload whole" "$MC2" upload "${A[@]}" --schema "$MC2_SRC/examples/loans.yaml" \
    --in "$WORK/loans.csv" --as whole --service "${svc[0]}"
  expect_ok "N=$n: upload --place (rows to score)" "$MC2" upload "${A[@]}" --schema "$WORK/score.yaml" \
    --in "$WORK/score.csv" --as score --place "$place"
  expect_ok "N=$n: upload whole (rows to score)" "$MC2" upload "${A[@]}" --schema "$WORK/score.yaml" \
    --in "$WORK/score.csv" --as wscore --service "${svc[0]}"

  # rowcount on N ranks
  local id
  id=$(submit_job "${svc[0]}" --kind rowcount --input alice/loans --param ranks="$n")
  check "N=$n: rowcount submitted ($(cat "$WORK/err"))" test -n "$id"
  wait_job "${id:-0}" "${svc[0]}"
  check "N=$n: rowcount on $n ranks is done: $(grep -E "^status" "$WORK/job")" grep -q "^status: done" "$WORK/job"
  expect_ok "N=$n: rowcount result" "$MC2" download "${A[@]}" --service "${svc[0]}" --job "${id:-0}" --out "$WORK/rc$n.csv"
  check "N=$n: rowcount = 120000 ($(tr '\n' ' ' <"$WORK/rc$n.csv"))" grep -q "120000" "$WORK/rc$n.csv"

  # train on N ranks vs one enclave
  local tid sid
  tid=$(submit_job "${svc[0]}" --kind train --input alice/loans --param label=defaulted \
    --param objective=binary:logistic --param num_round=5 --param max_depth=4 --param ranks="$n")
  sid=$(submit_job "${svc[0]}" --kind train --input alice/whole --param label=defaulted \
    --param objective=binary:logistic --param num_round=5 --param max_depth=4)
  wait_job "${tid:-0}" "${svc[0]}"
  check "N=$n: train on $n ranks is done: $(grep -E "^status" "$WORK/job")" grep -q "^status: done" "$WORK/job"
  wait_job "${sid:-0}" "${svc[0]}"
  expect_ok "N=$n: model get (ranks)" "$MC2" model get "${A[@]}" --service "${svc[0]}" --job "${tid:-0}" --out "$WORK/d$n.mc2m"
  expect_ok "N=$n: model get (one)" "$MC2" model get "${A[@]}" --service "${svc[0]}" --job "${sid:-0}" --out "$WORK/s$n.mc2m"
  "$MC2" model export --in "$WORK/d$n.mc2m" --out "$WORK/d$n.json" >/dev/null 2>&1
  "$MC2" model export --in "$WORK/s$n.mc2m" --out "$WORK/s$n.json" >/dev/null 2>&1
  if $PY -c 'import xgboost, numpy' 2>/dev/null; then
    $PY "$MC2_SRC/tests/cli/gbdt_cmp.py" "$WORK/d$n.json" "$WORK/s$n.json" "$WORK/loans.csv" \
      >"$WORK/cmp" 2>&1
    local cmp_rc=$?
    echo "N=$n: $(cat "$WORK/cmp")"
    check "N=$n: the model equals one-enclave training within tolerance: $(cat "$WORK/cmp")" test $cmp_rc -eq 0
  fi

  predict_cmp "$n" "${svc[0]}" "${sid:-0}"
  if [[ $n -eq 2 ]]; then
    expect_fail "N=2: a kind that runs on one enclave only refuses ranks" 1 \
      "fedavg jobs run on one enclave only \\(parameter 'ranks'" \
      "$MC2" submit "${A[@]}" --service "${svc[0]}" --kind fedavg --input alice/whole --param ranks=2 \
      --recipient alice
    faults "${svc[0]}" "$place"
  fi
  for ((r = 0; r < n; r++)); do "$MC2" stop --dir "$WORK/n$n-s$r" >/dev/null 2>&1; done
}

# predict_job SERVICE INPUT OBJ SHA [PARAM...]: submits a predict job of model OBJ (sealed
# SHA-256 SHA) on INPUT, alice approves it (as model owner: the model key for this job only),
# and waits for it; prints the job id.
predict_job() {
  local svc=$1 in=$2 obj=$3 sha=$4 id
  shift 4
  id=$(submit_job "$svc" --kind predict --input "$in" --param "model=$obj" \
    --param "model_sha256=$sha" --param model_owner=alice "$@")
  "$MC2" approve "${id:-0}" "${A[@]}" --service "$svc" >/dev/null 2>&1
  wait_job "${id:-0}" "$svc"
  echo "${id:-0}"
}

# predict_cmp N LEADER TRAIN_JOB: the model of TRAIN_JOB scores the placed table on N ranks and
# the whole copy on one enclave: the downloaded predictions are the same bytes (but for the
# table's name in the first column); the worker hosts' stores got no result.
predict_cmp() {
  local n=$1 svc0=$2 kf obj sha pid wid r
  # the newest key of a job $3 (each N's services count jobs from 1)
  kf=$(grep -l "^object results/job-$3-" $(ls -t "$WORK"/alice/models/*.key) 2>/dev/null | head -1)
  obj=$(sed -n 's/^object //p' "$kf")
  sha=$(sed -n 's/^sealed_sha256 //p' "$kf")
  check "N=$n: alice keeps the key of the one-enclave model" test -n "$obj" -a -n "$sha"
  pid=$(predict_job "$svc0" alice/score "$obj" "$sha" --param ranks="$n")
  check "N=$n: predict on $n ranks is done: $(grep -E "^status" "$WORK/job")" grep -q "^status: done" "$WORK/job"
  wid=$(predict_job "$svc0" alice/wscore "$obj" "$sha")
  check "N=$n: predict on one enclave is done: $(grep -E "^status" "$WORK/job")" grep -q "^status: done" "$WORK/job"
  expect_ok "N=$n: download the predictions (ranks)" "$MC2" download "${A[@]}" --service "$svc0" --job "$pid" --out "$WORK/pd$n.csv"
  expect_ok "N=$n: download the predictions (one)" "$MC2" download "${A[@]}" --service "$svc0" --job "$wid" --out "$WORK/ps$n.csv"
  check "N=$n: 120000 predictions on $n ranks" test "$(wc -l <"$WORK/pd$n.csv")" = 120001
  check "N=$n: the predictions on $n ranks are those of one enclave, row for row" \
    cmp -s <(sed 's/^wscore,/score,/' "$WORK/ps$n.csv") "$WORK/pd$n.csv"
  # the same through `mc2 predict --ranks N` (the model one enclave trained, by its object:
  # N=2 and N=4 trained the same bytes, so the model file names two kept keys)
  expect_ok "N=$n: mc2 predict --ranks $n" "$MC2" predict "${A[@]}" --service "$svc0" \
    --model "$obj" --table alice/score --ranks "$n" --wait 300
  local cid
  cid=$(sed -n 's/^submitted predict job \([0-9]*\).*/\1/p' "$WORK/out")
  expect_ok "N=$n: download mc2 predict --ranks's predictions" "$MC2" download "${A[@]}" \
    --service "$svc0" --job "${cid:-0}" --out "$WORK/pc$n.csv"
  check "N=$n: mc2 predict --ranks $n gives the same predictions" cmp -s "$WORK/pd$n.csv" "$WORK/pc$n.csv"
  for ((r = 1; r < n; r++)); do
    check "N=$n: host $r's store holds no result" test -z "$(ls -A "$WORK/n$n-s$r/store/results" 2>/dev/null)"
  done
  if [[ $n -eq 2 ]]; then
    expect_fail "N=2: mc2 predict --ranks with --oblivious is a usage error" 2 "encryption mode only" \
      "$MC2" predict "${A[@]}" --service "$svc0" --model "$obj" --table alice/score \
      --ranks 2 --oblivious
    expect_fail "N=2: oblivious predict on several ranks is refused" 1 "oblivious prediction runs on one enclave only" \
      "$MC2" submit "${A[@]}" --service "$svc0" --kind predict --input alice/score --param "model=$obj" \
      --param "model_sha256=$sha" --param model_owner=alice --param oblivious=1 --param ranks=2 --recipient alice
  fi
}

# faults LEADER (2 ranks, hosts n2-s0 and n2-s1): a worker enclave killed mid-job, then a host
# that presents another rank's part; each fails the job with the reason and releases nothing,
# and the next job succeeds.
faults() {
  local svc0=$1 id rank_pid enc_pid
  id=$(submit_job "$svc0" --kind train --input alice/loans --param label=defaulted \
    --param objective=binary:logistic --param num_round=400 --param max_depth=6 --param ranks=2)
  enc_pid=""
  for _ in $(seq 1 100); do # the worker enclave: the child of rank 1's mc2-rank
    for rank_pid in $(pgrep -f "mc2-rank --leader $WORK/n2-s0/mesh.sock"); do
      enc_pid=$(pgrep -P "$rank_pid" -f mc2-enclave | head -1)
      [[ -n $enc_pid ]] && break
    done
    [[ -n $enc_pid ]] && break
    sleep 0.1
  done
  check "fault: found the worker enclave of the running job" test -n "$enc_pid"
  sleep 0.5
  [[ -n $enc_pid ]] && kill -9 "$enc_pid"
  wait_job "${id:-0}" "$svc0"
  check "fault: a killed worker enclave fails the job naming rank 1: $(grep -E "^status" "$WORK/job")" \
    grep -Eq "^status: failed.*rank 1" "$WORK/job"
  "$MC2" download "${A[@]}" --service "$svc0" --job "${id:-0}" --out "$WORK/none" >/dev/null 2>&1
  check "fault: nothing was released" test ! -s "$WORK/none"
  id=$(submit_job "$svc0" --kind rowcount --input alice/loans --param ranks=2)
  wait_job "${id:-0}" "$svc0"
  check "fault: the next job succeeds: $(grep -E "^status" "$WORK/job")" grep -q "^status: done" "$WORK/job"
  # a host that swaps in the other rank's part: the leader's host holds part 2 of 2
  local p0=$WORK/n2-s0/store/tables/alice/loans.mc2t p1=$WORK/n2-s1/store/tables/alice/loans.mc2t
  cp "$p0" "$WORK/p0.keep"
  cp "$p1" "$p0"
  id=$(submit_job "$svc0" --kind rowcount --input alice/loans --param ranks=2)
  wait_job "${id:-0}" "$svc0"
  check "fault: another rank's part at the leader fails the job: $(grep -E "^status" "$WORK/job")" \
    grep -Eq "^status: failed.*does not hold rank 0's blocks" "$WORK/job"
  # ... and at the worker: the leader hears its rank failed, the reason is in the worker's log
  cp "$WORK/p0.keep" "$p0"
  cp "$WORK/p0.keep" "$p1"
  id=$(submit_job "$svc0" --kind rowcount --input alice/loans --param ranks=2)
  wait_job "${id:-0}" "$svc0"
  check "fault: another rank's part at the worker fails the job naming rank 1: $(grep -E "^status" "$WORK/job")" \
    grep -Eq "^status: failed.*rank 1" "$WORK/job"
  check "fault: the worker's reason is in the launcher's log" \
    grep -q "does not hold rank 1's blocks" "$WORK/n2-s0/mesh.log"
  # a worker that fails on its rows: the reason (it names a sealed column) stays out of the
  # host's log, as from a job's public status; the leader's job names the rank
  awk -F, 'NR <= 70001 { print; next } { print $1 "," $2 "," $3 "," }' \
    "$WORK/loans.csv" >"$WORK/nulls.csv"
  expect_ok "fault: upload a table whose last 50000 rows (rank 1's blocks) have NULL labels" "$MC2" upload "${A[@]}" \
    --schema "$MC2_SRC/examples/loans.yaml" --in "$WORK/nulls.csv" --as nulls --place "$2"
  : >"$WORK/n2-s0/mesh.log"
  id=$(submit_job "$svc0" --kind train --input alice/nulls --param label=defaulted \
    --param objective=binary:logistic --param num_round=2 --param ranks=2)
  wait_job "${id:-0}" "$svc0"
  check "fault: bad rows at the worker fail the job naming rank 1: $(grep -E "^status" "$WORK/job")" \
    grep -Eq "^status: failed.*rank 1" "$WORK/job"
  check "fault: the worker says it failed on its data" \
    grep -q "worker: the job failed on this rank's data" "$WORK/n2-s0/mesh.log"
  check "fault: the worker's data reason stays out of the host's log" \
    bash -c "! grep -q \"label column\" '$WORK/n2-s0/mesh.log'"
}

trap 'for d in "$WORK"/n*-s*; do "$MC2" stop --dir "$d" >/dev/null 2>&1; done; pkill -f "mc2-rank --leader $WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
run_cluster 2
run_cluster 4
finish
