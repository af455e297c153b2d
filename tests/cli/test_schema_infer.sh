#!/usr/bin/env bash
# test_schema_infer.sh - `mc2 schema infer`: the documented type for each kind of column
# (integers, negative numbers, mixed int/float -> DECIMAL, exponents and 19-digit integers ->
# DOUBLE, dates, invalid dates, booleans, 0/1, quoted commas and quotes, UTF-8 lengths, an
# empty column, NULLs -> nullable), .tbl input, clear errors (bad or duplicate header names,
# a short record, a bare quote, a missing file), --help; then the inferred schema is used by
# `mc2 upload` against a live service and the downloaded table equals the CSV value for value
# (and a .tbl file round-trips through `mc2 encrypt`/`mc2 decrypt`).
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
PY=/usr/bin/python3

# ---- types -----------------------------------------------------------------------------------
cat >"$WORK/people.csv" <<'EOF'
id,name,price,ratio,born,member,flag01,empty,mixed,neg,big,note,city,bad_day
1,"Smith, John",12.50,1e3,1980-01-05,true,0,,1,-3,12345678901234567890,"",Zürich,2023-02-28
2,Ann,7,0.25,2000-02-29,F,1,,2.5,-0.75,1,"say ""hi""",Köln,2023-02-30
3,,100.125,,1999-12-31,yes,1,,3,4,2,x,Oslo,2023-03-01
-4,Bo,0.5,-2.5,1970-01-01,no,0,,-7,0,3,y,Ås,2023-03-02
EOF
expect_ok "infer people.csv" "$MC2" schema infer "$WORK/people.csv"
cp "$WORK/out" "$WORK/people.yaml"
want_line() { # want_line DESC LINE: the inferred schema has this exact line
  if grep -qxF -- "$2" "$WORK/people.yaml"; then ok; else bad "$1: no line '$2' in: $(cat "$WORK/people.yaml")"; fi
}
want_line "table name from the file" "table: people"
want_line "integers incl. negative: INT64, no NULL" "  - {name: id, type: INT64, nullable: false}"
want_line "quoted comma: VARCHAR(longest), NULL" "  - {name: name, type: VARCHAR(11)}"
want_line "exact decimals: DECIMAL(p,s)" "  - {name: price, type: 'DECIMAL(6,3)', nullable: false}"
want_line "exponent: DOUBLE" "  - {name: ratio, type: DOUBLE}"
want_line "dates: DATE" "  - {name: born, type: DATE, nullable: false}"
want_line "true/F/yes/no: BOOL" "  - {name: member, type: BOOL, nullable: false}"
want_line "0/1 only: INT64" "  - {name: flag01, type: INT64, nullable: false}"
want_line "empty column: VARCHAR(1), nullable" "  - {name: empty, type: VARCHAR(1)}"
want_line "empty column: flagged" "  # empty has no values in the file: the type is a placeholder"
want_line "mixed int/float: DECIMAL" "  - {name: mixed, type: 'DECIMAL(2,1)', nullable: false}"
want_line "negative decimals: DECIMAL" "  - {name: neg, type: 'DECIMAL(3,2)', nullable: false}"
want_line "beyond int64: DOUBLE" "  - {name: big, type: DOUBLE, nullable: false}"
want_line "empty string and doubled quotes: VARCHAR" "  - {name: note, type: VARCHAR(8), nullable: false}"
want_line "UTF-8: length in characters" "  - {name: city, type: VARCHAR(6), nullable: false}"
want_line "an impossible date: VARCHAR" "  - {name: bad_day, type: VARCHAR(10), nullable: false}"
expect_ok "infer --table" "$MC2" schema infer "$WORK/people.csv" --table clients
check "--table names the table" grep -qx "table: clients" "$WORK/out"

printf 'a|b|c|\n1|x y|2024-01-01|\n2||2024-01-02|\n' >"$WORK/t.tbl"
expect_ok "infer .tbl" "$MC2" schema infer "$WORK/t.tbl"
cp "$WORK/out" "$WORK/t.yaml"
check ".tbl: columns c1.. typed from every record (no header)" \
  test "$(grep -c '^  - ' "$WORK/t.yaml")" = 3
check ".tbl: c1 is VARCHAR (a header-like first record counts as data)" \
  grep -qx "  - {name: c1, type: VARCHAR(1), nullable: false}" "$WORK/t.yaml"
check ".tbl: c2 has a NULL" grep -qx "  - {name: c2, type: VARCHAR(3)}" "$WORK/t.yaml"
printf 'a,b\n1,2\n' >"$WORK/plain.txt"
expect_ok "--format tbl on a .txt" "$MC2" schema infer --format tbl "$WORK/plain.txt"
check "--format tbl: one column" grep -qx "  - {name: c1, type: VARCHAR(3), nullable: false}" "$WORK/out"

# ---- errors and help ------------------------------------------------------------------------
expect_ok "schema --help" "$MC2" schema --help
check "help names the command" grep -q "mc2 schema infer DATA.csv" "$WORK/out"
expect_ok "schema infer --help" "$MC2" schema infer --help
expect_fail "no file" 2 "which file" "$MC2" schema infer
expect_fail "bad --format" 2 "--format must be 'csv' or 'tbl'" "$MC2" schema infer x.csv --format xls
expect_fail "bad --table" 2 "not a table name" "$MC2" schema infer x.csv --table 'a-b'
expect_fail "unknown subcommand" 2 "unknown subcommand 'guess'" "$MC2" schema guess x.csv
expect_fail "missing file" 1 "cannot open .*nope.csv" "$MC2" schema infer "$WORK/nope.csv"
printf 'first name,age\nx,1\n' >"$WORK/e1.csv"
expect_fail "a header name with a space" 1 "'first name' is not a valid column name" \
  "$MC2" schema infer "$WORK/e1.csv"
printf 'a,A\n1,2\n' >"$WORK/e2.csv"
expect_fail "duplicate names ignoring case" 1 "column name 'A' appears twice" \
  "$MC2" schema infer "$WORK/e2.csv"
printf 'a,b\n1,2\n3\n' >"$WORK/e3.csv"
expect_fail "a short record" 1 "line 3: 1 fields, the header has 2" "$MC2" schema infer "$WORK/e3.csv"
printf 'a,b\n1,x"y\n' >"$WORK/e4.csv"
expect_fail "a bare quote" 1 "line 2: a '\"' inside a field" "$MC2" schema infer "$WORK/e4.csv"
: >"$WORK/e5.csv"
expect_fail "an empty file" 1 "is empty" "$MC2" schema infer "$WORK/e5.csv"

# ---- the inferred schemas work: .tbl through encrypt/decrypt ----------------------------------
"$MC2" init --name bank-a --home "$WORK/bank-a" >/dev/null
expect_ok "encrypt t.tbl with the inferred schema" "$MC2" encrypt --home "$WORK/bank-a" \
  --schema "$WORK/t.yaml" --in "$WORK/t.tbl" --out "$WORK/t.mc2t"
expect_ok "decrypt it" "$MC2" decrypt --home "$WORK/bank-a" --in "$WORK/t.mc2t" --out "$WORK/t2.tbl"
check ".tbl round trip" cmp "$WORK/t.tbl" "$WORK/t2.tbl"

# ---- upload with the inferred schema and download: the same values ---------------------------
pk=$("$MC2" service init --dir "$WORK/state")
"$MC2" policy init --out "$WORK/c.yaml" --consortium infertest \
  --party "bank-a=$WORK/bank-a/identity.crt" --recipient bank-a --enclave "$B/mc2-enclave" \
  --allow-simulation --sim-platform-key "$pk" >/dev/null || bad "policy init"
cp "$WORK/c.yaml" "$WORK/bank-a/consortium.yaml"
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
if start_service "$WORK/state" "$WORK/c.yaml"; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi
expect_ok "upload with the inferred schema" "$MC2" upload --home "$WORK/bank-a" \
  --schema "$WORK/people.yaml" --in "$WORK/people.csv" --as people
expect_ok "download it" "$MC2" download people --home "$WORK/bank-a" --out "$WORK/back.csv"
if $PY - "$WORK/people.csv" "$WORK/back.csv" <<'EOF'; then ok; else bad "downloaded values differ from the CSV's"; fi
import csv, sys
from decimal import Decimal
BOOL = {'true': True, 't': True, 'yes': True, '1': True, 'false': False, 'f': False, 'no': False, '0': False}
def same(a, b):
    if a == b:
        return True
    try:  # exact decimals must come back exactly; a DOUBLE as the same double
        return Decimal(a) == Decimal(b) or float(a) == float(b)
    except Exception:
        pass
    la, lb = a.lower(), b.lower()
    return la in BOOL and lb in BOOL and BOOL[la] == BOOL[lb]
# the csv module gives "" for both NULL and the empty string: compare the raw quoting too
a = list(csv.reader(open(sys.argv[1], encoding='utf-8')))
b = list(csv.reader(open(sys.argv[2], encoding='utf-8')))
assert [h.lower() for h in a[0]] == [h.lower() for h in b[0]], (a[0], b[0])
assert len(a) == len(b), (len(a), len(b))
for ra, rb in zip(a[1:], b[1:]):
    for h, x, y in zip(a[0], ra, rb):
        assert same(x, y), (h, x, y)
raw_b = open(sys.argv[2], encoding='utf-8').read().splitlines()[1]
assert ',"",' in raw_b, raw_b  # the empty string stays an empty string, not NULL
print("upload/download round trip: %d rows equal" % (len(a) - 1))
EOF
finish
