#!/usr/bin/env bash
# test_sql_decimal38.sh - DECIMAL up to 38 digits end to end on a live service (docs/sql.md,
# "Typing"): a Q1-like SUM of price * (1 - disc) * (1 + tax) whose value needs more than 18
# digits is exact; a stored DECIMAL(38,4) column is uploaded, summed, compared, grouped, joined,
# rounded and cast (negatives and half-way rounding edges); results come back through the
# sealed result table and the client's CSV. Every expected value is computed independently
# here with Python's decimal module (ROUND_HALF_UP is SQL's half away from zero). Overflow
# beyond 38 digits is an error. Oblivious mode gives the same exact sum while it fits 64 bits,
# fails with an overflow error beyond, and refuses to read a stored wide column.
source "$(dirname "$0")/lib.sh"
B=$MC2_BUILD
PY=/usr/bin/python3
if [[ ! -x $PY ]]; then
  echo "test_sql_decimal38.sh: no $PY, skipped"
  exit 77
fi
"$MC2" init --name bank-a --home "$WORK/bank-a" >/dev/null
pk=$("$MC2" service init --dir "$WORK/state")
"$MC2" policy init --out "$WORK/c.yaml" --consortium dectest \
  --party "bank-a=$WORK/bank-a/identity.crt" --recipient bank-a \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$pk" >/dev/null
cp "$WORK/c.yaml" "$WORK/bank-a/consortium.yaml"
trap '"$MC2" stop --dir "$WORK/state" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
cat >"$WORK/li.yaml" <<'EOF'
table: li
columns:
  - {name: id, type: INT64, nullable: false}
  - {name: g, type: VARCHAR(1), nullable: false}
  - {name: price, type: 'DECIMAL(15,2)', nullable: false}
  - {name: disc, type: 'DECIMAL(15,2)', nullable: false}
  - {name: tax, type: 'DECIMAL(15,2)', nullable: false}
  - {name: big, type: 'DECIMAL(38,4)'}
EOF

# The data and every expected result, written by Python into $WORK.
"$PY" - "$WORK" <<'EOF'
import random, sys
from decimal import Decimal as D, ROUND_HALF_UP, getcontext
getcontext().prec = 100
w = sys.argv[1]
rnd = random.Random(38)
def q(x, s):  # SQL rounding to s digits, formatted with exactly s digits
    return x.quantize(D(1).scaleb(-s), rounding=ROUND_HALF_UP)
def f(x, s):
    return format(q(x, s), 'f')
rows = []
edges = [D('12345678901234567890123456789.0050'), D('-12345678901234567890123456789.0050'),
         D('0.0050'), D('-0.0050'), D('99999999999999999999999999999999.9999'),
         D('-99999999999999999999999999999999.9949'), D('7.0000'), D('7.0000'), D('-1.0001')]
for i in range(1, 401):
    # group A: 40 rows near 9.9e10 (the scaled product ~1e17 each, the sum ~4e18: > 10^18 but
    # within int64); group B: 100 such rows (~1e19: beyond int64); C: small values
    g = 'A' if i <= 40 else 'B' if i <= 140 else 'C'
    if g == 'C':
        price = D(rnd.randrange(100, 10000000)) / 100
    else:
        price = D(rnd.randrange(9000000000000, 9900000000000)) / 100
    disc = D(rnd.randrange(0, 11)) / 100
    tax = D(rnd.randrange(0, 9)) / 100
    if i <= len(edges):
        big = edges[i - 1]
    elif i % 17 == 0:
        big = None
    elif i >= 399:  # two values near the top of DECIMAL(38,4): their sum overflows
        big = D('9500000000000000000000000000000000.0000')
    else:
        big = D(rnd.randrange(-10**30, 10**30)) / 10**4
    rows.append((i, g, price, disc, tax, big))
with open(w + '/li.csv', 'w') as o:
    o.write('id,g,price,disc,tax,big\n')
    for r in rows:
        o.write('%d,%s,%s,%s,%s,%s\n' % (r[0], r[1], f(r[2], 2), f(r[3], 2), f(r[4], 2),
                                          '' if r[5] is None else f(r[5], 4)))
def wr(name, header, lines):
    with open(w + '/' + name, 'w') as o:
        o.write(header + '\n')
        for l in lines:
            o.write(l + '\n')
# q1: Q1's sums and averages per group
q1 = []
for g in 'ABC':
    rs = [r for r in rows if r[1] == g]
    charge = sum(r[2] * (1 - r[3]) * (1 + r[4]) for r in rs)
    sp = sum(r[2] for r in rs)
    q1.append('%s,%s,%s,%s,%s,%d' % (g, f(charge, 6), f(sp, 2), f(sp / len(rs), 6),
                                     f(sum(r[3] for r in rs) / len(rs), 6), len(rs)))
wr('q1.csv', 'g,charge,sp,ap,ad,n', q1)
wr('q1a.csv', 'g,charge,sp,ap,ad,n', q1[:1])
assert D(q1[0].split(',')[1]) > 10**12  # more than 18 digits at scale 6
# q2: arithmetic, ROUND, ABS, CAST on the wide column
sel = sorted([r for r in rows if r[0] < 399 and r[5] is not None], key=lambda r: (-r[5], r[0]))
q2 = []
for r in sel[:6] + sel[-6:]:
    b = r[5]
    q2.append(','.join([str(r[0]), f(b, 4), f(b * 2, 4), f(b - D('1.5'), 4), f(q(b, 2), 4),
                        f(q(b, 0), 4), f(abs(b), 4), f(b, 2), f(b, 4), f(-b, 4)]))
wr('q2.csv', 'id,big,b2,bm,r2,r0,ab,c2,v,nb', q2)
# q3: sums, MIN/MAX, COUNT DISTINCT, comparisons with narrow values, GROUP BY and a join on it
ok = [r for r in rows if r[0] < 399 and r[5] is not None]
bigs = [r[5] for r in ok]
wr('q3.csv', 's,mn,mx,nd,gt,av', ['%s,%s,%s,%d,%d,%s' % (
    f(sum(bigs), 4), f(min(bigs), 4), f(max(bigs), 4), len(set(bigs)),
    sum(1 for r in ok if r[5] > r[2]), f(sum(bigs) / len(bigs), 6))])
groups = {}
for r in rows:  # NULL is a group too (first in ascending order); a join never matches it
    if r[0] < 399:
        groups[r[5]] = groups.get(r[5], 0) + 1
dup = sorted(((b, n) for b, n in groups.items() if n > 1), key=lambda t: (t[0] is not None, t[0]))
wr('q4.csv', 'big,n', ['%s,%d' % ('' if b is None else f(b, 4), n) for b, n in dup])
wr('q5.csv', 'n', [str(sum(n * n for b, n in groups.items() if b is not None))])
EOF
[[ -s $WORK/q1.csv ]] || {
  bad "python could not write the data"
  finish
}

if start_service "$WORK/state" "$WORK/c.yaml"; then ok; else
  bad "start: $(cat "$WORK/err")"
  finish
fi
expect_ok "upload a DECIMAL(38,4) column" "$MC2" upload --home "$WORK/bank-a" \
  --schema "$WORK/li.yaml" --in "$WORK/li.csv" --as li
sql() { "$MC2" sql --home "$WORK/bank-a" --csv "$@"; }

Q1="SELECT g, sum(price * (1 - disc) * (1 + tax)) AS charge, sum(price) AS sp, avg(price) AS ap,
  avg(disc) AS ad, count(*) AS n FROM li GROUP BY g ORDER BY g"
expect_ok "Q1-like sums" sql "$Q1"
check "Q1 sums above 10^18 are exact" cmp -s "$WORK/out" "$WORK/q1.csv"
expect_ok "wide arithmetic" sql "SELECT id, big, big * 2 AS b2, big - 1.5 AS bm,
  round(big, 2) AS r2, round(big, 0) AS r0, abs(big) AS ab, CAST(big AS DECIMAL(38,2)) AS c2,
  CAST(big AS VARCHAR(60)) AS v, -big AS nb FROM li WHERE id < 399 AND big IS NOT NULL
  ORDER BY big DESC, id LIMIT 6"
head -7 "$WORK/q2.csv" >"$WORK/q2top.csv"
check "wide + - * ROUND ABS CAST, ORDER BY DESC" cmp -s "$WORK/out" "$WORK/q2top.csv"
expect_ok "wide top-N ascending" sql "SELECT * FROM (SELECT id, big, big * 2 AS b2,
  big - 1.5 AS bm, round(big, 2) AS r2, round(big, 0) AS r0, abs(big) AS ab,
  CAST(big AS DECIMAL(38,2)) AS c2, CAST(big AS VARCHAR(60)) AS v, -big AS nb FROM li
  WHERE id < 399 AND big IS NOT NULL ORDER BY big, id DESC LIMIT 6) x ORDER BY big DESC, id"
(head -1 "$WORK/q2.csv" && tail -6 "$WORK/q2.csv") >"$WORK/q2bot.csv"
check "wide ORDER BY ascending" cmp -s "$WORK/out" "$WORK/q2bot.csv"
expect_ok "wide aggregates" sql "SELECT sum(big) AS s, min(big) AS mn, max(big) AS mx,
  count(DISTINCT big) AS nd, sum(CASE WHEN big > price THEN 1 ELSE 0 END) AS gt,
  avg(big) AS av FROM li WHERE id < 399"
check "SUM MIN MAX COUNT DISTINCT AVG, wide vs narrow comparison" cmp -s "$WORK/out" "$WORK/q3.csv"
expect_ok "GROUP BY a wide column" sql "SELECT big, count(*) AS n FROM li WHERE id < 399
  GROUP BY big HAVING count(*) > 1 ORDER BY big"
check "GROUP BY wide keys" cmp -s "$WORK/out" "$WORK/q4.csv"
expect_ok "join on a wide column" sql "SELECT count(*) AS n FROM li a JOIN li b ON a.big = b.big
  WHERE a.id < 399 AND b.id < 399"
check "join on wide keys" cmp -s "$WORK/out" "$WORK/q5.csv"
expect_ok "--out writes the wide result" "$MC2" sql --home "$WORK/bank-a" --out "$WORK/r.csv" "$Q1"
check "--out content" cmp -s "$WORK/r.csv" "$WORK/q1.csv"

expect_fail "a SUM beyond 38 digits" 1 "numeric overflow in aggregate 'SUM\(li.big\)'" \
  sql "SELECT sum(big) FROM li"
expect_fail "a product beyond 38 digits" 1 "numeric overflow" sql "SELECT big * big FROM li"
expect_fail "a 39-digit DECIMAL" 1 "precision must be from 1 to 38" \
  sql "SELECT CAST(big AS DECIMAL(39,4)) FROM li"
expect_fail "a cast that does not fit" 1 "CAST .* failed: value out of range" \
  sql "SELECT CAST(big AS DECIMAL(18,4)) FROM li"

# Oblivious mode: the same exact sums while they fit 64 bits (group A: > 10^18 scaled).
expect_ok "oblivious Q1-like sums" sql --oblivious "SELECT * FROM ($Q1) x WHERE g = 'A'"
check "oblivious = the exact sums" cmp -s "$WORK/out" "$WORK/q1a.csv"
expect_fail "oblivious sum beyond 64 bits" 1 "overflow" sql --oblivious "$Q1"
expect_fail "oblivious stored wide column" 1 "not supported in oblivious mode.*more than 18 digits" \
  sql --oblivious "SELECT sum(big) FROM li WHERE id < 399"
finish
