#!/usr/bin/env bash
# test_enclave_sandbox.sh - the enclave process, once its filter is installed, cannot open
# files or sockets, look up paths, map executable memory, signal another process or make
# itself dumpable again (each forbidden call kills it with SIGSYS); the allowed forms of the
# argument-filtered calls still work; it refuses to run by hand; and the filter's table in
# docs/enclave-interface.md names exactly the rules of src/enclave/sandbox.c
# (sandbox_table.py).
source "$(dirname "$0")/lib.sh"
E=$MC2_BUILD/mc2-enclave
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
"$E" --sandbox-selftest >"$WORK/out" 2>&1
rc=$?
check "selftest exits 0 (rc $rc: $(tr '\n' ' ' <"$WORK/out"))" test $rc -eq 0
check "open is refused" grep -qx "open: Operation not permitted" "$WORK/out"
check "socket is refused" grep -qx "socket: Operation not permitted" "$WORK/out"
check "a path lookup is refused" grep -qx "stat: Operation not permitted" "$WORK/out"
check "not dumpable" grep -qx "dumpable: 0" "$WORK/out"
check "mprotect to read-write works" grep -qx "mprotect rw: ok" "$WORK/out"
check "a signal to its own thread works" grep -qx "tgkill self: ok" "$WORK/out"
# Each probe makes one forbidden call after installing the filter: killed by SIGSYS (31).
for probe in mprotect-exec mmap-exec tgkill-other prctl-dumpable; do
  "$E" --sandbox-selftest "$probe" >"$WORK/out" 2>&1
  rc=$?
  check "$probe kills the enclave with SIGSYS (rc $rc, wanted 159: $(tr '\n' ' ' <"$WORK/out"))" \
    test $rc -eq 159
done
expect_fail "an unknown probe is a usage error" 2 "unknown sandbox probe" "$E" --sandbox-selftest nope
expect_fail "not started by hand" 2 "started by mc2d" "$E" --something
if python3 "$(dirname "$0")/sandbox_table.py" "$ROOT/src/enclave/sandbox.c" \
  "$ROOT/docs/enclave-interface.md" >"$WORK/table" 2>&1; then ok; else
  bad "docs/enclave-interface.md's sandbox table differs from sandbox.c: $(cat "$WORK/table")"
fi
finish
