-- parse_ok.sql: statements the SQL front end must accept (one per ';').
-- Used by tests/unit/test_sql_parse.c: each must parse, and print -> parse -> print must be
-- stable. Grouped by the families of issue 4's coverage list.

-- ---- filter: comparisons, AND/OR/NOT, IN, IS NULL, BETWEEN, LIKE
select * from t where a = 1;
select * from t where a <> 1;
select * from t where a != 1;
select * from t where a < 1 and b <= 2 and c > 3 and d >= 4;
select * from t where a = 1 or b = 2 and c = 3;
select * from t where (a = 1 or b = 2) and c = 3;
select * from t where not a = 1;
select * from t where not (a = 1 and b = 2);
select * from t where not not a;
select * from t where a and not b or c;
select * from t where a in (1, 2, 3);
select * from t where a not in (1, 2, 3);
select * from t where a in ('x');
select * from t where a in (1 + 1, b, null);
select * from t where a is null;
select * from t where a is not null;
select * from t where a + 1 is null;
select * from t where not a is null;
select * from t where a between 1 and 10;
select * from t where a not between 1 and 10;
select * from t where a between b - 1 and b + 1 and c = 2;
select * from t where d between date '2020-01-01' and date '2020-12-31';
select * from t where s like 'abc%';
select * from t where s like '_b_';
select * from t where s not like '%x%';
select * from t where s like '50!%' escape '!';
select * from t where s not like 'a\_b%' escape '\';
select * from t where s like 'it''s%';
select * from t where upper(s) like 'A%' or lower(s) like 'b%';
select * from t where a = true;
select * from t where flag = false or flag is null;
select * from t where a = -1;
select * from t where a = - - 1;
select * from t where -a < +b;
select * from t where a = 1.5 or a = .5 or a = 5. or a = 1e3 or a = 2.5E-2;
select * from t where a = 123456789012345678901234567890;
select * from t where a < 0.0001000000;

-- ---- projection: arithmetic, CASE, CAST, string and date functions
select a + b, a - b, a * b, a / b, a % b from t;
select a + b * c - d / e from t;
select (a + b) * c from t;
select a - (b - c) from t;
select - a * b from t;
select a || b || 'x' from t;
select a || b + c from t;
select case when a > 0 then 'pos' when a < 0 then 'neg' else 'zero' end from t;
select case a when 1 then 'one' when 2 then 'two' end from t;
select case when a is null then 0 else a end as a0 from t;
select case case when a then b end when 1 then 2 else 3 end from t;
select cast(a as int64), cast(a as bigint), cast(a as integer), cast(a as int) from t;
select cast(a as double), cast(a as float), cast(a as real), cast(a as double precision) from t;
select cast(a as decimal(15,2)), cast(a as numeric(10)), cast(a as decimal(18, 18)) from t;
select cast(a as date), cast(a as bool), cast(a as boolean) from t;
select cast(a as varchar(25)), cast(a as char(10)), cast(a as varchar), cast(a as text) from t;
select cast('2020-01-01' as date) + interval '1' day from t;
select substring(s from 1 for 2), substring(s from 3), substring(s, 1, 2), substring(s, 2) from t;
select substring(s for 3) from t;
select substr(s, 1, 3) from t;
select upper(s), lower(s), length(s), char_length(s) from t;
select trim(s), trim(both from s), trim(leading from s), trim(trailing 'x' from s) from t;
select trim('x' from s), ltrim(s), rtrim(s, 'y'), btrim(s) from t;
select concat(a, b), concat(a, b, c, 'd') from t;
select coalesce(a, b), coalesce(a, b, c, 0), nullif(a, 0) from t;
select abs(a), abs(-a), round(a), round(a, 2), round(a * 100.0 / b, 1) from t;
select extract(year from d), extract(month from d), extract(day from d) from t;
select d + interval '3' month, d - interval '1' year, d + interval '-7' day from t;
select date '1998-12-01' - interval '90' day from t;
select interval 5 day + d from t;
select date '2000-02-29', date '1996-02-29', date '0001-01-01', date '9999-12-31';
select 'it''s', '', 'multi
line', 'ünïcödé ✓' from t;
select null, true, false;
select 1;
select 1 + 2 * 3;
select a as x, b y, c "Quoted Alias", d as "select" from t;
select "Mixed Case", "with ""quotes""", "from" from "Table With Spaces";
select t.a, t.b, s.c from t, s;
select "T".a from t as "T";
select * from t;
select t.* from t;
select t.*, s.a from t, s;
select *, a from t;
select distinct a, b from t;
select all a from t;
select a from t;
SELECT A, B FROM T WHERE A = 'MiXeD';
select date, interval, year, month, day, first, last, nulls, value from t;
select extract from t;

-- ---- aggregation
select count(*) from t;
select count(a), count(distinct a), count(all a) from t;
select sum(a), avg(a), min(a), max(a) from t;
select sum(distinct a), avg(distinct a), min(distinct a), max(distinct a) from t;
select a, count(*) from t group by a;
select a, b, sum(c) from t group by a, b;
select a + b, count(*) from t group by a + b;
select extract(year from d) as y, sum(x) from t group by extract(year from d);
select a, count(*) from t group by 1;
select a, count(*) as n from t group by a having count(*) > 1;
select a from t group by a having sum(b) > (select avg(b) from t);
select count(*) from t having count(*) > 0;
select sum(case when a > 0 then 1 else 0 end) as pos from t;
select 100.00 * sum(a) / sum(b) from t;
select max(a) - min(a) from t group by b order by 1;
select count(distinct a + b) from t;

-- ---- joins
select * from t join s on t.a = s.a;
select * from t inner join s on t.a = s.a;
select * from t left join s on t.a = s.a;
select * from t left outer join s on t.a = s.a and s.b > 0;
select * from t right join s on t.a = s.a;
select * from t right outer join s on t.a = s.a;
select * from t full join s on t.a = s.a;
select * from t full outer join s on t.a = s.a;
select * from t cross join s;
select * from t join s using (a);
select * from t left join s using (a, b);
select * from t, s where t.a = s.a;
select * from t a, s b where a.x = b.x;
select * from t as a join s as b on a.x < b.y;
select * from t join s on t.a = s.a join u on u.b = s.b;
select * from t join s on t.a = s.a left join u on u.b = s.b cross join v;
select * from t join (s join u on s.a = u.a) on t.a = s.a;
select * from (t join s on t.a = s.a);
select * from t, s join u on s.a = u.a;
select * from t join s on t.a between s.lo and s.hi;
select * from t left join s on t.a = s.a where s.a is null;
select * from lineitem l1, lineitem l2 where l1.k = l2.k and l1.s <> l2.s;
select * from t x (a, b, c);
select * from t as x ("A", b);

-- ---- semi and anti joins, subqueries
select * from t where exists (select 1 from s where s.a = t.a);
select * from t where not exists (select * from s where s.a = t.a);
select * from t where a in (select a from s);
select * from t where a not in (select a from s where s.a is not null);
select * from t where a = (select max(a) from s);
select * from t where a > (select avg(a) from s where s.b = t.b);
select (select count(*) from s) as n from t;
select (select max(b) from s where s.a = t.a) + 1 from t;
select * from (select a, b from t) as x;
select * from (select a, b from t) x;
select * from (select a, b from t) as x (c, d);
select * from (select a from t) as x join (select a from s) as y on x.a = y.a;
select x.c from (select a as c from (select a from (select a from t) p) q) x;
select * from t where a in ((select a from s));
select * from t where a in ((select a from s) union (select a from u));
select * from t where a = ((select 1) + 1);
select * from t where a in ((select 1), 2);
select ((select 1) union (select 2));
select * from t where exists ((select 1) union all (select 2));
select * from t where a in (select a from s where b in (select b from u where c = t.c));
select * from (select * from t order by a limit 5) as top5;
select * from t where a = (select a from s order by a desc limit 1);

-- ---- ORDER BY, LIMIT, OFFSET
select a from t order by a;
select a from t order by a asc;
select a from t order by a desc;
select a, b from t order by a desc, b asc;
select a from t order by a nulls first;
select a from t order by a desc nulls last;
select a, b from t order by 2, 1 desc;
select a as x from t order by x;
select a from t order by a + b;
select a from t limit 10;
select a from t limit 10 offset 5;
select a from t offset 5;
select a from t offset 5 limit 10;
select a from t order by a limit 0;
select a from t limit all;
select a from t offset 3 rows;
select a from t order by a limit 9223372036854775807;

-- ---- set operations
select a from t union select a from s;
select a from t union all select a from s;
select a from t union distinct select a from s;
select a from t intersect select a from s;
select a from t except select a from s;
select a from t intersect all select a from s;
select a from t except all select a from s;
select a from t union select a from s intersect select a from u;
select a from t intersect select a from s union select a from u;
select a from t except select a from s except select a from u;
select a from t union select a from s union all select a from u;
(select a from t union select a from s) intersect select a from u;
select a from t union (select a from s union select a from u);
select a from t union select a from s order by 1 limit 3;
(select a from t order by a limit 1) union all (select a from s order by a limit 1);
(select a from t) union (select a from s);
((select a from t));
(select 1) order by 1;
select * from (select a from t union select a from s) as x;
select a from t where a in (select a from s union select a from u);

-- ---- WITH
with x as (select a from t) select * from x;
with x (c) as (select a from t) select c from x;
with x as (select a from t), y as (select a from x) select * from y;
with x as (select 1) select * from x union select * from x;
with x as (with y as (select 1 as a) select a from y) select a from x;
select * from (with x as (select 1) select * from x) as z;
select * from t where a in (with x as (select 1) select * from x);
with revenue0 as (select s, sum(p) as total from l group by s) select * from revenue0 where total = (select max(total) from revenue0);

-- ---- EXPLAIN, comments, spacing, statement terminators
explain select * from t;
explain select a, sum(b) from t join s on t.k = s.k group by a;
explain with x as (select 1) select * from x;
select /* inline comment */ a -- trailing comment
from t;
select
	a,
	b
from
	t
where
	a = 1
;
select a from t;
SeLeCt A fRoM t WhErE a BeTwEeN 1 AnD 2;
select a from t where a = 'semicolon ; inside';
select a from t where a = '-- not a comment';
select a from t where a = '/* not a comment */';
select "a;b" from t;
