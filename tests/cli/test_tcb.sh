#!/usr/bin/env bash
# test_tcb.sh - `make tcb` (scripts/tcb.sh) reports the code linked into mc2-enclave, and
# that code holds no untrusted module: the enclave links no client, server or connection
# library (the trust boundary of docs/architecture.md).
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
bash "$ROOT/scripts/tcb.sh" "$MC2_BUILD" >"$WORK/tcb" 2>&1
rc=$?
cat "$WORK/tcb"
check "tcb.sh exits 0 (rc $rc)" test $rc -eq 0
check "it lists the enclave's own library" grep -q "^libmc2_enclave.a " "$WORK/tcb"
check "it counts a total" grep -Eq "^total +[0-9]+" "$WORK/tcb"
check "no untrusted library in the enclave" \
  bash -c "! grep -Eq '^libmc2_(client|server|conn|identity|host|tpch|sqlref)[a-z_]*\.a ' '$WORK/tcb'"
check "the enclave's link command names no untrusted library" \
  bash -c "! grep -Eq 'libmc2_(client|server|conn|identity|host|tpch|sqlref)' '$MC2_BUILD/CMakeFiles/mc2-enclave.dir/link.txt'"
expect_fail "a missing build is an error" 1 "run 'make' first" bash "$ROOT/scripts/tcb.sh" "$WORK/none"
finish
