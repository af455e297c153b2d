#!/usr/bin/env bash
# test_keys.sh - mc2 init / whoami: files, modes, refusing to overwrite, clear errors.
source "$(dirname "$0")/lib.sh"

H=$WORK/alice
expect_ok "init" "$MC2" init --name alice --home "$H"
for f in identity.key identity.crt data.key config.yaml; do
  check "$f exists" test -f "$H/$f"
done
check "identity.key is 0600" test "$(stat -c %a "$H/identity.key")" = 600
check "data.key is 0600" test "$(stat -c %a "$H/data.key")" = 600
check "home is 0700" test "$(stat -c %a "$H")" = 700
check "identity.key is PEM PKCS#8" grep -q 'BEGIN PRIVATE KEY' "$H/identity.key"
check "certificate has CN=alice" \
  bash -c "openssl x509 -in '$H/identity.crt' -noout -subject | grep -q 'CN *= *alice'"
check "certificate is X.509 v3" \
  bash -c "openssl x509 -in '$H/identity.crt' -noout -text | grep -q 'Version: 3'"
check "certificate self-signature verifies" \
  bash -c "openssl verify -CAfile '$H/identity.crt' -partial_chain '$H/identity.crt' >/dev/null 2>&1"

expect_ok "whoami" "$MC2" whoami --home "$H"
fp1=$(sed -n 2p "$WORK/out")
check "whoami prints the name" test "$(sed -n 1p "$WORK/out")" = alice
check "fingerprint format" bash -c "[[ '$fp1' =~ ^SHA256:[0-9a-f]{64}$ ]]"
# The fingerprint is SHA-256 of the raw public key (the last 32 bytes of the DER SPKI).
want=$(openssl pkey -in "$H/identity.key" -pubout -outform DER | tail -c 32 | sha256sum | cut -c1-64)
check "fingerprint is SHA-256 of the public key" test "$fp1" = "SHA256:$want"

key_before=$(sha256sum "$H/identity.key" "$H/data.key")
expect_fail "init twice refuses" 1 "already exists.*never overwrites keys" \
  "$MC2" init --name mallory --home "$H"
check "identity unchanged after second init" test "$key_before" = "$(sha256sum "$H/identity.key" "$H/data.key")"
expect_ok "whoami after second init" "$MC2" whoami --home "$H"
check "same fingerprint after second init" test "$(sed -n 2p "$WORK/out")" = "$fp1"
check "no temp files left" bash -c "! ls -A '$H' | grep -q tmp"

# MC2_HOME is honoured, --home wins over it.
MC2_HOME=$H expect_ok "whoami via MC2_HOME" "$MC2" whoami
check "MC2_HOME name" test "$(sed -n 1p "$WORK/out")" = alice

expect_fail "init without --name" 2 "--name NAME is required" "$MC2" init --home "$WORK/x"
expect_fail "bad name" 2 "invalid party name" "$MC2" init --name 'a b' --home "$WORK/x"
check "bad name creates nothing" test ! -e "$WORK/x/identity.key"
expect_fail "whoami without identity" 1 "no identity in .*mc2 init" "$MC2" whoami --home "$WORK/none"
chmod 644 "$H/data.key"
expect_fail "readable data key refused" 1 "readable by other users.*chmod 600" "$MC2" whoami --home "$H"
chmod 600 "$H/data.key"
expect_fail "unknown option" 2 "unknown option '--nme'" "$MC2" init --nme x
expect_fail "unknown command" 2 "unknown command 'frobnicate'" "$MC2" frobnicate
for c in init whoami encrypt decrypt inspect; do
  expect_ok "$c --help" "$MC2" "$c" --help
  check "$c --help prints usage" grep -q "^usage: mc2 $c" "$WORK/out"
done
expect_ok "mc2 --help" "$MC2" --help
finish
