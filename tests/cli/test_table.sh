#!/usr/bin/env bash
# test_table.sh - mc2 encrypt / decrypt / inspect through the CLI: exact round trips, clear
# errors with no output file, and tampering rejected. (The full tamper matrix is in the C
# test test_tfile; this checks the CLI reports it properly.)
source "$(dirname "$0")/lib.sh"
EX=$MC2_SRC/examples
A=$WORK/alice
B=$WORK/bob
"$MC2" init --name alice --home "$A" >/dev/null
"$MC2" init --name bob --home "$B" >/dev/null
export MC2_HOME=$A

expect_ok "encrypt example" "$MC2" encrypt --schema "$EX/accounts.yaml" --in "$EX/accounts.csv" --out "$WORK/acc.mc2t"
check "encrypt reports rows" grep -q "encrypted 6 rows" "$WORK/out"
for marker in Lovelace Hopper Portland 98000 2019-03-14 holder risk_score; do
  check "ciphertext hides '$marker'" bash -c "! grep -q '$marker' '$WORK/acc.mc2t'"
done
expect_ok "decrypt example" "$MC2" decrypt --in "$WORK/acc.mc2t" --out "$WORK/acc.csv"
check "round trip is exact" cmp -s "$EX/accounts.csv" "$WORK/acc.csv"
expect_ok "inspect" "$MC2" inspect --in "$WORK/acc.mc2t"
check "inspect shows rows" grep -q "^rows: *6" "$WORK/out"
check "inspect shows schema" grep -q "DECIMAL(15,2)" "$WORK/out"

# Another party's key cannot read it; no output appears.
expect_fail "bob cannot decrypt" 1 "does not authenticate" "$MC2" decrypt --home "$B" --in "$WORK/acc.mc2t" --out "$WORK/bob.csv"
check "no output for bob" test ! -e "$WORK/bob.csv"

# Tampering: flip one byte in the middle of the file (inside a block or the header).
cp "$WORK/acc.mc2t" "$WORK/t1.mc2t"
size=$(stat -c %s "$WORK/t1.mc2t")
printf '\xff' | dd of="$WORK/t1.mc2t" bs=1 seek=$((size - 20)) conv=notrunc status=none
expect_fail "flipped byte rejected" 1 "does not authenticate|modified" "$MC2" decrypt --in "$WORK/t1.mc2t" --out "$WORK/t1.csv"
check "no output after tamper" test ! -e "$WORK/t1.csv"
head -c $((size - 1)) "$WORK/acc.mc2t" >"$WORK/t2.mc2t"
expect_fail "truncated rejected" 1 "truncated|ends" "$MC2" decrypt --in "$WORK/t2.mc2t" --out "$WORK/t2.csv"
check "no output after truncation" test ! -e "$WORK/t2.csv"

# .tbl input (TPC-H dbgen layout) and output.
cat >"$WORK/region.tbl" <<'TBL'
0|AFRICA|lar deposits. blithely final packages cajole. regular waters are final requests. regular accounts are according to |
1|AMERICA|hs use ironic, even requests. s|
TBL
expect_ok "encrypt .tbl" "$MC2" encrypt --schema "$MC2_SRC/schemas/tpch/region.yaml" --in "$WORK/region.tbl" --out "$WORK/region.mc2t"
expect_ok "decrypt to .tbl" "$MC2" decrypt --in "$WORK/region.mc2t" --out "$WORK/region2.tbl"
check ".tbl round trip is exact" cmp -s "$WORK/region.tbl" "$WORK/region2.tbl"

# Bad input: file, line and column named; exit 1; no output file.
S=$EX/accounts.yaml
hdr='id,holder,city,balance,opened,risk_score,active'
bad_case() { # NAME ROW PATTERN
  printf '%s\n1,a,b,1.00,2020-01-01,0.5,true\n%s\n' "$hdr" "$2" >"$WORK/bad.csv"
  expect_fail "$1" 1 "$3" "$MC2" encrypt --schema "$S" --in "$WORK/bad.csv" --out "$WORK/bad.mc2t"
  check "$1: no output" test ! -e "$WORK/bad.mc2t"
}
bad_case "wrong column count" '2,a,b,1.00,2020-01-01,0.5' "bad.csv.*line 3.*expected 7 columns"
bad_case "unparsable number" 'x2,a,b,1.00,2020-01-01,0.5,true' "bad.csv.*line 3.*column 1.*id"
bad_case "unparsable decimal" '2,a,b,1.001,2020-01-01,0.5,true' "bad.csv.*line 3.*column 4.*balance"
bad_case "unparsable date" '2,a,b,1.00,2020-02-30,0.5,true' "bad.csv.*line 3.*column 5.*opened"
bad_case "string too long" "2,a,$(printf 'x%.0s' {1..31}),1.00,2020-01-01,0.5,true" "bad.csv.*line 3.*column 3.*city.*30"
printf 'columns:\n  - name: a\n    type: VARCHR(3)\n' >"$WORK/s1.yaml"
expect_fail "unknown type" 1 "s1.yaml line 3.*unknown type 'VARCHR\(3\)'" "$MC2" encrypt --schema "$WORK/s1.yaml" --in "$EX/accounts.csv" --out "$WORK/bad.mc2t"
printf 'columns:\n  - name: a\n   type: [INT64\n' >"$WORK/s2.yaml"
expect_fail "invalid YAML" 1 "s2.yaml line [0-9]+.*not valid YAML" "$MC2" encrypt --schema "$WORK/s2.yaml" --in "$EX/accounts.csv" --out "$WORK/bad.mc2t"
check "no output after schema errors" test ! -e "$WORK/bad.mc2t"
expect_fail "missing input" 1 "nope.csv" "$MC2" encrypt --schema "$S" --in "$WORK/nope.csv" --out "$WORK/bad.mc2t"
expect_fail "missing --out" 2 "required" "$MC2" encrypt --schema "$S" --in "$EX/accounts.csv"
finish
