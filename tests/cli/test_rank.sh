#!/usr/bin/env bash
# test_rank.sh - the hosts' side of a distributed job (docs/cluster.md, "Distributed jobs"):
# a real mc2d with --mesh-launcher, whose launcher runs `mpirun --oversubscribe -np N
# mc2-rank ...`, relays a mesh between the leader enclave and N-1 worker enclaves. The
# enclaves are stand-ins (tests/tools/fake_rank_enclave.c, signed here with a test key) that
# speak the mesh frames and check what the hosts deliver: every rank's hello in PEERS, one
# ~100 KB message from every other rank with exactly its bytes, a worker's writes and
# counter refused and its reads served read-only. Checks, for -np 2 and 3: the run passes at
# every rank, a second launch while one runs is refused, mesh.sock is mode 0600, mesh.log
# holds the ranks' output, the launcher is reaped (exit status 0) and no process is left; a
# launcher that stays after the job and ignores SIGTERM is killed (SIGTERM after 10 s,
# SIGKILL 2 s later).
# Faults: a worker enclave that dies after PEERS, or cannot start, makes the leader get
# EIF_MESH_FAIL naming that rank and why (and the other worker one too); a worker enclave
# that never says hello makes its rank give up after --timeout-s naming what it waited for,
# and the leader hears that the relay closed; a launcher that exits
# early makes the leader get EIF_MESH_FAIL with its exit status and mesh.log's last line; a
# relay that sends another frame type gets the mesh failed and its launcher ended, and a
# second connection to mesh.sock is closed at once; without --mesh-launcher the leader gets
# "this service has no mesh launcher". Also mc2-rank's usage errors and mc2d's refusal of a
# launcher that is not executable. Needs Open MPI (mpirun, and a build that found MPI):
# otherwise it SKIPs (exit 77).
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?MC2_BUILD must point at the build directory}
skip() {
  echo "SKIP: $* (test_rank needs Open MPI: apt install openmpi-bin libopenmpi-dev, then" \
    "re-run cmake)"
  exit 77
}
command -v mpirun >/dev/null || skip "no mpirun"
[[ -x $B/mc2-rank && -x $B/fake_rank_enclave ]] || skip "this build found no MPI (no mc2-rank)"
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} # Open MPI's own allocations at exit
MPIARGS=${MC2_MPIRUN_ARGS:---mca btl_vader_single_copy_mechanism none}

# Three hosts' state directories (one machine), the signed fake enclave, the policy.
"$MC2" init --name alice --home "$WORK/alice" >/dev/null
for r in 0 1 2; do pk[r]=$("$MC2" service init --dir "$WORK/d$r"); done
mkdir "$WORK/bin"
FAKE=$WORK/bin/fake-enclave
cp "$B/fake_rank_enclave" "$FAKE"
"$MC2" enclave keygen --out "$WORK/signer.pem" >/dev/null
"$MC2" enclave sign --key "$WORK/signer.pem" --enclave "$FAKE" >/dev/null
"$MC2" policy init --out "$WORK/c.yaml" --consortium fake --party "alice=$WORK/alice/identity.crt" \
  --recipient alice --enclave "$FAKE" --allow-simulation --sim-platform-key "${pk[0]}" >/dev/null
cp "$WORK/c.yaml" "$WORK/d1/cluster-policy.yaml"
cp "$WORK/c.yaml" "$WORK/d2/policy.yaml" # the fallback name

# launcher NP [stuck] [TIMEOUT]: the launcher script for NP ranks (it also records the
# socket's mode); a stuck one ignores SIGTERM and stays after mpirun is done. mc2-rank's
# --timeout-s: TIMEOUT (default 60).
launcher() {
  local dirs=$WORK/d0 r pre=exec post=
  for ((r = 1; r < $1; r++)); do dirs+=,$WORK/d$r; done
  [[ ${2:-} == stuck ]] && pre="trap '' TERM;" post="; sleep 60"
  cat >"$WORK/launch.sh" <<EOF
#!/bin/sh
stat -c %a "\$2" >"$WORK/sockmode"
$pre mpirun --oversubscribe --bind-to none -np "\$1" $MPIARGS "$B/mc2-rank" --leader "\$2" \\
  --dirs $dirs --enclave "$FAKE" --timeout-s ${3:-60}$post
EOF
  chmod +x "$WORK/launch.sh"
}
# serve CONF [MC2D-ARGS...]: mc2d with the fake leader (which stops it when done).
serve() {
  printf '%s\n' "$1" >"$WORK/bin/fake-mesh.conf"
  shift
  rm -f "$WORK/d0/mesh.log" "$WORK/sockmode"
  timeout -k 5 120 "$B/mc2d" --dir "$WORK/d0" --policy "$WORK/c.yaml" \
    --listen "127.0.0.1:$(free_port)" --enclave "$FAKE" "$@" 2>"$WORK/log"
}
# No process of this test's left (mpirun, mc2-rank, enclaves: their command lines name $WORK).
no_leftovers() {
  local i
  for i in $(seq 50); do
    pgrep -f "$WORK" >/dev/null || return 0
    sleep 0.1
  done
  echo "left over: $(pgrep -af "$WORK")" >&2
  return 1
}

for np in 2 3; do
  launcher "$np"
  serve "$(printf 'ranks %s\nbusy-check' "$np")" --mesh-launcher "$WORK/launch.sh"
  if grep -q "fake-rank-enclave: rank 0: PASS" "$WORK/log"; then ok; else
    bad "np $np: the leader: $(grep -h "fake-rank-enclave\|mc2-rank" "$WORK/log" "$WORK/d0/mesh.log")"
  fi
  for ((r = 1; r < np; r++)); do
    check "np $np: worker rank $r passed: $(grep -h "rank $r" "$WORK/d0/mesh.log" | head -3)" \
      grep -q "fake-rank-enclave: rank $r: PASS$" "$WORK/d0/mesh.log"
  done
  check "np $np: a second launch while one runs is refused" \
    grep -q "mesh 8: another distributed job is running" "$WORK/log"
  check "np $np: mesh.sock was mode 0600" test "$(cat "$WORK/sockmode")" = 600
  check "np $np: mesh.log has the ranks' output" grep -q "mc2-rank: rank 0: the leader ended the mesh (ok)" "$WORK/d0/mesh.log"
  check "np $np: the launcher was reaped: $(grep 'launcher ended' "$WORK/log")" \
    grep -q "mesh 7: the launcher ended (exit status 0)" "$WORK/log"
  check "np $np: mesh.sock is removed when mc2d stops" test ! -e "$WORK/d0/mesh.sock"
  check "np $np: no process left" no_leftovers
done

# A launcher that stays after the job and ignores SIGTERM: mc2d sends its process group
# SIGTERM 10 s after the END, SIGKILL 2 s later, and reaps it.
launcher 2 stuck
start=$SECONDS
serve "ranks 2" --mesh-launcher "$WORK/launch.sh"
check "a stuck launcher: the run passed" grep -q "fake-rank-enclave: rank 0: PASS" "$WORK/log"
check "a stuck launcher: SIGTERM, then SIGKILL: $(grep -h 'SIG\|launcher ended' "$WORK/log")" \
  grep -q "mesh 7: the launcher ended (killed by signal 9)" "$WORK/log"
check "a stuck launcher: SIGTERM came first" grep -q "mesh 7: SIGTERM to the launcher's process group" "$WORK/log"
check "a stuck launcher: ended in $((SECONDS - start)) s (10 + 2 s after the job)" test $((SECONDS - start)) -ge 12
check "a stuck launcher: no process left" no_leftovers

# A worker enclave dies after PEERS: the leader (and the other worker) learn which.
launcher 3
serve "$(printf 'ranks 3\nbusy-check\ndie 2\nexpect-fail rank 2: its enclave stopped (exit status 3)')" \
  --mesh-launcher "$WORK/launch.sh"
if grep -q "fake-rank-enclave: rank 0: PASS: failed as wanted" "$WORK/log"; then ok; else
  bad "a dying worker: $(grep -h "fake-rank-enclave\|mc2-rank" "$WORK/log" "$WORK/d0/mesh.log")"
fi
check "a dying worker: the other worker's mesh failed too" \
  grep -q "fake-rank-enclave: rank 1: PASS (the mesh failed)" "$WORK/d0/mesh.log"
check "a dying worker: the launcher was reaped: $(grep 'launcher ended' "$WORK/log")" \
  grep -q "mesh 7: the launcher ended (exit status 1)" "$WORK/log"
check "a dying worker: no process left" no_leftovers

# A worker enclave that cannot start (its host has no policy): the leader learns which.
mv "$WORK/d2/policy.yaml" "$WORK/d2/policy.away"
serve "$(printf 'ranks 3\nexpect-fail rank 2: its enclave did not start: ')" --mesh-launcher "$WORK/launch.sh"
if grep -q "fake-rank-enclave: rank 0: PASS: failed as wanted" "$WORK/log"; then ok; else
  bad "a worker that cannot start: $(grep -h "fake-rank-enclave\|mc2-rank" "$WORK/log" "$WORK/d0/mesh.log")"
fi
check "a worker that cannot start: the error names the file" grep -q "rank 2: its enclave did not start: .*policy.yaml" "$WORK/d0/mesh.log"
check "a worker that cannot start: no process left" no_leftovers
mv "$WORK/d2/policy.away" "$WORK/d2/policy.yaml"

# A worker enclave that never says hello: its rank gives up after --timeout-s naming what it
# waited for, MPI_Abort ends every rank, and the leader hears that its relay closed.
launcher 2 "" 6
printf 'ranks 2\nmute 1\nexpect-fail the relay (mc2-rank, rank 0) closed its connection' >"$WORK/conf"
serve "$(cat "$WORK/conf")" --mesh-launcher "$WORK/launch.sh"
if grep -q "fake-rank-enclave: rank 0: PASS: failed as wanted" "$WORK/log"; then ok; else
  bad "a silent worker: $(grep -h "fake-rank-enclave\|mc2-rank\|mesh" "$WORK/log" "$WORK/d0/mesh.log")"
fi
check "a silent worker: its rank names what it waited for" \
  grep -q "mc2-rank: rank 1: timed out after 6 s waiting for its enclave's EIF_MESH_HELLO" "$WORK/d0/mesh.log"
check "a silent worker: no process left" no_leftovers

# A launcher that exits before the job ends.
printf '#!/bin/sh\necho "launcher boom: $1 ranks" >&2\nexit 3\n' >"$WORK/launch.sh"
serve "$(printf 'ranks 2\nexpect-fail the mesh launcher exited before the job ended (the launcher: exit status 3; mesh.log ends: launcher boom: 2 ranks)')" \
  --mesh-launcher "$WORK/launch.sh"
if grep -q "fake-rank-enclave: rank 0: PASS: failed as wanted" "$WORK/log"; then ok; else
  bad "a launcher that exits: $(grep -h "fake-rank-enclave\|mesh" "$WORK/log")"
fi

# A relay that sends what it must not (here: a launcher that connects to mesh.sock itself,
# takes the launch, tries a second connection and sends an EIF_OUT frame): mc2d closes a
# second connection at once, fails the mesh and ends the launcher's group at once.
cat >"$WORK/launch.sh" <<'EOF'
#!/usr/bin/env python3
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[2])
n, t, v, ch = struct.unpack("<IHHI", s.recv(12, socket.MSG_WAITALL))
s.recv(n, socket.MSG_WAITALL)
s2 = socket.socket(socket.AF_UNIX)
s2.connect(sys.argv[2])
print("launch type %d; second connection %s" % (t, "closed" if s2.recv(1) == b"" else "kept"), flush=True)
s.sendall(struct.pack("<IHHI", 1, 65, 1, ch) + b"x")
time.sleep(60)
EOF
chmod +x "$WORK/launch.sh"
serve "$(printf 'ranks 2\nexpect-fail the relay (mc2-rank, rank 0) sent a frame of another type or mesh than PEERS, DELIVER or FAIL')" \
  --mesh-launcher "$WORK/launch.sh"
if grep -q "fake-rank-enclave: rank 0: PASS: failed as wanted" "$WORK/log"; then ok; else
  bad "a relay that sends EIF_OUT: $(grep -h "fake-rank-enclave\|mesh" "$WORK/log")"
fi
check "the relay got EIF_MESH_LAUNCH first, a second connection was closed: $(cat "$WORK/d0/mesh.log")" \
  grep -q "launch type 75; second connection closed" "$WORK/d0/mesh.log"
check "the misbehaving relay's launcher was ended: $(grep 'launcher ended' "$WORK/log")" \
  grep -q "mesh 7: the launcher ended (killed by signal 15)" "$WORK/log"
check "the misbehaving relay: no process left" no_leftovers

# No launcher configured.
serve "$(printf 'ranks 2\nexpect-fail this service has no mesh launcher (mc2d --mesh-launcher)')"
if grep -q "fake-rank-enclave: rank 0: PASS: failed as wanted" "$WORK/log"; then ok; else
  bad "no launcher: $(grep -h "fake-rank-enclave\|mesh" "$WORK/log")"
fi
check "no launcher: no mesh.sock" test ! -e "$WORK/d0/mesh.sock"

# Usage.
expect_fail "mc2d refuses a launcher it cannot run" 2 "--mesh-launcher .*/nonexistent: No such file" \
  "$B/mc2d" --dir "$WORK/d0" --policy "$WORK/c.yaml" --mesh-launcher "$WORK/nonexistent"
expect_ok "mc2-rank --help" "$B/mc2-rank" --help
check "mc2-rank --help names its options" grep -q -- "--leader SOCKET --dirs" "$WORK/out"
expect_fail "mc2-rank without --leader" 2 "name mc2d's socket" "$B/mc2-rank" --dirs a,b
expect_fail "mc2-rank with a bad timeout" 2 "--timeout-s wants a number" \
  "$B/mc2-rank" --leader x --dirs a,b --timeout-s 0
expect_fail "mc2-rank: one rank, two directories" 2 "1 ranks run, but --dirs names 2 directories" \
  timeout 60 mpirun --oversubscribe -np 1 $MPIARGS "$B/mc2-rank" --leader x --dirs a,b
finish
