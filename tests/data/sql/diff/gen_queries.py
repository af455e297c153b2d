#!/usr/bin/env python3
"""gen_queries.py - writes queries.txt, the family queries of test_sql_diff.c (run it from this
directory after editing; the output is checked in). Each query is (mc2 text, SQLite variant or
None, ORDER BY key output columns). sqlite() derives the SQLite text for the common dialect
differences: DATE 'x' literals become 'x'; the rest is written by hand."""
import re

Q = []  # (family, mc2, sqlite, ord)


def sqlite(q):
    return re.sub(r"DATE '", "'", q)


def add(fam, q, s=None, o=()):
    if s is None:
        s2 = sqlite(q)
        s = s2 if s2 != q else None
    Q.append((fam, q, s, o))


# ---- filter ------------------------------------------------------------------------------
preds = [
    "k = 1", "k <> 1", "k < 2", "k <= 2", "k > 2", "k >= 3", "d > 0", "d <= 7.75", "d = 10.50",
    "d < -0.005", "x > 1.5", "x <= 0", "x = 100.0", "g = 'a'", "g <> 'a'", "g < 'b'", "g >= 'c'",
    "s > 'a'", "day < DATE '1996-01-01'", "day >= DATE '1997-07-04'", "day = DATE '2000-02-29'",
    "day <> DATE '1995-01-10'",
    "k = 1 AND g = 'a'", "k = 1 OR g = 'c'", "NOT k = 1", "NOT (k = 1 OR g = 'a')",
    "k = 1 AND NOT g = 'b'", "(k > 1) IS NULL", "NOT (k > 1 AND d > 0)", "k > 1 OR d > 0",
    "NOT (k > 1 OR d IS NULL)", "(k = 2) = (g = 'c')",
    "k IN (1, 3, 5)", "k NOT IN (1, 3, 5)", "k IN (2, NULL)", "k NOT IN (2, NULL)",
    "g IN ('a', 'e')", "g NOT IN ('a', 'e')", "d IN (10.50, 7.75, -3.25)",
    "day IN (DATE '1995-01-10', DATE '1997-07-04')",
    "k IS NULL", "k IS NOT NULL", "g IS NULL", "d IS NOT NULL", "s IS NULL", "day IS NULL",
    "NOT (k IS NULL)", "k IS NULL OR g IS NULL",
    "k BETWEEN 2 AND 4", "k NOT BETWEEN 2 AND 4", "d BETWEEN -5 AND 10.5",
    "day BETWEEN DATE '1995-01-01' AND DATE '1997-12-31'", "g BETWEEN 'a' AND 'b'",
    "x NOT BETWEEN -1 AND 2.5", "id BETWEEN k AND 5",
    "s LIKE 'a%'", "s LIKE '%e'", "s LIKE '%an%'", "s LIKE '_pple'", "s NOT LIKE 'a%'",
    "s LIKE 'APPLE'", "s LIKE '50!%%' ESCAPE '!'", "s LIKE '%!_%' ESCAPE '!'",
    "s LIKE '%\\_o%' ESCAPE '\\'", "s LIKE '%_%'", "s LIKE ''", "s LIKE '%'",
    "s LIKE '_mile'", "s LIKE 'na_ve%'", "s LIKE '__本_'", "s LIKE '%caf_'",
    "s NOT LIKE '%p%' OR s IS NULL", "s LIKE 'a\\b'", "s LIKE '%#%%' ESCAPE '#'",
    "id % 3 = 0", "id + k > 6", "-d > 0", "k * 2 = id", "d * 2 > 20",
]
for p in preds:
    add("filter", f"SELECT id FROM t WHERE {p}")
add("filter", "SELECT id, k, g FROM t WHERE k = 1 AND g IN ('a', 'b') AND d > 0", o=())
add("filter", "SELECT COUNT(*) FROM t WHERE TRUE")
add("filter", "SELECT COUNT(*) FROM t WHERE FALSE")
add("filter", "SELECT id FROM t WHERE NULL IS NULL")
add("filter", "SELECT wk FROM w WHERE qty > 10 AND price < 100")
add("filter", "SELECT wk FROM w WHERE k IN (1, 2) AND day >= DATE '1995-06-01'")
add("filter", "SELECT * FROM e WHERE k = 1")
add("filter", "SELECT * FROM v WHERE a IS NOT NULL AND c IS NOT NULL")

# ---- projection --------------------------------------------------------------------------
proj = [
    ("id + k", None), ("id - k * 2", None), ("k * k - id", None), ("-k", None), ("id % 4", None),
    ("k % -3", None), ("d + 1", None), ("d - k", None), ("d * 2", None), ("d * d", None),
    ("d * 1.5", None), ("x * 2", None), ("x + d", None), ("x - k", None),
    ("id / 4", "id * 1.0 / 4"), ("id / k", "id * 1.0 / k"), ("d / 4", None), ("d / 3", None),
    ("k / 0", "k * 1.0 / 0"), ("id % 0", None), ("x / 4", None),
    ("CASE WHEN k = 1 THEN 'one' WHEN k = 2 THEN 'two' ELSE 'many' END", None),
    ("CASE WHEN k > 1 THEN d END", None), ("CASE k WHEN 1 THEN 10 WHEN 2 THEN 20 END", None),
    ("CASE WHEN d IS NULL THEN 0 ELSE d END", None),
    ("CASE WHEN g = 'a' THEN 1 WHEN g = 'b' THEN 2.5 ELSE 0 END", None),
    ("CAST(k AS DOUBLE)", "CAST(k AS REAL)"), ("CAST(id AS VARCHAR(10))", "CAST(id AS TEXT)"),
    ("CAST(d AS INT64)", "CAST(round(d) AS INTEGER)"),
    ("CAST(d AS DECIMAL(12,3))", None), ("CAST(k AS DECIMAL(10,2))", None),
    ("CAST(day AS VARCHAR(10))", None), ("CAST('2001-02-03' AS DATE)", "'2001-02-03'"),
    ("CAST('42' AS INT64)", "CAST('42' AS INTEGER)"),
    ("SUBSTRING(s, 2, 3)", None), ("SUBSTRING(s, 3)", None), ("SUBSTRING(s FROM 1 FOR 2)", "substring(s, 1, 2)"),
    ("SUBSTR(s, 2, 100)", None), ("UPPER(s)", None), ("LOWER(s)", None), ("LENGTH(s)", None),
    ("TRIM(s)", None), ("LENGTH(TRIM(s))", None), ("TRIM(LEADING 'a' FROM s)", "ltrim(s, 'a')"),
    ("TRIM(TRAILING 'e' FROM s)", "rtrim(s, 'e')"), ("TRIM(BOTH 'a' FROM s)", "trim(s, 'a')"),
    ("LTRIM(s)", None), ("RTRIM(s)", None),
    ("s || '!'", None), ("g || s", None), ("g || '-' || k", None), ("CONCAT(g, s)", "g || s"),
    ("UPPER(g) || LOWER(s)", None),
    ("EXTRACT(YEAR FROM day)", "CAST(strftime('%Y', day) AS INTEGER)"),
    ("EXTRACT(MONTH FROM day)", "CAST(strftime('%m', day) AS INTEGER)"),
    ("EXTRACT(DAY FROM day)", "CAST(strftime('%d', day) AS INTEGER)"),
    ("day + INTERVAL '10' DAY", "date(day, '+10 days')"),
    ("day - INTERVAL '60' DAY", "date(day, '-60 days')"),
    ("day + INTERVAL '1' YEAR",  # month ends clamp in mc2 (2000-02-29 + 1 year = 2001-02-28)
     "CASE WHEN strftime('%m-%d', day) = '02-29' THEN date(day, '+1 years', '-1 days') ELSE date(day, '+1 years') END"),
    ("COALESCE(k, -1)", None), ("COALESCE(g, s, 'none')", None), ("COALESCE(d, 0)", None),
    ("COALESCE(d, k)", None), ("NULLIF(k, 1)", None), ("NULLIF(g, 'a')", None),
    ("ABS(d)", None), ("ABS(k - 3)", None), ("ABS(x)", None),
    ("ROUND(d)", None), ("ROUND(d, 1)", None), ("ROUND(x, 1)", None), ("ROUND(d / 3, 2)", None),
    ("k > 1", None), ("k IS NULL", None), ("s LIKE 'a%'", None), ("k IN (1, 2)", None),
    ("id BETWEEN 3 AND 5", None),
]
for e, s in proj:
    add("projection", f"SELECT id, {e} AS r FROM t", None if s is None else f"SELECT id, {s} AS r FROM t")
add("projection", "SELECT wk, day + INTERVAL '1' MONTH AS r FROM w", "SELECT wk, date(day, '+1 months') AS r FROM w")
add("projection", "SELECT wk, day - INTERVAL '3' MONTH AS r FROM w", "SELECT wk, date(day, '-3 months') AS r FROM w")
add("projection", "SELECT wk, qty * price AS r FROM w")
add("projection", "SELECT wk, price - qty AS r, -price AS m FROM w")
add("projection", "SELECT DATE '1998-01-31' + INTERVAL '1' MONTH AS r FROM v WHERE a = 1", "SELECT '1998-02-28' AS r FROM v WHERE a = 1")
add("projection", "SELECT id, d, x, s, g FROM t")
add("projection", "SELECT * FROM u")
add("projection", "SELECT 1 + 2 * 3 AS r, 'x' || 'y' AS c, 2.50 * 2 AS m FROM v")

# ---- aggregation -------------------------------------------------------------------------
aggs = ["COUNT(*)", "COUNT(k)", "COUNT(d)", "SUM(k)", "SUM(d)", "SUM(x)", "AVG(k)", "AVG(d)",
        "AVG(x)", "MIN(k)", "MAX(k)", "MIN(d)", "MAX(d)", "MIN(s)", "MAX(s)", "MIN(day)",
        "MAX(day)", "COUNT(DISTINCT k)", "COUNT(DISTINCT g)", "COUNT(DISTINCT d)",
        "SUM(DISTINCT k)", "SUM(DISTINCT d)", "AVG(DISTINCT d)", "SUM(d * k)", "MAX(x) - MIN(x)"]
for a in aggs:
    add("aggregation", f"SELECT {a} FROM t")
    add("aggregation", f"SELECT g, {a} FROM t GROUP BY g")
for a in ["COUNT(*)", "COUNT(k)", "SUM(k)", "SUM(d)", "AVG(d)", "MIN(v)", "MAX(d)", "COUNT(DISTINCT v)"]:
    add("aggregation", f"SELECT {a} FROM e")
    add("aggregation", f"SELECT k, {a} FROM e GROUP BY k")
more = [
    "SELECT k, COUNT(*), SUM(qty), SUM(price), AVG(price), MIN(day), MAX(day) FROM w GROUP BY k",
    "SELECT k, COUNT(*) FROM w GROUP BY k HAVING COUNT(*) > 5",
    "SELECT k, SUM(price) FROM w GROUP BY k HAVING SUM(price) > 1000",
    "SELECT k, AVG(qty) FROM w GROUP BY k HAVING AVG(qty) > 8 OR k IS NULL",
    "SELECT k % 2 AS par, COUNT(*) FROM t GROUP BY k % 2",
    "SELECT EXTRACT(YEAR FROM day) AS y, COUNT(*), SUM(price) FROM w GROUP BY EXTRACT(YEAR FROM day)",
    "SELECT g, k, COUNT(*) FROM t GROUP BY g, k",
    "SELECT COALESCE(g, '?') AS gg, SUM(d) FROM t GROUP BY COALESCE(g, '?')",
    "SELECT CASE WHEN qty < 0 THEN 'neg' WHEN qty < 10 THEN 'small' ELSE 'big' END AS b, COUNT(*) FROM w GROUP BY CASE WHEN qty < 0 THEN 'neg' WHEN qty < 10 THEN 'small' ELSE 'big' END",
    "SELECT g FROM t GROUP BY g HAVING MAX(d) > 7",
    "SELECT g, COUNT(*) FROM t GROUP BY g HAVING MIN(k) = 1",
    "SELECT COUNT(*), COUNT(DISTINCT k), SUM(qty), MIN(price), MAX(price) FROM w",
    "SELECT k, COUNT(DISTINCT qty), SUM(DISTINCT qty) FROM w GROUP BY k",
    "SELECT qty, COUNT(*) FROM w GROUP BY qty",
    "SELECT k, SUM(qty * price) FROM w GROUP BY k",
    "SELECT SUM(price) / COUNT(*) AS r FROM w",
    "SELECT k, SUM(d) AS sd FROM t WHERE d > 0 GROUP BY k HAVING COUNT(*) >= 2",
    "SELECT COUNT(*) FROM t HAVING COUNT(*) > 100",
    "SELECT LENGTH(s) AS n, COUNT(*) FROM t GROUP BY LENGTH(s)",
    "SELECT g, MIN(s), MAX(s), MIN(day) FROM t GROUP BY g",
]
for q in more:
    add("aggregation", q, re.sub(r"EXTRACT\(YEAR FROM day\)", "CAST(strftime('%Y', day) AS INTEGER)", q) if "EXTRACT" in q else None)
add("aggregation", "SELECT k, AVG(qty), SUM(qty) / COUNT(qty) AS r FROM w GROUP BY k",
    "SELECT k, AVG(qty), SUM(qty) * 1.0 / COUNT(qty) AS r FROM w GROUP BY k")

# ---- joins -------------------------------------------------------------------------------
joins = [
    "SELECT t.id, u.name FROM t JOIN u ON t.k = u.k",
    "SELECT t.id, u.name FROM t, u WHERE t.k = u.k",
    "SELECT t.id, u.name, u.w FROM t INNER JOIN u ON t.k = u.k AND u.w > 0",
    "SELECT t.id, u.name FROM t LEFT JOIN u ON t.k = u.k",
    "SELECT t.id, u.name FROM t LEFT JOIN u ON t.k = u.k AND u.name <> 'uno'",
    "SELECT t.id, u.name FROM t LEFT JOIN u ON t.k = u.k WHERE u.k IS NULL",
    "SELECT t.id, u.name FROM t RIGHT JOIN u ON t.k = u.k",
    "SELECT t.id, u.name FROM t RIGHT OUTER JOIN u ON t.k = u.k AND t.d > 0",
    "SELECT t.id, u.name FROM t FULL JOIN u ON t.k = u.k",
    "SELECT t.id, u.name FROM t FULL OUTER JOIN u ON t.k = u.k AND t.g = 'a'",
    "SELECT t.id, e.v FROM t LEFT JOIN e ON t.k = e.k",
    "SELECT t.id, e.v FROM t JOIN e ON t.k = e.k",
    "SELECT t.id, e.v FROM t FULL JOIN e ON t.k = e.k",
    "SELECT e.v, t.id FROM e RIGHT JOIN t ON t.k = e.k",
    "SELECT t.id, u.name FROM t JOIN u ON t.k < u.k",
    "SELECT t.id, u.name FROM t JOIN u ON t.k = u.k + 1",
    "SELECT t.id, u.name FROM t LEFT JOIN u ON t.id BETWEEN u.k AND u.k + 1",
    "SELECT t.id, u.name FROM t JOIN u ON t.d > u.w",
    "SELECT t.id, u.name FROM t FULL JOIN u ON t.k > u.k + 4",
    "SELECT t.id, v.a, v.c FROM t CROSS JOIN v",
    "SELECT u.name, v.c FROM u CROSS JOIN v WHERE v.a > 1",
    "SELECT COUNT(*) FROM t CROSS JOIN e",
    "SELECT t.id, u.name, v.c FROM t JOIN u ON t.k = u.k JOIN v ON u.k = v.a",
    "SELECT t.id, u.name, v.c FROM t LEFT JOIN u ON t.k = u.k LEFT JOIN v ON t.k = v.a",
    "SELECT t.id, w.wk FROM t JOIN w ON t.k = w.k AND t.day = w.day",
    "SELECT t.k, COUNT(*), SUM(w.qty) FROM t JOIN w ON t.k = w.k GROUP BY t.k",
    "SELECT u.k, COUNT(w.wk) FROM u LEFT JOIN w ON u.k = w.k GROUP BY u.k",
    "SELECT a.id, b.id FROM t a JOIN t b ON a.k = b.k AND a.id < b.id",
    "SELECT a.id, b.id FROM t a JOIN t b ON a.s = b.s AND a.id <> b.id",
    "SELECT a.id, b.id FROM t a LEFT JOIN t b ON a.d = b.d AND a.id > b.id",
    "SELECT t.id FROM t JOIN u USING (k)",
    "SELECT k, t.id, u.name FROM t JOIN u USING (k)",
    "SELECT t.id, u.name FROM t LEFT JOIN u USING (k)",
    "SELECT t.id, v.c FROM t JOIN v ON t.g = v.c",
    "SELECT t.id, v.c FROM t FULL JOIN v ON t.g = v.c",
    "SELECT t.id, u.name, w.wk FROM t, u, w WHERE t.k = u.k AND u.k = w.k AND w.qty > 15",
    "SELECT n.k, n.name FROM u n JOIN v ON n.k = v.a",
    "SELECT t.id, u.name FROM t JOIN u ON t.k = u.k OR t.id = u.k",
    "SELECT t.id, u.name FROM t LEFT JOIN u ON t.k = u.k WHERE t.g = 'a'",
    "SELECT t.id, u.name FROM t LEFT JOIN u ON t.k = u.k AND t.g = 'a'",
    "SELECT t.id, u.w FROM t RIGHT JOIN u ON t.k = u.k WHERE u.w IS NULL OR u.w > 0",
    "SELECT v1.a, v2.a FROM v v1 FULL JOIN v v2 ON v1.a = v2.a",
]
for q in joins:
    add("join", q)
semi = [
    "SELECT id FROM t WHERE k IN (SELECT k FROM u)",
    "SELECT id FROM t WHERE k NOT IN (SELECT k FROM u)",
    "SELECT id FROM t WHERE k NOT IN (SELECT k FROM u WHERE k IS NOT NULL)",
    "SELECT id FROM t WHERE k IN (SELECT k FROM e)",
    "SELECT id FROM t WHERE k NOT IN (SELECT k FROM e)",
    "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.k)",
    "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k AND u.w > 0)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.k AND u.name = 'uno')",
    "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM e)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM e)",
    "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k > t.k)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM w WHERE w.k = t.k AND w.qty > t.id)",
    "SELECT name FROM u WHERE k IN (SELECT k FROM t WHERE g = 'a')",
    "SELECT name FROM u WHERE k NOT IN (SELECT k FROM t)",
    "SELECT name FROM u WHERE k NOT IN (SELECT k FROM t WHERE k IS NOT NULL)",
    "SELECT a FROM v WHERE a NOT IN (SELECT k FROM u WHERE k IS NOT NULL)",
    "SELECT a FROM v WHERE a IN (SELECT k FROM t) OR c = 'c'",
    "SELECT id FROM t WHERE k IN (SELECT k FROM u) AND g NOT IN (SELECT c FROM v WHERE c IS NOT NULL)",
    "SELECT id FROM t WHERE g IN (SELECT c FROM v)",
    "SELECT id FROM t WHERE (k IN (SELECT k FROM u)) IS NULL",
    "SELECT id FROM t WHERE NOT (k IN (SELECT a FROM v))",
]
# the outer side estimated far smaller than the subquery's (w: 120 rows): the planner builds
# the outer side ("[build: outer]"); NULL keys on both sides, duplicates, empty sides
semi_outer = [
    "SELECT name, k FROM u WHERE k IN (SELECT k FROM w)",
    "SELECT a, c FROM v WHERE a IN (SELECT k FROM w)",
    "SELECT name, k FROM u WHERE NOT EXISTS (SELECT 1 FROM w WHERE w.k = u.k)",
    "SELECT name, k FROM u WHERE k NOT IN (SELECT k FROM w)",
    "SELECT name, k FROM u WHERE k NOT IN (SELECT k FROM w WHERE k IS NOT NULL)",
    "SELECT a, c FROM v WHERE a NOT IN (SELECT k FROM w WHERE k IS NOT NULL AND qty < 5)",
    "SELECT a, c FROM v WHERE a NOT IN (SELECT k FROM w WHERE qty < -100)",
    "SELECT name, w FROM u WHERE EXISTS (SELECT 1 FROM w WHERE w.k = u.k AND w.price > u.w * 100)",
    "SELECT name, w FROM u WHERE NOT EXISTS (SELECT 1 FROM w WHERE w.k = u.k AND w.price < u.w * 10)",
    "SELECT a, c FROM v WHERE EXISTS (SELECT 1 FROM w WHERE w.k = v.a AND w.qty > v.a AND w.day IS NOT NULL)",
    "SELECT k FROM e WHERE k IN (SELECT k FROM w)",
    "SELECT k FROM e WHERE k NOT IN (SELECT k FROM w)",
    "SELECT name FROM u WHERE k IN (SELECT k FROM w WHERE qty < -100)",
    "SELECT name FROM u WHERE NOT EXISTS (SELECT 1 FROM w WHERE w.k = u.k AND qty < -100)",
]
for q in semi + semi_outer:
    add("semi/anti", q)

# ---- ORDER BY, LIMIT ---------------------------------------------------------------------
orders = [
    ("SELECT id, k FROM t ORDER BY k, id", (2, 1)),
    ("SELECT id, k FROM t ORDER BY k DESC, id", (2, 1)),
    ("SELECT id, k FROM t ORDER BY k NULLS LAST, id DESC", (2, 1)),
    ("SELECT id, k FROM t ORDER BY k DESC NULLS FIRST, id", (2, 1)),
    ("SELECT id, k FROM t ORDER BY k ASC NULLS FIRST, id", (2, 1)),
    ("SELECT id, k FROM t ORDER BY k DESC NULLS LAST, id", (2, 1)),
    ("SELECT id, g, d FROM t ORDER BY g DESC, d", (2, 3)),
    ("SELECT id, g, d FROM t ORDER BY g NULLS LAST, d DESC NULLS LAST", (2, 3)),
    ("SELECT id, s FROM t ORDER BY s", (2,)),
    ("SELECT id, s FROM t ORDER BY s DESC", (2,)),
    ("SELECT id, day FROM t ORDER BY day, id", (2, 1)),
    ("SELECT id, x FROM t ORDER BY x DESC", (2,)),
    ("SELECT id, d FROM t ORDER BY d", (2,)),
    ("SELECT id, k FROM t ORDER BY k", (2,)),
    ("SELECT id, k FROM t ORDER BY 2 DESC, 1", (2, 1)),
    ("SELECT id, k * 2 AS kk FROM t ORDER BY kk, id", (2, 1)),
    ("SELECT id, k FROM t ORDER BY id LIMIT 5", (1,)),
    ("SELECT id, k FROM t ORDER BY id LIMIT 5 OFFSET 3", (1,)),
    ("SELECT id, k FROM t ORDER BY id DESC LIMIT 3", (1,)),
    ("SELECT id, k FROM t ORDER BY id LIMIT 0", (1,)),
    ("SELECT id, k FROM t ORDER BY id LIMIT 100 OFFSET 14", (1,)),
    ("SELECT id, k FROM t ORDER BY k NULLS LAST, id LIMIT 4", (2, 1)),
    ("SELECT k, COUNT(*) AS n FROM w GROUP BY k ORDER BY n DESC, k", (2, 1)),
    ("SELECT k, SUM(price) AS p FROM w GROUP BY k ORDER BY p DESC NULLS LAST", (2,)),
    ("SELECT wk, price FROM w ORDER BY price DESC, wk LIMIT 10", (2, 1)),
    ("SELECT wk, day, qty FROM w ORDER BY day NULLS LAST, qty DESC, wk LIMIT 15 OFFSET 5", (2, 3, 1)),
    ("SELECT DISTINCT k FROM w ORDER BY k", (1,)),
    ("SELECT t.id, u.name FROM t JOIN u ON t.k = u.k ORDER BY t.id, u.name", (1, 2)),
    ("SELECT g, COUNT(*) AS n FROM t GROUP BY g ORDER BY g NULLS FIRST", (1,)),
]
for q, o in orders:
    add("order/limit", q, o=o)
add("order/limit", "SELECT id, k FROM t ORDER BY id LIMIT 3 OFFSET 2", o=(1,))
add("order/limit", "SELECT id, k FROM t ORDER BY id OFFSET 10", "SELECT id, k FROM t ORDER BY id LIMIT -1 OFFSET 10", o=(1,))
add("order/limit", "SELECT * FROM e ORDER BY k LIMIT 2", o=(1,))
add("order/limit", "SELECT id FROM t ORDER BY UPPER(s), id", o=())
add("order/limit", "SELECT id, s FROM t ORDER BY LENGTH(s) DESC, id", "SELECT id, s FROM t ORDER BY LENGTH(s) DESC NULLS LAST, id", o=(1,))

# ---- set operations ----------------------------------------------------------------------
sets = [
    "SELECT k FROM t UNION SELECT k FROM u",
    "SELECT k FROM t UNION ALL SELECT k FROM u",
    "SELECT k FROM t INTERSECT SELECT k FROM u",
    "SELECT k FROM t EXCEPT SELECT k FROM u",
    "SELECT k FROM u EXCEPT SELECT k FROM t",
    "SELECT a, c FROM v UNION SELECT k, g FROM t",
    "SELECT a, c FROM v UNION ALL SELECT a, c FROM v",
    "SELECT a, c FROM v INTERSECT SELECT k, g FROM t",
    "SELECT a, c FROM v EXCEPT SELECT k, g FROM t",
    "SELECT k FROM t UNION SELECT k FROM e",
    "SELECT k FROM t INTERSECT SELECT k FROM e",
    "SELECT k FROM t EXCEPT SELECT k FROM e",
    "SELECT d FROM t UNION SELECT w FROM u",
    "SELECT k FROM t UNION SELECT a FROM v UNION SELECT k FROM u",
    "SELECT k FROM t UNION ALL SELECT a FROM v EXCEPT SELECT k FROM u",
    "SELECT g FROM t INTERSECT SELECT c FROM v",
    "SELECT k, COUNT(*) FROM t GROUP BY k UNION ALL SELECT k, COUNT(*) FROM u GROUP BY k",
    "SELECT s FROM t WHERE k = 1 UNION SELECT name FROM u",
]
for q in sets:
    add("set", q)
add("set", "SELECT k FROM t UNION SELECT k FROM u ORDER BY k", o=(1,))
add("set", "SELECT k FROM t UNION ALL SELECT a FROM v ORDER BY k DESC LIMIT 5", o=(1,))

# ---- subqueries, WITH, DISTINCT ----------------------------------------------------------
subs = [
    "SELECT id, (SELECT MAX(w) FROM u) AS m FROM t",
    "SELECT id FROM t WHERE d > (SELECT AVG(d) FROM t)",
    "SELECT id FROM t WHERE k = (SELECT MIN(k) FROM u)",
    "SELECT id FROM t WHERE d > (SELECT SUM(d) FROM e)",
    "SELECT id, (SELECT COUNT(*) FROM e) AS n FROM t",
    "SELECT id, (SELECT COUNT(*) FROM u WHERE u.k = t.k) AS n FROM t",
    "SELECT id, (SELECT MAX(u.w) FROM u WHERE u.k = t.k) AS m FROM t",
    "SELECT id FROM t WHERE d >= (SELECT AVG(d) FROM t t2 WHERE t2.g = t.g)",
    "SELECT id FROM t WHERE 2 <= (SELECT COUNT(*) FROM u WHERE u.k = t.k)",
    "SELECT k, (SELECT SUM(qty) FROM w WHERE w.k = u.k) AS q FROM u",
    "SELECT wk FROM w WHERE price > (SELECT AVG(price) FROM w w2 WHERE w2.k = w.k)",
    "SELECT name FROM u WHERE w < (SELECT MAX(d) FROM t WHERE t.k = u.k)",
    "SELECT id FROM t WHERE k IN (SELECT k FROM w GROUP BY k HAVING COUNT(*) > 10)",
    "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM w WHERE w.k = t.k AND w.qty = t.id)",
    "SELECT g, n FROM (SELECT g, COUNT(*) AS n FROM t GROUP BY g) sub WHERE n > 2",
    "SELECT MAX(n) FROM (SELECT k, COUNT(*) AS n FROM w GROUP BY k) x",
    "SELECT a.k, a.n, b.name FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) a LEFT JOIN u b ON a.k = b.k",
    "WITH c AS (SELECT k, COUNT(*) AS n FROM w GROUP BY k) SELECT k, n FROM c WHERE n > 3",
    "WITH a AS (SELECT k FROM t), b AS (SELECT k FROM u) SELECT a.k FROM a JOIN b ON a.k = b.k",
    "WITH s AS (SELECT k, SUM(d) AS sd FROM t GROUP BY k) SELECT k, sd FROM s WHERE sd = (SELECT MAX(sd) FROM s)",
    "WITH x AS (SELECT id, d FROM t WHERE d IS NOT NULL) SELECT COUNT(*), SUM(d) FROM x",
    "WITH x AS (SELECT * FROM e) SELECT COUNT(*) FROM x",
    "WITH x AS (SELECT k FROM t UNION SELECT k FROM u) SELECT COUNT(*), COUNT(k) FROM x",
    "SELECT DISTINCT k FROM t",
    "SELECT DISTINCT g, k FROM t",
    "SELECT DISTINCT d FROM t",
    "SELECT DISTINCT s FROM t",
    "SELECT DISTINCT k FROM e",
    "SELECT DISTINCT a, c FROM v",
    "SELECT DISTINCT k % 2 AS p FROM w",
    "SELECT COUNT(*) FROM (SELECT DISTINCT k, qty FROM w) x",
    "SELECT id FROM t WHERE id = (SELECT MAX(id) FROM t)",
    "SELECT id, d - (SELECT AVG(d) FROM t) AS dev FROM t",
]
for q in subs:
    add("subquery/with/distinct", q)

# ---- aggregate prefilter: an inner or semi join with a small side filters the input of a
# grouped aggregate on its keys (docs/sql-exec.md, "Aggregate prefilter"): NULL and duplicate
# keys on both sides, two keys, a key plus a residual, an empty small side, a decorrelated
# scalar subquery (Q17's shape), IN;
# LEFT and NOT IN (where the rule must not apply) next to them.
prefilter = [
    "SELECT u.name, s.k, s.n, s.sp FROM u JOIN (SELECT k, COUNT(*) AS n, SUM(price) AS sp FROM w GROUP BY k) s ON u.k = s.k",
    "SELECT v.a, v.c, s.n, s.mq FROM v JOIN (SELECT k, COUNT(*) AS n, MAX(qty) AS mq FROM w GROUP BY k) s ON v.a = s.k",
    "SELECT e.v, s.n FROM e JOIN (SELECT k, COUNT(*) AS n FROM w GROUP BY k) s ON e.k = s.k",
    "SELECT COUNT(*), SUM(s.n) FROM (SELECT k, COUNT(*) AS n FROM w GROUP BY k) s JOIN e ON s.k = e.k",
    "SELECT t.id, s.n FROM t JOIN (SELECT k, qty, COUNT(*) AS n FROM w GROUP BY k, qty) s ON t.k = s.k AND t.id = s.qty WHERE t.g = 'a'",
    "SELECT u.name, s.k, s.qty, s.n FROM u JOIN (SELECT k, qty, COUNT(*) AS n FROM w GROUP BY k, qty) s ON u.k = s.k AND u.k = s.qty",
    "SELECT v.a, s.qty, s.n FROM v JOIN (SELECT k, qty, COUNT(*) AS n FROM w GROUP BY k, qty) s ON v.a = s.k AND s.qty > v.a",
    "SELECT u.name, s.k, s.sp FROM u JOIN (SELECT k, SUM(price) AS sp FROM w GROUP BY k) s ON u.k = s.k AND u.w < s.sp",
    "SELECT SUM(w.price) FROM w, v WHERE v.a = w.k AND w.qty < (SELECT AVG(qty) FROM w w2 WHERE w2.k = v.a)",
    "SELECT v.a, v.c FROM v WHERE v.a > (SELECT AVG(qty) FROM w WHERE w.k = v.a)",
    "SELECT a, c FROM v WHERE a IN (SELECT k FROM w GROUP BY k HAVING COUNT(*) > 6)",
    "SELECT s.k, s.n FROM (SELECT k, COUNT(*) AS n FROM w GROUP BY k) s WHERE s.k IN (SELECT a FROM v)",
    "SELECT u.name, s.n FROM u LEFT JOIN (SELECT k, COUNT(*) AS n FROM w GROUP BY k) s ON u.k = s.k",
    "SELECT s.k, s.n, u.name FROM (SELECT k, COUNT(*) AS n FROM w GROUP BY k) s LEFT JOIN u ON s.k = u.k",
    "SELECT s.k, s.n, v.c FROM (SELECT k, COUNT(*) AS n FROM w GROUP BY k) s FULL JOIN v ON s.k = v.a",
    "SELECT s.k, s.n FROM (SELECT k, COUNT(*) AS n FROM w GROUP BY k) s WHERE s.k NOT IN (SELECT a FROM v WHERE a IS NOT NULL)",
    "SELECT u.name, s.k, s.n FROM u JOIN (SELECT k, COUNT(*) AS n FROM w GROUP BY k HAVING COUNT(*) > 6) s ON u.k = s.k",
    "SELECT v.a, s.k, s.n FROM v JOIN (SELECT k, COUNT(*) AS n FROM w WHERE qty > 0 GROUP BY k) s ON s.k = v.a WHERE v.c <> 'a'",
]
for q in prefilter:
    add("aggregate prefilter", q)

# ---- exact DECIMAL: SQLite reads the scaled-integer tables <name>_x and formats with dec() -
exact = [
    ("SELECT id, d FROM t", "SELECT id, dec(d, 2) FROM t_x"),
    ("SELECT SUM(d) FROM t", "SELECT dec(SUM(d), 2) FROM t_x"),
    ("SELECT g, SUM(d), MIN(d), MAX(d) FROM t GROUP BY g",
     "SELECT g, dec(SUM(d), 2), dec(MIN(d), 2), dec(MAX(d), 2) FROM t_x GROUP BY g"),
    ("SELECT id, d * d FROM t", "SELECT id, dec(d * d, 4) FROM t_x"),
    ("SELECT id, d * 1.5 FROM t", "SELECT id, dec(d * 15, 3) FROM t_x"),
    ("SELECT id, d + w FROM t JOIN u ON t.k = u.k", "SELECT id, dec(d * 10 + w, 3) FROM t_x t JOIN u_x u ON t.k = u.k"),
    ("SELECT id, d - 0.005 FROM t", "SELECT id, dec(d * 10 - 5, 3) FROM t_x"),
    ("SELECT id, -d FROM t WHERE d < 0", "SELECT id, dec(-d, 2) FROM t_x WHERE d < 0"),
    ("SELECT k, SUM(price), SUM(qty * price) FROM w GROUP BY k",
     "SELECT k, dec(SUM(price), 2), dec(SUM(qty * price), 2) FROM w_x GROUP BY k"),
    ("SELECT SUM(price * (1 - 0.07)) FROM w", "SELECT dec(SUM(price * (100 - 7)), 4) FROM w_x"),
    ("SELECT k, SUM(w) FROM u GROUP BY k", "SELECT k, dec(SUM(w), 3) FROM u_x GROUP BY k"),
    ("SELECT id, ABS(d) FROM t", "SELECT id, dec(ABS(d), 2) FROM t_x"),
    ("SELECT id, COALESCE(d, 0) FROM t", "SELECT id, dec(COALESCE(d, 0), 2) FROM t_x"),
    ("SELECT DISTINCT d FROM t", "SELECT DISTINCT dec(d, 2) FROM t_x"),
    ("SELECT d FROM t UNION SELECT w FROM u", "SELECT dec(d * 10, 3) FROM t_x UNION SELECT dec(w, 3) FROM u_x"),
]
for q, s in exact:
    add("exact decimal", q, s)

# ---- errors ------------------------------------------------------------------------------
E = [
    ("SELEC id FROM t", ["line 1, column 1", "did you mean SELECT"]),
    ("SELECT id FORM t", ["line 1, column", "FROM"]),
    ("SELECT id,\nFROM t", ["line 1, column 10", "trailing comma"]),
    ("SELECT id\nFROM t WHERE k = = 1", ["line 2, column"]),
    ("SELECT id FROM t WHERE", ["line 1, column"]),
    ("SELECT (id FROM t", ["line 1, column"]),
    ("SELECT id FROM t WHERE k = = 1", ["line 1, column"]),
    ("SELECT idd FROM t", ["unknown column 'idd'", "did you mean 'id'"]),
    ("SELECT nme FROM u", ["unknown column 'nme'", "did you mean 'name'"]),
    ("SELECT u.nam FROM u", ["did you mean 'name'"]),
    ("SELECT w.prise FROM w", ["did you mean 'price'"]),
    ("SELECT id FROM tt", ["unknown table 'tt'"]),
    ("SELECT sumx(k) FROM t", ["unknown function", "did you mean SUM"]),
    ("SELECT id FROM t WHERE day < '1998-12-01'", ["DATE", "VARCHAR"]),
    ("SELECT id FROM t WHERE k = 'a'", ["INT64", "VARCHAR"]),
    ("SELECT id + s FROM t", ["INT64", "VARCHAR"]),
    ("SELECT CASE WHEN k = 1 THEN 'a' ELSE 1 END FROM t", ["VARCHAR", "INT64"]),
    ("SELECT id FROM t WHERE k", ["BOOL"]),
    ("SELECT k FROM t UNION SELECT s FROM t", ["INT64", "VARCHAR"]),
    ("SELECT id, COUNT(*) FROM t", ["id"]),
    ("SELECT SUM(s) FROM t", ["VARCHAR"]),
    ("SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM t", ["not supported"]),
    ("SELECT id FROM t WHERE s LIKE g", ["not supported"]),
    ("SELECT day - day FROM t", ["not supported"]),
    ("SELECT DISTINCT ON (k) id FROM t", ["not supported"]),
    ("SELECT id FROM t LIMIT 2, 3", ["not supported"]),
    ("SELECT k FROM t WHERE k IN (SELECT k, name FROM u)", ["line 1, column"]),
]

with open("queries.txt", "w") as f:
    f.write("# Generated by gen_queries.py - do not edit; edit the generator and rerun it.\n")
    f.write("# Format: see tests/unit/test_sql_diff.c.\n")
    fam = None
    for fm, q, s, o in Q:
        if fm != fam:
            f.write(f"\n# ---- {fm}\n")
            fam = fm
        f.write(f"q {q}\n")
        if s:
            f.write(f"s {s}\n")
        if o:
            f.write("o " + " ".join(str(c) for c in o) + "\n")
    f.write("\n# ---- errors\n")
    for q, es in E:
        assert "\n" not in q or q.count("\n") == 1
        f.write("q " + q.replace("\n", "\\n") + "\n")
        for e in es:
            f.write(f"e {e}\n")
print(len(Q), "queries,", len(E), "errors")
