#!/usr/bin/env bash
# test_meshrun.sh - the encrypted collectives (src/mesh/coll.h) over the host's MPI relay
# (src/mpirelay) with `mpirun -np 2` and `-np 4` (tests/tools/meshrun.c: the mesh runs inside
# each rank's process, so this tests the protocol and the transport, not enclave isolation).
# Checks, for each rank count: the control job (two runs, fresh nonces and keys) passes with
# the results equal to a plain computation; the relay's test-build fault hook
# (MC2_RELAY_FAULT) dropping, duplicating, replaying from the first run, reordering,
# bit-flipping and re-addressing (sender swap) one message of the second run each fails the
# job: non-zero exit, an integrity error naming the stage and the reason, no result line for
# that run; a rank that stops makes another fail within the timeout naming it. Also: the
# production relay (bench_cluster) has no fault hook, and a malformed MC2_RELAY_FAULT is
# refused. Needs Open MPI (mpirun, and a build that found MPI): otherwise it SKIPs (exit 77).
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?MC2_BUILD must point at the build directory}
skip() {
  echo "SKIP: $* (test_meshrun needs Open MPI: apt install openmpi-bin libopenmpi-dev, then" \
    "re-run cmake)"
  exit 77
}
command -v mpirun >/dev/null || skip "no mpirun"
[[ -x $B/mc2_meshrun && -x $B/bench_cluster ]] || skip "this build found no MPI (no mc2_meshrun)"
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# LeakSanitizer would report Open MPI's own allocations at exit (test_coll checks ours).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
# MC2_MPIRUN_ARGS: extra mpirun options. By default the shared-memory transport copies
# through its buffers rather than process_vm_readv (cross-memory attach), which containers
# without ptrace rights refuse; the test measures nothing, so the copy costs nothing here.
read -r -a EXTRA <<<"${MC2_MPIRUN_ARGS:---mca btl_vader_single_copy_mechanism none}"
mpi() { # mpi NP PROGRAM ARGS...: mpirun with this test's options, output in $WORK/out, err
  local np=$1
  shift
  echo "mpirun -np $np $(basename "$1") ${*:2} (MC2_RELAY_FAULT=${MC2_RELAY_FAULT:-})"
  timeout -k 5 40 mpirun --oversubscribe --bind-to none -np "$np" -x MC2_RELAY_FAULT \
    ${EXTRA[@]+"${EXTRA[@]}"} "$@" </dev/null >"$WORK/out" 2>"$WORK/err"
}

# KIND:STAGE:FROM and the reason the receiver must give. Stages (meshrun's plan): 0-1
# allreduce f64, 2-3 allreduce i64, 4 alltoallv, 5 bcast from rank 1, 6 gather to rank 0.
FAULTS=("drop:0:1|out of order" "dup:3:0|duplicate" "replay:4:1|belongs to another job"
  "reorder:5:1|out of order" "flip:6:1|does not authenticate"
  "sender:2:1|does not authenticate|no such edge")

for np in 2 4; do
  unset MC2_RELAY_FAULT
  if mpi "$np" "$B/mc2_meshrun"; then ok; else bad "np $np: control run failed: $(tail -5 "$WORK/err")"; fi
  check "np $np: control: two OK lines" test "$(grep -c '^meshrun: OK: run [12] of 2' "$WORK/out")" -eq 2
  for f in "${FAULTS[@]}"; do
    spec=${f%%|*} why=${f#*|} stage=$(cut -d: -f2 <<<"$spec")
    export MC2_RELAY_FAULT=$spec
    if mpi "$np" "$B/mc2_meshrun"; then
      bad "np $np, $spec: the job succeeded"
      continue
    fi
    check "np $np, $spec: error names stage $stage and the reason ($why): $(grep 'meshrun: rank' "$WORK/err" | head -2)" \
      grep -Eq "meshrun: rank [0-9]+: integrity error in stage $stage, .*($why)" "$WORK/err"
    check "np $np, $spec: the faulty run printed a result" bash -c "! grep -q 'OK: run 2' '$WORK/out'"
    check "np $np, $spec: the control run before it passed" grep -q 'OK: run 1 of 2' "$WORK/out"
    [[ $np == 4 ]] && echo "  np $np, $spec: $(grep -m1 'meshrun: rank' "$WORK/err")"
  done
  unset MC2_RELAY_FAULT
  start=$SECONDS
  if mpi "$np" "$B/mc2_meshrun" --quit 1 --timeout-ms 1000; then bad "np $np: --quit 1 succeeded"; fi
  check "np $np, rank 1 stops: another rank names it within the timeout: $(grep 'meshrun: rank' "$WORK/err" | head -2)" \
    grep -Eq "meshrun: rank [0-9]+: stage 0, receiving from rank 1: no message from rank 1 within 1000 ms" "$WORK/err"
  check "np $np, rank 1 stops: no result" bash -c "! grep -q 'OK: run 2' '$WORK/out'"
  check "np $np, rank 1 stops: failed in $((SECONDS - start)) s (timeout 1 s)" test $((SECONDS - start)) -lt 30
done

# The production relay has no fault hook: not in the binary, and the variable does nothing.
check "bench_cluster (production relay) contains no fault hook" bash -c "! grep -qa MC2_RELAY_FAULT '$B/bench_cluster'"
check "mc2_meshrun (test build) does" grep -qa MC2_RELAY_FAULT "$B/mc2_meshrun"
export MC2_RELAY_FAULT=flip:0:1
if mpi 2 "$B/bench_cluster" --bench 4096 --iters 1; then ok; else bad "bench_cluster with MC2_RELAY_FAULT set failed: $(tail -3 "$WORK/err")"; fi
check "bench_cluster: transcripts agree" grep -q 'cluster: transcripts agree' "$WORK/out"
export MC2_RELAY_FAULT=explode:1:1
if mpi 2 "$B/mc2_meshrun"; then bad "a malformed MC2_RELAY_FAULT was accepted"; fi
check "a malformed MC2_RELAY_FAULT is refused" grep -q "want KIND:STAGE:FROM" "$WORK/err"
finish
