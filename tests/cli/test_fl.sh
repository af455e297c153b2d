#!/usr/bin/env bash
# test_fl.sh - `mc2 fl round start|submit|status|get` end to end on a live service with three
# parties (docs/fl.md): bank-a starts a round with bank-a, bank-b, bank-c as participants
# and k = 2; each sends an update as .npy files (one per tensor, or one file of all values;
# float32 and float64); the status names who is missing; a non-participant's and a second
# update are refused; the recipient gets the weighted mean as .npy files and the round's
# table; a second round chains on the first (--base); bad parameters are usage errors; and
# every subcommand has --help.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
for p in bank-a bank-b bank-c auditor; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
pk=$("$MC2" service init --dir "$WORK/state")
"$MC2" policy init --out "$WORK/c.yaml" --consortium fltest \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --party "bank-c=$WORK/bank-c/identity.crt" --party "auditor=$WORK/auditor/identity.crt" \
  --recipient bank-a --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" >/dev/null
for p in bank-a bank-b bank-c auditor; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
if start_service "$WORK/state" "$WORK/c.yaml"; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi

# npy OUT DTYPE(f4|f8) SHAPE(python tuple) VALUES...: writes a .npy file
npy() {
  python3 - "$@" <<'PY'
import struct, sys
out, dt, shape, vals = sys.argv[1], sys.argv[2], sys.argv[3], [float(v) for v in sys.argv[4:]]
h = "{'descr': '<%s', 'fortran_order': False, 'shape': %s, }" % (dt, shape)
h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
with open(out, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode())
    f.write(b"".join(struct.pack("<f" if dt == "f4" else "<d", v) for v in vals))
PY
}
# values of a .npy '<f4' file, one per line, as %.9g
npy_values() {
  python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
hl = struct.unpack("<H", d[8:10])[0]
body = d[10 + hl:]
print("\n".join("%.9g" % v for v in struct.unpack("<%df" % (len(body) // 4), body)))
PY
}
mkdir -p "$WORK/ua" "$WORK/ub"
npy "$WORK/ua/w.npy" f4 "(2, 2)" 1 2 3 4
npy "$WORK/ua/b.npy" f4 "(1,)" 0.5
npy "$WORK/ub/w.npy" f8 "(2, 2)" -1 0 1 2
npy "$WORK/ub/b.npy" f8 "(1,)" 1.5
npy "$WORK/uc.npy" f4 "(5,)" 9 9 9 9 9

expect_ok "round start" "$MC2" fl round start --home "$WORK/bank-a" --participants bank-a,bank-b,bank-c \
  --tensors w:2x2,b:1 --round 1 --k 2 --deadline 3
check "start prints the job" grep -q "submitted fedavg round 1 as job" "$WORK/out"
J=$(sed -n 's/.* as job \([0-9]*\) .*/\1/p' "$WORK/out")
expect_ok "bank-a submits a directory of .npy" "$MC2" fl round submit "$J" --home "$WORK/bank-a" \
  --update "$WORK/ua" --weight 1
expect_ok "bank-b submits float64 .npy files" "$MC2" fl round submit "$J" --home "$WORK/bank-b" \
  --update "$WORK/ub" --weight 3
expect_fail "a second update" 1 "already contributed" \
  "$MC2" fl round submit "$J" --home "$WORK/bank-b" --update "$WORK/ub" --weight 3
expect_fail "a non-participant" 1 "auditor is not a participant" \
  "$MC2" fl round submit "$J" --home "$WORK/auditor" --update "$WORK/uc.npy" --weight 1
expect_fail "a file of the wrong size" 2 "holds 1 values; the round's tensors have 5" \
  "$MC2" fl round submit "$J" --home "$WORK/bank-c" --update "$WORK/ua/b.npy" --weight 1
expect_ok "status" "$MC2" fl round status "$J" --home "$WORK/bank-c"
check "status names the missing participant" \
  grep -q "waiting for updates: 2 of 3 (k = 2) from bank-a, bank-b; missing bank-c" "$WORK/out"
expect_ok "get waits for the deadline" "$MC2" fl round get "$J" --home "$WORK/bank-a" -o "$WORK/m1"
check "get prints the round's table" grep -Eq "^1 +2 +4 +0 +none" "$WORK/out"
npy_values "$WORK/m1/w.npy" >"$WORK/w1"
printf '%s\n' -0.5 0.5 1.5 2.5 >"$WORK/w1.want" # (1*[1,2,3,4] + 3*[-1,0,1,2]) / 4
check "the weighted mean" cmp -s "$WORK/w1" "$WORK/w1.want"
check "b is the mean too" test "$(npy_values "$WORK/m1/b.npy")" = 1.25
expect_fail "a late update" 1 "closed|deadline" \
  "$MC2" fl round submit "$J" --home "$WORK/bank-c" --update "$WORK/uc.npy" --weight 1
expect_fail "the model is for recipients" 1 "not a recipient" \
  "$MC2" fl round get "$J" --home "$WORK/bank-b" -o "$WORK/mb"

# round 2 starts from round 1's model; everyone contributes: released at once
expect_ok "round 2 with --base" "$MC2" fl round start --home "$WORK/bank-b" --participants bank-a,bank-c \
  --tensors w:2x2,b:1 --round 2 --k 2 --base "$J" --lr 0.5 --to bank-a
J2=$(sed -n 's/.* as job \([0-9]*\) .*/\1/p' "$WORK/out")
expect_ok "bank-a round 2" "$MC2" fl round submit "$J2" --home "$WORK/bank-a" --update "$WORK/uc.npy" --weight 1
expect_ok "bank-c round 2 (one file)" "$MC2" fl round submit "$J2" --home "$WORK/bank-c" --update "$WORK/uc.npy" --weight 1
expect_ok "get round 2" "$MC2" fl round get "$J2" --home "$WORK/bank-a" -o "$WORK/m2"
printf '%s\n' 4 5 6 7 >"$WORK/w2.want" # base + 0.5 * 9
npy_values "$WORK/m2/w.npy" >"$WORK/w2"
check "round 2 = base + lr * mean" cmp -s "$WORK/w2" "$WORK/w2.want"

expect_fail "an unknown base" 1 "'base_job': job 999 is not a fedavg round" \
  "$MC2" fl round start --home "$WORK/bank-a" --participants bank-a,bank-b --tensors w:1 --round 1 --k 1 --base 999
expect_fail "k above the participants" 2 "'k' must be a whole number from 1 to 2" \
  "$MC2" fl round start --home "$WORK/bank-a" --participants bank-a,bank-b --tensors w:1 --round 1 --k 3
expect_fail "noise without clipping" 2 "'noise_multiplier' needs 'clip_norm'" \
  "$MC2" fl round start --home "$WORK/bank-a" --participants bank-a,bank-b --tensors w:1 --round 1 --k 1 --noise 1
expect_fail "a participant outside the policy" 1 "'participants': bank-z is not a party" \
  "$MC2" fl round start --home "$WORK/bank-a" --participants bank-a,bank-z --tensors w:1 --round 1 --k 1
expect_fail "missing options" 2 "are required" "$MC2" fl round start --home "$WORK/bank-a"
expect_fail "no subcommand" 2 "usage: mc2 fl round" "$MC2" fl
for sub in start submit status get; do
  expect_ok "fl round $sub --help" "$MC2" fl round $sub --help
  check "fl round $sub --help says usage" grep -q "usage: mc2 fl round $sub" "$WORK/out"
done
expect_ok "mc2 help fl" "$MC2" help fl
check "mc2 help fl lists the subcommands" grep -q "mc2 fl round submit JOB" "$WORK/out"
finish
