#!/usr/bin/env bash
# test_tsm_backend.sh - the tsm TEE backend end to end through a real service: mc2d runs with
# --tee tsm on a fake configfs-tsm tree (tests/tools/fake_tsm.c: a test AMD chain, ARK and
# ASK RSA-4096 with RSA-PSS, VCEK P-384 with AMD's TCB and hwID extensions); a consortium
# policy made by `mc2 policy init --snp-*` pins the fake's ARK and launch measurement;
# `mc2 attest` verifies and prints the SEV-SNP claims; upload, an SQL job and its download
# run through that service. Then each bad report the fake can make is refused, each with its
# own reason: wrong measurement, old TCB, debug policy bit, VCEK signed by another ASK,
# other report data (nonce), migration agent, a racing writer (generation). A policy that
# does not pin the fake's ARK refuses even a good report.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
EX=$MC2_SRC/examples
FAKE=$B/fake_tsm
TREE=$WORK/tsm
FAKE_PID=
fake_start() { # fake_start [ARG...]: (re)starts fake_tsm serve on $TREE
  [[ -n $FAKE_PID ]] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
  : >"$WORK/fake.out"
  "$FAKE" serve "$WORK/keys" "$TREE" "$@" >>"$WORK/fake.out" 2>&1 &
  FAKE_PID=$!
  for _ in $(seq 100); do grep -q ready "$WORK/fake.out" && return 0; sleep 0.05; done
  bad "fake_tsm did not start: $(cat "$WORK/fake.out")"
  finish
}
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; [[ -n $FAKE_PID ]] && kill $FAKE_PID 2>/dev/null; rm -rf "$WORK"' EXIT

"$FAKE" keygen "$WORK/keys" >"$WORK/info" || { bad "fake_tsm keygen"; finish; }
pin=$(sed -n 's/^ark_pin //p' "$WORK/info")
meas=$(sed -n 's/^measurement //p' "$WORK/info")
tcb=$(sed -n 's/^min_tcb //p' "$WORK/info")
for p in bank-a bank-b; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
parties=(--party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt")
expect_ok "policy init --snp-*" "$MC2" policy init --out "$WORK/c.yaml" --consortium tsmtest \
  "${parties[@]}" --recipient bank-a --snp-ark-pin "$pin" --snp-measurement "$meas" \
  --snp-min-tcb "$tcb"
check "policy has sev_snp" grep -q "ark_pins: \[$pin\]" "$WORK/c.yaml"
check "policy does not allow simulation" grep -q "allow_simulation: false" "$WORK/c.yaml"
expect_fail "--snp-* needs all three" 2 "needs --snp-ark-pin, --snp-measurement and --snp-min-tcb" \
  "$MC2" policy init --out "$WORK/x.yaml" --consortium x "${parties[@]}" --snp-ark-pin "$pin"
expect_fail "--snp-min-tcb checked" 2 "BOOTLOADER,TEE,SNP,MICROCODE" \
  "$MC2" policy init --out "$WORK/x.yaml" --consortium x "${parties[@]}" --snp-ark-pin "$pin" \
  --snp-measurement "$meas" --snp-min-tcb 1,2,3
for p in bank-a bank-b; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done

# mc2d refuses a tree that is not there, saying what to do.
mkdir -p "$WORK/none"
if start_service "$WORK/none" "$WORK/c.yaml" "$MC2" --tee tsm --tee-opt "dir=$WORK/nope"; then
  bad "started without a configfs-tsm tree"
elif grep -q "not a confidential VM" "$WORK/err"; then ok; else bad "no tree: $(cat "$WORK/err")"; fi

fake_start
if start_service "$WORK/state" "$WORK/c.yaml" "$MC2" --tee tsm --tee-opt "dir=$TREE"; then ok; else
  bad "start --tee tsm: $(cat "$WORK/err")"
  finish
fi
check "mc2 start names the backend" grep -q "enclave backend: tsm (AMD SEV-SNP" "$WORK/out"
expect_ok "status" "$MC2" status --home "$WORK/bank-a"
check "status names the backend" grep -q "tsm" "$WORK/out"

expect_ok "attest" "$MC2" attest --home "$WORK/bank-a"
check "attest: format" grep -q "evidence format: sev-snp" "$WORK/out"
check "attest: the 48-byte launch measurement" grep -q "measurement:  $meas (launch" "$WORK/out"
check "attest: TCB" grep -q "reported TCB: bootloader 3, TEE 0, SNP 8, microcode 115" "$WORK/out"
check "attest: policy bits" grep -q "guest policy: 0x30000 (debug off, migration agent off)" "$WORK/out"
check "attest: not simulation" grep -q "simulation:   no" "$WORK/out"
check "no simulation warning" bash -c "! grep -q SIMULATED '$WORK/err'"
check "the report entry was removed" bash -c "[[ -z \$(ls -A '$TREE') ]]"

expect_ok "upload" "$MC2" upload --home "$WORK/bank-a" --schema "$EX/accounts.yaml" \
  --in "$EX/accounts.csv" --as accounts
expect_ok "sql job" "$MC2" sql --home "$WORK/bank-a" --out "$WORK/r.csv" \
  "SELECT count(*) AS n, sum(balance) AS total FROM accounts WHERE active"
check "sql result" grep -qx "3,876978.27" "$WORK/r.csv"
expect_ok "jobs" "$MC2" jobs --home "$WORK/bank-a"
job=$(grep -oE '^ *[0-9]+' "$WORK/out" | tail -n 1 | tr -d ' ')
expect_ok "download" "$MC2" download --home "$WORK/bank-a" --job "$job" --out "$WORK/d.csv"
check "download result" grep -qx "3,876978.27" "$WORK/d.csv"

# Each bad report through the same service, each refused with its own reason.
cases=(
  "measurement|wrong measurement: the SEV-SNP launch measurement"
  "tcb|platform TCB too low: SNP firmware"
  "debug|debug enclave not allowed"
  "chain|the VCEK is not signed by the ASK"
  "nonce|not bound to this channel"
  "migration|migration agent not allowed"
)
for c in "${cases[@]}"; do
  mode=${c%%|*}
  fake_start --bad "$mode"
  expect_fail "bad report: $mode" 1 "${c#*|}" "$MC2" attest --home "$WORK/bank-a"
  expect_fail "bad report: $mode (sql)" 1 "${c#*|}" "$MC2" sql --home "$WORK/bank-a" \
    "SELECT count(*) FROM accounts"
done
fake_start --bad race
# The enclave ends the session when the host's backend fails; the client sees the handshake
# end (the host's reason is in its log: a client could not trust it anyway).
expect_fail "racing writer" 1 "TLS handshake with the enclave failed" \
  "$MC2" attest --home "$WORK/bank-a"
check "mc2d's log says why" grep -q "another writer used the report entry" "$WORK/state/mc2d.log"
check "no entry left behind" bash -c "[[ -z \$(ls -A '$TREE') ]]"

# A good report again, but a policy that pins another AMD root.
fake_start
other=$(printf '%064d' 1)
sed "s/$pin/$other/" "$WORK/c.yaml" >"$WORK/o.yaml"
expect_fail "ARK not pinned" 1 "\(ARK\) is not one this verifier trusts" \
  "$MC2" attest --home "$WORK/bank-a" --policy "$WORK/o.yaml"
expect_ok "good again" "$MC2" attest --home "$WORK/bank-a"
finish
