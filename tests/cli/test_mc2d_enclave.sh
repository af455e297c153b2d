#!/usr/bin/env bash
# test_mc2d_enclave.sh - mc2d's side of the host interface, driven by a fake enclave
# (tests/tools/fake_enclave.c, signed here with a test key): every request the enclave sends
# gets exactly one EIF_STORE_REPLY on its channel -- EIF_STORE_DROP of a spilled run is
# served (and only of a spilled run, or of an object not finished), and a message type mc2d
# does not know is answered with status 2, so an enclave waiting for that answer never hangs.
# Objects written by several EIF_STORE_PUTs, two at once with their puts interleaved, commit
# whole at last = 1 and not before; at most 16 are unfinished at once; an unfinished one is
# abandoned when the enclave drops it, when its job ends (EIF_JOB) and when mc2d stops, and
# leaves no file behind. The fake enclave checks each reply (5 s each) and writes PASS or
# FAIL to mc2d's log.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
"$MC2" init --name alice --home "$WORK/alice" >/dev/null
pk=$("$MC2" service init --dir "$WORK/state")
cp "$B/fake_enclave" "$WORK/fake-enclave"
"$MC2" enclave keygen --out "$WORK/signer.pem" >/dev/null
"$MC2" enclave sign --key "$WORK/signer.pem" --enclave "$WORK/fake-enclave" >/dev/null
"$MC2" policy init --out "$WORK/c.yaml" --consortium fake --party "alice=$WORK/alice/identity.crt" \
  --recipient alice --enclave "$WORK/fake-enclave" --allow-simulation \
  --sim-platform-key "$pk" >/dev/null
# mc2d stops by itself when the fake enclave exits (after at most 50 steps x 5 s).
timeout 300 "$B/mc2d" --dir "$WORK/state" --policy "$WORK/c.yaml" \
  --listen "127.0.0.1:$(free_port)" --enclave "$WORK/fake-enclave" 2>"$WORK/log"
check "the fake enclave ran" grep -q "fake-enclave: " "$WORK/log"
if grep -q "fake-enclave: PASS" "$WORK/log"; then ok; else
  bad "mc2d's replies: $(grep "fake-enclave" "$WORK/log")"
fi
check "mc2d logged the unsupported type" grep -q "unsupported message type 99 from the enclave" "$WORK/log"
check "no spilled run is left" test -z "$(ls -A "$WORK/state/store/spill" 2>&1)"
# Committed results only: no temporary file of the unfinished ones (job 4's first try, job
# 5's sixteen, job 7's left when the fake enclave exited).
got=$(cd "$WORK/state/store/results" && ls -A | tr '\n' ' ')
if [ "$got" = "job-3-r.mc2t job-4-r.mc2t job-6-r.mc2t " ]; then ok; else
  bad "results left in the store: $got"
fi
check "the interleaved object holds all its puts" test "$(cat "$WORK/state/store/results/job-3-r.mc2t")" = ababef
check "mc2d logged the abandoned objects" \
  grep -q "abandoned the unfinished object results/job-7-r.mc2t (1 bytes written): mc2d is stopping" "$WORK/log"
check "mc2d logged the refused 17th object" grep -q "refused to write results/job-5-o17.mc2t" "$WORK/log"
finish
