#!/usr/bin/env bash
# test_seal_restart.sh - the enclave's sealed state survives a restart (docs/security.md,
# "Sealed state"): bank-a uploads, grants and submits a join that needs bank-b's approval;
# the service is stopped and started again; bank-b approves, the job runs and the auditor
# downloads the result, with no new grant by bank-a. After kill -9 of mc2d and its enclave,
# every acknowledged change is still there; a reply is held until its change is committed.
# An older copy of the sealed state put back in place (a rollback), a tampered state and a
# deleted state each make the enclave refuse to start, with its own error;
# --discard-sealed-state is the way out (it starts empty). A host that rolls back its counter
# with the state is caught by the client, which remembers the highest generation it saw
# ($MC2_HOME/witness).
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
EX=$MC2_SRC/examples
S=$WORK/state
ST=$S/store/enclave/state
for p in bank-a bank-b auditor; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
pk=$("$MC2" service init --dir "$S")
"$MC2" policy init --out "$WORK/c.yaml" --consortium sealtest \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --party "auditor=$WORK/auditor/identity.crt" --recipient auditor \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" >/dev/null
for p in bank-a bank-b auditor; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done
stop_on_exit "$S"
start() { # start DESC [ARG...]: starts the service (same state directory), a check
  local d=$1
  shift
  if start_service "$S" "$WORK/c.yaml" "$MC2" "$@"; then ok; else bad "$d: $(cat "$WORK/err")"; fi
}
submit() { # submit DESC: bank-a submits the two-owner join; its id in $job
  expect_ok "$1" "$MC2" sql --home "$WORK/bank-a" --recipient auditor \
    --input a=bank-a/accounts --input b=bank-b/accounts \
    "SELECT a.holder, b.balance FROM a JOIN b ON a.holder = b.holder"
  job=$(sed -n 's/^job \([0-9]*\) is waiting.*/\1/p' "$WORK/out")
  check "$1: waits for bank-b ($(head -1 "$WORK/out"))" test -n "$job"
}
approve_and_fetch() { # approve_and_fetch DESC: bank-b approves $job, the auditor downloads it
  expect_ok "$1: bank-b approves job $job" "$MC2" approve "$job" --home "$WORK/bank-b"
  expect_ok "$1: the auditor downloads job $job" "$MC2" download --job "$job" --home "$WORK/auditor" --out "$WORK/j.csv"
  check "$1: the join's result" grep -qx "Ada Lovelace,250.00" "$WORK/j.csv"
}
start "first start"
expect_ok "upload a" "$MC2" upload --home "$WORK/bank-a" --schema "$EX/accounts.yaml" --in "$EX/accounts.csv" --as accounts
expect_ok "upload b" "$MC2" upload --home "$WORK/bank-b" --schema "$EX/accounts.yaml" --in "$EX/accounts-b.csv" --as accounts
check "a sealed state is stored" test -s "$ST"
check "the counter is kept by the host" grep -Eqx "[0-9]+" "$S/enclave.counter"

# ---- a reply comes only after its change is committed (sealed, stored, counted) -------------
# The host's counter cannot be incremented while its file is a directory: the grant is not
# acknowledged (the enclave retries the save every second); once the counter works again, it is.
c=$(cat "$S/enclave.counter")
rm "$S/enclave.counter" && mkdir "$S/enclave.counter"
timeout 5 "$MC2" grant --home "$WORK/bank-a" >"$WORK/out" 2>&1
check "no acknowledgement while the change cannot be committed (exit $?, wanted 124)" test $? -eq 124
check "the enclave says why it holds the reply" grep -q "cannot save the sealed state (retrying in 1 s; replies wait)" "$S/mc2d.log"
rmdir "$S/enclave.counter" && echo "$c" >"$S/enclave.counter"
expect_ok "acknowledged once the counter works again" timeout 20 "$MC2" grant --home "$WORK/bank-a"

# ---- stop, start: the pending job, bank-a's key and the instance survive --------------------
submit "join submitted"
cp "$ST" "$WORK/state.old"
expect_ok "stop" "$MC2" stop --dir "$S"
check "mc2 stop (SIGTERM) ends mc2d's loop, which stops its enclave and backend" \
  grep -q "mc2d: stopping: stopped by signal 15" "$S/mc2d.log"
start "start again"
expect_ok "the job is still there after the restart" "$MC2" job "$job" --home "$WORK/bank-a"
check "still waiting for bank-b ($(cat "$WORK/out" | tr '\n' ' '))" grep -q "waiting for bank-b to approve" "$WORK/out"
approve_and_fetch "after a restart"
expect_ok "stop" "$MC2" stop --dir "$S"
check "the log says nothing was lost" bash -c "! grep -q 'discarded' '$S/mc2d.log'"

# ---- kill -9 of mc2d and its enclave: every acknowledged change is kept ----------------------
start "start for kill -9"
submit "join submitted before kill -9"
first_job=$job
pid=$(cat "$S/mc2d.pid")
epid=$(ps -o pid= --ppid "$pid" | tr -d ' ' | head -1)
check "the enclave's pid ($epid)" test -n "$epid"
kill -9 "$epid" "$pid" 2>/dev/null
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
start "start after kill -9"
approve_and_fetch "after kill -9"
check "the job keeps its id" test "$job" = "$first_job"
expect_ok "stop" "$MC2" stop --dir "$S"

# ---- rollback: an older sealed state put back in place ---------------------------------------
cp "$ST" "$WORK/state.new"
cp "$WORK/state.old" "$ST"
expect_fail "a rolled-back state: the enclave refuses to start" 1 \
  "sealed enclave state was rolled back: it is generation [0-9]+, but the host's monotonic counter is at [0-9]+" \
  start_service "$S" "$WORK/c.yaml"
check "the refusal names the way out" grep -q "mc2d --discard-sealed-state" "$WORK/err"

# ---- tampered: one byte of the ciphertext flipped --------------------------------------------
cp "$WORK/state.new" "$ST"
python3 - "$ST" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[200] ^= 1
open(p, 'wb').write(bytes(b))
PY
expect_fail "a tampered state: the enclave refuses to start" 1 \
  "sealed enclave state does not authenticate: it was tampered with" start_service "$S" "$WORK/c.yaml"

# ---- deleted, counter > 0; the way out ---------------------------------------------------------
rm -f "$ST"
expect_fail "a deleted state: the enclave refuses to start" 1 \
  "sealed enclave state is missing, but the host's monotonic counter is at [0-9]+: it was deleted" \
  start_service "$S" "$WORK/c.yaml"
start "--discard-sealed-state starts empty" --discard-sealed-state
cp "$ST" "$WORK/state.d1"
check "the log says the state was discarded" grep -q "discarded on the operator's request" "$S/mc2d.log"
expect_fail "the old jobs are gone" 1 "no job $job" "$MC2" job "$job" --home "$WORK/bank-a"
submit "a new job after the discard"
approve_and_fetch "after the discard"
expect_ok "stop" "$MC2" stop --dir "$S"
start "and the new state survives a restart"
expect_ok "the new job is still there" "$MC2" job "$job" --home "$WORK/bank-a"
expect_ok "stop" "$MC2" stop --dir "$S"

# ---- a host that rolls back its counter too: the enclave cannot tell, the client's witness can
cp "$WORK/state.d1" "$ST"
python3 -c 'import sys, struct; print(struct.unpack_from("<Q", open(sys.argv[1], "rb").read(), 12)[0])' \
  "$ST" >"$S/enclave.counter"
start "state and counter rolled back together: the enclave starts"
expect_fail "the client's witness refuses the older generation" 1 \
  "the service's sealed state was rolled back: generation [0-9]+ < [0-9]+ seen earlier" \
  "$MC2" job "$job" --home "$WORK/bank-a"
expect_ok "stop" "$MC2" stop --dir "$S"

# ---- another policy: the state cannot open under it; the enclave starts empty and says so ---
"$MC2" policy init --out "$WORK/c2.yaml" --consortium sealtest2 \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --party "auditor=$WORK/auditor/identity.crt" --recipient auditor \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" >/dev/null
if start_service "$S" "$WORK/c2.yaml"; then ok; else bad "start under another policy: $(cat "$WORK/err")"; fi
check "the log says why the state was not used" \
  grep -q "starting with an empty state (parties grant their keys again): it belongs to another consortium policy" "$S/mc2d.log"
finish
