#!/usr/bin/env bash
# test_attest_cli.sh - attestation and service start-up through the CLI, against real
# services on loopback. `mc2 attest` refuses, each with its own message, an enclave that does
# not match the policy: another measurement, another signer, simulation not allowed, another
# product id, a higher minimum security version, an untrusted simulated platform key (each
# service runs the very policy the client holds, so only that one property differs). A party
# not in the policy is refused, by the client and, for an impostor using a party's name with
# another key, by the enclave. `mc2 start` says so when the port is taken or the state
# directory is in use, refuses an enclave whose signature (.sig) or binary was modified, and
# returns only once the service answers (`mc2 status` right after it succeeds).
# Trust in the enclave: `mc2 policy init --enclave PATH` pins PATH's measurement (no signer),
# `--trust-signer` / `--signer` trust a signer and warn who can then make a trusted enclave;
# an enclave modified and re-signed with the same signer key starts, but does not attest under
# the measurement-pinned policy ("wrong measurement"; under the signer-trusting one it would).
# The build tree holds no signer key (*.pem).
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?MC2_BUILD must point at the build directory}
STATES=()
cleanup() {
  for d in "${STATES[@]}"; do "$MC2" stop --dir "$d" >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# expect_refused DESC PATTERN CMD...: exits 1 or 2 (not a crash) and stderr matches PATTERN.
expect_refused() {
  local d=$1 pat=$2
  shift 2
  "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  if [[ $rc -ne 1 && $rc -ne 2 ]]; then
    bad "$d: exit $rc, wanted a refusal (1 or 2); stderr: $(cat "$WORK/err")"
  elif ! grep -Eq -- "$pat" "$WORK/err"; then
    bad "$d: stderr does not match /$pat/: $(cat "$WORK/err")"
  else ok; fi
}
# start DIR POLICY [MC2]: mc2 start on a free port (another one if it was just taken), then
# `mc2 status` at once: start must have returned only when the service answers.
start() {
  local dir=$1 pol=$2 mc2=${3:-$MC2}
  STATES+=("$dir")
  if ! start_service "$dir" "$pol" "$mc2"; then
    bad "mc2 start ($pol): $(cat "$WORK/err")"
    return 1
  fi
  ok
  expect_ok "mc2 status right after mc2 start ($(basename "$pol"))" "$MC2" status
  check "status names the running service" grep -q "^service: mc2d" "$WORK/out"
}
stop() { "$MC2" stop --dir "$1" >/dev/null 2>&1; }

for p in bank-a bank-b mallory; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
"$MC2" init --name bank-a --home "$WORK/impostor" >/dev/null # the name of a party, its own key
S=$WORK/state
PK=$("$MC2" service init --dir "$S")
PK_OTHER=$("$MC2" service init --dir "$WORK/other-service")
info=$("$MC2" enclave info --enclave "$B/mc2-enclave")
MEAS=$(awk '/^measurement:/ {print $2}' <<<"$info")
PRODUCT=$(awk '/^product_id:/ {print $2}' <<<"$info")
SVN=$(awk '/^svn:/ {print $2}' <<<"$info")
check "enclave info gives measurement, product id and svn" test -n "$MEAS" -a -n "$PRODUCT" -a -n "$SVN"
policy() { # policy NAME ARGS...: a consortium policy for bank-a and bank-b
  local name=$1
  shift
  "$MC2" policy init --out "$WORK/$name.yaml" --consortium attest-test \
    --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
    --recipient bank-b "$@" >/dev/null || bad "policy init $name"
}
rand_hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
policy good --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$PK"
policy good-measurement --measurement "$MEAS" --allow-simulation --sim-platform-key "$PK"
policy good-signer --enclave "$B/mc2-enclave" --trust-signer --allow-simulation --sim-platform-key "$PK"
policy measurement --measurement "$(rand_hex)" --allow-simulation --sim-platform-key "$PK"
policy signer --signer "$(rand_hex)" --product-id "$PRODUCT" --min-svn "$SVN" --allow-simulation --sim-platform-key "$PK"
policy no-simulation --enclave "$B/mc2-enclave" --sim-platform-key "$PK"
policy product --enclave "$B/mc2-enclave" --trust-signer --product-id $((PRODUCT + 1)) --allow-simulation --sim-platform-key "$PK"
policy svn --enclave "$B/mc2-enclave" --trust-signer --min-svn $((SVN + 1)) --allow-simulation --sim-platform-key "$PK"
policy platform-key --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$PK_OTHER"

# What `policy init` pins: --enclave alone the measurement, --trust-signer / --signer the
# signer, with a warning saying who can then make a trusted enclave.
check "--enclave pins the measurement" grep -q "^  measurements: \[$MEAS\]$" "$WORK/good.yaml"
check "--enclave trusts no signer" bash -c "! grep -q signer '$WORK/good.yaml'"
check "--trust-signer trusts the signer" grep -q "^  signer: [0-9a-f]\{64\}$" "$WORK/good-signer.yaml"
check "--trust-signer pins no measurement" bash -c "! grep -q measurements '$WORK/good-signer.yaml'"
pol_args=(--consortium attest-test --party "bank-a=$WORK/bank-a/identity.crt" --recipient bank-a)
expect_ok "policy init --enclave" "$MC2" policy init --out "$WORK/p1.yaml" "${pol_args[@]}" --enclave "$B/mc2-enclave"
check "--enclave: no warning" test ! -s "$WORK/err"
check "--enclave: says which build it trusts" grep -q "trusted enclave: measurement $MEAS" "$WORK/out"
for how in "--enclave $B/mc2-enclave --trust-signer" "--signer $(rand_hex) --product-id 1 --min-svn 1"; do
  # shellcheck disable=SC2086
  expect_ok "policy init $how" "$MC2" policy init --out "$WORK/p2.yaml" "${pol_args[@]}" $how
  check "signer trust warns who can make a trusted enclave ($how)" \
    grep -q "WARNING: this policy trusts EVERY enclave signed by signer .*whoever holds that signer's key can make an enclave this consortium trusts" "$WORK/err"
done
expect_fail "--product-id without a trusted signer" 2 "apply to a trusted signer" \
  "$MC2" policy init --out "$WORK/p3.yaml" "${pol_args[@]}" --enclave "$B/mc2-enclave" --product-id 2
expect_fail "--trust-signer without --enclave" 2 "takes the signer from --enclave" \
  "$MC2" policy init --out "$WORK/p3.yaml" "${pol_args[@]}" --measurement "$MEAS" --trust-signer

# The build tree holds no key: the build signs with a key outside it.
pems=$(find "$B" -name '*.pem' -not -path '*/Testing/*' 2>/dev/null | head -3)
check "no *.pem in the build tree (found: $pems)" test -z "$pems"

# The controls: the enclave attests under a policy naming its measurement, or its signer.
for v in good good-measurement good-signer; do
  start "$S" "$WORK/$v.yaml"
  expect_ok "attest ($v policy)" "$MC2" attest --home "$WORK/bank-a" --policy "$WORK/$v.yaml"
  check "attest ($v) prints the verified claims" grep -q "measurement:  $MEAS" "$WORK/out"
  stop "$S"
done

# Each mismatch is refused with its own message.
refuse() { # refuse POLICY PATTERN
  start "$S" "$WORK/$1.yaml"
  expect_fail "attest refused: $1" 1 "^mc2: attestation failed: $2" \
    "$MC2" attest --home "$WORK/bank-a" --policy "$WORK/$1.yaml"
  check "no verified claims printed ($1)" test ! -s "$WORK/out"
  stop "$S"
}
refuse measurement "wrong measurement"
refuse signer "wrong signer"
refuse no-simulation "simulation not allowed"
refuse product "wrong product id $PRODUCT \(policy expects $((PRODUCT + 1))\)"
refuse svn "security version $SVN is below the minimum $((SVN + 1))"
refuse platform-key "the evidence is signed by a simulated platform key this client does not trust"

# The same signer key signs a modified enclave (bytes appended: another measurement). mc2d
# starts it (its signature is valid), but a policy made from the original build with
# --enclave refuses it; one trusting the signer would accept it (the reason for the default).
rs=$WORK/resign
mkdir -p "$rs"
cp "$B/mc2" "$B/mc2d" "$B/mc2-enclave" "$rs/"
expect_ok "keygen a signer" "$MC2" enclave keygen --out "$WORK/signer.pem"
expect_ok "sign the original build" "$MC2" enclave sign --key "$WORK/signer.pem" --enclave "$rs/mc2-enclave"
PK_RS=$("$MC2" service init --dir "$WORK/state-resign")
policy resign-measurement --enclave "$rs/mc2-enclave" --allow-simulation --sim-platform-key "$PK_RS"
policy resign-signer --enclave "$rs/mc2-enclave" --trust-signer --allow-simulation --sim-platform-key "$PK_RS"
printf 'modified by the host' >>"$rs/mc2-enclave"
expect_ok "re-sign the modified build with the same key" "$MC2" enclave sign --key "$WORK/signer.pem" --enclave "$rs/mc2-enclave"
start "$WORK/state-resign" "$WORK/resign-measurement.yaml" "$rs/mc2"
expect_fail "the re-signed enclave does not attest under the measurement policy" 1 \
  "^mc2: attestation failed: wrong measurement" \
  "$MC2" attest --home "$WORK/bank-a" --policy "$WORK/resign-measurement.yaml"
check "no verified claims printed (re-signed)" test ! -s "$WORK/out"
stop "$WORK/state-resign"
start "$WORK/state-resign" "$WORK/resign-signer.yaml" "$rs/mc2"
expect_ok "(a signer-trusting policy would accept it)" \
  "$MC2" attest --home "$WORK/bank-a" --policy "$WORK/resign-signer.yaml"
stop "$WORK/state-resign"

# Parties: one not in the policy, and an impostor with a party's name but another key.
start "$S" "$WORK/good.yaml"
for h in mallory impostor; do cp "$WORK/good.yaml" "$WORK/$h/consortium.yaml"; done
expect_refused "a party not in the policy" "'mallory' is not a party of consortium 'attest-test'" \
  "$MC2" attest --home "$WORK/mallory"
expect_fail "an impostor refused by the enclave" 1 "enclave ended the session: 'bank-a' is not a party" \
  "$MC2" attest --home "$WORK/impostor"
expect_ok "bank-b attests" "$MC2" attest --home "$WORK/bank-b" --policy "$WORK/good.yaml"

# The port is taken (by the service just started), or the state directory is in use.
TAKEN=$MC2_SERVICE
expect_fail "start on a taken port" 1 "did not start: cannot listen on $TAKEN: Address already in use \(another service uses that port: stop it, or choose another with --listen\)" \
  "$MC2" start --policy "$WORK/good.yaml" --dir "$WORK/state2" --listen "$TAKEN"
STATES+=("$WORK/state2")
expect_fail "start on a state directory in use" 1 "did not start: another mc2d already uses $S" \
  "$MC2" start --policy "$WORK/good.yaml" --dir "$S" --listen "127.0.0.1:$(free_port)"
expect_ok "the running service is undisturbed" "$MC2" status --service "$TAKEN"
stop "$S"

# A modified enclave signature, or a modified enclave binary: mc2 start runs the mc2d beside
# itself, and mc2d the enclave beside itself.
flip_last() { # inverts every bit of the last byte of a file
  local at=$(($(stat -c %s "$1") - 1)) b
  b=$(od -An -tu1 -j "$at" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((b ^ 0xff)))" | dd of="$1" bs=1 seek="$at" conv=notrunc status=none
}
for what in sig binary; do
  bin=$WORK/bin-$what
  mkdir -p "$bin"
  cp "$B/mc2" "$B/mc2d" "$B/mc2-enclave" "$B/mc2-enclave.sig" "$bin/"
  if [[ $what == sig ]]; then
    file="mc2-enclave.sig"
    flip_last "$bin/$file"
    pat="refusing to start the enclave '$bin/mc2-enclave': the enclave's signature"
  else
    file="mc2-enclave"
    printf '\x00' >>"$bin/$file"
    pat="refusing to start the enclave '$bin/mc2-enclave': its signature is for another build"
  fi
  check "the copy of $file was modified" bash -c "! cmp -s '$B/$file' '$bin/$file'"
  PORT=$(free_port)
  STATES+=("$WORK/state-$what")
  expect_fail "start refuses a modified enclave $what" 1 "did not start: $pat" \
    "$bin/mc2" start --policy "$WORK/good.yaml" --dir "$WORK/state-$what" --listen "127.0.0.1:$PORT"
  expect_fail "nothing listens after the refusal ($what)" 1 "cannot reach" \
    "$MC2" status --service "127.0.0.1:$PORT"
  check "no service recorded ($what)" test ! -e "$WORK/state-$what/mc2d.pid"
  # The same copy with the original signature starts: the refusal was about the change.
  if [[ $what == sig ]]; then
    cp "$B/mc2-enclave.sig" "$bin/"
    start "$WORK/state-$what" "$WORK/good.yaml" "$bin/mc2"
    stop "$WORK/state-$what"
  fi
done
finish
