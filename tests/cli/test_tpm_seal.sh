#!/usr/bin/env bash
# test_tpm_seal.sh - sealed state on the tpm backend, against swtpm (a SOFTWARE TPM): the
# enclave's state is sealed under a key derived from a root secret the TPM releases only while
# its PCR holds this launch, and checked against the TPM's NV counter (docs/tee.md,
# docs/security.md "Sealed state"). bank-a grants and submits a join that needs bank-b's
# approval; the service is stopped and started again on the same TPM; bank-b approves and
# the auditor downloads, with no new grant. An older copy of the sealed state put back is
# refused (the NV counter has moved on); so is the state once the sealed root secret's files
# are lost (a new secret is sealed; the old state no longer authenticates). Prints the root secret's cost at each start.
# Skipped (77) without swtpm.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
EX=$MC2_SRC/examples
S=$WORK/state
ST=$S/store/enclave/state
start_swtpm "$WORK/tpm"
rc=$?
if [[ $rc -eq 77 ]]; then echo "test_tpm_seal: SKIPPED: swtpm is not installed"; exit 77; fi
[[ $rc -eq 0 ]] || { bad "swtpm did not start: $(cat "$WORK/tpm/swtpm.log")"; finish; }
trap '"$MC2" stop --dir "$S" >/dev/null 2>&1; stop_swtpm; rm -rf "$WORK"' EXIT
TEE=(--tee tpm --tee-opt "tcti=swtpm:port=$SWTPM_PORT")
for p in bank-a bank-b auditor; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
policy() { # policy FILE AK
  "$MC2" policy init --out "$1" --consortium tpmseal \
    --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
    --party "auditor=$WORK/auditor/identity.crt" --recipient auditor \
    --enclave "$B/mc2-enclave" --tpm-ak "$2" >/dev/null
}
start() { # start DESC: starts the service on the same state directory and TPM, a check
  if start_service "$S" "$WORK/c.yaml" "$MC2" "${TEE[@]}"; then ok; else
    bad "$1: $(cat "$WORK/err")"
    finish
  fi
}
cost() { # cost WHEN: prints the last start's root-secret line (its time)
  echo "  $1: $(grep -o 'TPM-sealed root secret [a-z ]* in [0-9.]* ms' "$S/mc2d.log" | tail -1)"
}

# The service's AK is known once it has started (docs/tee.md): start once to read it.
policy "$WORK/c.yaml" "$(printf 'ab%.0s' $(seq 32))"
start "first start (to learn the AK)"
check "the NV counter is defined" grep -q "defined the TPM monotonic counter at NV index 0x01500016" "$S/mc2d.log"
check "a root secret is sealed" grep -q "TPM-sealed root secret created and sealed" "$S/mc2d.log"
check "its blobs are kept, mode 0600" test "$(stat -c %a "$S/tpm-seal.pub" "$S/tpm-seal.priv" | sort -u)" = 600
cost "first start, root secret created"
expect_ok "stop" "$MC2" stop --dir "$S"
policy "$WORK/c.yaml" "$(head -n 1 "$S/tpm-ak.pub")"
for p in bank-a bank-b auditor; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done

start "start with the service's AK"
cost "restart, root secret unsealed"
check "the same root secret is unsealed" test "$(grep -c 'created and sealed' "$S/mc2d.log")" -eq 1
expect_ok "upload a" "$MC2" upload --home "$WORK/bank-a" --schema "$EX/accounts.yaml" --in "$EX/accounts.csv" --as accounts
expect_ok "upload b" "$MC2" upload --home "$WORK/bank-b" --schema "$EX/accounts.yaml" --in "$EX/accounts-b.csv" --as accounts
expect_ok "grant a" "$MC2" grant --home "$WORK/bank-a"
expect_ok "submit the join" "$MC2" sql --home "$WORK/bank-a" --recipient auditor \
  --input a=bank-a/accounts --input b=bank-b/accounts \
  "SELECT a.holder, b.balance FROM a JOIN b ON a.holder = b.holder"
job=$(sed -n 's/^job \([0-9]*\) is waiting.*/\1/p' "$WORK/out")
check "the join waits for bank-b ($(head -1 "$WORK/out"))" test -n "$job"
check "a sealed state is stored" test -s "$ST"
cp "$ST" "$WORK/state.old"
expect_ok "a change after the copy" "$MC2" grant --home "$WORK/bank-b"
expect_ok "stop" "$MC2" stop --dir "$S"

# ---- the same TPM after a restart: the pending job and bank-a's key survive -------------------
n=$(wc -l <"$S/mc2d.log")
start "start again on the same TPM"
cost "restart with a sealed state"
expect_ok "the job is still there after the restart" "$MC2" job "$job" --home "$WORK/bank-a"
check "still waiting for bank-b" grep -q "waiting for bank-b to approve" "$WORK/out"
expect_ok "bank-b approves job $job" "$MC2" approve "$job" --home "$WORK/bank-b"
expect_ok "the auditor downloads job $job" "$MC2" download --job "$job" --home "$WORK/auditor" --out "$WORK/j.csv"
check "the join's result" grep -qx "Ada Lovelace,250.00" "$WORK/j.csv"
tail -n +$((n + 1)) "$S/mc2d.log" >"$WORK/log2"
check "this start's log says nothing was lost" bash -c "! grep -q 'empty state\|no usable TPM-sealed' '$WORK/log2'"
expect_ok "stop" "$MC2" stop --dir "$S"

# ---- rollback: an older copy of the sealed state; the TPM's NV counter has moved on -----------
cp "$ST" "$WORK/state.new"
cp "$WORK/state.old" "$ST"
expect_fail "a rolled-back state: the enclave refuses to start" 1 \
  "sealed enclave state was rolled back: it is generation [0-9]+, but the host's monotonic counter is at [0-9]+" \
  start_service "$S" "$WORK/c.yaml" "$MC2" "${TEE[@]}"

# ---- the sealed root secret lost: a new one is sealed, the state under the old one is refused --
cp "$WORK/state.new" "$ST"
rm "$S/tpm-seal.pub" "$S/tpm-seal.priv"
expect_fail "the state under a lost root secret: the enclave refuses to start" 1 \
  "sealed enclave state does not authenticate" start_service "$S" "$WORK/c.yaml" "$MC2" "${TEE[@]}"
check "the log says a new root secret was sealed" grep -q "no usable TPM-sealed secret .* (none was sealed yet): sealing a new one" "$S/mc2d.log"
finish
