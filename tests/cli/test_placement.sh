#!/usr/bin/env bash
# test_placement.sh - a table placed on three services (`mc2 upload --place`): each stores only
# its part (smaller than the whole table, listed with the whole table's rows and blocks); the
# catalog records one upload; a single-enclave job on a host that holds a part refuses it,
# saying the table was placed on a cluster; the owner downloads it whole from the parts
# (`mc2 download --place`), one host alone says to use --place, and swapped parts are refused; a host that swaps in another host's part is caught
# by the distributed run (test_dist_jobs.sh) and by test_tpart. Also --place's usage errors.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
"$MC2" init --name alice --home "$WORK/alice" >/dev/null
keys=()
for r in 0 1 2; do keys+=(--sim-platform-key "$("$MC2" service init --dir "$WORK/s$r")"); done
"$MC2" policy init --out "$WORK/c.yaml" --consortium placetest \
  --party "alice=$WORK/alice/identity.crt" --recipient alice --enclave "$B/mc2-enclave" \
  --allow-simulation "${keys[@]}" >/dev/null
cp "$WORK/c.yaml" "$WORK/alice/consortium.yaml"
trap 'for r in 0 1 2; do "$MC2" stop --dir "$WORK/s$r" >/dev/null 2>&1; done; rm -rf "$WORK"' EXIT
svc=()
for r in 0 1 2; do
  if start_service "$WORK/s$r" "$WORK/c.yaml"; then ok; else
    bad "start s$r: $(cat "$WORK/err")"
    finish
  fi
  svc+=("$MC2_SERVICE")
done
A=(--home "$WORK/alice")
# 120000 rows of 4 columns: about 32768 rows per block (1 MiB), so 4 blocks
awk 'BEGIN { print "age,income,debt,defaulted";
  for (i = 0; i < 120000; i++) printf "%d,%.2f,%.2f,%d\n", 20 + i % 50, 1000 + (i * 37) % 5000, (i * 53) % 4000, (i % 7 == 0) }' \
  >"$WORK/loans.csv"
place="${svc[0]},${svc[1]},${svc[2]}"
expect_ok "upload --place (3 hosts)" "$MC2" upload "${A[@]}" --schema "$MC2_SRC/examples/loans.yaml" \
  --in "$WORK/loans.csv" --as loans --place "$place"
check "upload names the table once (got: $(cat "$WORK/out"))" grep -q "uploaded alice/loans version 1" "$WORK/out"
# every host lists the table with the whole table's counts; each stores a part only
expect_ok "upload whole to compare" "$MC2" upload "${A[@]}" --schema "$MC2_SRC/examples/loans.yaml" \
  --in "$WORK/loans.csv" --as whole --service "${svc[0]}"
whole=$(stat -c %s "$WORK/s0/store/tables/alice/whole.mc2t" 2>/dev/null || echo 0)
total=0
for r in 0 1 2; do
  f="$WORK/s$r/store/tables/alice/loans.mc2t"
  check "host $r stores its part" test -s "$f"
  sz=$(stat -c %s "$f" 2>/dev/null || echo 0)
  total=$((total + sz))
  check "host $r's part ($sz bytes) is smaller than the table ($whole)" test "$sz" -lt "$whole"
  check "host $r's part starts with its head" test "$(head -c 4 "$f" 2>/dev/null)" = MC2P
  "$MC2" tables "${A[@]}" --service "${svc[$r]}" >"$WORK/t$r" 2>&1
  check "host $r lists alice/loans with 120000 rows: $(grep loans "$WORK/t$r" | head -1)" \
    grep -Eq "alice/loans .*120000" "$WORK/t$r"
done
check "the parts together hold the blocks once (parts $total, whole $whole bytes)" \
  test "$total" -lt $((whole + 3 * 2000))
# a single-enclave job on a part is refused, with the reason
"$MC2" submit "${A[@]}" --service "${svc[0]}" --kind rowcount --input alice/loans \
  --recipient alice >"$WORK/out" 2>"$WORK/err"
job=$(grep -Eo '[0-9]+' "$WORK/out" | head -1)
for _ in $(seq 1 50); do
  "$MC2" job "${job:-0}" "${A[@]}" --service "${svc[0]}" >"$WORK/job" 2>&1
  grep -Eq "failed|done" "$WORK/job" && break
  sleep 0.2
done
check "a one-enclave job on a part fails, naming the placement: $(grep -i state "$WORK/job" | head -2)" \
  grep -q "placed on a cluster" "$WORK/job"
# the whole table on the same host still works
expect_ok "rowcount on the whole table" "$MC2" submit "${A[@]}" --service "${svc[0]}" --kind rowcount \
  --input alice/whole --recipient alice
# the owner gets its table back from the parts; one service alone says what to do
expect_ok "download --place joins the parts" "$MC2" download loans "${A[@]}" --place "$place" \
  --out "$WORK/back.csv"
expect_ok "download the whole upload" "$MC2" download whole "${A[@]}" --service "${svc[0]}" \
  --out "$WORK/whole.csv"
check "the joined parts decrypt to the rows of the whole upload ($(wc -l <"$WORK/back.csv") lines)" \
  cmp -s "$WORK/whole.csv" "$WORK/back.csv"
expect_fail "download from one host of a placed table" 1 "holds only part 1 of 3 .*--place" \
  "$MC2" download loans "${A[@]}" --service "${svc[0]}" --out "$WORK/x.csv"
# a host that swaps in another host's part: the parts do not fit together
cp "$WORK/s1/store/tables/alice/loans.mc2t" "$WORK/p1.keep"
cp "$WORK/s2/store/tables/alice/loans.mc2t" "$WORK/s1/store/tables/alice/loans.mc2t"
expect_fail "download with host 2's part at host 1" 1 "part 2 of 3 does not fit" \
  "$MC2" download loans "${A[@]}" --place "$place" --out "$WORK/x.csv"
check "no output file after a failed download" test ! -e "$WORK/x.csv"
cp "$WORK/p1.keep" "$WORK/s1/store/tables/alice/loans.mc2t"
# usage errors
expect_fail "--place and --service" 2 "one of --service, --cluster and --place" \
  "$MC2" upload "${A[@]}" --schema "$MC2_SRC/examples/loans.yaml" --in "$WORK/loans.csv" \
  --as x --place "$place" --service "${svc[0]}"
expect_fail "--place without a port" 2 "HOST:PORT" \
  "$MC2" upload "${A[@]}" --schema "$MC2_SRC/examples/loans.yaml" --in "$WORK/loans.csv" \
  --as x --place "127.0.0.1"
expect_fail "--cluster without a cluster" 1 "no cluster recorded" \
  "$MC2" upload "${A[@]}" --schema "$MC2_SRC/examples/loans.yaml" --in "$WORK/loans.csv" \
  --as x --cluster "$WORK/nocluster"
finish
