-- TPC-H Q11 for the SQLite oracle (DECIMAL as value * 100; value has scale 2). The
-- threshold "sum > total * 0.0001" is compared exactly as "sum * 10000 > total".
select
	ps_partkey,
	dec(sum(ps_supplycost * ps_availqty), 2) as value
from
	partsupp,
	supplier,
	nation
where
	ps_suppkey = s_suppkey
	and s_nationkey = n_nationkey
	and n_name = 'GERMANY'
group by
	ps_partkey having
		sum(ps_supplycost * ps_availqty) * 10000 > (
			select
				sum(ps_supplycost * ps_availqty)
			from
				partsupp,
				supplier,
				nation
			where
				ps_suppkey = s_suppkey
				and s_nationkey = n_nationkey
				and n_name = 'GERMANY'
		)
order by
	sum(ps_supplycost * ps_availqty) desc;
