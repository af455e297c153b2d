#!/usr/bin/env bash
# test_canary.sh - the canary test (docs/security.md, confidentiality from the host): two owners upload tables
# carrying fresh random markers (strings, a column name and 15-digit integers), a job over
# both runs and the recipient downloads its result. None of the markers may appear in
#   (a) anything under mc2d's state directory (store, temporary files, logs),
#   (b) any byte mc2d read or wrote on any descriptor (clients, enclave channel, files):
#       mc2d runs under strace, which dumps every byte of every read and write (not -f: its
#       enclave child is trusted and is not followed),
#   (c) mc2d's log,
#   (d) mc2d's memory (/proc/PID/mem), scanned over and over while the job runs, and after.
# Each scan has a positive control that must be found, so a blind scan fails the test.
# Markers are searched as text, as hex, and (numbers) as little/big-endian int64.
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?MC2_BUILD must point at the build directory}
HS=$B/hostscan
if ! command -v strace >/dev/null; then
  echo "test_canary: strace is missing: run scripts/bootstrap.sh" >&2
  exit 1
fi
[[ -x $HS ]] || { echo "test_canary: $HS is missing (build the hostscan target)" >&2; exit 1; }

SPID='' MPID='' LPID='' CPID=''
cleanup() {
  for p in $LPID $CPID $MPID $SPID; do kill "$p" 2>/dev/null; done
  for p in $LPID $CPID $SPID; do wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
t0=$(date +%s)

hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
num15() { echo $((100000000000000 + $(od -An -N6 -tu8 /dev/urandom | tr -d ' ') % 900000000000000)); }
MA=CANARY$(hex 10)      # a string in every row of bank-a's table
MB=CANARY$(hex 10)      # and of bank-b's
NA=$(num15)             # a 15-digit integer in every row of bank-a's table
NB=$(num15)
COL=c$(hex 8)           # a column name (the schema is sealed in the ciphertext too)
TA=ta$(hex 4)           # table names and the consortium name are public: the controls
TB=tb$(hex 4)
CONS=canary-$(hex 6)
MARKERS=(-a "$MA" -a "$MB" -a "$COL" -n "$NA" -n "$NB")
ROWS=${MC2_CANARY_ROWS:-100000}
echo "markers: $MA $MB $COL $NA $NB; $ROWS rows per table"

STATE=$WORK/state
for p in bank-a bank-b auditor; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
PK=$("$MC2" service init --dir "$STATE")
"$MC2" policy init --out "$WORK/consortium.yaml" --consortium "$CONS" \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --party "auditor=$WORK/auditor/identity.crt" --recipient auditor \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$PK" >/dev/null
for p in bank-a bank-b auditor; do cp "$WORK/consortium.yaml" "$WORK/$p/consortium.yaml"; done
printf 'columns:\n  - {name: id, type: INT64}\n  - {name: note, type: VARCHAR(80)}\n  - {name: amount, type: INT64}\n  - {name: %s, type: INT64}\n' "$COL" >"$WORK/schema.yaml"
gen() { # gen MARKER NUMBER FILE
  awk -v m="$1" -v n="$2" -v rows="$ROWS" -v col="$COL" 'BEGIN {
    print "id,note,amount," col
    for (i = 1; i <= rows; i++) printf "%d,row %d holds %s here,%s,%d\n", i, i, m, n, i }' >"$3"
}
gen "$MA" "$NA" "$WORK/a.csv"
gen "$MB" "$NB" "$WORK/b.csv"

# mc2d under strace. --ready-fd goes through a fifo; retry on another port if one is taken.
mkfifo "$WORK/ready"
for _ in 1 2 3; do
  PORT=$("$HS" port)
  export MC2_SERVICE=127.0.0.1:$PORT
  strace -o "$WORK/mc2d.trace" -ttt -yy -xx -s 0 -qq -e signal=none -e trace=all \
    -e read=all -e write=all \
    "$B/mc2d" --dir "$STATE" --policy "$WORK/consortium.yaml" --listen "$MC2_SERVICE" \
    --ready-fd 3 3>"$WORK/ready" 2>>"$STATE/mc2d.log" </dev/null &
  SPID=$!
  line=
  read -r -t 60 line <"$WORK/ready"
  if [[ $line == "ok "* ]]; then break; fi
  wait "$SPID"
  SPID=
  [[ $line == *"cannot listen"* ]] || break
done
if [[ $line != "ok "* ]]; then
  echo "test_canary: mc2d did not start: ${line:-no answer}" >&2
  cat "$STATE/mc2d.log" >&2
  exit 1
fi
MPID=${line#ok }

expect_ok "bank-a uploads" "$MC2" upload --home "$WORK/bank-a" --schema "$WORK/schema.yaml" --in "$WORK/a.csv" --as "$TA"
expect_ok "bank-b uploads" "$MC2" upload --home "$WORK/bank-b" --schema "$WORK/schema.yaml" --in "$WORK/b.csv" --as "$TB"

# (d) mc2d's memory, over and over from before the job until after it.
"$HS" memloop "${MARKERS[@]}" -p "$CONS" --until "$WORK/stop" --log "$WORK/memloop.log" \
  --max-seconds 300 "$MPID" >"$WORK/memloop.out" 2>&1 &
LPID=$!
for _ in $(seq 100); do [[ -s $WORK/memloop.log ]] && break; sleep 0.1; done # a first pass
expect_ok "bank-a submits" "$MC2" submit --home "$WORK/bank-a" --kind rowcount --input "bank-a/$TA" --input "bank-b/$TB" --recipient auditor
JOB=$(sed -n 's/^submitted job \([0-9]*\):.*/\1/p' "$WORK/out")
expect_ok "bank-b approves (the job runs)" "$MC2" approve "${JOB:-0}" --home "$WORK/bank-b"
check "the job ran" grep -q "done" "$WORK/out"
touch "$WORK/stop"
wait "$LPID"
lrc=$?
LPID=
cat "$WORK/memloop.out"
check "no marker in mc2d's memory while the job ran (memloop exit $lrc)" test "$lrc" -eq 0

expect_ok "the auditor downloads the result" "$MC2" download --job "${JOB:-0}" --home "$WORK/auditor" --out "$WORK/result.csv"
check "the result counts both tables" grep -qx "total,$((2 * ROWS))" "$WORK/result.csv"

# (d) again, after the job and the download.
"$HS" mem "${MARKERS[@]}" -p "$CONS" "$MPID" >"$WORK/mem.out" 2>&1
mrc=$?
cat "$WORK/mem.out"
check "no marker in mc2d's memory after the job (exit $mrc)" test "$mrc" -eq 0

# The memory scanner finds the markers where they are: in a process holding the plaintext
# (a shell with the first rows in a variable, waiting on a fifo nobody writes).
mkfifo "$WORK/hold"
bash -c 'x=$(head -n 3 "$1"; head -n 3 "$2"); exec 9<>"$3"; read -r -t 60 -u 9 _; : "$x"' _ \
  "$WORK/a.csv" "$WORK/b.csv" "$WORK/hold" &
CPID=$!
sleep 0.3
"$HS" mem -p "$MA" -p "$MB" -p "$NA" -p "$NB" -p "$COL" "$CPID" >"$WORK/ctl.out" 2>&1
crc=$?
((crc == 0)) || cat "$WORK/ctl.out"
check "control: the memory scan finds the markers in a process that holds them" test $crc -eq 0
kill "$CPID" 2>/dev/null
wait "$CPID" 2>/dev/null
CPID=

# Stop mc2d; strace ends with it.
kill "$MPID"
wait "$SPID"
MPID='' SPID=''

# (b) every byte mc2d read or wrote. Controls: the consortium name (read from the policy
# file, written to the enclave in INIT), the object name the enclave asks for (read from
# the enclave channel) and the table name (read from a client, written to the log).
"$HS" trace "${MARKERS[@]}" -r "$CONS" -w "$CONS" -r "tables/bank-a/$TA.mc2t" -r "$TB" -w "$TA" \
  --state "$STATE" --first pread64:/store/tables/ --first write:/store/results/ \
  "$WORK/mc2d.trace" >"$WORK/trace.out" 2>&1
trc=$?
cat "$WORK/trace.out"
check "no marker in any byte mc2d read or wrote (exit $trc)" test "$trc" -eq 0
rm -f "$WORK/mc2d.trace" # hundreds of MB
# The parser finds the markers in a dump of a process that moves them in plaintext.
head -n 3000 "$WORK/a.csv" >"$WORK/ctl.csv"
head -n 3000 "$WORK/b.csv" >>"$WORK/ctl.csv"
strace -o "$WORK/ctl.trace" -ttt -yy -xx -s 0 -qq -e signal=none -e trace=all -e read=all \
  -e write=all cat "$WORK/ctl.csv" >/dev/null
"$HS" trace -r "$MA" -w "$MA" -r "$MB" -w "$MB" -r "$NA" -w "$NB" -r "$COL" "$WORK/ctl.trace" \
  >"$WORK/ctl.out" 2>&1
crc=$?
((crc == 0)) || cat "$WORK/ctl.out"
check "control: the trace scan finds the markers in a plaintext dump" test $crc -eq 0
# mc2d sends stored files with sendfile, whose bytes strace does not dump: the scan reads
# them back from the file. Controls: it finds the markers a sendfile of plaintext moved, and
# calls the scan incomplete when the file changed after the call.
SF='import os, socket, sys
a, b = socket.socketpair()
f = os.open(sys.argv[1], os.O_RDONLY)
n = os.fstat(f).st_size
while n > 0:
    k = os.sendfile(a.fileno(), f, os.fstat(f).st_size - n, min(n, 65536)); n -= k
    b.recv(65536)'
strace -o "$WORK/sf.trace" -ttt -yy -xx -s 0 -qq -e signal=none -e trace=all -e read=all \
  -e write=all /usr/bin/python3 -c "$SF" "$WORK/ctl.csv" 2>&1 | tail -n 3
"$HS" trace -r "$MA" -w "$MA" -r "$MB" -w "$MB" "$WORK/sf.trace" >"$WORK/sf.out" 2>&1
src=$?
((src == 0)) || cat "$WORK/sf.out"
check "control: the trace scan finds the markers a sendfile moved" test $src -eq 0
touch "$WORK/ctl.csv"
"$HS" trace -r "$MA" -w "$MA" "$WORK/sf.trace" >"$WORK/sf.out" 2>&1
src=$?
check "control: a sendfile whose file changed since makes the scan incomplete (exit $src)" \
  grep -q "strace cannot dump: the scan is incomplete" "$WORK/sf.out"

# The memory scans ran during the job: at least one whole pass between the first read of an
# input table and the first write of the result (timestamps from the same trace).
w0=$(sed -n 's|^first pread64:/store/tables/ \([0-9]*\)\.\([0-9]*\)$|\1\2|p' "$WORK/trace.out")
w1=$(sed -n 's|^first write:/store/results/ \([0-9]*\)\.\([0-9]*\)$|\1\2|p' "$WORK/trace.out")
inside=$(awk -v a="${w0:-0}" -v b="${w1:-0}" '$3 > a && $4 < b { n++ } END { print n + 0 }' "$WORK/memloop.log")
echo "job window (mc2d's first read of an input to first write of the result): $(((${w1:-0} - ${w0:-0}) / 1000)) ms; memory passes inside it: $inside of $(wc -l <"$WORK/memloop.log")"
check "at least one memory pass ran entirely while the job ran" test "${w0:-0}" -gt 0 -a "${w1:-0}" -gt "${w0:-0}" -a "$inside" -gt 0

# (a) the state directory (the store, temporary files, logs, keys) and (c) the log.
"$HS" files "${MARKERS[@]}" -p "stored table bank-a/$TA" "$STATE" >"$WORK/files.out" 2>&1
frc=$?
cat "$WORK/files.out"
check "no marker under mc2d's state directory (exit $frc)" test "$frc" -eq 0
"$HS" files "${MARKERS[@]}" -p "stored results/job-$JOB" "$STATE/mc2d.log" >"$WORK/log.out" 2>&1
grc=$?
cat "$WORK/log.out"
check "no marker in mc2d's log (exit $grc)" test "$grc" -eq 0
echo "test_canary: $(($(date +%s) - t0)) s"
finish
