#!/usr/bin/env bash
# test_enclave_sandbox.sh - the enclave process, once its filter is installed, cannot open
# files or sockets and is not dumpable; and it refuses to run by hand.
source "$(dirname "$0")/lib.sh"
E=$MC2_BUILD/mc2-enclave
"$E" --sandbox-selftest >"$WORK/out" 2>&1
rc=$?
check "selftest exits 0 (rc $rc: $(tr '\n' ' ' <"$WORK/out"))" test $rc -eq 0
check "open is refused" grep -qx "open: Operation not permitted" "$WORK/out"
check "socket is refused" grep -qx "socket: Operation not permitted" "$WORK/out"
check "not dumpable" grep -qx "dumpable: 0" "$WORK/out"
expect_fail "not started by hand" 2 "started by mc2d" "$E" --something
finish
