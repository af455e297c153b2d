#!/usr/bin/env bash
# test_tpm_backend.sh - the tpm TEE backend end to end, against swtpm (a SOFTWARE TPM: this
# tests the protocol and the checks, not a hardware root of trust). `mc2 start --tee tpm`
# writes the TPM's attestation key to STATE/tpm-ak.pub; a policy that lists another AK has
# its attestation refused; with the service's AK, `mc2 attest` shows the quote's claims and
# a table upload, an SQL job and its download work as on sim. Skipped (77) without swtpm.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
EX=$MC2_SRC/examples
start_swtpm "$WORK/tpm"
rc=$?
if [[ $rc -eq 77 ]]; then echo "test_tpm_backend: SKIPPED: swtpm is not installed"; exit 77; fi
[[ $rc -eq 0 ]] || { bad "swtpm did not start: $(cat "$WORK/tpm/swtpm.log")"; finish; }
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; stop_swtpm; rm -rf "$WORK"' EXIT
TEE=(--tee tpm --tee-opt "tcti=swtpm:port=$SWTPM_PORT")
for p in alice bob; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
policy() { # policy FILE AK
  "$MC2" policy init --out "$1" --consortium tpmtest --party "alice=$WORK/alice/identity.crt" \
    --party "bob=$WORK/bob/identity.crt" --recipient alice --enclave "$B/mc2-enclave" \
    --tpm-ak "$2" >/dev/null
}
other=$(printf 'ab%.0s' $(seq 32))
policy "$WORK/other.yaml" "$other"
for p in alice bob; do cp "$WORK/other.yaml" "$WORK/$p/consortium.yaml"; done

# A policy that lists another AK: the service runs, but its attestation is refused.
if start_service "$WORK/state" "$WORK/other.yaml" "$MC2" "${TEE[@]}"; then ok; else
  bad "start --tee tpm: $(cat "$WORK/err")"
  finish
fi
check "the AK file" test -s "$WORK/state/tpm-ak.pub"
ak=$(head -n 1 "$WORK/state/tpm-ak.pub")
check "the AK identity is 64 hex digits" grep -Eqx '[0-9a-f]{64}' <<<"$ak"
check "the AK file has the PEM key" grep -q "BEGIN PUBLIC KEY" "$WORK/state/tpm-ak.pub"
check "mc2d logs the AK" grep -q "TPM attestation key $ak" "$WORK/state/mc2d.log"
check "the event log" grep -Eq '^enclave +[0-9a-f]{64}$' "$WORK/state/tpm-eventlog"
expect_ok "status" "$MC2" status --home "$WORK/alice"
check "status names the tpm backend" grep -q "tpm" "$WORK/out"
expect_fail "another AK is refused" 1 "attestation key this policy does not list" \
  "$MC2" attest --home "$WORK/alice"
expect_ok "stop" "$MC2" stop --dir "$WORK/state"

# The service's own AK: attestation, then the usual flow.
policy "$WORK/c.yaml" "$ak"
for p in alice bob; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done
if start_service "$WORK/state" "$WORK/c.yaml" "$MC2" "${TEE[@]}"; then ok; else
  bad "restart --tee tpm: $(cat "$WORK/err")"
  finish
fi
check "same TPM, same AK" test "$(head -n 1 "$WORK/state/tpm-ak.pub")" = "$ak"
expect_ok "attest" "$MC2" attest --home "$WORK/alice"
check "evidence format tpm" grep -q "evidence format: tpm" "$WORK/out"
check "not simulation" grep -q "simulation: *no" "$WORK/out"
check "the AK" grep -q "TPM AK: *$ak" "$WORK/out"
m=$("$MC2" attest --home "$WORK/bob" | sed -n 's/^  measurement: *//p')
check "the enclave's measurement" grep -q "$m" "$WORK/c.yaml"
expect_ok "upload" "$MC2" upload --home "$WORK/alice" --schema "$EX/accounts.yaml" \
  --in "$EX/accounts.csv" --as accounts
expect_ok "sql" "$MC2" sql --home "$WORK/alice" --out "$WORK/r.csv" \
  "SELECT count(*) AS n, sum(balance) AS total FROM accounts WHERE active"
check "sql result" grep -qx "3,876978.27" "$WORK/r.csv"

# The PCR extended behind the backend's back: the quote no longer matches the event log.
if command -v tpm2_pcrextend >/dev/null 2>&1; then
  TPM2TOOLS_TCTI="swtpm:port=$SWTPM_PORT" tpm2_pcrextend \
    "23:sha256=$(printf '11%.0s' $(seq 32))" >/dev/null 2>&1
  expect_fail "another PCR value" 1 "PCR" "$MC2" attest --home "$WORK/alice"
fi
expect_ok "stop" "$MC2" stop --dir "$WORK/state"
finish
