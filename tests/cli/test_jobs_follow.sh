#!/usr/bin/env bash
# test_jobs_follow.sh - jobs people can follow, on a live service: a slow training job is
# seen queued/running (with its rounds) by `mc2 jobs` and `mc2 job`, and a small query
# submitted behind it with `mc2 sql --wait 0` returns at once with its job id and its place
# in the queue, and is fetched later; on a terminal `mc2 train` draws the job's state on
# stderr. A job that fails (a misspelt label) makes `mc2 train` and `mc2 approve` exit 1 with
# the reason; `mc2 jobs` shows that reason to the job's parties and not to anyone else.
# Refusals by policy exit 1, usage errors 2.
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?MC2_BUILD must point at the build directory}
S=$WORK/service
trap '"$MC2" stop --dir "$S" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
for p in bank-a bank-b auditor; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
PK=$("$MC2" service init --dir "$S")
"$MC2" policy init --out "$WORK/c.yaml" --consortium follow-test \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --party "auditor=$WORK/auditor/identity.crt" --recipient auditor --recipient bank-a \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$PK" >/dev/null
for p in bank-a bank-b auditor; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done
if start_service "$S" "$WORK/c.yaml"; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi
A=(--home "$WORK/bank-a")
awk 'BEGIN { srand(1); print "f1,f2,f3,label";
  for (i = 0; i < 20000; i++) { a = rand(); b = rand(); c = rand();
    printf "%.5f,%.5f,%.5f,%d\n", a, b, c, (a + b > 1) } }' >"$WORK/t.csv"
printf 'columns:\n  - {name: f1, type: DOUBLE}\n  - {name: f2, type: DOUBLE}\n  - {name: f3, type: DOUBLE}\n  - {name: label, type: INT64}\n' >"$WORK/t.yaml"
expect_ok "upload bank-a/t" "$MC2" upload "${A[@]}" --schema "$WORK/t.yaml" --in "$WORK/t.csv" --as t
expect_ok "upload bank-b/t" "$MC2" upload --home "$WORK/bank-b" --schema "$WORK/t.yaml" --in "$WORK/t.csv" --as t

# ---- usage errors exit 2, refusals by policy 1 ---------------------------------------------
expect_fail "sql --wait not a number: usage" 2 "--wait wants a whole number" "$MC2" sql "${A[@]}" --wait soon "SELECT 1 FROM t"
expect_fail "train --wait not a number: usage" 2 "--wait wants a whole number" "$MC2" train x.yaml "${A[@]}" --wait -1
expect_fail "train without a job file: usage" 2 "which job" "$MC2" train "${A[@]}"
expect_fail "a result bank-b may not receive: refused by policy, exit 1" 1 "does not let you receive results" \
  "$MC2" sql --home "$WORK/bank-b" "SELECT count(*) FROM t"

# ---- a slow job, and a small one queued behind it ------------------------------------------
printf 'inputs: [bank-a/t]\nlabel: label\nparams: {objective: "binary:logistic", num_round: 100, max_depth: 6, oblivious: 1}\n' >"$WORK/slow.yaml"
sed 's/num_round: 100/num_round: 10/' "$WORK/slow.yaml" >"$WORK/short.yaml"
expect_ok "train --wait 0 returns at once" "$MC2" train "$WORK/slow.yaml" "${A[@]}" --wait 0
SLOW=$(sed -n 's/^submitted train job \([0-9]*\)$/\1/p' "$WORK/out")
check "train --wait 0: the job id" test -n "$SLOW"
check "train --wait 0: not yet done, how to see it" grep -q "^see how it does: mc2 job $SLOW" "$WORK/out"
expect_ok "sql --wait 0 returns at once" "$MC2" sql "${A[@]}" --wait 0 "SELECT count(*) AS n FROM t WHERE label = 1"
Q=$(sed -n 's/^job \([0-9]*\) is queued.*/\1/p' "$WORK/out")
check "sql --wait 0: job id and its place in the queue ($(head -1 "$WORK/out"))" \
  grep -q "^job $Q is queued: next, after job $SLOW (running)" "$WORK/out"
check "sql --wait 0: how to fetch it later" grep -q "mc2 download --job $Q --out result.csv" "$WORK/out"
expect_ok "mc2 jobs" "$MC2" jobs "${A[@]}"
check "mc2 jobs: the slow job runs ($(grep "^$SLOW " "$WORK/out"))" grep -Eq "^$SLOW train running [0-9]+ s" "$WORK/out"
check "mc2 jobs: the small one is queued behind it" grep -q "^$Q sql queued next, after job $SLOW (running)" "$WORK/out"
# Once its inputs are read, the job counts its rounds (a sanitizer build reads more slowly).
for _ in $(seq 1 40); do
  "$MC2" job "$SLOW" "${A[@]}" >"$WORK/out" 2>"$WORK/err"
  grep -Eq "^status: running: [0-9]+ s, round" "$WORK/out" && break
  sleep 0.25
done
check "mc2 job: running, elapsed time and rounds ($(head -1 "$WORK/out"))" \
  grep -Eq "^status: running: [0-9]+ s, round [0-9]+ of 100$" "$WORK/out"
if command -v script >/dev/null 2>&1; then
  script -qec "'$MC2' train '$WORK/short.yaml' --home '$WORK/bank-a' --wait 2" /dev/null >"$WORK/tty" 2>&1
  check "on a terminal: the job's state drawn on one line" grep -aEq $'\r\033\\[Kjob [0-9]+ (queued|running): ' "$WORK/tty"
fi
expect_ok "the queued result is fetched later" "$MC2" download --job "$Q" "${A[@]}" --out "$WORK/q.csv"
check "its content" grep -Eqx "[0-9]{4,5}" "$WORK/q.csv"

# ---- failures: exit 1 with the reason, shown to parties only -------------------------------
printf 'inputs: [bank-a/t]\nlabel: lable\n' >"$WORK/bad.yaml"
expect_fail "a failed train job exits 1 with the reason" 1 "train job [0-9]+ failed: label column 'lable' not found" \
  "$MC2" train "$WORK/bad.yaml" "${A[@]}" --wait 600
BAD=$(sed -n 's/^submitted train job \([0-9]*\)$/\1/p' "$WORK/out")
check "no 'it has run' for a failed job" bash -c "! grep -q 'it has run' '$WORK/out'"
expect_ok "mc2 jobs (a party)" "$MC2" jobs "${A[@]}"
check "mc2 jobs shows the submitter why it failed" grep -q "^$BAD train failed label column 'lable' not found" "$WORK/out"
expect_ok "mc2 jobs (not a party)" "$MC2" jobs --home "$WORK/bank-b"
check "mc2 jobs: failed for a non-party" grep -q "^$BAD train failed" "$WORK/out"
check "mc2 jobs: no reason for a non-party" bash -c "! grep -q \"lable\" '$WORK/out'"
expect_fail "mc2 download of the failed job by a non-party: no result" 1 "job $BAD has no result: it failed" \
  "$MC2" download --job "$BAD" --home "$WORK/bank-b" --out "$WORK/x.csv"
check "... and no reason" bash -c "! grep -q lable '$WORK/err'"
expect_fail "mc2 download of the failed job by its submitter: the reason" 1 "has no result: label column 'lable'" \
  "$MC2" download --job "$BAD" "${A[@]}" --out "$WORK/x.csv"
printf 'inputs: [bank-a/t, bank-b/t]\nlabel: lable\nrecipients: [auditor]\n' >"$WORK/bad2.yaml"
expect_ok "a two-owner train job waits for bank-b" "$MC2" train "$WORK/bad2.yaml" "${A[@]}"
BAD2=$(sed -n 's/^submitted train job \([0-9]*\)$/\1/p' "$WORK/out")
expect_fail "bank-b's approve exits 1 when the job then fails" 1 "train job $BAD2 failed: label column 'lable'" \
  "$MC2" approve "$BAD2" --home "$WORK/bank-b"
expect_ok "mc2 jobs (input owner)" "$MC2" jobs --home "$WORK/bank-b"
check "mc2 jobs shows an input owner why it failed" grep -q "^$BAD2 train failed label column 'lable'" "$WORK/out"
finish
